"""Static costs of precision variants: an fp16 or int8 file costs what its fp32 file costs.

A variant holds the same weights in another number format (fp16 initializers behind Cast nodes at
the IO; int8 initializers behind DequantizeLinear in QDQ files; quantized ops in ONNX Runtime's
QOperator and dynamic formats), so its parameters, MACs and fully connected share are those of
its fp32 file; only the bytes differ (docs/analysis-conventions.md, "Precision variants").

Two sets of files, made once per module: ResNet-18 (random weights) through ``edgeprof export
--precision fp16,int8``, and a tiny network with a Linear on tokens (MatMul + bias Add) and a
Linear head (Gemm) in every format ONNX Runtime writes.
"""
import os

import pytest

from edgeprof import costs
from edgeprof.cli import main

onnx = pytest.importorskip("onnx")
torch = pytest.importorskip("torch")
pytest.importorskip("torchvision")
pytest.importorskip("onnxruntime.quantization")
pytest.importorskip("onnxconverter_common")

SAME = ("params", "macs", "fc_params", "fc_macs")


def _relu_ops(result):
    return sum(layer["paper_ops"] for layer in result.layers if layer["op_type"] == "Relu")


@pytest.fixture(scope="module")
def resnet(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("resnet"))
    assert main(["export", "--models", "resnet18", "--out", out, "--precision", "fp16,int8",
                 "--calib-count", "2"]) == 0
    return {precision: costs.analyze(os.path.join(out, "resnet18%s.onnx" % suffix))
            for precision, suffix in (("fp32", ""), ("fp16", ".fp16"), ("int8", ".int8"))}


@pytest.mark.parametrize("precision", ["fp16", "int8"])
def test_a_variant_has_the_params_macs_and_fc_share_of_its_fp32_file(resnet, precision):
    fp32, variant = resnet["fp32"].summary(), resnet[precision].summary()
    assert fp32["params"] > 11e6 and fp32["fc_params"] == 513000
    assert {key: variant[key] for key in SAME} == {key: fp32[key] for key in SAME}
    assert variant["complete"] and variant["unsupported_ops"] == [] and variant["uncosted_ops"] == []


def test_fp16_weights_take_half_the_bytes_and_int8_about_a_quarter(resnet):
    fp32 = resnet["fp32"].weight_bytes
    assert resnet["fp16"].weight_bytes * 2 == fp32  # every initializer of ResNet-18 is a float weight
    # 1 byte per int8 weight, plus int32 biases and the float scales and zero points of each channel
    assert 0.25 < resnet["int8"].weight_bytes / fp32 < 0.26


def test_fp16_has_the_paper_ops_of_fp32_and_int8_lacks_only_its_relus(resnet):
    fp32, int8 = resnet["fp32"], resnet["int8"]
    assert resnet["fp16"].paper_ops == fp32.paper_ops
    # ONNX Runtime's QDQ quantizer removes a Relu that feeds a QuantizeLinear (its clamp does it)
    assert _relu_ops(fp32) > 0 and not any(layer["op_type"] == "Relu" for layer in int8.layers)
    assert int8.paper_ops == fp32.paper_ops - _relu_ops(fp32)


def test_dequantized_weights_are_weights_not_activations(resnet):
    int8 = resnet["int8"]
    views = [layer for layer in int8.layers if layer["op_type"] == "DequantizeLinear" and layer["params"] == 0
             and layer["activation_bytes"] == 0]
    assert len(views) >= 40  # 20 Conv weights and their biases, and the Gemm's
    # the naive executor's peak: fp32 activations between int8 copies, never all the weights at once
    assert int8.peak_activation_bytes < resnet["fp32"].peak_activation_bytes


