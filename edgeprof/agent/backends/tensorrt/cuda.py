"""The CUDA layer of the TensorRT backend: device memory, a stream, timing events.

Two implementations with one small interface, chosen in :func:`open_layer` (which raises
:class:`BackendUnavailable` with :func:`unavailable_reason` when neither imports):

- pycuda (the JetPack 4 habit): a context is created explicitly for device 0 and popped
  at once; every use pushes it onto the calling thread and pops it again (:meth:`active`),
  so the sweep may open a session in one thread and run it in another without pycuda's
  "invalid device context" errors. ``close`` detaches the context, and must run in the thread
  that opened the layer: pycuda's ``context::detach()`` (``src/cpp/cuda.hpp``) does nothing from
  another thread, and the context leaks (``close`` logs a warning then).
- cuda-python (``cuda.bindings.runtime``, or ``cuda.cudart`` in cuda-python < 12.6): the
  runtime API's primary context; :meth:`active` selects the device in the calling thread.

Both give buffers as integer device pointers and host arrays in page-locked memory, so
copies are truly asynchronous and TensorRT gets plain addresses.

How the host waits for the GPU (``sync``, recorded as ``cuda_sync``): ``blocking`` (the default, as
trtexec's: its events are created with ``cudaEventBlockingSync`` unless ``--useSpinWait``,
TensorRT ``samples/common/sampleDevice.h`` ``TrtCudaEvent``) sleeps the waiting thread until the GPU
signals; ``spin`` busy-waits, which can shave microseconds off a wait but keeps a CPU core at full
load, and so adds to the board's power. The host waits on an event, never on the stream, so the
context's own scheduling policy (``CU_CTX_SCHED_AUTO`` spins whenever contexts <= cores) does not
decide it; pycuda's context is also made with the matching ``SCHED_BLOCKING_SYNC``/``SCHED_SPIN``. ``close`` is best effort: after
a sticky CUDA error (illegal address, launch timeout) every call fails, and a failed release is
logged, never raised, so it cannot hide the error that ended the run. pycuda and cuda-python are
imported lazily, inside these functions only.
"""
import contextlib
import ctypes
import importlib
import logging
import threading

from edgeprof.errors import BackendError, BackendUnavailable, OutOfMemory
from edgeprof.util import one_line, text_of

log = logging.getLogger("edgeprof.tensorrt")
SYNC_MODES = ("blocking", "spin")

# cuda-python's major version follows CUDA's, and 12.x needs a CUDA 12 driver (>= 525.60).
INSTALL_HINT = ("install pycuda (JetPack 4: sudo apt-get install python3-pycuda, or pip3 install pycuda) "
                "or cuda-python for your CUDA (JetPack 5, CUDA 11.4: pip3 install 'cuda-python==11.8.*'; "
                "JetPack 6, CUDA 12: pip3 install 'cuda-python>=12,<13')")


def _clear_callers(frame):
    """Drop the locals of ``frame`` and of its callers, up to the first one still running."""
    while frame is not None:
        try:
            frame.clear()
        except RuntimeError:  # still running (the caller of free_exception_frames, and above it)
            return
        frame = frame.f_back


def _clear_frames(exc):
    """Drop the locals of every finished frame the tracebacks of ``exc`` and the exceptions it chains reach.

    That includes the callers of each traceback frame: an exception a TensorRT callback caught and kept
    (the calibrator's) has a traceback from the callback down, whose caller is the frame that called
    TensorRT, with the builder in its locals.
    """
    pending, seen = [exc], set()
    while pending:
        exc = pending.pop()
        if exc is None or id(exc) in seen:
            continue
        seen.add(id(exc))
        tb = exc.__traceback__
        while tb is not None:
            _clear_callers(tb.tb_frame)
            tb = tb.tb_next
        pending.extend((exc.__cause__, exc.__context__))


def free_exception_frames(layer, exc):
    """Free the TensorRT objects the traceback of ``exc`` still holds, inside ``layer``'s CUDA context.

    Their destructors free device memory and handles in the current context, so they must run before
    the context goes (pycuda's ``detach`` destroys it), not when the sweep drops the exception.
    """
    try:
        with layer.active():
            _clear_frames(exc)
    except Exception as error:  # noqa: BLE001 - an unusable context (a sticky error): free them anyway
        log.debug("freeing after %s outside the CUDA context (%s)", type(exc).__name__, one_line(error))
        _clear_frames(exc)


