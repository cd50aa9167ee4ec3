"""TensorRT ``DataType`` to numpy, done here: ``trt.nptype`` is never called.

``trt.nptype`` of TensorRT 8.0-8.4 builds ``{..., bool: np.bool}`` on every call (TRT release/8.2 and
release/8.4, ``python/packaging/tensorrt/__init__.py:150-169``; 8.5 changed it to ``np.bool_``), and
numpy 1.24 removed ``np.bool`` (2.0 brought it back), so with numpy 1.24-1.26 it raises AttributeError
for every type. The map below goes by the member's name and skips names a version lacks (UINT8 came
in 8.5, INT64 in 9.0). Types numpy has no equivalent for (BF16, FP8, INT4, FP4: TRT 10.13
``__init__.py:172-194`` raises TypeError for them) are refused in one line.
"""
from edgeprof.errors import InputFileError

# DataType member name -> numpy dtype code (codes, so that numpy's names do not read as TensorRT ones).
NUMPY_CODES = (("FLOAT", "=f4"), ("HALF", "=f2"), ("INT8", "=i1"), ("INT32", "=i4"), ("BOOL", "=?"),
               ("UINT8", "=u1"), ("INT64", "=i8"))


def type_name(data_type):
    """``'BF16'`` for ``DataType.BF16`` (pybind11 enums have ``name``; their str is ``'DataType.BF16'``)."""
    return getattr(data_type, "name", None) or str(data_type).split(".")[-1]


def numpy_dtype(trt, data_type, tensor):
    """The numpy dtype of TensorRT ``data_type``, for IO tensor ``tensor`` (its name, for the message).

    Raises:
        InputFileError: the type has no numpy equivalent (bf16, fp8, int4, fp4 IO).
    """
    import numpy
    for name, code in NUMPY_CODES:
        member = getattr(trt.DataType, name, None)
        if member is not None and member == data_type:
            return numpy.dtype(code)
    raise InputFileError("IO tensor %r is %s, which has no numpy type, so edgeprof cannot feed or read it; "
                         "export the model with float32 or float16 inputs and outputs"
                         % (tensor, type_name(data_type)))
