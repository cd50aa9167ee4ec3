"""Findings about accuracy: its trade-off with throughput (Fig. 9) and energy, and per parameter (Fig. 10).

Accuracy is paired with a setup's runs only where it is that engine's accuracy
(:func:`common.with_accuracy`): published fp32 top-1 never stands for fp16 or uncalibrated int8.
Each finding says, per model, whether its top-1 was measured (``edgeprof accuracy``, and on how many
images where the rows carry ``top1_images``) or published (torchvision or the paper).
"""
import numpy

from edgeprof.reading import predict, stats
from edgeprof.reading.report.findings.common import (
    ALPHA, GIGA, MEGA, MIN_MODELS, absent, all_of, decide, direction, fmt_p, fmt_rho, inconclusive, paper_entry,
    paper_models, per_batch, too_few, with_accuracy, with_fields)

PAPER_WINNERS = ("ResNet-18", "BN-NIN", "GoogLeNet", "ENet")


def _no_accuracy(points, setup, note):
    if setup.precision != "fp32" and points:
        return f"no measured top-1 for this {setup.precision} setup ({note}; measure it with edgeprof accuracy)"
    return ("no model has a top-1 accuracy (give --manifest with published accuracy, or measure it with "
            "edgeprof accuracy)")


def _measured_on(point):
    images = point.get("top1_images")
    return f"{point['name']} ({images} images)" if images else point["name"]


def _sources(points, note, precision=None):
    """The pairing note and, per model, where its top-1 comes from: measured here (on how many images) or published.

    The note says when a published figure may stand; an fp32 setup whose every top-1 was measured
    pairs none, so its note ("published fp32 top-1") would only contradict the list and is left out.
    """
    measured = sorted(_measured_on(p) for p in points if p["accuracy_source"] == "measured")
    published = sorted(p["name"] for p in points if p["accuracy_source"] != "measured")
    parts = [] if precision == "fp32" and not published else [note]
    if measured:
        parts.append("top-1 measured on the board for " + ", ".join(measured))
    if published:
        parts.append("published fp32 top-1 (torchvision or the paper) for " + ", ".join(published))
    return "; ".join(parts)


def _source_fields(point):
    """A point's ``accuracy_source`` and, when measured, ``top1_images``."""
    out = {"accuracy_source": point["accuracy_source"]}
    if point["accuracy_source"] == "measured":
        out["top1_images"] = point.get("top1_images")
    return out


def _source_label(point):
    if point["accuracy_source"] != "measured":
        return "published fp32 (torchvision or the paper)"
    images = point.get("top1_images")
    return f"measured on the board ({images} images)" if images else "measured on the board"


def sources(points):
    """Per model, the top-1 paired with this setup and where it comes from (a table for the page)."""
    return [dict(_source_fields(p), model=p["model"], top1=p["top1"], label=_source_label(p))
            for p in sorted(points, key=lambda q: q["model"])]


def _loo_abs_errors(x, y):
    """|leave-one-out error| of the line y = a + b x at each point (each fit keeps 2 residual dof)."""
    errors = []
    for i in range(len(x)):
        keep = [j for j in range(len(x)) if j != i]
        line = predict.fit_line(x[keep], y[keep])
        errors.append(abs(line.predict([x[i]]) - y[i]))
    return numpy.array(errors)


def _shape_test(ips, top1):
    """The paper's line in images/s against the opposite shape (a line in time = 1/ips), out of sample."""
    if len(ips) < 2:
        return None, None
    paper = predict.fit_line(ips, top1)
    opposite = predict.fit_line(1.0 / ips, top1)
    shapes = {"paper": {"shape": "top-1 = a + k * images/s", "a_pct": paper.intercept, "k_pct_per_ips": paper.slope,
                        "r2": paper.r2},
              "opposite": {"shape": "top-1 = a + b / (images/s), i.e. linear in time", "a_pct": opposite.intercept,
                           "b_pct_ips": opposite.slope, "r2": opposite.r2}}
    if len(ips) < 1 + predict.min_models("ops"):  # each fit keeps 2 residual dof
        return shapes, None
    paper_err = _loo_abs_errors(ips, top1)
    opposite_err = _loo_abs_errors(1.0 / ips, top1)
    shapes["paper"]["loo_mae_pct"] = float(paper_err.mean())
    shapes["opposite"]["loo_mae_pct"] = float(opposite_err.mean())
    return shapes, stats.sign_flip_test(opposite_err - paper_err)


