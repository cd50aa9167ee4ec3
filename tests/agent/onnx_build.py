"""A small ONNX model built in the test, with numpy only (no onnx package: the Python 3.6 suite lacks it).

The ONNX file is a protobuf ``ModelProto``; this writes the few messages a chain of 3x3 convolutions
needs, field numbers from ``onnx/onnx.proto`` (IR version 7, opset 13, as ``tests/data/tiny.onnx``).
The model is heavy enough (tens of millions of multiply-accumulates per image) that ONNX Runtime
spreads it over its intra-op threads, so ``--threads 1`` is measurably slower than the default.
"""
import numpy as np

FLOAT = 1                       # TensorProto.DataType.FLOAT
ATTR_INTS = 7                   # AttributeProto.AttributeType.INTS


def _varint(value):
    out = bytearray()
    while True:
        low = value & 0x7F
        value >>= 7
        if value:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def _key(field, wire):
    return _varint((field << 3) | wire)


def _int(field, value):
    return _key(field, 0) + _varint(value)


def _bytes(field, data):
    if isinstance(data, str):
        data = data.encode("utf-8")
    return _key(field, 2) + _varint(len(data)) + data


def _tensor(name, array):
    array = np.ascontiguousarray(array, dtype="<f4")
    dims = b"".join(_int(1, d) for d in array.shape)
    return dims + _int(2, FLOAT) + _bytes(8, name) + _bytes(9, array.tobytes())


def _value_info(name, dims):
    shape = b"".join(_bytes(1, _bytes(2, d) if isinstance(d, str) else _int(1, d)) for d in dims)
    tensor_type = _int(1, FLOAT) + _bytes(2, shape)
    return _bytes(1, name) + _bytes(2, _bytes(1, tensor_type))


def _ints_attribute(name, values):
    return _bytes(1, name) + _int(20, ATTR_INTS) + b"".join(_int(8, v) for v in values)


def _node(op_type, inputs, outputs, name, attributes=()):
    body = b"".join(_bytes(1, i) for i in inputs) + b"".join(_bytes(2, o) for o in outputs)
    body += _bytes(3, name) + _bytes(4, op_type)
    return body + b"".join(_bytes(5, a) for a in attributes)


def conv_chain(path, channels=32, size=48, layers=2, seed=0):
    """Write ``layers`` 3x3 convolutions (``channels`` in and out, ``size`` x ``size``) to ``path``.

    The input is ``[batch, channels, size, size]`` with a dynamic batch axis.
    """
    rng = np.random.RandomState(seed)
    nodes, initializers = [], []
    previous = "input"
    for index in range(layers):
        weight = "w%d" % index
        out = "output" if index == layers - 1 else "h%d" % index
        initializers.append(_tensor(weight, rng.standard_normal((channels, channels, 3, 3)) * 0.05))
        nodes.append(_node("Conv", [previous, weight], [out], "conv%d" % index,
                           [_ints_attribute("kernel_shape", [3, 3]), _ints_attribute("pads", [1, 1, 1, 1])]))
        previous = out
    graph = b"".join(_bytes(1, n) for n in nodes) + _bytes(2, "conv_chain")
    graph += b"".join(_bytes(5, t) for t in initializers)
    graph += _bytes(11, _value_info("input", ["batch", channels, size, size]))
    graph += _bytes(12, _value_info("output", ["batch", channels, size, size]))
    model = _int(1, 7) + _bytes(2, "edgeprof-tests") + _bytes(7, graph) + _bytes(8, _bytes(1, "") + _int(2, 13))
    with open(str(path), "wb") as f:
        f.write(model)
    return str(path)


def macs(channels=32, size=48, layers=2):
    """Multiply-accumulates per image of :func:`conv_chain`."""
    return layers * channels * channels * 9 * size * size
