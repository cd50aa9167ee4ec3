"""TensorRT backend: build (or load from cache) an engine per batch size, run it, time it.

One engine per (model, batch, precision), built with the workspace always set and kept in an
engine cache folder with a timing cache per device. The package, in the style of Polygraphy's
``backend/trt/``:

- :mod:`.api`: the TensorRT names used, as data, and :func:`detect_api` (the one place that looks
  at version differences: ``v8.2-bindings`` for 7.1-8.4, ``v10-named-tensors`` for 8.5-11);
- :mod:`.cache`: the engine cache file format, key and paths, and the timing cache path;
- :mod:`.build`: :class:`build.Engines`, which loads an engine from the cache or builds it (parse,
  optimisation profile, precision, workspace, timing cache);
- :mod:`.calibrator`: int8 calibration files and the calibrator fed from them;
- :mod:`.session`: :class:`session.TensorRTSession` (IO binding, execution, per-layer times), with
  :mod:`.dtypes` (TensorRT types to numpy) and :mod:`.layers` (inspector entries, which layers are FC);
- :mod:`.logger`: the one TensorRT logger per process and each open's capture of it;
- :mod:`.interrupts`: Ctrl-C and SIGTERM held while TensorRT runs Python callbacks;
- :mod:`.cuda`: the CUDA layer (pycuda or cuda-python);
- here: :class:`TensorRTBackend` (flags, availability, and the cache-or-build-then-retry policy).

When opening fails, the TensorRT objects the exception's traceback still holds are freed inside the
CUDA context before the layer closes (pycuda's ``detach`` destroys the context; TensorRT's destructors
free device memory in whatever context is current), and closing the layer cannot hide the error.

Only the stdlib, numpy and edgeprof are imported at module level: ``tensorrt``, pycuda and
cuda-python are imported inside functions, so the agent imports without them.
"""
import importlib
import logging
import os

from edgeprof.agent.backends.base import Backend
from edgeprof.agent.backends.tensorrt import build, cache, calibrator, interrupts
from edgeprof.agent.backends.tensorrt import cuda as cuda_layer
from edgeprof.agent.backends.tensorrt.api import (  # noqa: F401 - re-exported for the name tests and tools
    COMMON_NAMES,
    FEATURES,
    OPTIONAL_NAMES,
    PATH_NAMES,
    PATH_VERSIONS,
    PRECISION_NAMES,
    PRECISION_VERSIONS,
    TIMING_CACHE_UNAVAILABLE,
    Api,
    detect_api,
)
from edgeprof.agent.backends.tensorrt.build import PLACEHOLDER_INT8_NOTE, BuildSettings, Engines
from edgeprof.agent.backends.tensorrt.cache import DEFAULT_CACHE_DIR
from edgeprof.agent.backends.tensorrt.session import TensorRTSession
from edgeprof.argtypes import positive_int
from edgeprof.errors import EngineLoadError, InputFileError
from edgeprof.records.files import sha256_file

log = logging.getLogger("edgeprof.tensorrt")

DEFAULT_WORKSPACE_MB = 1024  # fits next to the model and the OS on a 4 GB Jetson (Nano, TX1)


def _import_trt():
    return importlib.import_module("tensorrt")


def _calibration(precision, calib_dir):
    """``(calibration files or None, what the profile records as int8_calibration)``."""
    if precision != "int8":
        return None, None
    if not calib_dir:
        return None, PLACEHOLDER_INT8_NOTE
    paths = calibrator.calibration_files(calib_dir)
    return paths, "entropy2 over %d files from %s (%s)" % (len(paths), calib_dir, calibrator.fingerprint(paths))


