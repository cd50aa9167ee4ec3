"""Constant folding for the costs: compute, with numpy, every node whose inputs are all known.

Exporters compute shapes inside the graph (PyTorch's ``x.size()`` becomes Shape, Gather, Div,
Concat... feeding a Reshape; Swin's padding and shifted-window masks become Mod, ConstantOfShape,
ScatterND, Equal, Where...), and ONNX's own data propagation stops at many of those ops, leaving
every later layer without shapes. Here a node is evaluated when every input is a known value: a
small initializer, a Constant, the Shape of a tensor whose sizes are known, or an output folded
before. Such values never depend on the model's input (the image enters only through Shape, whose
output is its sizes), so a runtime computes them once when it builds the model: folded nodes cost
nothing. Conv, MatMul, Gemm and Einsum are never folded (their MACs are always counted).

The op semantics follow the ONNX operator specification (https://onnx.ai/onnx/operators/),
opset 11 and later; anything else, or a value over MAX_ELEMENTS, is left to shape inference.
numpy is imported inside the functions (costs/ needs it only when it analyses).
"""
from edgeprof import onnxproto
from edgeprof.costs.graph import attr

MAX_ELEMENTS = 1 << 20  # no folded value (a mask) larger than this is ever computed
SHAPE_ELEMENTS = 64     # values this small go back into the graph with their data, for inference


def known_values(graph):
    """Values of the initializers that hold their data (the light copy keeps only small ones) and
    of the Constant nodes (of an onnx GraphProto or an :class:`onnxproto.Graph`)."""
    values = {}
    for tensor in graph.initializer:
        if tensor.data_location != 1 and _has_data(tensor) and _numel(tensor.dims) <= MAX_ELEMENTS:
            try:
                values[tensor.name] = to_array(tensor)
            except (ValueError, TypeError):  # a type numpy cannot hold: not foldable
                continue
    for node in graph.node:
        if node.op_type == "Constant" and node.domain in ("", "ai.onnx"):
            value = constant_value(node)
            if value is not None:
                values[node.output[0]] = value
    return values


def to_array(tensor):
    """The numpy value of an onnx TensorProto (onnx.numpy_helper) or an :class:`onnxproto.Tensor`."""
    if isinstance(tensor, onnxproto.Tensor):
        return tensor.to_array()
    from onnx import numpy_helper
    return numpy_helper.to_array(tensor)


def _has_data(tensor):
    if isinstance(tensor, onnxproto.Tensor) and not tensor.has_values:
        return False
    return bool(tensor.raw_data or tensor.float_data or tensor.int32_data or tensor.int64_data
                or tensor.double_data or tensor.uint64_data or tensor.string_data) or 0 in tensor.dims


def _numel(dims):
    count = 1
    for dim in dims:
        count *= dim
    return count


def constant_value(node):
    """The numpy value of a Constant node (``value`` or the ``value_*`` shorthands), or None."""
    import numpy
    for attribute in node.attribute:
        if attribute.name == "value":
            return to_array(attr(node, "value", None))
        if attribute.name in ("value_float", "value_floats"):
            return numpy.array(attr(node, attribute.name, None), dtype=numpy.float32)
        if attribute.name in ("value_int", "value_ints"):
            return numpy.array(attr(node, attribute.name, None), dtype=numpy.int64)
    return None


def fold(graph, shapes, values, infer_node=None):
    """Evaluate the foldable nodes of ``graph`` (in graph order, so chains fold in one pass).

    A folded node is taken out of ``graph``: a small value (at most SHAPE_ELEMENTS) comes back as
    a Constant node, so that shape inference can read it; a larger one (a mask) as an
    initializer with dims only, so that inference knows its shape without copying its data.

    Args:
        graph: the light copy's GraphProto (changed in place).
        shapes: tensor name -> sizes from the last round of inference.
        values: tensor name -> numpy array of known values (updated).
        infer_node: called with each node not folded, in graph order (it may add to ``shapes``
            what later nodes need), or None.

    Returns:
        list of str: the outputs folded in this pass.
    """
    from onnx import helper, numpy_helper
    nodes, folded = [], []
    for node in graph.node:
        results = fold_node(node, shapes, values)
        if results is None:
            nodes.append(node)
            if infer_node is not None:
                infer_node(node)
            continue
        for name, value in zip(node.output, results):
            values[name] = value
            shapes[name] = list(value.shape)
            folded.append(name)
            if value.size <= SHAPE_ELEMENTS:
                nodes.append(helper.make_node("Constant", [], [name], value=numpy_helper.from_array(value, name)))
            else:
                tensor = graph.initializer.add()
                tensor.name = name
                tensor.data_type = onnx_dtype(value.dtype)
                tensor.dims.extend(value.shape)
    if folded:
        del graph.node[:]
        graph.node.extend(nodes)
    return folded


