"""Building TensorRT engines, or loading them from the cache: parse, profile, precision, workspace, timing cache.

One engine per (model, batch, precision): an optimization profile with min = opt = max = the
batch, the builder workspace always set (``workspace_mb``; TensorRT 8.2 defaults to 0 bytes, 8.4+
to all device memory, which on a Jetson is shared DRAM), fp16 or int8 where asked. An
:class:`Engines` object holds what every step needs (``trt``, the detected :class:`api.Api`, the
CUDA layer, the TensorRT logger and the warnings for the profile).
"""
import logging
import os
import re
import time

from edgeprof.agent.backends.tensorrt import cache
from edgeprof.agent.backends.tensorrt.api import make_logger
from edgeprof.agent.backends.tensorrt.calibrator import make_calibrator
from edgeprof.errors import BackendError, InputFileError, OutOfMemory, UsageError
from edgeprof.records.files import write_atomic

log = logging.getLogger("edgeprof.tensorrt")

# Like trtexec --int8 without --calib: every tensor gets this dynamic range.
PLACEHOLDER_INT8_RANGE = 4.0
PLACEHOLDER_INT8_NOTE = ("none: placeholder dynamic range +-%g on every tensor (like trtexec --int8 without "
                         "--calib); timing only, accuracy meaningless" % PLACEHOLDER_INT8_RANGE)

_OOM_RE = re.compile(r"out of memory|could not be allocated|failed to allocate|insufficient memory|"
                     r"memory allocation|cudaErrorMemoryAllocation|OutOfMemory", re.IGNORECASE)


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


def _add_profile(builder, network, config, batch):
    """One optimization profile with min = opt = max = ``batch`` on the first axis of every input."""
    profile = builder.create_optimization_profile()
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
    config.add_optimization_profile(profile)
    return profile


def _set_placeholder_ranges(network):
    """Give every tensor the same dynamic range: int8 timing without calibration."""
    for index in range(network.num_inputs):
        network.get_input(index).set_dynamic_range(-PLACEHOLDER_INT8_RANGE, PLACEHOLDER_INT8_RANGE)
    for index in range(network.num_layers):
        layer = network.get_layer(index)
        for out in range(layer.num_outputs):
            layer.get_output(out).set_dynamic_range(-PLACEHOLDER_INT8_RANGE, PLACEHOLDER_INT8_RANGE)


def _save_timing_cache(config, path):
    cache_blob = config.get_timing_cache()
    if cache_blob is not None:
        write_atomic(path, [bytes(cache_blob.serialize())])


