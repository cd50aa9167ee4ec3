"""ONNX Runtime ``--layers``: per-node times from ORT's profiler after the timed window, fc_share, op shares,
and the graph's own precision (fp32, fp16 with fp32 IO, QDQ int8), on graphs built here with numpy only
(no onnx package: this suite also runs on Python 3.6 with onnxruntime 1.10)."""
import glob
import os
import tempfile

import numpy as np
import pytest
import yaml

from onnx_build import _bytes, _int, _ints_attribute, _node, _value_info
from conftest import TINY_ONNX

ort = pytest.importorskip("onnxruntime", reason="the per-layer profile needs onnxruntime")

from edgeprof.agent.backends import onnxruntime as ort_backend  # noqa: E402
from edgeprof.agent.backends import ort_graph, ort_layers  # noqa: E402
from edgeprof.errors import UsageError  # noqa: E402

# onnx/onnx.proto TensorProto.DataType and AttributeProto.AttributeType values
FLOAT, UINT8, INT8, FLOAT16 = 1, 2, 3, 10
ATTR_INT = 2
FAST = ["--min-seconds", "0.05", "--min-runs", "3", "--warmup-seconds", "0", "--warmup-runs", "1",
        "--idle-seconds", "0", "--power", "none"]


def _tensor(name, array, data_type):
    array = np.ascontiguousarray(array)
    dims = b"".join(_int(1, d) for d in array.shape)
    return dims + _int(2, data_type) + _bytes(8, name) + _bytes(9, array.tobytes())


def _int_attribute(name, value):
    return _bytes(1, name) + _int(3, value) + _int(20, ATTR_INT)


def _write(path, nodes, initializers, inputs, outputs):
    graph = b"".join(_bytes(1, n) for n in nodes) + _bytes(2, "test_graph")
    graph += b"".join(_bytes(5, t) for t in initializers)
    graph += b"".join(_bytes(11, _value_info(name, dims)) for name, dims in inputs)
    graph += b"".join(_bytes(12, _value_info(name, dims)) for name, dims in outputs)
    model = _int(1, 7) + _bytes(2, "edgeprof-tests") + _bytes(7, graph) + _bytes(8, _bytes(1, "") + _int(2, 13))
    with open(str(path), "wb") as f:
        f.write(model)
    return str(path)


def fc_graph(path, fp16=False):
    """Conv, Flatten, MatMul by a weight + Add (``fc1``), a MatMul of two activations (``attention``) and a
    Gemm (``fc2``); fp16 weights and compute with fp32 IO (Casts at both ends) when ``fp16``."""
    rng = np.random.RandomState(0)
    dtype, code = (np.float16, FLOAT16) if fp16 else (np.float32, FLOAT)
    weights = {"cw": (8, 4, 3, 3), "mw": (512, 64), "mb": (64,), "gw": (10, 64), "gb": (10,)}
    inits = [_tensor(name, (rng.standard_normal(shape) * 0.05).astype(dtype), code) for name, shape in weights.items()]
    x, out, scores = ("x16", "out16", "scores16") if fp16 else ("input", "output", "scores")
    nodes = [_node("Cast", ["input"], ["x16"], "cast_in", [_int_attribute("to", FLOAT16)])] if fp16 else []
    nodes += [
        _node("Conv", [x, "cw"], ["c"], "conv", [_ints_attribute("pads", [1, 1, 1, 1])]),
        _node("Relu", ["c"], ["r0"], "relu0"),
        _node("Flatten", ["r0"], ["f"], "flatten", [_int_attribute("axis", 1)]),
        _node("MatMul", ["f", "mw"], ["m"], "fc1"),
        _node("Add", ["m", "mb"], ["a"], "fc1_bias"),
        _node("Relu", ["a"], ["r1"], "relu1"),
        _node("Transpose", ["r1"], ["rt"], "transpose"),
        _node("MatMul", ["r1", "rt"], [scores], "attention"),
        _node("Gemm", ["r1", "gw", "gb"], [out], "fc2", [_int_attribute("transB", 1)]),
    ]
    if fp16:
        nodes += [_node("Cast", ["out16"], ["output"], "cast_out", [_int_attribute("to", FLOAT)]),
                  _node("Cast", ["scores16"], ["scores"], "cast_scores", [_int_attribute("to", FLOAT)])]
    return _write(path, nodes, inits, [("input", ["batch", 4, 8, 8])],
                  [("output", ["batch", 10]), ("scores", ["batch", "batch"])])


