"""Write tests/data/tiny.onnx: a very small image classifier for agent tests (no torch needed).

Conv(3->8, 3x3) -> Relu -> GlobalAveragePool -> Flatten -> Gemm(8->10); input ``input``
[N, 3, 32, 32] with a dynamic batch axis, output ``logits``; opset 13, IR 7 (what TensorRT 8.x and
onnxruntime 1.10 read). The agent tests run on Python 3.6 without onnx, so the file is checked in;
run this script (needs onnx and numpy) to make it again.

    python tools/make_tiny_onnx.py tests/data/tiny.onnx
"""
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def build():
    rng = np.random.RandomState(0)
    weights = [
        numpy_helper.from_array(rng.standard_normal((8, 3, 3, 3)).astype(np.float32) * 0.2, "conv.weight"),
        numpy_helper.from_array(rng.standard_normal(8).astype(np.float32) * 0.1, "conv.bias"),
        numpy_helper.from_array(rng.standard_normal((10, 8)).astype(np.float32) * 0.3, "fc.weight"),
        numpy_helper.from_array(rng.standard_normal(10).astype(np.float32) * 0.1, "fc.bias"),
    ]
    nodes = [
        helper.make_node("Conv", ["input", "conv.weight", "conv.bias"], ["conv"], pads=[1, 1, 1, 1],
                         kernel_shape=[3, 3], name="conv"),
        helper.make_node("Relu", ["conv"], ["relu"], name="relu"),
        helper.make_node("GlobalAveragePool", ["relu"], ["pool"], name="pool"),
        helper.make_node("Flatten", ["pool"], ["flat"], axis=1, name="flatten"),
        helper.make_node("Gemm", ["flat", "fc.weight", "fc.bias"], ["logits"], transB=1, name="fc"),
    ]
    graph = helper.make_graph(
        nodes, "tiny",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3, 32, 32])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 10])],
        initializer=weights)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="edgeprof")
    model.ir_version = 7
    onnx.checker.check_model(model)
    return model


if __name__ == "__main__":
    onnx.save(build(), sys.argv[1] if len(sys.argv) > 1 else "tests/data/tiny.onnx")
