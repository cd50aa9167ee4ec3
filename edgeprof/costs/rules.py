"""The counting rules: MACs and the paper's operations per op type, one row per layer, the parameters
each layer holds, and the peak of live activations (docs/analysis-conventions.md says why).

Every rule reads the graph through a :class:`edgeprof.costs.graph.GraphView`.
"""
from edgeprof.costs.graph import attr, numel

# Input slots of known ops that carry settings or running statistics, not learned weights.
_NON_WEIGHT_INPUTS = {
    "BatchNormalization": (3, 4), "Resize": (1, 2, 3), "Upsample": (1,), "Clip": (1, 2),
    "Pad": (1, 2, 3), "Reshape": (1,), "Expand": (1,), "Tile": (1,), "Slice": (1, 2, 3, 4),
    "Squeeze": (1,), "Unsqueeze": (1,), "Split": (1,), "Pow": (1,), "Dropout": (1, 2),
    "ReduceSum": (1,), "ReduceMean": (1,), "ReduceMax": (1,), "ReduceMin": (1,), "TopK": (1,),
    "QuantizeLinear": (1, 2), "DequantizeLinear": (1, 2), "Gather": (1,),
}

# Ops that move or relabel data: no MACs, no operations.
_ZERO_COST = frozenset((
    "Concat", "Flatten", "Reshape", "Transpose", "Squeeze", "Unsqueeze", "Identity", "Dropout",
    "Shape", "Size", "Gather", "GatherElements", "Slice", "Split", "Pad", "Expand", "Tile", "Cast",
    "CastLike", "Constant", "ConstantOfShape", "Range", "DepthToSpace", "SpaceToDepth",
    "QuantizeLinear", "DequantizeLinear", "ScatterND", "ScatterElements", "Scatter", "GatherND",
    "NonZero", "Trilu", "OneHot", "EyeLike",
))
# Normalisations: the paper's counter counts nothing for batch norm; the others follow it.
_NORMALISATION = frozenset((
    "BatchNormalization", "InstanceNormalization", "LayerNormalization", "GroupNormalization",
    "LpNormalization", "MeanVarianceNormalization",
))
# One operation per output element (the paper's rule for ReLU, applied to every pointwise op).
_POINTWISE = frozenset((
    "Relu", "LeakyRelu", "PRelu", "Elu", "Selu", "Celu", "Gelu", "Mish", "Sigmoid", "HardSigmoid",
    "HardSwish", "Tanh", "Softplus", "Softsign", "ThresholdedRelu", "Clip", "Erf", "Exp", "Log",
    "Sqrt", "Reciprocal", "Neg", "Abs", "Ceil", "Floor", "Round", "Sign", "Not", "Cos", "Sin",
    "Sub", "Mul", "Div", "Pow", "Max", "Min", "Mean", "Mod", "Equal", "Greater", "GreaterOrEqual",
    "Less", "LessOrEqual", "And", "Or", "Xor", "Where", "Resize", "Upsample", "CumSum", "IsNaN", "IsInf",
))
_SUM = frozenset(("Add", "Sum"))
_WINDOW_POOL = frozenset(("MaxPool", "AveragePool", "LpPool"))
# Ops whose work is one operation per input element (global pools, reductions, arg-max).
_PER_INPUT_ELEMENT = frozenset((
    "GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool", "ReduceMean", "ReduceSum", "ReduceMax",
    "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2", "ReduceLogSumExp", "ReduceSumSquare",
    "ArgMax", "ArgMin",
))
_SOFTMAX = frozenset(("Softmax", "LogSoftmax"))
_SOFTMAX_OPS_PER_ELEMENT = 3  # exponential, sum, divide (or subtract for LogSoftmax)
# ONNX TensorProto.DataType codes of the floating-point types: only these initializers are weights.
_FLOAT_DTYPES = frozenset((1, 10, 11, 16, 17, 18, 19, 20, 23))


def _has_input(node, index):
    return len(node.input) > index and bool(node.input[index])


def _cost_conv(node, view):
    """Conv: each output element takes (C_in / group) * kernel MACs; the paper adds 1 op for the bias."""
    out, kernel = view.numel(node.output[0]), view.shape(node.input[1])
    if out is None or numel(kernel) is None:
        return None
    macs = out * numel(kernel[1:])
    return macs, 2 * macs + (out if _has_input(node, 2) else 0)


def _cost_conv_transpose(node, view):
    """ConvTranspose: each input element is spread over (C_out / group) * kernel outputs."""
    inp, out, kernel = view.numel(node.input[0]), view.numel(node.output[0]), view.shape(node.input[1])
    if inp is None or out is None or numel(kernel) is None:
        return None
    macs = inp * numel(kernel[1:])
    return macs, 2 * macs + (out if _has_input(node, 2) else 0)


