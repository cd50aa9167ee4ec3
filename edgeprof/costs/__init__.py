"""Static costs of an ONNX model from its graph alone: parameters, MACs, the paper's operations,
weight and activation memory, per layer and in total.

Nothing is run and no weight is read: initializer sizes come from their dims and data type, and
output shapes from ONNX shape inference on a copy of the graph whose large initializers carry only
their dims (a 550 MB VGG-19 file takes about a second, not the ~9 s and 2.9 GB of inferring the
full model). The counting rules are in docs/analysis-conventions.md. This is a workstation
module: it imports onnx inside its functions, and the agent never imports it.
"""
import os

from edgeprof.errors import InputFileError, UsageError
from edgeprof.util import one_line

# Bits per element of each ONNX TensorProto.DataType (STRING and UNDEFINED have no fixed size).
_DTYPE_BITS = {1: 32, 2: 8, 3: 8, 4: 16, 5: 16, 6: 32, 7: 64, 9: 8, 10: 16, 11: 64, 12: 32,
               13: 64, 14: 64, 15: 128, 16: 16, 17: 8, 18: 8, 19: 8, 20: 8, 21: 4, 22: 4, 23: 4}
_FLOAT_DTYPES = frozenset((1, 10, 11, 16, 17, 18, 19, 20, 23))
_EXTERNAL = 1  # TensorProto.DataLocation.EXTERNAL
# Initializers larger than this go into shape inference as dims only (shape tensors are far smaller).
_INLINE_LIMIT_BYTES = 4096

# Input slots of known ops that carry settings or running statistics, not learned weights.
_NON_WEIGHT_INPUTS = {
    "BatchNormalization": (3, 4), "Resize": (1, 2, 3), "Upsample": (1,), "Clip": (1, 2),
    "Pad": (1, 2, 3), "Reshape": (1,), "Expand": (1,), "Tile": (1,), "Slice": (1, 2, 3, 4),
    "Squeeze": (1,), "Unsqueeze": (1,), "Split": (1,), "Pow": (1,), "Dropout": (1, 2),
    "ReduceSum": (1,), "ReduceMean": (1,), "ReduceMax": (1,), "ReduceMin": (1,), "TopK": (1,),
    "QuantizeLinear": (1, 2), "DequantizeLinear": (1, 2), "Gather": (1,),
}

# Ops that move or relabel data: no MACs, no operations.
_ZERO_COST = frozenset((
    "Concat", "Flatten", "Reshape", "Transpose", "Squeeze", "Unsqueeze", "Identity", "Dropout",
    "Shape", "Size", "Gather", "GatherElements", "Slice", "Split", "Pad", "Expand", "Tile", "Cast",
    "CastLike", "Constant", "ConstantOfShape", "Range", "DepthToSpace", "SpaceToDepth",
    "QuantizeLinear", "DequantizeLinear",
))
# Normalisations: the paper's counter counts nothing for batch norm; the others follow it.
_NORMALISATION = frozenset((
    "BatchNormalization", "InstanceNormalization", "LayerNormalization", "GroupNormalization",
    "LpNormalization", "MeanVarianceNormalization",
))
# One operation per output element (the paper's rule for ReLU, applied to every pointwise op).
_POINTWISE = frozenset((
    "Relu", "LeakyRelu", "PRelu", "Elu", "Selu", "Celu", "Gelu", "Mish", "Sigmoid", "HardSigmoid",
    "HardSwish", "Tanh", "Softplus", "Softsign", "ThresholdedRelu", "Clip", "Erf", "Exp", "Log",
    "Sqrt", "Reciprocal", "Neg", "Abs", "Ceil", "Floor", "Round", "Sign", "Not", "Cos", "Sin",
    "Sub", "Mul", "Div", "Pow", "Max", "Min", "Mean", "Mod", "Equal", "Greater", "GreaterOrEqual",
    "Less", "LessOrEqual", "And", "Or", "Xor", "Where", "Resize", "Upsample",
))
_SUM = frozenset(("Add", "Sum"))
_WINDOW_POOL = frozenset(("MaxPool", "AveragePool", "LpPool"))
# Ops whose work is one operation per input element (global pools, reductions, arg-max).
_PER_INPUT_ELEMENT = frozenset((
    "GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool", "ReduceMean", "ReduceSum", "ReduceMax",
    "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2", "ReduceLogSumExp", "ReduceSumSquare",
    "ArgMax", "ArgMin",
))
_SOFTMAX = frozenset(("Softmax", "LogSoftmax"))
_SOFTMAX_OPS_PER_ELEMENT = 3  # exponential, sum, divide (or subtract for LogSoftmax)


