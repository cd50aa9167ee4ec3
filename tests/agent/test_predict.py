"""Fits and out-of-sample scoring of edgeprof.reading.predict (pure numpy; runs under Python 3.6 too)."""
import math

import pytest

from edgeprof.reading import predict
from edgeprof.errors import UsageError


def _sample(name, paper_ops, per_image_ms, macs=None, fc_macs=None):
    return {"name": name, "paper_ops": paper_ops, "macs": macs, "fc_macs": fc_macs,
            "per_image_ms": per_image_ms}


def test_line_through_exact_points_has_their_slope_intercept_and_r2_of_one():
    fit = predict.fit_line([1e9, 2e9, 4e9], [3.0 + 2e-9 * x for x in (1e9, 2e9, 4e9)])
    assert fit.slope == pytest.approx(2e-9)
    assert fit.intercept == pytest.approx(3.0)
    assert fit.r2 == pytest.approx(1.0)


def test_r2_is_none_when_y_has_no_spread():
    assert predict.fit_line([1, 2, 3], [5, 5, 5]).r2 is None


def test_r2_of_noisy_points_matches_the_textbook_value():
    # scattered points: R^2 checked against the definition with plain sums; slope 0.6 worked by hand
    x, y = [0, 1, 2, 3], [1, 0, 3, 2]
    fit = predict.fit_line(x, y)
    mean = sum(y) / 4.0
    ss_tot = sum((v - mean) ** 2 for v in y)
    ss_res = sum((v - fit.predict([u])) ** 2 for u, v in zip(x, y))
    assert fit.r2 == pytest.approx(1 - ss_res / ss_tot)
    assert fit.slope == pytest.approx(0.6)


def test_fit_with_fewer_points_than_coefficients_is_refused():
    with pytest.raises(UsageError, match="at least 2 points"):
        predict.fit_line([1.0], [2.0])


def test_hyperbola_recovers_a_and_b():
    x = [10.0, 20.0, 50.0, 100.0]
    h = predict.fit_hyperbola(x, [80.0 - 200.0 / v for v in x])
    assert h.a == pytest.approx(80.0)
    assert h.b == pytest.approx(-200.0)
    assert h.r2 == pytest.approx(1.0)


def test_hyperbola_refuses_non_positive_x():
    with pytest.raises(UsageError, match="positive"):
        predict.fit_hyperbola([0.0, 1.0, 2.0], [1.0, 2.0, 3.0])


def test_ranks_average_ties():
    assert list(predict.rank_average([10, 20, 20, 5])) == [2.0, 3.5, 3.5, 1.0]


def test_spearman_is_one_for_any_increasing_relation():
    assert predict.spearman([1, 2, 3, 4], [1, 8, 27, 1000]) == pytest.approx(1.0)


def test_spearman_is_minus_one_for_a_decreasing_relation():
    assert predict.spearman([1, 2, 3], [9, 4, 1]) == pytest.approx(-1.0)


def test_spearman_with_ties_matches_pearson_on_average_ranks():
    # ranks a: 1, 2.5, 2.5, 4; b: 1, 2, 3, 4 -> Pearson = 0.9486832980505138 (worked by hand)
    assert predict.spearman([1, 2, 2, 3], [1, 2, 3, 4]) == pytest.approx(3 / math.sqrt(10))


def test_spearman_is_none_without_spread():
    assert predict.spearman([1, 1, 1], [1, 2, 3]) is None


def test_score_counts_within_ten_percent_and_rmspe():
    s = predict.score([100.0, 100.0, 100.0, 100.0], [105.0, 95.0, 120.0, 100.0])
    assert s["within_10pct_share"] == pytest.approx(0.75)
    assert s["rmspe_pct"] == pytest.approx(math.sqrt((25 + 25 + 400 + 0) / 4.0))
    assert s["n"] == 4


def test_score_gives_a_wilson_interval_on_the_share_and_a_bootstrap_interval_on_the_error():
    s = predict.score([100.0] * 10, [105.0] * 6 + [130.0] * 4)
    assert s["within_10pct_share"] == pytest.approx(0.6)
    assert s["within_10pct_ci"] == pytest.approx([0.3127, 0.8318], abs=1e-3)
    low, high = s["mape_ci_pct"]
    assert s["mape_pct"] == pytest.approx(15.0)
    assert low < 15.0 < high


def test_a_fit_in_relative_error_lets_small_models_count_as_much_as_large_ones():
    # one large model 20% off the line through the small ones: least squares in ms bends towards it
    x = [1.0, 2.0, 3.0, 4.0, 100.0]
    y = [2.0, 3.0, 4.0, 5.0, 1.2 * 101.0]
    relative = predict.fit_linear([[v] for v in x], y, relative=True)
    plain = predict.fit_linear([[v] for v in x], y)
    assert abs(relative.predict([1.0]) - 2.0) < abs(plain.predict([1.0]) - 2.0)


def test_a_predictor_fit_keeps_two_residual_degrees_of_freedom():
    samples = [_sample(f"m{i}", ops, 1.0 + 2e-9 * ops) for i, ops in enumerate([1e9, 2e9, 5e9])]
    with pytest.raises(UsageError, match="at least 4 points"):
        predict.fit(samples, "ops", "per_image_ms")


def test_leave_one_out_of_exactly_linear_models_is_perfect():
    samples = [_sample(f"m{i}", ops, 1.0 + 2e-9 * ops) for i, ops in enumerate([1e9, 2e9, 5e9, 9e9, 12e9])]
    loo = predict.leave_one_out(samples, "ops", "per_image_ms")
    assert loo["status"] == "ok"
    assert loo["score"]["within_10pct_share"] == 1.0
    assert loo["score"]["rmspe_pct"] == pytest.approx(0.0, abs=1e-6)
    assert loo["score"]["spearman_rho"] == pytest.approx(1.0)


