"""Shape manipulation: Flatten, Reshape, Transpose, Squeeze, Unsqueeze, Concat, Split, Slice,
Gather*, Expand, Tile, Pad.

Part of :mod:`edgeprof.costs.shaperules` (sources cited per rule, paths under onnx/defs/ of
github:onnx/onnx v1.22.0)."""
from edgeprof.costs.shaperules.common import ShapeError, _INDEX_TYPES, _axes, _axis, _broadcast, _product, _same_types


def _flatten(n, ins, tys):
    # nn/defs.cc Flatten-25: [prod(dims[:axis]), prod(dims[axis:])], axis in [-r, r].
    x = ins[0]
    rank = len(x)
    axis = n.attr("axis", 1)
    if axis < 0:
        if n.opset < 11:
            return None  # Flatten-9 takes no negative axis
        axis += rank
    if axis < 0 or axis > rank:
        raise ShapeError("Flatten axis out of range for rank %d" % rank)
    return [([_product(x[:axis]), _product(x[axis:])], tys[0])]


def _reshape(n, ins, tys):
    """tensor/defs.cc Reshape-25: 0 copies the input's size (unless allowzero), one -1 takes what
    is left. A count that does not match, which ONNX lets through without -1, fails here."""
    target = n.ints(1, tys)
    if target is None:
        return None
    x = ins[0]
    allowzero = n.attr("allowzero", 0) if n.opset >= 14 else 0  # the attribute came with Reshape-14
    out, unknown, known = [], None, 1
    for i, dim in enumerate(target):
        if dim == -1:
            if unknown is not None:
                raise ShapeError("Reshape target %s has more than one -1" % (target,))
            unknown = i
            out.append(-1)
            continue
        if dim == 0 and not allowzero:
            if i >= len(x):
                raise ShapeError("Reshape target %s copies axis %d of rank %d" % (target, i, len(x)))
            dim = x[i]
        elif dim < 0:
            raise ShapeError("Reshape target %s has a size below -1" % (target,))
        out.append(dim)
        known *= dim
    total = _product(x)
    if unknown is not None:
        if known == 0 or total % known:
            raise ShapeError("Reshape of %s into %s" % (x, target))
        out[unknown] = total // known
    elif known != total:
        raise ShapeError("Reshape of %s into %s changes the element count" % (x, target))
    return [(out, tys[0])]


def _transpose(n, ins, tys):
    # tensor/defs.cc Transpose-25: default perm reverses the axes; each axis once.
    x = ins[0]
    perm = n.attr("perm", None)
    perm = list(range(len(x) - 1, -1, -1)) if perm is None else list(perm)
    if sorted(perm) != list(range(len(x))):
        raise ShapeError("Transpose perm %s for rank %d" % (perm, len(x)))
    return [([x[p] for p in perm], tys[0])]


def _squeeze(n, ins, tys):
    """tensor/defs.cc Squeeze-25 (axes input from 13; tensor/old.cc Squeeze-11 attribute, Squeeze-1
    non-negative sorted attribute): listed axes must be 1; no axes removes every 1."""
    x = ins[0]
    if n.opset >= 13:
        if n.has(1):
            axes = n.ints(1, tys)
            if axes is None:
                return None
        else:
            axes = None
    else:
        axes = n.attr("axes", None)
        if axes is not None:
            axes = list(axes)
            if n.opset < 11 and (min(axes or [0]) < 0 or axes != sorted(axes)):
                return None
    if axes is None:
        return [([d for d in x if d != 1], tys[0])]
    axes = _axes(axes, len(x), unique=False)
    for axis in axes:
        if x[axis] != 1:
            raise ShapeError("Squeeze axis %d has size %d" % (axis, x[axis]))
    return [([d for i, d in enumerate(x) if i not in axes], tys[0])]


def _unsqueeze(n, ins, tys):
    """tensor/defs.cc Unsqueeze-25 (axes input from 13, tensor/old.cc attribute before): axes of the
    output, negative from 11, no repeats; a 1 at each."""
    x = ins[0]
    if n.opset >= 13:
        axes = n.ints(1, tys)
    else:
        axes = n.attr("axes", None)
        if axes is not None and n.opset < 11 and min(list(axes) or [0]) < 0:
            return None
    if axes is None:
        return None
    rank = len(x) + len(axes)
    axes = set(_axes(list(axes), rank))
    source = iter(x)
    return [([1 if i in axes else next(source) for i in range(rank)], tys[0])]