def fold_node(node, shapes, values):
    """The values of all of ``node``'s outputs, or None when it cannot or must not be folded."""
    import numpy
    evaluate = _evaluator(node.op_type)
    if (evaluate is None or node.domain not in ("", "ai.onnx") or not node.output
            or not all(node.output) or all(name in values for name in node.output)):
        return None
    if node.op_type in ("Shape", "Size"):
        known = values.get(node.input[0])
        dims = list(known.shape) if known is not None else shapes.get(node.input[0])
        if dims is None or None in dims:
            return None
        if node.op_type == "Shape":
            return [numpy.array(dims[attr(node, "start", 0):attr(node, "end", None)], dtype=numpy.int64)]
        return [numpy.array(int(numpy.prod(dims, dtype=numpy.int64)), dtype=numpy.int64)]
    if not node.input or any(name and name not in values for name in node.input):
        return None
    args = [values[name] if name else None for name in node.input]
    try:
        with numpy.errstate(all="ignore"):
            results = evaluate(node, args)
    except (ValueError, IndexError, KeyError, TypeError, ZeroDivisionError, OverflowError, MemoryError,
            _TooLarge):
        return None
    if not isinstance(results, list):
        results = [results]
    results = [numpy.asarray(value) for value in results]
    if len(results) != len(node.output) or any(value.size > MAX_ELEMENTS for value in results):
        return None
    return results


class _TooLarge(Exception):
    """The value would exceed MAX_ELEMENTS: left unfolded rather than computed."""


def _check_size(dims):
    count = 1
    for dim in dims:
        count *= max(int(dim), 0)
    if count > MAX_ELEMENTS:
        raise _TooLarge()
    return [int(dim) for dim in dims]


def _broadcast_shape(*shapes):
    """numpy's broadcasting rule on shapes (numpy.broadcast_shapes needs numpy 1.20)."""
    rank = max(len(shape) for shape in shapes)
    out = []
    for axis in range(rank):
        sizes = {shape[axis - rank + len(shape)] for shape in shapes if axis - rank + len(shape) >= 0}
        sizes.discard(1)
        if len(sizes) > 1:
            raise ValueError("shapes do not broadcast")
        out.append(sizes.pop() if sizes else 1)
    return _check_size(out)


def _elementwise(function, keep_type=True):
    def evaluate(node, args):
        _broadcast_shape(*[arg.shape for arg in args])
        value = function(*args)
        return value.astype(args[0].dtype) if keep_type else value
    return evaluate


def _variadic(function):
    def evaluate(node, args):
        _broadcast_shape(*[arg.shape for arg in args])
        value = args[0]
        for arg in args[1:]:
            value = function(value, arg)
        return value.astype(args[0].dtype)
    return evaluate


def _unary(function):
    return lambda node, args: function(args[0])


def _div(node, args):
    import numpy
    _broadcast_shape(args[0].shape, args[1].shape)
    if numpy.issubdtype(args[0].dtype, numpy.integer):
        return numpy.trunc(args[0] / args[1]).astype(args[0].dtype)
    return (args[0] / args[1]).astype(args[0].dtype)


def _mod(node, args):
    import numpy
    _broadcast_shape(args[0].shape, args[1].shape)
    function = numpy.fmod if attr(node, "fmod", 0) else numpy.mod
    return function(args[0], args[1]).astype(args[0].dtype)


def _axes(node, args, index):
    """Axes from the input at ``index`` (newer opsets) or the ``axes`` attribute; None if absent."""
    if len(args) > index and args[index] is not None:
        return [int(a) for a in args[index].reshape(-1)]
    axes = attr(node, "axes", None)
    return None if axes is None else [int(a) for a in axes]


