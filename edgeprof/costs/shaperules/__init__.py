"""Shape inference for one ONNX node at a time, in plain Python, without the onnx package.

``infer(node, shapes, types, values, opset)`` writes the sizes and element type of every output of
a node whose inputs are known, with the same result as ONNX's own inference
(``onnx.shape_inference.infer_shapes(model, data_prop=True)``) for the node's schema at ``opset``.
Each rule (in the modules of this package, by op family: ``pointwise``, ``windows``, ``linear``,
``layout``, ``reduce``, ``generate``, ``quant``; ``common`` holds what they share) copies the
TypeAndShapeInferenceFunction of its op in github:onnx/onnx, tag
v1.22.0 (unchanged in main @ f7546912, the 1.23 line, for what is used here); the tests check
every rule against the installed onnx. Paths in the comments are under onnx/defs/.

A rule never guesses. Where ONNX's inference leaves a size unknown (a shape input that is not a
known value, an attribute variant not handled here, an older opset whose schema differs), the
rule returns None and ``infer`` returns False: the caller then falls back to ONNX. Where the
inputs are inconsistent, ShapeError is raised (ONNX either fails too or, for a few mistakes that
ONNX lets through such as Conv channels that do not match, would give a shape no runtime can
produce); the caller then falls back to ONNX as well, which gives the user its message.

Attributes are read only through ``edgeprof.costs.graph.attr`` (ints, floats, bytes or str for
strings, lists, and a tensor with ``.dims`` and ``.data_type`` for a TENSOR attribute). Values
(``values``) are numpy arrays; numpy itself is never imported here.
"""
from edgeprof.costs.shaperules.common import ShapeError, _Node, _OLDEST  # noqa: F401  (ShapeError: the API)
from edgeprof.costs.shaperules.generate import _constant, _constant_of_shape, _range, _resize, _shape, _size
from edgeprof.costs.shaperules.layout import (
    _concat, _expand, _flatten, _gather, _gather_elements, _gather_nd, _pad, _reshape, _slice, _split, _squeeze,
    _tile, _transpose, _unsqueeze)
from edgeprof.costs.shaperules.linear import _einsum, _gemm, _matmul, _matmul_integer, _qlinear_matmul
from edgeprof.costs.shaperules.pointwise import (
    _batch_norm, _binary, _cast, _cast_like, _compare, _dropout, _layer_norm, _pow, _prelu, _same, _softmax,
    _unary_bool, _variadic, _where)
from edgeprof.costs.shaperules.quant import _dequantize, _dynamic_quantize, _quantize
from edgeprof.costs.shaperules.reduce import _arg_reduce, _reduce, _topk
from edgeprof.costs.shaperules.windows import (
    _conv_integer, _conv_rule, _conv_transpose, _global_pool, _pool, _qlinear_conv)


def infer(node, shapes, types, values, opset):
    """Infer the outputs of one node whose inputs' shapes are known.

    Returns True after writing ``shapes[name]`` and ``types[name]`` for every non-empty output;
    False, writing nothing, when there is no rule for the op, its domain is not the default one,
    an input's shape or type is unknown, or a value the output shape depends on is not in
    ``values``. Raises ShapeError when the inputs are inconsistent.
    """
    if node.domain not in ("", "ai.onnx"):
        return False
    rule = _RULES.get(node.op_type)
    if rule is None or opset < _SINCE.get(node.op_type, _OLDEST):
        return False
    names = list(node.input)
    while names and not names[-1]:
        names.pop()  # trailing absent optionals are as if not given
    ins, tys = [], []
    for name in names:
        if not name:
            ins.append(None)
            tys.append(None)
            continue
        shape, elem = shapes.get(name), types.get(name)
        if shape is None or not elem:
            return False
        ins.append(shape)
        tys.append(elem)
    outputs = list(node.output)
    results = rule(_Node(node, names, outputs, values, opset), ins, tys)
    if results is None:
        return False
    count = len(results)
    for index, name in enumerate(outputs):
        if name and (index >= count or results[index] is None):
            return False
    for index, name in enumerate(outputs):
        if name:
            shape, elem = results[index]
            shapes[name] = list(shape)
            types[name] = elem
    return True


# ---------------------------------------------------------------------------------------------
# The table: op type -> rule. Ops absent here return False. GroupNormalization is left out on
# purpose: its schema (nn/defs.cc GroupNormalization-21, nn/old.cc -18) has no inference function
# and ONNX 1.23's infer_shapes leaves its output unknown.

