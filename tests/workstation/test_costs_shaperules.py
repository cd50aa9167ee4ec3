"""edgeprof.costs.shaperules gives exactly ONNX's shapes and element types, op by op, and over whole
torchvision exports walked node by node the way the pure-Python path does (Constant, fold, rule).

Every case builds a one-node model with onnx.helper, runs ONNX's own inference on it
(``infer_shapes(strict_mode=True, data_prop=True)``) and compares.
"""
import os

import pytest

from edgeprof.costs import fold, shaperules

onnx = pytest.importorskip("onnx")
numpy = pytest.importorskip("numpy")
helper, numpy_helper, TensorProto = onnx.helper, onnx.numpy_helper, onnx.TensorProto

F, F16, U8, I8, I32, I64, B = (TensorProto.FLOAT, TensorProto.FLOAT16, TensorProto.UINT8, TensorProto.INT8,
                               TensorProto.INT32, TensorProto.INT64, TensorProto.BOOL)


def i64(*v):
    return numpy.array(v, dtype=numpy.int64)


def i32(*v):
    return numpy.array(v, dtype=numpy.int32)


def f32(*v):
    return numpy.array(v, dtype=numpy.float32)


def scalar(value, dtype):
    return numpy.array(value, dtype=dtype)


class Case:
    """One node: ``ins`` are (elem_type, dims) for graph inputs, numpy arrays for constants
    (initializers, whose values ONNX and the rule both see), or None for an absent optional."""

    def __init__(self, op, ins, opset=17, nout=1, id=None, **attrs):
        self.op, self.ins, self.opset, self.nout, self.attrs = op, ins, opset, nout, attrs
        self.id = id or "%s-%d" % (op, opset)

    def build(self):
        names = ["" if spec is None else "i%d" % k for k, spec in enumerate(self.ins)]
        node = helper.make_node(self.op, names, ["o%d" % k for k in range(self.nout)], **self.attrs)
        graph_inputs, inits, shapes, types, values = [], [], {}, {}, {}
        for name, spec in zip(names, self.ins):
            if spec is None:
                continue
            if isinstance(spec, numpy.ndarray):
                inits.append(numpy_helper.from_array(spec, name))
                shapes[name], types[name], values[name] = list(spec.shape), fold.onnx_dtype(spec.dtype), spec
            else:
                graph_inputs.append(helper.make_tensor_value_info(name, spec[0], spec[1]))
                shapes[name], types[name] = list(spec[1]), spec[0]
        graph = helper.make_graph([node], "g", graph_inputs, [], initializer=inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", self.opset)])
        return model, node, shapes, types, values


def onnx_outputs(model):
    inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True, data_prop=True)
    found = {}
    for vi in inferred.graph.value_info:
        tensor_type = vi.type.tensor_type
        dims = None
        if tensor_type.HasField("shape"):
            dims = [d.dim_value if d.HasField("dim_value") else None for d in tensor_type.shape.dim]
        found[vi.name] = (dims, tensor_type.elem_type)
    return found


def check_same(case):
    model, node, shapes, types, values = case.build()
    expected = onnx_outputs(model)
    assert shaperules.infer(node, shapes, types, values, case.opset) is True
    for name in node.output:
        if name:
            assert (shapes[name], types[name]) == expected[name], name


X4 = (F, [2, 3, 8, 8])

SAME = [
    Case("Add", [(F, [2, 3, 4]), (F, [3, 1])]), Case("Sub", [(F, [1]), (F, [5, 1, 2])]),
    Case("Mul", [(F16, [4, 1]), (F16, [1, 6])]), Case("Div", [(I64, []), (I64, [3])]),
    Case("Pow", [(F, [2, 3]), (I64, [])]), Case("Mod", [(I64, [2, 3]), (I64, [3])], fmod=0),
    Case("Max", [(F, [2, 1, 4]), (F, [3, 1]), (F, [4])]), Case("Min", [(F, [3])]),
    Case("Sum", [(F, [2, 3]), (F, [3]), (F, [1, 1])]), Case("Mean", [(F, [5, 1]), (F, [1, 7])]),
    Case("Equal", [(I64, [2, 3]), (I64, [1])]), Case("Less", [(F, [4, 1]), (F, [4])]),
    Case("Greater", [(F, [2]), (F, [2])]), Case("LessOrEqual", [(F, [2, 1]), (F, [3])]),
    Case("GreaterOrEqual", [(I32, [1]), (I32, [6])]), Case("And", [(B, [2, 1]), (B, [2])]),
    Case("Or", [(B, [3]), (B, [1])]), Case("Xor", [(B, [1, 2]), (B, [2, 1])]),
    Case("Where", [(B, [2, 1, 4]), (F16, [3, 1]), (F16, [4])]), Case("Where", [(B, [1]), (I64, []), (I64, [5])], id="Where-int"),
    Case("PRelu", [(F, [2, 3, 4, 4]), (F, [3, 1, 1])]),
    Case("Not", [(B, [2, 5])]), Case("IsNaN", [(F, [3])]),
    Case("Cast", [(F, [2, 3])], to=TensorProto.FLOAT16), Case("CastLike", [(F, [2, 3]), (I8, [])]),
    Case("Softmax", [(F, [2, 3, 4])], axis=-2), Case("LogSoftmax", [(F, [2, 3])], opset=11),
    Case("Clip", [(F, [2, 3]), scalar(0, numpy.float32), scalar(6, numpy.float32)]),
    Case("Clip", [(F, [2, 3])], opset=7, min=0.0, id="Clip-attrs"),
    Case("Dropout", [(F, [2, 3])], nout=2), Case("Dropout", [(F, [2, 3]), scalar(0.1, numpy.float32)], opset=13),
    Case("BatchNormalization", [X4, (F, [3]), (F, [3]), (F, [3]), (F, [3])]),
    Case("BatchNormalization", [X4, (F, [3]), (F, [3]), (F, [3]), (F, [3])], opset=9, id="BN-9"),
    Case("InstanceNormalization", [X4, (F, [3]), (F, [3])]), Case("LRN", [X4], size=3),
    Case("LayerNormalization", [(F, [2, 5, 6]), (F, [6]), (F, [6])], nout=3),
    Case("LayerNormalization", [(F16, [2, 5, 6]), (F16, [5, 6])], nout=3, axis=1, id="LN-axis1"),
    Case("LayerNormalization", [(F16, [2, 5, 6]), (F16, [6])], nout=2, stash_type=10, id="LN-stash"),
    Case("Erf", [(F, [2, 3])]), Case("HardSwish", [(F16, [2])]), Case("Identity", [(I64, [3])]),
    Case("Mish", [(F, [2, 3])], opset=18), Case("Celu", [(F, [2])]), Case("CumSum", [(F, [2, 3]), scalar(1, numpy.int64)]),
    Case("Trilu", [(F, [3, 3])]), Case("IsInf", [(F, [3])]), Case("Shrink", [(F, [3])]), Case("Hardmax", [(F, [2, 3])]),
    Case("Gelu", [(F, [2, 3])], opset=20),
] + [Case(op, [(F, [2, 3, 4])]) for op in (
    "Relu", "Sigmoid", "Tanh", "HardSigmoid", "LeakyRelu", "Elu", "Selu", "Softplus", "Softsign", "Sin", "Atanh",
    "Exp", "Log", "Sqrt", "Neg", "Abs", "Reciprocal", "Floor", "Ceil", "Round", "Sign")]

