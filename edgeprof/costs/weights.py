"""Which initializers are weights, which layer holds each, and what a weight reaches its layer through.

A weight reaches its layer directly or through nodes that read only constants ("weight transforms":
the Transpose of an export without constant folding, the DequantizeLinear of an int8 QDQ file, the
Cast of a mixed-precision file, Reshape, Identity...). Such a node is computed once when the runtime
builds the model, costs nothing and holds nothing: its output is a view of the weights behind it,
whose parameters go to the layer that reads the view. Settings read by a transform (DequantizeLinear's
scale and zero point, Reshape's shape) are not weights, and a quantized integer tensor is a weight
when it is read as data by a quantized op (docs/analysis-conventions.md, "Precision variants").
"""
from edgeprof.costs.graph import numel

# Input slots of known ops that carry settings or running statistics, not learned weights. The
# quantized ops' slots follow the ONNX operator specification (https://onnx.ai/onnx/operators/):
# QuantizeLinear(x, y_scale, y_zero_point), DequantizeLinear(x, x_scale, x_zero_point),
# QLinearConv(x, x_scale, x_zero_point, w, w_scale, w_zero_point, y_scale, y_zero_point, B),
# QLinearMatMul(a, a_scale, a_zero_point, b, b_scale, b_zero_point, y_scale, y_zero_point),
# ConvInteger(x, w, x_zero_point, w_zero_point), MatMulInteger(A, B, a_zero_point, b_zero_point).
NON_WEIGHT_INPUTS = {
    "BatchNormalization": (3, 4), "Resize": (1, 2, 3), "Upsample": (1,), "Clip": (1, 2),
    "Pad": (1, 2, 3), "Reshape": (1,), "Expand": (1,), "Tile": (1,), "Slice": (1, 2, 3, 4),
    "Squeeze": (1,), "Unsqueeze": (1,), "Split": (1,), "Pow": (1,), "Dropout": (1, 2),
    "ReduceSum": (1,), "ReduceMean": (1,), "ReduceMax": (1,), "ReduceMin": (1,), "TopK": (1,),
    "QuantizeLinear": (1, 2), "DequantizeLinear": (1, 2), "Gather": (1,),
    "QLinearConv": (1, 2, 4, 5, 6, 7), "QLinearMatMul": (1, 2, 4, 5, 6, 7),
    "ConvInteger": (2, 3), "MatMulInteger": (2, 3),
}
# Slots that read quantized data (same specification): an integer initializer read there is a
# weight, stored as integers (an int8 weight, or the int32 bias of QLinearConv and of a QDQ Conv).
QUANTIZED_DATA_INPUTS = {
    "DequantizeLinear": (0,), "QLinearConv": (0, 3, 8), "QLinearMatMul": (0, 3),
    "ConvInteger": (0, 1), "MatMulInteger": (0, 1),
}
# The data inputs of the matrix products: one of them constant makes the layer fully connected.
MATMUL_DATA_INPUTS = {"MatMul": (0, 1), "QLinearMatMul": (0, 3), "MatMulInteger": (0, 1)}
# Ops whose MACs always count, even on constant inputs (torchvision counts them at every forward).
MAC_OPS = frozenset(("Conv", "ConvTranspose", "Gemm", "MatMul", "Einsum",
                     "QLinearConv", "QLinearMatMul", "ConvInteger", "MatMulInteger"))
# ONNX TensorProto.DataType codes of the floating-point types: initializers of these types are
# weights wherever they are read in a weight slot.
FLOAT_DTYPES = frozenset((1, 10, 11, 16, 17, 18, 19, 20, 23))
# Ops that change only the number format of one tensor (input 0), not its meaning.
_FORMAT_OPS = frozenset(("QuantizeLinear", "DequantizeLinear", "Cast", "CastLike"))


def _standard(node):
    return node.domain in ("", "ai.onnx")


