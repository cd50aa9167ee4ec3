"""Machinery shared by the stand-in ``tensorrt`` modules (trt_7_1.py, trt_8_2.py, trt_10.py).

Not a TensorRT: nothing is optimised and nothing runs on a GPU. The stand-ins mirror the
*names and call shapes* of a stated real version so the backend's orchestration can be
tested: which calls it makes, in which order, with which values. Every call of interest is
appended to ``STATE.calls`` as a short string, e.g. ``"IBuilderConfig.max_workspace_size=1073741824"``.

The "ONNX file" a stand-in parses is JSON written by the tests (see :func:`write_model`):
inputs and outputs with shapes (-1 for the batch axis) and layers as (name, type, ms). For a
real ONNX file (end-to-end sweeps) the same JSON sits beside it as ``<file>.standin.json``.
A serialized engine is ``ENGINE_MAGIC`` + JSON.
"""
import json
import os

ENGINE_MAGIC = b"STANDIN-ENGINE:"
TIMING_MAGIC = b"STANDIN-TIMING:"


class State(object):
    """Calls made and faults to simulate; reset by the tests before each use."""

    def __init__(self):
        self.reset()

    def reset(self):
        self.calls = []
        self.faults = {}
        self.fast_fp16 = True
        self.fast_int8 = True
        self.sidecar = None

    def names(self):
        return [c.split("(")[0].split("=")[0] for c in self.calls]


STATE = State()


def record(text):
    STATE.calls.append(text)


def write_model(path, inputs=None, outputs=None, layers=None):
    """Write a stand-in model file (JSON) and return its path."""
    model = {
        "inputs": inputs or [["input", [-1, 3, 8, 8], "FLOAT"]],
        "outputs": outputs or [["logits", [-1, 10], "FLOAT"]],
        "layers": layers or [["conv1 + relu1", "Convolution", 0.5], ["pool", "Pooling", 0.1],
                             ["fc", "FullyConnected", 0.4]],
    }
    with open(path, "w") as f:
        json.dump(model, f)
    return path


class Severity(object):
    INTERNAL_ERROR = 0
    ERROR = 1
    WARNING = 2
    INFO = 3
    VERBOSE = 4


class ILogger(object):
    Severity = Severity

    def __init__(self):
        pass

    def log(self, severity, msg):
        pass


class DataType(object):
    FLOAT = "FLOAT"
    HALF = "HALF"
    INT8 = "INT8"
    INT32 = "INT32"


def nptype(trt_type):
    import numpy
    return {"FLOAT": numpy.float32, "HALF": numpy.float16, "INT8": numpy.int8, "INT32": numpy.int32}[trt_type]


class BuilderFlag(object):
    FP16 = "FP16"
    INT8 = "INT8"


class ProfilingVerbosity(object):
    LAYER_NAMES_ONLY = "LAYER_NAMES_ONLY"
    DETAILED = "DETAILED"


class LayerInformationFormat(object):
    ONELINE = "ONELINE"
    JSON = "JSON"


class IProfiler(object):
    def __init__(self):
        pass

    def report_layer_time(self, layer_name, ms):
        pass


class IInt8EntropyCalibrator2(object):
    def __init__(self):
        pass


class ITensor(object):
    def __init__(self, name, shape, dtype="FLOAT"):
        self.name = name
        self.shape = tuple(shape)
        self.dtype = dtype

    def set_dynamic_range(self, low, high):
        record("ITensor.set_dynamic_range(%s,%g,%g)" % (self.name, low, high))
        return True


class ILayer(object):
    def __init__(self, name, layer_type):
        self.name = name
        self.type = layer_type
        self.num_outputs = 1
        self._output = ITensor(name + ":0", (-1,))

    def get_output(self, index):
        return self._output


class INetworkDefinition(object):
    def __init__(self):
        self.model = None

    @property
    def num_inputs(self):
        return len(self.model["inputs"])

    def get_input(self, index):
        if not hasattr(self, "_inputs"):
            self._inputs = [ITensor(n, s, d) for n, s, d in self.model["inputs"]]
        return self._inputs[index]

    @property
    def num_layers(self):
        return len(self.model["layers"])

    def get_layer(self, index):
        if not hasattr(self, "_layers"):
            self._layers = [ILayer(n, t) for n, t, _ in self.model["layers"]]
        return self._layers[index]


