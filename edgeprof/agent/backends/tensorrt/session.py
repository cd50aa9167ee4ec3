"""A TensorRT session: one deserialized engine at one batch size, its IO buffers, execution and layer times.

IO goes through binding indices (``v8.2-bindings``) or named tensors (``v10-named-tensors``), as
:func:`api.detect_api` decided. Every CUDA call happens inside the CUDA layer's ``active()``, so a
session opened in one thread may run in another. With ``--layers`` the session also times each
layer, in separate runs through an IProfiler.
"""
import json
import logging
import re

from edgeprof.agent.backends.base import Session
from edgeprof.agent.backends.tensorrt.api import make_logger
from edgeprof.errors import BackendError, EdgeprofError, EngineLoadError, OutOfMemory

log = logging.getLogger("edgeprof.tensorrt")

LAYER_PROFILE_RUNS = 20
_FC_NAME_RE = re.compile(r"gemm|matmul|(^|[^a-z])fc", re.IGNORECASE)
_FC_TYPES = ("FullyConnected", "MatrixMultiply")


def is_fc_layer(name, layer_type):
    """Whether a layer counts as fully connected for ``fc_share`` (name or TensorRT layer type)."""
    return bool(_FC_NAME_RE.search(name or "")) or (layer_type or "") in _FC_TYPES


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
        self._has_run = False
        self._layer_times = None
        self._logger = make_logger(trt)
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
        if self._api.named_tensors:
            names = [engine.get_tensor_name(i) for i in range(engine.num_io_tensors)]
            return [(n, engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT, tuple(engine.get_tensor_shape(n)),
                     trt.nptype(engine.get_tensor_dtype(n))) for n in names]
        return [(i, engine.binding_is_input(i), tuple(engine.get_binding_shape(i)),
                 trt.nptype(engine.get_binding_dtype(i))) for i in range(engine.num_bindings)]

    def _set_input_shape(self, context, key, shape):
        if self._api.named_tensors:
            ok = context.set_input_shape(key, shape)
        else:
            ok = context.set_binding_shape(key, shape)
        if not ok:
            raise BackendError("TensorRT refused input shape %s for %s: %s; rerun with --rebuild"
                               % (tuple(shape), key, "; ".join(self._logger.errors[-2:]) or "no detail"))

    def _context_shape(self, context, key):
        if self._api.named_tensors:
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
        if self._api.named_tensors:
            for tensor in tensors:
                context.set_tensor_address(tensor["key"], int(tensor["device"]))

    def _enqueue(self, context):
        if self._api.named_tensors:
            ok = context.execute_async_v3(self._cuda.stream_handle(self._stream))
        else:
            ok = context.execute_async_v2(self._bindings, self._cuda.stream_handle(self._stream))
        if not ok:
            raise BackendError("TensorRT failed to enqueue the inference: %s"
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
        engine_bytes = int(getattr(self._engine, self._api.engine_memory_attr))
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
                    if self._api.named_tensors:
                        self._enqueue(context)
                        self._cuda.synchronize(self._stream)
                    elif not context.execute_v2(self._bindings):
                        raise BackendError("TensorRT failed to run for the layer profile: %s"
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

    def close_impl(self):
        """Drop the context, engine, buffers and stream inside the CUDA context (once: see Session.close)."""
        with self._cuda.active():
            self._tensors = []
            self._context = None
            self._engine = None
            self._runtime = None
            self._stream = self._start = self._end = None
        self._cuda.close()
