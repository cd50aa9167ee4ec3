"""``edgeprof export``: ONNX files, the numeric check, manifest entries, idempotence, bad input.

One export of three small models (resnet18, enet, bn_nin; random weights) is shared by the tests;
nothing is downloaded.
"""
import logging
import os
import shutil

import numpy
import onnx
import onnxruntime
import pytest
import torch

from edgeprof.workstation import export, zoo
from edgeprof.records import manifest
from edgeprof.cli import main
from edgeprof.errors import EdgeprofError

MODELS = ("resnet18", "enet", "bn_nin")


@pytest.fixture(scope="session")
def exported(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("models"))
    assert main(["export", "--models", ",".join(MODELS), "--out", out]) == 0
    return out


@pytest.fixture
def entries(exported):
    data = manifest.load(os.path.join(exported, "manifest.yaml"))
    return dict((e["name"], e) for e in manifest.entries(data))


def _run(capsys, *argv):
    status = main(["export"] + list(argv))
    return status, capsys.readouterr().err


def test_the_manifest_lists_the_exported_models_in_order(exported):
    data = manifest.load(os.path.join(exported, "manifest.yaml"))
    assert [e["name"] for e in manifest.entries(data)] == list(MODELS)
    assert data["edgeprof_version"]


def test_the_onnx_file_has_input_logits_a_dynamic_batch_and_opset_13(exported):
    model = onnx.load(os.path.join(exported, "resnet18.onnx"), load_external_data=False)
    assert [i.name for i in model.graph.input] == ["input"]
    assert [o.name for o in model.graph.output] == ["logits"]
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    assert [imp.version for imp in model.opset_import if imp.domain in ("", "ai.onnx")] == [13]


def test_the_onnx_file_runs_at_another_batch_size(exported):
    session = onnxruntime.InferenceSession(os.path.join(exported, "enet.onnx"),
                                           providers=["CPUExecutionProvider"])
    logits = session.run(["logits"], {"input": numpy.zeros((3, 3, 224, 224), numpy.float32)})[0]
    assert logits.shape == (3, 1000)


def test_resnet18_counts_match_torchvision(entries):
    entry = entries["resnet18"]
    assert entry["params"] == 11689512
    assert entry["macs"] == 1814073344  # torchvision's "GFLOPS" 1.814 are these MACs
    assert entry["input_shape"] == [3, 224, 224] and entry["opset"] == 13


def test_params_are_the_modules_own_and_graph_params_the_folded_graphs(entries):
    # BatchNorm folded into the convolutions: its 2 x 4,800 affine parameters become 4,800 biases.
    entry = entries["resnet18"]
    assert entry["params"] - entry["graph_params"] == 4800


def test_the_random_graph_keeps_distinct_weights(exported):
    # Fresh PReLU slopes are all 0.25: left so, the exporter would share one tensor through
    # Identity nodes. Randomised, every layer keeps its own weights.
    model = onnx.load(os.path.join(exported, "enet.onnx"), load_external_data=False)
    assert "Identity" not in set(node.op_type for node in model.graph.node)
    assert "PRelu" in set(node.op_type for node in model.graph.node)


def test_the_numeric_check_is_recorded_and_within_tolerance(entries):
    for entry in entries.values():
        check = entry["numeric_check"]
        assert 0 <= check["max_abs_diff"] <= check["tolerance"]


def test_accuracy_and_its_source_are_recorded(entries):
    assert entries["resnet18"]["top1"] == 69.758
    assert "ResNet18_Weights" in entries["resnet18"]["accuracy_source"]
    assert (entries["bn_nin"]["top1"], entries["bn_nin"]["top5"]) == (62.62, None)
    assert entries["bn_nin"]["accuracy_source"].startswith("paper Fig. 2")


def test_the_evaluation_preprocessing_is_recorded_with_its_source(entries):
    assert entries["resnet18"]["preprocess"]["source"] == "torchvision ResNet18_Weights.IMAGENET1K_V1 transforms()"
    for name in ("resnet18", "enet"):
        pre = entries[name]["preprocess"]
        assert (pre["resize"], pre["crop"], pre["interpolation"], pre["color"]) == (256, [224, 224], "bilinear", "RGB")
        assert (pre["mean"], pre["std"], pre["scale"]) == ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225], 255)
    assert entries["enet"]["preprocess"]["source"].startswith("ImageNet evaluation standard")


