"""What an ONNX file's graph holds, read straight from its protobuf: the agent never imports ``onnx``.

The agent needs two facts that ONNX Runtime's Python API does not give: which precision the graph
really computes in (``graph_precision``: the file carries its precision, whatever ``--precision`` said)
and which MatMul nodes multiply by a weight (for :mod:`.ort_layers`' FC rule). Both come from the
node list and the initializers' element types, so this walks only those messages of the protobuf
wire format (https://protobuf.dev/programming-guides/encoding/) and skips every weight's bytes:
the file is memory-mapped, so a 500 MB VGG costs a few page reads. The reader is
:mod:`edgeprof.onnxproto`, the one the static costs use (field numbers are cited there).
"""
from edgeprof import onnxproto

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
    model = onnxproto.read(path, 0, {})  # no tensor values: names and element types are enough
    graph = model.graph
    if not graph.node:
        raise ValueError("%s holds no graph nodes" % path)
    initializers = {}
    for tensor in graph.initializer + graph.sparse_initializer:
        initializers[tensor.name] = tensor.data_type
    nodes = []
    for node in graph.node:
        nodes.append((node.name, node.op_type, node.input, node.output))
        value = node.attr("value", None) if node.op_type == "Constant" else None
        if isinstance(value, onnxproto.Tensor) and node.output:
            initializers[node.output[0]] = value.data_type
    return Graph(nodes, initializers)