def mark_constant_outputs(model, view):
    """Count as constants the outputs of nodes, other than the MAC ops, that read only constants.

    Such a node is computed once when a runtime builds the model, whether or not edgeprof could
    compute its value: it costs nothing (``rules.layer_row``). The common cases are an export
    without constant folding writing ``nn.Linear`` on a rank-3 or rank-4 input (ViT, Swin,
    ConvNeXt) as ``MatMul(x, Transpose(W))``, and an int8 QDQ file writing every weight as
    ``DequantizeLinear(W_int8, scale, zero_point)``: the layer reads a view of the weight, not
    the initializer. Marking the view as a constant makes such a MatMul fully connected;
    ``view.sources`` remembers the initializers behind each view (not those read in a settings
    slot: a scale is not a weight), ``view.quantized`` the integer initializers read as quantized
    data, and ``view.weight_views`` the views holding a weight (a weight, not an activation: it
    takes no activation memory).
    """
    for node in model.graph.node:
        for index in QUANTIZED_DATA_INPUTS.get(node.op_type, ()) if _standard(node) else ():
            if index < len(node.input) and node.input[index] in view.initializers:
                view.quantized.add(node.input[index])
    for node in model.graph.node:
        inputs = [name for name in node.input if name]
        if (node.op_type in MAC_OPS or not _standard(node) or not inputs
                or not all(name in view.constants for name in inputs)):
            continue
        skip = NON_WEIGHT_INPUTS.get(node.op_type, ())
        sources = [source for index, name in enumerate(node.input) if name and index not in skip
                   for source in ([name] if name in view.initializers else view.sources.get(name, []))]
        holds_weight = any(is_weight(view.initializers[source], view) for source in sources)
        for name in node.output:
            if name:
                view.constants.add(name)
                view.sources[name] = sources
                if holds_weight:
                    view.weight_views.add(name)


def is_weight(tensor, view):
    """A floating-point initializer, or an integer one read as quantized data, of rank >= 1.

    Rank-0 tensors are constants of the code (epsilon, scale factors, per-tensor zero points).
    """
    return len(tensor.dims) > 0 and (tensor.data_type in FLOAT_DTYPES or tensor.name in view.quantized)


def attribute_params(model, view, layers):
    """Add each weight initializer's elements to the first layer that reads it as a weight.

    A weight (:func:`is_weight`) counts when read in a slot other than the settings and statistics
    slots of NON_WEIGHT_INPUTS (BatchNormalization's running mean and variance, Resize scales,
    Clip bounds, quantization scales and zero points...), directly or through nodes computing
    only on constants (:func:`mark_constant_outputs`; those nodes hold nothing). A bias added
    right after a fully connected matrix product belongs to that FC layer, also when the product's
    output reaches the Add through a change of number format (:func:`format_origins`).
    """
    counted = set()
    nodes = [node for node in model.graph.node if node.op_type != "Constant"]
    fc_outputs = {node.output[0] for node, layer in zip(nodes, layers) if layer["fc"]}
    origin = format_origins(model, view)
    for node, layer in zip(nodes, layers):
        if all(name in view.sources for name in node.output if name):
            continue
        skip = NON_WEIGHT_INPUTS.get(node.op_type, ())
        for index, read in enumerate(node.input):
            for name in [read] if read in view.initializers else view.sources.get(read, []):
                if name in counted or index in skip or not is_weight(view.initializers[name], view):
                    continue
                counted.add(name)
                layer["params"] += numel(list(view.initializers[name].dims))
                if node.op_type == "Add" and fc_outputs.intersection(origin(other) for other in node.input):
                    layer["fc"] = True


def format_origins(model, view):
    """A function from a tensor to the tensor it is a re-encoding of (itself when it is none).

    Quantized files put number-format changes between a layer and the next: QDQ writes
    ``MatMul -> QuantizeLinear -> DequantizeLinear -> Add(bias)``, ONNX Runtime's dynamic
    quantization ``MatMulInteger -> Cast -> Mul(scale) -> Add(bias)``, where the scale is a
    product of DynamicQuantizeLinear's ``y_scale`` output and constants. The origin of a tensor
    is found by walking back through those nodes.
    """
    scales, back = set(), {}
    for node in model.graph.node:
        if not _standard(node) or not node.output:
            continue
        if node.op_type == "DynamicQuantizeLinear" and len(node.output) > 1:
            scales.add(node.output[1])
        elif node.op_type in _FORMAT_OPS and node.input and node.input[0] and view.is_activation(node.input[0]):
            back[node.output[0]] = node.input[0]
        elif node.op_type == "Mul" and len(node.input) == 2:
            scaled = [name for name in node.input if name in scales]
            if scaled and all(name in scales or name in view.constants for name in node.input):
                scales.add(node.output[0])  # a product of scales is a scale
            elif len(scaled) == 1:
                back[node.output[0]] = [name for name in node.input if name not in scales][0]

    def origin(name):
        seen = set()
        while name in back and name not in seen:
            seen.add(name)
            name = back[name]
        return name
    return origin