CONV = [
    Case("Conv", [X4, (F, [6, 3, 3, 3])]), Case("Conv", [X4, (F, [6, 3, 3, 3]), (F, [6])], pads=[1, 1, 1, 1], strides=[2, 2], id="Conv-pads"),
    Case("Conv", [(F, [1, 4, 9, 10]), (F, [8, 2, 3, 2])], group=2, dilations=[2, 3], strides=[2, 1], id="Conv-group-dil"),
    Case("Conv", [(F, [1, 4, 9, 10]), (F, [8, 4, 3, 4])], auto_pad="SAME_UPPER", strides=[2, 3], id="Conv-same-upper"),
    Case("Conv", [(F, [1, 4, 9, 10]), (F, [8, 4, 4, 4])], auto_pad="SAME_LOWER", strides=[2, 2], id="Conv-same-lower"),
    Case("Conv", [(F, [1, 4, 9, 10]), (F, [8, 4, 3, 3])], auto_pad="VALID", strides=[2, 2], id="Conv-valid"),
    Case("Conv", [(F, [1, 4, 9]), (F, [8, 4, 3])], kernel_shape=[3], pads=[0, 2], id="Conv-1d"),
    Case("Conv", [(F, [1, 2, 5, 6, 7]), (F, [4, 2, 3, 1, 2])], strides=[1, 2, 3], id="Conv-3d"),
    Case("Conv", [X4, (F, [6, 3, 3, 3])], opset=11, pads=[0, 1, 2, 0], id="Conv-11"),
    Case("Conv", [X4, (F, [6, 3, 3, 3])], opset=22, id="Conv-22"),
    Case("ConvTranspose", [X4, (F, [3, 5, 3, 3])], strides=[2, 2]),
    Case("ConvTranspose", [X4, (F, [3, 5, 3, 3])], strides=[2, 2], pads=[1, 1, 1, 1], output_padding=[1, 0], id="CT-out-pad"),
    Case("ConvTranspose", [X4, (F, [3, 5, 3, 3])], strides=[2, 2], output_shape=[17, 16], id="CT-out-shape"),
    Case("ConvTranspose", [X4, (F, [3, 2, 4, 3])], strides=[2, 3], auto_pad="SAME_UPPER", group=3, dilations=[1, 2], id="CT-same"),
    Case("ConvTranspose", [X4, (F, [3, 2, 4, 3])], strides=[3, 2], auto_pad="SAME_LOWER", id="CT-same-lower"),
    Case("ConvTranspose", [X4, (F, [3, 2, 1, 1])], opset=11, id="CT-11"),
    Case("MaxPool", [X4], kernel_shape=[3, 3], strides=[2, 2], nout=2),
    Case("MaxPool", [X4], kernel_shape=[2, 2], strides=[2, 2], pads=[1, 1, 1, 1], ceil_mode=1, id="MaxPool-ceil-pad"),
    Case("MaxPool", [X4], kernel_shape=[2, 2], strides=[2, 2], pads=[1, 1, 1, 1], ceil_mode=1, opset=22, id="MaxPool-22-ceil-pad"),
    Case("MaxPool", [(F, [1, 3, 10, 10])], kernel_shape=[3, 3], strides=[2, 2], pads=[0, 0, 1, 1], ceil_mode=1, opset=22, id="MaxPool-22-start-in-pad"),
    Case("MaxPool", [(F, [1, 3, 10, 10])], kernel_shape=[3, 3], strides=[2, 2], pads=[0, 0, 1, 1], ceil_mode=1, id="MaxPool-17-start-in-pad"),
    Case("MaxPool", [(F, [1, 3, 112, 112])], kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1, id="MaxPool-ceil"),
    Case("MaxPool", [(F, [1, 3, 13, 13])], kernel_shape=[3, 3], strides=[2, 2], dilations=[2, 2], ceil_mode=1, opset=12, id="MaxPool-dil"),
    Case("MaxPool", [(F, [1, 3, 13, 14])], kernel_shape=[3, 2], strides=[2, 3], auto_pad="SAME_UPPER", id="MaxPool-same"),
    Case("MaxPool", [(U8, [1, 3, 9, 9])], kernel_shape=[2, 2], opset=11, nout=2, id="MaxPool-11"),
    Case("AveragePool", [X4], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], count_include_pad=1),
    Case("AveragePool", [(F, [1, 3, 10, 10])], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], ceil_mode=1, id="AvgPool-ceil"),
    Case("AveragePool", [(F, [1, 3, 10, 10])], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], ceil_mode=1, opset=22, id="AvgPool-22-ceil"),
    Case("AveragePool", [(F, [1, 3, 11, 11])], kernel_shape=[2, 2], strides=[2, 2], dilations=[2, 2], opset=19, id="AvgPool-19-dil"),
    Case("AveragePool", [(F, [1, 3, 11, 11])], kernel_shape=[3, 3], auto_pad="SAME_LOWER", strides=[2, 2], opset=11, id="AvgPool-same-lower"),
    Case("LpPool", [X4], kernel_shape=[2, 2], strides=[2, 2], p=2),
    Case("GlobalAveragePool", [X4]), Case("GlobalMaxPool", [(F, [2, 3, 4])]), Case("GlobalLpPool", [X4]),
    Case("QLinearConv", [(U8, [1, 3, 8, 8]), scalar(0.1, numpy.float32), scalar(3, numpy.uint8), (I8, [4, 3, 3, 3]),
                         scalar(0.2, numpy.float32), scalar(0, numpy.int8), scalar(0.3, numpy.float32),
                         scalar(5, numpy.uint8), (I32, [4])], strides=[2, 2], pads=[1, 1, 1, 1]),
    Case("ConvInteger", [(U8, [1, 3, 8, 8]), (U8, [4, 3, 3, 3])], pads=[1, 1, 1, 1]),
]

