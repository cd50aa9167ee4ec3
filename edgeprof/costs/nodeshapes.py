"""Shape inference of one node at a time, inside a folding pass.

A model whose shapes are computed by the graph (Swin: every block's window sizes come from the
Shape of the block before) needs a round of inference after each fold, and ONNX's whole-model
inference costs about half a second on a 15,000-node graph. Inferring, during the folding pass
itself, each node whose outputs are still unknown once its inputs are known (ONNX's own per-node
inference, ``onnx.shape_inference.infer_node_outputs``, fed the values folded so far) lets one
pass carry the sizes down the whole graph, so a few rounds suffice. With an onnx that lacks
``infer_node_outputs`` (before 1.12), the rounds of whole-model inference still get there.
"""
from edgeprof.costs.fold import SHAPE_ELEMENTS, onnx_dtype
from edgeprof.costs.graph import dims_of


class NodeShapes:
    """Fills ``shapes`` and ``types`` (tensor name -> sizes, ONNX element type) node by node."""

    def __init__(self, model, shapes, types, values):
        import onnx
        self.available = hasattr(onnx.shape_inference, "infer_node_outputs")
        self.opset_import = list(model.opset_import)
        self.opsets = {imp.domain or "ai.onnx": imp.version for imp in model.opset_import}
        self.ir_version = model.ir_version
        self.shapes, self.types, self.values = shapes, types, values
        self._schemas = {}

    def __call__(self, node):
        """Infer ``node``'s outputs when some are unknown and all its inputs are known."""
        if not self.available or node.domain not in ("", "ai.onnx"):
            return
        if all(_known(self.shapes.get(name)) for name in node.output if name):
            return
        inputs = [name for name in node.input if name]
        if not all(_known(self.shapes.get(name)) and self._type(name) for name in inputs):
            return
        schema = self._schema(node.op_type)
        if schema is None:
            return
        import onnx
        from onnx import helper, numpy_helper
        input_types = {name: helper.make_tensor_type_proto(self._type(name), self.shapes[name]) for name in inputs}
        input_data = {name: numpy_helper.from_array(self.values[name], name) for name in inputs
                      if name in self.values and self.values[name].size <= SHAPE_ELEMENTS}
        try:
            found = onnx.shape_inference.infer_node_outputs(
                schema, node, input_types, input_data, opset_imports=self.opset_import,
                ir_version=self.ir_version)
        except Exception:  # noqa: BLE001  (onnx raises InferenceError and others; whole-model rounds remain)
            return
        for name, type_proto in found.items():
            tensor_type = type_proto.tensor_type
            if type_proto.HasField("tensor_type") and tensor_type.HasField("shape"):
                self.shapes[name] = dims_of(tensor_type.shape)
                self.types[name] = tensor_type.elem_type

    def _type(self, name):
        if name in self.types:
            return self.types[name]
        value = self.values.get(name)
        if value is None:
            return 0
        self.types[name] = onnx_dtype(value.dtype)
        return self.types[name]

    def _schema(self, op_type):
        if op_type not in self._schemas:
            import onnx
            try:
                self._schemas[op_type] = onnx.defs.get_schema(op_type, self.opsets.get("ai.onnx", 1), "")
            except Exception:  # noqa: BLE001  (SchemaError: an op onnx does not know)
                self._schemas[op_type] = None
        return self._schemas[op_type]


def _known(dims):
    return dims is not None and None not in dims
