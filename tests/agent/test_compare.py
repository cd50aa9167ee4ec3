"""compare: tables across boards, ratios, geometric means, regression gate, bad input."""
import copy
import json

import pytest
import yaml

from edgeprof.reading import compare

LAT = {"mean": 1.0, "median": 1.0, "p90": 1.0, "p95": 1.0, "p99": 1.0, "min": 1.0, "max": 1.0, "std": 0.0, "cov": 0.0}


def make_profile(board, model, median_ms, batch=1, status="ok", energy_mj=None):
    run = {"batch": batch, "status": status, "settings_id": "s"}
    if status == "ok":
        run.update(latency_ms=dict(LAT, median=median_ms), runs=10, throughput_ips=1000.0 * batch / median_ms,
                   per_image_ms=median_ms / batch)
        if energy_mj is not None:
            run["power"] = {"energy_per_image_mj": energy_mj}
    else:
        run["message"] = "Failed to allocate"
    return {"schema": "edgeprof/profile/v1", "edgeprof_version": "0.1.0", "created": "x",
            "board": {"model": board, "slug": board}, "model": {"name": model},
            "backend": {"name": "onnxruntime", "precision": "fp32"},
            "protocol": {"warmup_seconds": 0, "warmup_runs": 1, "min_seconds": 1, "min_runs": 1},
            "power": {"status": "unavailable", "reason": "test"}, "runs": [run]}


@pytest.fixture
def two_boards(tmp_path):
    for board, times in (("tx2", {"resnet18": 20.0, "vgg16": 100.0}), ("orin", {"resnet18": 5.0, "vgg16": 40.0})):
        folder = tmp_path / board
        folder.mkdir()
        for model, ms in times.items():
            (folder / (model + ".yaml")).write_text(yaml.safe_dump(make_profile(board, model, ms, energy_mj=ms)))
    return tmp_path


def test_ratios_and_geomean(two_boards):
    table = compare.build(compare.load_profiles([str(two_boards / "tx2"), str(two_boards / "orin")]))
    assert table.columns == ["tx2/onnxruntime/fp32", "orin/onnxruntime/fp32"]
    assert dict(table.rows) == {"resnet18": [20.0, 5.0], "vgg16": [100.0, 40.0]}
    assert table.geomean[1] == pytest.approx((0.25 * 0.4) ** 0.5)


def test_baseline_by_part_of_a_label(two_boards):
    table = compare.build(compare.load_profiles([str(two_boards)]), baseline="orin")
    assert table.columns[table.baseline].startswith("orin")


def test_ambiguous_baseline_is_refused(two_boards):
    with pytest.raises(compare.UsageError, match="matches several"):
        compare.build(compare.load_profiles([str(two_boards)]), baseline="onnxruntime")


def test_oom_runs_are_empty_cells(tmp_path):
    (tmp_path / "a.yaml").write_text(yaml.safe_dump(make_profile("nano", "vgg16", 0, status="oom")))
    table = compare.build(compare.load_profiles([str(tmp_path)]))
    assert table.rows == [("vgg16", [None])]
    assert "-" in compare.render_text(table)


def test_a_gate_on_profiles_without_raw_latencies_cannot_test_them_and_exits_2(cli, two_boards):
    result = cli(["compare", str(two_boards / "orin"), str(two_boards / "tx2"), "--fail-if-slower", "10"])
    assert result.returncode == 2
    assert "cannot test: resnet18 on tx2/onnxruntime/fp32 against orin/onnxruntime/fp32:" in result.stderr
    assert "no raw latencies" in result.stderr and "resnet18.yaml" in result.stderr
    assert "2 cannot test" in result.stderr.splitlines()[-1]


def test_throughput_regression_direction_is_higher_is_better(two_boards):
    table = compare.build(compare.load_profiles([str(two_boards / "orin"), str(two_boards / "tx2")]), "throughput")
    assert [m for m, _, _ in table.regressions(10)] == ["resnet18", "vgg16"]


def test_outputs_json_csv_markdown(cli, two_boards):
    data = json.loads(cli(["compare", str(two_boards), "--json", "--metric", "energy"]).stdout)
    assert data["metric"] == "energy" and data["rows"][0]["values"]
    csv_text = cli(["compare", str(two_boards), "--csv"]).stdout
    assert csv_text.splitlines()[0].startswith("model,")
    md = cli(["compare", str(two_boards), "--markdown"]).stdout
    assert "| **geomean ratio** |" in md