def close_quietly(layer):
    """``layer.close()``, logging (never raising) a failure: the caller is handling another error."""
    try:
        layer.close()
    except Exception as error:  # noqa: BLE001 - must not replace the error being raised
        log.warning("closing the CUDA layer %s failed: %s", layer.name, one_line(error))


def _release_all(what, releases):
    """Call each ``release()`` of ``releases``; log each failure and go on."""
    for release in releases:
        try:
            release()
        except Exception as error:  # noqa: BLE001 - best effort: free what can be freed
            log.warning("%s: a CUDA release failed: %s", what, one_line(error))


def _import_cudart():
    """The cuda-python runtime module, new path first; raises ImportError when absent."""
    try:
        return importlib.import_module("cuda.bindings.runtime")
    except ImportError:
        return importlib.import_module("cuda.cudart")


def _find_layer():
    """``(layer class, module)`` of the first CUDA layer that imports (pycuda, then cuda-python), else
    ``(None, reason)`` with one line naming both failures and how to install either."""
    reasons = []
    try:
        return PyCudaLayer, importlib.import_module("pycuda.driver")
    except (ImportError, OSError) as exc:
        reasons.append("pycuda: %s" % exc)
    try:
        return CudaPythonLayer, _import_cudart()
    except (ImportError, OSError) as exc:
        reasons.append("cuda-python: %s" % exc)
    return None, "no CUDA Python layer (%s); %s" % ("; ".join(reasons), INSTALL_HINT)


def unavailable_reason():
    """``None`` when pycuda or cuda-python imports, else one line saying why not (what :func:`open_layer` raises)."""
    layer, found = _find_layer()
    return None if layer is not None else found


def open_layer(sync="blocking"):
    """The CUDA layer for device 0: pycuda where it imports, else cuda-python.

    Args:
        sync (str): how the host waits for the GPU, one of :data:`SYNC_MODES`.

    Raises:
        BackendUnavailable: neither imports (the message is :func:`unavailable_reason`), or no CUDA
            device can be opened.
    """
    if sync not in SYNC_MODES:
        raise ValueError("sync must be one of %s, not %r" % (", ".join(SYNC_MODES), sync))
    layer, found = _find_layer()
    if layer is None:
        raise BackendUnavailable(found)
    return layer(found, sync)


def _is_oom_text(text):
    text = (text or "").lower()
    return "out of memory" in text or "memory allocation" in text or "memoryallocation" in text


