"""TensorRT backend: build (or load from cache) an engine per batch size, run it, time it.

One engine per (model, batch, precision): an optimization profile with min = opt = max =
the batch, the builder workspace always set (``workspace_mb``; TensorRT 8.2 defaults to 0
bytes, 8.4+ to all device memory, which on a Jetson is shared DRAM), fp16 or int8 where
asked. Engines and a timing cache per device live in a cache folder; a cache file is only
loaded when its header matches the cache key, and a corrupt one is rebuilt.

Version differences are decided in one place, :func:`detect_api`, by feature detection:

- ``v8.2-bindings`` (TensorRT 7.1-8.4: JetPack 4.4/4.5 ship 7.1, JetPack 4.6 ships 8.2): binding
  indices, ``set_binding_shape``, ``execute_async_v2``; ``max_workspace_size`` before 8.4. Before
  8.0 there is no ``build_serialized_network`` (``build_engine`` + ``serialize``), no timing cache
  and no Python ``parse_from_file``; before 8.2 no engine inspector (layer types) and the
  detailed profiling verbosity is called ``VERBOSE``.
- ``v10-named-tensors`` (TensorRT 8.5-11): named IO tensors, ``set_input_shape``,
  ``set_tensor_address``, ``execute_async_v3``, ``set_memory_pool_limit``;
  ``create_network(0)`` where implicit batch is gone (10+).

The TensorRT names each path uses are kept as data below (``COMMON_NAMES``,
``PATH_NAMES``, ``FEATURES``...); tests/agent/test_tensorrt_names.py checks them against
name lists taken from the real bindings of each version (tests/data/trt_names/).
``tensorrt`` is imported lazily; the CUDA side is edgeprof.agent.backends.cuda.
"""
import hashlib
import importlib
import json
import logging
import os
import re
import time

from edgeprof.agent.backends import cuda as cuda_layer
from edgeprof.agent.backends import tensorrt_calib
from edgeprof.agent.backends.base import Backend, Session
from edgeprof.records.files import sha256_file, write_atomic
from edgeprof.errors import (
    BackendUnavailable,
    EdgeprofError,
    InputFileError,
    OutOfMemory,
    UsageError,
)
from edgeprof.argtypes import positive_int
from edgeprof.util import slug

log = logging.getLogger("edgeprof.tensorrt")

DEFAULT_WORKSPACE_MB = 1024  # fits next to the model and the OS on a 4 GB Jetson (Nano, TX1)
DEFAULT_CACHE_DIR = os.path.join("~", ".cache", "edgeprof", "engines")
CACHE_FORMAT = 1
CACHE_MAGIC = b"EDGEPROF-TRT-ENGINE 1\n"
LAYER_PROFILE_RUNS = 20
# Like trtexec --int8 without --calib: every tensor gets this dynamic range.
PLACEHOLDER_INT8_RANGE = 4.0
PLACEHOLDER_INT8_NOTE = ("none: placeholder dynamic range +-%g on every tensor (like trtexec --int8 without "
                         "--calib); timing only, accuracy meaningless" % PLACEHOLDER_INT8_RANGE)

# -- TensorRT names, as data (checked against the real bindings by the tests) ---------------------

# Used on every path.
COMMON_NAMES = (
    "__version__", "ILogger", "ILogger.log", "ILogger.Severity.ERROR", "ILogger.Severity.INTERNAL_ERROR",
    "ILogger.Severity.WARNING", "Builder", "Builder.create_network", "Builder.create_builder_config",
    "Builder.create_optimization_profile", "NetworkDefinitionCreationFlag",
    "INetworkDefinition.num_inputs", "INetworkDefinition.get_input", "ITensor.name", "ITensor.shape",
    "OnnxParser", "OnnxParser.num_errors", "OnnxParser.get_error",
    "ParserError.desc", "ParserError.node",
    "IBuilderConfig.set_flag", "IBuilderConfig.add_optimization_profile", "IBuilderConfig.profiling_verbosity",
    "IOptimizationProfile.set_shape", "Runtime", "Runtime.deserialize_cuda_engine",
    "ICudaEngine.create_execution_context", "IExecutionContext.profiler", "IProfiler", "IProfiler.report_layer_time",
    "nptype",
)

