"""Stand-in ``tensorrt`` mirroring the Python API names of TensorRT 8.2 (JetPack 4.6).

Mirrors, after NVIDIA's TensorRT 8.2 Python API documentation: binding indices
(``ICudaEngine.num_bindings``, ``binding_is_input``, ``get_binding_shape``,
``get_binding_dtype``, ``get_binding_name``), ``IExecutionContext.set_binding_shape``,
``get_binding_shape``, ``execute_async_v2`` and ``execute_v2``, ``IBuilderConfig.max_workspace_size``
(no memory pools yet: ``set_memory_pool_limit`` came in 8.4), ``Builder.build_serialized_network``
and ``build_engine``, ``NetworkDefinitionCreationFlag.EXPLICIT_BATCH``. It has none of the 8.5+
named-tensor calls (``execute_async_v3``, ``set_input_shape``, ``set_tensor_address``).
Behaviour of 8.0-8.3 (native.py): one global logger while a builder or runtime lives; an exception
escaping a callback is ``std::terminate``. ``nptype`` fails under numpy 1.24-1.26 (dtypes.py).
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

__version__ = "8.2.1.8"

DataType = dtypes.enum_class("DataType", dtypes.DATA_TYPES, ("FLOAT", "HALF", "INT8", "INT32", "BOOL"))
LayerType = dtypes.enum_class("LayerType", dtypes.LAYER_TYPES, (
    "CONVOLUTION", "POOLING", "FULLY_CONNECTED", "MATRIX_MULTIPLY", "SOFTMAX", "ACTIVATION", "SHUFFLE",
    "QUANTIZE", "DEQUANTIZE"))  # Q/DQ layers came in 8.0
nptype = dtypes.nptype_8_4(DataType)


class NetworkDefinitionCreationFlag(object):
    EXPLICIT_BATCH = 0


class WorkspaceSizeConfig(core.IBuilderConfigBase):
    """A builder config with ``max_workspace_size`` (7.x-8.3; 7.1's config is exactly this)."""

    @property
    def max_workspace_size(self):
        return self.workspace_bytes

    @max_workspace_size.setter
    def max_workspace_size(self, value):
        core.record("IBuilderConfig.max_workspace_size=%d" % value)
        self.workspace_bytes = value


class IBuilderConfig(core.TimingCacheMixin, WorkspaceSizeConfig):
    pass


class Builder(core.SerializedBuildMixin, core.BuilderBase):
    config_class = IBuilderConfig
    single_logger = True
    callbacks = native.TERMINATE

    def build_engine(self, network, config):
        core.record("Builder.build_engine")
        raise AssertionError("edgeprof should prefer build_serialized_network where it exists")


class ParserError(core.ParserErrorBase):
    pass


class OnnxParser(core.ParseFromFileMixin, core.OnnxParserBase):
    error_class = ParserError


class IExecutionContext(runtime.IExecutionContextBase):
    def _name(self, index):
        return self.engine._io[index][0]

    # Named as bound: set_binding_shape(self, binding: int, shape: Dims) and get_binding_shape(self, binding: int)
    # (tests/data/trt_signatures/7.1.txt:73 and :69, 8.2.txt:84 and :79; the engine's get_binding_shape says index).
    def set_binding_shape(self, binding, shape):
        core.record("IExecutionContext.set_binding_shape(%d,%s)" % (binding, tuple(shape)))
        if not self._has_profile():
            return False
        self.shapes[self._name(binding)] = tuple(shape)
        return True

    def get_binding_shape(self, binding):
        return self._resolved(self._name(binding))

    def _check_bindings(self, bindings):
        assert len(bindings) == self.engine.num_bindings, "one address per binding"
        assert all(isinstance(b, int) and b for b in bindings), "bindings are device addresses"
        self._check_inputs()

    # As bound: execute_async_v2(self, bindings: List[int], stream_handle: int, input_consumed: capsule = None)
    # (tests/data/trt_signatures/7.1.txt:67, 8.2.txt:77). The stand-in cannot signal that event: it refuses one.
    def execute_async_v2(self, bindings, stream_handle, input_consumed=None):
        core.record("IExecutionContext.execute_async_v2")
        if input_consumed is not None:
            raise NotImplementedError("the stand-in does not signal an input_consumed event")
        if not self._has_profile():
            return False
        self._check_bindings(bindings)
        self._report_layers()
        return True

    def execute_v2(self, bindings):
        core.record("IExecutionContext.execute_v2")
        if not self._has_profile():
            return False
        self._check_bindings(bindings)
        self._report_layers()
        return True


class BindingsEngine(runtime.ICudaEngineBase):
    """An engine addressed by binding index (TensorRT 7.x and 8.0-8.4); 7.1's engine is exactly this."""

    context_class = IExecutionContext

    @property
    def num_bindings(self):
        return len(self._io)

    def binding_is_input(self, index):
        return self._io[index][3]

    def get_binding_name(self, index):
        return self._io[index][0]

    def get_binding_shape(self, index):
        return self._io[index][1]

    def get_binding_dtype(self, index):
        return self._io[index][2]


class ICudaEngine(runtime.InspectorMixin, BindingsEngine):
    pass


class Runtime(runtime.Runtime):
    engine_class = ICudaEngine
    single_logger = True
    callbacks = native.TERMINATE
