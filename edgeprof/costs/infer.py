"""edgeprof's own shape inference: one pass over the graph in order, no onnx.

Each node is either folded (its inputs are all known values: shape math, masks built from sizes;
:func:`edgeprof.costs.fold.fold_node` computes it with numpy) or has its outputs' shapes and types
inferred from its inputs' by :func:`edgeprof.costs.shaperules.infer`. A graph is in topological
order (ONNX IR: "nodes ... MUST be topologically sorted"), so one pass carries the sizes from the
graph inputs to the outputs, folding included, where ONNX's inference needs rounds with folding in
between. The pass gives up, and :func:`edgeprof.costs.graph.onnx_shapes` does the work, as soon as
a node cannot be inferred: an op type without a rule, a custom domain, a shape that depends on the
data, a graph input without a shape, inputs that disagree (onnx then says what is wrong), subgraphs
or model-local functions (which onnx's inference expands).
"""
from edgeprof.costs import fold, shaperules


class NotInferred(Exception):
    """A tensor's shape could not be inferred here; the message says where (for notes and errors)."""


def pure_shapes(model):
    """(shapes, types, folded) as :func:`edgeprof.costs.graph.onnx_shapes` gives them.

    Raises NotInferred naming the first node (or input) the pass could not infer.
    """
    graph = model.graph
    if model.functions or graph.subgraphs:
        raise NotInferred("the model has %s" % ("local functions" if model.functions else "subgraphs (If, Loop, Scan)"))
    opset = max([imp.version for imp in model.opset_import if imp.domain in ("", "ai.onnx")] or [0])
    shapes, types = {}, {}
    for tensor in graph.initializer:
        shapes[tensor.name] = list(tensor.dims)
        types[tensor.name] = tensor.data_type
    initializers = set(shapes)
    for value_info in graph.input:
        if value_info.name in initializers:
            continue
        if value_info.dims is None or None in value_info.dims or not value_info.elem_type:
            raise NotInferred("input %r has no fixed shape or tensor type" % value_info.name)
        shapes[value_info.name] = list(value_info.dims)
        types[value_info.name] = value_info.elem_type
    values = fold.known_values(graph)
    folded = set()
    for node in graph.node:
        if node.op_type == "Constant" and node.domain in ("", "ai.onnx"):
            value = values.get(node.output[0]) if node.output else None
            tensor = node.attr("value", None)
            if value is None or tensor is None and value.dtype.name not in ("float32", "int64"):
                raise NotInferred("Constant %r holds no numeric tensor" % (node.name or node.output))
            shapes[node.output[0]] = list(value.shape)
            types[node.output[0]] = tensor.data_type if tensor is not None else fold.onnx_dtype(value.dtype)
            continue
        results = fold.fold_node(node, shapes, values)
        if results is not None:
            for name, value in zip(node.output, results):
                values[name] = value
                shapes[name] = list(value.shape)
                types[name] = fold.onnx_dtype(value.dtype)
                folded.add(name)
            continue
        try:
            inferred = shaperules.infer(node, shapes, types, values, opset)
        except shaperules.ShapeError as exc:
            raise NotInferred("%s node %r: %s" % (node.op_type, node.name, exc))
        if not inferred:
            raise NotInferred("%s node %r%s" % (node.op_type, node.name, (
                " (domain %s)" % node.domain) if node.domain not in ("", "ai.onnx") else ""))
    return shapes, types, folded
