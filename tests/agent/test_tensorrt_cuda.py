"""The CUDA layer chooser of the TensorRT backend (backends/tensorrt/cuda.py) without pycuda or cuda-python."""
import os
import subprocess
import sys

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
    assert "cuda-python: " in reason and "pip install cuda-python" in reason and "\n" not in reason


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
