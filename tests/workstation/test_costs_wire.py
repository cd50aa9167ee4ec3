"""edgeprof.costs.wire: the model read without its weights' values is the model, less those values,
and the counts it gives are those of reading the whole file with onnx.load.
"""
import json
import os
import subprocess
import sys

import pytest

from conftest import check_analysis_tool
from edgeprof import costs
from edgeprof.costs import graph, wire
from edgeprof.errors import InputFileError

onnx = pytest.importorskip("onnx")
numpy = pytest.importorskip("numpy")
helper, numpy_helper, TensorProto = onnx.helper, onnx.numpy_helper, onnx.TensorProto

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SLOW = pytest.mark.skipif(not os.environ.get("EDGEPROF_SLOW"), reason="exports big models; set EDGEPROF_SLOW=1")
LIMIT = 4096


def _model(tmp_path, weight, shape_constant, name="m.onnx"):
    """x -> MatMul(weight) -> Reshape(shape constant), with the weight as given."""
    nodes = [helper.make_node("MatMul", ["x", weight.name], ["h"]),
             helper.make_node("Reshape", ["h", shape_constant.name], ["y"])]
    graph_proto = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", weight.dims[0]])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], initializer=[weight, shape_constant],
        doc_string="kept as it is")
    model = helper.make_model(graph_proto, opset_imports=[helper.make_opsetid("", 13)], producer_name="test")
    path = str(tmp_path / name)
    onnx.save(model, path)
    return path, model


def _shape(values):
    return numpy_helper.from_array(numpy.array(values, dtype=numpy.int64), "shape")


def _light(path):
    return wire.load_light(path, LIMIT, graph._DTYPE_BITS)


def test_a_large_weight_keeps_name_dims_and_type_but_not_its_values(tmp_path):
    weight = numpy_helper.from_array(numpy.ones((64, 32), dtype=numpy.float32), "w")
    path, model = _model(tmp_path, weight, _shape([0, -1]))
    light = _light(path)
    tensor = light.graph.initializer[0]
    assert (tensor.name, list(tensor.dims), tensor.data_type) == ("w", [64, 32], TensorProto.FLOAT)
    assert tensor.raw_data == b"" and not tensor.float_data


def test_everything_but_the_large_values_is_read_as_onnx_reads_it(tmp_path):
    weight = numpy_helper.from_array(numpy.ones((64, 32), dtype=numpy.float32), "w")
    path, model = _model(tmp_path, weight, _shape([0, -1]))
    light = _light(path)
    full = onnx.load(path)
    full.graph.initializer[0].ClearField("raw_data")
    assert light == full


def test_small_initializers_keep_their_values_for_folding(tmp_path):
    weight = numpy_helper.from_array(numpy.ones((4, 2), dtype=numpy.float32), "w")
    path, _ = _model(tmp_path, weight, _shape([0, -1]))
    light = _light(path)
    assert numpy_helper.to_array(light.graph.initializer[1]).tolist() == [0, -1]
    assert numpy_helper.to_array(light.graph.initializer[0]).shape == (4, 2)


def test_values_stored_as_float_data_instead_of_raw_bytes_are_left_out_too(tmp_path):
    weight = helper.make_tensor("w", TensorProto.FLOAT, [64, 32], [0.5] * (64 * 32))  # float_data, packed
    path, _ = _model(tmp_path, weight, _shape([0, -1]))
    tensor = _light(path).graph.initializer[0]
    assert list(tensor.dims) == [64, 32] and not tensor.float_data


def test_dims_written_unpacked_are_read_as_well():
    raw = numpy.zeros(2048, dtype="<f4").tobytes()
    # dims as two separate varint fields (proto2 style, as tests/agent/onnx_build.py writes them)
    tensor = (b"\x08\x20" + b"\x08\x40" + b"\x10\x01" + b"\x42\x01w" + b"\x4a" + wire.encode_varint(len(raw)) + raw)
    model = wire.length_field(wire.MODEL_GRAPH, wire.length_field(wire.GRAPH_INITIALIZER, tensor))
    light = onnx.ModelProto.FromString(wire.light_model_bytes(model, LIMIT, graph._DTYPE_BITS))
    assert list(light.graph.initializer[0].dims) == [32, 64]
    assert light.graph.initializer[0].raw_data == b""


def test_external_data_is_never_opened(tmp_path):
    weight = numpy_helper.from_array(numpy.ones((64, 64), dtype=numpy.float32), "w")
    path, model = _model(tmp_path, weight, _shape([0, -1]))
    onnx.save(model, path, save_as_external_data=True, location="w.bin", size_threshold=0)
    with open(str(tmp_path / "w.bin"), "wb") as handle:
        handle.write(b"")  # emptied: reading it would fail or give no values
    tensor = _light(path).graph.initializer[0]
    assert tensor.data_location == TensorProto.EXTERNAL
    assert {e.key: e.value for e in tensor.external_data}["location"] == "w.bin"
    assert costs.analyze(path).params == 64 * 64