class Analysis:
    """Static costs of one ONNX model at one batch size.

    Attributes:
        path (str): the model file.
        batch (int): images per inference the costs are given for.
        params (int): elements of the initializers used as weights or biases (each counted once).
        macs (int): multiply-accumulates of Conv, ConvTranspose, Gemm and MatMul at ``batch``.
        paper_ops (int): operations in the convention of Canziani et al. (2016) at ``batch``.
        weight_bytes (int): bytes of all initializers stored in the model.
        activation_bytes (int): bytes of every layer's outputs, summed, at ``batch``.
        peak_activation_bytes (int): most bytes of activations alive at once when the layers run
            in graph order, each output in its own buffer, freed after its last reader.
        input_name (str), input_shape (list of int, without batch), opset (int).
        layers (list of dict): name, op_type, output_shape, params, macs, paper_ops,
            activation_bytes, fc; macs and paper_ops are None for a layer that was not costed.
        unsupported_ops (list of str): sorted op types that were not costed.
        fc_params, fc_macs (int): the part held by fully connected layers (Gemm, MatMul with a weight).
        notes (list of str): anything the reader must know to trust the numbers.
    """

    def __init__(self, path, batch, opset, input_name, input_shape, layers, weight_bytes,
                 peak_activation_bytes, notes):
        self.path = path
        self.batch = batch
        self.opset = opset
        self.input_name = input_name
        self.input_shape = input_shape
        self.layers = layers
        self.weight_bytes = weight_bytes
        self.peak_activation_bytes = peak_activation_bytes
        self.notes = notes
        self.params = sum(layer["params"] for layer in layers)
        self.macs = sum(layer["macs"] or 0 for layer in layers)
        self.paper_ops = sum(layer["paper_ops"] or 0 for layer in layers)
        self.activation_bytes = sum(layer["activation_bytes"] for layer in layers)
        self.unsupported_ops = sorted({layer["op_type"] for layer in layers if layer["macs"] is None})
        self.fc_params = sum(layer["params"] for layer in layers if layer["fc"])
        self.fc_macs = sum(layer["macs"] or 0 for layer in layers if layer["fc"])

    def summary(self):
        """The totals, as plain types (for the manifest and ``inspect --json``)."""
        return {
            "params": self.params,
            "macs": self.macs,
            "paper_ops": self.paper_ops,
            "weight_bytes": self.weight_bytes,
            "peak_activation_bytes": self.peak_activation_bytes,
            "opset": self.opset,
            "input_name": self.input_name,
            "input_shape": list(self.input_shape),
            "unsupported_ops": list(self.unsupported_ops),
            "fc_params": self.fc_params,
            "fc_macs": self.fc_macs,
        }


def analyze(path, batch=1):
    """Count the static costs of the ONNX model at ``path`` for ``batch`` images per inference.

    Args:
        path (str): an .onnx file (weights inside it or in external data files next to it).
        batch (int): images per inference; the model's batch axis must be dynamic, or fixed at 1
            (then the costs are scaled by ``batch``), or fixed at ``batch``.

    Returns:
        Analysis

    Raises:
        InputFileError: the file is missing, not ONNX, truncated, or has dynamic non-batch sizes.
        UsageError: the model's batch is fixed at a size other than 1 and ``batch``.
    """
    model = _load(path)
    notes = []
    primary, scale = _set_batch(model, path, batch, notes)
    shapes, bits, folded = _infer_shapes(model, path)
    view = _GraphView(model, shapes, bits, folded)
    layers = [_layer(node, view) for node in model.graph.node if node.op_type != "Constant"]
    _attribute_params(model, view, layers)
    peak_bytes = _peak_activation_bytes(model, view)
    if scale != 1:
        for layer in layers:
            for key in ("macs", "paper_ops", "activation_bytes"):
                if layer[key] is not None:
                    layer[key] *= scale
        peak_bytes *= scale
    if any(layer["output_shape"] is None or None in layer["output_shape"] for layer in layers):
        notes.append("some output shapes are unknown; their activation bytes count as 0")
    opset = max([imp.version for imp in model.opset_import if imp.domain in ("", "ai.onnx")] or [0])
    input_dims = _dims(primary.type.tensor_type.shape)
    return Analysis(path, batch, opset, primary.name, input_dims[1:], layers,
                    _weight_bytes(model), peak_bytes, notes)


