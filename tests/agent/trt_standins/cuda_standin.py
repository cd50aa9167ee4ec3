"""Stand-in for edgeprof.agent.backends.tensorrt.cuda's layer interface (PyCudaLayer / CudaPythonLayer).

Device memory is host memory in a dict keyed by fake addresses; copies really copy, so a
test can see data move. Like pycuda, every operation must happen while the layer's
context is current *in the calling thread* (inside ``active()``); otherwise it raises, as
pycuda raises "invalid device context". ``active()`` makes the layer the current context of the
stand-in TensorRT (native.py), whose objects must be made and dropped inside it.

Events read a stand-in GPU clock, which each host-to-device copy advances by :data:`H2D_MS`, each
device-to-host copy by :data:`D2H_MS`, and each inference TensorRT enqueued (an
``execute_async_v2``/``v3`` call since the last event) by :data:`EVENT_MS`; ``elapsed_ms`` is the
clock's difference between two recorded events, as ``cudaEventElapsedTime`` is. Events carry the
flags of the layer's ``sync`` mode (``blocking``: ``cudaEventBlockingSync``), and :meth:`wait`, like
``cudaEventSynchronize``, needs a recorded event.

Also modelled:

- streams and events outliving the context: pycuda's destructors re-activate their own context, and
  once it is detached they print "PyCUDA WARNING: a clean-up operation failed (dead context maybe?)"
  (pycuda ``src/cpp/cuda.hpp``, review finding 3): recorded as a violation;
- a sticky CUDA error (:meth:`StandinCuda.fail_sticky`, S8): afterwards every call, ``active()`` and
  ``close()`` raise, as pycuda's push and ``cuMemFree`` do after an illegal address or launch timeout
  (``wrap_cudadrv.cpp`` maps them to ``LogicError``/``RuntimeError``; review finding 11);
- device memory TensorRT itself holds (weights, activations: :meth:`reserve`), seen in
  :meth:`free_device_bytes`.
"""
import contextlib
import threading

import numpy

from edgeprof.errors import OutOfMemory
from trt_standins import native
from trt_standins.state import STATE

EVENT_MS = 1.5    # GPU compute of one enqueued inference
H2D_MS = 0.25     # one input copy
D2H_MS = 0.125    # one output copy
ENQUEUES = ("IExecutionContext.execute_async_v2", "IExecutionContext.execute_async_v3")
TOTAL_BYTES = 4 << 30  # a 4 GB board
ALIGNMENT = 256  # cudaMalloc returns addresses aligned to at least 256 bytes (CUDA C++ Programming Guide)


class StickyCudaError(RuntimeError):
    """What pycuda raises once a sticky error broke the context."""


class _CudaObject(object):
    """A stream or event: freed by pycuda in its own context, which must still exist."""

    def __init__(self, layer):
        self._layer = layer
        self.recorded = False

    def __del__(self):
        if self._layer.closed and not self._layer.sticky:
            STATE.violations.append("a CUDA %s freed after its context was detached (PyCUDA WARNING: a clean-up "
                                    "operation failed (dead context maybe?))" % type(self).__name__)


class Stream(_CudaObject):
    pass


class Event(_CudaObject):
    def __init__(self, layer, blocking):
        _CudaObject.__init__(self, layer)
        self.blocking = blocking
        self.at_ms = None
        self.waited = 0


