"""The statistics behind the report's verdicts: ranks, permutation tests, bootstrap and Wilson intervals.

Pure numpy (no scipy), so it runs on the board under Python 3.6 and numpy 1.19 as well. Every
random draw comes from ``numpy.random.RandomState(SEED)``: a report of the same profiles gives the
same p-values and intervals every time.

- Permutation tests enumerate every permutation (or sign pattern) when there are few enough
  (:data:`EXACT_PERMUTATIONS`), and otherwise draw :data:`PERMUTATIONS` of them; a drawn p-value
  is ``(1 + hits) / (1 + draws)``, so it is never 0.
- Bootstrap intervals resample the models with replacement :data:`BOOTSTRAPS` times and take the
  2.5th and 97.5th percentiles (percentile bootstrap); resamples where the statistic is undefined
  (e.g. every x equal) are left out.
"""
import itertools
import math

import numpy

SEED = 1605078  # arXiv 1605.07678: any fixed number would do
PERMUTATIONS = 9999
BOOTSTRAPS = 2000
EXACT_PERMUTATIONS = 40320  # 8!: enumerate every permutation up to 8 models
LEVEL = 0.95
Z_95 = 1.959963984540054


def rng(seed=SEED):
    """The one random source of the report (a legacy RandomState: its stream is fixed across numpy versions)."""
    return numpy.random.RandomState(seed)


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


def permutations(n, seed=SEED):
    """(index matrix, exact): every permutation of ``range(n)`` when few enough, else drawn ones."""
    if math.factorial(n) <= EXACT_PERMUTATIONS:
        return numpy.array(list(itertools.permutations(range(n))), dtype=int), True
    return rng(seed).rand(PERMUTATIONS, n).argsort(axis=1), False


def p_values(observed, null, exact):
    """One-sided p-values ``(P(null >= observed), P(null <= observed))`` of a permutation distribution."""
    tolerance = 1e-9 * max(1.0, abs(observed))
    high = int(numpy.sum(null >= observed - tolerance))
    low = int(numpy.sum(null <= observed + tolerance))
    if exact:
        return high / float(len(null)), low / float(len(null))
    return (1.0 + high) / (1.0 + len(null)), (1.0 + low) / (1.0 + len(null))


def permutation_test(x, y, statistic, seed=SEED):
    """Permutation test of ``statistic(x, y_permuted)`` with y shuffled across models.

    Args:
        statistic: maps (x, Y) to one value per row of Y (Y: permutations x n), vectorised.

    Returns:
        dict: ``statistic``, ``p_greater``, ``p_less``, ``n``, ``exact``; None with fewer than 2 points.
    """
    x = numpy.asarray(x, dtype=float)
    y = numpy.asarray(y, dtype=float)
    if len(x) < 2:
        return None
    observed = float(statistic(x, y.reshape(1, -1))[0])
    index, exact = permutations(len(x), seed)
    null = statistic(x, y[index])
    high, low = p_values(observed, null, exact)
    return {"statistic": observed, "p_greater": high, "p_less": low, "n": len(x), "exact": exact}


def _rank_correlations(rx, ry_rows):
    rx = rx - rx.mean()
    ry_rows = ry_rows - ry_rows.mean(axis=1, keepdims=True)
    denominator = numpy.sqrt(numpy.sum(rx ** 2) * numpy.sum(ry_rows ** 2, axis=1))
    with numpy.errstate(invalid="ignore", divide="ignore"):
        return ry_rows.dot(rx) / denominator


def spearman_test(x, y, seed=SEED):
    """Spearman's rho with its one-sided permutation p-values.

    Returns:
        dict: ``rho``, ``p_greater`` (evidence that rho > 0), ``p_less`` (rho < 0), ``n``, ``exact``;
        ``rho`` and both p-values are None when either variable has no spread or n < 2.
    """
    rho = spearman(x, y)
    if rho is None:
        return {"rho": None, "p_greater": None, "p_less": None, "n": len(x), "exact": None}
    result = permutation_test(rank_average(x), rank_average(y), _rank_correlations, seed)
    return {"rho": rho, "p_greater": result["p_greater"], "p_less": result["p_less"], "n": len(x),
            "exact": result["exact"]}


