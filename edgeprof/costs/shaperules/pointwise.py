"""Elementwise ops, casts, Dropout and the normalisations: the output has the input's (or the
broadcast) shape.

Part of :mod:`edgeprof.costs.shaperules` (sources cited per rule, paths under onnx/defs/ of
github:onnx/onnx v1.22.0)."""
from edgeprof.costs.shaperules.common import BOOL, FLOAT, ShapeError, _axis, _broadcast, _same_types


def _same(n, ins, tys):
    """propagateShapeAndTypeFromFirstInput (shape_inference.h): unary math, activations, Identity,
    Clip, LRN, InstanceNormalization, ScatterND/ScatterElements (the data input)..."""
    return [(ins[0], tys[0])]


def _prelu(n, ins, tys):
    # math/defs.cc PRelu-16: propagateShapeAndTypeFromFirstInput (slope broadcasts to X, unidirectionally).
    _same_types(tys, [0, 1])
    return [(ins[0], tys[0])]


def _softmax(n, ins, tys):
    # math/defs.cc SoftmaxFamilyDocGenerator (and math/old.cc _opset_11): rank >= 1, axis in range.
    rank = len(ins[0])
    if rank == 0:
        raise ShapeError("%s needs an input of rank >= 1" % n.op)
    _axis(n.attr("axis", -1 if n.opset >= 13 else 1), rank)
    return [(ins[0], tys[0])]


def _binary(n, ins, tys):
    """math/defs.cc MathDocGenerator (Add Sub Mul Div), Mod-13: type of A, bidirectional broadcast."""
    if len(ins) != 2:
        return None
    _same_types(tys, [0, 1])
    return [(_broadcast(ins), tys[0])]


def _pow(n, ins, tys):
    # math/defs.cc Pow-15: type of X (the exponent may have another type), bidirectional broadcast.
    if len(ins) != 2:
        return None
    return [(_broadcast(ins), tys[0])]


def _compare(n, ins, tys):
    """logical/defs.cc BinaryLogicDocGenerator / binaryLogicalOpInference: bool, broadcast."""
    if len(ins) != 2:
        return None
    _same_types(tys, [0, 1])
    return [(_broadcast(ins), BOOL)]


def _unary_bool(n, ins, tys):
    # tensor/defs.cc IsNaN-20, IsInf-20: bool of the input's shape.
    return [(ins[0], BOOL)]


def _variadic(n, ins, tys):
    """math/defs.cc ElementwiseMultiOpDocGenerator (Max Min Sum Mean): type of input 0,
    multidirectional broadcast of all inputs."""
    if n.opset < 8 or not ins or None in ins:
        return None  # Max-6, Sum-6... do not broadcast
    _same_types(tys, list(range(len(ins))))
    return [(_broadcast(ins), tys[0])]


def _where(n, ins, tys):
    # tensor/defs.cc Where-16: type of X (input 1), broadcast of condition, X and Y.
    if len(ins) != 3 or None in ins:
        return None
    _same_types(tys, [1, 2])
    return [(_broadcast(ins), tys[1])]


def _cast(n, ins, tys):
    # tensor/defs.cc Cast-25: propagateElemTypeFromAttributeToOutput(to), shape of the input.
    to = n.attr("to", None)
    return None if not to else [(ins[0], int(to))]


def _cast_like(n, ins, tys):
    # tensor/defs.cc CastLike-25: type of target_type (input 1), shape of input 0.
    return [(ins[0], tys[1])]


def _dropout(n, ins, tys):
    """nn/defs.cc Dropout-22 (nn/old.cc 10, 12, 13 alike): output as data; the mask is bool of the
    same shape. Ratio and training_mode must be scalars. Dropout-7 infers no mask."""
    for i in (1, 2):
        if i < len(ins) and ins[i] is not None and len(ins[i]) != 0:
            raise ShapeError("Dropout's ratio and training_mode must be scalars")
    if len(n.outputs) > 1 and n.outputs[1] and n.opset < 10:
        return None
    return [(ins[0], tys[0]), (ins[0], BOOL)]


# ---------------------------------------------------------------------------------------------
# Normalizations.


def _batch_norm(n, ins, tys):
    """nn/defs.cc BatchNormalization-15: Y as X; scale, B, mean and var of rank 1 and size C. The
    training outputs (running mean and var) are not inferred here."""
    if not n.outputs[0] or any(n.outputs[1:]) or len(ins) != 5 or None in ins:
        return None
    if n.attr("training_mode", 0):
        return None  # ONNX wants the three training outputs then
    channels = ins[0][1] if len(ins[0]) > 1 else 1
    for shape in ins[1:]:
        if len(shape) != 1 or shape[0] != channels:
            raise ShapeError("BatchNormalization parameters of shape %s for %d channels" % (shape, channels))
    return [(ins[0], tys[0])]


def _layer_norm(n, ins, tys):
    """nn/defs.cc LayerNormalization-17: Y as X; Mean and InvStdDev of type stash_type (float by
    default) and of X's shape with the axes from `axis` on set to 1."""
    x = ins[0]
    rank = len(x)
    axis = n.attr("axis", -1)
    if axis < 0:
        axis += rank
    if axis < 0:
        raise ShapeError("LayerNormalization axis out of range")
    stash = n.attr("stash_type", FLOAT)
    reduced = [d if i < axis else 1 for i, d in enumerate(x)]
    return [(x, tys[0]), (reduced, stash), (reduced, stash)]
