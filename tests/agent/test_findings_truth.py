"""The report's verdicts on synthetic profiles of known truth: the paper's shapes agree, others do not.

Each case states the truth (time, power, accuracy, memory as functions of the model and batch);
scatter is seeded. numpy and PyYAML only, so this runs under Python 3.6 as well.
"""
import json

import numpy
import pytest

import truthgen
from edgeprof.reading import predict
from edgeprof.reading.report import data, findings

KEYS = ("time_vs_ops", "power", "ops_vs_power", "accuracy_vs_throughput", "accuracy_vs_energy",
        "memory_vs_params", "fc_share")
VERDICT_WORDS = ("agrees", "contradicts", "inconclusive")


def paper_time(m, batch):
    return 2.0 + 5.0 * m.gops


def paper_top1(ms):
    """The paper's Fig. 9: top-1 linear in images per second (hyperbolic in time)."""
    return 80.0 - 0.06 * (1000.0 / ms)


def paper_memory(m, batch):
    return 200e6 + 1.30 * 4 * m.params_m * 1e6


def flat_power(m, batch):
    return (23.0, 20.0)  # 3 W net over a 20 W idle floor


def paper_models(count=10, seed=1):
    models = truthgen.spread_models(count, seed=seed)
    for m in models:
        m.top1 = paper_top1(paper_time(m, 1))
    return models


def setup_findings(dataset):
    return findings.compute(dataset)["setups"][0]


def verdict(found):
    return found["verdict"]


def agrees(found):
    return found["verdict"].startswith("agrees")


@pytest.fixture(scope="module")
def paper_shape():
    return setup_findings(truthgen.dataset(paper_models(), paper_time, flat_power, paper_memory))


@pytest.mark.parametrize("key", KEYS[:6])
def test_the_paper_s_shape_agrees(paper_shape, key):
    assert verdict(paper_shape[key]) == findings.AGREES


def test_every_finding_has_a_verdict_word_its_statistic_n_and_rule(paper_shape):
    for key in KEYS:
        found = paper_shape[key]
        assert found["verdict"].split(":")[0].split(" ")[0] in VERDICT_WORDS
        assert found["statistic"] and found["rule"] and found["n"] >= 0


def test_the_paper_s_shape_with_measurement_scatter_still_agrees():
    noise = dict((m.name, z) for m, z in zip(paper_models(12, seed=3), truthgen.scatter(3, 12, 0.03)))
    models = paper_models(12, seed=3)
    found = setup_findings(truthgen.dataset(models, lambda m, b: paper_time(m, b) * noise[m.name]))
    assert verdict(found["time_vs_ops"]) == findings.AGREES
    assert verdict(found["accuracy_vs_throughput"]) == findings.AGREES


def test_accuracy_linear_in_time_the_opposite_shape_contradicts():
    models = truthgen.spread_models(10, seed=1)
    for m in models:
        m.top1 = 60.0 + 0.4 * paper_time(m, 1)   # linear in time = hyperbolic in images/s
    found = setup_findings(truthgen.dataset(models, paper_time))["accuracy_vs_throughput"]
    assert verdict(found) == findings.CONTRADICTS
    # the old rule (b > 0 in top-1 = a + b/ips, rho < 0) would have said "agrees"
    first = found["batches"][0]
    assert first["shapes"]["opposite"]["b_pct_ips"] > 0 and first["spearman"]["rho"] < 0


def test_accuracy_unrelated_to_throughput_does_not_agree():
    agreed = 0
    for seed in range(12):
        models = truthgen.spread_models(10, seed=seed)
        for m, top1 in zip(models, numpy.random.RandomState(100 + seed).uniform(55, 80, 10)):
            m.top1 = float(top1)
        agreed += agrees(setup_findings(truthgen.dataset(models, paper_time))["accuracy_vs_throughput"])
    assert agreed <= 1


def test_accuracy_as_a_step_in_throughput_does_not_agree():
    models = truthgen.spread_models(10, seed=2)
    for m in models:
        m.top1 = 76.0 if 1000.0 / paper_time(m, 1) < 60 else 62.0
    assert not agrees(setup_findings(truthgen.dataset(models, paper_time))["accuracy_vs_throughput"])


def test_time_falling_with_operations_contradicts():
    models = truthgen.spread_models(10, seed=1)
    found = setup_findings(truthgen.dataset(models, lambda m, b: 100.0 / (1.0 + m.gops)))["time_vs_ops"]
    assert verdict(found) == findings.CONTRADICTS