def _load(path):
    """Parse the protobuf without reading external data, and check that the graph is whole."""
    import onnx
    if not os.path.isfile(path):
        raise InputFileError("%s: no such file; give the path of an .onnx model" % path)
    try:
        model = onnx.load(path, load_external_data=False)
    except Exception as exc:  # noqa: BLE001  (protobuf raises several types for garbage and truncation)
        raise InputFileError("%s is not a readable ONNX model (%s); check the file or export it again"
                             % (path, one_line(exc)))
    _check_whole(model, path)
    return model


def _check_whole(model, path):
    """Raise InputFileError when the parsed model is empty or lacks what its nodes read.

    A file cut inside the graph fails to parse (protobuf's length prefixes); one cut after it
    parses without opset imports, or, cut between nodes of a hand-written file, with nodes that read
    names nothing defines.
    """
    graph = model.graph
    if not graph.node or not model.opset_import:
        raise InputFileError("%s is empty or not a whole ONNX model (no %s); check the file or export it again"
                             % (path, "graph nodes" if not graph.node else "opset import"))
    known = {""} | {t.name for t in graph.initializer} | {i.name for i in graph.input}
    for node in graph.node:
        missing = [name for name in node.input if name not in known]
        if missing:
            raise InputFileError("%s is incomplete: node %r reads %r, which nothing defines (truncated "
                                 "file?); export it again" % (path, node.name or node.op_type, missing[0]))
        known.update(node.output)
    folder = os.path.dirname(os.path.abspath(path))
    for tensor in graph.initializer:
        if tensor.data_location == _EXTERNAL:
            location = {e.key: e.value for e in tensor.external_data}.get("location", "")
            if not os.path.isfile(os.path.join(folder, location)):
                raise InputFileError("%s keeps weight %r in %r, which is missing; copy that file next "
                                     "to the model" % (path, tensor.name, location))


def _numel(dims):
    """Product of ``dims``; None when the shape or one of its sizes is unknown."""
    if dims is None or None in dims:
        return None
    count = 1
    for dim in dims:
        count *= dim
    return count


def _tensor_bytes(tensor):
    return (_numel(list(tensor.dims)) * _DTYPE_BITS.get(tensor.data_type, 0) + 7) // 8


def _weight_bytes(model):
    return sum(_tensor_bytes(tensor) for tensor in model.graph.initializer)


def _dims(shape_proto):
    """Sizes of a TensorShapeProto, None for a symbolic or missing size."""
    return [d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else None for d in shape_proto.dim]


def _set_batch(model, path, batch, notes):
    """Give the batch axis of every graph input the size ``batch``.

    Returns:
        (primary input ValueInfoProto, factor to scale batch-proportional counts by)
    """
    initializers = {t.name for t in model.graph.initializer}
    inputs = [vi for vi in model.graph.input if vi.name not in initializers]
    if not inputs:
        raise InputFileError("%s has no graph input; inspect needs a model that takes an input" % path)
    # The primary input's first axis is the batch; a fixed first axis of another input (a
    # parameter such as an image-info vector) is left as it is.
    fixed = (_dims(inputs[0].type.tensor_type.shape) or [None])[0]
    if fixed not in (None, 1, batch):
        raise UsageError("%s has a fixed batch of %d: use --batch %d, or export it with a dynamic "
                         "batch axis" % (path, fixed, fixed))
    scale = batch if fixed == 1 else 1
    for value_info in inputs:
        shape = value_info.type.tensor_type.shape
        dims = _dims(shape)
        if None in dims[1:]:
            raise InputFileError("%s: input %r has a dynamic size besides the batch axis; export it with a "
                                 "fixed input size" % (path, value_info.name))
        if dims and dims[0] is None:
            shape.dim[0].dim_value = batch // scale
    if scale != 1:
        notes.append("the model's batch is fixed at 1: costs and activations are scaled by %d" % scale)
    return inputs[0], scale