MATMUL = [
    Case("Gemm", [(F, [2, 5]), (F, [5, 3]), (F, [3])]), Case("Gemm", [(F, [5, 2]), (F, [3, 5])], transA=1, transB=1, id="Gemm-trans"),
    Case("MatMul", [(F, [2, 3, 4]), (F, [4, 5])]), Case("MatMul", [(F, [4]), (F, [2, 4, 5])], id="MatMul-1d-left"),
    Case("MatMul", [(F, [2, 1, 3, 4]), (F, [4])], id="MatMul-1d-right"),
    Case("MatMul", [(F, [4]), (F, [4])], id="MatMul-1d-1d"), Case("MatMul", [(F, [2, 1, 3, 4]), (F, [5, 4, 6])], id="MatMul-batch"),
    Case("MatMulInteger", [(U8, [2, 3]), (I8, [3, 4])]),
    Case("QLinearMatMul", [(U8, [2, 3]), scalar(0.1, numpy.float32), scalar(1, numpy.uint8), (I8, [3, 4]),
                           scalar(0.1, numpy.float32), scalar(0, numpy.int8), scalar(0.1, numpy.float32), scalar(2, numpy.int8)]),
    Case("Einsum", [(F, [2, 3, 4]), (F, [2, 4, 5])], equation="bij,bjk->bik"),
    Case("Einsum", [(F, [2, 3, 4]), (F, [4, 5])], equation="...ij,jk", id="Einsum-implicit"),
    Case("Einsum", [(F, [7, 2, 3, 4]), (F, [1, 4, 6])], equation="a...ij, ...jk -> ...ika", id="Einsum-ellipsis"),
    Case("Einsum", [(F, [7, 1, 3, 4]), (F, [5, 4, 6])], equation="a...ij,...jk->a...k", id="Einsum-ellipsis-raised"),
    Case("Einsum", [(F, [3, 3])], equation="ii->i", id="Einsum-diag"), Case("Einsum", [(F, [3, 3])], equation="ii", id="Einsum-trace"),
    Case("Einsum", [(F, [2, 8, 4, 4, 16]), (F, [2, 8, 4, 4, 16])], equation="bhxyd,bhzwd->bhxyzw", id="Einsum-maxvit"),
]