def _cost_gemm(node, view):
    """Gemm: out = A' x B' (+ C); K is A's inner size (after transA)."""
    a, out = view.shape(node.input[0]), view.numel(node.output[0])
    if out is None or a is None or len(a) != 2 or None in a:
        return None
    macs = out * (a[0] if attr(node, "transA", 0) else a[1])
    return macs, 2 * macs + (out if _has_input(node, 2) else 0)


def _cost_matmul(node, view):
    """MatMul: each output element is a dot product over A's last axis."""
    a, out = view.shape(node.input[0]), view.numel(node.output[0])
    if out is None or not a or a[-1] is None:
        return None
    macs = out * a[-1]
    return macs, 2 * macs


def _cost_einsum(node, view):
    """Einsum as one loop nest: (operands - 1) multiplies per point of the space of all its labels.

    Two operands (attention's ``bhid,bhjd->bhij``) give output elements x contracted sizes, the
    MatMul rule; one operand (a transpose, trace or sum) multiplies nothing and reduces its input.
    """
    shapes = [view.shape(name) for name in node.input]
    if any(numel(shape) is None for shape in shapes):
        return None
    sizes = _einsum_label_sizes(attr(node, "equation", ""), shapes)
    if sizes is None:
        return None
    macs = (len(shapes) - 1) * numel(list(sizes.values()))
    return macs, 2 * macs if macs else view.numel(node.input[0])


def _einsum_label_sizes(equation, shapes):
    """Label -> size over all operands of an einsum ``equation`` ("..." as one label per axis)."""
    equation = equation.decode() if isinstance(equation, bytes) else equation
    terms = equation.replace(" ", "").split("->")[0].split(",")
    if len(terms) != len(shapes):
        return None
    sizes = {}
    for term, shape in zip(terms, shapes):
        labels = list(term.replace("...", ""))
        broadcast = len(shape) - len(labels)
        if broadcast < 0 or (broadcast and "..." not in term):
            return None
        head = term.split("...")[0] if "..." in term else term
        axes = list(head) + ["...%d" % (broadcast - i) for i in range(broadcast)] + labels[len(head):]
        for label, size in zip(axes, shape):
            sizes[label] = max(sizes.get(label, 1), size)
    return sizes


def _cost_window_pool(node, view):
    """Max/Average/LpPool: the paper counts kH * kW operations per output element."""
    out = view.numel(node.output[0])
    if out is None:
        return None
    return 0, out * numel(list(attr(node, "kernel_shape", [])))


def _cost_lrn(node, view):
    """LRN: ``size`` operations per element (the cross-channel window, like the pooling rule)."""
    out = view.numel(node.output[0])
    if out is None:
        return None
    return 0, out * attr(node, "size", 1)


def _cost_sum(node, view):
    """Add/Sum: one operation per element per activation input, so a residual add costs 2."""
    out = view.numel(node.output[0])
    if out is None:
        return None
    return 0, out * max(1, sum(1 for name in node.input if view.is_activation(name)))


def _cost_per_output(ops_per_element):
    def cost(node, view):
        out = view.numel(node.output[0])
        return None if out is None else (0, out * ops_per_element)
    return cost


def _cost_per_input(node, view):
    inp = view.numel(node.input[0])
    return None if inp is None else (0, inp)


def _cost_nothing(node, view):
    return 0, 0


_COSTERS = {"Conv": _cost_conv, "ConvTranspose": _cost_conv_transpose, "Gemm": _cost_gemm,
            "MatMul": _cost_matmul, "LRN": _cost_lrn, "Einsum": _cost_einsum}
_COSTERS.update((op, _cost_window_pool) for op in _WINDOW_POOL)
_COSTERS.update((op, _cost_sum) for op in _SUM)
_COSTERS.update((op, _cost_per_output(1)) for op in _POINTWISE)
_COSTERS.update((op, _cost_per_output(_SOFTMAX_OPS_PER_ELEMENT)) for op in _SOFTMAX)
_COSTERS.update((op, _cost_per_input) for op in _PER_INPUT_ELEMENT)
_COSTERS.update((op, _cost_nothing) for op in _ZERO_COST | _NORMALISATION)


def layer_row(node, view):
    """One row of the per-layer table (params are attributed afterwards).

    ``costed`` is False, with a ``reason``, for an op edgeprof has no rule for ("unsupported")
    and for a known op whose shapes were not found ("uncosted").
    """
    coster = _COSTERS.get(node.op_type) if node.domain in ("", "ai.onnx") else None
    if all(name in view.constants for name in node.output):
        coster = _cost_nothing  # shape math, computed once when the runtime builds the model
    cost = coster(node, view) if coster else None
    macs, paper_ops = cost if cost else (None, None)
    outputs = [name for name in node.output if name]
    shapes = [view.shape(name) for name in outputs]
    is_fc = node.op_type == "Gemm" or (
        node.op_type == "MatMul" and any(name in view.constants for name in node.input))
    return {"name": node.name or node.output[0], "op_type": node.op_type,
            "output_shape": shapes[0] if shapes else None, "params": 0, "macs": macs,
            "paper_ops": paper_ops, "activation_bytes": sum(view.nbytes(name) for name in outputs),
            "fc": is_fc, "costed": cost is not None,
            "reason": None if cost is not None else _why_not_costed(node, view, coster is not None)}