def qdq_graph(path):
    """A QDQ int8 MatMul by a weight (as onnxruntime.quantization's QuantFormat.QDQ writes it)."""
    rng = np.random.RandomState(1)
    inits = [_tensor("xs", np.array(0.02, np.float32), FLOAT), _tensor("xzp", np.array(128, np.uint8), UINT8),
             _tensor("wq", rng.randint(-127, 128, (64, 16)).astype(np.int8), INT8),
             _tensor("ws", np.array(0.01, np.float32), FLOAT), _tensor("wzp", np.array(0, np.int8), INT8),
             _tensor("ys", np.array(0.05, np.float32), FLOAT), _tensor("yzp", np.array(128, np.uint8), UINT8)]
    nodes = [_node("QuantizeLinear", ["input", "xs", "xzp"], ["xq"], "input_q"),
             _node("DequantizeLinear", ["xq", "xs", "xzp"], ["xd"], "input_dq"),
             _node("DequantizeLinear", ["wq", "ws", "wzp"], ["wd"], "w_dq"),
             _node("MatMul", ["xd", "wd"], ["m"], "fc"),
             _node("QuantizeLinear", ["m", "ys", "yzp"], ["mq"], "fc_q"),
             _node("DequantizeLinear", ["mq", "ys", "yzp"], ["output"], "fc_dq")]
    return _write(path, nodes, inits, [("input", ["batch", 64])], [("output", ["batch", 16])])


def describe(model, precision="fp32", layers=True, batch=2, runs=3):
    with ort_backend.OnnxRuntimeBackend().open(model, batch, precision, {"layers": layers}) as session:
        for _ in range(runs):
            session.run()
        return session.describe()


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    """cwd and the temp folder in ``tmp_path``: ORT writes its profile to cwd unless told otherwise."""
    monkeypatch.chdir(str(tmp_path))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return tmp_path


def test_layers_give_fc_share_op_shares_and_the_slowest_nodes(in_tmp):
    facts = describe(fc_graph(in_tmp / "fc.onnx"))
    rows = {row["name"]: row for row in facts["layer_times_ms"]}
    fc = {row["name"] for row in facts["layer_times_ms"] if row["fc"]}
    # ORT fuses fc1 (MatMul + Add) into a Gemm-type kernel; its name starts with or is replaced by a fused one
    assert any(rows[name]["type"] in ("Gemm", "FusedGemm") for name in fc if name != "fc2")
    assert rows["fc2"]["fc"] and rows["fc2"]["type"] == "Gemm"
    assert not any(row["fc"] for row in rows.values() if row["type"] in ("Conv", "FusedMatMul"))
    assert 0 < facts["fc_share"] < 1
    assert sum(facts["op_time_shares"].values()) == pytest.approx(1.0, abs=0.01)
    assert facts["fc_rule"] == ort_layers.FC_RULE
    assert facts["layer_profile_runs"] == ort_layers.PROFILE_RUNS
    assert facts["layer_count"] >= len(rows) and facts["layer_total_ms"] > 0
    assert facts["layers_overhead"] > 0 and facts["layers_profiled_ms"] > 0


def test_the_profile_files_are_deleted(in_tmp):
    model = fc_graph(in_tmp / "fc.onnx")
    describe(model)
    assert sorted(os.listdir(str(in_tmp))) == ["fc.onnx"]


