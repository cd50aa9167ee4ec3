"""Findings about time: operations as an estimate of time (Fig. 7), prediction, FC layers and batching.

Numpy only. The verdict on operations rests on out-of-sample error and a rank statistic, never on
an in-sample R^2 (two VGG-sized points make any R^2 high).
"""
import numpy

from edgeprof.reading import predict, stats
from edgeprof.reading.report.findings.common import (
    ALPHA, GIGA, MIN_MODELS, absent, decide, direction, fmt_ci, fmt_p, fmt_rho, inconclusive, per_batch, too_few,
    with_fields)

# "reliable": the out-of-sample mean absolute error lies within the literature's +-10% accuracy band
ERROR_LIMIT_PCT = predict.WITHIN_PCT
FC_DROP = 0.05           # an FC share lower by this (absolute) than at the smallest batch "drops"
FC_NOTICEABLE = 0.05     # a model spending less than this share in FC layers is no evidence either way
LITERATURE = {
    "like_for_like": "the ops line is a FLOPs-only predictor scored on the models of one board; compare it "
                     "with FLOPs-based baselines scored out of sample, e.g. those nn-Meter (Zhang et al., "
                     "MobiSys 2021) reports beside its own predictor, not with nn-Meter's kernel-level result",
    "not_comparable": "nn-Meter's ~99% within +-10% comes from kernel-level predictors trained on 26,000 models; "
                      "NNLQ-style out-of-domain tests hold out whole families, as leave-one-family-out does here",
}


def _line_points(points):
    usable = [p for p in with_fields(points, "paper_ops", "per_image_ms") if p["per_image_ms"] > 0]
    x = numpy.array([p["paper_ops"] / GIGA for p in usable])
    y = numpy.array([p["per_image_ms"] for p in usable])
    return usable, x, y


def _error_words(result, what):
    if result["status"] != "ok":
        return f"{what}: {result['reason']}"
    s = result["score"]
    return (f"{what}: mean absolute error {s['mape_pct']:.1f}% ({fmt_ci(s['mape_ci_pct'], '%')}), "
            f"{100 * s['within_10pct_share']:.0f}% of {s['n']} models within +-10%")


def ops_fit(points, batch):
    """Time per image against operations at one batch size: fit, rank statistic, out-of-sample errors."""
    usable, x, y = _line_points(points)
    n = len(usable)
    if n < 2:
        return absent(f"needs models with paper_ops and a run at batch {batch}; got {n}", batch=batch, n=n)
    line = predict.fit_line(x, y, relative=True)
    slopes, _ = stats.weighted_lines(x, y, 1.0 / y ** 2, stats.resample_counts(n))
    rank = stats.spearman_test(x, y)
    loo = predict.cross_validate(usable, "ops", "per_image_ms", "model")
    lofo = predict.cross_validate(usable, "ops", "per_image_ms", "family")
    verdict = too_few(n) or _ops_verdict(rank, loo, lofo)
    statistic = "; ".join([f"Spearman rho(operations, time) = {fmt_rho(rank)}",
                           f"one-sided permutation p = {fmt_p(rank['p_greater'])}",
                           _error_words(loo, "leave-one-out"), _error_words(lofo, "leave-one-family-out")])
    return {"status": "ok", "batch": batch, "n": n, "models": [p["name"] for p in usable],
            "points": [{"model": p["name"], "gops": gx, "per_image_ms": gy, "params_m": (p.get("params") or 0) / 1e6}
                       for p, gx, gy in zip(usable, x, y)],
            "slope_ms_per_gop": line.slope, "intercept_ms": line.intercept, "r2": line.r2,
            "slope_ci": list(stats.interval(slopes)), "fit": "least squares in relative error (weights 1/time^2)",
            "spearman": rank, "leave_one_out": loo, "leave_one_family_out": lofo,
            "verdict": verdict, "statistic": statistic}


def _ops_verdict(rank, loo, lofo):
    if rank["p_greater"] is None:
        return inconclusive("time or operations have no spread")
    if loo["status"] != "ok" or loo["score"]["mape_ci_pct"][0] is None:
        return inconclusive(loo.get("reason") or "no interval for the leave-one-out error")
    limit = ERROR_LIMIT_PCT
    intervals = [("leave-one-out", loo["score"]["mape_ci_pct"])]
    if lofo["status"] == "ok" and lofo["score"]["n"] >= MIN_MODELS:
        intervals.append(("leave-one-family-out", lofo["score"]["mape_ci_pct"]))
    agrees = rank["p_greater"] < ALPHA and all(hi < limit for _, (lo, hi) in intervals)
    contradicts = rank["p_less"] < ALPHA or any(lo > limit for _, (lo, hi) in intervals)
    if rank["p_greater"] >= ALPHA:
        why = f"time does not rise with operations at p < {ALPHA} (p = {fmt_p(rank['p_greater'])})"
    else:
        why = "; ".join(f"the 95% interval of the {what} error ({lo:.1f}-{hi:.1f}%) includes the {limit:g}% limit"
                        for what, (lo, hi) in intervals if lo <= limit <= hi)
    return decide(agrees, contradicts, why)


