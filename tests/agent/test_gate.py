"""The regression gate on raw latencies: bootstrap CI of the ratio, Holm, refusals, profiles without raw times."""
import json

import numpy as np
import pytest
import yaml

from edgeprof.agent.measure import latency_stats
from edgeprof.reading import compare, gate
from edgeprof.records import latencies

SETTINGS = {"model_sha256": "abc", "backend": "onnxruntime", "backend_version": "1.10.0", "precision": "fp32",
            "device": "cpu", "options": {"ort_provider": "cpu", "threads": 0},
            "protocol": {"warmup_seconds": 0.2, "warmup_runs": 10, "min_seconds": 3.0, "min_runs": 10, "trials": 1},
            "power_mode": {"nvpmodel": None, "jetson_clocks": None, "cpu_governor": "schedutil",
                           "gpu_governor": None}}


def times(median_ms, n, spread=0.05, seed=0):
    """Right-skewed latencies around ``median_ms`` (lognormal)."""
    return list(median_ms * np.exp(np.random.RandomState(seed).standard_normal(n) * spread))


def write_profile(folder, model, trials, board="tx2", hostname="lab-1", **settings):
    """A profile of one run at batch 1 whose raw times (per trial) are in its sidecar."""
    folder.mkdir(parents=True, exist_ok=True)
    path = str(folder / ("%s__onnxruntime__fp32.yaml" % model))
    pooled = [t for trial in trials for t in trial]
    raw = [{"latency_ms": trial} for trial in trials]
    ref = latencies.reference(path, raw)
    run = {"batch": 1, "status": "ok", "settings_id": "s", "runs": len(pooled), "latency_ms": latency_stats(pooled),
           "throughput_ips": 1000.0 / float(np.mean(pooled)), "raw_latencies": ref,
           "settings": dict(SETTINGS, **settings)}
    if len(trials) > 1:
        run["trials"] = [{"trial": i, "runs": len(t), "latency_ms": latency_stats(t)} for i, t in enumerate(trials)]
    data = {"schema": "edgeprof/profile/v1", "edgeprof_version": "0.1.0", "created": "x",
            "board": {"model": "NVIDIA Jetson TX2", "slug": board, "hostname": hostname}, "model": {"name": model},
            "backend": {"name": "onnxruntime", "precision": "fp32"},
            "protocol": {"warmup_seconds": 0.2, "warmup_runs": 10, "min_seconds": 3, "min_runs": 10},
            "power": {"status": "unavailable", "reason": "test"}, "runs": [run]}
    with open(path, "w") as f:
        yaml.safe_dump(data, f)
    latencies.write_file(latencies.sidecar_path(path), latencies.named_arrays(raw, ref))
    return path


def gate_of(paths, pct=5.0, metric="latency"):
    return gate.run(compare.build(compare.load_profiles([str(p) for p in paths]), metric), pct)


def test_a_real_slowdown_is_a_regression(tmp_path):
    write_profile(tmp_path / "before", "resnet18", [times(10.0, 200)])
    write_profile(tmp_path / "after", "resnet18", [times(20.0, 200, seed=1)])
    (pair,) = gate_of([tmp_path / "before", tmp_path / "after"]).pairs
    assert pair.verdict == gate.REGRESSION
    assert 1.9 < pair.low < pair.ratio < pair.high < 2.1 and pair.p_holm < gate.ALPHA


def test_a_difference_within_the_limit_passes(tmp_path):
    write_profile(tmp_path / "before", "resnet18", [times(10.0, 300)])
    write_profile(tmp_path / "after", "resnet18", [times(10.2, 300, seed=1)])
    result = gate_of([tmp_path / "before", tmp_path / "after"])
    assert [p.verdict for p in result.pairs] == [gate.WITHIN] and result.exit_status() == 0