# Used by one execution path only; each path claims the TensorRT versions [low, high) it serves.
PATH_NAMES = {
    "v8.2-bindings": (
        "ICudaEngine.num_bindings", "ICudaEngine.binding_is_input", "ICudaEngine.get_binding_name",
        "ICudaEngine.get_binding_shape", "ICudaEngine.get_binding_dtype",
        "IExecutionContext.set_binding_shape", "IExecutionContext.get_binding_shape",
        "IExecutionContext.execute_async_v2", "IExecutionContext.execute_v2",
        "NetworkDefinitionCreationFlag.EXPLICIT_BATCH",
    ),
    "v10-named-tensors": (
        "ICudaEngine.num_io_tensors", "ICudaEngine.get_tensor_name", "ICudaEngine.get_tensor_mode",
        "ICudaEngine.get_tensor_shape", "ICudaEngine.get_tensor_dtype", "TensorIOMode.INPUT",
        "IExecutionContext.set_input_shape", "IExecutionContext.get_tensor_shape",
        "IExecutionContext.set_tensor_address", "IExecutionContext.execute_async_v3",
    ),
}
PATH_VERSIONS = {"v8.2-bindings": ((7, 1), (8, 5)), "v10-named-tensors": ((8, 5), (12, 0))}

# Features with alternatives: every supported version has at least one alternative complete.
FEATURES = {
    "workspace": (("IBuilderConfig.set_memory_pool_limit", "MemoryPoolType.WORKSPACE"),
                  ("IBuilderConfig.max_workspace_size",)),
    "build": (("Builder.build_serialized_network",), ("Builder.build_engine", "ICudaEngine.serialize")),
    "engine_memory": (("ICudaEngine.device_memory_size_v2",), ("ICudaEngine.device_memory_size",)),
    "parse": (("OnnxParser.parse_from_file",), ("OnnxParser.parse",)),
    "layer_verbosity": (("ProfilingVerbosity.DETAILED",), ("ProfilingVerbosity.VERBOSE",)),
}

# Precisions beyond fp32; TensorRT 11 builds strongly typed networks only and has none of these.
PRECISION_NAMES = {
    "fp16": ("BuilderFlag.FP16",),
    "int8": ("BuilderFlag.INT8", "IBuilderConfig.int8_calibrator", "IInt8EntropyCalibrator2",
             "IInt8EntropyCalibrator2.get_batch_size", "IInt8EntropyCalibrator2.get_batch",
             "IInt8EntropyCalibrator2.read_calibration_cache", "IInt8EntropyCalibrator2.write_calibration_cache",
             "INetworkDefinition.num_layers", "INetworkDefinition.get_layer", "ILayer.num_outputs",
             "ILayer.get_output", "ITensor.set_dynamic_range"),
}
PRECISION_VERSIONS = ((7, 1), (11, 0))

# Used only behind hasattr(): present in some supported versions, not all.
OPTIONAL_NAMES = ("Builder.platform_has_fast_fp16", "Builder.platform_has_fast_int8",
                  "IBuilderConfig.set_calibration_profile", "ParserError.node_name",
                  # timing cache (8.0+) and engine inspector (8.2+): skipped where absent
                  "IBuilderConfig.create_timing_cache", "IBuilderConfig.set_timing_cache",
                  "IBuilderConfig.get_timing_cache", "ITimingCache.serialize",
                  "ICudaEngine.create_engine_inspector", "EngineInspector.get_engine_information",
                  "LayerInformationFormat.JSON")
TIMING_CACHE_UNAVAILABLE = "unavailable in this TensorRT"

class EngineLoadError(EdgeprofError):
    """TensorRT could not deserialize an engine (a cached one is then rebuilt)."""


_OOM_RE = re.compile(r"out of memory|could not be allocated|failed to allocate|insufficient memory|"
                     r"memory allocation|cudaErrorMemoryAllocation|OutOfMemory", re.IGNORECASE)
_FC_NAME_RE = re.compile(r"gemm|matmul|(^|[^a-z])fc", re.IGNORECASE)
_FC_TYPES = ("FullyConnected", "MatrixMultiply")


def _import_trt():
    return importlib.import_module("tensorrt")


