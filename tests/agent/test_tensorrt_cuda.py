"""The CUDA layers of the TensorRT backend (backends/tensorrt/cuda.py) without pycuda or cuda-python.

The chooser with neither installed; the layers themselves over small stand-ins of ``pycuda.driver``
and cuda-python's runtime module that can fail the way they do after a sticky CUDA error.
"""
import logging
import os
import subprocess
import sys
import threading

import pytest

import edgeprof
from edgeprof.agent.backends.tensorrt import cuda
from edgeprof.errors import BackendUnavailable

MODULES = ("pycuda", "pycuda.driver", "cuda", "cuda.bindings", "cuda.bindings.runtime", "cuda.cudart")


@pytest.fixture
def no_cuda_python(monkeypatch):
    for name in MODULES:
        monkeypatch.setitem(sys.modules, name, None)


def test_unavailable_reason_names_both_layers_and_how_to_install_them_when_neither_imports(no_cuda_python):
    reason = cuda.unavailable_reason()
    assert reason.startswith("no CUDA Python layer (pycuda: ")
    assert "cuda-python: " in reason and "\n" not in reason
    # cuda-python's major version follows CUDA's: JetPack 5 has CUDA 11.4, JetPack 6 CUDA 12 (review finding 17)
    assert "JetPack 5, CUDA 11.4: pip3 install 'cuda-python==11.8.*'" in reason
    assert "JetPack 6, CUDA 12: pip3 install 'cuda-python>=12,<13'" in reason


def test_open_layer_raises_backend_unavailable_when_neither_imports(no_cuda_python):
    with pytest.raises(BackendUnavailable, match="no CUDA Python layer") as info:
        cuda.open_layer()
    assert str(info.value) == cuda.unavailable_reason()


def test_importing_the_backend_modules_imports_no_runtime():
    code = ("import sys, edgeprof.agent.backends.tensorrt, edgeprof.agent.backends.tensorrt.cuda; "
            "print(sorted(m for m in ('tensorrt', 'pycuda', 'cuda', 'torch', 'onnx') if m in sys.modules))")
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(os.path.abspath(edgeprof.__file__))))
    out = subprocess.check_output([sys.executable, "-c", code], universal_newlines=True, env=env)
    assert out.strip() == "[]"


# -- the layers over stand-ins of pycuda.driver and cuda-python -------------------------------------

class FakeDriver(object):
    """What PyCudaLayer uses of ``pycuda.driver``; ``fail`` names the calls that raise (a sticky error)."""

    class Error(Exception):
        pass

    class MemoryError(Error):
        pass

    # pycuda src/wrapper/wrap_cudadrv.cpp: ctx_flags and event_flags mirror CUctx_flags / CUevent_flags
    # (CUDA driver API cuda.h: CU_CTX_SCHED_SPIN 0x01, CU_CTX_SCHED_BLOCKING_SYNC 0x04,
    # CU_EVENT_BLOCKING_SYNC 0x1)
    class ctx_flags(object):
        SCHED_AUTO, SCHED_SPIN, SCHED_YIELD, SCHED_BLOCKING_SYNC = 0x00, 0x01, 0x02, 0x04

    class event_flags(object):
        DEFAULT, BLOCKING_SYNC, DISABLE_TIMING = 0x0, 0x1, 0x2

    def __init__(self, fail=()):
        self.fail = set(fail)
        self.freed = []
        self.detached = False
        self.context_flags = None
        self.events = []
        driver = self

        class Context(object):
            def push(self):
                driver._call("push")

            def detach(self):
                driver._call("detach")
                driver.detached = True

            @staticmethod
            def pop():
                driver._call("pop")

        class Device(object):
            def __init__(self, index):
                pass

            def make_context(self, flags=0):  # pycuda doc/driver.rst: make_context(flags=ctx_flags.SCHED_AUTO)
                driver.context_flags = flags
                return Context()

        class Event(object):
            def __init__(self, flags=0):  # pycuda doc/driver.rst: class Event(flags=0)
                self.flags = flags
                self.waited = 0
                driver.events.append(self)

            def record(self, stream=None):
                pass

            def synchronize(self):
                self.waited += 1

        self.Context = Context
        self.Device = Device
        self.Event = Event

    def _call(self, name):
        if name in self.fail:
            raise self.Error("cu%s failed: an illegal memory access was encountered" % name.capitalize())

    def init(self):
        pass

    def get_driver_version(self):
        return 11040

    def mem_get_info(self):
        return (3 << 30, 4 << 30)

    def mem_alloc(self, nbytes):
        driver = self

        class Buffer(object):
            def free(self):
                driver._call("free")
                driver.freed.append(self)

        return Buffer()