def test_inception_v3_is_preprocessed_at_342_then_299():
    from edgeprof.workstation import preprocessing
    pre = preprocessing.for_zoo(zoo.paper_model("inception_v3"))
    assert (pre["resize"], pre["crop"]) == (342, [299, 299])
    standard = preprocessing.for_zoo(zoo.paper_model("inception_v4"))
    assert (standard["resize"], standard["crop"]) == (342, [299, 299])


def test_the_recorded_sha256_is_the_files(exported, entries):
    for entry in entries.values():
        manifest.verify_file(entry, exported)


def test_an_unchanged_model_is_not_exported_again(exported, caplog):
    path = os.path.join(exported, "resnet18.onnx")
    before = os.stat(path).st_mtime_ns
    with caplog.at_level(logging.INFO, logger="edgeprof"):
        assert main(["export", "--models", "resnet18", "--out", exported]) == 0
    assert os.stat(path).st_mtime_ns == before
    assert "resnet18       unchanged" in caplog.text


def test_force_exports_again_and_random_weights_are_repeatable(exported, caplog):
    before = manifest.find(manifest.load(os.path.join(exported, "manifest.yaml")), "enet")
    with caplog.at_level(logging.INFO, logger="edgeprof"):
        assert main(["export", "--models", "enet", "--out", exported, "--force"]) == 0
    after = manifest.find(manifest.load(os.path.join(exported, "manifest.yaml")), "enet")
    assert "enet           exported" in caplog.text
    assert after["sha256"] == before["sha256"]


def test_a_model_that_differs_from_its_onnx_file_fails_the_numeric_check(exported):
    torch.manual_seed(1)
    other = zoo.build(zoo.paper_model("enet"), "none")
    example = torch.randn(2, 3, 224, 224)
    with pytest.raises(EdgeprofError, match="logits differ by .* the export is wrong"):
        export.numeric_check(other, os.path.join(exported, "enet.onnx"), example)


def test_one_failing_model_does_not_lose_the_others(tmp_path, capsys, monkeypatch):
    build = zoo.build

    def failing_build(model, weights):
        if model.name == "bn_nin":
            raise RuntimeError("simulated failure")
        return build(model, weights)
    monkeypatch.setattr(zoo, "build", failing_build)
    status, err = _run(capsys, "--models", "bn_nin,enet", "--out", str(tmp_path))
    assert status == 2
    assert "1 of 2 models failed (bn_nin)" in err
    data = manifest.load(str(tmp_path / "manifest.yaml"))
    assert [e["name"] for e in manifest.entries(data)] == ["enet"]
    assert not [f for f in os.listdir(str(tmp_path)) if f.endswith(".tmp")]


def test_published_weights_for_a_project_defined_model_fail_with_a_hint(tmp_path, capsys):
    status, err = _run(capsys, "--models", "bn_nin", "--weights", "default", "--out", str(tmp_path))
    assert status == 2
    assert "1 of 1 models failed (bn_nin)" in err


def test_an_unknown_model_name_exits_2_naming_it(tmp_path, capsys):
    status, err = _run(capsys, "--models", "resnet19", "--out", str(tmp_path))
    assert status == 2
    assert "--models: unknown model resnet19" in err
    assert len(err.strip().splitlines()) == 1


def test_a_bad_opset_exits_2_naming_the_flag(tmp_path, capsys):
    status, err = _run(capsys, "--models", "enet", "--opset", "99", "--out", str(tmp_path))
    assert status == 2
    assert "--opset 99 is not supported: use 7 to 20" in err


def test_nothing_to_export_exits_2(capsys):
    status, err = _run(capsys)
    assert status == 2
    assert "nothing to export" in err