def test_a_matmul_of_two_activations_is_not_fc_but_one_by_a_weight_is(in_tmp):
    nodes = [("fc1", "MatMul", "CPUExecutionProvider", 0, 1.0), ("attention", "MatMul", "CPUExecutionProvider", 0, 3.0),
             ("fc2", "Gemm", "CPUExecutionProvider", 0, 1.0)]
    report = ort_layers.layer_report(nodes, {"fc1"})
    assert [row["fc"] for row in sorted(report["layer_times_ms"], key=lambda r: r["name"])] == [False, True, True]
    assert report["fc_share"] == pytest.approx(0.4)
    assert report["op_time_shares"] == {"MatMul": 0.8, "Gemm": 0.2}


@pytest.mark.parametrize("name, op, params, fc", [
    ("fused /fc/MatMul/MatMulAddFusion", "FusedGemm", 0, True),   # ORT 1.32's name for MatMul + Add
    ("/fc/MatMul_token_3", "QLinearMatMul", 30, True),            # a QDQ MatMul: its name, maybe a token suffix
    ("/fc/MatMul/MatmulTransposeFusion/", "FusedMatMul", 0, True),
    ("/fc/MatMul_1", "MatMul", 0, False),                         # another MatMul: not the weighted one
    ("/attn/MatMul", "QLinearMatMul", 15, False),                 # its scales are constants, not a weight
    ("MatMul_With_Transpose", "FusedMatMul", 0, False),           # ORT 1.10's name: no weight seen
    ("x", "MatMul", 4096, True),                                  # a weight ORT did not prepack
    ("/conv/Conv", "FusedConv", 4096, False),
])
def test_the_fc_rule(name, op, params, fc):
    assert ort_layers.is_fc(name, op, params, {"/fc/MatMul"}) is fc


def test_only_the_last_runs_of_the_trace_are_kept():
    def run(ts, node_dur):
        return [{"cat": "Session", "name": "model_run", "ts": ts, "dur": 100},
                {"cat": "Node", "name": "fc_fence_before", "ts": ts + 1, "dur": 0, "args": {"op_name": "Gemm"}},
                {"cat": "Node", "name": "fc_kernel_time", "ts": ts + 2, "dur": node_dur,
                 "args": {"op_name": "Gemm", "provider": "CPUExecutionProvider", "parameter_size": "40"}}]
    events = [{"cat": "Session", "name": "session_initialization", "ts": 0, "dur": 50}]
    events += run(100, 900) + run(300, 20) + run(500, 40)  # the first is a warm-up
    assert ort_layers.node_times(events, 2) == [("fc", "Gemm", "CPUExecutionProvider", 40, 0.03)]
    with pytest.raises(ValueError):
        ort_layers.node_times(events, 4)


def test_no_profile_without_layers_and_none_before_describe(in_tmp, monkeypatch):
    calls = []
    real = ort_layers.profile
    monkeypatch.setattr(ort_layers, "profile", lambda *a, **k: calls.append(1) or real(*a, **k))
    model = fc_graph(in_tmp / "fc.onnx")
    assert "fc_share" not in describe(model, layers=False) and not calls
    with ort_backend.OnnxRuntimeBackend().open(model, 2, "fp32", {"layers": True}) as session:
        for _ in range(5):
            session.run()
        assert not calls  # the timed runs never profile
        first = session.describe()
        assert session.describe()["fc_share"] == first["fc_share"] and len(calls) == 1


