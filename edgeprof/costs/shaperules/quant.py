"""Quantization: QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear.

Part of :mod:`edgeprof.costs.shaperules` (sources cited per rule, paths under onnx/defs/ of
github:onnx/onnx v1.22.0)."""
from edgeprof.costs.shaperules.common import FLOAT, ShapeError, UINT8


def _quantize(n, ins, tys):
    # QuantizeLinear-25 (-10 to -24 alike): y_zero_point's type; else output_dtype (from 21); else uint8.
    dtype = n.attr("output_dtype", 0) if n.opset >= 21 else 0
    if n.has(2):
        if dtype and dtype != tys[2]:
            raise ShapeError("QuantizeLinear output_dtype %d differs from y_zero_point's type %d" % (dtype, tys[2]))
        elem = tys[2]
    else:
        elem = dtype or UINT8
    return [(ins[0], elem)]


def _dequantize(n, ins, tys):
    # DequantizeLinear-10/-13: float; -19/-21: x_scale's type; -23+: output_dtype, else x_scale's type.
    if n.opset < 19:
        elem = FLOAT
    else:
        elem = (n.attr("output_dtype", 0) if n.opset >= 23 else 0) or tys[1]
    return [(ins[0], elem)]


def _dynamic_quantize(n, ins, tys):
    # DynamicQuantizeLinear-11: y uint8 of x's shape, y_scale a float scalar, y_zero_point a uint8 scalar.
    return [(ins[0], UINT8), ([], FLOAT), ([], UINT8)]