def _infer_shapes(model, path):
    """Run ONNX shape inference on a copy whose large initializers carry only dims and type.

    Between rounds of inference, nodes that compute shapes from sizes now known (PyTorch's
    ``x.size()`` becomes Shape, Gather, Div, Concat... feeding a Reshape) are replaced by Constant
    nodes in the copy, until no more can be; ONNX's own data propagation stops at ops like Div.

    Returns:
        (shapes, bits, folded): dicts from tensor name to its list of sizes (None for an unknown
        size; the whole shape is None for an unknown rank) and to its bits per element, and the set
        of tensors that were computed as shape constants.
    """
    light = _light_copy(model)
    values = _known_values(light.graph)
    folded = set()
    while True:
        shapes, bits = _inferred_shapes(light, path)
        names = _fold_shape_math(light.graph, shapes, values)
        if not names:
            break
        folded.update(names)
    for tensor in model.graph.initializer:
        shapes[tensor.name] = list(tensor.dims)
        bits[tensor.name] = _DTYPE_BITS.get(tensor.data_type, 0)
    return shapes, bits, folded


def _light_copy(model):
    """The model without its large weights' data (dims and type only)."""
    import onnx
    light = onnx.ModelProto()
    light.ir_version = model.ir_version
    light.opset_import.extend(model.opset_import)
    if hasattr(model, "functions"):  # IR 8 (onnx >= 1.10)
        light.functions.extend(model.functions)
    graph = light.graph
    graph.node.extend(model.graph.node)
    graph.input.extend(model.graph.input)
    graph.output.extend(model.graph.output)
    for tensor in model.graph.initializer:
        copy = graph.initializer.add()
        if tensor.data_location != _EXTERNAL and _tensor_bytes(tensor) <= _INLINE_LIMIT_BYTES:
            copy.CopyFrom(tensor)
        else:
            copy.name = tensor.name
            copy.data_type = tensor.data_type
            copy.dims.extend(tensor.dims)
    return light


def _inferred_shapes(light, path):
    import onnx
    try:
        inferred = onnx.shape_inference.infer_shapes(light, data_prop=True)
    except Exception as exc:  # noqa: BLE001  (onnx raises InferenceError and others)
        raise InputFileError("%s: ONNX shape inference failed (%s); check the model with onnx.checker"
                             % (path, one_line(exc)))
    shapes, bits = {}, {}
    for value_info in list(inferred.graph.value_info) + list(inferred.graph.input) + list(inferred.graph.output):
        tensor_type = value_info.type.tensor_type
        shapes[value_info.name] = _dims(tensor_type.shape) if tensor_type.HasField("shape") else None
        bits[value_info.name] = _DTYPE_BITS.get(tensor_type.elem_type, 0)
    return shapes, bits


# Shape math: small tensors only, so that no activation is ever computed.
_SHAPE_MATH_MAX_ELEMENTS = 64
_SHAPE_MATH_OPS = frozenset(("Shape", "Gather", "Unsqueeze", "Squeeze", "Concat", "Slice", "Cast", "Add",
                             "Sub", "Mul", "Div", "Floor", "Ceil", "Identity"))


def _known_values(graph):
    """Values of the small initializers and Constant nodes that shape math may read."""
    from onnx import numpy_helper
    values = {}
    for tensor in graph.initializer:
        if (tensor.data_location != _EXTERNAL and _numel(list(tensor.dims)) <= _SHAPE_MATH_MAX_ELEMENTS
                and _tensor_bytes(tensor) <= _INLINE_LIMIT_BYTES):
            values[tensor.name] = numpy_helper.to_array(tensor)
    for node in graph.node:
        if node.op_type == "Constant" and _attr(node, "value", None) is not None:
            values[node.output[0]] = numpy_helper.to_array(_attr(node, "value", None))
    return values


