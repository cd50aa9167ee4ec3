"""Stand-in ``tensorrt`` mirroring the Python API names of TensorRT 10.x (10.13 checked).

Mirrors the bindings of tensorrt-cu11-bindings 10.13.0.35 (see tests/data/trt_names/10.13.0.35.txt):
named IO tensors (``ICudaEngine.num_io_tensors``, ``get_tensor_name``, ``get_tensor_mode``,
``get_tensor_shape``, ``get_tensor_dtype``), ``IExecutionContext.set_input_shape``,
``get_tensor_shape``, ``set_tensor_address``, ``execute_async_v3``,
``IBuilderConfig.set_memory_pool_limit`` with ``MemoryPoolType.WORKSPACE``, ``device_memory_size_v2``,
both overloads of ``ICudaEngine.create_execution_context`` (``strategy``, ``runtime_config``; STATIC only).
Gone, as in the real 10.x: binding indices, ``execute_async_v2``, ``set_binding_shape``,
``max_workspace_size``, ``build_engine``. (The real 10.0 and 10.13 still bind ``execute_v2``:
pyCore.cpp 10.0:1027, 10.13:1314; this stand-in leaves it out, which only asks more of the code.)
``EXPLICIT_BATCH`` still exists (deprecated, ignored); networks are always explicit batch, so edgeprof
passes 0. Behaviour of 8.4+: one logger per object (no global logger), exceptions in callbacks printed
and swallowed (native.py); ``nptype`` raises TypeError for bf16/fp8/int4/fp4 (dtypes.py).
"""
from trt_standins import core, dtypes, native, runtime
from trt_standins.core import (  # noqa: F401
    BuilderFlag,
    IInt8EntropyCalibrator2,
    ILogger,
    IOptimizationProfile,
    IProfiler,
    LayerInformationFormat,
    ProfilingVerbosity,
)

__version__ = "10.13.0.35"

DataType = dtypes.enum_class("DataType", dtypes.DATA_TYPES, (
    "FLOAT", "HALF", "INT8", "INT32", "BOOL", "UINT8", "FP8", "BF16", "INT64", "INT4", "FP4"))
LayerType = dtypes.enum_class("LayerType", dtypes.LAYER_TYPES, (  # FULLY_CONNECTED is gone in 10.0
    "CONVOLUTION", "POOLING", "MATRIX_MULTIPLY", "SOFTMAX", "ACTIVATION", "SHUFFLE", "QUANTIZE", "DEQUANTIZE"))
nptype = dtypes.nptype_10(DataType)


class NetworkDefinitionCreationFlag(object):
    EXPLICIT_BATCH = 0
    STRONGLY_TYPED = 5


class MemoryPoolType(object):
    WORKSPACE = "WORKSPACE"


class TensorIOMode(object):
    NONE = "NONE"
    INPUT = "INPUT"
    OUTPUT = "OUTPUT"


class IBuilderConfig(core.TimingCacheMixin, core.IBuilderConfigBase):
    def set_memory_pool_limit(self, pool, pool_size):
        core.record("IBuilderConfig.set_memory_pool_limit(%s,%d)" % (pool, pool_size))
        if pool == MemoryPoolType.WORKSPACE:
            self.workspace_bytes = pool_size


class Builder(core.SerializedBuildMixin, core.BuilderBase):
    config_class = IBuilderConfig
    callbacks = native.SWALLOW


class ParserError(core.ParserErrorBase):
    def node_name(self):
        return self._node_name


class OnnxParser(core.ParseFromFileMixin, core.OnnxParserBase):
    error_class = ParserError


class IExecutionContext(runtime.IExecutionContextBase):
    def __init__(self, engine, profile_index):
        runtime.IExecutionContextBase.__init__(self, engine, profile_index)
        self.addresses = {}

    def set_input_shape(self, name, shape):
        core.record("IExecutionContext.set_input_shape(%s,%s)" % (name, tuple(shape)))
        if not self._has_profile():
            return False
        self.shapes[name] = tuple(shape)
        return True

    def get_tensor_shape(self, name):
        return self._resolved(name)

    def set_tensor_address(self, name, memory):
        """True, or False (with an ERROR) for a name that is no IO tensor or a null address (10.13
        ``pyCore.cpp:118-121`` returns the bool; review finding 13)."""
        core.record("IExecutionContext.set_tensor_address(%s)" % name)
        if not isinstance(memory, int):
            raise TypeError("set_tensor_address(): incompatible function arguments (memory: int)")
        known = name in [n for n, _, _, _ in self.engine._io]
        if not known or not memory or core.STATE.faults.get("tensor_address_refused") == name:
            self.engine._log(core.Severity.ERROR, "3: [executionContext.cpp::setTensorAddress] Error Code 3: API "
                                                  "Usage Error (tensor %s: invalid address or name)" % name)
            return False
        self.addresses[name] = memory
        return True

    def execute_async_v3(self, stream_handle):
        core.record("IExecutionContext.execute_async_v3")
        if not self._has_profile():
            return False
        assert set(self.addresses) == {n for n, _, _, _ in self.engine._io}, "every IO tensor has an address"
        self._check_inputs()
        self._report_layers()
        return True


_STRATEGIES = ("STATIC", "ON_PROFILE_CHANGE", "USER_MANAGED")
ExecutionContextAllocationStrategy = dtypes.enum_class(
    "ExecutionContextAllocationStrategy",
    dict((n, dtypes.Member("ExecutionContextAllocationStrategy", n)) for n in _STRATEGIES), _STRATEGIES)


# The two overloads of ICudaEngine.create_execution_context (tests/data/trt_signatures/10.13.0.35.txt:235, :237).
def _with_strategy(self, strategy=ExecutionContextAllocationStrategy.STATIC):
    pass


def _with_runtime_config(self, runtime_config=None):
    pass


class ICudaEngine(runtime.InspectorMixin, runtime.ICudaEngineBase):
    context_class = IExecutionContext
    inspector_metadata = True

    @native.overloaded(_with_strategy, _with_runtime_config)
    def create_execution_context(self, overload, arguments):
        """As 10.13 binds it: ``(strategy=STATIC)`` or ``(runtime_config=None)``. The stand-in makes contexts that
        own their device memory only (STATIC, no runtime config: what edgeprof uses), and refuses the rest."""
        if arguments.get("strategy", ExecutionContextAllocationStrategy.STATIC) \
                is not ExecutionContextAllocationStrategy.STATIC or arguments.get("runtime_config") is not None:
            raise NotImplementedError("the stand-in makes STATIC contexts without a runtime config only")
        return runtime.ICudaEngineBase.create_execution_context(self)

    @property
    def num_io_tensors(self):
        return len(self._io)

    def get_tensor_name(self, index):
        return self._io[index][0]

    def get_tensor_mode(self, name):
        return TensorIOMode.INPUT if self._find(name)[3] else TensorIOMode.OUTPUT

    def get_tensor_shape(self, name):
        return self._find(name)[1]

    def get_tensor_dtype(self, name):
        return self._find(name)[2]

    @property
    def device_memory_size_v2(self):
        return runtime.ACTIVATION_BYTES

    def _find(self, name):
        for row in self._io:
            if row[0] == name:
                return row
        raise KeyError(name)


class Runtime(runtime.Runtime):
    engine_class = ICudaEngine
    callbacks = native.SWALLOW