class PyCudaLayer(object):
    """CUDA through pycuda, with an explicit context pushed around every use."""

    name = "pycuda"

    def __init__(self, driver, sync="blocking"):
        self._cuda = driver
        self.sync = sync
        try:
            driver.init()
            self._device = driver.Device(0)
            # pycuda doc/driver.rst: Device.make_context(flags=ctx_flags.SCHED_AUTO), Event(flags=0)
            schedule = driver.ctx_flags.SCHED_BLOCKING_SYNC if sync == "blocking" else driver.ctx_flags.SCHED_SPIN
            self._event_flags = driver.event_flags.BLOCKING_SYNC if sync == "blocking" else 0
            self._context = self._device.make_context(flags=schedule)
        except driver.Error as exc:
            raise BackendUnavailable("pycuda cannot open CUDA device 0 (%s); check `nvidia-smi` or "
                                     "`tegrastats` and that this user may use the GPU" % exc)
        self._context.pop()
        self._buffers = []
        self._closed = False
        self._thread = threading.current_thread()

    @contextlib.contextmanager
    def active(self):
        """Make this layer's context current in the calling thread for the ``with`` body."""
        self._context.push()
        try:
            yield
        finally:
            self._cuda.Context.pop()

    def device_name(self):
        return self._device.name()

    def compute_capability(self):
        """``'major.minor'`` of device 0, e.g. ``'5.3'`` on a Nano."""
        return "%d.%d" % self._device.compute_capability()

    cuda_version_kind = "driver"  # what cuda_version() reports: pycuda sees the driver API version only

    def cuda_version(self):
        """The CUDA driver API version pycuda sees, as ``'10.2'``."""
        return _version_text(self._cuda.get_driver_version())

    def driver_version(self):
        """The CUDA driver API version, as ``'10.2'``."""
        return _version_text(self._cuda.get_driver_version())

    def free_device_bytes(self):
        """Free device memory now (``cuMemGetInfo``; on a Jetson, of the DRAM the CPU shares)."""
        return int(self._cuda.mem_get_info()[0])

    def alloc(self, nbytes):
        """A device buffer of ``nbytes``; its integer address is ``int(buffer)``."""
        try:
            buffer = self._cuda.mem_alloc(max(int(nbytes), 1))
        except self._cuda.MemoryError as exc:
            raise OutOfMemory("cudaMalloc of %d bytes failed: %s" % (nbytes, exc))
        self._buffers.append(buffer)
        return buffer

    def pinned_empty(self, shape, dtype):
        """A numpy array in page-locked host memory."""
        try:
            return self._cuda.pagelocked_empty(tuple(shape), dtype)
        except self._cuda.MemoryError as exc:
            raise OutOfMemory("page-locked host allocation of shape %s failed: %s" % (tuple(shape), exc))

    def create_stream(self):
        return self._cuda.Stream()

    def stream_handle(self, stream):
        return stream.handle

    def htod_async(self, buffer, host, stream):
        self._cuda.memcpy_htod_async(buffer, host, stream)

    def dtoh_async(self, host, buffer, stream):
        self._cuda.memcpy_dtoh_async(host, buffer, stream)

    def synchronize(self, stream):
        stream.synchronize()

    def create_event(self):
        return self._cuda.Event(self._event_flags)

    def record(self, event, stream):
        event.record(stream)

    def wait(self, event):
        """Block (or spin, per ``sync``) until the GPU has passed ``event``."""
        event.synchronize()

    def elapsed_ms(self, start, end):
        end.synchronize()
        return end.time_since(start)

    def close(self):
        """Free the device buffers, then detach the context: once, best effort (failures are logged).

        Streams, events and page-locked arrays are freed by pycuda when their last reference
        goes; the caller drops those inside :meth:`active` before calling this.
        """
        if self._closed:
            return
        self._closed = True
        if threading.current_thread() is not self._thread:
            log.warning("pycuda: closing the CUDA context from another thread than the one that made it; "
                        "pycuda cannot detach it from here, so it leaks until the process ends")
        buffers, self._buffers = self._buffers, []
        try:
            with self.active():
                _release_all("pycuda", [buffer.free for buffer in buffers])
        except Exception as error:  # noqa: BLE001 - e.g. a push after a sticky error: still detach
            log.warning("pycuda: freeing the device buffers failed: %s", one_line(error))
        _release_all("pycuda", [self._context.detach])