class FakeCudart(object):
    """What CudaPythonLayer uses of cuda-python's runtime: calls return ``(error, *values)``."""

    class cudaError_t(object):
        cudaSuccess = 0
        cudaErrorIllegalAddress = 700

    # cuda_runtime_api.h: #define cudaEventDefault 0x00, cudaEventBlockingSync 0x01 (module-level ints in
    # cuda-python's runtime module, passed to cudaEventCreateWithFlags)
    cudaEventDefault = 0x00
    cudaEventBlockingSync = 0x01

    def __init__(self):
        self.fail = set()
        self.freed = []
        self.event_flags = []
        self.synchronized = []
        self._next = 0x1000

    def _result(self, name, *values):
        return ((700,) if name in self.fail else (0,)) + values

    def cudaSetDevice(self, device):
        return self._result("cudaSetDevice")

    def cudaGetDeviceProperties(self, device):
        props = type("Props", (object,), {"name": b"Orin (fake)\0", "major": 8, "minor": 7})
        return self._result("cudaGetDeviceProperties", props)

    def cudaGetErrorName(self, err):
        return (0, b"cudaErrorIllegalAddress")

    def cudaGetErrorString(self, err):
        return (0, b"an illegal memory access was encountered")

    def cudaRuntimeGetVersion(self):
        return self._result("cudaRuntimeGetVersion", 12020)

    def cudaDriverGetVersion(self):
        return self._result("cudaDriverGetVersion", 12040)

    def cudaMemGetInfo(self):
        return self._result("cudaMemGetInfo", 3 << 30, 4 << 30)

    def cudaMalloc(self, nbytes):
        self._next += 0x1000
        return self._result("cudaMalloc", self._next)

    def cudaFree(self, address):
        self.freed.append(address)
        return self._result("cudaFree")

    def cudaEventCreateWithFlags(self, flags):
        self._next += 0x10
        self.event_flags.append(flags)
        return self._result("cudaEventCreateWithFlags", self._next)

    def cudaEventSynchronize(self, event):
        self.synchronized.append(event)
        return self._result("cudaEventSynchronize")

    def cudaEventDestroy(self, event):
        return self._result("cudaEventDestroy")


def test_pycuda_close_detaches_even_when_freeing_a_buffer_fails_after_a_sticky_error(caplog):
    driver = FakeDriver()
    layer = cuda.PyCudaLayer(driver)
    with layer.active():
        layer.alloc(16)
        layer.alloc(16)
    driver.fail.add("free")
    with caplog.at_level(logging.WARNING, logger="edgeprof.tensorrt"):
        layer.close()  # must not raise: it may run while another error is being raised
    assert driver.detached
    assert "a CUDA release failed: cuFree failed" in caplog.text
    layer.close()  # once only


def test_pycuda_close_still_detaches_when_the_context_cannot_be_pushed(caplog):
    driver = FakeDriver()
    layer = cuda.PyCudaLayer(driver)
    driver.fail.add("push")
    with caplog.at_level(logging.WARNING, logger="edgeprof.tensorrt"):
        layer.close()
    assert driver.detached and "freeing the device buffers failed" in caplog.text


