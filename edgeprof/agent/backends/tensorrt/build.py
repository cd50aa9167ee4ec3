"""Building TensorRT engines, or loading them from the cache: parse, profile, precision, workspace, timing cache.

One engine per (model, batch, precision): an optimization profile with min = opt = max = the
batch, the builder workspace always set (``workspace_mb``; TensorRT 8.2 defaults to 0 bytes, 8.4+
to all device memory, which on a Jetson is shared DRAM), fp16 or int8 where asked. An
:class:`Engines` object holds what every step needs (``trt``, the detected :class:`api.Api`, the
CUDA layer, the process's TensorRT logger and this open's capture of it, and the warnings).

Lifetimes: the builder, network, config, parser, profile and calibrator are locals of
:meth:`Engines.build`, which runs inside the CUDA context and returns only the plan, so they are
all freed there, before any Runtime exists (the profile would keep the builder alive: pybind11
``reference_internal``, TRT 8.2 ``pyCore.cpp:829-830``). The plan is TensorRT's ``IHostMemory``
behind a memoryview, never copied.
"""
import logging
import os
import time

from edgeprof.agent.backends.base import Backend, is_out_of_memory_text
from edgeprof.agent.backends.tensorrt import cache
from edgeprof.agent.backends.tensorrt.calibrator import calibration_inputs, make_calibrator
from edgeprof.agent.backends.tensorrt.logger import NO_IMPLEMENTATION, process_logger
from edgeprof.errors import BackendError, InputFileError, OutOfMemory, UsageError
from edgeprof.records.files import write_atomic

log = logging.getLogger("edgeprof.tensorrt")

# int8 timing without calibration. edgeprof's own choice: trtexec --int8 without --calib sets +-2 on layer
# inputs (+-4 into Concat) and +-4 on outputs (+-2 after Pooling), and none on Q/DQ networks (TRT 10.13
# samples/common/sampleEngines.cpp:400-440,1030-1035), so its engines may pick other kernels.
PLACEHOLDER_INT8_RANGE = 4.0
PLACEHOLDER_INT8_NOTE = ("none: placeholder dynamic range +-%g on every network input and layer output "
                         "(edgeprof's choice, not trtexec's per-layer +-2/+-4); timing only, accuracy meaningless"
                         % PLACEHOLDER_INT8_RANGE)
QDQ_INT8_NOTE = "explicit: the network's Q/DQ layers give the int8 scales (no placeholder ranges, no calibrator)"
MEMORY_WARNING = ("TensorRT skipped tactics for lack of device memory (%d warnings, e.g. %r): the engine may be "
                  "slower than with more free memory or a larger --workspace-mb")
# What TensorRT's allocation failures say ("OutOfMemory" is "out of memory" without the spaces).
OOM_MARKERS = Backend.OOM_MARKERS + ("could not be allocated", "insufficient memory", "insuficient memory")


class BuildSettings(object):
    """What one engine needs: the build inputs and its cache file (a plain record)."""

    def __init__(self, model_path, batch, precision, workspace_mb, calib_paths, layers, timing_cache_file,
                 engine_file):
        self.model_path = model_path
        self.batch = batch
        self.precision = precision
        self.workspace_mb = workspace_mb
        self.calib_paths = calib_paths
        self.layers = layers
        self.timing_cache_file = timing_cache_file
        self.engine_file = engine_file  # a cache.EngineFile


def _add_profile(network, profile, config, batch, capture):
    """Fill ``profile`` with min = opt = max = ``batch`` on the first axis of every input and add it.

    Returns:
        dict: ``{input name: shape}`` (the profile itself must not outlive the build).
    """
    shapes = {}
    for index in range(network.num_inputs):
        tensor = network.get_input(index)
        shape = tuple(tensor.shape)
        if any(d < 0 for d in shape[1:]):
            raise InputFileError("input %r has dynamic axes besides the batch (%s); export with fixed "
                                 "image sizes" % (tensor.name, shape))
        if shape[0] >= 0 and shape[0] != batch:
            raise InputFileError("input %r has a fixed batch of %d; export with a dynamic batch axis to run "
                                 "batch %d" % (tensor.name, shape[0], batch))
        fixed = (batch,) + shape[1:]
        profile.set_shape(tensor.name, fixed, fixed, fixed)
        shapes[tensor.name] = fixed
    if config.add_optimization_profile(profile) < 0:
        raise BackendError("TensorRT refused the optimization profile for %s: %s"
                           % (", ".join("input %r %s" % item for item in sorted(shapes.items())),
                              capture.detail(default="no detail")))
    return shapes


def _has_qdq(trt, network):
    """Whether the network has Quantize/Dequantize layers (explicit quantization: its own int8 scales)."""
    layer_type = getattr(trt, "LayerType", None)
    kinds = [getattr(layer_type, n) for n in ("QUANTIZE", "DEQUANTIZE") if hasattr(layer_type, n)]
    for index in range(network.num_layers if kinds else 0):  # a loop: no closure cell holding the network
        if network.get_layer(index).type in kinds:
            return True
    return False


