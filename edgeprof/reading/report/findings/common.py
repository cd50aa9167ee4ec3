"""What every finding shares: the verdict vocabulary and its rules, the paper's values, the samples.

A verdict starts with ``agrees``, ``contradicts`` or ``inconclusive``. ``agrees`` and
``contradicts`` need a test at the 5% level (a permutation p-value below :data:`ALPHA`, or a 95%
interval that excludes the other side); anything weaker, or fewer than :data:`MIN_MODELS` models,
is ``inconclusive`` with the reason after a colon.
"""
from edgeprof.records import paper

AGREES = "agrees with the paper"
CONTRADICTS = "contradicts the paper"
INCONCLUSIVE = "inconclusive"
ALPHA = 0.05
MIN_MODELS = 5     # fewer models give no verdict: a permutation p-value of 3 models is >= 1/6
GIGA = 1e9
MEGA = 1e6


def inconclusive(why):
    return f"{INCONCLUSIVE}: {why}"


def absent(reason, **extra):
    """A finding that cannot be computed from these profiles, and why (its verdict says so too)."""
    result = {"status": "absent", "reason": reason, "verdict": inconclusive(reason)}
    result.update(extra)
    return result


def decide(agrees, contradicts, why_not):
    """The verdict of one test: ``agrees``/``contradicts`` when that side holds, else inconclusive."""
    if agrees and not contradicts:
        return AGREES
    if contradicts and not agrees:
        return CONTRADICTS
    return inconclusive(why_not)


def too_few(n, needed=MIN_MODELS, what="models"):
    """An inconclusive verdict for ``n`` < ``needed``, else None."""
    if n >= needed:
        return None
    return inconclusive(f"{n} {what}; a verdict needs at least {needed}")


def all_of(verdicts, what):
    """The verdict of a claim that must hold in every part (each batch size, each half of a claim).

    Contradicted if any part contradicts it, agreed if every part agrees, else inconclusive.
    """
    if not verdicts:
        return inconclusive(f"no {what} could be tested")
    if any(v.startswith("contradicts") for v in verdicts):
        return CONTRADICTS
    if all(v.startswith("agrees") for v in verdicts):
        return AGREES
    undecided = [v for v in verdicts if v.startswith(INCONCLUSIVE)]
    if len(undecided) == len(verdicts):
        return undecided[0]
    return inconclusive(f"not every {what} agrees ({undecided[0][len(INCONCLUSIVE) + 2:]})")


def equivalence(interval, low, high, what):
    """Verdict for "the quantity lies within [low, high]" from its 95% interval.

    Agrees when the whole interval lies inside, contradicts when it lies wholly outside.
    """
    lo, hi = interval
    if lo is None:
        return inconclusive(f"no interval for {what}")
    return decide(lo >= low and hi <= high, hi < low or lo > high,
                  f"the 95% interval of {what} ({lo:.3g} to {hi:.3g}) overlaps the bounds {low:g}..{high:g}")


def direction(test, sign, what):
    """Verdict of a one-sided permutation test: the paper expects ``sign`` (+1 or -1) of ``what``."""
    if test is None or test.get("p_greater") is None:
        return inconclusive(f"{what} is undefined (no spread)")
    p_for, p_against = ((test["p_greater"], test["p_less"]) if sign > 0 else (test["p_less"], test["p_greater"]))
    return decide(p_for < ALPHA, p_against < ALPHA,
                  f"{what}: one-sided p = {min(p_for, p_against):.3g} is not below {ALPHA}")


def per_batch_statistic(parts):
    """The statistics of a finding's per-batch parts, ``batch 1: ... | batch 8: ...``."""
    return " | ".join(f"batch {p['batch']}: {p.get('statistic', p.get('reason'))}" for p in parts)


def per_batch(parts, paper, rule, **extra):
    """A finding made of one part per batch size: absent when no part is, agreed when every part agrees."""
    ok = [p for p in parts if p["status"] == "ok"]
    if not ok:
        return absent(parts[0]["reason"] if parts else "no common batch size", batches=parts)
    found = {"status": "ok", "n": min(p["n"] for p in ok), "batches": parts, "paper": paper, "rule": rule,
             "statistic": per_batch_statistic(parts), "verdict": all_of([p["verdict"] for p in ok], "batch size")}
    found.update(extra)
    return found


def fmt_rho(test):
    """Spearman's rho of a :func:`stats.spearman_test` result to 2 decimals, or n/a."""
    return "n/a" if test["rho"] is None else f"{test['rho']:.2f}"


def fmt_p(p):
    return "n/a" if p is None else f"{p:.3g}"


def fmt_ci(interval, unit="", scale=1.0):
    """``95% CI lo to hi`` (values times ``scale``, 3 significant digits; percentages with one decimal)."""
    lo, hi = interval
    if lo is None:
        return "no interval"
    spec = "{:.1f}" if unit == "%" else "{:.3g}"
    return "95% CI " + spec.format(lo * scale) + unit + " to " + spec.format(hi * scale) + unit


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


def paper_entry(name):
    """The paper's values of model ``name`` (edgeprof or paper spelling), or None."""
    return paper_models().get(_norm(name))


def ok_by_model(dataset, setup):
    """{model: {batch: row}} of the setup's ok runs."""
    out = {}
    for row in dataset.rows_of(setup):
        out.setdefault(row["model"], {})[row["batch"]] = row
    return out


def common_batches(dataset, setup):
    """Batch sizes at which every model of the setup has an ok run, sorted."""
    by_model = ok_by_model(dataset, setup)
    if not by_model:
        return []
    return sorted(set.intersection(*[set(runs) for runs in by_model.values()]))


def samples(dataset, setup, batch):
    """One dict per model with an ok run at ``batch``: its static counts and that run's measurements."""
    out = []
    for name, runs in sorted(ok_by_model(dataset, setup).items()):
        if batch in runs:
            sample = dict(dataset.models[name])
            sample.update(runs[batch])
            out.append(sample)
    return out


def with_fields(points, *fields):
    return [p for p in points if all(p.get(f) is not None for f in fields)]


def accuracy_pairing(setup):
    """(whether published fp32 top-1 may stand for this setup's accuracy, the note that says so)."""
    if setup.precision == "fp32":
        return True, "published fp32 top-1"
    if setup.precision == "int8":
        return None, ("int8: published fp32 top-1 only where the engine was calibrated on images; "
                      "uncalibrated int8 (timing only) needs a measured accuracy")
    return False, (f"{setup.precision}: published fp32 top-1 is not this engine's accuracy; "
                   "only a measured top-1 is used")


def with_accuracy(points, setup):
    """The points whose top-1 may be paired with this setup's runs, each with ``accuracy_source``.

    A measured top-1 (the profile's ``accuracy.top1``) always; the published fp32 top-1 for fp32
    runs and for int8 calibrated on images; never for fp16 or uncalibrated int8.
    Returns (points, note).
    """
    published_ok, note = accuracy_pairing(setup)
    out = []
    for p in points:
        q = dict(p)
        if p.get("top1_measured") is not None:
            q["top1"], q["accuracy_source"] = p["top1_measured"], "measured"
        elif p.get("top1") is not None and (published_ok or (published_ok is None and p.get("int8_calibrated"))):
            q["accuracy_source"] = "published fp32"
        else:
            continue
        out.append(q)
    return out, note