class Engines(object):
    """Serialized engines for one TensorRT module and CUDA layer: from the cache, or built (and cached).

    Attributes:
        warnings (list of str): what the builds found worth recording in the profile (no fast int8,
            an unreadable timing cache...).
    """

    def __init__(self, trt, api, cuda):
        self.trt = trt
        self.api = api
        self.cuda = cuda
        self._logger = make_logger(trt)
        self.warnings = []

    def load_or_build(self, settings, rebuild):
        """The serialized engine from the cache, or built (and cached) when missing, stale or forced.

        Returns:
            (bytes, float, bool): engine, build seconds (of the original build on a hit), cache hit.
        """
        path, key, fields = settings.engine_file
        blob, header = (None, "--rebuild asked") if rebuild else cache.read_cached_engine(path, key, fields)
        if blob is not None:
            return blob, header.get("build_seconds"), True
        if os.path.exists(path):
            log.info("engine cache %s: %s; rebuilding", path, header)
        with self.cuda.active():
            blob, build_seconds = self.build(settings)
        cache.write_cached_engine(path, key, fields, blob, build_seconds)
        return blob, build_seconds, False

    def build(self, settings):
        """Build a serialized engine for ``settings``.

        Returns:
            (bytes, float): the serialized engine and the build time in seconds.

        Raises:
            OutOfMemory: the builder ran out of memory (its message included).
            InputFileError: the ONNX parser failed (naming the node).
            BackendError: the builder returned no engine for another reason.
        """
        trt, api = self.trt, self.api
        builder = trt.Builder(self._logger)
        flags = (1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH)) if api.explicit_batch_flag else 0
        network = builder.create_network(flags)
        parser = self._parse_onnx(network, settings.model_path)
        config = builder.create_builder_config()
        self._set_workspace(config, settings.workspace_mb)
        profile = _add_profile(builder, network, config, settings.batch)
        if settings.layers:
            config.profiling_verbosity = getattr(trt.ProfilingVerbosity, api.layer_verbosity)
        calibrator = self._apply_precision(builder, network, config, settings, profile)
        if api.timing_cache:
            self._load_timing_cache(config, settings.timing_cache_file)
        started = time.monotonic()
        if api.serialized_build:
            serialized = builder.build_serialized_network(network, config)
            blob = bytes(serialized) if serialized is not None else None
        else:
            engine = builder.build_engine(network, config)
            blob = bytes(engine.serialize()) if engine is not None else None
        build_seconds = time.monotonic() - started
        if calibrator is not None and calibrator.error is not None:
            raise calibrator.error
        if not blob:
            self._build_failure(settings)
        if calibrator is not None and calibrator.batches_used == 0:
            raise InputFileError("--calib-dir gave no full batch of %d images; add images or lower the batch"
                                 % settings.batch)
        if api.timing_cache:
            _save_timing_cache(config, settings.timing_cache_file)
        del parser
        return blob, build_seconds

    def _parse_onnx(self, network, model_path):
        logger = self._logger
        parser = self.trt.OnnxParser(network, logger)
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
        detail = "; ".join(problems) or "; ".join(logger.errors[-3:]) or "no detail from the parser"
        raise InputFileError("TensorRT's ONNX parser failed on %s at %s; re-export with a supported opset "
                             "(edgeprof export --opset 13) or check the node in Netron" % (model_path, detail))

    def _set_workspace(self, config, workspace_mb):
        workspace_bytes = int(workspace_mb) << 20
        if self.api.memory_pool:
            config.set_memory_pool_limit(self.trt.MemoryPoolType.WORKSPACE, workspace_bytes)
        else:
            config.max_workspace_size = workspace_bytes

    def _apply_precision(self, builder, network, config, settings, profile):
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
            self.warnings.append("this GPU has no fast int8 (TX1, TX2 and Nano do not): int8 runs emulated, "
                                 "expect no speed-up over fp32")
        config.set_flag(trt.BuilderFlag.INT8)
        if not settings.calib_paths:
            _set_placeholder_ranges(network)
            return None
        shape = tuple(network.get_input(0).shape)
        calibrator = make_calibrator(trt, self.cuda, settings.calib_paths, settings.batch, shape[1:])
        config.int8_calibrator = calibrator
        if hasattr(config, "set_calibration_profile"):
            config.set_calibration_profile(profile)
        return calibrator

    def _load_timing_cache(self, config, path):
        data = b""
        if os.path.exists(path):
            with open(path, "rb") as f:
                data = f.read()
        try:
            timing = config.create_timing_cache(data)
        except (RuntimeError, TypeError, ValueError) as exc:  # pybind11 raises RuntimeError for a bad blob
            self.warnings.append("timing cache %s unreadable (%s); starting a new one" % (path, exc))
            timing = config.create_timing_cache(b"")
        if not config.set_timing_cache(timing, False):
            self.warnings.append("timing cache %s does not fit this device; starting a new one" % path)
            config.set_timing_cache(config.create_timing_cache(b""), False)

    def _build_failure(self, settings):
        message = "; ".join(self._logger.errors[-3:]) or "the builder returned no engine and logged no error"
        if _OOM_RE.search(message):
            raise OutOfMemory("TensorRT ran out of memory building batch %d: %s" % (settings.batch, message))
        raise BackendError("TensorRT could not build %s at batch %d: %s; rerun with -v, or try a smaller "
                           "--workspace-mb or batch" % (settings.model_path, settings.batch, message))