class ParserErrorBase(object):
    def __init__(self, node, node_name, desc):
        self._node = node
        self._node_name = node_name
        self._desc = desc

    def node(self):
        return self._node

    def desc(self):
        return self._desc

    def code(self):
        return "UNSUPPORTED_NODE"


class OnnxParserBase(object):
    error_class = ParserErrorBase

    def __init__(self, network, logger):
        self._network = network
        self._logger = logger
        self._errors = []

    def _parsed(self, model):
        self._network.model = model
        fail = STATE.faults.get("parse_fail_node")
        if fail is not None:
            index, name = fail
            self._errors.append(self.error_class(index, name, "No importer registered for op: FancyOp"))
            return False
        return True

    @property
    def num_errors(self):
        return len(self._errors)

    def get_error(self, index):
        return self._errors[index]

    def parse(self, model):
        """The serialized model: stand-in JSON, or real ONNX bytes described by ``STATE.sidecar``."""
        data = bytes(model)
        record("OnnxParser.parse(%d bytes)" % len(data))
        try:
            description = json.loads(data.decode("utf-8"))
        except ValueError:
            with open(STATE.sidecar) as f:
                description = json.load(f)
        return self._parsed(description)


class ParseFromFileMixin(object):
    """``OnnxParser.parse_from_file`` (8.0+ Python bindings)."""

    def parse_from_file(self, path):
        record("OnnxParser.parse_from_file(%s)" % path)
        sidecar = path + ".standin.json"
        with open(sidecar if os.path.exists(sidecar) else path) as f:
            return self._parsed(json.load(f))


class IOptimizationProfile(object):
    def __init__(self):
        self.shapes = {}

    def set_shape(self, name, min, opt, max):
        record("IOptimizationProfile.set_shape(%s,%s,%s,%s)" % (name, tuple(min), tuple(opt), tuple(max)))
        self.shapes[name] = (tuple(min), tuple(opt), tuple(max))


class ITimingCache(object):
    def __init__(self, data):
        self.data = data

    def serialize(self):
        return TIMING_MAGIC + b"device-tactics"


class IBuilderConfigBase(object):
    def __init__(self):
        self.flags = []
        self.profiles = []
        self.workspace_bytes = None
        self.timing_cache = None
        self.int8_calibrator = None
        self.profiling_verbosity = ProfilingVerbosity.LAYER_NAMES_ONLY

    def set_flag(self, flag):
        record("IBuilderConfig.set_flag(%s)" % flag)
        self.flags.append(flag)

    def add_optimization_profile(self, profile):
        record("IBuilderConfig.add_optimization_profile")
        self.profiles.append(profile)
        return len(self.profiles) - 1

    def set_calibration_profile(self, profile):
        record("IBuilderConfig.set_calibration_profile")

class TimingCacheMixin(object):
    """``IBuilderConfig.create_timing_cache``/``set_timing_cache``/``get_timing_cache`` (8.0+)."""

    def create_timing_cache(self, data):
        data = bytes(data)
        record("IBuilderConfig.create_timing_cache(%d bytes)" % len(data))
        if data and not data.startswith(TIMING_MAGIC):
            raise RuntimeError("TimingCache: the serialized cache is corrupt")
        return ITimingCache(data)

    def set_timing_cache(self, cache, ignore_mismatch):
        record("IBuilderConfig.set_timing_cache")
        self.timing_cache = cache
        return True

    def get_timing_cache(self):
        return self.timing_cache


