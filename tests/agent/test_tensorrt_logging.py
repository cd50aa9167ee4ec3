"""What TensorRT logs reaches the run record: one logger per process, Jetson OOM warnings, timing cache errors.

Findings 2c (TensorRT 8.0-8.3 keep one global logger), 4 (a Jetson build short of memory warns, then
fails with "Could not find any implementation") and 5 (a damaged timing cache gives None and ERRORs).
"""
import os
import sys

import pytest

from edgeprof.agent.backends import tensorrt as trt_backend
from edgeprof.agent.backends.tensorrt import logger as trt_logger
from edgeprof.errors import BackendError, OutOfMemory

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from trt_standins import core, fixtures  # noqa: E402  (found through the path set just above)
from trt_standins.fixtures import calls_named, open_session  # noqa: E402

# the shared fixtures: pytest finds them by their names in this module
(gpu, model, options, standin_checks, trt, trt82, trt_timing) = (
    fixtures.gpu, fixtures.model, fixtures.options, fixtures.standin_checks, fixtures.trt, fixtures.trt82,
    fixtures.trt_timing)


# -- one logger per process (2c) --------------------------------------------------------------------

def test_the_backend_uses_one_logger_per_tensorrt_module(trt):
    assert trt_logger.process_logger(trt) is trt_logger.process_logger(trt)


def test_on_8_2_a_second_sessions_build_errors_reach_its_record_while_the_first_lives(trt82, gpu, model, options):
    first = open_session(model, batch=1, options=options)
    core.STATE.faults["build_oom"] = True
    with pytest.raises(OutOfMemory, match="Error Code 2: OutOfMemory"):
        open_session(model, batch=2, options=options)
    assert not calls_named("logger differs")
    first.close()


def test_on_8_2_the_runtime_gets_the_same_logger_as_the_builder(trt82, gpu, model, options):
    core.STATE.faults["context_oom"] = True
    with pytest.raises(OutOfMemory, match=r"Cuda Runtime \(out of memory\)"):
        open_session(model, options=options)
    assert not calls_named("logger differs")


def test_each_open_captures_its_own_messages(trt, gpu, model, options):
    core.STATE.faults["build_oom"] = True
    with pytest.raises(OutOfMemory):
        open_session(model, batch=2, options=options)
    del core.STATE.faults["build_oom"]
    core.STATE.faults["context_oom"] = True
    with pytest.raises(OutOfMemory) as info:
        open_session(model, batch=3, options=options)
    assert "OutOfMemory (no further information)" not in str(info.value)


# -- Jetson builds short of memory (4) ------------------------------------------------------------------

@pytest.mark.parametrize("message", [
    "Tactic Device request: 4364MB Available: 3788MB. Device memory is insufficient to use tactic.",
    "Skipping tactic 3 due to insuficient memory on requested size of 4364 detected for tactic 0x04.",
    "Skipping tactic 3 due to insufficient memory on requested size of 4364",
    "DEVICE MEMORY IS INSUFFICIENT TO USE TACTIC"])
def test_both_spellings_of_the_memory_warning_are_recognised(message):
    assert trt_logger.MEMORY_WARNING_RE.search(message)


def test_a_build_that_found_no_tactic_after_memory_warnings_is_out_of_memory(trt, gpu, model, options):
    core.STATE.faults["build_oom_jetson"] = True
    with pytest.raises(OutOfMemory, match="no tactic that fits in memory building batch 4: .*Could not find any "
                                          "implementation.*after 2 warnings like"):
        open_session(model, options=options)
    assert trt_backend.TensorRTBackend().is_out_of_memory(OutOfMemory("x"))


def test_could_not_find_an_implementation_without_memory_warnings_stays_an_error(trt, gpu, model, options,
                                                                                  monkeypatch):
    monkeypatch.setattr(core, "TACTIC_MEMORY_WARNINGS", ())
    core.STATE.faults["build_oom_jetson"] = True
    with pytest.raises(BackendError, match="Could not find any implementation"):
        open_session(model, options=options)


def test_a_build_that_skipped_tactics_for_memory_carries_a_warning_also_on_a_cache_hit(trt, gpu, model, options):
    core.STATE.faults["tactics_skipped_for_memory"] = True
    session = open_session(model, options=options)
    warning = "TensorRT skipped tactics for lack of device memory (2 warnings"
    assert any(w.startswith(warning) for w in session.describe()["warnings"])
    session.close()
    del core.STATE.faults["tactics_skipped_for_memory"]
    session = open_session(model, options=options)  # the engine is still the slower one
    assert session.describe()["cache_hit"] and any(w.startswith(warning) for w in session.describe()["warnings"])
    session.close()


def test_tensorrt_allocation_wording_is_out_of_memory():
    backend = trt_backend.TensorRTBackend()
    for text in ("Requested amount of GPU memory (1 bytes) could not be allocated", "insufficient memory",
                 "Error Code 2: OutOfMemory", "cudaErrorMemoryAllocation"):
        assert backend.is_out_of_memory(BackendError(text)), text
    assert not backend.is_out_of_memory(BackendError("Could not find any implementation for node x"))


# -- a damaged timing cache (5) -------------------------------------------------------------------------

def the_timing_cache(options):
    return os.path.join(options["cache_dir"], next(n for n in os.listdir(options["cache_dir"])
                                                   if n.startswith("timing-")))


def test_a_timing_cache_tensorrt_cannot_read_starts_a_new_one_with_a_warning(trt_timing, gpu, model, options):
    open_session(model, batch=1, options=options).close()
    with open(the_timing_cache(options), "wb") as f:
        f.write(b"rubbish")
    core.STATE.calls[:] = []
    session = open_session(model, batch=2, options=options)
    (warning,) = [w for w in session.describe()["warnings"] if "timing cache" in w]
    assert "unreadable (1: [stdArchiveReader" in warning and warning.endswith("starting a new one")
    assert "IBuilderConfig.create_timing_cache(0 bytes)" in core.STATE.calls
    session.close()
    with open(the_timing_cache(options), "rb") as f:
        assert f.read().startswith(core.TIMING_MAGIC)  # rewritten after the build


def test_timing_cache_errors_are_not_quoted_as_the_cause_of_a_build_failure(trt_timing, gpu, model, options):
    open_session(model, batch=1, options=options).close()
    with open(the_timing_cache(options), "wb") as f:
        f.write(b"rubbish")
    core.STATE.faults["build_oom_jetson"] = True
    with pytest.raises(OutOfMemory) as info:
        open_session(model, batch=2, options=options)
    assert "Serialization" not in str(info.value) and "timing cache will not be used" not in str(info.value)
