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
                                        "ops_vs_power", "accuracy_vs_throughput", "accuracy_vs_energy", "fc_share"}
    for entry in drawn:
        assert [os.path.splitext(p)[1] for p in entry["files"]] == [".png", ".svg"]
        for path in entry["files"]:
            assert (full_report["out"] / path).stat().st_size > 1000


def test_png_files_are_png_images(full_report):
    with open(str(full_report["out"] / "figures" / "accuracy.png"), "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_time_exactly_linear_in_ops_gives_r2_one_and_the_slope(full_report):
    found = _setup(full_report["doc"])["time_vs_ops"]
    for fit in found["batches"]:
        assert fit["r2"] == pytest.approx(1.0)
        assert fit["slope_ms_per_gop"] == pytest.approx(profilegen.SLOPE_MS_PER_GOP)
        assert fit["intercept_ms"] == pytest.approx(profilegen.INTERCEPT_MS)
        assert fit["leave_one_out"]["score"]["mape_pct"] == pytest.approx(0.0, abs=1e-6)
        assert fit["verdict"] == findings.AGREES
    assert [f["batch"] for f in found["batches"]] == [1, 8]
    assert found["verdict"] == findings.AGREES
    # time per image does not change with the batch here: no slope change either way
    assert found["slope_change"]["ratio"] == pytest.approx(1.0)
    assert found["slope_change"]["verdict"].startswith("inconclusive")


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


def test_accuracy_vs_throughput_tests_the_paper_s_shape_against_the_opposite_at_two_batches(full_report):
    found = _setup(full_report["doc"])["accuracy_vs_throughput"]
    assert found["status"] == "ok" and found["n"] == 5
    assert [b["batch"] for b in found["batches"]] == [1, 8]
    first = found["batches"][0]
    assert set(first["shapes"]) == {"paper", "opposite"}
    assert first["frontier"] and all("gops" in p for p in first["points"])
    # 5 models, of which only a few on the frontier: no verdict either way
    assert found["verdict"].startswith("inconclusive")


def test_best_accuracy_per_parameter_is_named(full_report):
    best = full_report["doc"]["density"]
    assert best["best"] == "googlenet"
    assert best["best_pct_per_mparam"] == pytest.approx(69.8 / 6.624904)


def test_fc_share_drop_is_found_at_the_right_batch_but_one_model_is_no_verdict(full_report):
    fc = _setup(full_report["doc"])["fc_share"]
    (alexnet,) = fc["models"]
    assert alexnet["drops_from_batch"] == 2
    assert alexnet["first_share"] == pytest.approx(0.6)
    assert fc["verdict"].startswith("inconclusive") and "at least" in fc["verdict"]


def test_out_of_sample_scores_of_both_predictors_and_the_nested_choice(full_report):
    latency = _setup(full_report["doc"])["prediction"]["per_image_ms"]
    assert [(r["predictor"], r["by"]) for r in latency] == [
        (p, by) for p in ("ops", "split", "nested") for by in ("model", "family")]
    ops_loo = latency[0]
    assert ops_loo["score"]["within_10pct_share"] == 1.0
    assert ops_loo["score"]["spearman_rho"] == pytest.approx(1.0)
    assert ops_loo["score"]["within_10pct_ci"][0] > 0.5
    # the split has 3 coefficients: leaving one of 5 models out leaves 1 degree of freedom, too few
    assert latency[2]["status"] == "absent" and "degrees of freedom" in latency[2]["reason"]


def test_findings_markdown_states_the_fit_the_verdict_and_its_statistic(full_report):
    text = (full_report["out"] / "findings.md").read_text()
    assert "5 ms per G-Op, R^2 = 1" in text
    assert "agrees with the paper" in text
    assert "one-sided permutation p = 0.00833" in text     # 5 models in order: 1/5!
    assert "rule: " in text and "paper: " in text
    assert "| latency per image | operations line" in text


def test_figures_are_captioned_with_the_paper_s_numbers(full_report):
    doc = full_report["doc"]
    assert _figure(doc, "ops_vs_power")["caption"].startswith("Paper Fig. 8.")
    assert _figure(doc, "accuracy_vs_throughput")["paper_figure"] == "9"
    assert _figure(doc, "density")["paper_figure"] == "10"
    assert _figure(doc, "accuracy_vs_energy")["paper_figure"] is None
    html = (full_report["out"] / "index.html").read_text()
    assert "Paper Fig. 7. Operations vs inference time" in html
    assert "Fig. A (not in the paper)" in html


def test_the_page_shows_each_verdict_with_its_statistic(full_report):
    html = (full_report["out"] / "index.html").read_text()
    assert "agrees with the paper. batch 1: Spearman rho(operations, time) = 1.00" in html
    assert "net power (total minus idle)" in html


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
    assert [f["batch"] for f in setup["time_vs_ops"]["batches"]] == [1, 2]
    assert _figure(sparse_report["doc"], "time_vs_batch")["status"] == "ok"


def test_three_models_give_no_out_of_sample_score_and_no_verdict(sparse_report):
    setup = _setup(sparse_report["doc"])
    assert all(r["status"] == "absent" for r in setup["prediction"]["per_image_ms"])
    assert setup["time_vs_ops"]["verdict"].startswith("inconclusive")
    assert "3 models" in setup["time_vs_ops"]["verdict"]


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
    assert "time_vs_ops" in result.stdout and "inconclusive" in result.stdout


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


def test_a_report_of_many_setups_details_the_chosen_ones_and_lists_every_setup(cli, tmp_path):
    for board in ("board-a", "board-b", "board-c"):
        profilegen.write_set(tmp_path / "p", models=profilegen.MODELS[:2], board=board, batches=(1,), power=False)
    out = tmp_path / "r"
    result = cli(["report", str(tmp_path / "p"), "--out", str(out), "--first", "1"])
    assert result.returncode == 0, result.stderr
    assert "Figures and findings for 1 of 3 setups" in result.stdout and "--setup" in result.stdout
    with open(str(out / "findings.json")) as f:
        doc = json.load(f)
    assert [s["setup"]["board"] for s in doc["setups"]] == ["board-a"]
    assert [(r["label"].split(" ")[0], r["detailed"]) for r in doc["overview"]["setups"]] == [
        ("board-a", True), ("board-b", False), ("board-c", False)]
    assert not any("board-b" in name for name in os.listdir(str(out / "figures")))
    page = (out / "index.html").read_text()
    assert page.count("<h2>board-") == 1 and "board-c / onnxruntime (cpu) / fp32" in page
    chosen = cli(["report", str(tmp_path / "p"), "--out", str(tmp_path / "r2"), "--setup", "board-c"])
    with open(str(tmp_path / "r2" / "findings.json")) as f:
        assert [s["setup"]["board"] for s in json.load(f)["setups"]] == ["board-c"]
    assert chosen.returncode == 0


def test_an_unknown_setup_is_a_one_line_error_naming_the_setups(cli, tmp_path):
    profilegen.write_set(tmp_path / "p", models=profilegen.MODELS[:1], board="board-a", batches=(1,), power=False)
    result = cli(["report", str(tmp_path / "p"), "--out", str(tmp_path / "r"), "--setup", "board-z"])
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "'board-z' matches no setup" in result.stderr and "board-a-onnxruntime-fp32" in result.stderr
