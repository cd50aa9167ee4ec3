"""Run tools/trt-smoke.py against the stand-ins: ``python smoke_launcher.py --standin trt_10 -- SMOKE ARGS``.

Run as a script only (test_trt_smoke.py starts it in a subprocess; never import it into a test process: its
stand-ins would replace the real modules there). Before the smoke script's ``main()`` it installs, as
``trt_standins/fixtures.py`` does for the backend tests:

- ``sys.modules["tensorrt"]``: the stand-in module named by ``--standin``, its state reset, then the faults of
  the ``EDGEPROF_STANDIN_FAULTS`` environment variable (JSON, e.g. ``{"build_oom": true}``) set;
- edgeprof's CUDA layer: :class:`_Device` layers (the stand-in CUDA layer, one 4 GB device shared by every layer
  of the process, so that the smoke script's own probe of free memory sees the sessions' memory, and a
  page-locked buffer larger than the board refused as out of memory, as a 4 GB Jetson's DRAM would). A layer is
  called ``cuda-python`` where the smoke script hid pycuda (``sys.modules["pycuda"] = None``), else ``pycuda``;
- ``pycuda.driver`` and ``cuda.bindings.runtime`` stand-ins, so that both layers count as importable, with
  ``pycuda.driver.Context.get_current()`` the stand-in CUDA context current in this thread (None outside
  ``active()``).

Every group the smoke script runs goes through this launcher again (its ``child_command``). At exit, what the
stand-ins found that real TensorRT or CUDA would not accept (``STATE.violations``: a TensorRT object dropped with
no CUDA context current...) is printed to stderr as ``STANDIN VIOLATION: ...`` and the exit status is 3, which the
smoke parent reports as ``stderr[<group>]: FAIL``.
"""
import gc
import importlib
import json
import os
import sys
import types

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.dirname(HERE)
REPO = os.path.dirname(os.path.dirname(TESTS))
SMOKE = os.path.join(REPO, "tools", "trt-smoke.py")
for _path in (REPO, TESTS):
    if _path not in sys.path:
        sys.path.insert(0, _path)

from edgeprof.agent.backends.tensorrt import cuda as cuda_layer  # noqa: E402
from edgeprof.errors import OutOfMemory  # noqa: E402
from trt_standins import cuda_standin, native  # noqa: E402
from trt_standins.state import STATE  # noqa: E402

FAULTS_ENV = "EDGEPROF_STANDIN_FAULTS"
VIOLATION_EXIT = 3
_LAYERS = []  # the layers opened in this process: one device


def _used(layer):
    """Device bytes ``layer`` holds: its buffers and what TensorRT objects reserved in it."""
    return sum(len(b) for b in layer.memory.values()) + sum(layer.reserved.values())


class _Device(cuda_standin.StandinCuda):
    """The stand-in CUDA layer on one device shared by all the layers of this process."""

    def free_device_bytes(self):
        mine = cuda_standin.StandinCuda.free_device_bytes(self)
        return mine - sum(_used(other) for other in _LAYERS if other is not self and not other.closed)

    def pinned_empty(self, shape, dtype):
        import numpy
        nbytes = int(numpy.prod(shape)) * numpy.dtype(dtype).itemsize
        if nbytes > cuda_standin.TOTAL_BYTES:  # before numpy allocates it: as cudaMallocHost fails on a 4 GB board
            raise OutOfMemory("page-locked host allocation of shape %s failed: out of memory" % (tuple(shape),))
        return cuda_standin.StandinCuda.pinned_empty(self, shape, dtype)


def _open_layer(sync="blocking"):
    try:
        layer = _Device(sync=sync, memory_limit_bytes=cuda_standin.TOTAL_BYTES)
    except TypeError:  # a stand-in layer without sync modes
        layer = _Device(memory_limit_bytes=cuda_standin.TOTAL_BYTES)
    layer.name = "cuda-python" if sys.modules.get("pycuda", "absent") is None else "pycuda"
    _LAYERS.append(layer)
    return layer


class _Context(object):
    @staticmethod
    def get_current():
        return native.current_context()


def _install_modules():
    pycuda = types.ModuleType("pycuda")
    driver = types.ModuleType("pycuda.driver")
    driver.Context = _Context
    pycuda.driver = driver
    cuda = types.ModuleType("cuda")
    bindings = types.ModuleType("cuda.bindings")
    runtime = types.ModuleType("cuda.bindings.runtime")
    cuda.bindings, bindings.runtime = bindings, runtime
    for module in (pycuda, driver, cuda, bindings, runtime):
        sys.modules[module.__name__] = module


def install(standin):
    sys.modules["tensorrt"] = importlib.import_module("trt_standins." + standin)
    STATE.reset()
    STATE.faults.update(json.loads(os.environ.get(FAULTS_ENV) or "{}"))
    cuda_layer.open_layer = _open_layer
    cuda_layer.unavailable_reason = lambda: None
    _install_modules()


def _load_smoke():
    import importlib.util
    spec = importlib.util.spec_from_file_location("trt_smoke", SMOKE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv):
    if len(argv) < 3 or argv[0] != "--standin" or argv[2] != "--":
        sys.stderr.write("usage: smoke_launcher.py --standin trt_10 -- SMOKE ARGS\n")
        return 2
    standin, smoke_args = argv[1], argv[3:]
    install(standin)
    child = [sys.executable, os.path.abspath(__file__), "--standin", standin, "--"]
    code = _load_smoke().main(smoke_args, child_command=child)
    gc.collect()
    for violation in STATE.violations:
        sys.stderr.write("STANDIN VIOLATION: %s\n" % violation)
    return VIOLATION_EXIT if STATE.violations and code == 0 else code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
