"""Machinery shared by the stand-in ``tensorrt`` modules (trt_7_1.py, trt_8_2.py, trt_10.py): the build side.

Not a TensorRT: nothing is optimised and nothing runs on a GPU. The stand-ins mirror the
*names and call shapes* of a stated real version so the backend's orchestration can be
tested: which calls it makes, in which order, with which values. Every call of interest is
appended to ``STATE.calls`` as a short string, e.g. ``"IBuilderConfig.max_workspace_size=1073741824"``.
They also hold edgeprof to what the real API refuses, each behaviour citing its source (the review
``shared/reviews/trt.md``, rows S1-S12): object lifetimes against the CUDA context, the single logger of
8.0-8.3 and the noexcept callbacks of 8.2 (native.py), enums and ``nptype`` per version (dtypes.py),
inspector JSON shaped like real engines (engine_info.py), None/-1/False failure values. What they found
is in ``STATE.violations``.

The "ONNX file" a stand-in parses is JSON written by the tests (see :func:`write_model`):
inputs and outputs with shapes (-1 for the batch axis) and layers as (name, type, ms). For a
real ONNX file (end-to-end sweeps) the same JSON sits beside it as ``<file>.standin.json``.
A serialized engine is ``ENGINE_MAGIC`` + JSON in an :class:`IHostMemory`. The engine, context and
runtime are in runtime.py.
"""
import json
import os

from trt_standins.dtypes import data_type, layer_type
from trt_standins.native import BoundBase, LoggerUser, Logs, Native, alive_on, call_back, current_context, signal_arrives
from trt_standins.state import STATE, Severity, record  # noqa: F401 - the tests use core.STATE, core.record

ENGINE_MAGIC = b"STANDIN-ENGINE:"
TIMING_MAGIC = b"STANDIN-TIMING:"
ITEMSIZE = {"FLOAT": 4, "HALF": 2, "INT8": 1, "INT32": 4, "BOOL": 1, "UINT8": 1, "INT64": 8}

# Jetson builds short of memory (review finding 4): WARNINGs quoted from open-mmlab/mmdeploy#1059 (Xavier NX),
# ultralytics/ultralytics#14751 (Nano), NVIDIA/TensorRT#1661 (AGX, JetPack 4.6), with TensorRT's typo, then
# the one ERROR of dusty-nv/jetson-inference#1499 and wang-xinyu/tensorrtx#855.
TACTIC_MEMORY_WARNINGS = (
    "Tactic Device request: 4364MB Available: 3788MB. Device memory is insufficient to use tactic.",
    "Skipping tactic 3 due to insuficient memory on requested size of 4364 detected for tactic 0x0000000000000004.",
)
NO_IMPLEMENTATION_ERROR = ("10: [optimizer.cpp::computeCosts::3728] Error Code 10: Internal Error (Could not find "
                           "any implementation for node Conv_0 + Relu_1.)")
# A damaged timing cache on 8.6.1 (NVIDIA/TensorRT#3566): these ERRORs, and no exception.
TIMING_CACHE_ERRORS = (
    "1: [stdArchiveReader.cpp::StdArchiveReader::32] Error Code 1: Serialization (Serialization assertion "
    "magicTagRead == kMAGIC_TAG failed.Magic tag does not match)",
    "4: [timingCache.cpp::TimingCache::...] Error Code 4: The timing cache will not be used!",
)


def write_model(path, inputs=None, outputs=None, layers=None):
    """Write a stand-in model file (JSON) and return its path.

    A layer is ``[name, network type, ms]``, or with the ONNX node names it came from as a 4th item.
    """
    model = {
        "inputs": inputs or [["input", [-1, 3, 8, 8], "FLOAT"]],
        "outputs": outputs or [["logits", [-1, 10], "FLOAT"]],
        "layers": layers or [["Conv_0 + Relu_1", "Convolution", 0.5], ["MaxPool_2", "Pooling", 0.1],
                             ["Gemm_48", "FullyConnected", 0.4]],
    }
    with open(path, "w") as f:
        json.dump(model, f)
    return path


class ILogger(BoundBase):
    Severity = Severity
    _pybind_base = True

    def __init__(self):
        self._bound_init(ILogger)

    def log(self, severity, msg):
        pass


