"""edgeprof report: figures, findings and the page, from synthetic profiles whose fits are known."""
import json
import os
import sys

import pytest

pytest.importorskip("matplotlib")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import profilegen

from edgeprof.reading import report
from edgeprof.reading.report import data, findings

FC_SHARES = {1: 0.6, 2: 0.5, 4: 0.35, 8: 0.2}


@pytest.fixture(scope="module")
def full_report(tmp_path_factory):
    """Five models, power, per-layer FC shares on one model; one report for all the tests below."""
    root = tmp_path_factory.mktemp("full")
    profiles = profilegen.write_set(root / "profiles", models=profilegen.MODELS[1:])
    profilegen.write_set(root / "profiles", models=profilegen.MODELS[:1], fc_shares=FC_SHARES)
    out = root / "report"
    index = report.build([profiles], str(out))
    with open(str(out / "findings.json")) as f:
        doc = json.load(f)
    return {"index": index, "out": out, "doc": doc}


@pytest.fixture(scope="module")
def sparse_report(tmp_path_factory):
    """Three models, no power sensor, vgg16 out of memory from batch 4, and a second board."""
    root = tmp_path_factory.mktemp("sparse")
    models = (profilegen.MODELS[0], profilegen.MODELS[2], profilegen.MODELS[4])
    profiles = profilegen.write_set(root / "profiles", models=models[:2], power=False)
    profilegen.write_set(root / "profiles", models=models[2:], power=False, oom_from=4)
    out = root / "report"
    index = report.build([profiles], str(out))
    with open(str(out / "findings.json")) as f:
        doc = json.load(f)
    return {"index": index, "out": out, "doc": doc}


def _setup(doc):
    return doc["setups"][0]


def _figure(doc, fig_id):
    return next(f for f in doc["figures"] if f["id"] == fig_id)


def test_report_writes_index_findings_and_figure_folder(full_report):
    out = full_report["out"]
    assert full_report["index"] == str(out / "index.html")
    for name in ("index.html", "findings.md", "findings.json"):
        assert (out / name).stat().st_size > 0


def test_every_figure_with_data_is_written_as_non_empty_png_and_svg(full_report):
    drawn = [f for f in full_report["doc"]["figures"] if f["status"] == "ok"]
    assert {f["id"] for f in drawn} == {"accuracy", "accuracy_vs_ops", "density", "time_vs_batch",
                                        "power_vs_batch", "memory_vs_batch", "memory_vs_params", "ops_vs_time",
                                        "accuracy_vs_throughput", "accuracy_vs_energy", "fc_share"}
    for entry in drawn:
        assert [os.path.splitext(p)[1] for p in entry["files"]] == [".png", ".svg"]
        for path in entry["files"]:
            assert (full_report["out"] / path).stat().st_size > 1000