def _fold_shape_math(graph, shapes, values):
    """Replace, in ``graph``, each shape-math node whose inputs are known by a Constant node.

    Args:
        graph: the light copy's GraphProto (changed in place).
        shapes: tensor name -> sizes from the last round of inference.
        values: tensor name -> numpy array of known small values (updated).

    Returns:
        list of str: the outputs that were folded.
    """
    from onnx import helper, numpy_helper
    nodes, folded = [], []
    for node in graph.node:
        value = _shape_math(node, shapes, values)
        if value is None:
            nodes.append(node)
            continue
        values[node.output[0]] = value
        folded.append(node.output[0])
        nodes.append(helper.make_node("Constant", [], [node.output[0]],
                                      value=numpy_helper.from_array(value, node.output[0])))
    if folded:
        del graph.node[:]
        graph.node.extend(nodes)
    return folded


def _shape_math(node, shapes, values):
    """The value of a shape-math node's single output, or None when it is not computable here."""
    import numpy
    if (node.op_type not in _SHAPE_MATH_OPS or node.domain not in ("", "ai.onnx") or len(node.output) != 1
            or node.output[0] in values):
        return None
    if node.op_type == "Shape":
        dims = shapes.get(node.input[0])
        if dims is None or None in dims:
            return None
        return numpy.array(dims[_attr(node, "start", 0):_attr(node, "end", None)], dtype=numpy.int64)
    if any(name and name not in values for name in node.input):
        return None
    args = [values[name] if name else None for name in node.input]
    if any(arg is not None and arg.size > _SHAPE_MATH_MAX_ELEMENTS for arg in args):
        return None
    try:
        value = numpy.asarray(_evaluate(node, args))
    except (ValueError, IndexError, KeyError, TypeError, ZeroDivisionError, OverflowError):
        return None
    return value if value.size <= _SHAPE_MATH_MAX_ELEMENTS else None


def _evaluate(node, args):
    """Compute one shape-math op on numpy arrays (ONNX semantics, opset 11 and later)."""
    import numpy
    op = node.op_type
    if op == "Gather":
        return numpy.take(args[0], args[1], axis=_attr(node, "axis", 0))
    if op in ("Unsqueeze", "Squeeze"):
        axes = args[1] if len(args) > 1 and args[1] is not None else _attr(node, "axes", None)
        if op == "Squeeze":
            return numpy.squeeze(args[0], axis=None if axes is None else tuple(int(a) for a in axes))
        rank = args[0].ndim + len(axes)
        value = args[0]
        for axis in sorted(int(a) % rank for a in axes):
            value = numpy.expand_dims(value, axis)
        return value
    if op == "Concat":
        return numpy.concatenate(args, axis=_attr(node, "axis", 0))
    if op == "Slice":
        return _slice(args)
    if op == "Cast":
        return args[0].astype(_numpy_dtype(_attr(node, "to", 7)))
    if op == "Div":
        if numpy.issubdtype(args[0].dtype, numpy.integer):
            return numpy.trunc(args[0] / args[1]).astype(args[0].dtype)
        return args[0] / args[1]
    unary = {"Floor": numpy.floor, "Ceil": numpy.ceil, "Identity": numpy.asarray}
    if op in unary:
        return unary[op](args[0])
    binary = {"Add": numpy.add, "Sub": numpy.subtract, "Mul": numpy.multiply}
    return binary[op](args[0], args[1]).astype(args[0].dtype)


def _numpy_dtype(onnx_dtype):
    """numpy dtype of an ONNX data type (onnx >= 1.13 has a helper; older onnx a mapping table)."""
    import onnx
    if hasattr(onnx.helper, "tensor_dtype_to_np_dtype"):
        return onnx.helper.tensor_dtype_to_np_dtype(onnx_dtype)
    return onnx.mapping.TENSOR_TYPE_TO_NP_TYPE[onnx_dtype]


