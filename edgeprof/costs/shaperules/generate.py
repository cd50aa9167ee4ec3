"""Ops whose output shape comes from attributes or input values: Shape, Size, ConstantOfShape,
Constant, Range, Resize.

Part of :mod:`edgeprof.costs.shaperules` (sources cited per rule, paths under onnx/defs/ of
github:onnx/onnx v1.22.0)."""
import math

from edgeprof.costs.shaperules.common import DOUBLE, FLOAT, INT32, INT64, ShapeError, _axes, _text


def _shape(n, ins, tys):
    # tensor/defs.cc Shape-25: [end - start] (start and end from opset 15), int64.
    rank = len(ins[0])
    if n.opset < 15:
        return [([rank], INT64)]
    start, end = n.attr("start", 0), n.attr("end", rank)
    start = min(max(start + rank if start < 0 else start, 0), rank)
    end = min(max(end + rank if end < 0 else end, 0), rank)
    return [([max(end - start, 0)], INT64)]


def _size(n, ins, tys):
    # tensor/defs.cc Size-25: an int64 scalar.
    return [([], INT64)]


def _constant_of_shape(n, ins, tys):
    # generator/defs.cc ConstantOfShape-25: the `value` tensor's type (float without it); the shape
    # from the input's value, which may not be negative.
    target = n.ints(0, tys)
    if target is None:
        return None
    if target and min(target) < 0:
        raise ShapeError("ConstantOfShape of negative sizes %s" % (target,))
    value = n.attr("value", None)
    return [(target, FLOAT if value is None else value.data_type)]


def _constant(n, ins, tys):
    # generator/defs.cc Constant-25: the dims and type of `value`, or the value_* shorthands.
    value = n.attr("value", None)
    if value is not None:
        return [(list(value.dims), value.data_type)]
    if n.opset < 12:
        return None  # the value_* shorthands came with Constant-12
    for name, elem in (("value_float", FLOAT), ("value_int", INT64)):
        if n.attr(name, None) is not None:
            return [([], elem)]
    for name, elem in (("value_floats", FLOAT), ("value_ints", INT64)):
        listed = n.attr(name, None)
        if listed is not None:
            return [([len(listed)], elem)]
    return None


def _range(n, ins, tys):
    """generator/defs.cc Range-11 (compute_output_dim_for_range in generator/utils.h): scalars of
    one type; max(ceil((limit - start) / delta), 0), the difference taken in the inputs' type and
    divided in double."""
    if len(ins) != 3:
        return None
    args = [n.value(i) for i in range(3)]
    if None in args or tys[0] not in (FLOAT, INT32, INT64, DOUBLE):
        return None
    if tys[1] != tys[0] or tys[2] != tys[0]:
        raise ShapeError("Range inputs of different types")
    if any(len(shape) for shape in ins):
        raise ShapeError("Range inputs must be scalars")
    start, limit, delta = (arg.reshape(()) for arg in args)
    difference = float((limit - start).item()) if tys[0] == FLOAT else float(limit.item() - start.item())
    if float(delta.item()) == 0:
        raise ShapeError("Range delta is 0")
    count = difference / float(delta.item())
    if math.isnan(count) or math.isinf(count):
        raise ShapeError("Range of %s" % count)
    return [([max(int(math.ceil(count)), 0)], tys[0])]


def _resize(n, ins, tys):
    """tensor/utils.cc resizeShapeInferenceVersioned (Resize-11 to 19): sizes (int64, one per axis
    or per `axes`, with keep_aspect_ratio_policy) or float scales giving floor(size * scale);
    Resize-10 (resizeShapeInference_opset7_to_10) takes scales as input 1."""
    x = ins[0]
    rank = len(x)
    if n.opset < 11:
        return _scaled(x, n.value(1), tys[1] if len(tys) > 1 else None, tys)
    has_scales, has_sizes = n.has(2), n.has(3)
    sizes = None
    if has_sizes:
        sizes = n.ints(3, tys)
        if sizes is None:
            return None
        if not sizes:
            has_sizes = False
    scales = n.value(2) if has_scales else None
    if scales is not None and scales.size == 0:
        has_scales, scales = False, None
    if n.opset >= 13 and has_scales + has_sizes != 1:
        raise ShapeError("Resize needs exactly one of scales and sizes")
    policy = _text(n.attr("keep_aspect_ratio_policy", "stretch"))
    if policy not in ("stretch", "not_larger", "not_smaller") or (has_scales and policy != "stretch"):
        raise ShapeError("Resize keep_aspect_ratio_policy %r" % policy)
    axes = n.attr("axes", None)
    axes = [] if axes is None else _axes(list(axes), rank)
    if has_sizes:
        if len(sizes) != (len(axes) if axes else rank):
            raise ShapeError("Resize sizes %s for rank %d and axes %s" % (sizes, rank, axes))
        if policy != "stretch":
            # KeepAspectRatioHelper: one scale for every listed axis, then round(scale * size).
            chosen = [sizes[i] / float(x[axes[i] if axes else i]) for i in range(len(sizes))]
            scale = min(chosen) if policy == "not_larger" else max(chosen)
            sizes = [_round_half_away(scale * x[axes[i] if axes else i]) for i in range(len(sizes))]
        if axes:
            full = list(x)
            for axis, size in zip(axes, sizes):
                full[axis] = size
            sizes = full
        if min(sizes) <= 0:
            return None  # ONNX leaves a size of 0 or less unknown
        return [(sizes, tys[0])]
    if scales is None:
        return None
    if axes:
        if tys[2] != FLOAT or scales.size != len(axes):
            raise ShapeError("Resize scales must be float, one per axis of %s" % (axes,))
        full = [1.0] * rank
        for axis, scale in zip(axes, scales.reshape(-1).tolist()):
            full[axis] = scale
        return [(_floor_scaled(x, full), tys[0])]
    return _scaled(x, scales, tys[2], tys)


def _scaled(x, scales, scales_type, tys):
    if scales is None:
        return None
    if scales_type != FLOAT:
        raise ShapeError("Resize scales must be float")
    if scales.size != len(x):
        raise ShapeError("Resize scales for rank %d" % len(x))
    return [(_floor_scaled(x, scales.reshape(-1).tolist()), tys[0])]


def _floor_scaled(x, scales):
    # tensor/utils.cc resizeShapeInferenceHelper_opset7_to_10: floor(double(size) * double(float scale)).
    return [int(math.floor(float(d) * float(s))) for d, s in zip(x, scales)]


def _round_half_away(value):
    # std::round: halves away from zero.
    return int(math.floor(value + 0.5)) if value >= 0 else -int(math.floor(-value + 0.5))