class BuilderFlag(object):
    FP16 = "FP16"
    INT8 = "INT8"
    TF32 = "TF32"  # on by default in every builder config (NvInfer.h 8.5 :8410-8413, 10.13 :8868-8871)


class ProfilingVerbosity(object):
    LAYER_NAMES_ONLY = "LAYER_NAMES_ONLY"
    DETAILED = "DETAILED"


class LayerInformationFormat(object):
    ONELINE = "ONELINE"
    JSON = "JSON"


class IProfiler(BoundBase):
    _pybind_base = True

    def __init__(self):
        self._bound_init(IProfiler)

    def report_layer_time(self, layer_name, ms):
        pass


class IInt8EntropyCalibrator2(BoundBase):
    _pybind_base = True

    def __init__(self):
        self._bound_init(IInt8EntropyCalibrator2)


class IHostMemory(bytearray):
    """A serialized plan or cache: host memory with the buffer protocol (pyCore.cpp binds it so)."""


class ITensor(object):
    def __init__(self, name, shape, dtype):
        self.name = name
        self.shape = tuple(shape)
        self.dtype = dtype

    # Named as bound: ITensor.set_dynamic_range(self, min: float, max: float) (tests/data/trt_signatures/7.1.txt:137,
    # 8.2.txt:150, 10.13.0.35.txt:1191).
    def set_dynamic_range(self, min, max):
        record("ITensor.set_dynamic_range(%s,%g,%g)" % (self.name, min, max))
        return True


class ILayer(object):
    def __init__(self, name, network_type):
        self.name = name
        self.type = layer_type(network_type)
        self.num_outputs = 1
        self._output = ITensor(name + ":0", (-1,), data_type("FLOAT"))

    def get_output(self, index):
        return self._output


class INetworkDefinition(Native):
    side = "builder"

    def __init__(self):
        Native.__init__(self)
        self.model = None

    @property
    def num_inputs(self):
        return len(self.model["inputs"])

    def get_input(self, index):
        if not hasattr(self, "_inputs"):
            self._inputs = [ITensor(n, s, data_type(d)) for n, s, d in self.model["inputs"]]
        return self._inputs[index]

    @property
    def num_layers(self):
        return len(self.model["layers"])

    def get_layer(self, index):
        if not hasattr(self, "_layers"):
            self._layers = [ILayer(entry[0], entry[1]) for entry in self.model["layers"]]
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


class OnnxParserBase(Native):
    side = "builder"
    error_class = ParserErrorBase

    def __init__(self, network, logger):
        Native.__init__(self)
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

    # Named as bound: OnnxParser.parse_from_file(self, model: str), the model's path (tests/data/trt_signatures/
    # 8.2.txt:166, 10.13.0.35.txt:1312).
    def parse_from_file(self, model):
        record("OnnxParser.parse_from_file(%s)" % model)
        sidecar = model + ".standin.json"
        with open(sidecar if os.path.exists(sidecar) else model) as f:
            return self._parsed(json.load(f))


class IOptimizationProfile(Native):
    """Keeps its builder alive: ``create_optimization_profile`` is bound with reference_internal
    (keep_alive<0,1>; TRT 8.2 ``pyCore.cpp:829-830``, 8.5 ``:1133``, 10.13 ``:1876``)."""

    side = "builder"

    def __init__(self, builder):
        Native.__init__(self)
        self._builder = builder
        self.shapes = {}

    # Named as bound: IOptimizationProfile.set_shape(self, input: str, min: Dims, opt: Dims, max: Dims)
    # (tests/data/trt_signatures/7.1.txt:125, 8.2.txt:137, 10.13.0.35.txt:819).
    def set_shape(self, input, min, opt, max):
        record("IOptimizationProfile.set_shape(%s,%s,%s,%s)" % (input, tuple(min), tuple(opt), tuple(max)))
        self.shapes[input] = (tuple(min), tuple(opt), tuple(max))

    def _problem(self):
        """Why ``IOptimizationProfile::isValid()`` would say no (its NvInferRuntime.h description: min, opt and
        max all set, of one rank, min <= opt <= max), or the ``profile_invalid`` fault's reason."""
        if not self.shapes:
            return "no shape set"
        for name, (low, opt, high) in sorted(self.shapes.items()):
            if not len(low) == len(opt) == len(high) or any(d < 0 for d in low):
                return "input %s: dimensions of different ranks or negative" % name
            if any(a > b for a, b in zip(low, opt)) or any(a > b for a, b in zip(opt, high)):
                return "input %s: not min <= opt <= max" % name
        return STATE.faults.get("profile_invalid")