TENSOR = [
    Case("Flatten", [(F, [2, 3, 4, 5])]), Case("Flatten", [(F, [2, 3, 4, 5])], axis=-1, id="Flatten-neg"),
    Case("Flatten", [(F, [2, 3])], axis=0, id="Flatten-0"), Case("Flatten", [(F, [2, 3])], axis=2, id="Flatten-r"),
    Case("Reshape", [(F, [2, 3, 4]), i64(0, -1)]), Case("Reshape", [(F, [2, 3, 4]), i64(4, 0, 2, -1)], id="Reshape-0"),
    Case("Reshape", [(F, [2, 0, 4]), i64(0, 4)], allowzero=1, opset=14, id="Reshape-allowzero"),
    Case("Reshape", [(F, [2, 3, 4]), i64(-1)], opset=7, id="Reshape-5"),
    Case("Transpose", [(F, [2, 3, 4])]), Case("Transpose", [(F, [2, 3, 4, 5])], perm=[0, 2, 3, 1], id="Transpose-perm"),
    Case("Squeeze", [(F, [1, 3, 1, 4])]), Case("Squeeze", [(F, [1, 3, 1, 4]), i64(-2)], id="Squeeze-axes"),
    Case("Squeeze", [(F, [1, 3, 1, 4])], opset=11, axes=[0, -2], id="Squeeze-11"),
    Case("Squeeze", [(F, [1, 3, 1, 4])], opset=9, axes=[0], id="Squeeze-9"),
    Case("Unsqueeze", [(F, [3, 4]), i64(0, -1)]), Case("Unsqueeze", [(F, [3, 4]), i64(3, 1)], id="Unsqueeze-unsorted"),
    Case("Unsqueeze", [(F, [3, 4])], opset=11, axes=[-1, 0], id="Unsqueeze-11"), Case("Unsqueeze", [(F, [])], opset=11, axes=[0], id="Unsqueeze-scalar"),
    Case("Concat", [(F, [2, 3]), (F, [2, 5]), (F, [2, 1])], axis=-1), Case("Concat", [(I64, [1]), (I64, [3])], axis=0, id="Concat-1d"),
    Case("Split", [(F, [2, 6])], axis=1, nout=3), Case("Split", [(F, [2, 6]), i64(1, 5)], axis=-1, nout=2, id="Split-input"),
    Case("Split", [(F, [7, 2])], opset=11, split=[3, 4], nout=2, id="Split-11-attr"),
    Case("Split", [(F, [4, 2])], opset=11, nout=2, id="Split-11"),
    Case("Split", [(F, [7, 2])], opset=18, num_outputs=3, nout=3, id="Split-18-uneven"),
    Case("Split", [(F, [6, 2])], opset=18, num_outputs=3, nout=3, id="Split-18-even"),
    Case("Split", [(F, [7, 2]), i64(2, 5)], opset=18, nout=2, id="Split-18-input"),
    Case("Slice", [(F, [10, 20, 30]), i64(1, -5), i64(100, -1)], id="Slice-clamp"),
    Case("Slice", [(F, [10, 20, 30]), i64(-1), i64(-2**63), i64(2), i64(-1)], id="Slice-neg-step-min"),
    Case("Slice", [(F, [10, 20, 30]), i64(2**63 - 1), i64(0), i64(-1), i64(-3)], id="Slice-neg-step-max"),
    Case("Slice", [(F, [10, 20, 30]), i64(0, 1), i64(2**63 - 1, 19), i64(2, 0), i64(7, 4)], id="Slice-steps"),
    Case("Slice", [(F, [10, 20, 30]), i32(5), i32(2), i32(1)], id="Slice-empty-int32"),
    Case("Slice", [(F, [10, 0, 30]), i64(1), i64(3), i64(1)], id="Slice-zero-dim"),
    Case("Slice", [(F, [10, 20, 30]), i64(3), i64(1), i64(-2), i64(-1)], opset=10, id="Slice-10"),
    Case("Slice", [(F, [10, 20, 30]), i64(3), i64(1), i64(-2), i64(-1)], opset=11, id="Slice-11"),
    Case("Slice", [(F, [10, 20, 30])], opset=9, starts=[1, -4], ends=[1000, -1], axes=[0, 2], id="Slice-1"),
    Case("Gather", [(F, [5, 6, 7]), (I64, [2, 3])], axis=1), Case("Gather", [(F, [5, 6]), scalar(1, numpy.int64)], axis=-1, id="Gather-scalar"),
    Case("GatherElements", [(F, [5, 6]), (I64, [5, 2])], axis=1), Case("GatherND", [(F, [2, 3, 4]), (I64, [2, 1])]),
    Case("GatherND", [(F, [2, 3, 4]), (I64, [2, 1])], batch_dims=1, id="GatherND-batch"),
    Case("ScatterND", [(F, [4, 5]), (I64, [2, 1]), (F, [2, 5])]),
    Case("ScatterElements", [(F, [4, 5]), (I64, [2, 2]), (F, [2, 2])], axis=1),
    Case("Expand", [(F, [3, 1]), i64(2, 1, 4)]), Case("Expand", [(F, [2, 3, 4]), i64(1, 1)], id="Expand-smaller"),
    Case("Tile", [(F, [2, 3]), i64(3, 1)]),
    Case("Pad", [(F, [2, 3, 4]), i64(0, 1, 2, 0, 3, 4)]), Case("Pad", [(F, [2, 3, 4]), i64(0, 0, 1, -1, 0, 2), scalar(0, numpy.float32)], mode="constant", id="Pad-neg"),
    Case("Pad", [(F, [2, 3, 4]), i64(1, 2, 3, 4), None, i64(-1, 0)], opset=18, mode="reflect", id="Pad-18-axes"),
    Case("Pad", [(F, [2, 3]), i64(0, 1, 0, 2)], opset=11, id="Pad-11"),
    Case("Pad", [(F, [2, 3])], opset=7, pads=[1, 0, 1, 0], id="Pad-2"),
    Case("Shape", [(F, [2, 3, 4])]), Case("Shape", [(F, [2, 3, 4])], start=1, end=-1, id="Shape-slice"),
    Case("Shape", [(F, [2, 3, 4])], start=-10, end=10, id="Shape-clamp"), Case("Size", [(F, [2, 3])]),
    Case("ConstantOfShape", [i64(2, 3)]), Case("ConstantOfShape", [i64(4)], value=numpy_helper.from_array(i64(1)), id="CoS-int"),
    Case("ConstantOfShape", [i64()], value=numpy_helper.from_array(numpy.array([True])), id="CoS-scalar"),
    Case("Range", [scalar(0, numpy.int64), scalar(10, numpy.int64), scalar(3, numpy.int64)]),
    Case("Range", [scalar(10, numpy.int32), scalar(0, numpy.int32), scalar(-3, numpy.int32)], id="Range-neg"),
    Case("Range", [scalar(0.5, numpy.float32), scalar(2.6, numpy.float32), scalar(0.7, numpy.float32)], id="Range-float"),
    Case("Constant", [], value=numpy_helper.from_array(f32(1, 2, 3))), Case("Constant", [], value_ints=[1, 2], id="Constant-ints"),
    Case("Constant", [], value_float=1.5, id="Constant-float"),
    Case("Resize", [(F, [1, 3, 5, 7]), None, f32(1, 1, 2.5, 0.5)], mode="nearest"),
    Case("Resize", [(F, [1, 3, 5, 7]), None, None, i64(1, 3, 9, 4)], mode="linear", id="Resize-sizes"),
    Case("Resize", [(F, [1, 3, 5, 7]), f32(), f32(), i64(1, 3, 9, 4)], opset=11, id="Resize-11"),
    Case("Resize", [(F, [1, 3, 5, 7]), None, None, i64(12, 10)], opset=18, axes=[2, 3], keep_aspect_ratio_policy="not_larger", id="Resize-18-keep"),
    Case("Resize", [(F, [1, 3, 5, 7]), None, None, i64(12, 10)], opset=18, axes=[-2, -1], keep_aspect_ratio_policy="not_smaller", id="Resize-18-smaller"),
    Case("Resize", [(F, [1, 3, 5, 7]), None, f32(1.7, 0.3)], opset=19, axes=[3, 2], id="Resize-19-axes"),
    Case("Resize", [(F, [1, 3, 5, 7]), f32(1, 1, 1.9, 2)], opset=10, id="Resize-10"),
]

