"""Predict inference time and energy per image from operation counts, and score the prediction honestly.

Pure numpy (no matplotlib, no scipy), so it runs on the board under Python 3.6 as well.

Two predictors, both fitted per (board, backend, precision, batch) on the measured models:

- ``ops``: the paper's finding as a line, ``per_image_ms = intercept + slope * paper_ops``.
- ``split``: the per-op-type refinement, ``per_image_ms = c0 + c1 * conv_macs + c2 * fc_macs``,
  where ``fc_macs`` is the part of the multiply-accumulates in fully connected layers and
  ``conv_macs`` the rest. Fully connected layers read one weight per MAC and are bound by memory
  bandwidth at small batches, so they cost more time per MAC than convolutions.

Fits minimise the squared *relative* error (weights 1/y^2), the quantity the scores measure, so a
large model does not dominate the fit while the small ones dominate the score. Every fit keeps at
least :data:`MIN_RESIDUAL_DOF` residual degrees of freedom: a line needs 4 models, the split 5.

Scores are out of sample, the way the latency-prediction literature reports them: leave-one-out
(each model predicted from a fit on the others) and leave-one-family-out (every model of a family
predicted from the other families: NNLQ-style out-of-domain). Per score: the share within +-10%
with its Wilson 95% interval, RMSPE, the mean absolute percentage error with a bootstrap interval,
and Spearman's rho between predicted and measured. Choosing between the two predictors happens
inside each fold (nested), so the error of the chosen predictor is not the error it was chosen on.
"""
import numpy

from edgeprof.errors import UsageError
from edgeprof.reading import stats
from edgeprof.reading.stats import rank_average, spearman  # noqa: F401  (part of this module's interface)

WITHIN_PCT = 10.0
PREDICTORS = ("ops", "split")
COEFFICIENTS = {"ops": 2, "split": 3}
MIN_RESIDUAL_DOF = 2
PREDICTOR_LABELS = {
    "ops": "operations line (per_image = a + b * paper_ops)",
    "split": "per-op-type split (per_image = c0 + c1 * conv_macs + c2 * fc_macs)",
    "nested": "the better of the two, chosen inside each fold by an inner leave-one-out",
}
FOLD_LABELS = {"model": "leave-one-out", "family": "leave-one-family-out"}


class Fit:
    """A least-squares fit ``y = coef[0] + sum(coef[i] * x[i-1])``.

    Attributes:
        coef (list of float): intercept first, then one coefficient per feature.
        r2 (float or None): coefficient of determination on the fitted points, in y (None when y is constant).
        n (int): points fitted.
    """

    def __init__(self, coef, r2, n):
        self.coef = [float(c) for c in coef]
        self.r2 = r2
        self.n = n

    @property
    def intercept(self):
        return self.coef[0]

    @property
    def slope(self):
        return self.coef[1]

    def predict(self, features):
        """Predicted y for one point; ``features`` is a sequence of the fitted features."""
        return self.coef[0] + sum(c * float(x) for c, x in zip(self.coef[1:], features))

    def as_dict(self):
        return {"coef": self.coef, "r2": self.r2, "n": self.n}


def r_squared(y, fitted):
    """Coefficient of determination ``1 - SS_res / SS_tot``; None when ``y`` has no spread."""
    y = numpy.asarray(y, dtype=float)
    fitted = numpy.asarray(fitted, dtype=float)
    ss_tot = float(numpy.sum((y - y.mean()) ** 2))
    if ss_tot == 0.0:
        return None
    return 1.0 - float(numpy.sum((y - fitted) ** 2)) / ss_tot


def fit_linear(rows, y, relative=False, min_dof=0):
    """Least squares with an intercept.

    Args:
        rows: one sequence of features per point (n x k).
        y: one value per point.
        relative: minimise the squared relative error ``((fit - y) / y)^2`` instead (y must be > 0).
        min_dof: residual degrees of freedom the fit must keep (points - coefficients).

    Returns:
        :class:`Fit`. Raises :class:`UsageError` when there are too few points.
    """
    x = numpy.asarray(rows, dtype=float)
    if x.ndim == 1:
        x = x.reshape(-1, 1)
    y = numpy.asarray(y, dtype=float)
    n, k = x.shape
    if n < k + 1 + min_dof:
        raise UsageError(f"a fit with {k + 1} coefficients needs at least {k + 1 + min_dof} points, got {n}")
    design = numpy.hstack([numpy.ones((n, 1)), x])
    weights = numpy.ones(n)
    if relative:
        if numpy.any(y <= 0):
            raise UsageError("a fit in relative error needs positive values")
        weights = 1.0 / y
    scale = numpy.abs(design).max(axis=0)
    scale[scale == 0] = 1.0
    coef = numpy.linalg.lstsq(design / scale * weights[:, None], y * weights, rcond=None)[0] / scale
    return Fit(coef, r_squared(y, design.dot(coef)), n)