def sign_flip_test(differences, seed=SEED):
    """Paired permutation test of ``mean(differences)``: each pair's sign flipped at random.

    Every sign pattern is enumerated up to 12 pairs (4096 patterns), else :data:`PERMUTATIONS` are drawn.

    Returns:
        dict: ``mean``, ``p_greater`` (evidence that the mean is > 0), ``p_less``, ``n``, ``exact``.
    """
    d = numpy.asarray(differences, dtype=float)
    n = len(d)
    if n == 0:
        return {"mean": None, "p_greater": None, "p_less": None, "n": 0, "exact": None}
    exact = n <= 12
    if exact:
        signs = 1.0 - 2.0 * ((numpy.arange(2 ** n)[:, None] >> numpy.arange(n)) & 1)
    else:
        signs = 1.0 - 2.0 * (rng(seed).rand(PERMUTATIONS, n) < 0.5)
    observed = float(d.mean())
    high, low = p_values(observed, (signs * d).mean(axis=1), exact)
    return {"mean": observed, "p_greater": high, "p_less": low, "n": n, "exact": exact}


def resample_counts(n, seed=SEED, size=BOOTSTRAPS):
    """How often each of ``n`` models appears in each of ``size`` bootstrap resamples (size x n)."""
    draws = rng(seed).randint(0, n, size=(size, n))
    counts = numpy.zeros((size, n))
    for column in range(n):
        counts[:, column] = numpy.sum(draws == column, axis=1)
    return counts


def interval(values, level=LEVEL):
    """The central ``level`` percentile interval of the finite values, or (None, None) if too few."""
    values = numpy.asarray(values, dtype=float)
    drawn = len(values)
    values = values[numpy.isfinite(values)]
    if drawn == 0 or len(values) < 0.5 * drawn:
        return None, None
    tail = 100.0 * (1.0 - level) / 2.0
    return float(numpy.percentile(values, tail)), float(numpy.percentile(values, 100.0 - tail))


def bootstrap_mean(values, seed=SEED):
    """Percentile bootstrap interval of the mean of ``values`` (one per model)."""
    values = numpy.asarray(values, dtype=float)
    if len(values) < 2:
        return None, None
    counts = resample_counts(len(values), seed)
    return interval(counts.dot(values) / len(values))


def bootstrap_statistic(n, statistic, seed=SEED, size=BOOTSTRAPS):
    """Percentile bootstrap interval of ``statistic(indices)`` over models resampled with replacement.

    ``statistic`` gets an index array and returns a number, or None where it is undefined.
    """
    if n < 2:
        return None, None
    draws = rng(seed).randint(0, n, size=(size, n))
    values = []
    for index in draws:
        value = statistic(index)
        values.append(numpy.nan if value is None else value)
    return interval(values)


def weighted_lines(x, y, weights, counts):
    """(slopes, intercepts) of the weighted least-squares line ``y = a + b x`` for each row of ``counts``.

    ``counts`` (resamples x n) says how often each point is in a resample: the bootstrap of a line
    without a Python loop. A resample whose x has no spread gets NaN.
    """
    x = numpy.asarray(x, dtype=float)
    y = numpy.asarray(y, dtype=float)
    w = counts * numpy.asarray(weights, dtype=float)
    total = w.sum(axis=1)
    with numpy.errstate(invalid="ignore", divide="ignore"):
        mx = w.dot(x) / total
        my = w.dot(y) / total
        sxx = w.dot(x ** 2) - total * mx ** 2
        sxy = w.dot(x * y) - total * mx * my
        spread = sxx > 1e-12 * numpy.maximum(1.0, w.dot(x ** 2))
        slopes = numpy.where(spread, sxy / numpy.where(spread, sxx, 1.0), numpy.nan)
    return slopes, my - slopes * mx


def wilson(successes, n, z=Z_95):
    """Wilson score interval of a share ``successes / n``; (None, None) when n is 0."""
    if n == 0:
        return None, None
    share = successes / float(n)
    centre = (share + z * z / (2.0 * n)) / (1.0 + z * z / n)
    half = z * math.sqrt(share * (1.0 - share) / n + z * z / (4.0 * n * n)) / (1.0 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def pareto_front(x, y):
    """Indices of the points no other point beats in both x and y (higher is better in both), by x."""
    x = numpy.asarray(x, dtype=float)
    y = numpy.asarray(y, dtype=float)
    keep = []
    for i in range(len(x)):
        beaten = numpy.any((x >= x[i]) & (y >= y[i]) & ((x > x[i]) | (y > y[i])))
        if not beaten:
            keep.append(i)
    return sorted(keep, key=lambda i: x[i])
