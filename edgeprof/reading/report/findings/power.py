"""Power (paper finding 1, Figs. 4 and 8): net power against batch size, and across architectures.

The paper plots *net* power, total minus idle ("due only to the forward processing"). An idle floor
shrinks every relative spread of total power, so the tests use net power; total power is shown
beside it. Without an idle reading net power is unknown: a change large even against total power
still contradicts the paper (it is larger against net power), but nothing can agree.
"""
import math

import numpy

from edgeprof.reading import stats
from edgeprof.reading.report.findings.common import (
    ALPHA, CONTRADICTS, GIGA, MIN_MODELS, absent, all_of, equivalence, fmt_ci, fmt_p, fmt_rho, inconclusive, per_batch,
    per_batch_statistic, too_few)

BATCH_MARGIN = 0.05   # net power changing by at most 5% of its mean per doubling of the batch is "independent"
ARCH_MARGIN = 0.10    # net power whose spread across models (std/mean) is at most 10% is "independent"
NO_IDLE = "total power (these profiles have no idle power, so net power is unknown)"
NET = "net power (total minus idle)"


def _value(row, net):
    return row["net_w"] if net else row["power_w"]


def basis(rows):
    """Whether net power can be used: every run with power also has an idle reading."""
    return bool(rows) and all(r["net_w"] is not None for r in rows)


def _no_power(setup, otherwise):
    """Why a power finding is absent: the profiles had no sensor (said once per setup), or too few runs."""
    if setup.power_reason:
        return "no power measured (the profiles' power.status is unavailable; reason under the setup)"
    return otherwise


def _without_idle(verdict):
    """On total power only a contradiction carries over to net power."""
    if verdict.startswith("contradicts"):
        return verdict
    return inconclusive("no idle power: net power, the paper's quantity, is unknown (total power hides "
                        "changes under the idle floor)")


def batch_claim(rows, net):
    """Per model: the change of (net) power per doubling of the batch, relative to its mean."""
    by_model = {}
    for r in rows:
        by_model.setdefault(r["model"], []).append((math.log(r["batch"], 2), _value(r, net)))
    models, skipped = [], []
    for name, pairs in sorted(by_model.items()):
        x = numpy.array([b for b, _ in pairs])
        y = numpy.array([v for _, v in pairs])
        if len(set(x)) < 2 or y.mean() <= 0:
            skipped.append(name)
            continue
        slope = float(numpy.polyfit(x, y, 1)[0])
        models.append({"model": name, "slope_w_per_doubling": slope, "mean_w": float(y.mean()),
                       "relative_change_per_doubling": slope / float(y.mean()),
                       "range_w": float(y.max() - y.min())})
    changes = [abs(m["relative_change_per_doubling"]) for m in models]
    interval = stats.bootstrap_mean(changes)
    n = len(models)
    if n == 0:
        verdict = inconclusive("no model has power at two batch sizes")
    else:
        verdict = too_few(n) or equivalence(interval, 0.0, BATCH_MARGIN, "the mean |relative change per doubling|")
    if not net:
        verdict = _without_idle(verdict)
    mean = float(numpy.mean(changes)) if changes else None
    return {"n": n, "models": models, "skipped": skipped, "mean_abs_change_per_doubling": mean,
            "ci": list(interval), "verdict": verdict,
            "rule": f"agrees when the 95% bootstrap interval (over models) of the mean |change of power per "
                    f"doubling of the batch| / mean power lies within {BATCH_MARGIN:.0%}; contradicts when it lies "
                    "above",
            "statistic": ("no model has power at two batch sizes" if mean is None else
                          f"mean |change| {100 * mean:.1f}% of the model's power per doubling of the batch "
                          f"({fmt_ci(interval, '%', 100.0)}), n = {n} models")}


def _spread(values):
    """std/mean of ``values`` and its bootstrap interval over models."""
    values = numpy.asarray(values, dtype=float)
    counts = stats.resample_counts(len(values))
    mean = counts.dot(values) / len(values)
    var = counts.dot(values ** 2) / len(values) - mean ** 2
    with numpy.errstate(invalid="ignore", divide="ignore"):
        cov = numpy.where(mean > 0, numpy.sqrt(numpy.maximum(var, 0.0)) / mean, numpy.nan)
    point = float(values.std() / values.mean()) if values.mean() > 0 else None
    return point, stats.interval(cov)