_SAME_AS_INPUT = (
    # math/defs.cc: propagateShapeAndTypeFromFirstInput (UnaryFloatMathOpGenerator and the rest).
    "Relu", "Sigmoid", "Tanh", "HardSigmoid", "HardSwish", "LeakyRelu", "Elu", "Selu", "Celu",
    "ThresholdedRelu", "Gelu", "Erf", "Softplus", "Softsign", "Mish", "Exp", "Log", "Sqrt", "Neg",
    "Abs", "Reciprocal", "Floor", "Ceil", "Round", "Sign", "Sin", "Cos", "Tan", "Asin", "Acos",
    "Atan", "Sinh", "Cosh", "Asinh", "Acosh", "Atanh", "Clip", "CumSum", "Shrink",
    # logical/defs.cc Not: unaryLogicalOpInference (bool in, bool out).
    "Not",
    # tensor/defs.cc Identity, Trilu; ScatterND, ScatterElements: the data input's.
    "Identity", "Trilu", "ScatterND", "ScatterElements",
    # nn/defs.cc: LRN, InstanceNormalization, LpNormalization, MeanVarianceNormalization.
    "LRN", "InstanceNormalization", "LpNormalization", "MeanVarianceNormalization",
)

_RULES = dict((op, _same) for op in _SAME_AS_INPUT)
_RULES.update({
    "Add": _binary, "Sub": _binary, "Mul": _binary, "Div": _binary, "Mod": _binary, "Pow": _pow,
    "Equal": _compare, "Less": _compare, "Greater": _compare, "LessOrEqual": _compare,
    "GreaterOrEqual": _compare, "And": _compare, "Or": _compare, "Xor": _compare,
    "IsNaN": _unary_bool, "IsInf": _unary_bool,
    "Max": _variadic, "Min": _variadic, "Sum": _variadic, "Mean": _variadic, "Where": _where,
    "PRelu": _prelu, "Softmax": _softmax, "LogSoftmax": _softmax, "Hardmax": _softmax,
    "Cast": _cast, "CastLike": _cast_like, "Dropout": _dropout,
    "BatchNormalization": _batch_norm, "LayerNormalization": _layer_norm,
    "Conv": _conv_rule, "ConvInteger": _conv_integer, "QLinearConv": _qlinear_conv,
    "ConvTranspose": _conv_transpose,
    "MaxPool": _pool, "AveragePool": _pool, "LpPool": _pool,
    "GlobalAveragePool": _global_pool, "GlobalMaxPool": _global_pool, "GlobalLpPool": _global_pool,
    "Gemm": _gemm, "MatMul": _matmul, "MatMulInteger": _matmul_integer,
    "QLinearMatMul": _qlinear_matmul, "Einsum": _einsum,
    "Flatten": _flatten, "Reshape": _reshape, "Transpose": _transpose, "Squeeze": _squeeze,
    "Unsqueeze": _unsqueeze, "Concat": _concat, "Split": _split, "Slice": _slice,
    "Gather": _gather, "GatherElements": _gather_elements, "GatherND": _gather_nd,
    "Expand": _expand, "Tile": _tile, "Pad": _pad,
    "ArgMax": _arg_reduce, "ArgMin": _arg_reduce, "TopK": _topk,
    "Shape": _shape, "Size": _size, "ConstantOfShape": _constant_of_shape, "Constant": _constant,
    "Range": _range, "Resize": _resize,
    "QuantizeLinear": _quantize, "DequantizeLinear": _dequantize,
    "DynamicQuantizeLinear": _dynamic_quantize,
})
# The first opset of each op that is not in opset 1 (the since_version of its oldest schema):
# before it the op is not a standard one and ONNX infers nothing.
_SINCE = {
    "Sin": 7, "Cos": 7, "Tan": 7, "Asin": 7, "Acos": 7, "Atan": 7, "Expand": 8,
    "Sinh": 9, "Cosh": 9, "Asinh": 9, "Acosh": 9, "Atanh": 9, "ConstantOfShape": 9, "Erf": 9,
    "IsNaN": 9, "MeanVarianceNormalization": 9, "Shrink": 9, "Sign": 9, "Where": 9,
    "ConvInteger": 10, "DequantizeLinear": 10, "IsInf": 10, "MatMulInteger": 10, "Mod": 10,
    "QLinearConv": 10, "QLinearMatMul": 10, "QuantizeLinear": 10, "Resize": 10, "ThresholdedRelu": 10,
    "CumSum": 11, "DynamicQuantizeLinear": 11, "GatherElements": 11, "GatherND": 11, "Range": 11,
    "Round": 11, "ScatterElements": 11, "ScatterND": 11,
    "Celu": 12, "Einsum": 12, "GreaterOrEqual": 12, "LessOrEqual": 12,
    "HardSwish": 14, "Trilu": 14, "CastLike": 15, "LayerNormalization": 17, "Mish": 18, "Gelu": 20,
}
for _op in ("ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
            "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare"):
    _RULES[_op] = _reduce