def _set_placeholder_ranges(network):
    """Give every network input and layer output the same dynamic range: int8 timing without calibration."""
    for index in range(network.num_inputs):
        network.get_input(index).set_dynamic_range(-PLACEHOLDER_INT8_RANGE, PLACEHOLDER_INT8_RANGE)
    for index in range(network.num_layers):
        layer = network.get_layer(index)
        for out in range(layer.num_outputs):
            layer.get_output(out).set_dynamic_range(-PLACEHOLDER_INT8_RANGE, PLACEHOLDER_INT8_RANGE)


def _tf32(trt, config):
    """Whether the config lets fp32 layers use TF32 tensor cores (on by default: NvInfer.h 8.5 :8410-8413)."""
    flag = getattr(trt.BuilderFlag, "TF32", None)
    if flag is None or not hasattr(config, "get_flag"):
        return None
    return bool(config.get_flag(flag))


def _save_timing_cache(config, path):
    cache_blob = config.get_timing_cache()
    if cache_blob is not None:
        write_atomic(path, [memoryview(cache_blob.serialize())])


class Engines(object):
    """Serialized engines for one TensorRT module and CUDA layer: from the cache, or built (and cached).

    Attributes:
        trt_logger: the process's TensorRT logger (:func:`logger.process_logger`).
        capture (logger.LogCapture): what TensorRT logs during this open.
        warnings (list of str): this open's warnings (an unreadable timing cache...); the engine's own
            (no fast int8, tactics skipped for memory) are in the build facts, cached with it.
    """

    def __init__(self, trt, api, cuda):
        self.trt = trt
        self.api = api
        self.cuda = cuda
        self.trt_logger = process_logger(trt)
        self.capture = self.trt_logger.start_capture()
        self.warnings = []

    def load_or_build(self, settings, rebuild):
        """The serialized engine from the cache, or built (and cached) when missing, stale or forced.

        Returns:
            (buffer, dict, bool): the plan, the build facts (``cache.BUILD_FACTS``; of the original
            build on a hit) and whether it was a cache hit.
        """
        path, key, fields = settings.engine_file
        blob, header = (None, "--rebuild asked") if rebuild else cache.read_cached_engine(path, key, fields)
        if blob is not None:
            return blob, cache.build_facts(header), True
        if os.path.exists(path):
            log.info("engine cache %s: %s; rebuilding", path, header)
        with self.cuda.active():
            plan, facts = self.build(settings)
        cache.write_cached_engine(path, key, fields, plan, facts)
        return plan, facts, False

    def build(self, settings):
        """Build a serialized engine for ``settings`` (inside the CUDA context).

        Returns:
            (memoryview, dict): the plan and the build facts (seconds, tf32, int8 mode, engine warnings).

        Raises:
            OutOfMemory: the builder ran out of memory (its message included).
            InputFileError: the ONNX parser failed (naming the node).
            BackendError: the builder returned no engine for another reason.
        """
        trt, api = self.trt, self.api
        facts = dict(dict.fromkeys(cache.BUILD_FACTS), warnings=[])
        builder = trt.Builder(self.trt_logger)
        flags = (1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH)) if api.explicit_batch_flag else 0
        network = builder.create_network(flags)
        parser = self._parse_onnx(network, settings.model_path)
        config = builder.create_builder_config()
        self._set_workspace(config, settings.workspace_mb)
        profile = builder.create_optimization_profile()
        shapes = _add_profile(network, profile, config, settings.batch, self.capture)
        if settings.layers:
            config.profiling_verbosity = getattr(trt.ProfilingVerbosity, api.layer_verbosity)
        calibrator = self._apply_precision(builder, network, config, settings, profile, shapes, facts)
        facts["tf32"] = _tf32(trt, config)
        if api.timing_cache:
            self._load_timing_cache(config, settings.timing_cache_file)
        errors_before, warnings_before = len(self.capture.errors), len(self.capture.memory_warnings)
        started = time.monotonic()
        plan = self._run_builder(builder, network, config)  # with SIGINT/SIGTERM held: see TensorRTBackend.open
        facts["seconds"] = time.monotonic() - started
        if calibrator is not None and calibrator.error is not None:
            raise calibrator.error
        if plan is None or not memoryview(plan).nbytes:
            self._build_failure(settings, errors_before, warnings_before)
        if calibrator is not None and calibrator.batches_used == 0:
            raise InputFileError("--calib-dir gave no full batch of %d images; add images or lower the batch"
                                 % settings.batch)
        skipped = self.capture.memory_warnings[warnings_before:]
        if skipped:
            facts["warnings"].append(MEMORY_WARNING % (len(skipped), skipped[0]))
        if api.timing_cache:
            _save_timing_cache(config, settings.timing_cache_file)
        del parser  # the network uses the parser's weights until the build is done
        return memoryview(plan), facts

    def _run_builder(self, builder, network, config):
        """The plan (an ``IHostMemory``), or None; before 8.0 the built engine is dropped once serialized."""
        if self.api.serialized_build:
            return builder.build_serialized_network(network, config)
        engine = builder.build_engine(network, config)
        return engine.serialize() if engine is not None else None

    def _parse_onnx(self, network, model_path):
        parser = self.trt.OnnxParser(network, self.trt_logger)
        if self.api.parse_from_file:
            parsed = parser.parse_from_file(model_path)
        else:
            with open(model_path, "rb") as f:
                parsed = parser.parse(f.read())
        if parsed:
            return parser
        problems = []
        for index in range(parser.num_errors):
            error = parser.get_error(index)
            node = error.node()
            where = "node %s" % node
            if hasattr(error, "node_name") and error.node_name():
                where = "node %s (%s)" % (node, error.node_name())
            problems.append("%s: %s" % (where, error.desc()))
        detail = "; ".join(problems) or self.capture.detail(last=3, default="no detail from the parser")
        raise InputFileError("TensorRT's ONNX parser failed on %s at %s; re-export with a supported opset "
                             "(edgeprof export --opset 13) or check the node in Netron" % (model_path, detail))

    def _set_workspace(self, config, workspace_mb):
        workspace_bytes = int(workspace_mb) << 20
        if self.api.memory_pool:
            config.set_memory_pool_limit(self.trt.MemoryPoolType.WORKSPACE, workspace_bytes)
        else:
            config.max_workspace_size = workspace_bytes

    def _apply_precision(self, builder, network, config, settings, profile, shapes, facts):
        """Set the precision flags; returns the calibrator (kept alive during the build) or None."""
        trt = self.trt
        if settings.precision == "fp32":
            return None
        if not getattr(self.api, settings.precision):
            raise UsageError("TensorRT %s has no %s builder flag (strongly typed networks only): export the model "
                             "in that precision, or use --precision fp32"
                             % (trt.__version__, settings.precision.upper()))
        if settings.precision == "fp16":
            if hasattr(builder, "platform_has_fast_fp16") and not builder.platform_has_fast_fp16:
                raise UsageError("this GPU has no fast fp16, so an fp16 engine would not be faster; "
                                 "use --precision fp32")
            config.set_flag(trt.BuilderFlag.FP16)
            return None
        if hasattr(builder, "platform_has_fast_int8") and not builder.platform_has_fast_int8:
            facts["warnings"].append("this GPU has no fast int8 (TX1, TX2 and Nano do not): int8 runs emulated, "
                                     "expect no speed-up over fp32")
        config.set_flag(trt.BuilderFlag.INT8)
        if _has_qdq(trt, network):
            facts["int8_calibration"] = QDQ_INT8_NOTE
            return None
        if not settings.calib_paths:
            _set_placeholder_ranges(network)
            return None
        calibrator = make_calibrator(trt, self.cuda, settings.calib_paths, settings.batch,
                                     calibration_inputs(trt, network, shapes))
        config.int8_calibrator = calibrator
        if hasattr(config, "set_calibration_profile"):
            config.set_calibration_profile(profile)
        return calibrator

    def _load_timing_cache(self, config, path):
        """Give the config the timing cache of ``path``; an unreadable one is replaced by an empty one.

        ``create_timing_cache`` is noexcept and may log ERRORs and return None for a damaged blob (TRT 8.2
        ``NvInfer.h:8383-8396``; 10.13 ``pyCore.cpp:250-255``; NVIDIA/TensorRT#3566), as
        ``shared/utils/cacheUtils.cpp:67-72`` and Polygraphy ``backend/trt/config.py:431`` check.
        """
        data = b""
        if os.path.exists(path):
            with open(path, "rb") as f:
                data = f.read()
        timing = None
        if data:
            errors_before = len(self.capture.errors)
            try:
                timing = config.create_timing_cache(data)
                problem = self.capture.detail(errors_before, default="TensorRT returned no cache")
            except (RuntimeError, TypeError, ValueError) as exc:  # older bindings may raise instead
                problem = str(exc)
            if timing is None:
                self.warnings.append("timing cache %s unreadable (%s); starting a new one" % (path, problem))
        if timing is None:
            timing = config.create_timing_cache(b"")
        if timing is None:
            self.warnings.append("TensorRT could not create a timing cache; building without one")
            return
        if not config.set_timing_cache(timing, False):
            self.warnings.append("timing cache %s does not fit this device; starting a new one" % path)
            config.set_timing_cache(config.create_timing_cache(b""), False)

    def _build_failure(self, settings, errors_before, warnings_before):
        """Raise for a build that returned no plan, quoting only what the build itself logged."""
        message = self.capture.detail(errors_before, last=3,
                                      default="the builder returned no engine and logged no error")
        memory_warnings = self.capture.memory_warnings[warnings_before:]
        if is_out_of_memory_text(message, OOM_MARKERS):
            raise OutOfMemory("TensorRT ran out of memory building batch %d: %s" % (settings.batch, message))
        if memory_warnings and NO_IMPLEMENTATION in message.lower():
            raise OutOfMemory("TensorRT found no tactic that fits in memory building batch %d: %s (after %d "
                              "warnings like %r)" % (settings.batch, message, len(memory_warnings),
                                                     memory_warnings[0]))
        raise BackendError("TensorRT could not build %s at batch %d: %s; rerun with -v, or try a smaller "
                           "--workspace-mb or batch" % (settings.model_path, settings.batch, message))
