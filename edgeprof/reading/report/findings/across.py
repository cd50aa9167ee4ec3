"""Across setups (beyond the paper): speed-up and energy ratio of each setup against the first, per model.

Energy per image is compared only between records of the same power scope (what the sensor
measures: the module's input, a sum of rails, the GPU board, the CPU package...). Records whose
scope differs are not compared; where a profile does not say its scope, the ratio is shown with
a footnote that the two sensors may measure different parts of the machine.
"""
import math

import numpy

from edgeprof.reading import stats
from edgeprof.reading.report.findings.common import absent, fmt_ci, inconclusive, samples
from edgeprof.util import geomean

BEYOND = inconclusive("beyond the paper: a comparison of setups, no claim of the paper to test")


def scopes(dataset, setup):
    """The power scopes recorded by the setup's ok runs that have energy (None for a run without one)."""
    return sorted({r["power_scope"] for r in dataset.rows_of(setup) if r["energy_per_image_mj"] is not None},
                  key=str)


def scope_check(base_scopes, other_scopes):
    """(comparable, footnote) for energy ratios between two setups."""
    known = [s for s in base_scopes + other_scopes if s is not None]
    if None in base_scopes or None in other_scopes or not known:
        return True, ("power scope unknown (the profiles do not record what the sensor measures): the two "
                      "sensors may measure different parts of the machine")
    if len(set(known)) > 1:
        return False, f"not compared: the power scopes differ ({' vs '.join(sorted(set(known)))})"
    return True, None


def _geomean_ci(values):
    values = [v for v in values if v is not None and v > 0]
    if len(values) < 2:
        return None, None
    low, high = stats.bootstrap_mean(numpy.log(values))
    return (None, None) if low is None else (math.exp(low), math.exp(high))


def across(dataset, batch=1):
    """Speed-up and energy ratios of every setup against the first, per model, at ``batch``."""
    if len(dataset.setups) < 2:
        return absent("one setup only (board / backend / precision); profile another to compare")
    base = dataset.setups[0]
    base_runs = {s["name"]: s for s in samples(dataset, base, batch)}
    base_scopes = scopes(dataset, base)
    out = []
    for setup in dataset.setups[1:]:
        comparable, footnote = scope_check(base_scopes, scopes(dataset, setup))
        rows = []
        for s in samples(dataset, setup, batch):
            ref = base_runs.get(s["name"])
            if ref is None:
                continue
            speedup = ref["per_image_ms"] / s["per_image_ms"] if s["per_image_ms"] else None
            energy = (s["energy_per_image_mj"] / ref["energy_per_image_mj"]
                      if comparable and s["energy_per_image_mj"] and ref["energy_per_image_mj"] else None)
            rows.append({"model": s["name"], "speedup": speedup, "energy_ratio": energy})
        if not rows:
            continue
        speedup_ci = _geomean_ci([r["speedup"] for r in rows])
        out.append({"setup": setup.key, "label": setup.label, "models": rows,
                    "geomean_speedup": geomean([r["speedup"] for r in rows]), "geomean_speedup_ci": list(speedup_ci),
                    "geomean_energy_ratio": geomean([r["energy_ratio"] for r in rows]),
                    "geomean_energy_ratio_ci": list(_geomean_ci([r["energy_ratio"] for r in rows])),
                    "energy_note": footnote,
                    "statistic": f"geometric mean speed-up over {len(rows)} models ({fmt_ci(speedup_ci)}, bootstrap "
                                 "over models)"})
    if not out:
        return absent(f"no model has an ok run at batch {batch} in {base.label} and in another setup")
    return {"status": "ok", "batch": batch, "baseline": base.key, "baseline_label": base.label,
            "setups": out, "verdict": BEYOND}