def architecture_at(points, batch, net):
    """Spread of (net) power across the models at one batch size, and its rank correlation with operations."""
    points = [p for p in points if _value(p, net) is not None]
    n = len(points)
    if n < 2:
        return absent(f"fewer than 2 models have power at batch {batch}", batch=batch, n=n)
    values = [_value(p, net) for p in points]
    point, interval = _spread(values)
    with_ops = [p for p in points if p.get("paper_ops")]
    rank = stats.spearman_test([p["paper_ops"] for p in with_ops], [_value(p, net) for p in with_ops])
    if point is None:
        verdict = inconclusive("mean power is not above 0")
    else:
        verdict = too_few(n) or equivalence(interval, 0.0, ARCH_MARGIN, "std/mean across models")
    if not net:
        verdict = _without_idle(verdict)
    return {"status": "ok", "batch": batch, "n": n, "cov": point, "ci": list(interval),
            "mean_w": float(numpy.mean(values)), "spearman_with_ops": rank,
            "points": [{"model": p["name"], "gops": (p.get("paper_ops") or 0) / GIGA, "power_w": _value(p, net),
                        "total_w": p["power_w"], "params_m": (p.get("params") or 0) / 1e6} for p in points],
            "verdict": verdict,
            "statistic": (f"std/mean across {n} models {'n/a' if point is None else f'{100 * point:.1f}%'} "
                          f"({fmt_ci(interval, '%', 100.0)})")}


def power(dataset, setup, by_batch):
    """Paper finding (1): power is independent of batch size and of architecture, on net power."""
    rows = [r for r in dataset.rows_of(setup) if r["power_w"] is not None]
    if len(rows) < 2:
        return absent(_no_power(setup, "fewer than 2 runs have power"))
    net = basis(rows)
    total = numpy.array([r["power_w"] for r in rows])
    idle = [r["idle_w"] for r in rows if r["idle_w"] is not None]
    batch = batch_claim(rows, net)
    summary = {"mean_w": float(total.mean()), "std_w": float(total.std()), "cov": float(total.std() / total.mean())}
    architecture = [architecture_at(points, b, net) for b, points in by_batch]
    tested = [a["verdict"] for a in architecture if a["status"] == "ok"]
    arch_verdict = all_of(tested, "batch size")
    found = dict(summary)  # total power's mean, std and std/mean, as before net power: shown, not tested
    found.update({"status": "ok", "basis": NET if net else NO_IDLE, "n": batch["n"],
            "batch": batch,
            "architecture": {"batches": architecture, "verdict": arch_verdict,
                             "rule": f"at every batch tested, agrees when the 95% bootstrap interval of std/mean "
                                     f"of power across models lies within {ARCH_MARGIN:.0%}; contradicts when it "
                                     "lies above"},
            "total": dict(summary, min_w=float(total.min()), max_w=float(total.max()), runs=len(rows)),
            "idle_mean_w": float(numpy.mean(idle)) if idle else None,
            "net_mean_w": float(numpy.mean([r["net_w"] for r in rows])) if net else None,
            "paper": "(1) power consumption is independent of batch size and architecture (net power, Fig. 4)",
            "rule": "two claims tested apart on net power; agrees when both agree, contradicts when either "
                    f"contradicts; fewer than {MIN_MODELS} models: inconclusive. Batch: " + batch["rule"]
                    + ". Architecture: " + ("see architecture.rule"),
            "statistic": f"batch: {batch['statistic']}; architecture: {per_batch_statistic(architecture)}",
            "verdict": all_of([batch["verdict"], arch_verdict], "half of the claim (batch, architecture)")})
    return found


def ops_vs_power(found_power):
    """The paper's Fig. 8: power against operations; power does not follow operations across models."""
    if found_power["status"] != "ok":
        return absent(found_power["reason"])
    parts = []
    for arch in found_power["architecture"]["batches"]:
        if arch["status"] != "ok":
            parts.append(arch)
            continue
        rank = arch["spearman_with_ops"]
        p_two = None if rank["p_greater"] is None else min(1.0, 2.0 * min(rank["p_greater"], rank["p_less"]))
        if p_two is not None and p_two < ALPHA:
            verdict = CONTRADICTS
        else:
            verdict = arch["verdict"]
        rho = fmt_rho(rank)
        parts.append({"status": "ok", "batch": arch["batch"], "n": arch["n"], "points": arch["points"],
                      "spearman_rho": rank["rho"], "p_two_sided": p_two, "verdict": verdict,
                      "statistic": f"Spearman rho(operations, power) = {rho}, two-sided permutation p = "
                                   f"{fmt_p(p_two)}; {arch['statistic']}"})
    return per_batch(
        parts, basis=found_power["basis"],
        paper="power does not depend on the operations of the model (Fig. 8: operations vs net power)",
        rule=f"at every batch tested: contradicts when Spearman's rho(operations, power) differs from 0 at "
             f"two-sided permutation p < {ALPHA}; otherwise the architecture test of the power finding "
             f"(std/mean across models within {ARCH_MARGIN:.0%})")