def throughput_at(points, batch, setup):
    """Top-1 against images per second at one batch size: the trade-off and the shape of its upper bound."""
    timed = [p for p in with_fields(points, "throughput_ips") if p["throughput_ips"] > 0]
    points, note = with_accuracy(timed, setup)
    n = len(points)
    if n < 2:
        return absent(_no_accuracy(timed, setup, note), batch=batch, n=n)
    ips = numpy.array([p["throughput_ips"] for p in points])
    top1 = numpy.array([p["top1"] for p in points])
    rank = stats.spearman_test(ips, top1)
    front = stats.pareto_front(ips, top1)
    shapes, test = _shape_test(ips[front], top1[front])
    trade = direction(rank, -1, "Spearman rho(images/s, top-1)")
    if test is None:
        shape = too_few(len(front), MIN_MODELS, "models on the upper frontier")
    else:
        shape = direction(test, +1, "the paper's line beats the opposite shape")
    verdict = too_few(n) or all_of([trade, shape], "part (trade-off, shape of the frontier)")
    frontier = "" if test is None else (
        f"on the {len(front)} frontier models the leave-one-out error is {shapes['paper']['loo_mae_pct']:.2f} "
        f"points for the line in images/s and {shapes['opposite']['loo_mae_pct']:.2f} for the line in time "
        f"(sign-flip permutation p = {fmt_p(test['p_greater'])} for the paper's shape, "
        f"{fmt_p(test['p_less'])} for the opposite)")
    rho = fmt_rho(rank)
    return {"status": "ok", "batch": batch, "n": n, "accuracy": _sources(points, note, setup.precision),
            "points": [dict(_source_fields(p), model=p["name"], ips=float(x), top1=float(y),
                            gops=(p.get("paper_ops") or 0) / GIGA, frontier=i in front)
                       for i, (p, x, y) in enumerate(zip(points, ips, top1))],
            "frontier": [points[i]["name"] for i in front], "spearman": rank, "shapes": shapes, "shape_test": test,
            "verdict": verdict,
            "statistic": f"Spearman rho(images/s, top-1) = {rho} over {n} models (one-sided permutation p = "
                         f"{fmt_p(rank['p_less'])}); " + (frontier or f"{len(front)} models on the frontier")}


def accuracy_vs_throughput(by_batch, setup):
    """Paper finding (2), Fig. 9: accuracy is linear in throughput along its upper bound (hyperbolic in time)."""
    parts = [throughput_at(points, batch, setup) for batch, points in by_batch]
    ok = [p for p in parts if p["status"] == "ok"]
    return per_batch(
        parts, accuracy=ok[0]["accuracy"] if ok else None, sources=sources(ok[0]["points"]) if ok else [],
        paper="(2) accuracy and inference time are in a hyperbolic relationship: along the upper bound, "
              "top-1 falls linearly with images per second (Fig. 9)",
        rule=f"at every batch tested: agrees when accuracy falls with throughput (Spearman, one-sided "
             f"permutation p < {ALPHA}) and, on the models of the upper (Pareto) frontier, the line in images/s "
             "predicts top-1 better out of sample than the opposite shape, a line in time (sign-flip "
             f"permutation test on the paired leave-one-out errors, p < {ALPHA}); contradicts when either "
             f"test finds the opposite at p < {ALPHA}; fewer than {MIN_MODELS} models (overall or on the "
             "frontier): inconclusive")


def _staircase(energy_order_top1_rows):
    """Mean over budgets of the best top-1 reachable within the budget (rows: top-1 sorted by energy)."""
    return numpy.maximum.accumulate(energy_order_top1_rows, axis=1).mean(axis=1)


def energy_at(points, batch, setup):
    """Top-1 against energy per image at one batch size: does the energy budget bound the accuracy?"""
    net = bool(points) and all(p.get("net_energy_per_image_mj") is not None for p in points)
    field = "net_energy_per_image_mj" if net else "energy_per_image_mj"
    measured = with_fields(points, field)
    points, note = with_accuracy(measured, setup)
    n = len(points)
    if n < 2:
        return absent(_no_accuracy(measured, setup, note) if measured else
                      "fewer than 2 models have energy per image", batch=batch, n=n)
    energy = numpy.array([p[field] for p in points])
    top1 = numpy.array([p["top1"] for p in points])
    order = numpy.argsort(energy, kind="mergesort")
    bound = stats.permutation_test(energy[order], top1[order], lambda _, rows: _staircase(rows))
    rank = stats.spearman_test(energy, top1)
    verdict = too_few(n) or decide(bound["p_less"] < ALPHA, rank["p_less"] is not None and rank["p_less"] < ALPHA,
                                   f"the frontier test (p = {fmt_p(bound['p_less'])}) is not below {ALPHA}")
    best = int(numpy.argmax(top1))
    rho = fmt_rho(rank)
    return {"status": "ok", "batch": batch, "n": n, "accuracy": _sources(points, note, setup.precision),
            "energy": "net energy per image (above idle)" if net else
            "total energy per image (no idle power in these profiles, so not net energy)",
            "points": [dict(_source_fields(p), model=p["name"], energy_mj=float(e), top1=float(t))
                       for p, e, t in zip(points, energy, top1)],
            "frontier_test": bound, "spearman": rank, "most_accurate": points[best]["name"],
            "its_energy_per_image_mj": float(energy[best]), "min_energy_per_image_mj": float(energy.min()),
            "verdict": verdict,
            "statistic": f"best top-1 within each model's energy, averaged: {bound['statistic']:.2f}%, lower than with "
                         f"top-1 shuffled across models at permutation p = {fmt_p(bound['p_less'])}; Spearman "
                         f"rho(energy, top-1) = {rho} (p = {fmt_p(rank['p_less'])} that it is negative), n = {n}"}