class CudaPythonLayer(object):
    """CUDA through cuda-python's runtime API (every call returns ``(error, *values)``)."""

    name = "cuda-python"

    def __init__(self, cudart, sync="blocking"):
        self._rt = cudart
        self.sync = sync
        # cudaEventCreateWithFlags: cudaEventBlockingSync sleeps in cudaEventSynchronize; cudaEventDefault
        # follows the device's schedule flag (auto: spin while contexts <= cores)
        self._event_flags = cudart.cudaEventBlockingSync if sync == "blocking" else cudart.cudaEventDefault
        self._device = 0
        self._check(cudart.cudaSetDevice(self._device), "cudaSetDevice(0)", unavailable=True)
        self._props = self._check(cudart.cudaGetDeviceProperties(self._device), "cudaGetDeviceProperties",
                                  unavailable=True)
        self._owned = []  # (release function name, handle), released in reverse order by close()

    def _check(self, result, what, unavailable=False):
        """Raise on a CUDA error; return the value(s) after the error code."""
        if not isinstance(result, tuple):
            result = (result,)
        err, values = result[0], result[1:]
        if err != self._rt.cudaError_t.cudaSuccess:
            text = "%s failed: %s" % (what, self._error_text(err))
            if unavailable:
                raise BackendUnavailable(text + "; check that this user may use the GPU (nvidia-smi)")
            if _is_oom_text(text):
                raise OutOfMemory(text)
            raise BackendError(text + "; rerun with -v and check the CUDA install")
        if not values:
            return None
        return values[0] if len(values) == 1 else values

    def _error_text(self, err):
        try:
            name = self._rt.cudaGetErrorName(err)[1]
            text = self._rt.cudaGetErrorString(err)[1]
            return "%s (%s)" % (text_of(name), text_of(text))
        except (AttributeError, IndexError, TypeError):  # the error text is best effort
            return str(err)

    @contextlib.contextmanager
    def active(self):
        """Select device 0 in the calling thread (the runtime API's primary context)."""
        self._check(self._rt.cudaSetDevice(self._device), "cudaSetDevice(0)")
        yield

    def device_name(self):
        return text_of(self._props.name)

    def compute_capability(self):
        return "%d.%d" % (self._props.major, self._props.minor)

    cuda_version_kind = "runtime"  # what cuda_version() reports: the CUDA runtime cuda-python loads

    def cuda_version(self):
        """The CUDA runtime version, as ``'12.2'``."""
        return _version_text(self._check(self._rt.cudaRuntimeGetVersion(), "cudaRuntimeGetVersion"))

    def driver_version(self):
        """The CUDA driver API version, as ``'12.2'``."""
        return _version_text(self._check(self._rt.cudaDriverGetVersion(), "cudaDriverGetVersion"))

    def free_device_bytes(self):
        """Free device memory now (``cudaMemGetInfo``; on a Jetson, of the DRAM the CPU shares)."""
        return int(self._check(self._rt.cudaMemGetInfo(), "cudaMemGetInfo")[0])

    def _own(self, release, handle):
        self._owned.append((release, handle))
        return handle

    def alloc(self, nbytes):
        address = self._check(self._rt.cudaMalloc(max(int(nbytes), 1)), "cudaMalloc of %d bytes" % nbytes)
        return self._own("cudaFree", int(address))

    def pinned_empty(self, shape, dtype):
        """A numpy array in page-locked host memory (cudaMallocHost), valid until :meth:`close`."""
        import numpy
        dtype = numpy.dtype(dtype)
        count = int(numpy.prod(shape)) if len(shape) else 1
        nbytes = max(count * dtype.itemsize, 1)
        address = int(self._check(self._rt.cudaMallocHost(nbytes), "cudaMallocHost of %d bytes" % nbytes))
        raw = (ctypes.c_byte * nbytes).from_address(address)
        self._own("cudaFreeHost", address)
        return numpy.frombuffer(raw, dtype=dtype, count=count).reshape(shape)

    def create_stream(self):
        return self._own("cudaStreamDestroy", self._check(self._rt.cudaStreamCreate(), "cudaStreamCreate"))

    def stream_handle(self, stream):
        return int(stream)

    def htod_async(self, buffer, host, stream):
        kind = self._rt.cudaMemcpyKind.cudaMemcpyHostToDevice
        self._check(self._rt.cudaMemcpyAsync(buffer, host.ctypes.data, host.nbytes, kind, stream),
                    "cudaMemcpyAsync host to device")

    def dtoh_async(self, host, buffer, stream):
        kind = self._rt.cudaMemcpyKind.cudaMemcpyDeviceToHost
        self._check(self._rt.cudaMemcpyAsync(host.ctypes.data, buffer, host.nbytes, kind, stream),
                    "cudaMemcpyAsync device to host")

    def synchronize(self, stream):
        self._check(self._rt.cudaStreamSynchronize(stream), "cudaStreamSynchronize")

    def create_event(self):
        return self._own("cudaEventDestroy", self._check(self._rt.cudaEventCreateWithFlags(self._event_flags),
                                                         "cudaEventCreateWithFlags"))

    def record(self, event, stream):
        self._check(self._rt.cudaEventRecord(event, stream), "cudaEventRecord")

    def wait(self, event):
        """Block (or spin, per ``sync``) until the GPU has passed ``event``."""
        self._check(self._rt.cudaEventSynchronize(event), "cudaEventSynchronize")

    def elapsed_ms(self, start, end):
        self._check(self._rt.cudaEventSynchronize(end), "cudaEventSynchronize")
        return float(self._check(self._rt.cudaEventElapsedTime(start, end), "cudaEventElapsedTime"))

    def close(self):
        """Free every buffer, stream and event this layer handed out: best effort, safe to call twice."""
        owned, self._owned = self._owned[::-1], []
        releases = [self._releaser(release, handle) for release, handle in owned]
        try:
            with self.active():
                _release_all("cuda-python", releases)
        except Exception as error:  # noqa: BLE001 - cudaSetDevice failed (a sticky error): try them anyway
            log.warning("cuda-python: selecting the device to free its memory failed: %s", one_line(error))
            _release_all("cuda-python", releases)

    def _releaser(self, release, handle):
        def call():
            self._check(getattr(self._rt, release)(handle), "%s(%#x)" % (release, handle))
        return call


def _version_text(version):
    """CUDA's ``12020`` as ``'12.2'``."""
    return "%d.%d" % (version // 1000, (version % 1000) // 10)
