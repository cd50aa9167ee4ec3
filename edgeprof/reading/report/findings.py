"""The paper's findings as numbers, for the profiles given (numpy only, no matplotlib).

Every finding is a dict with ``status`` (``ok`` or ``absent``), ``reason`` when absent, the
numbers behind it, ``paper`` (what the paper found on its Jetson TX1) and ``verdict``: whether
these profiles agree with the paper or contradict it. A contradiction is a result, not an error.
"""

import numpy

from edgeprof.reading import predict
from edgeprof.records import paper
from edgeprof.util import geomean

AGREES = "agrees with the paper"
CONTRADICTS = "contradicts the paper"
LINEAR_R2 = 0.9            # R^2 at or above this counts as "linear"
FLAT_POWER_COV = 0.10      # power whose std/mean is at or below this counts as "independent"
FC_DROP = 0.05             # an FC share lower by this (absolute) than at the smallest batch "drops"
GIGA = 1e9
MEGA = 1e6
MIB = 1024.0 * 1024.0
LITERATURE = {
    "help_flops_spearman_rho": 0.79,
    "help_note": "HELP (Lee et al., NeurIPS 2021): a FLOPs-only latency predictor reaches a Spearman "
                 "rho of about 0.79 on average across devices",
    "nn_meter_within_10pct_share": 0.99,
    "nn_meter_note": "nn-Meter (Zhang et al., MobiSys 2021): kernel-level predictors put about 99% "
                     "of models within +-10% on phone CPUs/GPUs",
}


def absent(reason, **extra):
    """A finding that cannot be computed from these profiles, and why."""
    result = {"status": "absent", "reason": reason}
    result.update(extra)
    return result


def _norm(name):
    return "".join(c for c in name.lower() if c.isalnum())


def paper_models():
    """The paper's Fig. 2 and Fig. 10 values, by normalised model name (``resnet18``)."""
    out = {}
    for row in paper.rows():
        out[_norm(row["model"])] = {"name": row["model"], "top1": float(row["top1_pct"]),
                                    "gops": float(row["G_Ops"]), "params_m": float(row["params_M"]),
                                    "density_pct_per_mparam": float(row["density_pct_per_Mparam"])}
    return out


def _ok_by_model(dataset, setup):
    """{model: {batch: row}} of the setup's ok runs."""
    out = {}
    for row in dataset.rows_of(setup):
        out.setdefault(row["model"], {})[row["batch"]] = row
    return out


def common_batches(dataset, setup):
    """Batch sizes at which every model of the setup has an ok run, sorted."""
    by_model = _ok_by_model(dataset, setup)
    if not by_model:
        return []
    return sorted(set.intersection(*[set(runs) for runs in by_model.values()]))


def samples(dataset, setup, batch):
    """One dict per model with an ok run at ``batch``: its static counts and that run's measurements."""
    out = []
    for name, runs in sorted(_ok_by_model(dataset, setup).items()):
        if batch in runs:
            sample = dict(dataset.models[name])
            sample.update(runs[batch])
            out.append(sample)
    return out


def _with(points, *fields):
    return [p for p in points if all(p.get(f) is not None for f in fields)]


def time_vs_ops(points, batch):
    """Fit of per-image time against operations at one batch size (the paper's Fig. 7)."""
    usable = _with(points, "paper_ops", "per_image_ms")
    if len(usable) < 3:
        return absent(f"needs 3 models with paper_ops and a run at batch {batch}; got {len(usable)}",
                      batch=batch)
    line = predict.fit_line([p["paper_ops"] / GIGA for p in usable], [p["per_image_ms"] for p in usable])
    verdict = AGREES if line.r2 is not None and line.r2 >= LINEAR_R2 else CONTRADICTS
    return {"status": "ok", "batch": batch, "n": line.n, "slope_ms_per_gop": line.slope,
            "intercept_ms": line.intercept, "r2": line.r2, "models": [p["name"] for p in usable],
            "paper": "operations count is a reliable estimate of inference time (linear)",
            "verdict": verdict, "rule": f"linear when R^2 >= {LINEAR_R2}"}


def _no_power(setup, otherwise):
    """Why a power finding is absent: the profiles had no sensor (said once per setup), or too few runs."""
    if setup.power_reason:
        return "no power measured (the profiles' power.status is unavailable; reason under the setup)"
    return otherwise


def power_spread(dataset, setup):
    """Mean and spread of total power over every ok run (batch sizes and models) of the setup."""
    rows = [r for r in dataset.rows_of(setup) if r["power_w"] is not None]
    if len(rows) < 2:
        return absent(_no_power(setup, "fewer than 2 runs have power"))
    watts = numpy.array([r["power_w"] for r in rows])
    idle = [r["idle_w"] for r in rows if r["idle_w"] is not None]
    cov = float(watts.std() / watts.mean())
    per_model_range = {}
    for r in rows:
        low, high = per_model_range.get(r["model"], (r["power_w"], r["power_w"]))
        per_model_range[r["model"]] = (min(low, r["power_w"]), max(high, r["power_w"]))
    return {"status": "ok", "n": len(rows), "mean_w": float(watts.mean()), "std_w": float(watts.std()),
            "min_w": float(watts.min()), "max_w": float(watts.max()), "cov": cov,
            "idle_mean_w": float(numpy.mean(idle)) if idle else None,
            "largest_range_over_batches_w": max(h - lo for lo, h in per_model_range.values()),
            "paper": "power consumption is independent of batch size and architecture",
            "verdict": AGREES if cov <= FLAT_POWER_COV else CONTRADICTS,
            "rule": f"independent when std/mean <= {FLAT_POWER_COV:.0%}"}