class StandinCuda(object):
    name = "standin-cuda"
    cuda_version_kind = "driver"

    def __init__(self, sync="blocking", memory_limit_bytes=None):
        assert sync in ("blocking", "spin"), sync
        self.sync = sync
        self.gpu_ms = 0.0
        self._calls_seen = 0
        self._local = threading.local()
        self.memory = {}
        self.reserved = {}  # TensorRT objects' own device memory: id(object) -> bytes
        self.memory_limit_bytes = memory_limit_bytes
        self.closed = False
        self.sticky = None
        self.copies = []
        self._next = 0x1000

    def _depth(self):
        return getattr(self._local, "depth", 0)

    def _require_active(self, what):
        if self.sticky:
            raise StickyCudaError("%s failed: %s" % (what, self.sticky))
        if self._depth() <= 0:
            raise AssertionError("%s outside active(): pycuda would fail with an invalid device context" % what)
        if self.closed:
            raise AssertionError("%s after close()" % what)

    def fail_sticky(self, error):
        """A sticky CUDA error happened: the context is broken for good."""
        self.sticky = error

    @contextlib.contextmanager
    def active(self):
        if self.sticky:
            raise StickyCudaError("cuCtxPushCurrent failed: %s" % self.sticky)
        if self.closed:
            raise AssertionError("active() after close(): the context was detached")
        self._local.depth = self._depth() + 1
        native.push_context(self)
        try:
            yield
        finally:
            native.pop_context()
            self._local.depth -= 1

    def device_name(self):
        return "NVIDIA Tegra X1 (stand-in)"

    def compute_capability(self):
        return "5.3"

    def cuda_version(self):
        return "10.2"

    def driver_version(self):
        return "10.2"

    def _used(self):
        return sum(len(b) for b in self.memory.values()) + sum(self.reserved.values())

    def free_device_bytes(self):
        self._require_active("free_device_bytes")
        return (self.memory_limit_bytes or TOTAL_BYTES) - self._used()

    def reserve(self, owner, nbytes):
        self.reserved[owner] = int(nbytes)

    def unreserve(self, owner):
        self.reserved.pop(owner, None)

    def alloc(self, nbytes):
        self._require_active("alloc")
        if self.memory_limit_bytes is not None and self._used() + nbytes > self.memory_limit_bytes:
            raise OutOfMemory("cudaMalloc of %d bytes failed: out of memory" % nbytes)
        address = self._next
        self._next += -(-(max(int(nbytes), 1) + ALIGNMENT) // ALIGNMENT) * ALIGNMENT
        self.memory[address] = bytearray(int(nbytes))
        return address

    def buffer_size(self, address):
        """The size of the allocation starting at ``address``, or None."""
        buffer = self.memory.get(address)
        return None if buffer is None else len(buffer)

    def pinned_empty(self, shape, dtype):
        self._require_active("pinned_empty")
        return numpy.zeros(shape, dtype)

    def create_stream(self):
        self._require_active("create_stream")
        return Stream(self)

    def stream_handle(self, stream):
        return 0xBEEF

    def htod_async(self, buffer, host, stream):
        self._require_active("htod_async")
        self.memory[buffer][:] = host.tobytes()
        self.copies.append(("htod", buffer))
        self._advance(H2D_MS)

    def dtoh_async(self, host, buffer, stream):
        self._require_active("dtoh_async")
        host[...] = numpy.frombuffer(bytes(self.memory[buffer]), dtype=host.dtype).reshape(host.shape)
        self.copies.append(("dtoh", buffer))
        self._advance(D2H_MS)

    def synchronize(self, stream):
        self._require_active("synchronize")

    def _advance(self, ms):
        """The GPU's work so far: inferences TensorRT enqueued since the last look, then ``ms``."""
        calls = STATE.calls
        enqueued = sum(1 for call in calls[self._calls_seen:] if call.split("(")[0] in ENQUEUES)
        self._calls_seen = len(calls)
        self.gpu_ms += enqueued * EVENT_MS + ms

    def create_event(self):
        self._require_active("create_event")
        return Event(self, blocking=self.sync == "blocking")

    def record(self, event, stream):
        self._require_active("record")
        self._advance(0.0)
        event.recorded = True
        event.at_ms = self.gpu_ms

    def wait(self, event):
        self._require_active("wait")
        assert event.recorded, "cudaEventSynchronize on an event never recorded returns at once: a wait on nothing"
        event.waited += 1

    def elapsed_ms(self, start, end):
        self._require_active("elapsed_ms")
        assert start.recorded and end.recorded, "cudaEventElapsedTime needs two recorded events"
        return end.at_ms - start.at_ms

    def close(self):
        if self.closed:
            return
        self.closed = True
        if self.sticky:
            raise StickyCudaError("cuMemFree failed: %s" % self.sticky)
        if self.reserved:
            STATE.violations.append("the CUDA context was closed while %d TensorRT objects held device memory"
                                    % len(self.reserved))
        self.memory.clear()