def test_a_slowdown_inside_the_noise_is_not_significant_and_is_said_so(cli, tmp_path):
    write_profile(tmp_path / "before", "resnet18", [times(10.0, 12, spread=0.3)])
    write_profile(tmp_path / "after", "resnet18", [times(11.0, 12, spread=0.3)])  # the same shape, 10% slower
    result = cli(["compare", str(tmp_path / "before"), str(tmp_path / "after"), "--fail-if-slower", "5"])
    assert result.returncode == 0, result.stderr
    assert "not significant: resnet18 on" in result.stderr and "inside the noise" in result.stderr
    assert "1 not significant" in result.stderr.splitlines()[-1]
    assert "gate: worse than" in result.stdout and "not significant" in result.stdout


def test_between_trial_spread_widens_the_interval(tmp_path):
    """Three steady trials against three that drift from trial to trial: the same 8% slowdown, wider CI."""
    write_profile(tmp_path / "steady", "resnet18", [times(10.0, 200, seed=s) for s in range(3)])
    write_profile(tmp_path / "steady-new", "resnet18", [times(10.8, 200, seed=s + 7) for s in range(3)])
    write_profile(tmp_path / "drifting", "resnet18", [times(m, 200, seed=s) for s, m in enumerate((9.0, 10.0, 11.5))])
    write_profile(tmp_path / "drifting-new", "resnet18",
                  [times(m * 1.08, 200, seed=s + 7) for s, m in enumerate((9.0, 10.0, 11.5))])
    narrow = gate_of([tmp_path / "steady", tmp_path / "steady-new"]).pairs[0]
    wide = gate_of([tmp_path / "drifting", tmp_path / "drifting-new"]).pairs[0]
    assert narrow.trials == [3, 3] and (wide.high - wide.low) > 2 * (narrow.high - narrow.low)
    assert narrow.verdict == gate.REGRESSION and wide.verdict == gate.NOT_SIGNIFICANT


def test_holm_adjusts_step_down():
    assert gate.holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert gate.holm([0.5]) == [0.5]


def test_holm_keeps_a_marginal_slowdown_among_many_models_from_failing(tmp_path):
    """One model alone fails; among twenty models with no change, Holm asks more of its evidence."""
    base, new = tmp_path / "before", tmp_path / "after"
    for index in range(20):
        write_profile(base, "m%02d" % index, [times(10.0, 60, seed=index)])
        write_profile(new, "m%02d" % index, [times(10.95 if index == 0 else 10.0, 60, seed=100 + index)])
    alone = gate_of([base / "m00__onnxruntime__fp32.yaml", new / "m00__onnxruntime__fp32.yaml"]).pairs[0]
    first = [p for p in gate_of([base, new]).pairs if p.model == "m00"][0]
    assert alone.verdict == gate.REGRESSION and alone.p == first.p < gate.ALPHA
    assert first.verdict == gate.NOT_SIGNIFICANT and first.p_holm == pytest.approx(20 * first.p)


def test_settings_that_differ_in_two_dimensions_are_refused_naming_them(cli, tmp_path):
    write_profile(tmp_path / "before", "resnet18", [times(10.0, 100)])
    write_profile(tmp_path / "after", "resnet18", [times(10.0, 100, seed=1)], options={"ort_provider": "cpu",
                                                                                    "threads": 1},
                  protocol=dict(SETTINGS["protocol"], min_seconds=1.0))
    result = cli(["compare", str(tmp_path / "before"), str(tmp_path / "after"), "--fail-if-slower", "5"])
    assert result.returncode == 2
    line = [text for text in result.stderr.splitlines() if text.startswith("refused")][0]
    assert "differ in backend and protocol" in line and "threads: 0 vs 1" in line and "min_seconds" in line