def _unsqueeze(node, args):
    import numpy
    axes = _axes(node, args, 1)
    rank = args[0].ndim + len(axes)
    value = args[0]
    for axis in sorted(a % rank for a in axes):
        value = numpy.expand_dims(value, axis)
    return value


def _squeeze(node, args):
    import numpy
    axes = _axes(node, args, 1)
    return numpy.squeeze(args[0], axis=None if axes is None else tuple(axes))


def _slice(node, args):
    """ONNX Slice: starts, ends, axes, steps as inputs (opset 10) or attributes (opset < 10)."""
    data = args[0]
    if len(args) >= 3:
        starts, ends = args[1].reshape(-1), args[2].reshape(-1)
        axes = _axes(node, args, 3) if len(args) > 3 and args[3] is not None else list(range(len(starts)))
        steps = args[4].reshape(-1) if len(args) > 4 and args[4] is not None else [1] * len(starts)
    else:
        starts, ends = attr(node, "starts", []), attr(node, "ends", [])
        axes = attr(node, "axes", list(range(len(starts))))
        steps = [1] * len(starts)
    index = [slice(None)] * data.ndim
    for start, end, axis, step in zip(starts, ends, axes, steps):
        index[int(axis)] = slice(int(start), int(end), int(step))
    return data[tuple(index)]


def _reshape(node, args):
    data, shape = args[0], [int(d) for d in args[1].reshape(-1)]
    if not attr(node, "allowzero", 0):
        shape = [data.shape[i] if d == 0 else d for i, d in enumerate(shape)]
    return data.reshape(shape)


def _transpose(node, args):
    import numpy
    perm = attr(node, "perm", None)
    return numpy.transpose(args[0], None if perm is None else [int(p) for p in perm])


def _flatten(node, args):
    axis = attr(node, "axis", 1) % (args[0].ndim or 1) if args[0].ndim else 0
    outer = 1
    for dim in args[0].shape[:axis]:
        outer *= dim
    return args[0].reshape(outer, -1)


def _cast(node, args):
    return args[0].astype(numpy_dtype(attr(node, "to", 1)))


def _constant_of_shape(node, args):
    import numpy
    tensor = attr(node, "value", None)
    fill = to_array(tensor).reshape(-1) if tensor is not None else numpy.zeros(1, numpy.float32)
    return numpy.full(_check_size(args[0].reshape(-1)), fill[0], dtype=fill.dtype)


def _range(node, args):
    import numpy
    start, limit, delta = (arg.reshape(()) for arg in args[:3])
    count = max(int(numpy.ceil((limit - start) / delta)), 0)
    _check_size([count])
    return (start + delta * numpy.arange(count)).astype(start.dtype)


def _expand(node, args):
    import numpy
    shape = _broadcast_shape(args[0].shape, tuple(int(d) for d in args[1].reshape(-1)))
    return numpy.broadcast_to(args[0], shape).copy()


def _tile(node, args):
    import numpy
    repeats = [int(r) for r in args[1].reshape(-1)]
    _check_size([d * r for d, r in zip(args[0].shape, repeats)])
    return numpy.tile(args[0], repeats)


def _where(node, args):
    import numpy
    _broadcast_shape(*[arg.shape for arg in args])
    return numpy.where(args[0], args[1], args[2])


def _scatter_nd(node, args):
    import numpy
    data, indices, updates = args
    out = data.copy()
    index = tuple(numpy.moveaxis(indices, -1, 0))
    reduction = attr(node, "reduction", "none")
    reduction = reduction.decode() if isinstance(reduction, bytes) else reduction
    if reduction == "none":
        out[index] = updates
    elif reduction == "add":
        numpy.add.at(out, index, updates)
    elif reduction == "mul":
        numpy.multiply.at(out, index, updates)
    else:
        raise ValueError("ScatterND reduction %s" % reduction)
    return out


def _trilu(node, args):
    import numpy
    k = int(args[1].reshape(())) if len(args) > 1 and args[1] is not None else 0
    return (numpy.triu if attr(node, "upper", 1) else numpy.tril)(args[0], k)


def _reduce(function):
    def evaluate(node, args):
        index = 1 if node.op_type == "ReduceSum" or len(args) > 1 else 99
        axes = _axes(node, args, index)
        if axes is None or not axes:
            if attr(node, "noop_with_empty_axes", 0) and axes is not None:
                return args[0]
            axes = list(range(args[0].ndim))
        return function(args[0], axis=tuple(axes), keepdims=bool(attr(node, "keepdims", 1))).astype(args[0].dtype)
    return evaluate


