"""Ctrl-C and SIGTERM while TensorRT runs Python callbacks (finding 6).

A signal's Python handler runs at the next Python bytecode of the main thread; during a build that is
inside a TensorRT callback (the stand-ins run it there: native.call_back). On 8.2 an exception escaping
a callback is std::terminate (``native.Terminate``), on 10.x it is printed and swallowed. edgeprof
holds the signals while TensorRT runs and delivers them when it returns.
"""
import os
import shutil
import signal
import sys
import time

import pytest

from edgeprof.agent.backends.tensorrt import interrupts
from edgeprof.agent.backends.tensorrt import logger as trt_logger

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from trt_standins import core, fixtures  # noqa: E402  (found through the path set just above)
from trt_standins.fixtures import calls_named, open_session  # noqa: E402

# the shared fixtures: pytest finds them by their names in this module
(gpu, model, options, standin_checks, trt) = (
    fixtures.gpu, fixtures.model, fixtures.options, fixtures.standin_checks, fixtures.trt)


@pytest.fixture
def default_sigint():
    """Python's own SIGINT handler (KeyboardInterrupt), as a plain ``edgeprof sweep`` has it."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def test_ctrl_c_during_a_build_interrupts_after_the_build_returns(trt, gpu, model, options, default_sigint):
    core.STATE.faults["signal_during_build"] = signal.SIGINT
    with pytest.raises(KeyboardInterrupt):
        open_session(model, options=options)
    assert "build finished" in core.STATE.calls
    assert not calls_named("terminate") and not calls_named("swallowed")
    assert gpu[-1].closed


def test_the_signal_handlers_are_restored_after_the_build(trt, gpu, model, options, default_sigint):
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    open_session(model, options=options).close()
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before


def test_sigterm_during_a_build_ends_the_sweep_with_130_after_the_build(trt, gpu, tmp_path, default_sigint):
    from edgeprof import cli

    tiny = str(tmp_path / "tiny.onnx")
    shutil.copy(os.path.join(os.path.dirname(HERE), "data", "tiny.onnx"), tiny)
    core.STATE.sidecar = core.write_model(tiny + ".standin.json", inputs=[["input", [-1, 3, 32, 32], "FLOAT"]])
    core.STATE.faults["signal_during_build"] = signal.SIGTERM  # the sweep's handler raises KeyboardInterrupt
    rc = cli.main(["sweep", "--backend", "tensorrt", "--models", tiny, "--out", str(tmp_path / "profiles"),
                   "--batch", "1,2", "--min-seconds", "0.02", "--min-runs", "3", "--warmup-seconds", "0.01",
                   "--warmup-runs", "1", "--power", "none", "--idle-seconds", "0.01",
                   "--engine-cache", str(tmp_path / "cache")])
    assert rc == 130
    assert calls_named("build finished") == ["build finished"] and not calls_named("terminate")


def test_ctrl_c_in_the_layer_profile_interrupts_after_it(trt, gpu, model, options, default_sigint):
    session = open_session(model, options=dict(options, layers=True))
    core.STATE.faults["signal_during_layer_profile"] = signal.SIGINT
    with pytest.raises(KeyboardInterrupt):
        session.describe()
    assert len(calls_named("signal %d handled" % signal.SIGINT)) == 1 and not calls_named("terminate")
    session.close()


def test_ctrl_c_landing_in_the_logger_while_the_engine_loads_interrupts_when_open_returns(
        trt, gpu, model, options, default_sigint):
    open_session(model, options=options).close()  # cached: the next open only deserializes
    core.STATE.faults["signal_during_deserialize"] = signal.SIGINT
    with pytest.raises(KeyboardInterrupt):
        open_session(model, options=options)
    assert not calls_named("terminate") and not calls_named("swallowed")
    assert gpu[-1].closed


def test_an_interrupt_in_the_calibrator_never_reaches_tensorrt(trt, gpu, model, options, tmp_path, monkeypatch):
    numpy = pytest.importorskip("numpy")
    calib = tmp_path / "calib"
    calib.mkdir()
    numpy.save(str(calib / "a.npy"), numpy.ones((2, 3, 8, 8), numpy.float32))

    def interrupted(paths, batch, inputs):
        raise KeyboardInterrupt()
        yield  # a generator, as calibrator.batches

    monkeypatch.setattr("edgeprof.agent.backends.tensorrt.calibrator.batches", interrupted)
    with pytest.raises(KeyboardInterrupt):
        open_session(model, batch=2, precision="int8", options=dict(options, calib_dir=str(calib)))
    assert not calls_named("terminate") and not calls_named("swallowed")


def test_the_logger_keeps_an_interrupt_that_lands_in_it_and_it_is_raised_later(trt, monkeypatch):
    # outside a deferral (a log call while a session runs) the logger must still never raise into TensorRT
    logger = trt_logger.process_logger(trt)

    def interrupted(level, message):
        raise KeyboardInterrupt()

    monkeypatch.setattr(logger, "_keep", interrupted)
    logger.log(trt.ILogger.Severity.ERROR, "x")  # returns
    with pytest.raises(KeyboardInterrupt):
        interrupts.raise_pending()
    interrupts.raise_pending()  # raised once


def test_a_real_sigint_inside_deferred_is_delivered_after_it(default_sigint):
    body_finished = []
    with pytest.raises(KeyboardInterrupt):
        with interrupts.deferred():
            os.kill(os.getpid(), signal.SIGINT)
            for _ in range(20):  # the handler runs in here, and only notes the signal
                time.sleep(0.01)
            body_finished.append(True)
    assert body_finished == [True]


def test_deferred_lets_an_ignored_signal_stay_ignored():
    previous = signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        with interrupts.deferred():
            signal.getsignal(signal.SIGTERM)(signal.SIGTERM, None)  # as if it came during the build
    finally:
        signal.signal(signal.SIGTERM, previous)

