"""edgeprof's own shape inference (costs.infer, costs.onnxproto): the same counts as ONNX's shape
inference, bit for bit, without importing onnx; and a model it does not cover goes through ONNX's.
"""
import json
import os
import subprocess
import sys

import pytest

from conftest import check_analysis_tool
from edgeprof import costs
from edgeprof import onnxproto
from edgeprof.costs import graph, infer
from edgeprof.errors import InputFileError

onnx = pytest.importorskip("onnx")
numpy = pytest.importorskip("numpy")
helper, numpy_helper, TensorProto = onnx.helper, onnx.numpy_helper, onnx.TensorProto

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SLOW = pytest.mark.skipif(not os.environ.get("EDGEPROF_SLOW"), reason="exports big models; set EDGEPROF_SLOW=1")


def _facts(analysis):
    return analysis.summary(), analysis.layers, analysis.notes, analysis.activation_bytes


def _with_onnx_inference(path, batch, monkeypatch):
    """The analysis when edgeprof's own pass is skipped: ONNX's shape inference for every tensor."""
    def refuse(model):
        raise infer.NotInferred("skipped by the test")
    with monkeypatch.context() as patch:
        patch.setattr(infer, "pure_shapes", refuse)
        return costs.analyze(path, batch)


def _pure_covers(path):
    model = graph.load(path)
    graph.set_batch(model, path, 1, [])
    infer.pure_shapes(model)  # raises NotInferred naming the node when it does not cover the model
    return True


def _same_both_ways(path, monkeypatch):
    assert _pure_covers(path)
    for batch in (1, 5):
        assert _facts(costs.analyze(path, batch)) == _facts(_with_onnx_inference(path, batch, monkeypatch))


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    pytest.importorskip("torchvision")
    tool = check_analysis_tool()
    folder = str(tmp_path_factory.mktemp("tv"))
    return lambda name: tool.exported_path(name, folder)


# ceil_mode pooling (googlenet), channel shuffle computed by Shape/Gather/Div (shufflenet), SE blocks
# and hard-swish (mobilenet_v3), Concat of branches (squeezenet), residuals (resnet18).
@pytest.mark.parametrize("name", ["resnet18", "googlenet", "shufflenet_v2_x0_5", "mobilenet_v3_small",
                                  "squeezenet1_1"])
def test_own_shapes_count_exactly_as_onnx_shape_inference(exported, monkeypatch, name):
    _same_both_ways(exported(name), monkeypatch)


# One of each family whose shapes the graph computes (Swin's windows and masks, ViT's class token,
# MaxViT's partitions, ConvNeXt's LayerNorm), plus the paper's zoo.
@SLOW
@pytest.mark.parametrize("name", ["alexnet", "vgg19", "inception_v3", "densenet121", "resnet50", "swin_t",
                                  "swin_v2_t", "maxvit_t", "vit_b_16", "convnext_tiny", "regnet_y_400mf",
                                  "efficientnet_b0", "efficientnet_v2_s", "mnasnet0_5"])
def test_modern_and_zoo_models_count_exactly_as_with_onnx_shape_inference(exported, monkeypatch, name):
    _same_both_ways(exported(name), monkeypatch)


# ---- without onnx ---------------------------------------------------------------------------------

_NO_ONNX_CHILD = """
import sys, io, json, contextlib
sys.modules["onnx"] = None  # any import of onnx now fails
from edgeprof import cli
out = io.StringIO()
with contextlib.redirect_stdout(out):
    status = cli.main(["inspect", sys.argv[1], "--json"])
print(json.dumps({"status": status, "out": out.getvalue()}))
"""


def _inspect_without_onnx(path):
    done = subprocess.run([sys.executable, "-c", _NO_ONNX_CHILD, path], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, env=dict(os.environ, PYTHONPATH=REPO))
    return done, (json.loads(done.stdout.decode().splitlines()[-1]) if done.returncode == 0 else None)


def test_inspect_needs_no_onnx_for_a_model_its_rules_cover(exported, cli):
    path = exported("resnet18")
    done, found = _inspect_without_onnx(path)
    assert done.returncode == 0, done.stderr.decode()
    assert found["status"] == 0
    with_onnx = cli(["inspect", path, "--json"])
    assert json.loads(found["out"]) == json.loads(with_onnx.stdout)


def _custom_op_model(tmp_path):
    nodes = [helper.make_node("Relu", ["x"], ["r"], name="relu"),
             helper.make_node("Frobnicate", ["r"], ["y"], name="frob", domain="com.example")]
    model = helper.make_model(helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)]),
        opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.example", 1)])
    path = str(tmp_path / "custom.onnx")
    onnx.save(model, path)
    return path


def test_a_node_without_a_rule_goes_through_onnx_shape_inference(tmp_path):
    path = _custom_op_model(tmp_path)
    with pytest.raises(infer.NotInferred, match="Frobnicate node 'frob' .domain com.example"):
        _pure_covers(path)
    result = costs.analyze(path)
    assert result.unsupported_ops == ["Frobnicate"] and not result.complete
    assert [layer["costed"] for layer in result.layers] == [True, False]


def test_without_onnx_a_model_its_rules_do_not_cover_is_one_line_naming_the_node(tmp_path):
    done, _ = _inspect_without_onnx(_custom_op_model(tmp_path))
    assert done.returncode == 0  # the child itself ran; cli.main returned the status
    found = json.loads(done.stdout.decode().splitlines()[-1])
    assert found["status"] == 2
    lines = done.stderr.decode().strip().splitlines()
    assert len(lines) == 1, lines
    assert "Frobnicate node 'frob'" in lines[0] and "pip install 'edgeprof[export]'" in lines[0]