REDUCE = [
    Case("ReduceMean", [(F, [2, 3, 4])], axes=[-1]), Case("ReduceMean", [(F, [2, 3, 4])], keepdims=0, id="ReduceMean-all"),
    Case("ReduceMean", [(F, [2, 3, 4]), i64(1, -1)], opset=18, keepdims=0, id="ReduceMean-18"),
    Case("ReduceMean", [(F, [2, 3, 4])], opset=18, id="ReduceMean-18-noaxes"),
    Case("ReduceSum", [(F, [2, 3, 4]), i64(1)]), Case("ReduceSum", [(F, [2, 3, 4]), i64()], noop_with_empty_axes=1, id="ReduceSum-noop"),
    Case("ReduceSum", [(F, [2, 3, 4])], opset=11, axes=[0, 2], keepdims=0, id="ReduceSum-11"),
    Case("ReduceMax", [(I64, [2, 3])], axes=[0]), Case("ReduceMin", [(F, [2, 3]), i64(0)], opset=18),
    Case("ReduceProd", [(F, [2, 3])]), Case("ReduceL1", [(F, [2, 3])], axes=[1]),
    Case("ReduceL2", [(F, [2, 3, 4]), i64(-1)], opset=18), Case("ReduceLogSumExp", [(F, [2, 3])], axes=[1]),
    Case("ReduceSumSquare", [(F, [2, 3])], keepdims=0),
    Case("ArgMax", [(F, [2, 3, 4])], axis=-1), Case("ArgMin", [(F, [2, 3, 4])], keepdims=0, axis=1),
    Case("TopK", [(F, [2, 10]), i64(3)], nout=2), Case("TopK", [(F, [2, 10, 3]), i64(4)], axis=1, nout=2, id="TopK-axis"),
    Case("TopK", [(F, [2, 10])], opset=9, k=2, nout=2, id="TopK-1"),
]

QUANT = [
    Case("QuantizeLinear", [(F, [2, 3]), scalar(0.1, numpy.float32), scalar(2, numpy.int8)]),
    Case("QuantizeLinear", [(F, [2, 3]), scalar(0.1, numpy.float32)], id="Q-no-zp"),
    Case("QuantizeLinear", [(F, [2, 3]), scalar(0.1, numpy.float32)], opset=21, output_dtype=TensorProto.INT8, id="Q-21-dtype"),
    Case("QuantizeLinear", [(F16, [2, 3]), scalar(0.1, numpy.float16), scalar(2, numpy.uint8)], opset=19, id="Q-19-fp16"),
    Case("DequantizeLinear", [(I8, [2, 3]), scalar(0.1, numpy.float32), scalar(2, numpy.int8)], opset=13),
    Case("DequantizeLinear", [(U8, [2, 3]), scalar(0.1, numpy.float16)], opset=19, id="DQ-19-fp16"),
    Case("DequantizeLinear", [(U8, [2, 3]), scalar(0.1, numpy.float32)], opset=23, output_dtype=TensorProto.FLOAT16, id="DQ-23-dtype"),
    Case("DequantizeLinear", [(I8, [4, 3]), f32(0.1, 0.2, 0.3, 0.4)], axis=0, id="DQ-per-axis"),
    Case("DynamicQuantizeLinear", [(F, [2, 3])], nout=3),
]

ALL = SAME + CONV + MATMUL + TENSOR + REDUCE + QUANT


@pytest.mark.parametrize("case", ALL, ids=[case.id for case in ALL])
def test_rule_matches_onnx(case):
    check_same(case)


def test_every_opset_variant_matches_onnx():
    """Ops whose schema changed across opsets, at each opset a model might use."""
    for opset in (11, 13, 17, 18, 19, 21):
        axes_input = opset >= 13
        check_same(Case("Squeeze", [(F, [1, 3, 1]), i64(0)] if axes_input else [(F, [1, 3, 1])],
                        opset=opset, **({} if axes_input else {"axes": [0]})))
        check_same(Case("Unsqueeze", [(F, [3]), i64(0)] if axes_input else [(F, [3])],
                        opset=opset, **({} if axes_input else {"axes": [0]})))
        reduce_input = opset >= 18
        check_same(Case("ReduceMax", [(F, [2, 3]), i64(1)] if reduce_input else [(F, [2, 3])],
                        opset=opset, **({} if reduce_input else {"axes": [1]})))
        check_same(Case("Split", [(F, [4, 2])], opset=opset, nout=2, **({"num_outputs": 2} if opset >= 18 else {})))
        check_same(Case("MaxPool", [(F, [1, 3, 10, 10])], opset=opset, kernel_shape=[3, 3], strides=[2, 2],
                        pads=[1, 1, 1, 1], ceil_mode=1))
        check_same(Case("Pad", [(F, [2, 3]), i64(0, 1, 0, 2)], opset=opset))