def test_leave_one_out_is_absent_with_too_few_models_and_says_why():
    samples = [_sample(f"m{i}", ops, 1.0 + 2e-9 * ops) for i, ops in enumerate([1e9, 2e9, 5e9, 9e9])]
    loo = predict.leave_one_out(samples, "ops", "per_image_ms")
    assert loo["status"] == "absent"
    assert "at least 5 models" in loo["reason"] and "residual degrees of freedom" in loo["reason"]


def test_leave_one_family_out_holds_out_every_model_of_a_family_together():
    # family "a" sits on a different line: leave-one-out interpolates from its sibling, leave-one-family-out cannot
    rows = [("a0", "a", 1e9, 10.0), ("a1", "a", 2e9, 12.0)] + [
        (f"b{i}", f"b{i}", ops, 1.0 + 2e-9 * ops) for i, ops in enumerate([1e9, 3e9, 5e9, 7e9, 9e9])]
    samples = [dict(_sample(name, ops, ms), family=family) for name, family, ops, ms in rows]
    loo = predict.leave_one_out(samples, "ops", "per_image_ms")
    lofo = predict.leave_one_family_out(samples, "ops", "per_image_ms")
    assert lofo["folds"] == "leave-one-family-out"
    assert {p["name"] for p in lofo["predictions"]} == {name for name, _, _, _ in rows}
    assert lofo["score"]["mape_pct"] >= loo["score"]["mape_pct"]


def test_split_predictor_is_skipped_for_models_without_fc_counts():
    samples = [_sample(f"m{i}", ops, 1.0) for i, ops in enumerate([1e9, 2e9, 3e9, 4e9, 5e9, 6e9])]
    loo = predict.leave_one_out(samples, "split", "per_image_ms")
    assert loo["status"] == "absent"
    assert "fc_macs" in loo["reason"]


def _fc_heavy_samples():
    """Time = 1 ms + 1 ms per G conv MAC + 10 ms per G FC MAC: the ops line cannot fit it, the split can."""
    rows = [(1.0e9, 0.1e9), (2.0e9, 0.6e9), (3.0e9, 0.05e9), (1.5e9, 0.5e9), (4.0e9, 0.2e9), (0.7e9, 0.15e9),
            (2.5e9, 0.3e9)]
    out = []
    for i, (conv, fc) in enumerate(rows):
        ms = 1.0 + conv * 1e-9 + fc * 1e-8
        out.append(_sample(f"m{i}", 2 * (conv + fc), ms, macs=conv + fc, fc_macs=fc))
    return out


def test_split_predictor_beats_the_ops_line_when_fc_layers_cost_more_per_mac():
    samples = _fc_heavy_samples()
    ops = predict.leave_one_out(samples, "ops", "per_image_ms")
    split = predict.leave_one_out(samples, "split", "per_image_ms")
    assert split["score"]["rmspe_pct"] == pytest.approx(0.0, abs=1e-6)
    assert ops["score"]["rmspe_pct"] > 10.0
    assert predict.choose(samples, "per_image_ms") == "split"


def test_the_nested_choice_is_made_inside_each_fold_and_scored_on_the_held_out_model():
    nested = predict.cross_validate(_fc_heavy_samples(), "nested", "per_image_ms")
    assert nested["status"] == "ok"
    assert {p["predictor"] for p in nested["predictions"]} == {"split"}
    assert nested["score"]["rmspe_pct"] == pytest.approx(0.0, abs=1e-6)


def test_predict_model_uses_the_better_predictor_and_reports_the_nested_error():
    result = predict.predict_model(_fc_heavy_samples(), "per_image_ms",
                                   {"paper_ops": 4e9, "macs": 2e9, "fc_macs": 1e9})
    assert result["predictor"] == "split"
    assert result["value"] == pytest.approx(1.0 + 1.0 + 10.0)
    assert result["error_pct"] == pytest.approx(0.0, abs=1e-6)
    assert {(s["predictor"], s["by"]) for s in result["scores"]} == {
        (p, by) for p in ("ops", "split", "nested") for by in ("model", "family")}


def test_predict_model_falls_back_to_the_ops_line_when_the_model_has_no_fc_count():
    samples = [_sample(f"m{i}", ops, 1.0 + 2e-9 * ops) for i, ops in enumerate([1e9, 2e9, 5e9, 8e9])]
    result = predict.predict_model(samples, "per_image_ms", {"paper_ops": 3e9})
    assert result["predictor"] == "ops"
    assert result["value"] == pytest.approx(7.0)
    assert result["error_pct"] is None  # 4 models: no fit can leave one out and keep 2 degrees of freedom


def test_predict_model_without_operation_counts_is_refused():
    samples = [_sample(f"m{i}", ops, 1.0) for i, ops in enumerate([1e9, 2e9, 5e9, 8e9])]
    with pytest.raises(UsageError, match="paper_ops"):
        predict.predict_model(samples, "per_image_ms", {"paper_ops": None})


def test_predict_model_with_too_few_models_says_how_many_it_needs():
    samples = [_sample(f"m{i}", ops, 1.0 + 2e-9 * ops) for i, ops in enumerate([1e9, 2e9, 5e9])]
    with pytest.raises(UsageError, match="at least 4 measured models"):
        predict.predict_model(samples, "per_image_ms", {"paper_ops": 3e9})