def test_a_folder_without_profiles_is_an_error(cli, tmp_path):
    result = cli(["compare", str(tmp_path)])
    assert result.returncode == 2 and "no profiles" in result.stderr


def test_a_broken_profile_in_the_set_is_named(cli, two_boards):
    bad = make_profile("tx2", "alexnet", 1.0)
    bad["runs"][0]["latency_ms"] = copy.deepcopy(LAT)
    bad["runs"][0]["latency_ms"]["p90"] = "slow"
    (two_boards / "tx2" / "alexnet.yaml").write_text(yaml.safe_dump(bad))
    result = cli(["compare", str(two_boards)])
    assert result.returncode == 2 and "alexnet.yaml" in result.stderr and "p90" in result.stderr


def test_unreadable_yaml_gets_one_line_and_exit_2(cli, tmp_path):
    (tmp_path / "p.yaml").write_text("schema: edgeprof/profile/v1\nruns: [1, 2\n")
    result = cli(["compare", str(tmp_path)])
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "p.yaml is not valid YAML (line 3, column 1)" in result.stderr


def test_an_unknown_schema_version_gets_one_line_and_exit_2(cli, tmp_path):
    data = make_profile("tx2", "resnet18", 1.0)
    data["schema"] = "edgeprof/profile/v7"
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(data))
    result = cli(["compare", str(tmp_path)])
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "'edgeprof/profile/v7' is not supported" in result.stderr and "upgrade edgeprof" in result.stderr


def write(folder, data, name):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(yaml.safe_dump(data))
    return str(folder / name)


def test_each_input_is_its_own_column_even_with_the_same_board_and_settings(tmp_path):
    write(tmp_path / "before" / "tx2", make_profile("tx2", "resnet18", 10.0), "r.yaml")
    write(tmp_path / "after" / "tx2", make_profile("tx2", "resnet18", 16.0), "r.yaml")
    table = compare.build(compare.load_profiles([str(tmp_path / "before"), str(tmp_path / "after")]))
    assert table.columns == ["tx2/onnxruntime/fp32 (%s)" % (tmp_path / "before"),
                             "tx2/onnxruntime/fp32 (%s)" % (tmp_path / "after")]
    assert table.rows == [("resnet18", [10.0, 16.0])]
    assert compare.build(compare.load_profiles([str(tmp_path / "after")] * 2)).columns[1].endswith("#2")


def test_setups_are_keyed_by_device_and_provider_too(tmp_path):
    cpu, cuda = make_profile("orin", "resnet18", 30.0), make_profile("orin", "resnet18", 3.0)
    cpu["backend"].update(device="cpu", options={"ort_provider": "cpu", "threads": 0})
    cuda["backend"].update(device="cuda", options={"ort_provider": "cuda", "threads": 0})
    write(tmp_path / "a" / "orin", cpu, "r.yaml")
    write(tmp_path / "b" / "orin", cuda, "r.yaml")
    table = compare.build(compare.load_profiles([str(tmp_path)]))
    assert table.columns == ["orin/onnxruntime/fp32 [ort_provider=cpu]", "orin/onnxruntime/fp32 [ort_provider=cuda]"]
    assert table.rows == [("resnet18", [30.0, 3.0])]


def test_a_runs_own_settings_decide_its_column_not_the_header(tmp_path):
    data = make_profile("nano", "resnet18", 8.0)
    data["backend"].update(device="cpu", options={"threads": 4})
    data["runs"][0]["settings"] = {"backend": "onnxruntime", "precision": "fp32", "device": "cpu",
                                   "options": {"threads": 1}}
    other = make_profile("nano", "resnet18", 4.0)
    other["backend"].update(device="cpu", options={"threads": 4})
    write(tmp_path / "a" / "nano", data, "r.yaml")
    write(tmp_path / "b" / "nano", other, "r.yaml")
    assert compare.build(compare.load_profiles([str(tmp_path)])).columns == [
        "nano/onnxruntime/fp32 [threads=1]", "nano/onnxruntime/fp32 [threads=4]"]


def test_two_profiles_claiming_one_setup_in_one_input_are_refused_naming_both(cli, tmp_path):
    first = write(tmp_path / "x" / "tx2", make_profile("tx2", "resnet18", 10.0), "r.yaml")
    second = write(tmp_path / "y" / "tx2", make_profile("tx2", "resnet18", 12.0), "r.yaml")
    result = cli(["compare", str(tmp_path)])
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert first in result.stderr and second in result.stderr and "separate inputs" in result.stderr
    assert cli(["compare", str(tmp_path / "x"), str(tmp_path / "y")]).returncode == 0