def test_pycuda_close_from_another_thread_warns_that_the_context_leaks(caplog):
    # pycuda's context::detach() does nothing from another thread than the creating one (cuda.hpp, finding 14)
    layer = cuda.PyCudaLayer(FakeDriver())
    with caplog.at_level(logging.WARNING, logger="edgeprof.tensorrt"):
        thread = threading.Thread(target=layer.close)
        thread.start()
        thread.join()
    assert "from another thread" in caplog.text and "leaks" in caplog.text


def test_pycuda_reports_the_driver_version_and_free_memory():
    layer = cuda.PyCudaLayer(FakeDriver())
    assert (layer.cuda_version(), layer.cuda_version_kind, layer.driver_version()) == ("11.4", "driver", "11.4")
    assert layer.free_device_bytes() == 3 << 30
    layer.close()


def test_cuda_python_close_releases_everything_even_when_a_release_fails(caplog):
    cudart = FakeCudart()
    layer = cuda.CudaPythonLayer(cudart)
    with layer.active():
        first, second = layer.alloc(16), layer.alloc(16)
    cudart.fail.add("cudaFree")
    with caplog.at_level(logging.WARNING, logger="edgeprof.tensorrt"):
        layer.close()
    assert sorted(cudart.freed) == sorted([first, second])
    assert "cudaFree(%#x) failed" % first in caplog.text


def test_cuda_python_close_releases_when_the_device_cannot_be_selected(caplog):
    cudart = FakeCudart()
    layer = cuda.CudaPythonLayer(cudart)
    with layer.active():
        address = layer.alloc(16)
    cudart.fail.add("cudaSetDevice")
    with caplog.at_level(logging.WARNING, logger="edgeprof.tensorrt"):
        layer.close()
    assert cudart.freed == [address] and "selecting the device" in caplog.text


def test_cuda_python_reports_the_runtime_version_and_the_driver_version_apart():
    # finding 16: pycuda's cuda_version is the driver's, cuda-python's the runtime's; both layers give the driver's
    layer = cuda.CudaPythonLayer(FakeCudart())
    assert (layer.cuda_version(), layer.cuda_version_kind, layer.driver_version()) == ("12.2", "runtime", "12.4")
    assert layer.free_device_bytes() == 3 << 30


@pytest.mark.parametrize("sync, context_flags, event_flags", [
    ("blocking", FakeDriver.ctx_flags.SCHED_BLOCKING_SYNC, FakeDriver.event_flags.BLOCKING_SYNC),
    ("spin", FakeDriver.ctx_flags.SCHED_SPIN, FakeDriver.event_flags.DEFAULT),
])
def test_pycuda_makes_its_context_and_events_for_the_sync_mode_and_waits_on_an_event(sync, context_flags,
                                                                                     event_flags):
    driver = FakeDriver()
    layer = cuda.PyCudaLayer(driver, sync)
    assert driver.context_flags == context_flags and layer.sync == sync
    event = layer.create_event()
    layer.wait(event)
    assert event.flags == event_flags and event.waited == 1


def test_the_default_sync_mode_is_blocking_like_trtexec():
    driver = FakeDriver()
    assert cuda.PyCudaLayer(driver).sync == "blocking"
    assert driver.context_flags == FakeDriver.ctx_flags.SCHED_BLOCKING_SYNC
    with pytest.raises(ValueError, match="sync must be one of blocking, spin"):
        cuda.open_layer("yield")


@pytest.mark.parametrize("sync, flags", [("blocking", FakeCudart.cudaEventBlockingSync),
                                         ("spin", FakeCudart.cudaEventDefault)])
def test_cuda_python_creates_events_for_the_sync_mode_and_waits_on_them(sync, flags):
    rt = FakeCudart()
    layer = cuda.CudaPythonLayer(rt, sync)
    event = layer.create_event()
    layer.wait(event)
    assert rt.event_flags == [flags] and rt.synchronized == [event]