def _gather_elements(node, args):
    import numpy
    axis = attr(node, "axis", 0)
    indices = numpy.where(args[1] < 0, args[1] + args[0].shape[axis], args[1])
    return numpy.take_along_axis(args[0], indices, axis=axis)


def _split(node, args):
    import numpy
    axis = attr(node, "axis", 0)
    sizes = [int(s) for s in args[1].reshape(-1)] if len(args) > 1 and args[1] is not None else attr(node, "split", None)
    if sizes is None:
        count = len(node.output)
        size = -(-args[0].shape[axis] // count)
        sizes = [min(size, args[0].shape[axis] - i * size) for i in range(count)]
    return list(numpy.split(args[0], numpy.cumsum(sizes)[:-1], axis=axis))


def _clip(node, args):
    import numpy
    low = args[1] if len(args) > 1 and args[1] is not None else attr(node, "min", None)
    high = args[2] if len(args) > 2 and args[2] is not None else attr(node, "max", None)
    return numpy.clip(args[0], low, high).astype(args[0].dtype)


onnx_dtype = onnxproto.onnx_dtype
numpy_dtype = onnxproto.numpy_dtype


def _dims_op(node, args):
    raise ValueError("Shape and Size are evaluated from the inferred sizes, not from values")


def _evaluators():
    import numpy
    table = {
        "Shape": _dims_op, "Size": _dims_op, "Identity": _unary(numpy.array),
        "Gather": lambda node, args: numpy.take(args[0], args[1], axis=attr(node, "axis", 0)),
        "GatherElements": _gather_elements, "Unsqueeze": _unsqueeze, "Squeeze": _squeeze,
        "Concat": lambda node, args: numpy.concatenate(args, axis=attr(node, "axis", 0)),
        "Slice": _slice, "Cast": _cast, "Reshape": _reshape, "Transpose": _transpose, "Flatten": _flatten,
        "ConstantOfShape": _constant_of_shape, "Range": _range, "Expand": _expand, "Tile": _tile,
        "Where": _where, "ScatterND": _scatter_nd, "Trilu": _trilu, "Split": _split, "Clip": _clip,
        "Div": _div, "Mod": _mod,
        "NonZero": lambda node, args: numpy.array(numpy.nonzero(args[0]), dtype=numpy.int64),
        "Max": _variadic(numpy.maximum), "Min": _variadic(numpy.minimum), "Sum": _variadic(numpy.add),
        "ReduceSum": _reduce(numpy.sum), "ReduceProd": _reduce(numpy.prod), "ReduceMax": _reduce(numpy.max),
        "ReduceMin": _reduce(numpy.min), "ReduceMean": _reduce(numpy.mean),
    }
    for op, function in (("Add", numpy.add), ("Sub", numpy.subtract), ("Mul", numpy.multiply),
                         ("Pow", numpy.power)):
        table[op] = _elementwise(function)
    for op, function in (("Equal", numpy.equal), ("Less", numpy.less), ("Greater", numpy.greater),
                         ("LessOrEqual", numpy.less_equal), ("GreaterOrEqual", numpy.greater_equal),
                         ("And", numpy.logical_and), ("Or", numpy.logical_or), ("Xor", numpy.logical_xor)):
        table[op] = _elementwise(function, keep_type=False)
    for op, function in (("Neg", numpy.negative), ("Abs", numpy.abs), ("Floor", numpy.floor),
                         ("Ceil", numpy.ceil), ("Sqrt", numpy.sqrt), ("Reciprocal", numpy.reciprocal),
                         ("Not", numpy.logical_not), ("Sign", numpy.sign), ("Exp", numpy.exp),
                         ("Log", numpy.log), ("Round", numpy.round),
                         ("Relu", lambda x: numpy.maximum(x, 0).astype(x.dtype))):
        table[op] = _unary(function)
    return table


_TABLE = {}


def _evaluator(op_type):
    """The evaluator of ``op_type`` or None (the table is built on first use: numpy is imported
    only when a model is analysed)."""
    if not _TABLE:
        _TABLE.update(_evaluators())
    return _TABLE.get(op_type)
