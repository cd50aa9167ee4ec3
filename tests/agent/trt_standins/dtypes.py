"""Stand-in ``DataType`` and ``LayerType`` enums per version, and ``nptype`` as each version's really behaves (S1).

Members are objects, as pybind11 enum members are (``.name``; ``str()`` gives ``'DataType.FLOAT'``), not
strings: code comparing them with strings fails here as on real TensorRT. A version's enum class lists
only the members it has; an engine of any version hands out the same member objects.

``nptype``:

- TensorRT 7.1-8.4 (release/8.2 and release/8.4 ``python/packaging/tensorrt/__init__.py:150-169``) builds
  ``{float32: np.float32, float16: np.float16, int8: np.int8, int32: np.int32, bool: np.bool}`` on every
  call. numpy 1.24 removed ``np.bool`` and 2.0 brought it back, so under numpy 1.24-1.26 every call
  raises ``AttributeError: module 'numpy' has no attribute 'bool'`` (``STATE.numpy_version`` says which
  numpy is simulated; its default, 1.24.4, is the one JetPack 5's install gets).
- TensorRT 8.5+ uses ``np.bool_``; 10.13 (``__init__.py:172-194``) maps float32, float16, int8, int32,
  int64, bool, uint8 and raises TypeError for the rest: "fp8 and bfloat16 have no equivalent numpy type".
"""
from trt_standins.state import STATE


class Member(object):
    """One enum member, compared by identity (as pybind11 enum members of one enum)."""

    def __init__(self, enum, name):
        self.name = name
        self._enum = enum

    def __repr__(self):
        return "<%s.%s>" % (self._enum, self.name)

    def __str__(self):
        return "%s.%s" % (self._enum, self.name)


DATA_TYPES = dict((n, Member("DataType", n)) for n in (
    "FLOAT", "HALF", "INT8", "INT32", "BOOL", "UINT8", "FP8", "BF16", "INT64", "INT4", "FP4"))
# network layer types of the stand-in model files (core.write_model) -> LayerType member names
LAYER_TYPE_NAMES = {"Convolution": "CONVOLUTION", "Pooling": "POOLING", "FullyConnected": "FULLY_CONNECTED",
                    "MatrixMultiply": "MATRIX_MULTIPLY", "SoftMax": "SOFTMAX", "Activation": "ACTIVATION",
                    "Shuffle": "SHUFFLE", "Quantize": "QUANTIZE", "Dequantize": "DEQUANTIZE"}
LAYER_TYPES = dict((n, Member("LayerType", n)) for n in LAYER_TYPE_NAMES.values())


def enum_class(name, members, names):
    """A class ``name`` whose attributes are the ``members`` called ``names`` (one version's enum)."""
    return type(name, (object,), dict((n, members[n]) for n in names))


def data_type(name):
    """The DataType member named by a stand-in model file ("FLOAT")."""
    return DATA_TYPES[name]


def layer_type(network_type):
    """The LayerType member of a stand-in model's layer type ("Convolution")."""
    return LAYER_TYPES[LAYER_TYPE_NAMES[network_type]]


def _numpy_has_bool_alias():
    major, minor = (int(p) for p in STATE.numpy_version.split(".")[:2])
    return not ((1, 24) <= (major, minor) < (2, 0))


def nptype_8_4(DataType):
    """``nptype`` of TensorRT 7.1-8.4 (``{..., bool: np.bool}`` built on every call)."""

    def nptype(trt_type):
        import numpy as np
        if not _numpy_has_bool_alias():
            raise AttributeError("module 'numpy' has no attribute 'bool'")
        mapping = {DataType.FLOAT: np.float32, DataType.HALF: np.float16, DataType.INT8: np.int8,
                   DataType.INT32: np.int32, DataType.BOOL: np.bool_}
        if trt_type in mapping:
            return mapping[trt_type]
        raise TypeError("Could not resolve TensorRT datatype to an equivalent numpy datatype.")

    return nptype


def nptype_10(DataType):
    """``nptype`` of TensorRT 10.x (no numpy type for fp8, bf16, int4, fp4: TypeError)."""

    def nptype(trt_type):
        import numpy as np
        mapping = {DataType.FLOAT: np.float32, DataType.HALF: np.float16, DataType.INT8: np.int8,
                   DataType.INT32: np.int32, DataType.INT64: np.int64, DataType.BOOL: np.bool_,
                   DataType.UINT8: np.uint8}
        if trt_type in mapping:
            return mapping[trt_type]
        raise TypeError("Could not resolve TensorRT datatype to an equivalent numpy datatype.")

    return nptype