class TensorRTBackend(Backend):
    """NVIDIA TensorRT through its Python bindings, with pycuda or cuda-python for memory."""

    name = "tensorrt"
    PRECISIONS = ("fp32", "fp16", "int8")
    OOM_MARKERS = build.OOM_MARKERS
    AUTO_NEEDS_JETSON = True  # auto prefers it on a Jetson; elsewhere ask for it with --backend tensorrt

    @classmethod
    def add_arguments(cls, group):
        group.add_argument("--workspace-mb", type=positive_int, default=DEFAULT_WORKSPACE_MB,
                           help="builder workspace in MiB (%d, sized for a 4 GB board; always set explicitly)"
                                % DEFAULT_WORKSPACE_MB)
        group.add_argument("--calib-dir", help="images for int8 calibration (without: timing-only int8)")
        group.add_argument("--engine-cache", default=DEFAULT_CACHE_DIR,
                           help="engine cache folder (default %s)" % DEFAULT_CACHE_DIR)
        group.add_argument("--rebuild", action="store_true", help="rebuild engines even when cached")
        group.add_argument("--cuda-sync", choices=cuda_layer.SYNC_MODES, default="blocking",
                           help="how the host waits for the GPU: blocking (default, as trtexec: the thread "
                                "sleeps) or spin (as trtexec --useSpinWait: a core busy-waits, which adds to "
                                "the power measured)")

    @classmethod
    def options(cls, args):
        """``layers`` comes from the common ``sweep --layers`` (edgeprof/commands/sweep.py)."""
        recorded = {"workspace_mb": args.workspace_mb, "calib_dir": args.calib_dir, "layers": args.layers,
                    "cuda_sync": args.cuda_sync}
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
        return cuda_layer.unavailable_reason()

    def version(self):
        return _import_trt().__version__

    def open(self, model_path, batch, precision, options):
        """Build or load the engine for ``batch`` at ``precision`` and open a session on it.

        Args:
            model_path (str): ONNX file with a dynamic batch axis.
            batch (int): images per inference.
            precision (str): 'fp32', 'fp16' or 'int8'.
            options (dict): workspace_mb, calib_dir, rebuild, layers, cuda_sync, cache_dir, model_sha256.

        Returns:
            TensorRTSession
        """
        options = options or {}
        self.check_precision(precision)
        if not os.path.isfile(model_path):
            raise InputFileError("model file %s not found; run edgeprof export first" % model_path)
        trt = _import_trt()
        api = detect_api(trt)
        cuda = cuda_layer.open_layer(options.get("cuda_sync") or "blocking")
        session = None
        try:
            with interrupts.deferred():  # TensorRT calls Python back throughout: hold Ctrl-C/SIGTERM until it returns
                session = self._open(Engines(trt, api, cuda), model_path, batch, precision, options)
        except BaseException as exc:
            if session is not None:  # opened, then the held interrupt was delivered
                session.close()
                raise
            cuda_layer.free_exception_frames(cuda, exc)
            cuda_layer.close_quietly(cuda)
            interrupts.raise_pending()  # Ctrl-C while it failed: stop, rather than record the failure
            raise
        return session

    def _open(self, engines, model_path, batch, precision, options):
        trt, api, cuda = engines.trt, engines.api, engines.cuda
        workspace_mb = int(options.get("workspace_mb") or DEFAULT_WORKSPACE_MB)
        layers = bool(options.get("layers"))
        cache_dir = os.path.expanduser(options.get("cache_dir") or DEFAULT_CACHE_DIR)
        os.makedirs(cache_dir, exist_ok=True)
        gpu_name, capability = cuda.device_name(), cuda.compute_capability()
        calib_paths, calibration = _calibration(precision, options.get("calib_dir"))
        fields = cache.cache_fields(options.get("model_sha256") or sha256_file(model_path), trt.__version__,
                                    gpu_name, capability, precision, batch, workspace_mb, calibration, layers)
        engine_file = cache.engine_file(cache_dir, fields)
        settings = BuildSettings(model_path, batch, precision, workspace_mb, calib_paths, layers,
                                 cache.timing_cache_path(cache_dir, trt.__version__, gpu_name, capability),
                                 engine_file)
        blob, built, cache_hit = engines.load_or_build(settings, bool(options.get("rebuild")))
        facts = {
            "tensorrt_version": trt.__version__, "cuda_version": cuda.cuda_version(),
            "cuda_version_kind": cuda.cuda_version_kind, "cuda_driver_version": cuda.driver_version(),
            "cuda_layer": cuda.name, "cuda_sync": cuda.sync, "gpu_name": gpu_name, "compute_capability": capability,
            "workspace_mb": workspace_mb, "precision": precision, "cache_key": engine_file.key,
            "engine_file": engine_file.path, "api": api.name,
            "timing_cache": settings.timing_cache_file if api.timing_cache else TIMING_CACHE_UNAVAILABLE,
        }
        _add_build_facts(facts, built, cache_hit, calibration, engines.warnings)
        try:
            return self._session(engines, blob, batch, facts, layers)
        except EngineLoadError as exc:
            if not cache_hit:
                raise
            reason = str(exc)
            cuda_layer.free_exception_frames(cuda, exc)  # the half-made session goes before the rebuild
        blob = None  # the cached plan too
        log.warning("engine cache %s could not be loaded (%s); rebuilding", engine_file.path, reason)
        blob, built, _ = engines.load_or_build(settings, True)
        _add_build_facts(facts, built, False, calibration, engines.warnings)
        return self._session(engines, blob, batch, facts, layers)

    def _session(self, engines, blob, batch, facts, layers):
        session = TensorRTSession(engines.trt, engines.api, engines.cuda, engines.trt_logger, engines.capture, blob,
                                  batch, facts, layers)
        for warning in facts["warnings"]:
            log.warning("tensorrt: %s", warning)
        return session


def _add_build_facts(facts, built, cache_hit, calibration, warnings):
    """Put what the build found (or the cache kept of it) into the profile's ``facts``."""
    facts.update({
        "build_seconds": built["seconds"], "cache_hit": cache_hit, "tf32": built["tf32"],
        "int8_calibration": built["int8_calibration"] or calibration,
        "warnings": list(warnings) + list(built["warnings"]),
    })
