"""The counting rules: MACs and the paper's operations per op type, one row per layer, and the peak
of live activations (docs/analysis-conventions.md says why); which layer holds which weights is
in :mod:`edgeprof.costs.weights`.

Every rule reads the graph through a :class:`edgeprof.costs.graph.GraphView`.
"""
from edgeprof.costs.graph import attr, numel
from edgeprof.costs.weights import MATMUL_DATA_INPUTS

# Ops that move or relabel data: no MACs, no operations.
_ZERO_COST = frozenset((
    "Concat", "Flatten", "Reshape", "Transpose", "Squeeze", "Unsqueeze", "Identity", "Dropout",
    "Shape", "Size", "Gather", "GatherElements", "Slice", "Split", "Pad", "Expand", "Tile", "Cast",
    "CastLike", "Constant", "ConstantOfShape", "Range", "DepthToSpace", "SpaceToDepth",
    "QuantizeLinear", "DequantizeLinear", "ScatterND", "ScatterElements", "Scatter", "GatherND",
    "NonZero", "Trilu", "OneHot", "EyeLike", "DynamicQuantizeLinear",
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

def _has_input(node, index):
    return len(node.input) > index and bool(node.input[index])


def _cost_conv_with(weight, bias):
    """Conv (and its quantized forms, whose weight and bias sit in other input slots): each output
    element takes (C_in / group) * kernel MACs; the paper adds 1 op for the bias."""
    def cost(node, view):
        out, kernel = view.numel(node.output[0]), view.shape(node.input[weight])
        if out is None or numel(kernel) is None:
            return None
        macs = out * numel(kernel[1:])
        return macs, 2 * macs + (out if bias is not None and _has_input(node, bias) else 0)
    return cost


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


# The quantized Conv and MatMul of the ONNX operator specification cost what the float ops do
# (QLinearConv reads its weight in slot 3 and its bias in slot 8; ConvInteger has no bias).
_COSTERS = {"Conv": _cost_conv_with(1, 2), "ConvTranspose": _cost_conv_transpose, "Gemm": _cost_gemm,
            "MatMul": _cost_matmul, "LRN": _cost_lrn, "Einsum": _cost_einsum,
            "QLinearConv": _cost_conv_with(3, 8), "ConvInteger": _cost_conv_with(1, None),
            "QLinearMatMul": _cost_matmul, "MatMulInteger": _cost_matmul}
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
    standard = node.domain in ("", "ai.onnx")
    coster = _COSTERS.get(node.op_type) if standard else None
    if all(name in view.constants for name in node.output):
        coster = _cost_nothing  # shape math, computed once when the runtime builds the model
    cost = coster(node, view) if coster else None
    macs, paper_ops = cost if cost else (None, None)
    outputs = [name for name in node.output if name]
    shapes = [view.shape(name) for name in outputs]
    is_fc = standard and (node.op_type == "Gemm" or any(
        index < len(node.input) and node.input[index] in view.constants
        for index in MATMUL_DATA_INPUTS.get(node.op_type, ())))
    return {"name": node.name or node.output[0], "op_type": node.op_type,
            "output_shape": shapes[0] if shapes else None, "params": 0, "macs": macs,
            "paper_ops": paper_ops,
            "activation_bytes": sum(view.nbytes(name) for name in outputs if name not in view.weight_views),
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
            if name and name not in view.weight_views:
                size[name] = view.nbytes(name)
                live += size[name]
        peak = max(peak, live)
        for name in set(node.input) | set(node.output):
            if name in size and last_read.get(name, index) <= index:
                live -= size.pop(name)
    return peak