def _leverage_case():
    """8 models whose times are unrelated to their operations, plus two VGG-sized models on a line."""
    models = truthgen.spread_models(8, seed=2, low_gops=0.5, high_gops=8.0)
    times = dict((m.name, float(t)) for m, t in zip(models, numpy.random.RandomState(3).uniform(5, 40, 8)))
    models += [truthgen.Model("vgg16", 31.0, 138.0, family="vgg"), truthgen.Model("vgg19", 39.3, 143.7, family="vgg")]
    times.update(vgg16=2 + 5 * 31.0, vgg19=2 + 5 * 39.3)
    return models, times


def test_two_vgg_sized_points_do_not_make_unrelated_times_agree():
    models, times = _leverage_case()
    found = setup_findings(truthgen.dataset(models, lambda m, b: times[m.name]))["time_vs_ops"]
    assert not agrees(found)
    # what the old verdict used: the in-sample R^2 of a line in ms, which the two VGGs push above 0.9
    assert predict.fit_line([m.gops for m in models], [times[m.name] for m in models]).r2 > 0.9
    assert found["batches"][0]["leave_one_out"]["score"]["within_10pct_share"] < 0.5


def test_times_unrelated_to_operations_do_not_agree():
    models = truthgen.spread_models(10, seed=4)
    times = dict((m.name, float(t)) for m, t in zip(models, numpy.random.RandomState(9).uniform(5, 50, 10)))
    assert not agrees(setup_findings(truthgen.dataset(models, lambda m, b: times[m.name]))["time_vs_ops"])


def test_three_models_of_the_paper_s_shape_give_no_verdict_that_agrees():
    found = setup_findings(truthgen.dataset(paper_models(3), paper_time, flat_power, paper_memory))
    for key in KEYS:
        assert not agrees(found[key]), key
    assert "at least" in verdict(found["time_vs_ops"])


def _rising_net(m, batch):
    """Net power tripling from batch 1 to 8 (2 W -> 6 W) over a 20 W idle floor."""
    return (20.0 + 2.0 + 4.0 * (batch - 1) / 7.0, 20.0)


def test_net_power_rising_with_batch_over_a_20_w_idle_floor_does_not_agree():
    found = setup_findings(truthgen.dataset(truthgen.spread_models(10, seed=1), paper_time, _rising_net))["power"]
    assert verdict(found) == findings.CONTRADICTS
    assert verdict(found["batch"]) == findings.CONTRADICTS
    assert found["total"]["cov"] < 0.10   # the old rule, std/mean of total power <= 10%, said "agrees"


def test_flat_net_power_agrees_and_so_does_flat_power_with_sensor_noise():
    models = truthgen.spread_models(10, seed=1)
    assert verdict(setup_findings(truthgen.dataset(models, paper_time, flat_power))["power"]) == findings.AGREES
    noise = iter(truthgen.scatter(5, 40, 0.02))
    found = setup_findings(truthgen.dataset(models, paper_time, lambda m, b: (20.0 + 3.0 * next(noise), 20.0)))
    assert verdict(found["power"]) == findings.AGREES


def test_without_idle_power_rising_power_contradicts_but_flat_power_cannot_agree():
    models = truthgen.spread_models(10, seed=1)
    rising = setup_findings(truthgen.dataset(models, paper_time, lambda m, b: (_rising_net(m, b)[0], None)))
    assert verdict(rising["power"]) == findings.CONTRADICTS
    flat = setup_findings(truthgen.dataset(models, paper_time, lambda m, b: (23.0, None)))["power"]
    assert flat["verdict"].startswith("inconclusive") and "idle" in flat["verdict"]
    assert "no idle power" in flat["basis"]


def test_net_power_that_differs_across_architectures_contradicts_the_architecture_half():
    models = truthgen.spread_models(10, seed=1)
    found = setup_findings(truthgen.dataset(models, paper_time, lambda m, b: (20.0 + 1.0 + 0.5 * m.gops, 20.0)))
    assert verdict(found["power"]["batch"]) == findings.AGREES
    assert verdict(found["power"]["architecture"]) == findings.CONTRADICTS
    assert verdict(found["power"]) == findings.CONTRADICTS
    assert verdict(found["ops_vs_power"]) == findings.CONTRADICTS