def _random_cases(rng, count):
    """Pools, Convs, ConvTransposes and Slices with random sizes and attributes, at random opsets."""
    for _ in range(count):
        opset = rng.choice([11, 13, 17, 18, 19, 22])
        rank = rng.choice([1, 2, 3])
        spatial = [rng.randint(1, 12) for _ in range(rank)]
        kernel = [rng.randint(1, 5) for _ in range(rank)]
        attrs = {"strides": [rng.randint(1, 4) for _ in range(rank)]}
        if rng.random() < 0.3:
            attrs["dilations"] = [rng.randint(1, 3) for _ in range(rank)]
        if rng.random() < 0.5:
            attrs["pads"] = [rng.randint(0, 3) for _ in range(2 * rank)]
        else:
            attrs["auto_pad"] = rng.choice(["SAME_UPPER", "SAME_LOWER", "VALID", "NOTSET"])
        pool = dict(attrs, kernel_shape=kernel, ceil_mode=rng.choice([0, 1]))
        if opset < 19:
            pool.pop("dilations", None)
        yield Case(rng.choice(["MaxPool", "AveragePool"]), [(F, [2, 3] + spatial)], opset=opset, **pool)
        yield Case("Conv", [(F, [1, 4] + spatial), (F, [6, 2] + kernel)], opset=opset, group=2, **attrs)
        transpose = dict(attrs, output_padding=[rng.randint(0, 1) for _ in range(rank)])
        if "pads" in transpose:
            transpose.pop("auto_pad", None)
        yield Case("ConvTranspose", [(F, [1, 4] + spatial), (F, [4, 3] + kernel)], opset=opset, **transpose)
        dims = [rng.randint(0, 7) for _ in range(rng.randint(1, 3))]
        axes = rng.sample(range(-len(dims), len(dims)), rng.randint(1, len(dims)))
        if len({a % len(dims) for a in axes}) != len(axes):
            axes = list(range(len(axes)))
        ends = [rng.choice([2 ** 63 - 1, -2 ** 63, rng.randint(-9, 9)]) for _ in axes]
        starts = [rng.choice([2 ** 63 - 1, -2 ** 63, rng.randint(-9, 9)]) for _ in axes]
        steps = [rng.choice([-3, -1, 1, 2, 9]) for _ in axes]
        yield Case("Slice", [(F, dims), i64(*starts), i64(*ends), i64(*axes), i64(*steps)], opset=opset)


def test_random_windows_and_slices_match_onnx():
    """Where both give a shape they agree; where the rule declines (ShapeError, False) the inputs
    were invalid or ONNX's answer partial."""
    import random
    agreed = 0
    for case in _random_cases(random.Random(0), 60):
        model, node, shapes, types, values = case.build()
        try:
            expected = onnx_outputs(model)
        except onnx.shape_inference.InferenceError:
            expected = None
        try:
            inferred = shaperules.infer(node, shapes, types, values, case.opset)
        except shaperules.ShapeError:
            continue
        if inferred:
            assert expected is not None, case.attrs
            assert (shapes["o0"], types["o0"]) == expected["o0"], (case.op, case.opset, case.ins, case.attrs)
            agreed += 1
    assert agreed > 150


@pytest.mark.parametrize("case,drop,forget", [
    (Case("Add", [(F, [2]), (F, [2])]), "i1", None),
    (Case("Reshape", [(F, [2, 3]), i64(-1)]), None, "i1"),
    (Case("Slice", [(F, [4]), i64(1), i64(3)]), None, "i1"),
    (Case("Expand", [(F, [1]), i64(3)]), None, "i1"),
    (Case("Pad", [(F, [4]), i64(1, 1)]), None, "i1"),
    (Case("Tile", [(F, [4]), i64(2)]), None, "i1"),
    (Case("TopK", [(F, [4]), i64(2)], nout=2), None, "i1"),
    (Case("Split", [(F, [4]), i64(1, 3)], nout=2), None, "i1"),
    (Case("Unsqueeze", [(F, [4]), i64(0)]), None, "i1"),
    (Case("ReduceSum", [(F, [4]), i64(0)]), None, "i1"),
    (Case("Resize", [(F, [1, 1, 4]), None, f32(1, 1, 2)]), None, "i2"),
    (Case("ConstantOfShape", [i64(2)]), None, "i0"),
    (Case("NonZero", [(F, [4])]), None, None),
    (Case("GroupNormalization", [X4, (F, [3]), (F, [3])], opset=21, num_groups=3), None, None),  # ONNX infers nothing
    (Case("BatchNormalization", [X4, (F, [3]), (F, [3]), (F, [3]), (F, [3])], training_mode=1, nout=3), None, None),
], ids=lambda v: v.id if isinstance(v, Case) else str(v))
def test_unknown_input_missing_value_or_rule_gives_false_and_writes_nothing(case, drop, forget):
    model, node, shapes, types, values = case.build()
    before = dict(shapes)
    if drop:
        shapes.pop(drop)
        before.pop(drop)
    if forget:
        values.pop(forget)
    assert shaperules.infer(node, shapes, types, values, case.opset) is False
    assert shapes == before