def test_a_users_onnx_file_is_added_with_its_static_costs(exported, entries, tmp_path, capsys):
    out = str(tmp_path / "models")
    status, _ = _run(capsys, "--onnx", os.path.join(exported, "enet.onnx"), "--name", "mymodel",
                     "--out", out, "--top1", "68.0")
    assert status == 0
    entry = manifest.find(manifest.load(os.path.join(out, "manifest.yaml")), "mymodel")
    assert entry["weights"] == "user" and entry["family"] == "custom"
    assert entry["sha256"] == entries["enet"]["sha256"]
    assert (entry["macs"], entry["params"]) == (entries["enet"]["macs"], entries["enet"]["graph_params"])
    assert entry["top1"] == 68.0 and "--top1" in entry["accuracy_source"]
    manifest.verify_file(entry, out)


def test_a_users_onnx_file_can_be_linked_instead_of_copied(exported, tmp_path, capsys):
    out = str(tmp_path / "models")
    status, _ = _run(capsys, "--onnx", os.path.join(exported, "enet.onnx"), "--name", "linked",
                     "--out", out, "--link")
    assert status == 0
    assert os.path.islink(os.path.join(out, "linked.onnx"))


def test_an_onnx_file_without_a_name_exits_2(exported, capsys):
    status, err = _run(capsys, "--onnx", os.path.join(exported, "enet.onnx"))
    assert status == 2
    assert "needs --name" in err


def test_a_file_that_is_not_onnx_exits_2(tmp_path, capsys):
    bad = tmp_path / "notes.onnx"
    bad.write_text("these are my notes, not a model\n" * 20)
    status, err = _run(capsys, "--onnx", str(bad), "--name", "notes", "--out", str(tmp_path / "m"))
    assert status == 2
    assert "notes.onnx" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "m" / "manifest.yaml").exists()


def test_a_truncated_onnx_file_exits_2(exported, tmp_path, capsys):
    whole = os.path.join(exported, "enet.onnx")
    cut = tmp_path / "cut.onnx"
    with open(whole, "rb") as f:
        cut.write_bytes(f.read()[: os.path.getsize(whole) // 2])
    status, err = _run(capsys, "--onnx", str(cut), "--name", "cut", "--out", str(tmp_path / "m"))
    assert status == 2
    assert "cut.onnx" in err


def test_a_missing_onnx_file_exits_2(tmp_path, capsys):
    status, err = _run(capsys, "--onnx", str(tmp_path / "nowhere.onnx"), "--name", "x",
                       "--out", str(tmp_path))
    assert status == 2
    assert "no such file" in err


def test_a_bad_model_name_for_an_onnx_file_exits_2(exported, tmp_path, capsys):
    status, err = _run(capsys, "--onnx", os.path.join(exported, "enet.onnx"), "--name", "../evil",
                       "--out", str(tmp_path))
    assert status == 2
    assert "--name '../evil' is not usable" in err


def test_a_changed_file_is_exported_again(exported, tmp_path, caplog):
    out = str(tmp_path / "models")
    shutil.copytree(exported, out)
    with open(os.path.join(out, "enet.onnx"), "ab") as f:
        f.write(b"\0")
    with caplog.at_level(logging.INFO, logger="edgeprof"):
        assert main(["export", "--models", "enet", "--out", out]) == 0
    assert "enet           exported" in caplog.text
    manifest.verify_file(manifest.find(manifest.load(os.path.join(out, "manifest.yaml")), "enet"), out)


def test_a_users_onnx_file_with_a_fixed_batch_exits_2_without_naming_a_flag_export_lacks(tmp_path, capsys):
    graph = onnx.helper.make_graph(
        [onnx.helper.make_node("Relu", ["x"], ["y"])], "g",
        [onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [4, 3, 8, 8])],
        [onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, None)])
    path = str(tmp_path / "fixed.onnx")
    onnx.save(onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 13)]), path)
    status, err = _run(capsys, "--onnx", path, "--name", "fixed", "--out", str(tmp_path / "m"))
    assert status == 2
    assert "fixed batch" in err and "dynamic batch axis" in err and "--batch" not in err


def test_the_numeric_check_records_the_batch_it_ran(tmp_path):
    torch.manual_seed(0)
    module = torch.nn.Linear(5, 3).eval()
    path = str(tmp_path / "linear.onnx")
    export.to_onnx(module, torch.randn(2, 5), path, export.DEFAULT_OPSET)
    assert export.numeric_check(module, path, torch.randn(3, 5))["batch"] == 3
