"""TensorRT objects live and die inside the CUDA context, the builder's before the runtime's (findings 2, 3, 11, 15).

The stand-ins record a TensorRT object dropped with no live CUDA context current, and a CUDA stream
or event that outlives its context, in ``STATE.violations``; ``standin_checks`` fails any test that
leaves one. The exceptions of failed opens are dropped before that check, as the sweep drops them.
"""
import gc
import os
import sys

import pytest

from edgeprof.errors import BackendError, InputFileError, OutOfMemory

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from trt_standins import core, fixtures  # noqa: E402  (found through the path set just above)
from trt_standins.fixtures import built, calls_named, open_session  # noqa: E402

# the shared fixtures: pytest finds them by their names in this module
(gpu, model, options, standin_checks, trt, trt82) = (
    fixtures.gpu, fixtures.model, fixtures.options, fixtures.standin_checks, fixtures.trt, fixtures.trt82)


def failed_open(error, model, options, **kwargs):
    """Open expecting ``error``; return its message after dropping it (and its traceback) as the sweep does."""
    with pytest.raises(error) as info:
        open_session(model, options=options, **kwargs)
    message = str(info.value)
    del info
    gc.collect()
    return message


def test_nothing_of_the_builder_is_alive_when_the_runtime_is_made(trt, gpu, model, options):
    # the profile would keep the builder (reference_internal), the builder its resources, into deserialization
    session = open_session(model, options=options)
    assert "Runtime made; alive: nothing of a builder" in core.STATE.calls
    session.close()


def test_the_plan_reaches_the_runtime_as_tensorrts_own_buffer_not_a_copy(trt, gpu, model, options):
    # finding 15: bytes(serialized) held the plan twice in the DRAM the GPU shares
    session = open_session(model, options=options)
    assert "plan given as a view of IHostMemory" in core.STATE.calls
    session.close()


@pytest.mark.parametrize("fault,error", [("build_oom", OutOfMemory), ("build_oom_jetson", OutOfMemory),
                                         ("parse_fail_node", InputFileError), ("profile_invalid", BackendError)])
def test_a_failed_build_frees_its_tensorrt_objects_before_the_cuda_context_goes(trt, gpu, model, options, fault,
                                                                                 error):
    core.STATE.faults[fault] = (7, "Fancy_7") if fault == "parse_fail_node" else "min > max"
    failed_open(error, model, options)
    assert gpu[-1].closed and core.STATE.violations == []


def test_a_failed_calibration_frees_the_builder_its_callers_frames_hold(trt, gpu, model, options, tmp_path):
    # the calibrator keeps the file error; its traceback's callers are the frames that hold the builder
    numpy = pytest.importorskip("numpy")
    calib = tmp_path / "calib"
    calib.mkdir()
    numpy.save(str(calib / "a.npy"), numpy.ones((2, 3, 9, 9), numpy.float32))
    failed_open(InputFileError, model, dict(options, calib_dir=str(calib)), batch=2, precision="int8")
    assert core.STATE.violations == []


@pytest.mark.parametrize("fault", ["context_oom", "tensor_address_refused"])
def test_a_half_made_session_frees_its_objects_before_the_cuda_context_goes(trt, gpu, model, options, fault):
    if fault == "tensor_address_refused" and not hasattr(trt.IExecutionContext, "set_tensor_address"):
        pytest.skip("named tensors only")
    core.STATE.faults[fault] = "logits" if fault == "tensor_address_refused" else True
    failed_open(OutOfMemory if fault == "context_oom" else BackendError, model, options)
    assert gpu[-1].closed and core.STATE.violations == []


def test_an_unloadable_cached_engine_is_freed_before_the_rebuild(trt, gpu, model, options, monkeypatch):
    # EngineLoadError from the cached plan: the half-made session (its Runtime) goes before rebuilding
    open_session(model, options=options).close()
    core.STATE.calls[:] = []
    runtime = sys.modules["tensorrt"].Runtime
    real = runtime.deserialize_cuda_engine
    answers = [None]  # the cached plan does not load; the rebuilt one does

    def deserialize(self, data):
        return answers.pop() if answers else real(self, data)

    monkeypatch.setattr(runtime, "deserialize_cuda_engine", deserialize)
    session = open_session(model, options=options)
    assert built() and session.describe()["cache_hit"] is False
    # the first Runtime, engine and context went before the rebuild (their memory, and on 8.0-8.3 the logger)
    assert calls_named("Builder made") == ["Builder made; alive: nothing of a runtime"]
    assert calls_named("Runtime made") == ["Runtime made; alive: nothing of a builder"] * 2
    assert not calls_named("logger differs")
    session.close()


def test_a_failing_cuda_close_does_not_hide_why_the_build_failed(trt, gpu, model, options):
    # finding 11: after a sticky error the layer's close raises; open must still raise the build's error
    core.STATE.faults["build_sticky"] = True
    message = failed_open(BackendError, model, options)
    assert "illegal memory access" in message and "cuMemFree" not in message
    assert core.STATE.lost  # objects of the broken context: nothing could free them properly


def test_closing_after_a_sticky_error_never_raises(trt, gpu, model, options):
    session = open_session(model, options=options)
    gpu[-1].fail_sticky("an illegal memory access was encountered")
    with pytest.raises(RuntimeError, match="illegal memory access"):
        session.run()
    session.close()  # logged, not raised: the sweep records the run's error and goes on
    assert gpu[-1].closed