def detect_api(trt):
    """How to drive this ``tensorrt`` module: the one place that looks at version differences.

    Returns:
        dict: ``name`` ('v8.2-bindings' or 'v10-named-tensors'), ``named_tensors``,
        ``memory_pool`` (set_memory_pool_limit vs max_workspace_size), ``serialized_build``,
        ``explicit_batch_flag`` (create_network needs EXPLICIT_BATCH: implicit batch still
        exists, which it does exactly while binding indices do), ``engine_memory_attr``,
        ``fp16``/``int8`` (the builder flags exist), ``timing_cache`` (8.0+), ``parse_from_file``
        (8.0+ Python bindings; else ``parse`` of the file's bytes), ``layer_verbosity`` (the
        ProfilingVerbosity member for per-layer names: DETAILED, or VERBOSE before 8.2).
    """
    context = trt.IExecutionContext
    named = hasattr(context, "execute_async_v3") and hasattr(context, "set_input_shape")
    if not named and not hasattr(context, "execute_async_v2"):
        raise BackendUnavailable("TensorRT %s has neither execute_async_v3 nor execute_async_v2; "
                                 "edgeprof supports TensorRT 7.1 to 11" % getattr(trt, "__version__", "?"))
    engine = trt.ICudaEngine
    return {
        "name": "v10-named-tensors" if named else "v8.2-bindings",
        "named_tensors": named,
        "memory_pool": hasattr(trt.IBuilderConfig, "set_memory_pool_limit"),
        "serialized_build": hasattr(trt.Builder, "build_serialized_network"),
        "explicit_batch_flag": (hasattr(trt.NetworkDefinitionCreationFlag, "EXPLICIT_BATCH")
                                and hasattr(engine, "num_bindings")),
        "engine_memory_attr": ("device_memory_size_v2" if hasattr(engine, "device_memory_size_v2")
                               else "device_memory_size"),
        "fp16": hasattr(trt.BuilderFlag, "FP16"),
        "int8": hasattr(trt.BuilderFlag, "INT8") and hasattr(trt, "IInt8EntropyCalibrator2"),
        "timing_cache": hasattr(trt.IBuilderConfig, "create_timing_cache"),
        "parse_from_file": hasattr(trt.OnnxParser, "parse_from_file"),
        "layer_verbosity": "DETAILED" if hasattr(trt.ProfilingVerbosity, "DETAILED") else "VERBOSE",
    }


# -- small helpers ---------------------------------------------------------------------------------

def is_fc_layer(name, layer_type):
    """Whether a layer counts as fully connected for ``fc_share`` (name or TensorRT layer type)."""
    return bool(_FC_NAME_RE.search(name or "")) or (layer_type or "") in _FC_TYPES


def _make_logger(trt):
    """An ILogger that keeps errors and warnings (for OOM and build-failure messages)."""
    severity = trt.ILogger.Severity

    class CapturingLogger(trt.ILogger):
        def __init__(self):
            trt.ILogger.__init__(self)
            self.errors = []

        def log(self, level, message):
            if level in (severity.ERROR, severity.INTERNAL_ERROR):
                self.errors.append(message)
                log.debug("TensorRT error: %s", message)
            elif level == severity.WARNING:
                log.debug("TensorRT warning: %s", message)

    return CapturingLogger()


# -- engine cache ----------------------------------------------------------------------------------

def cache_fields(model_sha256, trt_version, gpu_name, compute_capability, precision, batch, workspace_mb,
                 int8_calibration, layers):
    """Everything that makes a serialized engine reusable, as a dict (the cache key hashes it)."""
    return {
        "format": CACHE_FORMAT, "model_sha256": model_sha256, "tensorrt_version": trt_version,
        "gpu_name": gpu_name, "compute_capability": compute_capability, "precision": precision,
        "batch": int(batch), "workspace_mb": int(workspace_mb), "int8_calibration": int8_calibration,
        "profiling_verbosity": "detailed" if layers else "default",
    }


