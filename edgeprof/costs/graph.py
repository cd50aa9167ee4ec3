"""The ONNX graph side of the costs: load and check the file, give the batch axis its size, and infer
every tensor's shape on a light copy of the graph, folding shape math between rounds of inference.

onnx (and numpy, for the shape math) are imported inside the functions.
"""
import os

from edgeprof.errors import InputFileError, UsageError
from edgeprof.util import one_line

# Bits per element of each ONNX TensorProto.DataType (STRING and UNDEFINED have no fixed size).
_DTYPE_BITS = {1: 32, 2: 8, 3: 8, 4: 16, 5: 16, 6: 32, 7: 64, 9: 8, 10: 16, 11: 64, 12: 32,
               13: 64, 14: 64, 15: 128, 16: 16, 17: 8, 18: 8, 19: 8, 20: 8, 21: 4, 22: 4, 23: 4}
_EXTERNAL = 1  # TensorProto.DataLocation.EXTERNAL
# Initializers larger than this go into shape inference as dims only (shape tensors are far smaller).
_INLINE_LIMIT_BYTES = 4096


def load(path):
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


def numel(dims):
    """Product of ``dims``; None when the shape or one of its sizes is unknown."""
    if dims is None or None in dims:
        return None
    count = 1
    for dim in dims:
        count *= dim
    return count


def _tensor_bytes(tensor):
    return (numel(list(tensor.dims)) * _DTYPE_BITS.get(tensor.data_type, 0) + 7) // 8


def weight_bytes(model):
    return sum(_tensor_bytes(tensor) for tensor in model.graph.initializer)


def dims_of(shape_proto):
    """Sizes of a TensorShapeProto, None for a symbolic or missing size."""
    return [d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else None for d in shape_proto.dim]


def set_batch(model, path, batch, notes):
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
    fixed = (dims_of(inputs[0].type.tensor_type.shape) or [None])[0]
    if fixed not in (None, 1, batch):
        raise UsageError("%s has a fixed batch of %d: use --batch %d, or export it with a dynamic "
                         "batch axis" % (path, fixed, fixed))
    scale = batch if fixed == 1 else 1
    for value_info in inputs:
        shape = value_info.type.tensor_type.shape
        dims = dims_of(shape)
        if None in dims[1:]:
            raise InputFileError("%s: input %r has a dynamic size besides the batch axis; export it with a "
                                 "fixed input size" % (path, value_info.name))
        if dims and dims[0] is None:
            shape.dim[0].dim_value = batch // scale
    if scale != 1:
        notes.append("the model's batch is fixed at 1: costs and activations are scaled by %d" % scale)
    return inputs[0], scale


def infer_shapes(model, path):
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
        shapes[value_info.name] = dims_of(tensor_type.shape) if tensor_type.HasField("shape") else None
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
        if (tensor.data_location != _EXTERNAL and numel(list(tensor.dims)) <= _SHAPE_MATH_MAX_ELEMENTS
                and _tensor_bytes(tensor) <= _INLINE_LIMIT_BYTES):
            values[tensor.name] = numpy_helper.to_array(tensor)
    for node in graph.node:
        if node.op_type == "Constant" and attr(node, "value", None) is not None:
            values[node.output[0]] = numpy_helper.to_array(attr(node, "value", None))
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
        return numpy.array(dims[attr(node, "start", 0):attr(node, "end", None)], dtype=numpy.int64)
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
        return numpy.take(args[0], args[1], axis=attr(node, "axis", 0))
    if op in ("Unsqueeze", "Squeeze"):
        axes = args[1] if len(args) > 1 and args[1] is not None else attr(node, "axes", None)
        if op == "Squeeze":
            return numpy.squeeze(args[0], axis=None if axes is None else tuple(int(a) for a in axes))
        rank = args[0].ndim + len(axes)
        value = args[0]
        for axis in sorted(int(a) % rank for a in axes):
            value = numpy.expand_dims(value, axis)
        return value
    if op == "Concat":
        return numpy.concatenate(args, axis=attr(node, "axis", 0))
    if op == "Slice":
        return _slice(args)
    if op == "Cast":
        return args[0].astype(_numpy_dtype(attr(node, "to", 7)))
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


class GraphView:
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
        return numel(self.shape(name))

    def is_activation(self, name):
        return bool(name) and name not in self.constants

    def nbytes(self, name):
        """Bytes of tensor ``name``; 0 when its shape or type is unknown."""
        count = self.numel(name)
        return 0 if count is None else (count * self.bits.get(name, 0) + 7) // 8


def attr(node, name, default):
    """The value of ``node``'s attribute ``name``, or ``default`` when the node does not set it."""
    import onnx
    for attribute in node.attribute:
        if attribute.name == name:
            return onnx.helper.get_attribute_value(attribute)
    return default

