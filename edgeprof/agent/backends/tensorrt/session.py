"""A TensorRT session: one deserialized engine at one batch size, its IO buffers, execution and layer times.

IO goes through binding indices (``v8.2-bindings``) or named tensors (``v10-named-tensors``), as
:func:`api.detect_api` decided. Every CUDA call happens inside the CUDA layer's ``active()``, so a
session opened in one thread may run in another (with pycuda, close it in the thread that opened it:
see :mod:`.cuda`). TensorRT objects are created and dropped inside ``active()`` too, also when opening
fails half-way. With ``--layers`` the session also times each layer, in separate runs through an
IProfiler.

Device times, as trtexec's (``samples/common/sampleInference.cpp`` records an event before and after
each of H2D, compute and D2H, and ``sampleReporting.cpp`` reports them as H2D Latency, GPU Compute
Time, D2H Latency and, summed, Latency): each run records four CUDA events on its stream (H2D start,
compute start, compute end, D2H end) and the host time of the enqueue call (trtexec's Enqueue
Time). The events of a timed window come from a ring allocated before the window
(:meth:`TensorRTSession.start_device_window`) and are read after it (:meth:`device_times`), so
the window does nothing per run for them but record; a window that outruns the ring reads its
oldest events before reusing them, and says how many (``device_times_read_in_window``).
"""
import time

from edgeprof.agent.backends.base import Session
from edgeprof.agent.backends.tensorrt import interrupts, layers
from edgeprof.agent.backends.tensorrt.dtypes import numpy_dtype
from edgeprof.errors import BackendError, EdgeprofError, EngineLoadError, OutOfMemory

LAYER_PROFILE_RUNS = 20
RING_MAX_RUNS = 65536  # event quadruples kept at most (4 CUDA events each) for one window
RING_MIN_RUNS = 256    # at least this many: a warm-up of one slow first run would otherwise size it too small
DEVICE_TIMING = ("4 CUDA events per run on its stream (H2D start, compute start, compute end, D2H end) read "
                 "after the window; enqueue = host time of the execute_async call")
RUNTIME_BYTES_BASIS = ("runtime_bytes = engine_device_bytes (activations) + engine_file_bytes (the plan, about the "
                       "weights the engine keeps on the device) + io_device_bytes; device_free_delta_bytes is "
                       "measured: free device memory before deserialization less after the IO buffers")