def cache_key(fields):
    """The sha256 of the canonical JSON of :func:`cache_fields`, hex, 32 characters."""
    text = json.dumps(fields, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def engine_path(cache_dir, fields, key):
    return os.path.join(cache_dir, "%s-b%d-%s-%s.engine"
                        % (fields["model_sha256"][:12], fields["batch"], fields["precision"], key[:16]))


def read_cached_engine(path, key, fields):
    """The engine bytes and header of a cache file, or ``(None, reason)`` when it must be rebuilt.

    A file is used only when its header carries the same key and fields and the engine
    length it announces; anything else is foreign, stale or corrupt.
    """
    if not os.path.exists(path):
        return None, "not cached"
    try:
        with open(path, "rb") as f:
            if f.read(len(CACHE_MAGIC)) != CACHE_MAGIC:
                return None, "not an edgeprof engine file"
            header = json.loads(f.readline().decode("utf-8"))
            blob = f.read()
    except (OSError, ValueError) as exc:
        return None, "unreadable (%s)" % exc
    if not isinstance(header, dict) or header.get("key") != key or header.get("fields") != fields:
        return None, "built for other settings (stale or foreign)"
    if header.get("engine_bytes") != len(blob):
        return None, "truncated (%d of %s bytes)" % (len(blob), header.get("engine_bytes"))
    return blob, header


def write_cached_engine(path, key, fields, blob, build_seconds):
    header = {"key": key, "fields": fields, "engine_bytes": len(blob), "build_seconds": round(build_seconds, 3)}
    line = json.dumps(header, sort_keys=True).encode("utf-8") + b"\n"
    write_atomic(path, [CACHE_MAGIC, line, blob])


def timing_cache_path(cache_dir, trt_version, gpu_name, compute_capability):
    return os.path.join(cache_dir, "timing-%s-sm%s-trt%s.cache"
                        % (slug(gpu_name), compute_capability.replace(".", ""), trt_version))


# -- building --------------------------------------------------------------------------------------

def _parse_onnx(trt, api, network, logger, model_path):
    parser = trt.OnnxParser(network, logger)
    if api["parse_from_file"]:
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


def _make_calibrator(trt, cuda, paths, batch, chw):
    """An IInt8EntropyCalibrator2 feeding ``paths`` (see tensorrt_calib) through one device buffer."""
    import numpy

    class FileCalibrator(trt.IInt8EntropyCalibrator2):
        def __init__(self):
            trt.IInt8EntropyCalibrator2.__init__(self)
            self._batches = tensorrt_calib.batches(paths, batch, chw)
            self._host = cuda.pinned_empty((batch,) + tuple(chw), numpy.float32)
            self._device = cuda.alloc(self._host.nbytes)
            self._stream = cuda.create_stream()
            self.batches_used = 0
            self.error = None  # raised by build_engine: nothing may escape into TensorRT's noexcept getBatch

        def get_batch_size(self):
            return batch

        def get_batch(self, names):
            try:
                data = next(self._batches, None)
                if data is None:
                    return None
                self._host[...] = data
                cuda.htod_async(self._device, self._host, self._stream)
                cuda.synchronize(self._stream)
            except Exception as exc:  # a bad calibration file: end calibration, raise after the build
                self.error = exc
                return None
            self.batches_used += 1
            return [int(self._device)] * len(names)

        def read_calibration_cache(self):
            return None

        def write_calibration_cache(self, cache):
            return None

    return FileCalibrator()


class BuildSettings(object):
    """What one engine build needs (a plain record)."""

    def __init__(self, model_path, batch, precision, workspace_mb, calib_paths, layers, timing_cache_file):
        self.model_path = model_path
        self.batch = batch
        self.precision = precision
        self.workspace_mb = workspace_mb
        self.calib_paths = calib_paths
        self.layers = layers
        self.timing_cache_file = timing_cache_file
        self.profile = None  # the optimization profile, once added


def _apply_precision(trt, api, builder, network, config, settings, cuda, warnings):
    """Set the precision flags; returns the calibrator (kept alive during the build) or None."""
    if settings.precision == "fp32":
        return None
    if not api[settings.precision]:
        raise UsageError("TensorRT %s has no %s builder flag (strongly typed networks only): export the model in "
                         "that precision, or use --precision fp32" % (trt.__version__, settings.precision.upper()))
    if settings.precision == "fp16":
        if hasattr(builder, "platform_has_fast_fp16") and not builder.platform_has_fast_fp16:
            raise UsageError("this GPU has no fast fp16, so an fp16 engine would not be faster; "
                             "use --precision fp32")
        config.set_flag(trt.BuilderFlag.FP16)
        return None
    if hasattr(builder, "platform_has_fast_int8") and not builder.platform_has_fast_int8:
        warnings.append("this GPU has no fast int8 (TX1, TX2 and Nano do not): int8 runs emulated, "
                        "expect no speed-up over fp32")
    config.set_flag(trt.BuilderFlag.INT8)
    if not settings.calib_paths:
        _set_placeholder_ranges(network)
        return None
    shape = tuple(network.get_input(0).shape)
    calibrator = _make_calibrator(trt, cuda, settings.calib_paths, settings.batch, shape[1:])
    config.int8_calibrator = calibrator
    if hasattr(config, "set_calibration_profile"):
        config.set_calibration_profile(settings.profile)
    return calibrator


def _set_workspace(trt, api, config, workspace_mb):
    workspace_bytes = int(workspace_mb) << 20
    if api["memory_pool"]:
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, workspace_bytes)
    else:
        config.max_workspace_size = workspace_bytes


