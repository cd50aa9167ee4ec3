"""What every shape rule shares: element type codes, ShapeError, the node view and small helpers.

Part of :mod:`edgeprof.costs.shaperules`."""

from edgeprof.costs.graph import attr

# Before opset 7 many schemas differ (legacy `broadcast` and `consumed_inputs` attributes, no
# inference function at all for most activations): no rule applies.
_OLDEST = 7
# ONNX TensorProto.DataType codes (onnx/onnx.proto3).
FLOAT, UINT8, INT8, INT32, INT64, STRING, BOOL, FLOAT16, DOUBLE = 1, 2, 3, 6, 7, 8, 9, 10, 11
_INDEX_TYPES = (INT32, INT64)


class ShapeError(ValueError):
    """The node's inputs are inconsistent (shapes that do not broadcast, Conv channels that do not match...)."""



class _Node:
    """What a rule reads about its node: attributes, inputs' values, the opset."""
    __slots__ = ("node", "names", "outputs", "values", "opset", "op")

    def __init__(self, node, names, outputs, values, opset):
        self.node, self.names, self.outputs, self.values, self.opset = node, names, outputs, values, opset
        self.op = node.op_type

    def attr(self, name, default=None):
        return attr(self.node, name, default)

    def has(self, index):
        """Whether optional input ``index`` is given (ONNX's ctx.hasInput)."""
        return index < len(self.names) and bool(self.names[index])

    def value(self, index):
        """The numpy value of input ``index``, or None when absent or unknown."""
        if not self.has(index):
            return None
        return self.values.get(self.names[index])

    def ints(self, index, tys, allowed=(INT64,)):
        """Input ``index``'s value as a list of ints (onnx ParseData<int64_t> wants INT64, Slice's
        Tind int32 or int64), or None when unknown or of another type."""
        value = self.value(index)
        if value is None or tys[index] not in allowed:
            return None
        return [int(v) for v in value.reshape(-1).tolist()]


# ---------------------------------------------------------------------------------------------
# Helpers shared by the rules.


def _text(value):
    return value.decode() if isinstance(value, bytes) else value


def _broadcast(shapes):
    """multidirectionalBroadcastShapeInference (shape_inference.h): align on the right; a size
    other than 1 wins, two different sizes other than 1 fail ("Incompatible dimensions")."""
    if len(shapes) == 2 and shapes[0] == shapes[1]:
        return list(shapes[0])
    rank = max(len(shape) for shape in shapes)
    out = [1] * rank
    for shape in shapes:
        offset = rank - len(shape)
        for i, dim in enumerate(shape):
            if dim != 1:
                j = i + offset
                if out[j] != 1 and out[j] != dim:
                    raise ShapeError("shapes %s do not broadcast" % (shapes,))
                out[j] = dim
    return out


def _axis(axis, rank, what="axis"):
    """An axis in [-rank, rank-1] made non-negative (checkAxesRange/adjustNegativeAxes)."""
    if axis < -rank or axis >= rank:
        raise ShapeError("%s %d is out of range for rank %d" % (what, axis, rank))
    return axis + rank if axis < 0 else axis


def _axes(axes, rank, unique=True):
    out = [_axis(a, rank) for a in axes]
    if unique and len(set(out)) != len(out):
        raise ShapeError("axes %s repeat an axis" % (axes,))
    return out


def _product(dims):
    count = 1
    for dim in dims:
        count *= dim
    return count


def _tdiv(a, b):
    """C++ integer division (truncates toward zero), as onnx's checkedDivide; b > 0."""
    q = abs(a) // b
    return q if a >= 0 else -q


def _same_types(tys, indices):
    first = tys[indices[0]]
    for i in indices[1:]:
        if tys[i] is not None and tys[i] != first:
            # The op's type constraint binds these inputs to one type (OpSchema::CheckInputOutputType).
            raise ShapeError("inputs %s must have one element type, got %s" % (indices, [tys[i] for i in indices]))
