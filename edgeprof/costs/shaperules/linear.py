"""Matrix products: MatMul, Gemm, Einsum and their integer/quantized forms.

Part of :mod:`edgeprof.costs.shaperules` (sources cited per rule, paths under onnx/defs/ of
github:onnx/onnx v1.22.0)."""
from edgeprof.costs.shaperules.common import INT32, ShapeError, _broadcast, _same_types, _text


def _matmul_shape(a, b):
    """math/utils.cc MatMulShapeInference: numpy.matmul's rule (1-D operands promoted and their
    axis dropped again, batch dims broadcast)."""
    if not a or not b:
        raise ShapeError("MatMul inputs of rank 0")
    left = [1, a[0]] if len(a) == 1 else a
    right = [b[0], 1] if len(b) == 1 else b
    if left[-1] != right[-2]:
        raise ShapeError("MatMul inner dimensions %s and %s differ" % (a, b))
    out = _broadcast([left[:-2], right[:-2]])
    if len(a) != 1:
        out.append(left[-2])
    if len(b) != 1:
        out.append(right[-1])
    return out


def _matmul(n, ins, tys):
    # math/defs.cc MatMul-13: type of A.
    _same_types(tys, [0, 1])
    return [(_matmul_shape(ins[0], ins[1]), tys[0])]


def _matmul_integer(n, ins, tys):
    # math/defs.cc MatMulInteger-10: int32.
    return [(_matmul_shape(ins[0], ins[1]), INT32)]


def _qlinear_matmul(n, ins, tys):
    # math/utils.cc QLinearMatMulShapeInference: a (0) with a_zero_point (2), b (3) with b_zero_point
    # (5) of one type each; output of y_zero_point's type (7).
    if len(ins) < 8 or None in ins[:8]:
        return None
    if tys[2] != tys[0] or tys[5] != tys[3]:
        raise ShapeError("QLinearMatMul inputs and their zero points must have one type")
    return [(_matmul_shape(ins[0], ins[3]), tys[7])]


def _gemm(n, ins, tys):
    # math/defs.cc Gemm-13: A [M, K] (or [K, M] with transA), B [K, N] (or [N, K]) -> [M, N]; C
    # does not enter the output shape.
    a, b = ins[0], ins[1]
    if len(a) != 2 or len(b) != 2:
        raise ShapeError("Gemm inputs must have rank 2, got %s and %s" % (a, b))
    m, k = (a[1], a[0]) if n.attr("transA", 0) else (a[0], a[1])
    k2, n_ = (b[1], b[0]) if n.attr("transB", 0) else (b[0], b[1])
    if k != k2:
        raise ShapeError("Gemm inner dimensions %s and %s differ" % (a, b))
    _same_types(tys, [0, 1])
    return [([m, n_], tys[0])]


def _letters(text):
    return all("a" <= c <= "z" or "A" <= c <= "Z" for c in text)


def _einsum(n, ins, tys):
    """math/defs.cc einsumShapeInference: each label's size from its first occurrence; ellipsis
    sizes from the first operand with one, raised from 1 by later operands; the implicit output is
    the ellipsis then the labels seen once, in ASCII order."""
    equation = _text(n.attr("equation", "")).replace(" ", "")
    if not equation:
        return None
    lhs, arrow, rhs = equation.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(ins) or None in ins:
        raise ShapeError("Einsum %r has %d operands for %d inputs" % (equation, len(terms), len(ins)))
    sizes, counts, order = {}, {}, []
    ellipsis = None
    for term, shape in zip(terms, ins):
        head, dots, tail = term.partition("...")
        if not _letters(head + tail):
            return None  # characters other than letters (a second ellipsis...): left to ONNX
        letters = len(head) + len(tail)
        if (not dots and len(shape) != letters) or (dots and len(shape) < letters):
            raise ShapeError("Einsum term %r does not fit shape %s" % (term, shape))
        if dots:
            middle = shape[len(head):len(shape) - len(tail)]
            if ellipsis is None:
                ellipsis = list(middle)
            elif len(middle) != len(ellipsis):
                raise ShapeError("Einsum ellipsis represents incompatible dimensions")
            else:
                ellipsis = [m if e == 1 and m > e else e for e, m in zip(ellipsis, middle)]
        dims = list(shape[:len(head)]) + list(shape[len(shape) - len(tail):])
        for label, dim in zip(head + tail, dims):
            if label not in sizes:
                sizes[label] = dim
                order.append(label)
            counts[label] = counts.get(label, 0) + 1
    ellipsis = ellipsis or []
    if arrow:
        out = []
        head, dots, tail = rhs.partition("...")
        if not _letters(head + tail):
            return None
        for label in head:
            if label not in sizes:
                raise ShapeError("Einsum output label %r is missing from the inputs" % label)
            out.append(sizes[label])
        if dots:
            out.extend(ellipsis)
        for label in tail:
            if label not in sizes:
                raise ShapeError("Einsum output label %r is missing from the inputs" % label)
            out.append(sizes[label])
    else:
        out = list(ellipsis) + [sizes[label] for label in sorted(order) if counts[label] == 1]
    return [(out, tys[0])]