def test_png_files_are_png_images(full_report):
    with open(str(full_report["out"] / "figures" / "accuracy.png"), "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_time_exactly_linear_in_ops_gives_r2_one_and_the_slope(full_report):
    for fit in _setup(full_report["doc"])["time_vs_ops"]:
        assert fit["r2"] == pytest.approx(1.0)
        assert fit["slope_ms_per_gop"] == pytest.approx(profilegen.SLOPE_MS_PER_GOP)
        assert fit["intercept_ms"] == pytest.approx(profilegen.INTERCEPT_MS)
        assert fit["verdict"] == findings.AGREES
    assert [f["batch"] for f in _setup(full_report["doc"])["time_vs_ops"]] == [1, 8]


def test_flat_power_gives_zero_spread_and_agrees(full_report):
    power = _setup(full_report["doc"])["power"]
    assert power["mean_w"] == pytest.approx(profilegen.POWER_W)
    assert power["std_w"] == pytest.approx(0.0)
    assert power["idle_mean_w"] == pytest.approx(profilegen.IDLE_W)
    assert power["verdict"] == findings.AGREES


def test_memory_fit_recovers_offset_and_bytes_per_parameter(full_report):
    memory = _setup(full_report["doc"])["memory_vs_params"]
    mib_per_mparam = profilegen.RSS_BYTES_PER_PARAM * 1e6 / (1024.0 * 1024.0)
    assert memory["slope_mib_per_mparam"] == pytest.approx(mib_per_mparam)
    assert memory["intercept_mib"] == pytest.approx(profilegen.RSS_OFFSET_BYTES / 1024.0 ** 2 + 1)
    assert memory["r2"] == pytest.approx(1.0)


def test_hyperbola_of_accuracy_vs_throughput_is_reported(full_report):
    curve = _setup(full_report["doc"])["accuracy_vs_throughput"]
    assert curve["status"] == "ok"
    assert curve["n"] == 5
    assert set(curve) >= {"a_pct", "b_pct_ips", "r2", "spearman_rho", "verdict"}


def test_best_accuracy_per_parameter_is_named(full_report):
    best = full_report["doc"]["density"]
    assert best["best"] == "googlenet"
    assert best["best_pct_per_mparam"] == pytest.approx(69.8 / 6.624904)


def test_fc_share_drop_is_found_at_the_right_batch(full_report):
    fc = _setup(full_report["doc"])["fc_share"]
    (alexnet,) = fc["models"]
    assert alexnet["drops_from_batch"] == 2
    assert alexnet["first_share"] == pytest.approx(0.6)
    assert fc["verdict"] == findings.AGREES


def test_leave_one_out_scores_both_predictors_side_by_side(full_report):
    latency = _setup(full_report["doc"])["prediction"]["per_image_ms"]
    assert [r["predictor"] for r in latency] == ["ops", "split"]
    for result in latency:
        assert result["score"]["within_10pct_share"] == 1.0
        assert result["score"]["spearman_rho"] == pytest.approx(1.0)


def test_findings_markdown_states_the_fit_and_the_verdict(full_report):
    text = (full_report["out"] / "findings.md").read_text()
    assert "5 ms per G-Op, R^2 = 1" in text
    assert "agrees with the paper" in text
    assert "| latency per image | operations line" in text


def test_page_links_every_drawn_figure_relatively(full_report):
    html = (full_report["out"] / "index.html").read_text()
    for entry in full_report["doc"]["figures"]:
        if entry["status"] == "ok":
            assert f'src="{entry["files"][0]}"' in html
    assert "file://" not in html


def test_a_single_setup_marks_the_across_figure_absent_with_the_reason(full_report):
    entry = _figure(full_report["doc"], "across")
    assert entry["status"] == "absent"
    assert "one setup only" in entry["reason"]


def test_profiles_without_power_mark_power_parts_absent_with_the_sensor_reason(sparse_report):
    setup = _setup(sparse_report["doc"])
    assert setup["power"]["status"] == "absent"
    assert "no power measured" in setup["power"]["reason"]
    assert setup["setup"]["power_reason"] == "no power sensor found (synthetic)"
    for fig_id in ("power_vs_batch", "accuracy_vs_energy"):
        assert _figure(sparse_report["doc"], fig_id)["status"] == "absent"
    assert "not drawn" in (sparse_report["out"] / "index.html").read_text()


def test_oom_runs_are_counted_and_fits_use_the_batches_every_model_ran(sparse_report):
    setup = _setup(sparse_report["doc"])
    assert setup["runs"]["oom"] == 2
    assert setup["common_batches"] == [1, 2]
    assert [f["batch"] for f in setup["time_vs_ops"]] == [1, 2]
    assert _figure(sparse_report["doc"], "time_vs_batch")["status"] == "ok"


def test_three_models_give_a_plain_leave_one_out_but_no_split(sparse_report):
    latency = _setup(sparse_report["doc"])["prediction"]["per_image_ms"]
    assert latency[0]["status"] == "ok"
    assert latency[1]["status"] == "absent"


def test_two_boards_give_the_across_figure_with_speedups(tmp_path):
    profilegen.write_set(tmp_path / "p", models=profilegen.MODELS[:2], board="board-a")
    profilegen.write_set(tmp_path / "p", models=profilegen.MODELS[:2], board="board-b")
    dataset = data.load([str(tmp_path / "p")])
    across = findings.across(dataset)
    assert across["status"] == "ok"
    assert across["setups"][0]["geomean_speedup"] == pytest.approx(1.0)


def test_static_fields_missing_in_profiles_are_filled_from_the_manifest(tmp_path):
    profilegen.write_set(tmp_path / "p", models=profilegen.MODELS[:1], top1=False)
    manifest = tmp_path / "manifest.yaml"
    manifest.write_text("schema: edgeprof/manifest/v1\nedgeprof_version: 0.1.0\nmodels:\n"
                        "- {name: alexnet, file: alexnet.onnx, sha256: abc, input_shape: [3, 224, 224], "
                        "weights: none, top1: 56.5}\n")
    dataset = data.load([str(tmp_path / "p")], manifest_path=str(manifest))
    assert dataset.models["alexnet"]["top1"] == 56.5


def test_fc_share_is_read_where_the_tensorrt_backend_records_it():
    run = {"batch": 1, "status": "ok", "backend": {"fc_share": 0.42, "layer_times_ms": []}}
    assert data.fc_share_of(run) == 0.42
    assert data.fc_share_of({"batch": 1, "status": "ok"}) is None


def test_a_profile_without_a_family_gets_the_zoo_s_family_or_the_name_s_stem():
    # one family_of for export and report: a model is grouped alike with or without its manifest
    assert data.family_of("resnet18") == "ResNet"
    assert data.family_of("inception_v3") == "Inception"
    assert data.family_of("wide_resnet50_2") == "WideResNet"
    assert data.family_of("mynet_v2") == "mynet"
    assert data.family_of("tiny") == "tiny"


def test_cli_report_prints_the_path_of_index_html(cli, tmp_path):
    profiles = profilegen.write_set(tmp_path / "p", models=profilegen.MODELS[:1], power=False)
    result = cli(["report", profiles, "--out", str(tmp_path / "r")])
    assert result.returncode == 0, result.stderr
    assert str(tmp_path / "r" / "index.html") in result.stdout


def test_cli_report_of_an_empty_folder_is_a_one_line_error(cli, tmp_path):
    result = cli(["report", str(tmp_path), "--out", str(tmp_path / "r")])
    assert result.returncode == 2
    assert "no profile files" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_fc_shares_at_one_batch_size_only_give_no_verdict(tmp_path):
    # one batch size cannot show a drop: the finding must not claim a contradiction
    profilegen.write_set(tmp_path / "p", models=profilegen.MODELS[:3], batches=(1,), fc_shares={1: 0.6})
    dataset = data.load([str(tmp_path / "p")])
    fc = findings.fc_share(dataset, dataset.setups[0])
    assert fc["verdict"] not in (findings.AGREES, findings.CONTRADICTS)
    assert "two or more batch sizes" in fc["verdict"]


def test_two_setups_without_a_common_model_at_batch_1_give_no_across_figure(tmp_path):
    profilegen.write_set(tmp_path / "p", models=profilegen.MODELS[:2], board="board-a", batches=(2, 4))
    profilegen.write_set(tmp_path / "p", models=profilegen.MODELS[:2], board="board-b", batches=(2, 4))
    across = findings.across(data.load([str(tmp_path / "p")]))
    assert across["status"] == "absent"
    assert "batch 1" in across["reason"]
