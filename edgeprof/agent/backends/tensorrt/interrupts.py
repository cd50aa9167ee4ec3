"""Ctrl-C and SIGTERM while TensorRT runs Python callbacks: held until TensorRT returns, then delivered.

While it builds (with the GIL released: 8.2 ``pyCore.cpp:838-839``), TensorRT calls back into Python
for every log message, VERBOSE included, and for every int8 calibration batch; while the layer profile
runs it calls the profiler for every layer. Python runs signal handlers between bytecodes of the main
thread, so the KeyboardInterrupt of Ctrl-C (or of the sweep's SIGTERM handler) is raised inside one of
those callbacks. On TensorRT <= 8.2 they are ``noexcept`` with no try/catch (8.2 ``pyCore.cpp:396-403``,
``pyInt8.cpp:39-45``): ``std::terminate``, exit status 134, no summary. From 8.4 the bindings catch and
print it (8.4 ``pyCore.cpp:376-384``, 10.13 ``:945-963``): the interrupt is lost and the build goes on.

So :func:`deferred` (around all of ``TensorRTBackend.open`` and around the layer profile) swaps in SIGINT
and SIGTERM handlers that only note the signal while TensorRT runs, then restores the previous handlers
and hands them the signals that came: Python's SIGINT handler and the sweep's SIGTERM handler raise
KeyboardInterrupt, so the sweep still ends with exit status 130, after the build. The callbacks never raise into TensorRT: an interrupt one catches (outside a deferral, e.g. a log
call during a timed run) is kept (:func:`keep`) and raised by :func:`raise_pending` once TensorRT has
returned (at the end of a deferral, or when the session closes).
"""
import contextlib
import logging
import os
import signal
import threading

log = logging.getLogger("edgeprof.tensorrt")

SIGNALS = (signal.SIGINT, signal.SIGTERM)
_pending = []  # interrupts caught inside callbacks, raised again by raise_pending()


def keep(exc):
    """Keep what a TensorRT callback caught: an interrupt is raised again by :func:`raise_pending`."""
    if isinstance(exc, (KeyboardInterrupt, SystemExit)):
        _pending.append(exc)
    else:
        log.debug("a TensorRT callback failed (dropped, never raised into TensorRT): %r", exc)


def raise_pending():
    """Raise the first interrupt a callback kept since the last call, if any."""
    if _pending:
        exc = _pending[0]
        del _pending[:]
        raise exc


def _deliver(signum, handler):
    """What the signal would have done had it come now: run the previous handler, or the default action."""
    if callable(handler):
        handler(signum, None)
    elif handler == signal.SIG_DFL:
        os.kill(os.getpid(), signum)  # the previous handler is back in place: the default action happens


@contextlib.contextmanager
def deferred():
    """Hold SIGINT and SIGTERM while the body runs TensorRT; deliver them, and kept interrupts, after it.

    Off the main thread nothing is swapped: Python runs signal handlers in the main thread only.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    came = []

    def note(signum, frame):
        if signum not in came:
            came.append(signum)

    previous = [(signum, signal.signal(signum, note)) for signum in SIGNALS]
    try:
        yield
    finally:
        for signum, handler in previous:
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)  # None: set outside Python
        for signum in came:
            _deliver(signum, dict(previous)[signum])
    raise_pending()