def fit_line(x, y, relative=False):
    """``y = intercept + slope * x`` by least squares; see :func:`fit_linear`."""
    return fit_linear([[v] for v in x], y, relative=relative)


class Hyperbola:
    """``y = a + b / x``: accuracy linear in inference time (1 / throughput).

    Attributes:
        a (float): the asymptote of y as x grows.
        b (float): how much y rises as x shrinks.
        r2 (float or None): of the fit in y.
        n (int): points fitted.
    """

    def __init__(self, a, b, r2, n):
        self.a, self.b, self.r2, self.n = a, b, r2, n

    def predict(self, x):
        return self.a + self.b / float(x)

    def as_dict(self):
        return {"a": self.a, "b": self.b, "r2": self.r2, "n": self.n}


def fit_hyperbola(x, y):
    """Fit ``y = a + b / x`` (linear in ``1/x``); ``x`` must be positive."""
    x = numpy.asarray(x, dtype=float)
    if numpy.any(x <= 0):
        raise UsageError("a hyperbola y = a + b/x needs positive x values")
    line = fit_line(1.0 / x, y)
    return Hyperbola(line.intercept, line.slope, line.r2, line.n)


def score(measured, predicted):
    """How well ``predicted`` matches ``measured`` (same order, measured > 0).

    Returns:
        dict: ``n``, ``within_10pct_share`` (0..1) and ``within_10pct_ci`` (Wilson 95%),
        ``rmspe_pct``, ``mape_pct`` and ``mape_ci_pct`` (bootstrap 95% over models),
        ``spearman_rho`` (None if undefined).
    """
    measured = numpy.asarray(measured, dtype=float)
    predicted = numpy.asarray(predicted, dtype=float)
    error_pct = 100.0 * (predicted - measured) / measured
    within = int(numpy.sum(numpy.abs(error_pct) <= WITHIN_PCT))
    low, high = stats.bootstrap_mean(numpy.abs(error_pct))
    return {
        "n": len(measured),
        "within_10pct_share": within / float(len(measured)),
        "within_10pct_ci": list(stats.wilson(within, len(measured))),
        "rmspe_pct": float(numpy.sqrt(numpy.mean(error_pct ** 2))),
        "mape_pct": float(numpy.mean(numpy.abs(error_pct))),
        "mape_ci_pct": [low, high],
        "spearman_rho": spearman(measured, predicted),
    }


def features(sample, predictor):
    """The features of one model for ``predictor``, or None when a count it needs is unknown.

    Args:
        sample: mapping with ``paper_ops``, ``macs``, ``fc_macs`` (None when unknown).
        predictor: ``"ops"`` or ``"split"``.
    """
    if predictor == "ops":
        return None if sample.get("paper_ops") is None else [sample["paper_ops"]]
    if sample.get("macs") is None or sample.get("fc_macs") is None:
        return None
    return [sample["macs"] - sample["fc_macs"], sample["fc_macs"]]


def min_models(predictor):
    """The fewest models a fit of ``predictor`` takes (its coefficients plus the residual dof kept)."""
    return COEFFICIENTS[predictor] + MIN_RESIDUAL_DOF


def fit(samples, predictor, target):
    """Fit ``predictor`` to the ``target`` field (e.g. ``per_image_ms``) of ``samples``, in relative error."""
    rows = [features(s, predictor) for s in samples]
    return fit_linear(rows, [s[target] for s in samples], relative=True, min_dof=MIN_RESIDUAL_DOF)


def usable(samples, predictor, target):
    """The samples that have the counts ``predictor`` needs and a positive ``target``."""
    return [s for s in samples
            if features(s, predictor) is not None and s.get(target) is not None and s[target] > 0]


def _needs(predictor):
    return "paper_ops" if predictor == "ops" else "macs and fc_macs"


def folds(points, by):
    """Index lists of the held-out groups: one per model (``by="model"``) or per ``family``."""
    if by == "model":
        return [[i] for i in range(len(points))]
    groups = {}
    for i, p in enumerate(points):
        groups.setdefault(p.get("family") or p["name"], []).append(i)
    return [groups[k] for k in sorted(groups)]


def _choose_inside(training, target, candidates):
    """The candidate with the lowest inner leave-one-out RMSPE on ``training``; None when none can be scored."""
    best, best_error = None, None
    for predictor in candidates:
        if len(training) - 1 < min_models(predictor):
            continue
        errors = []
        for i, held_out in enumerate(training):
            line = fit(training[:i] + training[i + 1:], predictor, target)
            errors.append((line.predict(features(held_out, predictor)) - held_out[target]) / held_out[target])
        error = float(numpy.sqrt(numpy.mean(numpy.square(errors))))
        if best_error is None or error < best_error:
            best, best_error = predictor, error
    return best