def test_energy_that_buys_no_accuracy_does_not_agree_and_falling_accuracy_contradicts():
    models = truthgen.spread_models(10, seed=1)
    for m in models:
        m.top1 = 80.0 - m.gops  # more operations (time, energy) and less accuracy
    found = setup_findings(truthgen.dataset(models, paper_time, flat_power))["accuracy_vs_energy"]
    assert verdict(found) == findings.CONTRADICTS


def test_memory_with_the_paper_s_floor_and_slope_agrees_a_different_slope_is_named():
    models = truthgen.spread_models(10, seed=1)
    found = setup_findings(truthgen.dataset(models, paper_time, memory=paper_memory))["memory_vs_params"]
    assert found["floor_mb"] == pytest.approx(200.0) and found["slope_mb_per_param_mb"] == pytest.approx(1.30)
    assert verdict(found["slope_vs_paper"]) == findings.AGREES
    doubled = setup_findings(truthgen.dataset(models, paper_time, memory=lambda m, b: 300e6 + 8 * m.params_m * 1e6))
    assert verdict(doubled["memory_vs_params"]) == findings.AGREES          # still linear, above a floor
    assert verdict(doubled["memory_vs_params"]["slope_vs_paper"]) == findings.CONTRADICTS   # slope 2, not 1.30


def test_memory_unrelated_to_parameters_does_not_agree():
    models = truthgen.spread_models(10, seed=1)
    noise = dict((m.name, float(v)) for m, v in zip(models, numpy.random.RandomState(8).uniform(2e8, 6e8, 10)))
    found = setup_findings(truthgen.dataset(models, paper_time, memory=lambda m, b: noise[m.name]))
    assert not agrees(found["memory_vs_params"])


def test_the_slope_of_operations_against_time_rising_at_the_largest_batch_agrees():
    models = truthgen.spread_models(10, seed=1)
    found = setup_findings(truthgen.dataset(models, lambda m, b: 2.0 + 5.0 * m.gops / (1 if b == 1 else 2)))
    change = found["time_vs_ops"]["slope_change"]
    assert change["ratio"] == pytest.approx(2.0, rel=1e-6)
    assert verdict(change) == findings.AGREES


def test_fc_share_falling_with_batch_in_most_models_agrees_and_rising_contradicts():
    models = truthgen.spread_models(6, seed=1)

    def share_data(shares):
        loaded = []
        for i, m in enumerate(models):
            runs = [truthgen.run_entry(b, paper_time(m, b)) for b in truthgen.BATCHES]
            for run, share in zip(runs, shares(i)):
                run["fc_share"] = share
            loaded.append((m.name, truthgen.profile_of(m, runs)))
        return data.from_profiles(loaded)
    falling = setup_findings(share_data(lambda i: [0.5 - 0.02 * i, 0.4, 0.3, 0.2]))["fc_share"]
    assert verdict(falling) == findings.AGREES
    rising = setup_findings(share_data(lambda i: [0.2, 0.3, 0.4, 0.5 - 0.02 * i]))["fc_share"]
    assert verdict(rising) == findings.CONTRADICTS


def test_fc_heavy_models_gaining_most_from_batching_agree_without_per_layer_timings():
    models = truthgen.spread_models(8, seed=1)
    for i, m in enumerate(models):
        m.fc_fraction = 0.05 * (i + 1)
    found = setup_findings(truthgen.dataset(models, lambda m, b: paper_time(m, b) / (1.0 + 4 * m.fc_fraction)
                                            ** (numpy.log2(b) / 3.0)))["fc_share"]
    assert found["per_layer"]["status"] == "absent"
    assert verdict(found) == findings.AGREES


def test_fp16_and_uncalibrated_int8_never_pair_with_published_fp32_accuracy():
    for precision in ("fp16", "int8"):
        found = setup_findings(truthgen.dataset(paper_models(), paper_time, flat_power, precision=precision))
        assert found["accuracy_vs_throughput"]["status"] == "absent"
        assert precision in found["accuracy_vs_throughput"]["reason"]
        assert found["accuracy_vs_energy"]["status"] == "absent"


def test_a_measured_accuracy_is_used_whatever_the_precision():
    models = paper_models()
    loaded = []
    for m in models:
        runs = [truthgen.run_entry(b, paper_time(m, b)) for b in truthgen.BATCHES]
        loaded.append((m.name, truthgen.profile_of(m, runs, precision="fp16", extra={"accuracy": {"top1": m.top1}})))
    found = setup_findings(data.from_profiles(loaded))["accuracy_vs_throughput"]
    assert verdict(found) == findings.AGREES
    assert {p["accuracy_source"] for p in found["batches"][0]["points"]} == {"measured"}


