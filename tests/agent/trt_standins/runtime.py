"""The run side shared by the stand-in ``tensorrt`` modules: Runtime, engine, inspector, execution context.

The engine holds its plan's size of device memory (the weights it keeps on the device: review finding 10)
and each execution context its ``device_memory_size`` ("the amount of device memory required by an
execution context", 8.2 ``NvInferRuntime.h:1481-1485``), in the current stand-in CUDA context, until they
go (native.py).
"""
import json

from trt_standins import engine_info
from trt_standins.core import ENGINE_MAGIC, IHostMemory
from trt_standins.dtypes import data_type
from trt_standins.native import LoggerUser, Logs, Native, alive_on, call_back, signal_arrives
from trt_standins.state import STATE, Severity, record

ACTIVATION_BYTES = 4 << 20


class EngineInspector(Native):
    def __init__(self, engine):
        Native.__init__(self)
        self._engine = engine

    # Named as bound: get_engine_information(self, format: LayerInformationFormat) (tests/data/trt_signatures/
    # 8.2.txt:29, 10.13.0.35.txt:84).
    def get_engine_information(self, format):
        if format != "JSON":  # ONELINE (the other LayerInformationFormat): text, not JSON; this text is the stand-in's
            return "\n".join(layer["Name"] for layer in self._engine.layers)
        return engine_info.inspector_json(self._engine.spec, self._engine.inspector_metadata)


class ICudaEngineBase(Logs, Native):
    side = "runtime"
    inspector_metadata = False  # whether the inspector's entries carry "Metadata" (engine_info.py)

    def __init__(self, spec, logger, callbacks, plan_bytes):
        Native.__init__(self)
        self.spec = spec
        self._logger, self._callbacks = logger, callbacks
        io = spec["model"]["inputs"] + spec["model"]["outputs"]
        self._io = [(n, tuple(s), data_type(d), i < len(spec["model"]["inputs"])) for i, (n, s, d) in enumerate(io)]
        self.layers = engine_info.engine_layers(spec["model"]["layers"])
        self._hold_device_memory(plan_bytes)

    @property
    def num_layers(self):
        return len(self.layers)

    @property
    def device_memory_size(self):
        return ACTIVATION_BYTES

    def create_execution_context(self):
        record("ICudaEngine.create_execution_context")
        if STATE.faults.get("context_oom"):
            self._log(Severity.ERROR, "1: [defaultAllocator.cpp::allocate::63] Error Code 1: Cuda Runtime "
                                      "(out of memory)")
            return None
        # As TensorRT: only the first context created gets optimization profile 0 implicitly; later
        # ones have none (-1) and every set-shape or execute call on them fails.
        self._contexts_created = getattr(self, "_contexts_created", 0) + 1
        return self.context_class(self, 0 if self._contexts_created == 1 else -1)


class InspectorMixin(object):
    """``ICudaEngine.create_engine_inspector`` (8.2+)."""

    def create_engine_inspector(self):
        return EngineInspector(self)


class IExecutionContextBase(Native):
    side = "runtime"

    def __init__(self, engine, profile_index):
        Native.__init__(self)
        self.engine = engine
        self.profile_index = profile_index
        self.profiler = None
        self.shapes = {}
        self._hold_device_memory(ACTIVATION_BYTES)

    def _has_profile(self):
        """False, after logging TensorRT's error, on a context without an optimization profile."""
        if self.profile_index < 0:
            self.engine._log(Severity.ERROR, "3: [executionContext.cpp::setBindingDimensions] Error Code 3: "
                                             "API Usage Error (no optimization profile has been set)")
            return False
        return True

    def _resolved(self, name):
        for n, shape, _, is_input in self.engine._io:
            if n == name:
                if is_input:
                    return self.shapes.get(name, shape)
                batch = next(iter(self.shapes.values()))[0] if self.shapes else -1
                return (batch,) + shape[1:]
        raise KeyError(name)

    def _report_layers(self):
        """Call the profiler for every engine layer, as TensorRT does from C++ (noexcept on 8.2)."""
        if self.profiler is not None:
            signal_arrives("signal_during_layer_profile")
            for layer in self.engine.layers:
                call_back(self.engine._callbacks, "report_layer_time", self.profiler.report_layer_time,
                          layer["Name"], layer["ms"])

    def _check_inputs(self):
        for n, shape, _, is_input in self.engine._io:
            assert not is_input or n in self.shapes, "input %s has no shape set" % n


class Runtime(LoggerUser):
    side = "runtime"
    engine_class = None  # set by each version module
    factory = "createInferRuntime"

    def __init__(self, logger):
        LoggerUser.__init__(self, logger)
        record("Runtime made; alive: %s" % alive_on("builder"))

    # Named as bound: deserialize_cuda_engine(self, serialized_engine: buffer) (tests/data/trt_signatures/7.1.txt:162,
    # 8.2.txt:182, 10.13.0.35.txt:1466; 10.13's other overloads take an IStreamReader, which the stand-in lacks).
    def deserialize_cuda_engine(self, serialized_engine):
        source = ("a view of IHostMemory" if isinstance(serialized_engine, memoryview)
                  and isinstance(serialized_engine.obj, IHostMemory) else type(serialized_engine).__name__)
        data = bytes(serialized_engine)
        record("Runtime.deserialize_cuda_engine")
        record("plan given as %s" % source)
        signal_arrives("signal_during_deserialize")
        self._log(Severity.INFO, "Loaded engine size: %d MiB" % (len(data) >> 20))
        if not data.startswith(ENGINE_MAGIC):
            self._log(Severity.ERROR, "1: [stdArchiveReader.cpp::StdArchiveReader::32] Error Code 1: "
                                      "Serialization (Serialization assertion magicTagRead == kMAGIC_TAG failed.)")
            return None
        return self.engine_class(json.loads(data[len(ENGINE_MAGIC):].decode("utf-8")), self._logger,
                                 self.callbacks, len(data))