def _load_timing_cache(config, path, warnings):
    data = b""
    if os.path.exists(path):
        with open(path, "rb") as f:
            data = f.read()
    try:
        cache = config.create_timing_cache(data)
    except (RuntimeError, TypeError, ValueError) as exc:  # pybind11 raises RuntimeError for a bad blob
        warnings.append("timing cache %s unreadable (%s); starting a new one" % (path, exc))
        cache = config.create_timing_cache(b"")
    if not config.set_timing_cache(cache, False):
        warnings.append("timing cache %s does not fit this device; starting a new one" % path)
        config.set_timing_cache(config.create_timing_cache(b""), False)


def _save_timing_cache(config, path):
    cache = config.get_timing_cache()
    if cache is not None:
        write_atomic(path, [bytes(cache.serialize())])


def _build_failure(logger, settings):
    message = "; ".join(logger.errors[-3:]) or "the builder returned no engine and logged no error"
    if _OOM_RE.search(message):
        raise OutOfMemory("TensorRT ran out of memory building batch %d: %s" % (settings.batch, message))
    raise EdgeprofError("TensorRT could not build %s at batch %d: %s; rerun with -v, or try a smaller "
                        "--workspace-mb or batch" % (settings.model_path, settings.batch, message))


def build_engine(trt, api, cuda, settings, warnings):
    """Build a serialized engine for ``settings``.

    Returns:
        (bytes, float): the serialized engine and the build time in seconds.

    Raises:
        OutOfMemory: the builder ran out of memory (its message included).
        InputFileError: the ONNX parser failed (naming the node).
    """
    logger = _make_logger(trt)
    builder = trt.Builder(logger)
    flags = (1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH)) if api["explicit_batch_flag"] else 0
    network = builder.create_network(flags)
    parser = _parse_onnx(trt, api, network, logger, settings.model_path)
    config = builder.create_builder_config()
    _set_workspace(trt, api, config, settings.workspace_mb)
    settings.profile = _add_profile(builder, network, config, settings.batch)
    if settings.layers:
        config.profiling_verbosity = getattr(trt.ProfilingVerbosity, api["layer_verbosity"])
    calibrator = _apply_precision(trt, api, builder, network, config, settings, cuda, warnings)
    if api["timing_cache"]:
        _load_timing_cache(config, settings.timing_cache_file, warnings)
    started = time.monotonic()
    if api["serialized_build"]:
        serialized = builder.build_serialized_network(network, config)
        blob = bytes(serialized) if serialized is not None else None
    else:
        engine = builder.build_engine(network, config)
        blob = bytes(engine.serialize()) if engine is not None else None
    build_seconds = time.monotonic() - started
    if calibrator is not None and calibrator.error is not None:
        raise calibrator.error
    if not blob:
        _build_failure(logger, settings)
    if calibrator is not None and calibrator.batches_used == 0:
        raise InputFileError("--calib-dir gave no full batch of %d images; add images or lower the batch"
                             % settings.batch)
    if api["timing_cache"]:
        _save_timing_cache(config, settings.timing_cache_file)
    del parser
    return blob, build_seconds


# -- the session -----------------------------------------------------------------------------------