def _why_not_costed(node, view, known):
    """One line: which rule is missing, or which tensor's shape was not found."""
    if not known:
        domain = "" if node.domain in ("", "ai.onnx") else " (domain %s)" % node.domain
        return "unsupported: edgeprof has no rule for %s%s" % (node.op_type, domain)
    unknown = [name for name in list(node.input) + list(node.output)
               if name and numel(view.shape(name)) is None]
    return "uncosted: shape of %s not found" % (
        ", ".join(repr(name) for name in unknown[:3]) if unknown else "its tensors")


# Ops whose MACs always count, even on constant inputs (torchvision counts them at every forward).
_MAC_OPS = frozenset(("Conv", "ConvTranspose", "Gemm", "MatMul", "Einsum"))


def mark_constant_outputs(model, view):
    """Count as constants the outputs of nodes, other than the MAC ops, that read only constants.

    Such a node is computed once when a runtime builds the model, whether or not edgeprof could
    compute its value: it costs nothing (:func:`layer_row`). The common case is an export without
    constant folding writing ``nn.Linear`` on a rank-3 or rank-4 input (ViT, Swin, ConvNeXt) as
    ``MatMul(x, Transpose(W))``: the MatMul reads a view of the weight, not the initializer.
    Marking the view as a constant makes that MatMul a fully connected layer, and
    ``view.sources`` remembers the initializers behind each such output, so that the layer
    reading it holds their parameters.
    """
    for node in model.graph.node:
        inputs = [name for name in node.input if name]
        if (node.op_type in _MAC_OPS or node.domain not in ("", "ai.onnx") or not inputs
                or not all(name in view.constants for name in inputs)):
            continue
        sources = [source for name in inputs
                   for source in ([name] if name in view.initializers else view.sources.get(name, []))]
        for name in node.output:
            if name:
                view.constants.add(name)
                view.sources[name] = sources


def attribute_params(model, view, layers):
    """Add each weight initializer's elements to the first layer that reads it as a weight.

    A weight is a floating-point initializer of rank >= 1 read in a slot other than the settings
    and statistics slots of _NON_WEIGHT_INPUTS (BatchNormalization's running mean and variance,
    Resize scales, Clip bounds...), directly or through nodes computing only on constants
    (:func:`mark_constant_outputs`; those nodes hold nothing). Rank-0 tensors are constants of
    the code (epsilon, scale factors). A bias added right after a fully connected MatMul belongs
    to that FC layer.
    """
    counted = set()
    nodes = [node for node in model.graph.node if node.op_type != "Constant"]
    fc_outputs = {node.output[0] for node, layer in zip(nodes, layers) if layer["fc"]}
    for node, layer in zip(nodes, layers):
        if all(name in view.sources for name in node.output if name):
            continue
        skip = _NON_WEIGHT_INPUTS.get(node.op_type, ())
        for index, read in enumerate(node.input):
            for name in [read] if read in view.initializers else view.sources.get(read, []):
                tensor = view.initializers[name]
                if (name in counted or index in skip or len(tensor.dims) == 0
                        or tensor.data_type not in _FLOAT_DTYPES):
                    continue
                counted.add(name)
                layer["params"] += numel(list(tensor.dims))
                if node.op_type == "Add" and fc_outputs.intersection(node.input):
                    layer["fc"] = True


def peak_activation_bytes(model, view):
    """Most activation bytes alive at once, running nodes in graph order without buffer reuse."""
    graph = model.graph
    last_read = {}
    for index, node in enumerate(graph.node):
        for name in node.input:
            last_read[name] = index
    for output in graph.output:
        last_read[output.name] = len(graph.node)
    size = {}
    live = 0
    for value_info in graph.input:
        if view.is_activation(value_info.name):
            size[value_info.name] = view.nbytes(value_info.name)
            live += size[value_info.name]
    peak = live
    for index, node in enumerate(graph.node):
        if node.op_type == "Constant":
            continue
        for name in node.output:
            if name:
                size[name] = view.nbytes(name)
                live += size[name]
        peak = max(peak, live)
        for name in set(node.input) | set(node.output):
            if name in size and last_read.get(name, index) <= index:
                live -= size.pop(name)
    return peak