def test_inconsistent_shapes_are_left_to_onnx_and_the_layer_is_not_costed(tmp_path):
    nodes = [helper.make_node("Add", ["x", "b"], ["y"], name="add")]
    bias = numpy_helper.from_array(numpy.ones((3,), dtype=numpy.float32), "b")
    model = helper.make_model(helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], initializer=[bias]),
        opset_imports=[helper.make_opsetid("", 17)])
    path = str(tmp_path / "bad.onnx")
    onnx.save(model, path)
    with pytest.raises(infer.NotInferred, match="Add node 'add': .*broadcast"):
        _pure_covers(path)
    result = costs.analyze(path)  # onnx's inference (not strict) leaves y unknown: a lower bound, said so
    assert result.shapes_by.startswith("onnx (edgeprof's own inference stops at Add node 'add'")
    assert not result.complete and result.uncosted_layers == ["add"] and result.uncosted_ops == ["Add"]


# ---- the decoder against onnx's own parser ------------------------------------------------------------

def _attribute_model():
    tensor = numpy_helper.from_array(numpy.arange(6, dtype=numpy.int64).reshape(2, 3) - 3, "t")
    node = helper.make_node("Custom", ["x"], ["y"], name="n", domain="d", f=0.1, i=-7, s=b"text",
                            t=tensor, floats=[1.5, -2.25], ints=[-1, 0, 2 ** 40], strings=[b"a", b"bc"])
    return helper.make_model(helper.make_graph(
        [node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 224])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, "K"])]),
        opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("d", 3)])


def test_attributes_decode_as_onnx_helper_reads_them():
    proto = _attribute_model()
    model = onnxproto.decode(proto.SerializeToString(), 4096, graph._DTYPE_BITS)
    node, expected = model.graph.node[0], proto.graph.node[0]
    assert (node.name, node.op_type, node.domain, node.input, node.output) == ("n", "Custom", "d", ["x"], ["y"])
    for attribute in expected.attribute:
        value, wanted = node.attr(attribute.name, None), helper.get_attribute_value(attribute)
        if attribute.name == "t":
            assert numpy.array_equal(value.to_array(), numpy_helper.to_array(wanted))
        else:
            assert value == wanted, attribute.name
    assert [(o.domain, o.version) for o in model.opset_import] == [("", 17), ("d", 3)]
    assert model.ir_version == proto.ir_version
    assert (model.graph.input[0].elem_type, model.graph.input[0].dims) == (TensorProto.FLOAT, [None, 3, 224])
    assert model.graph.output[0].dims == [None, None]


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "int8", "uint8", "int16", "uint16", "int32",
                                   "int64", "uint32", "uint64", "bool", "complex64"])
@pytest.mark.parametrize("raw", [True, False])
def test_tensor_values_decode_as_numpy_helper_gives_them(dtype, raw):
    values = (numpy.arange(12) - 5).reshape(3, 4).astype(dtype)
    if dtype.startswith("complex"):
        values = values + 1j
    if raw:
        tensor = numpy_helper.from_array(values, "v")
    else:  # the typed fields (float_data, int32_data with fp16 bit patterns, uint64_data...)
        tensor = helper.make_tensor("v", helper.np_dtype_to_tensor_dtype(values.dtype), values.shape,
                                    values.flatten().tolist(), raw=False)
    model = helper.make_model(helper.make_graph([], "g", [], [], initializer=[tensor]))
    decoded = onnxproto.decode(model.SerializeToString(), 4096, graph._DTYPE_BITS).graph.initializer[0]
    found, wanted = decoded.to_array(), numpy_helper.to_array(tensor)
    assert found.dtype == wanted.dtype and numpy.array_equal(found, wanted)


def test_large_and_external_tensors_keep_dims_and_type_but_not_values(tmp_path):
    big = numpy_helper.from_array(numpy.ones((64, 32), dtype=numpy.float32), "big")
    small = numpy_helper.from_array(numpy.array([0, -1], dtype=numpy.int64), "small")
    model = helper.make_model(helper.make_graph([], "g", [], [], initializer=[big, small]))
    decoded = onnxproto.decode(model.SerializeToString(), 4096, graph._DTYPE_BITS).graph.initializer
    assert (decoded[0].name, decoded[0].dims, decoded[0].data_type, decoded[0].has_values) == \
        ("big", [64, 32], TensorProto.FLOAT, False)
    with pytest.raises(ValueError, match="not read"):
        decoded[0].to_array()
    assert decoded[1].to_array().tolist() == [0, -1]
    path = str(tmp_path / "ext.onnx")
    onnx.save(model, path, save_as_external_data=True, all_tensors_to_one_file=True, location="w.bin",
              size_threshold=0)
    read = onnxproto.read(path, 4096, graph._DTYPE_BITS).graph.initializer
    assert [t.data_location for t in read] == [onnxproto.EXTERNAL] * 2
    assert {e.key: e.value for e in read[0].external_data}["location"] == "w.bin"
    assert not any(t.has_values for t in read)


def test_a_name_that_is_not_utf8_is_not_a_readable_model(tmp_path):
    data = _attribute_model().SerializeToString().replace(b"Custom", b"Cust\xffm")
    path = tmp_path / "bad.onnx"
    path.write_bytes(data)
    with pytest.raises(InputFileError, match="not a readable ONNX model"):
        costs.analyze(str(path))