def cross_validate(samples, predictor, target, by="model"):
    """Predict each held-out model (or family) from a fit on the rest, and score the predictions.

    Args:
        predictor: ``"ops"``, ``"split"``, or ``"nested"`` (the better of the two, chosen inside each
            fold by a leave-one-out on that fold's training models only).
        by: ``"model"`` (leave-one-out) or ``"family"`` (leave-one-family-out).

    Returns:
        dict: ``predictor``, ``target``, ``by``, ``label``, ``status`` (``ok`` or ``absent``), ``reason``
        when absent; with ``ok``: ``score`` (see :func:`score`), ``predictions`` [{name, family,
        measured, predicted, predictor}] and ``not_predicted`` (models whose training set was too small).
    """
    base = "ops" if predictor == "nested" else predictor
    points = usable(samples, base, target)
    result = {"predictor": predictor, "target": target, "by": by, "label": PREDICTOR_LABELS[predictor],
              "folds": FOLD_LABELS[by]}
    rows, skipped = [], []
    for group in folds(points, by):
        training = [p for i, p in enumerate(points) if i not in group]
        held = [points[i] for i in group]
        if predictor == "nested":
            candidates = [c for c in PREDICTORS
                          if all(features(p, c) is not None for p in training + held)]
            chosen = _choose_inside(training, target, candidates) or "ops"
        else:
            chosen = predictor
        if len(training) < min_models(chosen):
            skipped.extend(p["name"] for p in held)
            continue
        line = fit(training, chosen, target)
        rows.extend({"name": p["name"], "family": p.get("family"), "measured": p[target],
                     "predicted": line.predict(features(p, chosen)), "predictor": chosen} for p in held)
    if len(rows) < 2:
        needed = min_models(base) + 1
        result.update(status="absent", reason=f"{FOLD_LABELS[by]} needs at least {needed} models with "
                                              f"{_needs(base)} and {target} (a fit keeps {MIN_RESIDUAL_DOF} "
                                              f"residual degrees of freedom); got {len(points)}"
                                              + (" in too few families" if by == "family" and points else ""))
        return result
    result.update(status="ok", score=score([r["measured"] for r in rows], [r["predicted"] for r in rows]),
                  predictions=rows, not_predicted=skipped)
    return result


def leave_one_out(samples, predictor, target):
    """:func:`cross_validate` holding out one model at a time."""
    return cross_validate(samples, predictor, target, by="model")


def leave_one_family_out(samples, predictor, target):
    """:func:`cross_validate` holding out one family at a time."""
    return cross_validate(samples, predictor, target, by="family")


def choose(samples, target, candidates=PREDICTORS):
    """The predictor to fit on all of ``samples``: the lowest leave-one-out RMSPE over the models that
    every candidate can use; ``ops`` when the split cannot be scored."""
    usable_by_all = [s for s in samples if all(features(s, c) is not None for c in candidates)
                     and s.get(target) is not None and s[target] > 0]
    return _choose_inside(usable_by_all, target, candidates) or "ops"


def predict_model(samples, target, model):
    """Predict ``target`` for ``model`` (a mapping of counts) from the measured ``samples``.

    Returns:
        dict: ``value`` (predicted), ``predictor`` used, ``fit`` of it on all samples, ``scores``
        (leave-one-out and leave-one-family-out of each predictor and of the nested choice), and
        ``error_pct`` (the nested leave-one-out RMSPE: the error of choosing and fitting, None when it
        could not be scored) with ``error_family_pct`` (the same, leave-one-family-out).
    """
    if features(model, "ops") is None:
        raise UsageError("the model has no paper_ops count to predict from; give an ONNX file or a "
                         "--manifest entry with paper_ops")
    candidates = [c for c in PREDICTORS if features(model, c) is not None]
    chosen = choose(samples, target, candidates)
    points = usable(samples, chosen, target)
    if len(points) < min_models(chosen):
        raise UsageError(f"need at least {min_models(chosen)} measured models with {_needs(chosen)} and {target} "
                         f"to fit (a fit keeps {MIN_RESIDUAL_DOF} residual degrees of freedom), got {len(points)}")
    line = fit(points, chosen, target)
    scores = [cross_validate(samples, p, target, by) for p in PREDICTORS + ("nested",) for by in ("model", "family")]
    nested = [s for s in scores if s["predictor"] == "nested"]

    def rmspe(result):
        return result["score"]["rmspe_pct"] if result["status"] == "ok" else None
    return {"value": line.predict(features(model, chosen)), "predictor": chosen, "fit": line.as_dict(),
            "scores": scores, "error_pct": rmspe(nested[0]), "error_family_pct": rmspe(nested[1])}
