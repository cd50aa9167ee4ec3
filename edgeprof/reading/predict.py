"""Predict inference time and energy per image from operation counts, and score the prediction.

Pure numpy (no matplotlib, no scipy), so it runs on the board under Python 3.6 as well.

Two predictors, both fitted per (board, backend, precision, batch) on the measured models:

- ``ops``: the paper's finding as a line, ``per_image_ms = intercept + slope * paper_ops``.
- ``split``: the per-op-type refinement, ``per_image_ms = c0 + c1 * conv_macs + c2 * fc_macs``,
  where ``fc_macs`` is the part of the multiply-accumulates in fully connected layers and
  ``conv_macs`` the rest. Fully connected layers read one weight per MAC and are bound by memory
  bandwidth at small batches, so they cost more time per MAC than convolutions.

Each is scored by leave-one-out over the measured models the way the latency-prediction
literature does: the share of models predicted within +-10% of the measured value, the root mean
square percentage error (RMSPE), and Spearman's rank correlation between predicted and measured.
"""
import numpy

from edgeprof.errors import UsageError

WITHIN_PCT = 10.0
PREDICTORS = ("ops", "split")
# Leave-one-out fits each model from the others: the others must be at least as many as the coefficients.
MIN_MODELS = {"ops": 3, "split": 4}
PREDICTOR_LABELS = {
    "ops": "operations line (per_image = a + b * paper_ops)",
    "split": "per-op-type split (per_image = c0 + c1 * conv_macs + c2 * fc_macs)",
}


class Fit:
    """A least-squares fit ``y = coef[0] + sum(coef[i] * x[i-1])``.

    Attributes:
        coef (list of float): intercept first, then one coefficient per feature.
        r2 (float or None): coefficient of determination on the fitted points (None when y is constant).
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


def fit_linear(rows, y):
    """Least squares with an intercept.

    Args:
        rows: one sequence of features per point (n x k).
        y: one value per point.

    Returns:
        :class:`Fit`. Raises :class:`UsageError` when there are fewer points than coefficients.
    """
    x = numpy.asarray(rows, dtype=float)
    if x.ndim == 1:
        x = x.reshape(-1, 1)
    y = numpy.asarray(y, dtype=float)
    n, k = x.shape
    if n < k + 1:
        raise UsageError(f"a fit with {k + 1} coefficients needs at least {k + 1} points, got {n}")
    design = numpy.hstack([numpy.ones((n, 1)), x])
    scale = numpy.abs(design).max(axis=0)
    scale[scale == 0] = 1.0
    coef = numpy.linalg.lstsq(design / scale, y, rcond=None)[0] / scale
    return Fit(coef, r_squared(y, design.dot(coef)), n)


def fit_line(x, y):
    """``y = intercept + slope * x`` by least squares; see :func:`fit_linear`."""
    return fit_linear([[v] for v in x], y)


class Hyperbola:
    """``y = a + b / x``: accuracy against throughput, the paper's hyperbolic relationship.

    Attributes:
        a (float): the asymptote of y as x grows (accuracy at unlimited throughput).
        b (float): how much y rises as x shrinks; b > 0 means accuracy costs throughput.
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


def rank_average(values):
    """Ranks 1..n of ``values``; tied values share the average of their ranks."""
    values = numpy.asarray(values, dtype=float)
    order = numpy.argsort(values, kind="mergesort")
    ranks = numpy.empty(len(values), dtype=float)
    start = 0
    while start < len(values):
        end = start
        while end + 1 < len(values) and values[order[end + 1]] == values[order[start]]:
            end += 1
        ranks[order[start:end + 1]] = (start + end) / 2.0 + 1.0
        start = end + 1
    return ranks


def spearman(a, b):
    """Spearman's rank correlation (Pearson on average ranks); None with < 2 points or no spread."""
    if len(a) < 2:
        return None
    ra, rb = rank_average(a), rank_average(b)
    ra, rb = ra - ra.mean(), rb - rb.mean()
    denominator = float(numpy.sqrt(numpy.sum(ra ** 2) * numpy.sum(rb ** 2)))
    if denominator == 0.0:
        return None
    return float(numpy.sum(ra * rb)) / denominator