def accuracy_vs_throughput(points, batch):
    """Hyperbola ``top1 = a + b / throughput`` over the models (the paper's Fig. 8)."""
    usable = _with(points, "top1", "throughput_ips")
    if len(usable) < 3:
        return absent(f"needs 3 models with top-1 accuracy and a run at batch {batch}; got {len(usable)}",
                      batch=batch)
    ips = [p["throughput_ips"] for p in usable]
    top1 = [p["top1"] for p in usable]
    curve = predict.fit_hyperbola(ips, top1)
    rho = predict.spearman(ips, top1)
    agrees = curve.b > 0 and rho is not None and rho < 0
    return {"status": "ok", "batch": batch, "n": curve.n, "a_pct": curve.a, "b_pct_ips": curve.b,
            "r2": curve.r2, "spearman_rho": rho, "models": [p["name"] for p in usable],
            "paper": "accuracy and inference time are in a hyperbolic relationship: a little more "
                     "accuracy costs a lot of throughput",
            "verdict": AGREES if agrees else CONTRADICTS,
            "rule": "hyperbolic when b > 0 and accuracy falls as throughput rises (Spearman rho < 0)"}


def accuracy_vs_energy(points, batch, setup):
    """Rank correlation of accuracy with energy per image (the paper's energy bound)."""
    usable = _with(points, "top1", "energy_per_image_mj")
    if len(usable) < 3:
        return absent(_no_power(setup, f"fewer than 3 models have energy per image at batch {batch}"), batch=batch)
    rho = predict.spearman([p["energy_per_image_mj"] for p in usable], [p["top1"] for p in usable])
    best = max(usable, key=lambda p: p["top1"])
    return {"status": "ok", "batch": batch, "n": len(usable), "spearman_rho": rho,
            "most_accurate": best["name"], "its_energy_per_image_mj": best["energy_per_image_mj"],
            "min_energy_per_image_mj": min(p["energy_per_image_mj"] for p in usable),
            "paper": "an energy budget is an upper bound on the accuracy reachable",
            "verdict": AGREES if rho is not None and rho > 0 else CONTRADICTS,
            "rule": "bound when more accurate models cost more energy (Spearman rho > 0)"}


def memory_vs_params(points):
    """Fit of memory footprint against parameters at batch 1 (the paper's Fig. 6)."""
    usable = _with(points, "params", "memory_bytes")
    if len(usable) < 3:
        return absent(f"needs 3 models with parameters and memory at batch 1; got {len(usable)}")
    line = predict.fit_line([p["params"] / MEGA for p in usable], [p["memory_bytes"] / MIB for p in usable])
    return {"status": "ok", "batch": 1, "n": line.n, "slope_mib_per_mparam": line.slope,
            "intercept_mib": line.intercept, "r2": line.r2,
            "memory_source": sorted({p["memory_source"] for p in usable}),
            "paper": "memory footprint is linear in the parameter count, on top of a constant offset",
            "verdict": AGREES if line.r2 is not None and line.r2 >= LINEAR_R2 else CONTRADICTS,
            "rule": f"linear when R^2 >= {LINEAR_R2}"}


def density(dataset):
    """Top-1 accuracy per million parameters for each model, best first (the paper's Fig. 10)."""
    paper = paper_models()
    rows = []
    for name, model in sorted(dataset.models.items()):
        if model.get("top1") is None or not model.get("params"):
            continue
        reference = paper.get(_norm(name), {})
        rows.append({"model": name, "top1": model["top1"], "params_m": model["params"] / MEGA,
                     "pct_per_mparam": model["top1"] / (model["params"] / MEGA),
                     "paper_pct_per_mparam": reference.get("density_pct_per_mparam")})
    if not rows:
        return absent("no model has both top-1 accuracy and a parameter count")
    rows.sort(key=lambda r: -r["pct_per_mparam"])
    best_paper = max(paper.values(), key=lambda m: m["density_pct_per_mparam"])
    return {"status": "ok", "models": rows, "best": rows[0]["model"],
            "best_pct_per_mparam": rows[0]["pct_per_mparam"],
            "paper": f"{best_paper['name']} uses its parameters best in the paper "
                     f"({best_paper['density_pct_per_mparam']:.2f} %/M params)"}


