"""Stand-in for edgeprof.agent.backends.tensorrt.cuda's layer interface (PyCudaLayer / CudaPythonLayer).

Device memory is host memory in a dict keyed by fake addresses; copies really copy, so a
test can see data move. Like pycuda, every operation must happen while the layer's
context is current *in the calling thread* (inside ``active()``); otherwise it raises, as
pycuda raises "invalid device context". Events report a fixed device time.
"""
import contextlib
import threading

import numpy

from edgeprof.errors import OutOfMemory

EVENT_MS = 1.5


class StandinCuda(object):
    name = "standin-cuda"

    def __init__(self, memory_limit_bytes=None):
        self._local = threading.local()
        self.memory = {}
        self.memory_limit_bytes = memory_limit_bytes
        self.closed = False
        self.copies = []
        self._next = 0x1000

    def _depth(self):
        return getattr(self._local, "depth", 0)

    def _require_active(self, what):
        if self._depth() <= 0:
            raise AssertionError("%s outside active(): pycuda would fail with an invalid device context" % what)
        if self.closed:
            raise AssertionError("%s after close()" % what)

    @contextlib.contextmanager
    def active(self):
        self._local.depth = self._depth() + 1
        try:
            yield
        finally:
            self._local.depth -= 1

    def device_name(self):
        return "NVIDIA Tegra X1 (stand-in)"

    def compute_capability(self):
        return "5.3"

    def cuda_version(self):
        return "10.2"

    def alloc(self, nbytes):
        self._require_active("alloc")
        used = sum(len(b) for b in self.memory.values())
        if self.memory_limit_bytes is not None and used + nbytes > self.memory_limit_bytes:
            raise OutOfMemory("cudaMalloc of %d bytes failed: out of memory" % nbytes)
        address = self._next
        self._next += max(int(nbytes), 1) + 256
        self.memory[address] = bytearray(int(nbytes))
        return address

    def pinned_empty(self, shape, dtype):
        self._require_active("pinned_empty")
        return numpy.zeros(shape, dtype)

    def create_stream(self):
        self._require_active("create_stream")
        return object()

    def stream_handle(self, stream):
        return 0xBEEF

    def htod_async(self, buffer, host, stream):
        self._require_active("htod_async")
        self.memory[buffer][:] = host.tobytes()
        self.copies.append(("htod", buffer))

    def dtoh_async(self, host, buffer, stream):
        self._require_active("dtoh_async")
        host[...] = numpy.frombuffer(bytes(self.memory[buffer]), dtype=host.dtype).reshape(host.shape)
        self.copies.append(("dtoh", buffer))

    def synchronize(self, stream):
        self._require_active("synchronize")

    def create_event(self):
        self._require_active("create_event")
        return {"recorded": False}

    def record(self, event, stream):
        self._require_active("record")
        event["recorded"] = True

    def elapsed_ms(self, start, end):
        self._require_active("elapsed_ms")
        assert start["recorded"] and end["recorded"]
        return EVENT_MS

    def close(self):
        if not self.closed:
            with self.active():
                self.memory.clear()
            self.closed = True