def accuracy_vs_energy(by_batch, setup):
    """Paper finding (3): an energy budget is an upper bound on the accuracy reachable (no figure in the paper)."""
    if setup.power_reason:
        return absent("no power measured (the profiles' power.status is unavailable; reason under the setup)")
    parts = [energy_at(points, batch, setup) for batch, points in by_batch]
    ok = [p for p in parts if p["status"] == "ok"]
    return per_batch(
        parts, energy=ok[0]["energy"] if ok else None, accuracy=ok[0]["accuracy"] if ok else None,
        paper="(3) an energy constraint is an upper bound on the accuracy reachable",
        rule="at every batch tested: agrees when the best top-1 reachable within each model's energy, averaged "
             "over the models, is lower than with top-1 shuffled across models (one-sided permutation p < "
             f"{ALPHA}: the budget binds); contradicts when accuracy falls as energy rises (Spearman, "
             f"one-sided p < {ALPHA}); fewer than {MIN_MODELS} models: inconclusive")


def density(dataset):
    """Top-1 per million parameters per model (Fig. 10), ranked against the paper's own values."""
    rows = []
    for name, model in sorted(dataset.models.items()):
        if model.get("top1") is None or not model.get("params"):
            continue
        reference = paper_entry(name) or {}
        rows.append({"model": name, "top1": model["top1"], "params_m": model["params"] / MEGA,
                     "pct_per_mparam": model["top1"] / (model["params"] / MEGA),
                     "paper_name": reference.get("name"),
                     "paper_pct_per_mparam": reference.get("density_pct_per_mparam")})
    if not rows:
        return absent("no model has both top-1 accuracy and a parameter count")
    rows.sort(key=lambda r: -r["pct_per_mparam"])
    both = [r for r in rows if r["paper_pct_per_mparam"] is not None]
    rank = stats.spearman_test([r["pct_per_mparam"] for r in both], [r["paper_pct_per_mparam"] for r in both])
    winners = [r["model"] for r in both if r["paper_name"] in PAPER_WINNERS]
    top = [r["model"] for r in both[:max(1, len(both) // 2)]]
    in_top = [m for m in winners if m in top]
    best_paper = max(paper_models().values(), key=lambda m: m["density_pct_per_mparam"])
    rho = fmt_rho(rank)
    return {"status": "ok", "models": rows, "best": rows[0]["model"], "best_pct_per_mparam": rows[0]["pct_per_mparam"],
            "n": len(both), "spearman": rank, "paper_winners_present": winners,
            "paper_winners_in_top_half": in_top,
            "paper": f"{best_paper['name']} uses its parameters best ({best_paper['density_pct_per_mparam']:.2f} %/M "
                     "params, about 13x AlexNet and 24x VGG-19); ResNet-18, BN-NIN, GoogLeNet and ENet are the winners",
            "rule": "agrees when the models' top-1 per parameter ranks as in the paper's Fig. 10 (Spearman over the "
                    f"models the paper has, one-sided permutation p < {ALPHA}); contradicts when it ranks the "
                    f"opposite way at p < {ALPHA}; fewer than {MIN_MODELS} of the paper's models: inconclusive",
            "statistic": f"Spearman rho(this report, paper) = {rho} over {len(both)} of the paper's models "
                         f"(one-sided permutation p = {fmt_p(rank['p_greater'])}); the paper's winners here: "
                         + (", ".join(winners) or "none")
                         + (f", in the top half: {', '.join(in_top)}" if winners else ""),
            "verdict": too_few(len(both), what="of the paper's models")
            or (direction(rank, +1, "Spearman rho with the paper's densities") if rank["p_greater"] is not None
                else inconclusive("no spread in density"))}
