"""Reductions (Reduce*, ArgMax/ArgMin) and TopK.

Part of :mod:`edgeprof.costs.shaperules` (sources cited per rule, paths under onnx/defs/ of
github:onnx/onnx v1.22.0)."""
from edgeprof.costs.shaperules.common import INT64, ShapeError, _axes, _axis


def _reduce(n, ins, tys):
    """reduction/utils.cc ReduceOpGenerator (reduction/old.cc _opset12, _opset1 alike): axes from
    the input (ReduceSum from 13, the others from 18) or the attribute; none means all; keepdims
    keeps reduced axes as 1; noop_with_empty_axes (from 13) returns the input's shape."""
    x = ins[0]
    rank = len(x)
    from_input = n.opset >= (13 if n.op == "ReduceSum" else 18)
    if from_input:
        if n.has(1):
            if n.attr("axes", None) is not None:
                raise ShapeError("%s has axes as input and attribute" % n.op)
            axes = n.ints(1, tys)
            if axes is None:
                return None
        else:
            axes = list(n.attr("axes", None) or [])
    else:
        if len(ins) > 1:
            return None
        axes = list(n.attr("axes", None) or [])
    if n.opset >= 13 and not axes and n.attr("noop_with_empty_axes", 0):
        return [(x, tys[0])]
    axes = _axes(axes, rank, unique=False) if n.opset >= 11 else [a + rank if a < 0 else a for a in axes]
    keep = n.attr("keepdims", 1) == 1
    out = []
    for i, dim in enumerate(x):
        if axes and i not in axes:
            out.append(dim)
        elif keep:
            out.append(1)
    return [(out, tys[0])]


def _arg_reduce(n, ins, tys):
    # reduction/defs.cc ArgReduceDocGenerator (ArgMax, ArgMin): int64; the axis kept as 1 or dropped.
    x = ins[0]
    axis = _axis(n.attr("axis", 0), len(x))
    keep = n.attr("keepdims", 1) == 1
    out = [d for i, d in enumerate(x) if i != axis or keep]
    if keep:
        out[axis] = 1
    return [(out, INT64)]


def _topk(n, ins, tys):
    # math/utils.cc TopKOpGenerator (TopK-11; math/old.cc TopK-10 alike, TopK-1 takes k as an
    # attribute): K a 1-D int64 of one element, at most the axis' size; Indices int64.
    x = ins[0]
    axis = _axis(n.attr("axis", -1), len(x))
    if n.opset >= 10:
        k = n.ints(1, tys)
        if k is None:
            return None
        if ins[1] != [1]:
            raise ShapeError("TopK's K must be a 1-D tensor of one element")
        k = k[0]
    else:
        k = n.attr("k", None)
        if k is None:
            return None
    if x[axis] < k:
        raise ShapeError("TopK axis of %d elements for k %d" % (x[axis], k))
    out = list(x)
    out[axis] = k
    return [(out, tys[0]), (out, INT64)]