def _concat(n, ins, tys):
    """tensor/defs.cc Concat-13: one rank, equal sizes but on axis, whose sizes add up."""
    if not ins or None in ins:
        return None
    axis = n.attr("axis", None)
    if axis is None:
        raise ShapeError("Concat needs axis")
    first = ins[0]
    rank = len(first)
    if axis < 0 and n.opset < 11:
        return None  # Concat-4 takes no negative axis
    axis = _axis(axis, rank)
    _same_types(tys, list(range(len(ins))))
    total = 0
    for shape in ins:
        if len(shape) != rank:
            raise ShapeError("Concat of ranks %d and %d" % (rank, len(shape)))
        for i in range(rank):
            if i != axis and shape[i] != first[i]:
                raise ShapeError("Concat of %s and %s on axis %d" % (first, shape, axis))
        total += shape[axis]
    out = list(first)
    out[axis] = total
    return [(out, tys[0])]


def _split(n, ins, tys):
    """tensor/defs.cc Split-18 (tensor/old.cc Split-13: split input or equal parts, Split-11/2:
    split attribute or equal parts): sizes must add up; opset 18's num_outputs gives chunks of
    ceil(size / n) and a smaller last one."""
    x = ins[0]
    count = len(n.outputs)
    axis = _axis(n.attr("axis", 0), len(x))  # Split-2 too takes a negative axis (tensor/old.cc)
    size = x[axis]
    if n.opset >= 13:
        num_outputs = n.attr("num_outputs", None) if n.opset >= 18 else None
        if n.has(1):
            if num_outputs is not None:
                raise ShapeError("Split has both a split input and num_outputs")
            sizes = n.ints(1, tys)
            if sizes is None:
                return None
        elif n.opset >= 18:
            if num_outputs is None:
                raise ShapeError("Split-18 needs a split input or num_outputs")
            if num_outputs < 1 or num_outputs != count:
                raise ShapeError("Split num_outputs %d for %d outputs" % (num_outputs, count))
            chunk = -(-size // num_outputs)
            sizes = [chunk] * (num_outputs - 1) + [size - chunk * (num_outputs - 1)]
            if size % num_outputs == 0:
                sizes = [size // num_outputs] * num_outputs
        else:
            sizes = None
    else:
        sizes = n.attr("split", None)
        sizes = None if sizes is None else list(sizes)
    if sizes is None:
        if size % count:
            raise ShapeError("Split of size %d into %d equal parts" % (size, count))
        sizes = [size // count] * count
    if len(sizes) != count or sum(sizes) != size or min(sizes) < 0:
        raise ShapeError("Split sizes %s of size %d into %d outputs" % (sizes, size, count))
    out = []
    for part in sizes:
        shape = list(x)
        shape[axis] = part
        out.append((shape, tys[0]))
    return out


def _slice_dim(size, start, end, step):
    """tensor/defs.cc processSliceInputs, then ceil((end - start) / step), at least 0."""
    if step == 0:
        raise ShapeError("Slice step cannot be 0")
    if size == 0:
        return 0
    if start < 0:
        start += size
    if end < 0:
        end += size
    if step < 0:
        start = min(max(start, 0), size - 1)
        end = min(max(end, -1), size - 1)  # Slice-10/11 clamp to size: the count is the same
    else:
        start = min(max(start, 0), size)
        end = min(max(end, 0), size)
    return max(-((start - end) // step), 0)


def _slice(n, ins, tys):
    """Slice-13 (tensor/defs.cc), -10/-11 (tensor/old.cc): starts, ends, axes, steps as known int32
    or int64 values; Slice-1 (opset < 10, attributes) has no clamping of starts."""
    x = ins[0]
    rank = len(x)
    if n.opset < 10:
        starts, ends = n.attr("starts", None), n.attr("ends", None)
        if starts is None or ends is None or len(starts) != len(ends):
            raise ShapeError("Slice-1 needs starts and ends of one length")
        axes = n.attr("axes", None)
        axes = list(range(len(starts))) if axes is None else list(axes)
        if len(axes) != len(starts):
            raise ShapeError("Slice-1 axes of the wrong length")
        if axes != sorted(axes) or (axes and (axes[0] < 0 or axes[-1] >= rank)):
            return None  # ONNX gives no (or only the rank of the) output
        out = list(x)
        for axis, start, end in zip(axes, starts, ends):
            size = x[axis]
            start = start + size if start < 0 else start
            end = end + size if end < 0 else end
            if start < 0 or end < 0 or min(size, end) - start < 0:
                return None  # ONNX leaves this size unknown
            out[axis] = min(size, end) - start
        return [(out, tys[0])]
    if len(ins) < 3:
        raise ShapeError("Slice needs starts and ends")
    starts, ends = n.ints(1, tys, _INDEX_TYPES), n.ints(2, tys, _INDEX_TYPES)
    axes = n.ints(3, tys, _INDEX_TYPES) if n.has(3) else list(range(len(starts or [])))
    steps = n.ints(4, tys, _INDEX_TYPES) if n.has(4) else [1] * len(starts or [])
    if starts is None or ends is None or axes is None or steps is None:
        return None
    if len(starts) != len(ends) or len(axes) != len(starts) or len(steps) != len(axes):
        raise ShapeError("Slice starts, ends, axes and steps of different lengths")
    out = list(x)
    for axis, start, end, step in zip(_axes(axes, rank), starts, ends, steps):
        out[axis] = _slice_dim(x[axis], start, end, step)
    return [(out, tys[0])]


def _gather(n, ins, tys):
    # tensor/defs.cc Gather-13: data[:axis] + indices + data[axis + 1:].
    data, indices = ins[0], ins[1]
    if not data:
        raise ShapeError("Gather data of rank 0")
    axis = _axis(n.attr("axis", 0), len(data))
    return [(data[:axis] + indices + data[axis + 1:], tys[0])]


def _gather_elements(n, ins, tys):
    # tensor/defs.cc GatherElements-13: the indices' shape.
    return [(ins[1], tys[0])]


def _gather_nd(n, ins, tys):
    # tensor/defs.cc GatherND-13: indices[:-1] + data[batch_dims + indices[-1]:].
    data, indices = ins[0], ins[1]
    if not data or not indices:
        raise ShapeError("GatherND inputs need rank > 0")
    last = indices[-1] + (n.attr("batch_dims", 0) if n.opset >= 12 else 0)  # batch_dims from GatherND-12
    if last > len(data):
        raise ShapeError("GatherND indices' last dimension exceeds the data's rank")
    return [(indices[:-1] + data[last:], tys[0])]


def _expand(n, ins, tys):
    # math/defs.cc Expand-13: bidirectional broadcast of the input with the shape value.
    target = n.ints(1, tys)
    if target is None:
        return None
    return [(_broadcast([ins[0], target]), tys[0])]


def _tile(n, ins, tys):
    # tensor/defs.cc Tile-13: 1-D int64 repeats, one per axis, not negative.
    repeats = n.ints(1, tys)
    if repeats is None:
        return None
    x = ins[0]
    if len(ins[1]) != 1 or len(repeats) != len(x) or (repeats and min(repeats) < 0):
        raise ShapeError("Tile repeats %s for shape %s" % (repeats, x))
    return [([d * r for d, r in zip(x, repeats)], tys[0])]


def _pad(n, ins, tys):
    """tensor/utils.cc PadDocGenerator (Pad-18+, with the axes input), tensor/old.cc Pad-11/13 (pads
    input), Pad-2 (pads attribute): each padded axis grows by its begin and end pads."""
    x = ins[0]
    rank = len(x)
    if n.opset < 11:
        pads = n.attr("pads", None)
        if pads is None or len(pads) != 2 * rank:
            raise ShapeError("Pad-2 pads %s for rank %d" % (pads, rank))
        axes = list(range(rank))
    else:
        pads = n.ints(1, tys)
        if pads is None:
            return None
        if len(ins[1]) != 1:
            raise ShapeError("Pad's pads must be 1-D")
        if n.opset >= 18 and n.has(3):
            axes = n.ints(3, tys, _INDEX_TYPES)
            if axes is None:
                return None
            axes = _axes(axes, rank)
            if not axes:
                return None  # ONNX infers no size from empty axes
        else:
            axes = list(range(rank))
        if len(pads) != 2 * len(axes):
            raise ShapeError("Pad pads %s for %d axes" % (pads, len(axes)))
    out = list(x)
    count = len(axes)
    for i, axis in enumerate(axes):
        out[axis] = x[axis] + pads[i] + pads[count + i]
        if out[axis] < 0:
            raise ShapeError("Pad makes axis %d negative" % axis)
    return [(out, tys[0])]