class TensorRTSession(Session):
    """One deserialized engine at one batch size, with its buffers, stream and timing events."""

    has_device_time = True

    def __init__(self, trt, api, cuda, engine_blob, batch, facts, layers):
        Session.__init__(self, batch)
        self._trt = trt
        self._api = api
        self._cuda = cuda
        self._facts = facts
        self._layers = layers
        self._closed = False
        self._has_run = False
        self._layer_times = None
        self._logger = _make_logger(trt)
        with cuda.active():
            self._runtime = trt.Runtime(self._logger)
            self._engine = self._runtime.deserialize_cuda_engine(engine_blob)
            if self._engine is None:
                raise EngineLoadError("TensorRT could not load the engine: %s; rerun with --rebuild"
                                      % ("; ".join(self._logger.errors[-2:]) or "no detail"))
            self._context = self._new_context()
            self._tensors = self._bind_tensors(self._context)
            self._bindings = [int(t["device"]) for t in self._tensors]  # binding-index order
            self._stream = cuda.create_stream()
            self._start = cuda.create_event()
            self._end = cuda.create_event()
        self._engine_file_bytes = len(engine_blob)

    # IO -------------------------------------------------------------------------------------
    def _new_context(self):
        context = self._engine.create_execution_context()
        if context is None:
            message = "; ".join(self._logger.errors[-2:]) or "no device memory for the execution context"
            raise OutOfMemory("TensorRT could not create an execution context at batch %d: %s"
                              % (self.batch, message))
        return context

    def _io_list(self):
        """``[(name_or_index, is_input, engine_shape, dtype)]`` of the engine's IO tensors."""
        trt, engine = self._trt, self._engine
        if self._api["named_tensors"]:
            names = [engine.get_tensor_name(i) for i in range(engine.num_io_tensors)]
            return [(n, engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT, tuple(engine.get_tensor_shape(n)),
                     trt.nptype(engine.get_tensor_dtype(n))) for n in names]
        return [(i, engine.binding_is_input(i), tuple(engine.get_binding_shape(i)),
                 trt.nptype(engine.get_binding_dtype(i))) for i in range(engine.num_bindings)]

    def _set_input_shape(self, context, key, shape):
        if self._api["named_tensors"]:
            ok = context.set_input_shape(key, shape)
        else:
            ok = context.set_binding_shape(key, shape)
        if not ok:
            raise EdgeprofError("TensorRT refused input shape %s for %s: %s; rerun with --rebuild"
                                % (tuple(shape), key, "; ".join(self._logger.errors[-2:]) or "no detail"))

    def _context_shape(self, context, key):
        if self._api["named_tensors"]:
            return tuple(context.get_tensor_shape(key))
        return tuple(context.get_binding_shape(key))

    def _bind_tensors(self, context):
        """Set the batch on every input, then allocate pinned host and device buffers for all IO."""
        import numpy
        io = self._io_list()
        for key, is_input, shape, _ in io:
            if is_input:
                self._set_input_shape(context, key, (self.batch,) + shape[1:])
        tensors = []
        for key, is_input, _, dtype in io:
            shape = self._context_shape(context, key)
            host = self._cuda.pinned_empty(shape, dtype)
            if is_input:
                host[...] = numpy.random.random_sample(shape).astype(dtype)
            device = self._cuda.alloc(max(host.nbytes, 1))
            tensors.append({"key": key, "is_input": is_input, "host": host, "device": device})
        self._set_addresses(context, tensors)
        return tensors

    def _set_addresses(self, context, tensors):
        """Named tensors: give the context every buffer address once (bindings go with each enqueue)."""
        if self._api["named_tensors"]:
            for tensor in tensors:
                context.set_tensor_address(tensor["key"], int(tensor["device"]))

    def _enqueue(self, context):
        if self._api["named_tensors"]:
            ok = context.execute_async_v3(self._cuda.stream_handle(self._stream))
        else:
            ok = context.execute_async_v2(self._bindings, self._cuda.stream_handle(self._stream))
        if not ok:
            raise EdgeprofError("TensorRT failed to enqueue the inference: %s"
                                % ("; ".join(self._logger.errors[-2:]) or "no detail"))

    # the Session interface --------------------------------------------------------------------
    def run_impl(self):
        """H2D copies, the enqueue between two timing events, D2H copies, wait for the stream."""
        cuda, stream = self._cuda, self._stream
        with cuda.active():
            for tensor in self._tensors:
                if tensor["is_input"]:
                    cuda.htod_async(tensor["device"], tensor["host"], stream)
            cuda.record(self._start, stream)
            self._enqueue(self._context)
            cuda.record(self._end, stream)
            for tensor in self._tensors:
                if not tensor["is_input"]:
                    cuda.dtoh_async(tensor["host"], tensor["device"], stream)
            cuda.synchronize(stream)
        self._has_run = True

    def gpu_time_ms(self):
        """Device time of the last run's enqueue (CUDA events), like trtexec's GPU Compute Time."""
        if not self._has_run:
            return None
        with self._cuda.active():
            return self._cuda.elapsed_ms(self._start, self._end)

    def memory(self):
        io_bytes = sum(t["host"].nbytes for t in self._tensors)
        engine_bytes = int(getattr(self._engine, self._api["engine_memory_attr"]))
        return {"engine_device_bytes": engine_bytes, "engine_file_bytes": self._engine_file_bytes,
                "io_device_bytes": io_bytes, "runtime_bytes": engine_bytes + io_bytes}

    def describe(self):
        facts = dict(self._facts)
        if self._layers:
            facts.update(self._layer_report())
        return facts

    # per-layer timing (separate runs through an IProfiler) ----------------------------------------
    def _layer_types(self):
        """``{layer name: TensorRT layer type}`` from the engine inspector (8.2+, detailed verbosity)."""
        if not hasattr(self._engine, "create_engine_inspector"):
            return {}
        try:
            inspector = self._engine.create_engine_inspector()
            info = json.loads(inspector.get_engine_information(self._trt.LayerInformationFormat.JSON))
        except (AttributeError, RuntimeError, TypeError, ValueError) as exc:  # layer times still stand
            log.debug("engine inspector unavailable: %s", exc)
            return {}
        types = {}
        for layer in info.get("Layers", []):
            if isinstance(layer, dict) and "Name" in layer:
                types[layer["Name"]] = layer.get("LayerType")
        return types

    def _profile_layers(self):
        trt = self._trt
        totals = {}
        order = []

        class LayerProfiler(trt.IProfiler):
            def __init__(self):
                trt.IProfiler.__init__(self)

            def report_layer_time(self, layer_name, ms):
                if layer_name not in totals:
                    order.append(layer_name)
                    totals[layer_name] = 0.0
                totals[layer_name] += ms

        # On the session's own context: a second one would get no optimization profile (TensorRT
        # gives profile 0 implicitly to the first context only), so its runs would fail.
        context = self._context
        with self._cuda.active():
            context.profiler = LayerProfiler()
            try:
                for _ in range(LAYER_PROFILE_RUNS):
                    if self._api["named_tensors"]:
                        self._enqueue(context)
                        self._cuda.synchronize(self._stream)
                    elif not context.execute_v2(self._bindings):
                        raise EdgeprofError("TensorRT failed to run for the layer profile: %s"
                                            % ("; ".join(self._logger.errors[-2:]) or "no detail"))
            finally:
                context.profiler = None
        return [(name, totals[name] / LAYER_PROFILE_RUNS) for name in order]

    def _layer_report(self):
        """``layer_times_ms`` (name, type, mean_ms, fc) and ``fc_share`` of the summed layer time."""
        if self._layer_times is None:
            try:
                timed = self._profile_layers()
            except EdgeprofError as exc:  # the timed runs still stand
                return {"layer_times_ms": None, "layer_times_error": str(exc)}
            types = self._layer_types()
            self._layer_times = [{"name": name, "type": types.get(name), "mean_ms": round(ms, 6),
                                  "fc": is_fc_layer(name, types.get(name))} for name, ms in timed]
        total = sum(row["mean_ms"] for row in self._layer_times)
        fc = sum(row["mean_ms"] for row in self._layer_times if row["fc"])
        return {"layer_times_ms": self._layer_times, "layer_profile_runs": LAYER_PROFILE_RUNS,
                "fc_share": round(fc / total, 4) if total > 0 else None}

    def close(self):
        """Drop the context, engine, buffers and stream inside the CUDA context; safe twice."""
        if self._closed:
            return
        self._closed = True
        with self._cuda.active():
            self._tensors = []
            self._context = None
            self._engine = None
            self._runtime = None
            self._stream = self._start = self._end = None
        self._cuda.close()