def test_custom_domain_gives_false():
    node = helper.make_node("QLinearConv", ["x"], ["y"], domain="com.microsoft")
    assert shaperules.infer(node, {"x": [1, 3, 4, 4]}, {"x": U8}, {}, 17) is False
    node = helper.make_node("Relu", ["x"], ["y"], domain="ai.onnx")
    shapes, types = {"x": [2]}, {"x": F}
    assert shaperules.infer(node, shapes, types, {}, 17) and shapes["y"] == [2]


@pytest.mark.parametrize("case", [
    Case("Add", [(F, [2, 3]), (F, [4])]), Case("Add", [(F, [2]), (F16, [2])], id="Add-types"),
    Case("Conv", [X4, (F, [6, 4, 3, 3])], id="Conv-channels"),
    Case("Conv", [X4, (F, [6, 3, 3])], id="Conv-rank"),
    Case("MatMul", [(F, [2, 3]), (F, [4, 5])]), Case("Gemm", [(F, [2, 3]), (F, [2, 5])]),
    Case("Concat", [(F, [2, 3]), (F, [3, 3])], axis=1), Case("Concat", [(F, [2, 3]), (F, [3])], axis=0, id="Concat-rank"),
    Case("Reshape", [(F, [2, 3]), i64(4, 2)]), Case("Reshape", [(F, [2, 3]), i64(-1, 4)], id="Reshape-minus1"),
    Case("Reshape", [(F, [2, 3]), i64(-1, -1)], id="Reshape-two"),
    Case("Squeeze", [(F, [2, 3]), i64(0)]), Case("Split", [(F, [5])], nout=2),
    Case("Split", [(F, [5]), i64(2, 2)], nout=2, id="Split-sum"),
    Case("Transpose", [(F, [2, 3])], perm=[0, 0]), Case("Gather", [(F, [2, 3]), (I64, [1])], axis=2),
    Case("TopK", [(F, [2, 3]), i64(4)], nout=2), Case("MaxPool", [X4], id="MaxPool-no-kernel"),
    Case("Slice", [(F, [4]), i64(0), i64(2), i64(0), i64(0)], id="Slice-step0"),
    Case("Expand", [(F, [3]), i64(2)]),
], ids=lambda c: c.id)
def test_inconsistent_inputs_raise_shape_error(case):
    model, node, shapes, types, values = case.build()
    with pytest.raises(shaperules.ShapeError):
        shaperules.infer(node, shapes, types, values, case.opset)


def test_first_opsets_are_onnx_schemas_oldest():
    """An op a model's opset does not have yet gets no rule (ONNX infers nothing for it)."""
    for op in shaperules._RULES:
        oldest = min(onnx.defs.get_schema(op, version, "").since_version for version in range(1, 24)
                     if _has_schema(op, version))
        assert shaperules._SINCE.get(op, 1) == oldest, op
    model, node, shapes, types, values = Case("Mish", [(F, [2])], opset=17).build()
    assert shaperules.infer(node, shapes, types, values, 17) is False
    # Before opset 7 the schemas differ (no inference at all for Relu-1): no rule applies.
    model, node, shapes, types, values = Case("Relu", [(F, [2])], opset=5).build()
    assert onnx_outputs(model).get("o0", (None, 0))[0] is None
    assert shaperules.infer(node, shapes, types, values, 5) is False


def _has_schema(op, version):
    try:
        onnx.defs.get_schema(op, version, "")
    except Exception:  # noqa: BLE001  (SchemaError: none that old)
        return False
    return True


def test_no_onnx_import():
    folder = os.path.dirname(shaperules.__file__)
    for name in sorted(os.listdir(folder)):
        if name.endswith(".py"):
            source = open(os.path.join(folder, name)).read()
            assert "import onnx" not in source and "from onnx" not in source, name


# ---------------------------------------------------------------------------------------------
# Whole models: the pure pass over a torchvision export, against ONNX on the same graph.


def pure_pass(model, batch=2, limit=4096):
    """Walk the graph the way the pure-Python path does. Returns (shapes, types, blocked nodes)."""
    graph = model.graph
    opset = [imp.version for imp in model.opset_import if imp.domain in ("", "ai.onnx")][0]
    shapes, types, values = {}, {}, {}
    inits = set()
    for tensor in graph.initializer:
        inits.add(tensor.name)
        shapes[tensor.name], types[tensor.name] = list(tensor.dims), tensor.data_type
        count = int(numpy.prod(tensor.dims)) if tensor.dims else 1
        if count * 8 <= limit and tensor.data_location != TensorProto.EXTERNAL:
            values[tensor.name] = numpy_helper.to_array(tensor)
    for vi in graph.input:
        if vi.name not in inits:
            dims = [d.dim_value if d.HasField("dim_value") else batch for d in vi.type.tensor_type.shape.dim]
            shapes[vi.name], types[vi.name] = dims, vi.type.tensor_type.elem_type
    blocked = []
    for node in graph.node:
        if node.op_type == "Constant":
            assert shaperules.infer(node, shapes, types, values, opset)
            values[node.output[0]] = fold.constant_value(node)
            continue
        results = fold.fold_node(node, shapes, values)
        if results is not None:
            for name, value in zip(node.output, results):
                values[name], shapes[name], types[name] = value, list(value.shape), fold.onnx_dtype(value.dtype)
            continue
        if not shaperules.infer(node, shapes, types, values, opset):
            blocked.append(node)
    return shapes, types, blocked


