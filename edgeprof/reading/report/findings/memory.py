"""Memory against parameters (the paper's Fig. 6), in the paper's units: MB against MB of fp32 parameters.

The paper: "Minimum memory of 200 MB, linear afterwards with slope 1.30". MB here is 10^6 bytes
and a parameter is 4 bytes (fp32), so the paper's slope is 1.30 x 4 MB = 5.2 MB (4.96 MiB) per
million parameters. The floor is the runtime's own footprint, which differs from Torch7 on a TX1;
the slope is compared with the paper's, the floor only shown beside it.
"""
import numpy

from edgeprof.reading import predict, stats
from edgeprof.reading.report.findings.common import (
    ALPHA, MIN_MODELS, absent, decide, equivalence, fmt_ci, fmt_p, fmt_rho, too_few, with_fields)
from edgeprof.reading.report.data import SNAPSHOT

MB = 1e6
MIB = 1024.0 * 1024.0
BYTES_PER_PARAM = 4
PAPER_FLOOR_MB = 200.0
PAPER_SLOPE = 1.30
SLOPE_BAND = (PAPER_SLOPE / 1.25, PAPER_SLOPE * 1.25)   # within 25% of the paper's slope counts as the same


def memory_vs_params(points, batch):
    """Memory footprint at the smallest common batch against parameter memory, in the paper's units."""
    usable = [p for p in with_fields(points, "params", "memory_bytes") if p["params"] > 0]
    n = len(usable)
    if n < 2:
        return absent(f"needs models with parameters and memory at batch {batch}; got {n}", batch=batch, n=n)
    x = numpy.array([p["params"] * BYTES_PER_PARAM / MB for p in usable])
    y = numpy.array([p["memory_bytes"] / MB for p in usable])
    line = predict.fit_line(x, y)
    slopes, intercepts = stats.weighted_lines(x, y, numpy.ones(n), stats.resample_counts(n))
    slope_ci, floor_ci = stats.interval(slopes), stats.interval(intercepts)
    rank = stats.spearman_test(x, y)
    grows = (rank["p_greater"] is not None and rank["p_greater"] < ALPHA
             and slope_ci[0] is not None and slope_ci[0] > 0)
    shrinks = (rank["p_less"] is not None and rank["p_less"] < ALPHA) or (slope_ci[1] is not None and slope_ci[1] < 0)
    kinds = sorted({p["memory_kind"] for p in usable})
    note = "; ".join(f"{kind} ({', '.join(sorted({p['memory_source'] for p in usable if p['memory_kind'] == kind}))})"
                     for kind in kinds)
    if SNAPSHOT in kinds:
        note += "; the paper plots the maximum during the run, an end-of-window snapshot can be lower"
    slope_verdict = too_few(n) or equivalence(slope_ci, SLOPE_BAND[0], SLOPE_BAND[1], "the slope")
    rho = fmt_rho(rank)
    return {"status": "ok", "batch": batch, "n": n, "memory": note, "memory_kind": kinds,
            "memory_source": sorted({p["memory_source"] for p in usable}),
            "points": [{"model": p["name"], "params_mb": float(a), "memory_mb": float(b)}
                       for p, a, b in zip(usable, x, y)],
            "slope_mb_per_param_mb": line.slope, "slope_ci": list(slope_ci),
            "floor_mb": line.intercept, "floor_ci": list(floor_ci), "r2": line.r2,
            "slope_mib_per_mparam": line.slope * BYTES_PER_PARAM * MB / MIB, "intercept_mib": line.intercept * MB / MIB,
            "paper_floor_mb": PAPER_FLOOR_MB, "paper_slope": PAPER_SLOPE, "spearman": rank,
            "slope_vs_paper": {"verdict": slope_verdict, "band": list(SLOPE_BAND),
                               "rule": f"agrees when the 95% bootstrap interval of the slope lies within "
                                       f"{SLOPE_BAND[0]:.2f}..{SLOPE_BAND[1]:.2f} (the paper's 1.30 +-25%), "
                                       "contradicts when it lies outside"},
            "paper": "memory is linear in the parameters above a constant floor: minimum 200 MB, slope 1.30 "
                     "(MB of memory per MB of fp32 parameters, Fig. 6)",
            "rule": f"agrees when memory rises with parameters (Spearman, one-sided permutation p < {ALPHA}) and the "
                    "95% bootstrap interval of the slope lies above 0; contradicts when it falls at p < "
                    f"{ALPHA} or the interval lies below 0; fewer than {MIN_MODELS} models: inconclusive. The slope is "
                    "compared with the paper's 1.30 in slope_vs_paper, the floor shown beside the paper's 200 MB",
            "statistic": f"memory = {line.intercept:.0f} MB ({fmt_ci(floor_ci, ' MB')}; paper 200 MB) + "
                         f"{line.slope:.2f} ({fmt_ci(slope_ci)}; paper 1.30) x parameter MB; Spearman rho = {rho}, "
                         f"one-sided permutation p = {fmt_p(rank['p_greater'])}, n = {n}",
            "verdict": too_few(n) or decide(grows, shrinks, f"Spearman p = {fmt_p(rank['p_greater'])}, slope "
                                                            f"{fmt_ci(slope_ci)}: not clear of 0 at the 5% level")}