class ITimingCache(Native):
    def __init__(self, data):
        Native.__init__(self)
        self.data = data

    def serialize(self):
        return IHostMemory(TIMING_MAGIC + b"device-tactics")


class IBuilderConfigBase(Logs, Native):
    """A builder config. Profiles are kept as copies of their shapes: ``add_optimization_profile`` takes a
    pointer, and the review cites no keep_alive on it, so a config does not keep a profile (and through it
    the builder) alive here."""

    side = "builder"

    def __init__(self, builder):
        Native.__init__(self)
        self._logger, self._callbacks = builder._logger, builder.callbacks  # not the builder: no keep_alive
        self.flags = [BuilderFlag.TF32]
        self.profiles = []
        self.calibration_profile = None
        self.workspace_bytes = None
        self.timing_cache = None
        self.int8_calibrator = None
        self.profiling_verbosity = ProfilingVerbosity.LAYER_NAMES_ONLY

    def set_flag(self, flag):
        record("IBuilderConfig.set_flag(%s)" % flag)
        self.flags.append(flag)

    def get_flag(self, flag):
        return flag in self.flags

    def add_optimization_profile(self, profile):
        """The profile's index, or -1 (with an ERROR logged) for an invalid one: ``addOptimizationProfile``
        returns -1 then (NvInfer.h; review finding 13). The ERROR's wording is the stand-in's."""
        record("IBuilderConfig.add_optimization_profile")
        problem = profile._problem()
        if problem:
            self._log(Severity.ERROR, "4: [optimizationProfile.cpp::isValid] Error Code 4: API Usage Error "
                                      "(Optimization profile is invalid: %s)" % problem)
            return -1
        self.profiles.append(dict(profile.shapes))
        return len(self.profiles) - 1

    def set_calibration_profile(self, profile):
        record("IBuilderConfig.set_calibration_profile")
        self.calibration_profile = dict(profile.shapes)


class TimingCacheMixin(object):
    """``IBuilderConfig.create_timing_cache``/``set_timing_cache``/``get_timing_cache`` (8.0+)."""

    def create_timing_cache(self, serialized_timing_cache):
        """A cache, or None after logging ERRORs for a damaged blob: ``createTimingCache`` is noexcept and
        returns a pointer (TRT 8.2 ``NvInfer.h:8383-8396``), None in Python (10.13 ``pyCore.cpp:250-255``).

        Named as bound: ``create_timing_cache(self, serialized_timing_cache: buffer)`` (tests/data/trt_signatures/
        8.2.txt:35, 10.13.0.35.txt:149)."""
        data = bytes(serialized_timing_cache)
        record("IBuilderConfig.create_timing_cache(%d bytes)" % len(data))
        if data and not data.startswith(TIMING_MAGIC):
            for message in TIMING_CACHE_ERRORS:
                self._log(Severity.ERROR, message)
            return None
        return ITimingCache(data)

    def set_timing_cache(self, cache, ignore_mismatch):
        """``set_timing_cache`` takes ``ITimingCache const&``: for None pybind11 throws reference_cast_error,
        a RuntimeError in Python (review finding 5)."""
        record("IBuilderConfig.set_timing_cache")
        if cache is None:
            raise RuntimeError("Unable to cast Python instance of type <class 'NoneType'> to C++ type 'ITimingCache'")
        self.timing_cache = cache
        return True

    def get_timing_cache(self):
        return self.timing_cache