def test_a_field_running_past_the_end_is_a_wire_error(tmp_path):
    weight = numpy_helper.from_array(numpy.ones((64, 32), dtype=numpy.float32), "w")
    path, _ = _model(tmp_path, weight, _shape([0, -1]))
    with open(path, "rb") as handle:
        data = handle.read()
    with pytest.raises(wire.WireError, match="past the end"):
        wire.light_model_bytes(data[:len(data) // 2], LIMIT, graph._DTYPE_BITS)


def test_a_group_wire_type_is_a_wire_error():
    with pytest.raises(wire.WireError, match="wire type 3"):
        wire.light_model_bytes(b"\x0b\x0c", LIMIT, graph._DTYPE_BITS)


def test_varints_round_trip_up_to_64_bits():
    for value in (0, 1, 127, 128, 300, 2 ** 35 + 7, 2 ** 64 - 1):
        encoded = wire.encode_varint(value)
        assert wire.read_varint(encoded, 0, len(encoded)) == (value, len(encoded))
    with pytest.raises(wire.WireError):
        wire.read_varint(b"\xff" * 11, 0, 11)


def test_a_file_whose_length_prefix_lies_is_not_a_readable_model(tmp_path):
    path = tmp_path / "lie.onnx"
    path.write_bytes(b"\x3a\xff\xff\x03" + b"\x00" * 10)  # graph field claiming 65535 bytes
    with pytest.raises(InputFileError, match="not a readable ONNX model"):
        costs.analyze(str(path))


# ---- counts and memory against onnx.load ------------------------------------------------------

def _with_onnx_load(path):
    """The counts of the path before the wire reader: onnx.load, then the same analysis."""
    model = onnx.load(path, load_external_data=False)
    graph.check_whole(model, path)
    return costs.analyze_model(model, path)


def _same(a, b):
    return (a.summary(), a.layers, a.notes, a.activation_bytes) == (b.summary(), b.layers, b.notes, b.activation_bytes)


def _export(name, folder):
    return check_analysis_tool().exported_path(name, str(folder))


@pytest.mark.parametrize("name", ["resnet18", "shufflenet_v2_x0_5", "mobilenet_v3_small"])
def test_small_torchvision_models_count_the_same_as_with_onnx_load(tmp_path, name):
    pytest.importorskip("torchvision")
    path = _export(name, tmp_path)
    assert _same(costs.analyze(path), _with_onnx_load(path))


@SLOW
@pytest.mark.parametrize("name", ["alexnet", "vgg16", "vgg19", "googlenet", "inception_v3", "resnet34",
                                  "resnet50", "resnet101", "resnet152", "swin_t", "vit_b_16"])
def test_the_zoo_counts_the_same_as_with_onnx_load(tmp_path_factory, name):
    pytest.importorskip("torchvision")
    path = _export(name, tmp_path_factory.mktemp(name))
    assert _same(costs.analyze(path), _with_onnx_load(path))


# Read in the child itself: a forked child's ru_maxrss (wait4, RUSAGE_CHILDREN, even RUSAGE_SELF
# after exec) starts from the parent's resident size at the fork (Linux records the pre-exec
# memory's high-water mark in signal->maxrss), and this pytest process may hold gigabytes of torch
# exports. VmHWM in /proc/self/status is the high-water mark of the child's own memory map.
_PEAK_CHILD = """
import sys, onnx
from edgeprof import costs
costs.analyze(sys.argv[1])
print([line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM:")][0])
"""


def _peak_rss_bytes(path):
    """Peak resident memory of a fresh interpreter that analyses ``path``."""
    if not os.path.exists("/proc/self/status"):
        pytest.skip("needs /proc/self/status (Linux) to read a child's own peak memory")
    done = subprocess.run([sys.executable, "-c", _PEAK_CHILD, path], env=dict(os.environ, PYTHONPATH=REPO),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert done.returncode == 0, done.stderr.decode()
    return int(done.stdout.split()[-1]) * 1024


def test_memory_does_not_grow_with_the_weights(tmp_path):
    small = numpy_helper.from_array(numpy.ones((64, 64), dtype=numpy.float32), "w")
    big = numpy_helper.from_array(numpy.ones((4096, 4096), dtype=numpy.float32), "w")  # 64 MiB
    small_path, _ = _model(tmp_path, small, _shape([0, -1]), name="small.onnx")
    big_path, _ = _model(tmp_path, big, _shape([0, -1]), name="big.onnx")
    grown = _peak_rss_bytes(big_path) - _peak_rss_bytes(small_path)
    assert grown < 16 * 2 ** 20, json.dumps({"grown_bytes": grown})


@SLOW
def test_vgg19_peaks_below_a_third_of_its_file_size(tmp_path):
    pytest.importorskip("torchvision")
    path = _export("vgg19", tmp_path)
    assert os.path.getsize(path) > 500e6
    assert _peak_rss_bytes(path) <= 0.3 * os.path.getsize(path)
