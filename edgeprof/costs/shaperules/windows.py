"""Convolution and pooling: output sizes from kernels, strides, pads and dilations.

Part of :mod:`edgeprof.costs.shaperules` (sources cited per rule, paths under onnx/defs/ of
github:onnx/onnx v1.22.0)."""
from edgeprof.costs.shaperules.common import INT32, INT64, ShapeError, _same_types, _tdiv, _text


def _window(n, x, kernel, channels, use_dilation, new_ceil):
    """Output sizes of a sliding window over x[2:] (kernel given, with the node's attributes)."""
    rank = len(x) - 2
    if rank < 1:
        raise ShapeError("%s input must have at least 3 dimensions" % n.op)
    if len(kernel) != rank:
        raise ShapeError("%s kernel %s does not match the input's %d spatial axes" % (n.op, kernel, rank))
    dilations = n.attr("dilations", None) if use_dilation else None
    dilations = [1] * rank if dilations is None else list(dilations)
    strides = n.attr("strides", None)
    strides = [1] * rank if strides is None else list(strides)  # nn/utils.cc getConvPoolStrides
    if len(dilations) != rank or len(strides) != rank or min(dilations) <= 0 or min(strides) <= 0:
        raise ShapeError("%s dilations %s / strides %s do not fit %d spatial axes" % (n.op, dilations, strides, rank))
    if min(kernel) <= 0:
        raise ShapeError("%s kernel %s must be positive" % (n.op, kernel))
    effective = [(k - 1) * d + 1 for k, d in zip(kernel, dilations)]
    pads = n.attr("pads", None)
    if pads is not None:
        pads = list(pads)
        if len(pads) != 2 * rank or (pads and min(pads) < 0):
            raise ShapeError("%s pads %s do not fit %d spatial axes" % (n.op, pads, rank))
    else:
        pads = [0] * (2 * rank)
        auto_pad = _text(n.attr("auto_pad", None))
        if auto_pad is not None and auto_pad != "VALID":
            for i in range(rank):
                stride, residual = strides[i], 0
                if stride > 1:
                    residual = x[2 + i] % stride
                total = effective[i] - (stride if residual == 0 else residual)
                total = max(total, 0)
                small, big = total >> 1, total - (total >> 1)
                if auto_pad == "SAME_UPPER":
                    pads[i], pads[i + rank] = small, big
                elif auto_pad == "SAME_LOWER":
                    pads[i], pads[i + rank] = big, small
    ceil_mode = n.attr("ceil_mode", 0)
    out = [x[0], channels]
    for i in range(rank):
        size = x[2 + i]
        gap = size + pads[i] + pads[i + rank] - effective[i]
        if new_ceil:
            # Current rule (MaxPool/AveragePool/LpPool from opset 22, QLinearConv, ConvInteger):
            # ceil division, then a last window that would start in the right padding is dropped
            # (PyTorch's rule, aten/src/ATen/native/Pool.h).
            if ceil_mode:
                gap += strides[i] - 1
            size_out = _tdiv(gap, strides[i]) + 1
            if ceil_mode == 1 and (size_out - 1) * strides[i] >= size + pads[i]:
                size_out -= 1
        else:
            # Before opset 22 (MaxPool-12, AveragePool-19/11, LpPool-18/11, Conv-11/1): plain ceil
            # (exact C++ division plus one when a remainder is left), no padding rule.
            size_out = _tdiv(gap, strides[i]) + (1 if ceil_mode == 1 and gap > 0 and gap % strides[i] else 0) + 1
        if size_out <= 0:
            raise ShapeError("%s output size %d on spatial axis %d" % (n.op, size_out, i))
        out.append(size_out)
    return out


def _conv(n, ins, tys, x_index=0, w_index=1):
    """Conv-22 (nn/defs.cc ConvOpSchemaGenerator), QLinearConv-10 and ConvInteger-10: kernel from
    kernel_shape or W's dims, output channels W's first dim."""
    x, w = ins[x_index], ins[w_index]
    if len(w) < 1:
        raise ShapeError("%s weight has rank 0" % n.op)
    group = n.attr("group", 1)
    if len(w) > 1 and len(x) > 1 and (x[1] != w[1] * group or w[0] % group):
        # ONNX does not check the channels; no runtime runs such a Conv.
        raise ShapeError("%s input channels %d do not match weight %s with group %d" % (n.op, x[1], w, group))
    kernel = n.attr("kernel_shape", None)
    kernel = list(w[2:]) if kernel is None else list(kernel)
    new_ceil = n.op != "Conv" or n.opset >= 22
    return _window(n, x, kernel, w[0], True, new_ceil)


def _conv_rule(n, ins, tys):
    if len(ins) < 2 or ins[1] is None:
        return None
    _same_types(tys, [0, 1] + ([2] if len(ins) > 2 and ins[2] is not None else []))
    return [(_conv(n, ins, tys), tys[0])]