def score(measured, predicted):
    """How well ``predicted`` matches ``measured`` (same order, measured > 0).

    Returns:
        dict: ``n``, ``within_10pct_share`` (0..1), ``rmspe_pct``, ``spearman_rho`` (None if undefined).
    """
    measured = numpy.asarray(measured, dtype=float)
    predicted = numpy.asarray(predicted, dtype=float)
    error_pct = 100.0 * (predicted - measured) / measured
    return {
        "n": len(measured),
        "within_10pct_share": float(numpy.mean(numpy.abs(error_pct) <= WITHIN_PCT)),
        "rmspe_pct": float(numpy.sqrt(numpy.mean(error_pct ** 2))),
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


def fit(samples, predictor, target):
    """Fit ``predictor`` to the ``target`` field (e.g. ``per_image_ms``) of ``samples``."""
    rows = [features(s, predictor) for s in samples]
    return fit_linear(rows, [s[target] for s in samples])


def usable(samples, predictor, target):
    """The samples that have the counts ``predictor`` needs and a positive ``target``."""
    return [s for s in samples
            if features(s, predictor) is not None and s.get(target) is not None and s[target] > 0]


def leave_one_out(samples, predictor, target):
    """Predict each model from a fit on all the others and score the predictions.

    Returns:
        dict: ``predictor``, ``target``, ``status`` (``ok`` or ``absent``), ``reason`` when absent,
        and with ``ok``: ``score`` (see :func:`score`) and ``predictions`` [{name, measured, predicted}].
    """
    points = usable(samples, predictor, target)
    needed = MIN_MODELS[predictor]
    result = {"predictor": predictor, "target": target, "label": PREDICTOR_LABELS[predictor]}
    if len(points) < needed:
        result.update(status="absent", reason=f"leave-one-out needs at least {needed} models with "
                                              f"{_needs(predictor)} and {target}; got {len(points)}")
        return result
    rows = []
    for i, held_out in enumerate(points):
        others = points[:i] + points[i + 1:]
        predicted = fit(others, predictor, target).predict(features(held_out, predictor))
        rows.append({"name": held_out["name"], "measured": held_out[target], "predicted": predicted})
    result.update(status="ok", score=score([r["measured"] for r in rows], [r["predicted"] for r in rows]),
                  predictions=rows)
    return result


def _needs(predictor):
    return "paper_ops" if predictor == "ops" else "macs and fc_macs"


def choose(loo_results):
    """The predictor to use among ``loo_results``: the lowest leave-one-out RMSPE; the first when none was scored."""
    scored = [r for r in loo_results if r["status"] == "ok"]
    if not scored:
        return loo_results[0]["predictor"]
    return min(scored, key=lambda r: r["score"]["rmspe_pct"])["predictor"]


def predict_model(samples, target, model):
    """Predict ``target`` for ``model`` (a mapping of counts) from the measured ``samples``.

    Returns:
        dict: ``value`` (predicted), ``predictor`` used, ``fit`` of it on all samples,
        ``loo`` (the leave-one-out results of both predictors), and ``error_pct`` (the chosen
        predictor's leave-one-out RMSPE, None when it could not be scored).
    """
    loo = [leave_one_out(samples, name, target) for name in PREDICTORS]
    possible = [r for r in loo if features(model, r["predictor"]) is not None]
    if not possible:
        raise UsageError("the model has no paper_ops count to predict from; give an ONNX file or a "
                         "--manifest entry with paper_ops")
    chosen = choose(possible)
    points = usable(samples, chosen, target)
    needed = len(features(model, chosen)) + 1
    if len(points) < needed:
        raise UsageError(f"need at least {needed} measured models with {_needs(chosen)} and {target} "
                         f"to fit, got {len(points)}")
    line = fit(points, chosen, target)
    chosen_loo = next(r for r in loo if r["predictor"] == chosen)
    error = chosen_loo["score"]["rmspe_pct"] if chosen_loo["status"] == "ok" else None
    return {"value": line.predict(features(model, chosen)), "predictor": chosen,
            "fit": line.as_dict(), "loo": loo, "error_pct": error}