def test_a_failed_profile_is_recorded_and_the_runs_stand(in_tmp, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("profiler exploded")
    monkeypatch.setattr(ort_layers, "profile", broken)
    facts = describe(fc_graph(in_tmp / "fc.onnx"))
    assert facts["layer_times_ms"] is None and "profiler exploded" in facts["layer_times_error"]


def test_an_fp16_graph_with_fp32_io_runs_and_is_recorded_as_fp16(in_tmp):
    facts = describe(fc_graph(in_tmp / "fc16.onnx", fp16=True), precision="fp16")
    assert facts["graph_precision"] == "fp16" and facts["warnings"] == []
    assert facts["input_dtypes"] == {"input": "float32"}
    assert 0 < facts["fc_share"] < 1


def test_a_qdq_int8_graph_runs_is_recorded_as_int8_and_its_weighted_matmul_is_fc(in_tmp):
    facts = describe(qdq_graph(in_tmp / "q.onnx"), precision="int8")
    assert facts["graph_precision"] == "int8" and facts["warnings"] == []
    fc = [row for row in facts["layer_times_ms"] if row["fc"]]
    assert [row["name"] for row in fc] == ["fc"] and fc[0]["type"] in ("QLinearMatMul", "MatMulIntegerToFloat", "MatMul")
    assert facts["fc_share"] > 0


def test_a_precision_the_file_does_not_hold_is_a_warning(in_tmp):
    facts = describe(qdq_graph(in_tmp / "q.onnx"), precision="fp16", layers=False)
    assert facts["graph_precision"] == "int8"
    assert facts["warnings"] == ["--precision fp16, but %s holds an int8 graph: the runs measure int8"
                                 % (in_tmp / "q.onnx")]


def test_the_graph_reader_finds_weighted_matmuls_and_precision(tmp_path):
    graph = ort_graph.read_graph(fc_graph(tmp_path / "fc.onnx"))
    assert graph.weighted_matmuls() == {"fc1"} and graph.precision() == "fp32"
    assert ort_graph.read_graph(qdq_graph(tmp_path / "q.onnx")).weighted_matmuls() == {"fc"}
    assert ort_graph.read_graph(TINY_ONNX).precision() == "fp32"


@pytest.mark.parametrize("content", [b"", b"\x0f\x01garbage", b"\x3a\xff\x01"])
def test_an_unreadable_graph_is_a_value_error(tmp_path, content):
    path = tmp_path / "bad.onnx"
    path.write_bytes(content)
    with pytest.raises(ValueError):
        ort_graph.read_graph(str(path))


def test_onnxruntime_measures_fp32_fp16_int8_and_refuses_others_in_one_line():
    backend = ort_backend.OnnxRuntimeBackend
    for precision in ("fp32", "fp16", "int8"):
        backend.check_precision(precision)
    with pytest.raises(UsageError) as caught:
        backend.check_precision("bf16")
    assert "\n" not in str(caught.value) and "fp32, fp16, int8" in str(caught.value)


def test_sweep_layers_records_fc_share_per_run_and_leaves_no_profile_file(cli, tmp_path, empty_root):
    out = tmp_path / "out"
    env = {"TMPDIR": str(tmp_path)}
    result = cli(["sweep", "--models", TINY_ONNX, "--out", str(out), "--board-name", "testboard",
                  "--backend", "onnxruntime", "--batch", "1,2", "--layers"] + FAST, env=env)
    assert result.returncode == 0, result.stderr
    (name,) = glob.glob(str(out / "testboard" / "*.yaml"))
    with open(name) as f:
        data = yaml.safe_load(f)
    assert data["backend"]["options"]["layers"] is True
    for run in data["runs"]:
        backend = run["backend"]
        assert 0 < backend["fc_share"] < 1 and backend["op_time_shares"]["Gemm"] > 0
        assert [row["fc"] for row in backend["layer_times_ms"] if row["type"] == "Gemm"] == [True]
    assert not glob.glob(str(tmp_path / "edgeprof-ort-profile-*"))
    assert not glob.glob(os.path.join(os.getcwd(), "onnxruntime_profile_*.json"))


def test_without_layers_the_recorded_options_are_as_before():
    class Args(object):
        ort_provider, threads, layers = "cpu", 0, False
    assert ort_backend.OnnxRuntimeBackend.options(Args()) == ({"ort_provider": "cpu", "threads": 0}, {})
    Args.layers = True
    assert ort_backend.OnnxRuntimeBackend.options(Args())[0]["layers"] is True