def _slice(args):
    """ONNX Slice with starts, ends and optional axes and steps as inputs."""
    data, starts, ends = args[0], args[1], args[2]
    if starts is None or ends is None:
        raise ValueError("Slice without starts/ends inputs (opset < 10)")
    axes = args[3] if len(args) > 3 and args[3] is not None else range(len(starts))
    steps = args[4] if len(args) > 4 and args[4] is not None else [1] * len(starts)
    index = [slice(None)] * data.ndim
    for start, end, axis, step in zip(starts, ends, axes, steps):
        index[int(axis)] = slice(int(start), int(end), int(step))
    return data[tuple(index)]


class _GraphView:
    """What costing a node needs to know about the tensors around it."""

    def __init__(self, model, shapes, bits, folded):
        self.shapes = shapes
        self.bits = bits
        self.initializers = {t.name: t for t in model.graph.initializer}
        self.constants = set(self.initializers) | folded
        for node in model.graph.node:
            if node.op_type == "Constant":
                self.constants.update(node.output)

    def shape(self, name):
        return self.shapes.get(name) if name else None

    def numel(self, name):
        return _numel(self.shape(name))

    def is_activation(self, name):
        return bool(name) and name not in self.constants

    def nbytes(self, name):
        """Bytes of tensor ``name``; 0 when its shape or type is unknown."""
        count = self.numel(name)
        return 0 if count is None else (count * self.bits.get(name, 0) + 7) // 8


def _attr(node, name, default):
    import onnx
    for attribute in node.attribute:
        if attribute.name == name:
            return onnx.helper.get_attribute_value(attribute)
    return default


def _has_input(node, index):
    return len(node.input) > index and bool(node.input[index])


def _cost_conv(node, view):
    """Conv: each output element takes (C_in / group) * kernel MACs; the paper adds 1 op for the bias."""
    out, kernel = view.numel(node.output[0]), view.shape(node.input[1])
    if out is None or _numel(kernel) is None:
        return None
    macs = out * _numel(kernel[1:])
    return macs, 2 * macs + (out if _has_input(node, 2) else 0)


def _cost_conv_transpose(node, view):
    """ConvTranspose: each input element is spread over (C_out / group) * kernel outputs."""
    inp, out, kernel = view.numel(node.input[0]), view.numel(node.output[0]), view.shape(node.input[1])
    if inp is None or out is None or _numel(kernel) is None:
        return None
    macs = inp * _numel(kernel[1:])
    return macs, 2 * macs + (out if _has_input(node, 2) else 0)


def _cost_gemm(node, view):
    """Gemm: out = A' x B' (+ C); K is A's inner size (after transA)."""
    a, out = view.shape(node.input[0]), view.numel(node.output[0])
    if out is None or a is None or len(a) != 2 or None in a:
        return None
    macs = out * (a[0] if _attr(node, "transA", 0) else a[1])
    return macs, 2 * macs + (out if _has_input(node, 2) else 0)


def _cost_matmul(node, view):
    """MatMul: each output element is a dot product over A's last axis."""
    a, out = view.shape(node.input[0]), view.numel(node.output[0])
    if out is None or not a or a[-1] is None:
        return None
    macs = out * a[-1]
    return macs, 2 * macs


def _cost_window_pool(node, view):
    """Max/Average/LpPool: the paper counts kH * kW operations per output element."""
    out = view.numel(node.output[0])
    if out is None:
        return None
    return 0, out * _numel(list(_attr(node, "kernel_shape", [])))


def _cost_lrn(node, view):
    """LRN: ``size`` operations per element (the cross-channel window, like the pooling rule)."""
    out = view.numel(node.output[0])
    if out is None:
        return None
    return 0, out * _attr(node, "size", 1)


def _cost_sum(node, view):
    """Add/Sum: one operation per element per activation input, so a residual add costs 2."""
    out = view.numel(node.output[0])
    if out is None:
        return None
    return 0, out * max(1, sum(1 for name in node.input if view.is_activation(name)))