def test_calibrated_int8_uses_published_accuracy_and_says_so():
    loaded = []
    for m in paper_models():
        runs = [truthgen.run_entry(b, paper_time(m, b)) for b in truthgen.BATCHES]
        for run in runs:
            run["backend"] = {"int8_calibration": "entropy2 over 500 files from calib/ (abc123)"}
        loaded.append((m.name, truthgen.profile_of(m, runs, precision="int8")))
    found = setup_findings(data.from_profiles(loaded))["accuracy_vs_throughput"]
    assert found["status"] == "ok" and "calibrated" in found["accuracy"]


def _jetson_rows(memory):
    m = truthgen.Model("m", 1.0, 5.0)
    run = truthgen.run_entry(1, 3.0)
    run["memory"] = memory
    jetson = {"board": {"model": "Jetson", "slug": "j", "is_jetson": True}}
    loaded = [("m", truthgen.profile_of(m, [run], extra=jetson))]
    return data.from_profiles(loaded).rows[0]


def test_memory_uses_the_maximum_during_the_window_where_the_profile_has_one():
    row = _jetson_rows({"system_used_bytes": 3000, "system_delta_bytes": 1000, "system_peak_used_bytes": 3500,
                        "peak_rss_bytes": 9999})
    assert (row["memory_bytes"], row["memory_kind"]) == (1500, data.WINDOW_MAX)
    row = _jetson_rows({"system_used_bytes": 3000, "system_delta_bytes": 1000, "peak_rss_bytes": 9999})
    assert (row["memory_bytes"], row["memory_kind"]) == (1000, data.SNAPSHOT)


def _two_boards(scope_a, scope_b):
    loaded = []
    for board, scope in (("board-a", scope_a), ("board-b", scope_b)):
        for m in truthgen.spread_models(3, seed=1):
            runs = [truthgen.run_entry(1, paper_time(m, 1), flat_power(m, 1))]
            power = {"status": "ok", "sensor": "synthetic"}
            if scope:
                power["scope"] = scope
            loaded.append((board + m.name, truthgen.profile_of(m, runs, board=board, extra={"power": power})))
    return findings.compute(data.from_profiles(loaded))["across"]["setups"][0]


def test_energy_ratios_across_setups_only_between_the_same_power_scope():
    same = _two_boards("module_input", "module_input")
    assert same["geomean_energy_ratio"] == pytest.approx(1.0) and same["energy_note"] is None
    different = _two_boards("module_input", "gpu_board")
    assert different["geomean_energy_ratio"] is None and "differ" in different["energy_note"]
    unknown = _two_boards(None, None)
    assert unknown["geomean_energy_ratio"] == pytest.approx(1.0) and "unknown" in unknown["energy_note"]


def test_verdicts_are_reproducible():
    make = lambda: findings.compute(truthgen.dataset(paper_models(9, seed=7), paper_time, flat_power))  # noqa: E731
    assert json.dumps(make(), sort_keys=True, default=str) == json.dumps(make(), sort_keys=True, default=str)


PAPER_ZOO = (("alexnet", 54.61, 60.97), ("googlenet", 68.70, 6.99), ("resnet18", 69.57, 11.69),
             ("resnet50", 75.99, 25.56), ("vgg16", 70.62, 138.36), ("vgg19", 70.74, 143.67),
             ("resnet101", 77.56, 44.60))


def _density(params_of):
    models = [truthgen.Model(name, 1.0 + i, params_of(params_m), top1=top1)
              for i, (name, top1, params_m) in enumerate(PAPER_ZOO)]
    return findings.compute(truthgen.dataset(models, paper_time))["density"]


def test_density_ranked_as_in_the_paper_agrees_and_reversed_contradicts():
    assert verdict(_density(lambda p: p)) == findings.AGREES
    reversed_ = _density(lambda p: 1000.0 / p)   # the smallest models now carry the most parameters
    assert verdict(reversed_) == findings.CONTRADICTS
    few = findings.compute(truthgen.dataset([truthgen.Model("alexnet", 1.4, 61.0, top1=56.5)], paper_time))
    assert verdict(few["density"]).startswith("inconclusive")