class TensorRTSession(Session):
    """One deserialized engine at one batch size, with its buffers, stream and timing events."""

    has_device_time = True

    def __init__(self, trt, api, cuda, logger, capture, engine_blob, batch, facts, layers):
        """Deserialize ``engine_blob`` and allocate its IO; on failure, free what was made and raise.

        Args:
            logger: the process's TensorRT logger; capture (logger.LogCapture): this open's messages.
        """
        Session.__init__(self, batch)
        self._trt = trt
        self._api = api
        self._cuda = cuda
        self._logger = logger
        self._capture = capture
        self._facts = facts
        self._layers = layers
        self._layer_times = None
        self._engine_file_bytes = memoryview(engine_blob).nbytes
        self._tensors = []
        with cuda.active():
            try:
                self._open(engine_blob)
            except BaseException:
                self._release()
                raise

    def _open(self, engine_blob):
        cuda, trt = self._cuda, self._trt
        free_before = cuda.free_device_bytes()
        self._runtime = trt.Runtime(self._logger)
        self._engine = self._runtime.deserialize_cuda_engine(engine_blob)
        if self._engine is None:
            raise EngineLoadError("TensorRT could not load the engine: %s; rerun with --rebuild"
                                  % self._capture.detail())
        self._context = self._new_context()
        self._tensors = self._bind_tensors(self._context)
        self._bindings = [int(t["device"]) for t in self._tensors]  # binding-index order
        self._inputs = [t for t in self._tensors if t["is_input"]]
        self._outputs = [t for t in self._tensors if not t["is_input"]]
        self._stream = cuda.create_stream()
        self._ring = []
        self._grow_ring(1)  # the warm-up reuses one slot; start_device_window sizes the ring
        self._window = None
        self._device_free_before = free_before
        self._device_free_delta = free_before - cuda.free_device_bytes()

    def _release(self):
        """Drop the TensorRT objects and CUDA stream and events (inside the CUDA context)."""
        self._tensors = self._inputs = self._outputs = []
        self._context = None
        self._engine = None
        self._runtime = None
        self._stream = None
        self._ring = []

    # IO -------------------------------------------------------------------------------------
    def _new_context(self):
        context = self._engine.create_execution_context()
        if context is None:
            raise OutOfMemory("TensorRT could not create an execution context at batch %d: %s"
                              % (self.batch, self._capture.detail(default="no device memory for the "
                                                                          "execution context")))
        return context

    def _io_list(self):
        """``[(name_or_index, name, is_input, engine_shape, numpy dtype)]`` of the engine's IO tensors.

        Plain loops: a comprehension would hold the engine in a closure cell that a traceback keeps.
        """
        trt, engine = self._trt, self._engine
        io = []
        if self._api.named_tensors:
            for i in range(engine.num_io_tensors):
                name = engine.get_tensor_name(i)
                io.append((name, name, engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT,
                           tuple(engine.get_tensor_shape(name)), numpy_dtype(trt, engine.get_tensor_dtype(name), name)))
            return io
        for i in range(engine.num_bindings):
            name = engine.get_binding_name(i)
            io.append((i, name, engine.binding_is_input(i), tuple(engine.get_binding_shape(i)),
                       numpy_dtype(trt, engine.get_binding_dtype(i), name)))
        return io

    def _set_input_shape(self, context, key, shape):
        if self._api.named_tensors:
            ok = context.set_input_shape(key, shape)
        else:
            ok = context.set_binding_shape(key, shape)
        if not ok:
            raise BackendError("TensorRT refused input shape %s for %s: %s; rerun with --rebuild"
                               % (tuple(shape), key, self._capture.detail()))

    def _context_shape(self, context, key):
        if self._api.named_tensors:
            return tuple(context.get_tensor_shape(key))
        return tuple(context.get_binding_shape(key))

    def _bind_tensors(self, context):
        """Set the batch on every input, then allocate pinned host and device buffers for all IO."""
        import numpy
        io = self._io_list()
        for key, _, is_input, shape, _ in io:
            if is_input:
                self._set_input_shape(context, key, (self.batch,) + shape[1:])
        tensors = []
        for key, name, is_input, _, dtype in io:
            shape = self._context_shape(context, key)
            host = self._cuda.pinned_empty(shape, dtype)
            if is_input:
                host[...] = numpy.random.random_sample(shape).astype(dtype)
            device = self._cuda.alloc(max(host.nbytes, 1))
            tensors.append({"key": key, "name": name, "is_input": is_input, "host": host, "device": device})
        self._set_addresses(context, tensors)
        return tensors

    def _set_addresses(self, context, tensors):
        """Named tensors: give the context every buffer address once (bindings go with each enqueue)."""
        if self._api.named_tensors:
            for tensor in tensors:
                if not context.set_tensor_address(tensor["key"], int(tensor["device"])):
                    raise BackendError("TensorRT refused the device address of IO tensor %r: %s"
                                       % (tensor["name"], self._capture.detail()))

    def _enqueue(self, context):
        if self._api.named_tensors:
            ok = context.execute_async_v3(self._cuda.stream_handle(self._stream))
        else:
            ok = context.execute_async_v2(self._bindings, self._cuda.stream_handle(self._stream))
        if not ok:
            raise BackendError("TensorRT failed to enqueue the inference: %s" % self._capture.detail())

    # device timing: a ring of event quadruples --------------------------------------------------
    def _grow_ring(self, runs):
        """Have event quadruples for ``runs`` runs (call inside ``active()``)."""
        create = self._cuda.create_event
        while len(self._ring) < runs:
            self._ring.append((create(), create(), create(), create()))

    def _slot(self):
        """The events of this run; the oldest window run's times are read first when the ring is full."""
        window = self._window
        if window is None:  # warm-up or a run outside a window: reuse, never read
            return self._ring[0]
        ring, run = self._ring, window["runs"]
        window["runs"] = run + 1
        if run >= len(ring):
            self._read(ring[run % len(ring)], window)
            window["read_early"] += 1
        return ring[run % len(ring)]

    def _read(self, events, window):
        elapsed = self._cuda.elapsed_ms
        window["h2d_ms"].append(elapsed(events[0], events[1]))
        window["compute_ms"].append(elapsed(events[1], events[2]))
        window["d2h_ms"].append(elapsed(events[2], events[3]))

    def start_device_window(self, expected_runs):
        """Allocate events for about ``expected_runs`` runs (at most RING_MAX_RUNS), before the window."""
        with self._cuda.active():
            self._grow_ring(min(max(int(expected_runs), RING_MIN_RUNS), RING_MAX_RUNS))
        self._window = {"runs": 0, "read_early": 0, "h2d_ms": [], "compute_ms": [], "d2h_ms": [], "enqueue_s": []}

    def device_times(self):
        """The window's per-run H2D, GPU compute, D2H and enqueue times in ms, read now (after the window)."""
        window, self._window = self._window, None
        if window is None:
            return {}
        ring = self._ring
        with self._cuda.active():
            for run in range(max(0, window["runs"] - len(ring)), window["runs"]):
                self._read(ring[run % len(ring)], window)
        self._facts["device_times_read_in_window"] = window["read_early"]
        return {"h2d_ms": window["h2d_ms"], "compute_ms": window["compute_ms"], "d2h_ms": window["d2h_ms"],
                "enqueue_ms": [s * 1000.0 for s in window["enqueue_s"]]}

    # the Session interface --------------------------------------------------------------------
    def run_impl(self):
        """Event, H2D copies, event, the enqueue (timed on the host), event, D2H copies, event; wait on the last."""
        cuda, stream, perf = self._cuda, self._stream, time.perf_counter
        with cuda.active():
            events = self._slot()
            cuda.record(events[0], stream)
            for tensor in self._inputs:
                cuda.htod_async(tensor["device"], tensor["host"], stream)
            cuda.record(events[1], stream)
            t0 = perf()
            self._enqueue(self._context)
            t1 = perf()
            cuda.record(events[2], stream)
            for tensor in self._outputs:
                cuda.dtoh_async(tensor["host"], tensor["device"], stream)
            cuda.record(events[3], stream)
            cuda.wait(events[3])
        if self._window is not None:  # outside a window (warm-up) nobody reads it: keep nothing
            self._window["enqueue_s"].append(t1 - t0)

    def infer(self, images):
        """Run one inference on ``images`` and return a copy of the first output (``edgeprof accuracy``).

        ``images`` has the shape of the engine's one input at this session's batch (the accuracy runner
        pads a partial last batch); it is cast into the input's pinned host buffer, and :meth:`run_impl`
        copies it in, runs and copies the outputs back.
        """
        if len(self._inputs) != 1:
            raise BackendError("the engine has %d inputs; edgeprof accuracy feeds engines with one" % len(self._inputs))
        host = self._inputs[0]["host"]
        if tuple(images.shape) != tuple(host.shape):
            raise BackendError("images of shape %s do not fit the engine's input %s at batch %d"
                               % (tuple(images.shape), tuple(host.shape), self.batch))
        host[...] = images
        self.run_impl()
        return self._outputs[0]["host"].copy()

    def memory(self):
        io_bytes = sum(t["host"].nbytes for t in self._tensors)
        engine_bytes = int(getattr(self._engine, self._api.engine_memory_attr))
        return {"engine_device_bytes": engine_bytes, "engine_file_bytes": self._engine_file_bytes,
                "io_device_bytes": io_bytes, "runtime_bytes": engine_bytes + self._engine_file_bytes + io_bytes,
                "device_free_delta_bytes": self._device_free_delta}

    def describe(self):
        facts = dict(self._facts, runtime_bytes_basis=RUNTIME_BYTES_BASIS, device_timing=DEVICE_TIMING,
                     device_free_before_bytes=self._device_free_before)
        if self._layers:
            facts.update(self._layer_report())
        return facts

    # per-layer timing (separate runs through an IProfiler) ----------------------------------------
    def _profile_layers(self):
        trt = self._trt
        totals = {}
        order = []
        failures = []

        class LayerProfiler(trt.IProfiler):
            def __init__(self):
                trt.IProfiler.__init__(self)

            def report_layer_time(self, layer_name, ms):
                try:
                    if layer_name not in totals:
                        order.append(layer_name)
                        totals[layer_name] = 0.0
                    totals[layer_name] += ms
                except BaseException as exc:  # nothing may escape into TensorRT (noexcept on 8.2)
                    failures.append(exc)

        # On the session's own context: a second one would get no optimization profile (TensorRT
        # gives profile 0 implicitly to the first context only), so its runs would fail.
        context = self._context
        with self._cuda.active(), interrupts.deferred():
            context.profiler = LayerProfiler()
            try:
                for _ in range(LAYER_PROFILE_RUNS):
                    if self._api.named_tensors:
                        self._enqueue(context)
                        self._cuda.synchronize(self._stream)
                    elif not context.execute_v2(self._bindings):
                        raise BackendError("TensorRT failed to run for the layer profile: %s"
                                           % self._capture.detail())
            finally:
                context.profiler = None
        if failures:
            raise failures[0]
        return [(name, totals[name] / LAYER_PROFILE_RUNS) for name in order]

    def _layer_report(self):
        """``layer_times_ms`` (name, type, parameter_type, mean_ms, fc) and ``fc_share`` of the summed layer time."""
        if self._layer_times is None:
            try:
                timed = self._profile_layers()
            except EdgeprofError as exc:  # the timed runs still stand
                return {"layer_times_ms": None, "layer_times_error": str(exc)}
            with self._cuda.active():
                entries = layers.inspector_layers(self._trt, self._engine)
            self._layer_times = layers.layer_rows(timed, entries)
        return {"layer_times_ms": self._layer_times, "layer_profile_runs": LAYER_PROFILE_RUNS,
                "fc_share": layers.fc_share(self._layer_times), "fc_rule": layers.FC_RULE}

    def close_impl(self):
        """Drop the context, engine, buffers and stream inside the CUDA context, then close the layer.

        Best effort: where the context cannot be made current (a sticky error) they are dropped anyway,
        and the layer is closed whatever happened.
        """
        try:
            with self._cuda.active():
                self._release()
        finally:
            self._release()
            self._cuda.close()
        interrupts.raise_pending()  # one the logger caught while the session ran (outside a deferral)
