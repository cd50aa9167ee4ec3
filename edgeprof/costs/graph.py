"""The ONNX graph side of the costs: load and check the file, give the batch axis its size, and infer
every tensor's shape: by edgeprof's own rules when it has one for every node, else by ONNX's shape
inference on a light copy of the graph, folding shape math between rounds of inference.

onnx (only for that fallback) and numpy (for the shape math) are imported inside the functions.
"""
import os

from edgeprof import onnxproto
from edgeprof.errors import InputFileError, UsageError, require
from edgeprof.util import one_line

# Bits per element of each ONNX TensorProto.DataType (STRING and UNDEFINED have no fixed size).
_DTYPE_BITS = {1: 32, 2: 8, 3: 8, 4: 16, 5: 16, 6: 32, 7: 64, 9: 8, 10: 16, 11: 64, 12: 32,
               13: 64, 14: 64, 15: 128, 16: 16, 17: 8, 18: 8, 19: 8, 20: 8, 21: 4, 22: 4, 23: 4,
               24: 8, 25: 2, 26: 2, 27: 6, 28: 6}
_EXTERNAL = 1  # TensorProto.DataLocation.EXTERNAL
# Initializers larger than this go into shape inference as dims only (shape tensors are far smaller).
_INLINE_LIMIT_BYTES = 4096


def load(path):
    """Read the model without its large weights' values (``onnxproto``: no onnx needed), and check
    that the graph is whole.

    Initializers of at most _INLINE_LIMIT_BYTES keep their values (shape constants); the others
    keep their name, dims, data type and external-data fields, which is all the costs read.
    """
    if not os.path.isfile(path):
        raise InputFileError("%s: no such file; give the path of an .onnx model" % path)
    try:
        model = onnxproto.read(path, _INLINE_LIMIT_BYTES, _DTYPE_BITS)
        model.onnx_light = lambda: _onnx_light(path)
    except Exception as exc:  # noqa: BLE001  (WireError, UnicodeDecodeError, struct.error for garbage)
        raise InputFileError("%s is not a readable ONNX model (%s); check the file or export it again"
                             % (path, one_line(exc)))
    check_whole(model, path)
    return model


def _onnx_light(path):
    from edgeprof.costs import wire
    return wire.load_light(path, _INLINE_LIMIT_BYTES, _DTYPE_BITS)


def from_onnx(proto):
    """The costs' model of an onnx ModelProto already in memory (see :func:`load`)."""
    model = onnxproto.decode(proto.SerializeToString(), _INLINE_LIMIT_BYTES, _DTYPE_BITS)
    model.onnx_light = lambda: proto
    return model


def check_whole(model, path):
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
    """Sizes of an onnx TensorShapeProto, None for a symbolic or missing size."""
    return [d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else None for d in shape_proto.dim]


def set_batch(model, path, batch, notes):
    """Give the batch axis of every graph input the size ``batch``.

    Returns:
        (primary input ValueInfo, factor to scale batch-proportional counts by)
    """
    initializers = {t.name for t in model.graph.initializer}
    inputs = [vi for vi in model.graph.input if vi.name not in initializers]
    if not inputs:
        raise InputFileError("%s has no graph input; inspect needs a model that takes an input" % path)
    # The primary input's first axis is the batch; a fixed first axis of another input (a
    # parameter such as an image-info vector) is left as it is.
    fixed = (inputs[0].dims or [None])[0]
    if fixed not in (None, 1, batch):
        raise UsageError("%s has a fixed batch of %d: use --batch %d, or export it with a dynamic "
                         "batch axis" % (path, fixed, fixed))
    scale = batch if fixed == 1 else 1
    for value_info in inputs:
        dims = value_info.dims or []
        if None in dims[1:]:
            raise InputFileError("%s: input %r has a dynamic size besides the batch axis; export it with a "
                                 "fixed input size" % (path, value_info.name))
        if dims and dims[0] is None:
            dims[0] = batch // scale
    if scale != 1:
        notes.append("the model's batch is fixed at 1: costs and activations are scaled by %d" % scale)
    return inputs[0], scale