def _cost_per_output(ops_per_element):
    def cost(node, view):
        out = view.numel(node.output[0])
        return None if out is None else (0, out * ops_per_element)
    return cost


def _cost_per_input(node, view):
    inp = view.numel(node.input[0])
    return None if inp is None else (0, inp)


def _cost_nothing(node, view):
    return 0, 0


_COSTERS = {"Conv": _cost_conv, "ConvTranspose": _cost_conv_transpose, "Gemm": _cost_gemm,
            "MatMul": _cost_matmul, "LRN": _cost_lrn}
_COSTERS.update((op, _cost_window_pool) for op in _WINDOW_POOL)
_COSTERS.update((op, _cost_sum) for op in _SUM)
_COSTERS.update((op, _cost_per_output(1)) for op in _POINTWISE)
_COSTERS.update((op, _cost_per_output(_SOFTMAX_OPS_PER_ELEMENT)) for op in _SOFTMAX)
_COSTERS.update((op, _cost_per_input) for op in _PER_INPUT_ELEMENT)
_COSTERS.update((op, _cost_nothing) for op in _ZERO_COST | _NORMALISATION)


def _layer(node, view):
    """One row of the per-layer table (params are attributed afterwards)."""
    coster = _COSTERS.get(node.op_type) if node.domain in ("", "ai.onnx") else None
    if all(name in view.constants for name in node.output):
        coster = _cost_nothing  # shape math, computed once when the runtime builds the model
    cost = coster(node, view) if coster else None
    macs, paper_ops = cost if cost else (None, None)
    outputs = [name for name in node.output if name]
    shapes = [view.shape(name) for name in outputs]
    is_fc = node.op_type == "Gemm" or (
        node.op_type == "MatMul" and any(name in view.constants for name in node.input))
    return {"name": node.name or node.output[0], "op_type": node.op_type,
            "output_shape": shapes[0] if shapes else None, "params": 0, "macs": macs,
            "paper_ops": paper_ops, "activation_bytes": sum(view.nbytes(name) for name in outputs),
            "fc": is_fc}


def _attribute_params(model, view, layers):
    """Add each weight initializer's elements to the first layer that reads it as a weight.

    A weight is a floating-point initializer of rank >= 1 read in a slot other than the settings
    and statistics slots of _NON_WEIGHT_INPUTS (BatchNormalization's running mean and variance,
    Resize scales, Clip bounds...). Rank-0 tensors are constants of the code (epsilon, scale
    factors). A bias added right after a fully connected MatMul belongs to that FC layer.
    """
    counted = set()
    nodes = [node for node in model.graph.node if node.op_type != "Constant"]
    fc_outputs = {node.output[0] for node, layer in zip(nodes, layers) if layer["fc"]}
    for node, layer in zip(nodes, layers):
        skip = _NON_WEIGHT_INPUTS.get(node.op_type, ())
        for index, name in enumerate(node.input):
            tensor = view.initializers.get(name)
            if (tensor is None or name in counted or index in skip or len(tensor.dims) == 0
                    or tensor.data_type not in _FLOAT_DTYPES):
                continue
            counted.add(name)
            layer["params"] += _numel(list(tensor.dims))
            if node.op_type == "Add" and fc_outputs.intersection(node.input):
                layer["fc"] = True


def _peak_activation_bytes(model, view):
    """Most activation bytes alive at once, running nodes in graph order without buffer reuse."""
    graph = model.graph
    last_read = {}
    for index, node in enumerate(graph.node):
        for name in node.input:
            last_read[name] = index
    for output in graph.output:
        last_read[output.name] = len(graph.node)
    size = {}
    live = 0
    for value_info in graph.input:
        if view.is_activation(value_info.name):
            size[value_info.name] = view.nbytes(value_info.name)
            live += size[value_info.name]
    peak = live
    for index, node in enumerate(graph.node):
        if node.op_type == "Constant":
            continue
        for name in node.output:
            if name:
                size[name] = view.nbytes(name)
                live += size[name]
        peak = max(peak, live)
        for name in set(node.input) | set(node.output):
            if name in size and last_read.get(name, index) <= index:
                live -= size.pop(name)
    return peak