class BuilderBase(LoggerUser):
    side = "builder"
    config_class = IBuilderConfigBase
    factory = "createInferBuilder"

    def __init__(self, logger):
        LoggerUser.__init__(self, logger)
        record("Builder made; alive: %s" % alive_on("runtime"))

    def create_network(self, flags=0):
        record("Builder.create_network(%d)" % flags)
        return INetworkDefinition()

    def create_builder_config(self):
        return self.config_class(self)

    def create_optimization_profile(self):
        return IOptimizationProfile(self)

    @property
    def platform_has_fast_fp16(self):
        return STATE.fast_fp16

    @property
    def platform_has_fast_int8(self):
        return STATE.fast_int8

    def _build(self, network, config):
        """The serialized engine, or None after logging as TensorRT does: every message goes to the Python
        logger, INFO and VERBOSE included (8.2 ``pyCore.cpp:417-430``, review finding 6)."""
        signal_arrives("signal_during_build")
        self._log(Severity.INFO, "[MemUsageChange] Init CUDA: CPU +0, GPU +0, now: CPU 310, GPU 3520 (MiB)")
        if STATE.faults.get("build_oom"):
            self._log(Severity.ERROR, "2: [virtualMemoryBuffer.cpp::resizePhysical::140] Error Code 2: "
                                      "OutOfMemory (no further information)")
            self._log(Severity.ERROR, "2: [builder.cpp::buildSerializedNetwork::609] Error Code 2: "
                                      "Internal Error (Assertion engine != nullptr failed. )")
            return None
        if STATE.faults.get("build_oom_jetson") or STATE.faults.get("tactics_skipped_for_memory"):
            for message in TACTIC_MEMORY_WARNINGS:
                self._log(Severity.WARNING, message)
            if STATE.faults.get("build_oom_jetson"):
                self._log(Severity.ERROR, NO_IMPLEMENTATION_ERROR)
                return None
        if STATE.faults.get("build_sticky"):  # a tactic hit an illegal address: a sticky error (review finding 11)
            current_context().fail_sticky("an illegal memory access was encountered")
            self._log(Severity.ERROR, "1: [runner.cpp::execute::...] Error Code 1: Cuda Runtime (an illegal "
                                      "memory access was encountered)")
            return None
        profile = config.profiles[0] if config.profiles else {}
        for name, shape, _ in network.model["inputs"]:
            if -1 in shape and name not in profile:
                self._log(Severity.ERROR, "Network has dynamic or shape inputs, but no optimization "
                                          "profile has been defined.")
                return None
        calibrated = self._calibrate(network, config)
        engine = {"model": network.model, "profile": {k: list(v[0]) for k, v in profile.items()},
                  "flags": config.flags, "workspace_bytes": config.workspace_bytes, "calibrated_batches": calibrated,
                  "detailed": config.profiling_verbosity == ProfilingVerbosity.DETAILED}
        record("build finished")
        return IHostMemory(ENGINE_MAGIC + json.dumps(engine).encode("utf-8"))

    def _calibrate(self, network, config):
        """Call the calibrator as TensorRT does during an int8 build: get_batch until None.

        TensorRT reads each input's full volume at its pointer (8.2 ``pyInt8.cpp:39-50``; review finding
        12): a buffer smaller than that input at the calibration profile's shape is a violation.
        """
        calibrator = config.int8_calibrator
        if "INT8" not in config.flags or calibrator is None:
            return 0
        size = call_back(self.callbacks, "get_batch_size", calibrator.get_batch_size)
        shapes = config.calibration_profile or config.profiles[0]
        inputs = [network.get_input(i) for i in range(network.num_inputs)]
        names = [tensor.name for tensor in inputs]
        count = 0
        while True:
            pointers = call_back(self.callbacks, "get_batch", calibrator.get_batch, names)
            if not pointers:
                break
            assert len(pointers) == len(names) and size > 0
            for tensor, pointer in zip(inputs, pointers):
                self._check_calibration_buffer(tensor, shapes[tensor.name][1], pointer)
            count += 1
        record("calibrated %d batches" % count)
        return count

    def _check_calibration_buffer(self, tensor, shape, pointer):
        needed = ITEMSIZE[tensor.dtype.name]
        for dim in shape:
            needed *= dim
        held = current_context().buffer_size(pointer)
        if held is None or held < needed:
            STATE.violations.append("calibration buffer of input %s holds %s bytes; TensorRT reads %d"
                                    % (tensor.name, held, needed))


class SerializedBuildMixin(object):
    """``Builder.build_serialized_network`` (8.0+)."""

    def build_serialized_network(self, network, config):
        record("Builder.build_serialized_network")
        return self._build(network, config)