def onnx_pass(model, batch=2):
    """ONNX's inference on the same graph (large weights as dims only), batch made concrete."""
    light = onnx.ModelProto()
    light.CopyFrom(model)
    for vi in light.graph.input:
        for dim in vi.type.tensor_type.shape.dim:
            if not dim.HasField("dim_value"):
                dim.dim_value = batch
    for vi in light.graph.output:
        vi.type.tensor_type.ClearField("shape")
    for tensor in light.graph.initializer:
        if tensor.data_location == TensorProto.EXTERNAL or len(tensor.raw_data) > 4096:
            dims, data_type, name = list(tensor.dims), tensor.data_type, tensor.name
            tensor.Clear()
            tensor.name, tensor.data_type = name, data_type
            tensor.dims.extend(dims)
    inferred = onnx.shape_inference.infer_shapes(light, data_prop=True)
    found = {}
    for vi in list(inferred.graph.value_info) + list(inferred.graph.output):
        tensor_type = vi.type.tensor_type
        if tensor_type.HasField("shape"):
            dims = [d.dim_value if d.HasField("dim_value") else None for d in tensor_type.shape.dim]
            if None not in dims:
                found[vi.name] = (dims, tensor_type.elem_type)
    return found


def compare(model):
    """(number of node outputs, blocked op types, mismatches, tensors ONNX knows that the pass does not)."""
    shapes, types, blocked = pure_pass(model)
    blocked = [(node.domain, node.op_type) for node in blocked]
    expected = onnx_pass(model)
    outputs = [name for node in model.graph.node for name in node.output if name]
    mismatches = [(name, (shapes.get(name), types.get(name)), expected[name]) for name in outputs
                  if name in expected and name in shapes and (shapes[name], types[name]) != expected[name]]
    missing = [name for name in outputs if name not in shapes]
    return len(outputs), blocked, mismatches, missing


def _export(tmp_path_factory, name, side, builder):
    torch = pytest.importorskip("torch")
    pytest.importorskip("torchvision")
    path = str(tmp_path_factory.mktemp(name) / (name + ".onnx"))
    model = builder().eval()  # exported with grad enabled: no fused attention fast path in the trace
    torch.onnx.export(model, torch.randn(1, 3, side, side), path, dynamo=False, opset_version=17,
                      input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
                      do_constant_folding=False, training=torch.onnx.TrainingMode.PRESERVE)
    return onnx.load(path)


def _tv(name, **kwargs):
    def build():
        import torchvision
        return torchvision.models.get_model(name, weights=None, **kwargs)
    return build


def _tiny_vit():
    import torchvision
    return torchvision.models.VisionTransformer(image_size=32, patch_size=16, num_layers=1, num_heads=2,
                                                hidden_dim=32, mlp_dim=64, num_classes=10)


FAST_MODELS = [("resnet18", 64, _tv("resnet18")), ("mobilenet_v3_small", 64, _tv("mobilenet_v3_small")),
               ("squeezenet1_1", 64, _tv("squeezenet1_1")), ("tiny_vit", 32, _tiny_vit)]
SLOW_MODELS = [("swin_t", 224, _tv("swin_t")), ("googlenet", 224, _tv("googlenet", aux_logits=False, init_weights=False)),
               ("maxvit_t", 224, _tv("maxvit_t"))]


@pytest.fixture(scope="module", params=FAST_MODELS, ids=[m[0] for m in FAST_MODELS])
def fast_export(request, tmp_path_factory):
    name, side, builder = request.param
    return _export(tmp_path_factory, name, side, builder)


def test_pure_pass_matches_onnx_on_torchvision_exports(fast_export):
    count, blocked, mismatches, missing = compare(fast_export)
    assert mismatches == []
    assert blocked == [] and missing == []


@pytest.mark.skipif(not os.environ.get("EDGEPROF_SLOW"), reason="EDGEPROF_SLOW=1 runs the big exports")
@pytest.mark.parametrize("name,side,builder", SLOW_MODELS, ids=[m[0] for m in SLOW_MODELS])
def test_pure_pass_matches_onnx_on_big_exports(tmp_path_factory, name, side, builder):
    count, blocked, mismatches, missing = compare(_export(tmp_path_factory, name, side, builder))
    assert mismatches == []
    assert blocked == [] and missing == []


@pytest.fixture(scope="module")
def variants(tmp_path_factory):
    """test_costs_variants' small network as fp32, fp16 (weights behind Cast), QDQ int8 (edgeprof's
    own), and ONNX Runtime's dynamic and QOperator int8 (the files that test's ``tiny`` fixture makes)."""
    pytest.importorskip("torch")
    pytest.importorskip("onnxconverter_common")
    pytest.importorskip("onnxruntime.quantization")
    from test_costs_variants import write_variants  # Conv, BatchNorm, depthwise Conv, MatMul on tokens, Gemm

    paths = write_variants(tmp_path_factory.mktemp("variants"))
    paths["fp16"] = paths.pop("nofold.fp16")
    return {name: onnx.load(path) for name, path in paths.items()}


@pytest.mark.parametrize("name", ["fp32", "nofold", "fp16", "int8", "dynamic"])
def test_pure_pass_matches_onnx_on_precision_variants(variants, name):
    count, blocked, mismatches, missing = compare(variants[name])
    assert mismatches == [] and blocked == [] and missing == []


def test_pure_pass_on_qoperator_int8_stops_only_at_contrib_ops(variants):
    model = variants["qoperator"]
    ops = {node.op_type for node in model.graph.node}
    assert {"QLinearConv", "QLinearMatMul"} <= ops
    shapes, types, blocked = pure_pass(model)
    known = set(shapes)
    first = [node for node in blocked if all(name in known for name in node.input if name)]
    assert first and {node.domain for node in first} == {"com.microsoft"}
    count, _, mismatches, _ = compare(model)
    assert mismatches == []