# -- the backend -----------------------------------------------------------------------------------

class TensorRTBackend(Backend):
    """NVIDIA TensorRT through its Python bindings, with pycuda or cuda-python for memory."""

    name = "tensorrt"
    PRECISIONS = ("fp32", "fp16", "int8")
    AUTO_NEEDS_JETSON = True  # auto prefers it on a Jetson; elsewhere ask for it with --backend tensorrt

    @classmethod
    def add_arguments(cls, group):
        group.add_argument("--workspace-mb", type=positive_int, default=DEFAULT_WORKSPACE_MB,
                           help="builder workspace in MiB (%d, sized for a 4 GB board; always set explicitly)"
                                % DEFAULT_WORKSPACE_MB)
        group.add_argument("--calib-dir", help="images for int8 calibration (without: timing-only int8)")
        group.add_argument("--layers", action="store_true", help="also time each layer (separate run)")
        group.add_argument("--engine-cache", default=DEFAULT_CACHE_DIR,
                           help="engine cache folder (default %s)" % DEFAULT_CACHE_DIR)
        group.add_argument("--rebuild", action="store_true", help="rebuild engines even when cached")

    @classmethod
    def options(cls, args):
        recorded = {"workspace_mb": args.workspace_mb, "calib_dir": args.calib_dir, "layers": args.layers}
        return recorded, {"cache_dir": os.path.expanduser(args.engine_cache), "rebuild": args.rebuild}

    def device(self, options):
        return "cuda"

    def unavailable_reason(self):
        try:
            _import_trt()
        except (ImportError, OSError) as exc:
            return ("TensorRT Python bindings not importable (%s); on a Jetson install python3-libnvinfer "
                    "(JetPack: sudo apt-get install python3-libnvinfer), elsewhere use --backend onnxruntime"
                    % exc)
        return cuda_layer.available()

    def version(self):
        return _import_trt().__version__

    def open(self, model_path, batch, precision, options):
        """Build or load the engine for ``batch`` at ``precision`` and open a session on it.

        Args:
            model_path (str): ONNX file with a dynamic batch axis.
            batch (int): images per inference.
            precision (str): 'fp32', 'fp16' or 'int8'.
            options (dict): workspace_mb, calib_dir, rebuild, layers, cache_dir, model_sha256.

        Returns:
            TensorRTSession
        """
        options = options or {}
        self.check_precision(precision)
        if not os.path.isfile(model_path):
            raise InputFileError("model file %s not found; run edgeprof export first" % model_path)
        trt = _import_trt()
        api = detect_api(trt)
        cuda = cuda_layer.open_layer()
        try:
            return self._open(trt, api, cuda, model_path, batch, precision, options)
        except BaseException:
            cuda.close()
            raise

    def _open(self, trt, api, cuda, model_path, batch, precision, options):
        workspace_mb = int(options.get("workspace_mb") or DEFAULT_WORKSPACE_MB)
        layers = bool(options.get("layers"))
        cache_dir = os.path.expanduser(options.get("cache_dir") or DEFAULT_CACHE_DIR)
        os.makedirs(cache_dir, exist_ok=True)
        gpu_name, capability = cuda.device_name(), cuda.compute_capability()
        calib_paths, calibration = None, None
        if precision == "int8":
            if options.get("calib_dir"):
                calib_paths = tensorrt_calib.calibration_files(options["calib_dir"])
                calibration = "entropy2 over %d files from %s (%s)" % (
                    len(calib_paths), options["calib_dir"], tensorrt_calib.fingerprint(calib_paths))
            else:
                calibration = PLACEHOLDER_INT8_NOTE
        fields = cache_fields(options.get("model_sha256") or sha256_file(model_path), trt.__version__, gpu_name,
                              capability, precision, batch, workspace_mb, calibration, layers)
        key = cache_key(fields)
        path = engine_path(cache_dir, fields, key)
        settings = BuildSettings(model_path, batch, precision, workspace_mb, calib_paths, layers,
                                 timing_cache_path(cache_dir, trt.__version__, gpu_name, capability))
        warnings = []
        blob, build_seconds, cache_hit = self._engine_blob(trt, api, cuda, settings, path, key, fields,
                                                           bool(options.get("rebuild")), warnings)
        facts = {
            "tensorrt_version": trt.__version__, "cuda_version": cuda.cuda_version(), "cuda_layer": cuda.name,
            "gpu_name": gpu_name, "compute_capability": capability, "workspace_mb": workspace_mb,
            "precision": precision, "int8_calibration": calibration, "build_seconds": build_seconds,
            "cache_key": key, "cache_hit": cache_hit, "engine_file": path, "api": api["name"],
            "timing_cache": settings.timing_cache_file if api["timing_cache"] else TIMING_CACHE_UNAVAILABLE,
            "warnings": warnings,
        }
        try:
            session = TensorRTSession(trt, api, cuda, blob, batch, facts, layers)
        except EngineLoadError as exc:
            if not cache_hit:
                raise
            log.warning("engine cache %s could not be loaded (%s); rebuilding", path, exc)
            blob, build_seconds, _ = self._engine_blob(trt, api, cuda, settings, path, key, fields, True, warnings)
            facts.update({"build_seconds": build_seconds, "cache_hit": False})
            session = TensorRTSession(trt, api, cuda, blob, batch, facts, layers)
        for warning in warnings:
            log.warning("tensorrt: %s", warning)
        return session

    def _engine_blob(self, trt, api, cuda, settings, path, key, fields, rebuild, warnings):
        """The serialized engine from the cache, or built (and cached) when missing, stale or forced.

        Returns:
            (bytes, float, bool): engine, build seconds (of the original build on a hit), cache hit.
        """
        blob, header = (None, "--rebuild asked") if rebuild else read_cached_engine(path, key, fields)
        if blob is not None:
            return blob, header.get("build_seconds"), True
        if os.path.exists(path):
            log.info("engine cache %s: %s; rebuilding", path, header)
        with cuda.active():
            blob, build_seconds = build_engine(trt, api, cuda, settings, warnings)
        write_cached_engine(path, key, fields, blob, build_seconds)
        return blob, build_seconds, False