def slope_change(first, last):
    """The paper's Fig. 7 remark: the slope (operations per ms) rises at the larger batch."""
    if first["status"] != "ok" or last["status"] != "ok":
        return absent("needs the fit at both batch sizes")
    at_last = {p["model"]: p for p in last["points"]}
    pairs = [(p, at_last[p["model"]]) for p in first["points"] if p["model"] in at_last]
    n = len(pairs)
    x1, y1 = numpy.array([a["gops"] for a, _ in pairs]), numpy.array([a["per_image_ms"] for a, _ in pairs])
    x2, y2 = numpy.array([b["gops"] for _, b in pairs]), numpy.array([b["per_image_ms"] for _, b in pairs])
    counts = stats.resample_counts(n)
    s1, _ = stats.weighted_lines(x1, y1, 1.0 / y1 ** 2, counts)
    s2, _ = stats.weighted_lines(x2, y2, 1.0 / y2 ** 2, counts)
    with numpy.errstate(invalid="ignore", divide="ignore"):
        ratios = numpy.where((s1 > 0) & (s2 > 0), s1 / s2, numpy.nan)
    positive = first["slope_ms_per_gop"] > 0 and last["slope_ms_per_gop"] > 0
    ratio = first["slope_ms_per_gop"] / last["slope_ms_per_gop"] if positive else None
    interval = stats.interval(ratios)
    if not positive:
        verdict = inconclusive("time does not rise with operations at both batch sizes")
    else:
        verdict = too_few(n) or decide(interval[0] is not None and interval[0] > 1.0,
                                       interval[1] is not None and interval[1] < 1.0,
                                       "the interval of the ratio includes 1")
    return {"status": "ok", "first_batch": first["batch"], "last_batch": last["batch"], "n": n,
            "gops_per_ms_first": 1.0 / first["slope_ms_per_gop"] if positive else None,
            "gops_per_ms_last": 1.0 / last["slope_ms_per_gop"] if positive else None,
            "ratio": ratio, "ratio_ci": list(interval),
            "paper": "the slope of operations against time rises at the larger batch (batching shortens the time "
                     "per image)",
            "rule": "agrees when the 95% bootstrap interval of (G-Ops per ms at the largest batch) / (at batch 1) "
                    "lies above 1, contradicts when below 1",
            "statistic": f"ratio {ratio:.2f} ({fmt_ci(interval)}), n = {n}" if ratio else "no positive slope",
            "verdict": verdict}


def time_vs_ops(by_batch):
    """Operations as an estimate of time (paper finding 4, Fig. 7) at each ``(batch, points)`` given."""
    fits = [ops_fit(points, batch) for batch, points in by_batch]
    return per_batch(
        fits, slope_change=slope_change(fits[0], fits[-1]) if len(fits) > 1 else absent("one batch size only"),
        paper="(4) the number of operations is a reliable estimate of the inference time (linear)",
        rule=f"at every batch tested: agrees when Spearman's rho(operations, time) > 0 at one-sided permutation "
             f"p < {ALPHA} and the 95% bootstrap intervals of the out-of-sample (leave-one-out and "
             f"leave-one-family-out, the latter where it predicts {MIN_MODELS} or more models) mean absolute error "
             f"of the line lie below {ERROR_LIMIT_PCT:g}% (the literature's +-10% band); contradicts when rho < 0 "
             f"at p < {ALPHA} or an error interval lies above {ERROR_LIMIT_PCT:g}%; fewer than {MIN_MODELS} "
             "models: inconclusive")


def prediction(points, batch):
    """Out-of-sample scores of both predictors and of the nested choice, for latency and energy per image."""
    out = {"batch": batch}
    for target in ("per_image_ms", "energy_per_image_mj"):
        out[target] = [predict.cross_validate(points, name, target, by)
                       for name in predict.PREDICTORS + ("nested",) for by in ("model", "family")]
    out["literature"] = LITERATURE
    return out


