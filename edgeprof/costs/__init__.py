"""Static costs of an ONNX model from its graph alone: parameters, MACs, the paper's operations,
weight and activation memory, per layer and in total.

Nothing is run and no weight is read: the protobuf is walked into plain objects without the
payloads of its initializers (``onnxproto``), whose sizes come from their dims and data type, and
output shapes come from one pass of edgeprof's own rules (``infer``: ``fold`` for the shapes the
graph computes, ``shaperules`` for the rest), so time and memory grow neither with the weights nor
with onnx's import. A model with a node those rules do not know goes through ONNX's shape inference
instead (``graph.onnx_shapes``, ``wire``, ``nodeshapes``), which needs the onnx package. The
counting rules are in docs/analysis-conventions.md.

costs/ is a part of its own: ``graph`` loads the model and infers its shapes, ``rules`` counts
each op, and this module puts them together. onnx is imported inside functions only, so importing
costs/ needs none of it. Used by export, inspect and predict, and by the agent's model selection
(for a bare .onnx given to ``sweep``).
"""
from edgeprof.costs import graph, rules, weights


class Analysis:
    """Static costs of one ONNX model at one batch size.

    Attributes:
        path (str): the model file.
        batch (int): images per inference the costs are given for.
        params (int): elements of the initializers used as weights or biases (each counted once),
            also when stored as fp16 or int8 and read through Cast or DequantizeLinear.
        macs (int): multiply-accumulates of Conv, ConvTranspose, Gemm and MatMul at ``batch``.
        paper_ops (int): operations in the convention of Canziani et al. (2016) at ``batch``.
        weight_bytes (int): bytes of all initializers stored in the model.
        activation_bytes (int): bytes of every layer's outputs, summed, at ``batch`` (not those of
            nodes that only transform weights: a dequantized or transposed weight is a weight).
        peak_activation_bytes (int): most bytes of activations alive at once when the layers run
            in graph order, each output in its own buffer, freed after its last reader.
        input_name (str), input_shape (list of int, without batch), opset (int).
        layers (list of dict): name, op_type, output_shape, params, macs, paper_ops,
            activation_bytes, fc, costed, reason; macs and paper_ops are None and ``reason`` says
            why for a layer that was not costed.
        unsupported_ops (list of str): sorted op types edgeprof has no rule for.
        uncosted_ops (list of str): sorted op types with a rule whose shapes were not found.
        uncosted_layers (list of str): names of every layer not costed, either way, in graph order.
        complete (bool): every layer was costed; when False, macs and paper_ops are lower bounds.
        fc_params, fc_macs (int): the part held by fully connected layers (Gemm, MatMul with a weight).
        notes (list of str): anything the reader must know to trust the numbers.
        shapes_by (str): which shape inference gave the tensors' shapes: "edgeprof" (its own rules,
            no onnx) or "onnx (...)" saying at which node edgeprof's own stopped.
    """

    def __init__(self, path, batch, opset, input_name, input_shape, layers, weight_bytes,
                 peak_activation_bytes, notes, shapes_by="edgeprof"):
        self.path = path
        self.batch = batch
        self.opset = opset
        self.input_name = input_name
        self.input_shape = input_shape
        self.layers = layers
        self.weight_bytes = weight_bytes
        self.peak_activation_bytes = peak_activation_bytes
        self.notes = notes
        self.shapes_by = shapes_by
        self.params = sum(layer["params"] for layer in layers)
        self.macs = sum(layer["macs"] or 0 for layer in layers)
        self.paper_ops = sum(layer["paper_ops"] or 0 for layer in layers)
        self.activation_bytes = sum(layer["activation_bytes"] for layer in layers)
        missing = [layer for layer in layers if not layer["costed"]]
        self.unsupported_ops = sorted({layer["op_type"] for layer in missing
                                       if layer["reason"].startswith("unsupported")})
        self.uncosted_ops = sorted({layer["op_type"] for layer in missing
                                    if not layer["reason"].startswith("unsupported")})
        self.uncosted_layers = [layer["name"] for layer in missing]
        self.complete = not missing
        self.fc_params = sum(layer["params"] for layer in layers if layer["fc"])
        self.fc_macs = sum(layer["macs"] or 0 for layer in layers if layer["fc"])

    def summary(self):
        """The totals, as plain types (for the manifest and ``inspect --json``).

        ``complete`` is False (and ``lower_bound`` True) when some layer was not costed: then
        ``macs`` and ``paper_ops`` count only the layers that were.
        """
        return {
            "params": self.params,
            "macs": self.macs,
            "paper_ops": self.paper_ops,
            "weight_bytes": self.weight_bytes,
            "peak_activation_bytes": self.peak_activation_bytes,
            "opset": self.opset,
            "input_name": self.input_name,
            "input_shape": list(self.input_shape),
            "unsupported_ops": list(self.unsupported_ops),
            "fc_params": self.fc_params,
            "fc_macs": self.fc_macs,
            "complete": self.complete,
            "lower_bound": not self.complete,
            "uncosted_ops": list(self.uncosted_ops),
            "uncosted_layers": list(self.uncosted_layers),
        }


def analyze(path, batch=1):
    """Count the static costs of the ONNX model at ``path`` for ``batch`` images per inference.

    Args:
        path (str): an .onnx file (weights inside it or in external data files next to it).
        batch (int): images per inference; the model's batch axis must be dynamic, or fixed at 1
            (then the costs are scaled by ``batch``), or fixed at ``batch``.

    Returns:
        Analysis

    Raises:
        InputFileError: the file is missing, not ONNX, truncated, or has dynamic non-batch sizes.
        UsageError: the model's batch is fixed at a size other than 1 and ``batch``.
    """
    return analyze_model(graph.load(path), path, batch)


def analyze_model(model, path, batch=1):
    """:func:`analyze` on a model already read from ``path`` by :func:`graph.load` (or an onnx
    ModelProto; external data files are found next to ``path``); the model is changed in place
    (its batch axis)."""
    from edgeprof import onnxproto
    if not isinstance(model, onnxproto.Model):
        model = graph.from_onnx(model)
    notes = []
    primary, scale = graph.set_batch(model, path, batch, notes)
    shapes, bits, folded, shapes_by = graph.infer_shapes(model, path)
    view = graph.GraphView(model, shapes, bits, folded)
    weights.mark_constant_outputs(model, view)
    layers = [rules.layer_row(node, view) for node in model.graph.node if node.op_type != "Constant"]
    weights.attribute_params(model, view, layers)
    peak_bytes = rules.peak_activation_bytes(model, view)
    if scale != 1:
        for layer in layers:
            for key in ("macs", "paper_ops", "activation_bytes"):
                if layer[key] is not None:
                    layer[key] *= scale
        peak_bytes *= scale
    missing = [layer for layer in layers if not layer["costed"]]
    if missing:
        notes.append("%d of %d layers not costed: MACs and paper ops are lower bounds" % (len(missing), len(layers)))
    if any(layer["output_shape"] is None or None in layer["output_shape"] for layer in layers):
        notes.append("some output shapes are unknown; their activation bytes count as 0")
    opset = max([imp.version for imp in model.opset_import if imp.domain in ("", "ai.onnx")] or [0])
    input_dims = primary.dims or []
    return Analysis(path, batch, opset=opset, input_name=primary.name, input_shape=input_dims[1:],
                    layers=layers, weight_bytes=graph.weight_bytes(model), peak_activation_bytes=peak_bytes,
                    notes=notes, shapes_by=shapes_by)
