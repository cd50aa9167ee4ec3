"""What an ONNX file's graph holds, read straight from its protobuf: the agent never imports ``onnx``.

The agent needs two facts that ONNX Runtime's Python API does not give: which precision the graph
really computes in (``graph_precision``: the file carries its precision, whatever ``--precision`` said)
and which MatMul nodes multiply by a weight (for :mod:`.ort_layers`' FC rule). Both come from the
node list and the initializers' element types, so this walks only those messages of the protobuf
wire format (https://protobuf.dev/programming-guides/encoding/) and skips every weight's bytes:
the file is memory-mapped, so a 500 MB VGG costs a few page reads.

Field numbers are onnx/onnx.proto's (onnx v1.10.0 and main alike): ModelProto.graph = 7;
GraphProto.node = 1, initializer = 5, sparse_initializer = 15; NodeProto.input = 1, output = 2,
name = 3, op_type = 4, attribute = 5; AttributeProto.t = 5; TensorProto.data_type = 2, name = 8;
SparseTensorProto.values = 1; TensorProto.DataType FLOAT16 = 10.
"""
import mmap

from edgeprof import protowire

FLOAT16 = 10
# ops that compute in int8/uint8 (the QDQ format, and the operator-oriented QLinear*/ *Integer ops)
QUANTIZED_OPS = ("QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear", "MatMulInteger", "ConvInteger")
PRECISION_BASIS = ("the file's graph: QuantizeLinear/DequantizeLinear, QLinear* or *Integer ops -> int8; "
                   "else any FLOAT16 initializer -> fp16; else fp32")
MATMUL_OPS = ("MatMul", "MatMulInteger", "QLinearMatMul")


class Graph(object):
    """The nodes (``(name, op_type, inputs, outputs)``) and initializers (``{name: data_type}``) of a graph."""

    def __init__(self, nodes, initializers):
        self.nodes = nodes
        self.initializers = initializers

    def precision(self):
        """'int8', 'fp16' or 'fp32' (see :data:`PRECISION_BASIS`)."""
        ops = set(node[1] for node in self.nodes)
        if any(op in QUANTIZED_OPS or op.startswith("QLinear") for op in ops):
            return "int8"
        if FLOAT16 in self.initializers.values():
            return "fp16"
        return "fp32"

    def weighted_matmuls(self):
        """Names of the MatMul nodes with a weight input: an initializer (a Constant's output counts as
        one), or the DequantizeLinear (QDQ int8) or Cast of one."""
        weights = set(self.initializers)
        for _, op, inputs, outputs in self.nodes:  # topological order: a weight's DQ/Cast comes before its use
            if op in ("DequantizeLinear", "Cast") and inputs and inputs[0] in weights:
                weights.update(outputs)
        return set(name for name, op, inputs, _ in self.nodes if op in MATMUL_OPS and any(i in weights for i in inputs))


def read_graph(path):
    """The :class:`Graph` of the ONNX file ``path``; raises ``ValueError`` or ``OSError`` when unreadable."""
    with open(path, "rb") as f:
        if not _size(f):
            raise ValueError("%s is empty" % path)
        buf = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    try:
        graph = _only(buf, 0, len(buf), 7)
        if graph is None:
            raise ValueError("%s has no graph" % path)
        return _graph(buf, graph)
    finally:
        buf.close()


def _size(f):
    f.seek(0, 2)
    size = f.tell()
    f.seek(0)
    return size


def _graph(buf, span):
    nodes, initializers = [], {}
    for field, value in _fields(buf, span[0], span[1]):
        if field == 1:
            node = _node(buf, value)
            nodes.append(node)
            if node[1] == "Constant":
                initializers.update(_constant_types(buf, value, node[3]))
        elif field in (5, 15):
            tensor = value if field == 5 else _only(buf, value[0], value[1], 1)
            if tensor is not None:
                name, data_type = _tensor(buf, tensor)
                initializers[name] = data_type
    return Graph(nodes, initializers)


def _node(buf, span):
    inputs, outputs, name, op = [], [], "", ""
    for field, value in _fields(buf, span[0], span[1]):
        if field == 1:
            inputs.append(_text(buf, value))
        elif field == 2:
            outputs.append(_text(buf, value))
        elif field == 3:
            name = _text(buf, value)
        elif field == 4:
            op = _text(buf, value)
    return name, op, inputs, outputs


def _constant_types(buf, span, outputs):
    """``{output: data_type}`` of a Constant node whose ``value`` attribute is a tensor."""
    for field, value in _fields(buf, span[0], span[1]):
        if field == 5 and outputs:
            tensor = _only(buf, value[0], value[1], 5)
            if tensor is not None:
                return {outputs[0]: _tensor(buf, tensor)[1]}
    return {}


def _tensor(buf, span):
    name, data_type = "", 0
    for field, value in _fields(buf, span[0], span[1]):
        if field == 2 and isinstance(value, int):
            data_type = value
        elif field == 8 and isinstance(value, tuple):
            name = _text(buf, value)
    return name, data_type


def _only(buf, start, end, wanted):
    """The span of the last length-delimited field ``wanted`` between ``start`` and ``end`` (or None)."""
    found = None
    for field, value in _fields(buf, start, end):
        if field == wanted and isinstance(value, tuple):
            found = value
    return found


def _text(buf, span):
    if not isinstance(span, tuple):
        raise ValueError("a string field is not length-delimited")
    return bytes(buf[span[0]:span[1]]).decode("utf-8", "replace")


def _fields(buf, pos, end):
    """``(field number, value)`` of each field in ``buf[pos:end]``: an int for a varint, a ``(start, end)``
    span for a length-delimited field, None for fixed-width ones (never read here). Raises
    :class:`edgeprof.protowire.WireError` (a ValueError) on bytes that are not protobuf."""
    for field, wire, _, start, stop in protowire.fields(buf, pos, end):
        if wire == protowire.VARINT:
            yield field, protowire.read_varint(buf, start, stop)[0]
        elif wire == protowire.LEN:
            yield field, (start, stop)
        else:
            yield field, None