def fc_share(dataset, setup):
    """Share of time in fully connected layers against batch size, where per-layer times exist."""
    by_model = {}
    for row in dataset.rows_of(setup):
        if row["fc_share"] is not None:
            by_model.setdefault(row["model"], []).append((row["batch"], row["fc_share"]))
    if not by_model:
        return absent("no per-layer timings (runs have no fc_share; edgeprof sweep --backend tensorrt "
                      "--layers records it)")
    models = []
    for name, pairs in sorted(by_model.items()):
        pairs.sort()
        first = pairs[0][1]
        drop = [b for b, share in pairs if share <= first - FC_DROP]
        models.append({"model": name, "shares": dict(pairs), "first_batch": pairs[0][0], "first_share": first,
                       "last_batch": pairs[-1][0], "last_share": pairs[-1][1],
                       "drops_from_batch": drop[0] if drop else None})
    with_fc = [m for m in models if m["first_share"] >= FC_DROP]
    # a model timed at one batch size only cannot show a drop: it is no evidence either way
    compared = [m for m in with_fc if m["first_batch"] != m["last_batch"]]
    dropping = [m for m in compared if m["drops_from_batch"] is not None]
    if compared:
        verdict = AGREES if len(dropping) * 2 >= len(compared) else CONTRADICTS
    elif with_fc:
        verdict = "no model with FC layers has per-layer timings at two or more batch sizes"
    else:
        verdict = "no model spends a noticeable share in FC layers"
    return {"status": "ok", "models": models,
            "paper": "fully connected layers are inefficient at small batches: their share of the "
                     "time falls as the batch grows",
            "verdict": verdict,
            "rule": f"drops when the share falls by {FC_DROP:.2f} or more below its smallest-batch value "
                    "for at least half of the models with FC layers timed at two or more batch sizes"}


def prediction(points, batch):
    """Leave-one-out scores of both predictors, for latency and for energy per image."""
    out = {"batch": batch}
    for target in ("per_image_ms", "energy_per_image_mj"):
        out[target] = [predict.leave_one_out(points, name, target) for name in predict.PREDICTORS]
    out["literature"] = LITERATURE
    return out


def run_counts(dataset, setup):
    rows = dataset.rows_of(setup, status=None)
    counts = {s: sum(1 for r in rows if r["status"] == s) for s in ("ok", "oom", "error")}
    counts["not_ok"] = [{"model": r["model"], "batch": r["batch"], "status": r["status"],
                         "message": r["message"]} for r in rows if r["status"] != "ok"]
    return counts


def for_setup(dataset, setup):
    """Every per-setup finding for one (board, backend, precision)."""
    batches = common_batches(dataset, setup)
    first = batches[0] if batches else 1
    last = batches[-1] if batches else 1
    at_first = samples(dataset, setup, first)
    at_last = samples(dataset, setup, last)
    return {
        "setup": setup.as_dict(), "runs": run_counts(dataset, setup),
        "common_batches": batches,
        "time_vs_ops": [time_vs_ops(at_first, first)] + ([time_vs_ops(at_last, last)] if last != first else []),
        "power": power_spread(dataset, setup),
        "accuracy_vs_throughput": accuracy_vs_throughput(at_last, last),
        "accuracy_vs_energy": accuracy_vs_energy(at_last, last, setup),
        "memory_vs_params": memory_vs_params(samples(dataset, setup, 1)),
        "fc_share": fc_share(dataset, setup),
        "prediction": prediction(at_first, first),
    }


def across(dataset, batch=1):
    """Speed-up and energy ratios of every setup against the first, per model, at ``batch``."""
    if len(dataset.setups) < 2:
        return absent("one setup only (board / backend / precision); profile another to compare")
    base = dataset.setups[0]
    base_runs = {s["name"]: s for s in samples(dataset, base, batch)}
    out = []
    for setup in dataset.setups[1:]:
        rows = []
        for s in samples(dataset, setup, batch):
            ref = base_runs.get(s["name"])
            if ref is None:
                continue
            speedup = ref["per_image_ms"] / s["per_image_ms"] if s["per_image_ms"] else None
            energy = (s["energy_per_image_mj"] / ref["energy_per_image_mj"]
                      if s["energy_per_image_mj"] and ref["energy_per_image_mj"] else None)
            rows.append({"model": s["name"], "speedup": speedup, "energy_ratio": energy})
        if not rows:
            continue
        out.append({"setup": setup.key, "label": setup.label, "models": rows,
                    "geomean_speedup": geomean([r["speedup"] for r in rows]),
                    "geomean_energy_ratio": geomean([r["energy_ratio"] for r in rows])})
    if not out:
        return absent(f"no model has an ok run at batch {batch} in {base.label} and in another setup")
    return {"status": "ok", "batch": batch, "baseline": base.key, "baseline_label": base.label,
            "setups": out}


def models_table(dataset):
    return [dict(model) for _, model in sorted(dataset.models.items())]


def compute(dataset):
    """All findings: static ones once, measured ones per setup, ratios across setups."""
    return {"models": models_table(dataset), "density": density(dataset),
            "setups": [for_setup(dataset, s) for s in dataset.setups], "across": across(dataset),
            "files": list(dataset.files)}
