"""The statistics behind the verdicts (edgeprof.reading.stats): exact values, and error rates under a true null.

Pure numpy; runs under Python 3.6 with numpy 1.19 as well.
"""
import math

import numpy
import pytest

from edgeprof.reading import stats


def test_spearman_test_of_a_perfect_ranking_is_exact_one_over_n_factorial():
    result = stats.spearman_test([1, 2, 3, 4, 5], [10, 20, 25, 40, 90])
    assert result["rho"] == pytest.approx(1.0)
    assert result["exact"] is True
    assert result["p_greater"] == pytest.approx(1 / 120.0)
    assert result["p_less"] == pytest.approx(1.0)


def test_three_models_can_never_reach_five_percent():
    # the smallest one-sided p of 3 points is 1/3! = 1/6: three models are never evidence
    result = stats.spearman_test([1, 2, 3], [1, 2, 3])
    assert result["p_greater"] == pytest.approx(1 / 6.0)


def test_drawn_permutations_are_reproducible_and_never_zero():
    x = numpy.arange(12.0)
    first = stats.spearman_test(x, x ** 2)
    second = stats.spearman_test(x, x ** 2)
    assert first["exact"] is False
    assert first["p_greater"] == second["p_greater"] == pytest.approx(1.0 / (1 + stats.PERMUTATIONS))


def test_spearman_without_spread_gives_no_p_value():
    result = stats.spearman_test([1, 2, 3, 4, 5], [7, 7, 7, 7, 7])
    assert result["rho"] is None and result["p_greater"] is None


def test_permutation_p_values_hold_their_level_when_there_is_no_relation():
    # 300 data sets of 10 independent points: "rho > 0 at p < 0.05" must come up about 5% of the time
    rng = numpy.random.RandomState(11)
    hits = sum(stats.spearman_test(rng.rand(10), rng.rand(10))["p_greater"] < 0.05 for _ in range(300))
    assert hits <= 0.08 * 300


def test_sign_flip_test_is_exact_for_few_pairs():
    result = stats.sign_flip_test([0.5, 1.0, 2.0, 0.1, 3.0])
    assert result["exact"] is True
    assert result["p_greater"] == pytest.approx(1 / 32.0)
    assert result["p_less"] == pytest.approx(1.0)


def test_sign_flip_test_holds_its_level_under_symmetric_noise():
    rng = numpy.random.RandomState(5)
    hits = sum(stats.sign_flip_test(rng.normal(0, 1, 9))["p_greater"] < 0.05 for _ in range(300))
    assert hits <= 0.08 * 300


def test_wilson_interval_matches_the_textbook_value():
    # 6 of 10: 0.313 to 0.832 (Wilson score interval, z = 1.96)
    low, high = stats.wilson(6, 10)
    assert low == pytest.approx(0.3127, abs=1e-3)
    assert high == pytest.approx(0.8318, abs=1e-3)
    assert stats.wilson(10, 10)[1] == pytest.approx(1.0)
    assert stats.wilson(0, 0) == (None, None)


def test_bootstrap_interval_of_a_mean_covers_it_and_is_reproducible():
    values = numpy.random.RandomState(2).normal(10.0, 2.0, 30)
    low, high = stats.bootstrap_mean(values)
    assert low < values.mean() < high
    assert (low, high) == stats.bootstrap_mean(values)
    assert stats.bootstrap_mean([1.0]) == (None, None)


def test_bootstrap_interval_is_about_right_for_a_normal_mean():
    # the standard error of a mean of 40 N(0, 1) points is 1/sqrt(40): the interval is about +-1.96 of it
    values = numpy.random.RandomState(4).normal(0.0, 1.0, 40)
    low, high = stats.bootstrap_mean(values)
    assert (high - low) / 2 == pytest.approx(1.96 * values.std() / math.sqrt(40), rel=0.2)


def test_bootstrapped_lines_of_exact_points_all_have_the_true_slope():
    x = numpy.array([1.0, 2.0, 4.0, 8.0, 16.0])
    y = 3.0 + 2.0 * x
    slopes, intercepts = stats.weighted_lines(x, y, 1.0 / y ** 2, stats.resample_counts(len(x)))
    finite = numpy.isfinite(slopes)
    assert finite.mean() > 0.9          # a resample of one distinct x has no slope
    assert numpy.allclose(slopes[finite], 2.0) and numpy.allclose(intercepts[finite], 3.0)


def test_weighted_line_matches_numpy_polyfit():
    x = numpy.array([1.0, 2.0, 3.0, 5.0, 8.0])
    y = numpy.array([2.0, 2.5, 4.5, 5.0, 9.0])
    slopes, intercepts = stats.weighted_lines(x, y, numpy.ones(5), numpy.ones((1, 5)))
    slope, intercept = numpy.polyfit(x, y, 1)
    assert slopes[0] == pytest.approx(slope) and intercepts[0] == pytest.approx(intercept)


def test_pareto_front_keeps_the_points_nothing_beats_in_both():
    # (throughput, accuracy): (1, 9), (2, 8), (3, 7) are the front; (1.5, 5) and (2.5, 7) are beaten
    front = stats.pareto_front([1, 2, 3, 1.5, 2.5], [9, 8, 7, 5, 7])
    assert front == [0, 1, 2]
