"""pytest fixtures and helpers of the TensorRT backend tests (import them into a test module).

``standin_checks`` (autouse where imported) fails a test after which the stand-ins recorded a
violation: what real TensorRT or CUDA would not accept (a TensorRT object dropped with no CUDA context
current, a calibration buffer smaller than its input...; see native.py).
"""
import gc
import importlib
import sys

import pytest

from edgeprof.agent.backends import tensorrt as trt_backend
from edgeprof.agent.backends.tensorrt import cuda as cuda_layer
from trt_standins import core
from trt_standins.cuda_standin import StandinCuda

VERSIONS = ("trt_7_1", "trt_8_2", "trt_10")


def use_version(monkeypatch, name):
    """The stand-in tensorrt module ``name``, importable as ``tensorrt``, with the stand-ins' state reset."""
    module = importlib.import_module("trt_standins." + name)
    core.STATE.reset()
    monkeypatch.setitem(sys.modules, "tensorrt", module)
    return module


@pytest.fixture(autouse=True)
def standin_checks():
    yield
    gc.collect()
    violations, core.STATE.violations = list(core.STATE.violations), []
    assert not violations, "the stand-ins found: %s" % "; ".join(violations)


@pytest.fixture(params=VERSIONS)
def trt(request, monkeypatch):
    """The stand-in tensorrt module of one version, importable as ``tensorrt``."""
    return use_version(monkeypatch, request.param)


@pytest.fixture(params=("trt_8_2", "trt_10"))
def trt_timing(request, monkeypatch):
    """The stand-ins of the versions with a timing cache (8.0+)."""
    return use_version(monkeypatch, request.param)


@pytest.fixture
def trt71(monkeypatch):
    return use_version(monkeypatch, "trt_7_1")


@pytest.fixture
def trt82(monkeypatch):
    return use_version(monkeypatch, "trt_8_2")


@pytest.fixture
def trt10(monkeypatch):
    return use_version(monkeypatch, "trt_10")


@pytest.fixture
def gpu(monkeypatch):
    """The stand-in CUDA layers handed out, newest last."""
    layers = []

    def open_layer(sync="blocking"):
        layers.append(StandinCuda(sync))
        return layers[-1]

    monkeypatch.setattr(cuda_layer, "open_layer", open_layer)
    monkeypatch.setattr(cuda_layer, "unavailable_reason", lambda: None)
    return layers


@pytest.fixture
def model(tmp_path):
    return core.write_model(str(tmp_path / "tiny.onnx"))


@pytest.fixture
def options(tmp_path):
    return {"cache_dir": str(tmp_path / "engines"), "model_sha256": "ab" * 32}


def open_session(model, batch=4, precision="fp32", options=None):
    return trt_backend.TensorRTBackend().open(model, batch, precision, dict(options or {}))


def calls_named(prefix):
    return [c for c in core.STATE.calls if c.startswith(prefix)]


def built():
    """The builder calls made: build_serialized_network (8.0+) or build_engine (7.1)."""
    return calls_named("Builder.build_serialized_network") + calls_named("Builder.build_engine")