def test_one_dimension_may_differ_board_and_power_mode_count_as_one(tmp_path):
    write_profile(tmp_path / "maxn", "resnet18", [times(10.0, 100)])
    write_profile(tmp_path / "5w", "resnet18", [times(10.0, 100, seed=1)],
                  power_mode=dict(SETTINGS["power_mode"], nvpmodel={"id": 1, "name": "5W"}))
    (pair,) = gate_of([tmp_path / "maxn", tmp_path / "5w"]).pairs
    assert pair.verdict == gate.WITHIN
    table = compare.build(compare.load_profiles([str(tmp_path / "maxn"), str(tmp_path / "5w")]))
    found = gate.differences(table.sources[("resnet18", 0)], table.sources[("resnet18", 1)])
    assert [d for d, _ in found] == ["board"] and 'nvpmodel: null vs {"id": 1, "name": "5W"}' in found[0][1]


def test_the_gate_is_deterministic(tmp_path):
    write_profile(tmp_path / "a", "resnet18", [times(10.0, 50)])
    write_profile(tmp_path / "b", "resnet18", [times(10.8, 50, seed=1)])
    runs = [gate_of([tmp_path / "a", tmp_path / "b"]).pairs[0] for _ in range(2)]
    assert (runs[0].low, runs[0].high, runs[0].p) == (runs[1].low, runs[1].high, runs[1].p)


def test_a_stale_sidecar_cannot_be_tested(cli, tmp_path):
    path = write_profile(tmp_path / "a", "resnet18", [times(10.0, 50)])
    write_profile(tmp_path / "b", "resnet18", [times(10.0, 50, seed=1)])
    latencies.write_file(latencies.sidecar_path(path), {"x.t0.latency_ms": np.zeros(3)})
    result = cli(["compare", str(tmp_path / "a"), str(tmp_path / "b"), "--fail-if-slower", "5"])
    assert result.returncode == 2 and "cannot test" in result.stderr and "stale" in result.stderr


def test_a_metric_without_samples_cannot_be_gated(cli, tmp_path):
    write_profile(tmp_path / "a", "resnet18", [times(10.0, 50)])
    result = cli(["compare", str(tmp_path / "a"), "--metric", "energy", "--fail-if-slower", "5"])
    assert result.returncode == 2 and "no per-inference samples" in result.stderr


def test_throughput_is_gated_on_the_mean_latency(tmp_path):
    write_profile(tmp_path / "a", "resnet18", [times(10.0, 200)])
    write_profile(tmp_path / "b", "resnet18", [times(13.0, 200, seed=1)])
    (pair,) = gate_of([tmp_path / "a", tmp_path / "b"], metric="throughput").pairs
    assert pair.verdict == gate.REGRESSION and pair.ratio == pytest.approx(1.3, rel=0.03)


def test_json_carries_every_pair(cli, tmp_path):
    write_profile(tmp_path / "a", "resnet18", [times(10.0, 200)])
    write_profile(tmp_path / "b", "resnet18", [times(20.0, 200, seed=1)])
    result = cli(["compare", str(tmp_path / "a"), str(tmp_path / "b"), "--fail-if-slower", "5", "--json"])
    assert result.returncode == 1
    data = json.loads(result.stdout)
    assert data["gate"]["pairs"][0]["verdict"] == "regression" and data["gate"]["exit_status"] == 1
    assert data["regressions"][0]["model"] == "resnet18" and data["regressions"][0]["worse_pct"] > 80


def test_a_model_on_one_side_only_is_said_but_does_not_fail(cli, tmp_path):
    write_profile(tmp_path / "a", "resnet18", [times(10.0, 100)])
    write_profile(tmp_path / "a", "vgg16", [times(50.0, 100)])
    write_profile(tmp_path / "b", "resnet18", [times(10.0, 100, seed=1)])
    result = cli(["compare", str(tmp_path / "a"), str(tmp_path / "b"), "--fail-if-slower", "5"])
    assert result.returncode == 0, result.stderr
    assert "not compared: vgg16 on tx2/onnxruntime/fp32 (%s)" % (tmp_path / "b") in result.stderr
    assert "no ok run at batch 1" in result.stderr