def _per_layer(dataset, setup):
    by_model = {}
    for row in dataset.rows_of(setup):
        if row["fc_share"] is not None:
            by_model.setdefault(row["model"], []).append((row["batch"], row["fc_share"]))
    if not by_model:
        return absent("no per-layer timings (runs have no fc_share; edgeprof sweep --layers records it, "
                      "with any backend)")
    models = []
    for name, pairs in sorted(by_model.items()):
        pairs.sort()
        first = pairs[0][1]
        drop = [b for b, share in pairs if share <= first - FC_DROP]
        models.append({"model": name, "shares": dict(pairs), "first_batch": pairs[0][0], "first_share": first,
                       "last_batch": pairs[-1][0], "last_share": pairs[-1][1],
                       "drops_from_batch": drop[0] if drop else None})
    compared = [m for m in models if m["first_share"] >= FC_NOTICEABLE and m["first_batch"] != m["last_batch"]]
    if not compared:
        why = ("no model with FC layers has per-layer timings at two or more batch sizes"
               if any(m["first_share"] >= FC_NOTICEABLE for m in models)
               else "no model spends a noticeable share in FC layers")
        top = max(models, key=lambda m: max(m["shares"].values()))
        share, batch = max((s, b) for b, s in top["shares"].items())
        largest = (f"largest FC share {100 * share:.1f}% ({top['model']} at batch {batch}); a model counts from "
                   f"{FC_NOTICEABLE:.0%} in FC layers at its smallest batch")
        return {"status": "ok", "models": models, "n": 0, "verdict": inconclusive(why), "statistic": largest}
    test = stats.sign_flip_test([m["first_share"] - m["last_share"] for m in compared])
    return {"status": "ok", "models": models, "n": len(compared), "test": test,
            "verdict": too_few(len(compared), what="models with FC layers timed at two batch sizes")
            or direction(test, +1, "the mean drop of the FC share"),
            "statistic": f"mean drop of the FC share {100 * test['mean']:.1f} points over {len(compared)} models, "
                         f"sign-flip permutation p = {fmt_p(test['p_greater'])} (drop), {fmt_p(test['p_less'])} (rise)"}


def _speedups(first, last):
    """The paper's own evidence (Fig. 3): models heavy in FC layers gain more per image from batching."""
    at_last = {p["name"]: p for p in last}
    rows = []
    for p in with_fields(first, "per_image_ms", "macs", "fc_macs"):
        q = at_last.get(p["name"])
        if q and q.get("per_image_ms") and p["macs"] > 0:
            rows.append({"model": p["name"], "fc_mac_share": p["fc_macs"] / float(p["macs"]),
                         "speedup": p["per_image_ms"] / q["per_image_ms"]})
    if len(rows) < 2:
        return absent("needs models with fc_macs timed at two batch sizes")
    rank = stats.spearman_test([r["fc_mac_share"] for r in rows], [r["speedup"] for r in rows])
    return {"status": "ok", "n": len(rows), "models": rows, "spearman": rank,
            "verdict": too_few(len(rows)) or direction(rank, +1, "Spearman rho(FC share of MACs, speed-up)"),
            "statistic": f"Spearman rho(FC share of MACs, per-image speed-up) = {fmt_rho(rank)}, one-sided "
                         f"permutation p = {fmt_p(rank['p_greater'])}, n = {len(rows)}"}


def fc_share(dataset, setup, first=None, last=None):
    """FC layers are inefficient at small batches (v1 of the paper): per-layer shares, and batching speed-ups."""
    per_layer = _per_layer(dataset, setup)
    speedup = _speedups(first, last) if first is not None and last is not None else absent("one batch size only")
    if per_layer["status"] != "ok" and speedup["status"] != "ok":
        return absent(per_layer["reason"], per_layer=per_layer, speedup=speedup)
    primary = per_layer if per_layer["status"] == "ok" else speedup
    return {"status": "ok", "per_layer": per_layer, "speedup": speedup,
            "models": per_layer.get("models", []), "n": primary["n"], "verdict": primary["verdict"],
            "statistic": primary["statistic"],
            "paper": "fully connected layers are inefficient at small batches: their share of the time falls as "
                     "the batch grows (and FC-heavy models such as AlexNet gain most from batching, Fig. 3)",
            "rule": f"with per-layer timings: agrees when the FC share falls from the smallest to the largest batch "
                    f"(sign-flip permutation test over the models spending >= {FC_NOTICEABLE:.0%} in FC layers, "
                    f"p < {ALPHA}); without them: when models with a larger FC share of MACs speed up more per image "
                    f"from batch 1 to the largest batch (Spearman, one-sided permutation p < {ALPHA}); "
                    f"contradicts on the opposite side; fewer than {MIN_MODELS} models: inconclusive"}