def _qlinear_conv(n, ins, tys):
    # nn/defs.cc QLinearConv-10: x and x_zero_point, w and w_zero_point of one type each;
    # output of y_zero_point's type (input 7); convPoolShapeInference(ctx, true, false, 0, 3).
    if len(ins) < 8 or None in ins[:8]:
        return None
    if tys[2] != tys[0] or tys[5] != tys[3]:
        raise ShapeError("QLinearConv inputs and their zero points must have one type")
    return [(_conv(n, ins, tys, 0, 3), tys[7])]


def _conv_integer(n, ins, tys):
    # nn/defs.cc ConvInteger-10: int32; convPoolShapeInference(ctx, true, false, 0, 1).
    return [(_conv(n, ins, tys), INT32)]


def _pool(n, ins, tys):
    """MaxPool, AveragePool, LpPool: kernel_shape required, channels kept; MaxPool's Indices are
    int64 of the same shape (nn/defs.cc PoolOpSchemaGenerator, LpPoolOpSchemaGenerator)."""
    kernel = n.attr("kernel_shape", None)
    if kernel is None:
        raise ShapeError("%s needs kernel_shape" % n.op)
    x = ins[0]
    # use_dilation per schema version: MaxPool from 10, AveragePool from 11 (nn/old.cc
    # PoolOpSchemaGenerator_opset11 is given use_dilation=true), LpPool from 18.
    since = {"MaxPool": 10, "AveragePool": 11, "LpPool": 18}[n.op]
    out = _window(n, x, list(kernel), x[1] if len(x) > 1 else None, n.opset >= since, n.opset >= 22)
    return [(out, tys[0]), (out, INT64)]


def _global_pool(n, ins, tys):
    # nn/defs.cc globalPoolTypeShapeInference: [N, C, 1, ..., 1]; rank < 2 gives no shape.
    x = ins[0]
    if len(x) < 2:
        return None
    return [([x[0], x[1]] + [1] * (len(x) - 2), tys[0])]


def _conv_transpose(n, ins, tys):
    """nn/defs.cc convTransposeShapeInference (nn/old.cc _opset11 and _opset1 alike): out = stride *
    (in - 1) + output_padding + effective kernel - pads, or the output_shape attribute."""
    if len(ins) < 2 or ins[1] is None:
        return None
    x, w = ins[0], ins[1]
    group = n.attr("group", 1)
    if group <= 0 or len(x) < 3 or len(w) < 3 or x[1] % group:
        raise ShapeError("ConvTranspose input %s, weight %s, group %d" % (x, w, group))
    if x[1] != w[0]:
        raise ShapeError("ConvTranspose input channels %d do not match weight %s" % (x[1], w))
    rank = len(x) - 2

    def ints(name, default):
        value = n.attr(name, None)
        value = default if value is None else list(value)
        if len(value) != rank:
            raise ShapeError("ConvTranspose %s %s do not fit %d spatial axes" % (name, value, rank))
        return value

    dilations, strides = ints("dilations", [1] * rank), ints("strides", [1] * rank)
    kernel = ints("kernel_shape", list(w[2:]))
    if min(dilations) <= 0 or min(strides) <= 0 or min(kernel) <= 0:
        raise ShapeError("ConvTranspose dilations, strides and kernel must be positive")
    effective = [(k - 1) * d + 1 for k, d in zip(kernel, dilations)]
    pads = n.attr("pads", None)
    auto_pad = _text(n.attr("auto_pad", None))
    if pads is not None:
        pads = list(pads)
        if len(pads) != 2 * rank or min(pads) < 0 or (auto_pad is not None and auto_pad != "NOTSET"):
            raise ShapeError("ConvTranspose pads %s (auto_pad %s)" % (pads, auto_pad))
    else:
        pads = [0] * (2 * rank)
        if auto_pad is not None and auto_pad != "VALID":
            for i in range(rank):
                total = max(effective[i] - strides[i], 0)
                small, big = total >> 1, total - (total >> 1)
                if auto_pad == "SAME_UPPER":
                    pads[i], pads[i + rank] = small, big
                elif auto_pad == "SAME_LOWER":
                    pads[i], pads[i + rank] = big, small
    out = [x[0], w[1] * group]
    output_shape = n.attr("output_shape", None)
    if output_shape is not None:
        output_shape = list(output_shape)
        if len(output_shape) != rank or min(output_shape) < 0:
            raise ShapeError("ConvTranspose output_shape %s" % (output_shape,))
        if any(o < i for o, i in zip(output_shape, x[2:])):
            return None  # ONNX stops with a partial shape ("cannot be smaller than the input")
        return [(out + output_shape, tys[0])]
    output_padding = ints("output_padding", [0] * rank)
    if min(output_padding) < 0:
        raise ShapeError("ConvTranspose output_padding %s" % (output_padding,))
    for i in range(rank):
        size = strides[i] * (x[2 + i] - 1) + output_padding[i] + effective[i] - pads[i] - pads[i + rank]
        if size <= 0:
            raise ShapeError("ConvTranspose output size %d on spatial axis %d" % (size, i))
        out.append(size)
    return [(out, tys[0])]