class _Tiny(torch.nn.Module):
    """Conv, BatchNorm, depthwise Conv, a Linear on tokens (MatMul + Add) and a Linear head (Gemm)."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.bn = torch.nn.BatchNorm2d(8)
        self.dw = torch.nn.Conv2d(8, 8, 3, padding=1, groups=8)
        self.tok = torch.nn.Linear(8, 16)
        self.head = torch.nn.Linear(16, 10)

    def forward(self, x):
        x = torch.relu(self.dw(torch.relu(self.bn(self.conv(x)))))
        tokens = torch.relu(self.tok(x.flatten(2).transpose(1, 2)))
        return self.head(tokens.mean(1))


def write_variants(folder):
    """The tiny network as fp32 (folded, and unfolded: weights read through Transpose), fp16, QDQ
    int8 (edgeprof's own), QOperator and dynamic int8 (ONNX Runtime's quantize_static/quantize_dynamic),
    written into ``folder``; returns name -> path (``prepared`` is quant_pre_process's output)."""
    import torch
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_dynamic, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from edgeprof.workstation import calibration, precision, preprocessing
    paths = {name: os.path.join(str(folder), name + ".onnx") for name in
             ("fp32", "nofold", "nofold.fp16", "int8", "prepared", "qoperator", "dynamic")}
    torch.manual_seed(0)
    model = _Tiny().eval()
    for name, fold in (("fp32", True), ("nofold", False)):
        torch.onnx.export(model, torch.randn(1, 3, 16, 16), paths[name], dynamo=False, opset_version=17,
                          do_constant_folding=fold, input_names=["input"], output_names=["logits"],
                          dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
    precision.to_fp16(paths["nofold"], paths["nofold.fp16"])
    images, preprocess = calibration.random_set(2), preprocessing.for_user_model([3, 16, 16])
    precision.to_int8(paths["fp32"], paths["int8"], images, preprocess)
    quant_pre_process(paths["fp32"], paths["prepared"])
    quantize_static(paths["prepared"], paths["qoperator"], precision._reader(images, preprocess, "input", "tiny"),
                    quant_format=QuantFormat.QOperator, per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
    quantize_dynamic(paths["prepared"], paths["dynamic"], weight_type=QuantType.QInt8)
    return paths


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """The analyses of :func:`write_variants`' files."""
    paths = write_variants(tmp_path_factory.mktemp("tiny"))
    return {name: costs.analyze(path) for name, path in paths.items() if name != "prepared"}


def test_a_linear_on_tokens_keeps_its_bias_in_the_fc_share_through_quantize_dequantize(tiny):
    fp32, int8 = tiny["fp32"], tiny["int8"]
    assert fp32.fc_params == 8 * 16 + 16 + 16 * 10 + 10
    assert [getattr(int8, key) for key in SAME] == [getattr(fp32, key) for key in SAME]
    assert int8.paper_ops == fp32.paper_ops - _relu_ops(fp32)


def test_fp16_weights_read_through_transpose_are_fully_connected(tiny):
    nofold, fp16 = tiny["nofold"], tiny["nofold.fp16"]
    transposes = [layer for layer in fp16.layers if layer["op_type"] == "Transpose" and layer["activation_bytes"] == 0]
    assert transposes, "the unfolded export reads the Linear's weight through a Transpose"
    assert [getattr(fp16, key) for key in SAME + ("paper_ops",)] == [getattr(nofold, key) for key in SAME + ("paper_ops",)]
    assert fp16.weight_bytes * 2 == nofold.weight_bytes


def test_dynamic_int8_costs_its_integer_convs_and_matmuls_as_the_fp32_ones(tiny):
    fp32, dynamic = tiny["fp32"], tiny["dynamic"]
    ops = {layer["op_type"] for layer in dynamic.layers}
    assert {"ConvInteger", "MatMulInteger", "DynamicQuantizeLinear"} <= ops and "Conv" not in ops
    assert dynamic.complete
    assert [getattr(dynamic, key) for key in SAME] == [getattr(fp32, key) for key in SAME]


def test_qoperator_int8_costs_qlinear_conv_and_matmul_and_names_the_contrib_ops_it_cannot(tiny):
    fp32, qop = tiny["fp32"], tiny["qoperator"]
    expected = [layer["macs"] for layer in fp32.layers if layer["op_type"] in ("Conv", "MatMul")]
    found = [layer["macs"] for layer in qop.layers if layer["op_type"] in ("QLinearConv", "QLinearMatMul")]
    assert found == expected and all(found)
    assert [layer["fc"] for layer in qop.layers if layer["op_type"] == "QLinearMatMul"] == [True]
    # ONNX Runtime writes the bias Add and the Gemm as com.microsoft ops: named, totals a lower bound
    assert {"QGemm", "QLinearAdd"} <= set(qop.unsupported_ops) and qop.summary()["lower_bound"]
    reasons = {layer["op_type"]: layer["reason"] for layer in qop.layers if not layer["costed"]}
    assert reasons["QGemm"] == "unsupported: edgeprof has no rule for QGemm (domain com.microsoft)"


def _int8_weight(name, dims):
    import numpy
    from onnx import numpy_helper
    values = numpy.random.RandomState(0).randint(-128, 128, size=dims).astype(numpy.int8)
    return numpy_helper.from_array(values, name)


def test_a_large_int8_weight_dequantized_then_transposed_is_a_weight_by_its_dims_and_type(tmp_path):
    """DequantizeLinear -> Transpose -> MatMul with an int8 weight over the 4 KiB that the light
    model keeps values for: recognised from its dims and type alone."""
    from onnx import TensorProto, helper
    weight = _int8_weight("w_q", [96, 64])  # 6 KiB
    scale = helper.make_tensor("w_scale", TensorProto.FLOAT, [96], [0.01] * 96)
    zero = helper.make_tensor("w_zero", TensorProto.INT8, [96], [0] * 96)
    nodes = [helper.make_node("DequantizeLinear", ["w_q", "w_scale", "w_zero"], ["w"], axis=0),
             helper.make_node("Transpose", ["w"], ["wt"], perm=[1, 0]),
             helper.make_node("MatMul", ["x", "wt"], ["y"])]
    graph = helper.make_graph(nodes, "dq", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 5, 64])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 5, 96])],
                              initializer=[weight, scale, zero])
    path = str(tmp_path / "dq.onnx")
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
    result = costs.analyze(path, batch=2)
    assert (result.params, result.fc_params) == (96 * 64, 96 * 64)  # the scales and zero points are not weights
    assert (result.macs, result.fc_macs) == (2 * 5 * 96 * 64, 2 * 5 * 96 * 64)
    assert result.weight_bytes == 96 * 64 + 96 * 4 + 96
    assert result.peak_activation_bytes == 2 * 5 * (64 + 96) * 4  # x and y; the dequantized weight is a weight
