"""Stand-in ``tensorrt`` mirroring the Python API names of TensorRT 7.1.3 (JetPack 4.4/4.5, Python 3.6).

Derived from the 8.2 stand-in minus what came after 7.1, after NVIDIA's TensorRT 7.1.3 API
documentation (docs.nvidia.com/deeplearning/tensorrt/archives/tensorrt-713 and tensorrt-710-ea:
the C++ member lists, whose camelCase members the Python bindings expose in snake_case, and
the 7.0/7.2 Python OnnxParser pages); see tests/data/trt_names/7.1.txt. Like 8.2 it has binding
indices, ``set_binding_shape``, ``execute_async_v2``/``execute_v2``, ``max_workspace_size``,
``EXPLICIT_BATCH``, ``device_memory_size``. It lacks the 8.0+ ``Builder.build_serialized_network``
(so ``build_engine`` + ``ICudaEngine.serialize``), the 8.0+ timing cache, the Python
``OnnxParser.parse_from_file`` (only ``parse(bytes)``), the 8.2+ engine inspector,
``LayerInformationFormat`` and the 8.0 Q/DQ layers; its ``ProfilingVerbosity`` is DEFAULT/NONE/VERBOSE
(DETAILED is 8.2). Behaviour as 8.2's (native.py): one global logger (the review's reports are of
8.0-8.3; 7.1 is held to the same), noexcept callbacks that terminate; ``nptype`` as 8.2's (dtypes.py).
"""

from trt_standins import core, dtypes, native, runtime
from trt_standins.trt_8_2 import BindingsEngine, IExecutionContext, WorkspaceSizeConfig  # noqa: F401
from trt_standins.core import (  # noqa: F401
    BuilderFlag,
    IHostMemory,
    IInt8EntropyCalibrator2,
    ILogger,
    IOptimizationProfile,
    IProfiler,
)

__version__ = "7.1.3.0"

DataType = dtypes.enum_class("DataType", dtypes.DATA_TYPES, ("FLOAT", "HALF", "INT8", "INT32", "BOOL"))
nptype = dtypes.nptype_8_4(DataType)


class NetworkDefinitionCreationFlag(object):
    EXPLICIT_BATCH = 0
    EXPLICIT_PRECISION = 1


class ProfilingVerbosity(object):
    DEFAULT = "DEFAULT"
    NONE = "NONE"
    VERBOSE = "VERBOSE"


# No timing cache in 7.1: its builder config is 8.2's without that mixin.
IBuilderConfig = WorkspaceSizeConfig


class ICudaEngineBuilt(native.Native):
    """What ``Builder.build_engine`` returns: an engine (holding device memory) whose ``serialize()`` gives
    the plan."""

    side = "builder"

    def __init__(self, blob):
        native.Native.__init__(self)
        self._blob = blob
        self._hold_device_memory(len(blob))

    def serialize(self):
        core.record("ICudaEngine.serialize")
        return IHostMemory(self._blob)


class Builder(core.BuilderBase):
    config_class = IBuilderConfig
    single_logger = True
    callbacks = native.TERMINATE

    def build_engine(self, network, config):
        core.record("Builder.build_engine")
        blob = self._build(network, config)
        return ICudaEngineBuilt(blob) if blob is not None else None


class ParserError(core.ParserErrorBase):
    pass


class OnnxParser(core.OnnxParserBase):
    error_class = ParserError


# Binding-index execution and engines are as in 8.2 (minus its inspector): shared, not copied.
ICudaEngine = BindingsEngine


class Runtime(runtime.Runtime):
    engine_class = ICudaEngine
    single_logger = True
    callbacks = native.TERMINATE