class BuilderBase(object):
    config_class = IBuilderConfigBase

    def __init__(self, logger):
        self._logger = logger

    def create_network(self, flags=0):
        record("Builder.create_network(%d)" % flags)
        return INetworkDefinition()

    def create_builder_config(self):
        return self.config_class()

    def create_optimization_profile(self):
        return IOptimizationProfile()

    @property
    def platform_has_fast_fp16(self):
        return STATE.fast_fp16

    @property
    def platform_has_fast_int8(self):
        return STATE.fast_int8

    def _build(self, network, config):
        """The serialized engine, or None after logging errors as TensorRT does."""
        if STATE.faults.get("build_oom"):
            self._logger.log(Severity.ERROR, "2: [virtualMemoryBuffer.cpp::resizePhysical::140] Error Code 2: "
                                             "OutOfMemory (no further information)")
            self._logger.log(Severity.ERROR, "2: [builder.cpp::buildSerializedNetwork::609] Error Code 2: "
                                             "Internal Error (Assertion engine != nullptr failed. )")
            return None
        profile = config.profiles[0].shapes if config.profiles else {}
        for name, shape, _ in network.model["inputs"]:
            if -1 in shape and name not in profile:
                self._logger.log(Severity.ERROR, "Network has dynamic or shape inputs, but no optimization "
                                                 "profile has been defined.")
                return None
        calibrated = self._calibrate(network, config)
        engine = {"model": network.model, "profile": {k: list(v[0]) for k, v in profile.items()},
                  "flags": config.flags, "workspace_bytes": config.workspace_bytes, "calibrated_batches": calibrated,
                  "detailed": config.profiling_verbosity == ProfilingVerbosity.DETAILED}
        return bytearray(ENGINE_MAGIC + json.dumps(engine).encode("utf-8"))

    def _calibrate(self, network, config):
        """Call the calibrator as TensorRT does during an int8 build: get_batch until None."""
        calibrator = config.int8_calibrator
        if "INT8" not in config.flags or calibrator is None:
            return 0
        size = calibrator.get_batch_size()
        names = [network.get_input(i).name for i in range(network.num_inputs)]
        count = 0
        while True:
            try:
                pointers = calibrator.get_batch(names)
            except Exception as exc:  # getBatch is noexcept: the bindings print it and calibration ends
                record("calibrator raised %s" % type(exc).__name__)
                self._logger.log(Severity.ERROR, "Exception caught in get_batch(): %s" % exc)
                pointers = None
            if not pointers:
                break
            assert len(pointers) == len(names) and size > 0
            count += 1
        record("calibrated %d batches" % count)
        return count


class SerializedBuildMixin(object):
    """``Builder.build_serialized_network`` (8.0+)."""

    def build_serialized_network(self, network, config):
        record("Builder.build_serialized_network")
        return self._build(network, config)


class EngineInspector(object):
    def __init__(self, engine):
        self._engine = engine

    def get_engine_information(self, fmt):
        layers = self._engine.spec["model"]["layers"]
        if self._engine.spec.get("detailed"):
            return json.dumps({"Layers": [{"Name": n, "LayerType": t} for n, t, _ in layers]})
        return json.dumps({"Layers": [n for n, _, _ in layers]})


class ICudaEngineBase(object):
    def __init__(self, spec, logger):
        self.spec = spec
        self._logger = logger
        io = spec["model"]["inputs"] + spec["model"]["outputs"]
        self._io = [(n, tuple(s), d, i < len(spec["model"]["inputs"])) for i, (n, s, d) in enumerate(io)]

    @property
    def num_layers(self):
        return len(self.spec["model"]["layers"])

    @property
    def device_memory_size(self):
        return 4 << 20

    def create_execution_context(self):
        record("ICudaEngine.create_execution_context")
        if STATE.faults.get("context_oom"):
            self._logger.log(Severity.ERROR, "1: [defaultAllocator.cpp::allocate::63] Error Code 1: Cuda Runtime "
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


class IExecutionContextBase(object):
    def __init__(self, engine, profile_index):
        self.engine = engine
        self.profile_index = profile_index
        self.profiler = None
        self.shapes = {}

    def _has_profile(self):
        """False, after logging TensorRT's error, on a context without an optimization profile."""
        if self.profile_index < 0:
            self.engine._logger.log(Severity.ERROR, "3: [executionContext.cpp::setBindingDimensions] Error Code 3: "
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
        if self.profiler is not None:
            for name, _, ms in self.engine.spec["model"]["layers"]:
                self.profiler.report_layer_time(name, ms)

    def _check_inputs(self):
        for n, shape, _, is_input in self.engine._io:
            assert not is_input or n in self.shapes, "input %s has no shape set" % n


class Runtime(object):
    engine_class = None  # set by each version module

    def __init__(self, logger):
        self._logger = logger

    def deserialize_cuda_engine(self, data):
        data = bytes(data)
        record("Runtime.deserialize_cuda_engine")
        if not data.startswith(ENGINE_MAGIC):
            self._logger.log(Severity.ERROR, "1: [stdArchiveReader.cpp::StdArchiveReader::32] Error Code 1: "
                                             "Serialization (Serialization assertion magicTagRead == kMAGIC_TAG failed.)")
            return None
        return self.engine_class(json.loads(data[len(ENGINE_MAGIC):].decode("utf-8")), self._logger)
