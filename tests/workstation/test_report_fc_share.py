"""The FC-share finding and figure drawn from a real CPU sweep with ``--layers`` (ONNX Runtime's profiler)."""
import hashlib
import json

import numpy as np
import pytest
import yaml

onnx = pytest.importorskip("onnx")
pytest.importorskip("matplotlib")
pytest.importorskip("onnxruntime")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from edgeprof.reading import report  # noqa: E402
from edgeprof.reading.report import data, findings  # noqa: E402

FAST = ["--min-seconds", "0.05", "--min-runs", "3", "--warmup-seconds", "0", "--warmup-runs", "1",
        "--idle-seconds", "0", "--power", "none"]


def fc_model(path, bias_by_add, hidden, seed):
    """An AlexNet-like graph with random weights: a conv, then two FC layers, the first a Gemm or, as
    exporters write a Linear at some opsets, a MatMul by a weight then an Add."""
    rng = np.random.RandomState(seed)

    def weight(name, *shape):
        return numpy_helper.from_array((rng.standard_normal(shape) * 0.05).astype(np.float32), name)

    first = ([helper.make_node("MatMul", ["f", "w1"], ["m1"], name="fc1"),
              helper.make_node("Add", ["m1", "b1"], ["h1"], name="fc1_bias")] if bias_by_add else
             [helper.make_node("Gemm", ["f", "w1", "b1"], ["h1"], name="fc1")])
    nodes = [helper.make_node("Conv", ["input", "cw"], ["c"], name="conv", pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["r"], name="relu"),
             helper.make_node("Flatten", ["r"], ["f"], name="flatten", axis=1)] + first + [
             helper.make_node("Relu", ["h1"], ["r1"], name="relu1"),
             helper.make_node("Gemm", ["r1", "w2", "b2"], ["output"], name="fc2", transB=1)]
    inits = [weight("cw", 8, 3, 3, 3), weight("w1", 8 * 16 * 16, hidden), weight("b1", hidden),
             weight("w2", 10, hidden), weight("b2", 10)]
    graph = helper.make_graph(nodes, "fc", [helper.make_tensor_value_info("input", TensorProto.FLOAT,
                                                                          ["batch", 3, 16, 16])],
                              [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", 10])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 7
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    with open(str(path), "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    from conftest import run_cli
    root = tmp_path_factory.mktemp("fc")
    models = root / "models"
    models.mkdir()
    entries = []
    for name, by_add, hidden, seed in (("alexnet_like", False, 512, 0), ("vgg_like", True, 256, 1)):
        sha = fc_model(models / (name + ".onnx"), by_add, hidden, seed)
        entries.append({"name": name, "family": name, "file": name + ".onnx", "sha256": sha,
                        "input_shape": [3, 16, 16], "opset": 13, "params": 1, "macs": 1, "paper_ops": 2,
                        "weight_bytes": 4, "top1": 50.0, "weights": "none", "accuracy_source": "made up for the test"})
    (models / "manifest.yaml").write_text(yaml.safe_dump({"schema": "edgeprof/manifest/v1",
                                                          "edgeprof_version": "0.1.0", "models": entries}))
    out = root / "profiles"
    env = {"EDGEPROF_ROOT": str(root), "TMPDIR": str(root)}
    result = run_cli(["sweep", "--models", str(models), "--out", str(out), "--board-name", "cpu",
                      "--backend", "onnxruntime", "--batch", "1,8", "--layers"] + FAST, env=env)
    assert result.returncode == 0, result.stderr
    return out


def test_every_run_of_the_sweep_has_an_fc_share(swept):
    dataset = data.load([str(swept)])
    rows = list(dataset.rows_of(dataset.setups[0]))
    assert len(rows) == 4
    assert all(0 < row["fc_share"] < 1 for row in rows)


def test_the_fc_share_finding_is_drawn_from_the_per_layer_times(swept):
    dataset = data.load([str(swept)])
    found = findings.fc_share(dataset, dataset.setups[0])
    assert found["status"] == "ok" and found["per_layer"]["status"] == "ok"
    assert sorted(m["model"] for m in found["per_layer"]["models"]) == ["alexnet_like", "vgg_like"]
    assert all(set(m["shares"]) == {1, 8} for m in found["per_layer"]["models"])


def test_the_report_draws_the_fc_share_figure(swept, tmp_path):
    report.build([str(swept)], str(tmp_path / "report"))
    with open(str(tmp_path / "report" / "findings.json")) as f:
        doc = json.load(f)
    (figure,) = [f for f in doc["figures"] if f["id"] == "fc_share"]
    assert figure["status"] == "ok", figure.get("reason")
    assert doc["setups"][0]["fc_share"]["status"] == "ok"