def infer_shapes(model, path):
    """Every tensor's shape and type: edgeprof's own inference when it knows every node, else ONNX's.

    First one pass in graph order (:mod:`edgeprof.costs.infer`): each node is folded when its inputs
    are known values (:mod:`edgeprof.costs.fold`) or inferred by edgeprof's shape rules
    (:mod:`edgeprof.costs.shaperules`); no onnx is imported. When a node has no rule (an op type
    without one, a custom domain, a shape that depends on the data) or its inputs disagree, the
    whole model goes through ONNX's shape inference instead (:func:`onnx_shapes`), which gives the
    same shapes where both know them (tests/workstation/test_costs_infer.py checks it).

    Returns:
        (shapes, bits, folded, by): dicts from tensor name to its list of sizes (None for an unknown
        size; the whole shape is None for an unknown rank) and to its bits per element, the set
        of tensors that were computed as shape constants, and which inference gave them ("edgeprof",
        or "onnx" and why).
    """
    from edgeprof.costs import infer
    try:
        shapes, types, folded = infer.pure_shapes(model)
        by = "edgeprof"
    except infer.NotInferred as exc:
        require("onnx", "The shapes of %s (edgeprof's own inference stops at %s)" % (path, exc),
                "pip install 'edgeprof[export]'")
        shapes, types, folded = onnx_shapes(model, path)
        by = "onnx (edgeprof's own inference stops at %s)" % exc
    bits = {name: _DTYPE_BITS.get(elem_type, 0) for name, elem_type in types.items()}
    for tensor in model.graph.initializer:
        shapes[tensor.name] = list(tensor.dims)
        bits[tensor.name] = _DTYPE_BITS.get(tensor.data_type, 0)
    return shapes, bits, folded, by


def onnx_shapes(model, path):
    """ONNX shape inference on a copy whose large initializers carry only dims and type.

    Between rounds of inference, nodes whose inputs are all known (shape math such as PyTorch's
    ``x.size()`` becoming Shape, Gather, Div, Concat... feeding a Reshape, and masks built from
    sizes) are computed by :mod:`edgeprof.costs.fold` and replaced in the copy, until no more can
    be; ONNX's own data propagation stops at ops like Div.

    Returns:
        (shapes, types, folded): tensor name -> sizes and -> ONNX element type, the folded names.
    """
    from edgeprof.costs import fold, nodeshapes
    light = _light_copy(model.onnx_light())
    batch_dims = {vi.name: vi.dims for vi in model.graph.input}
    for value_info in light.graph.input:  # the sizes set_batch gave the costs' model
        dims = batch_dims.get(value_info.name)
        shape = value_info.type.tensor_type.shape
        if dims and shape.dim and dims[0] is not None and dims_of(shape)[0] is None:
            shape.dim[0].dim_value = dims[0]
    values = fold.known_values(light.graph)
    folded = set()
    shapes, types = _inferred_shapes(light, path)
    while True:
        names = fold.fold(light.graph, shapes, values, nodeshapes.NodeShapes(light, shapes, types, values))
        if not names:
            break
        folded.update(names)
        if all(numel(shapes.get(name)) is not None for node in light.graph.node for name in node.output if name):
            break  # the pass inferred every size: another whole-model round would find nothing new
        shapes, types = _inferred_shapes(light, path)
    for name in folded:
        shapes[name] = list(values[name].shape)
        types[name] = fold.onnx_dtype(values[name].dtype)
    return shapes, types, folded


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
    shapes, types = {}, {}
    for value_info in list(inferred.graph.value_info) + list(inferred.graph.input) + list(inferred.graph.output):
        tensor_type = value_info.type.tensor_type
        shapes[value_info.name] = dims_of(tensor_type.shape) if tensor_type.HasField("shape") else None
        types[value_info.name] = tensor_type.elem_type
    for tensor in light.graph.initializer:  # inference lists no initializer; later nodes read them
        shapes[tensor.name] = list(tensor.dims)
        types[tensor.name] = tensor.data_type
    return shapes, types


class GraphView:
    """What costing a node needs to know about the tensors around it."""

    def __init__(self, model, shapes, bits, folded):
        self.shapes = shapes
        self.bits = bits
        self.initializers = {t.name: t for t in model.graph.initializer}
        self.constants = set(self.initializers) | folded
        self.sources = {}  # a view of weights (weights.mark_constant_outputs) -> the initializers behind it
        self.quantized = set()  # integer initializers read as quantized data (weights.mark_constant_outputs)
        self.weight_views = set()  # outputs of nodes that transform weights: weights, not activations
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
    """The value of ``node``'s attribute ``name`` (as onnx.helper.get_attribute_value gives it), or
    ``default`` when the node does not set it; ``node`` is an :class:`onnxproto.Node` or a NodeProto."""
    if isinstance(node, onnxproto.Node):
        return node.attr(name, default)
    import onnx
    for attribute in node.attribute:
        if attribute.name == name:
            return onnx.helper.get_attribute_value(attribute)
    return default
