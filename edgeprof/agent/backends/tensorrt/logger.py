"""One TensorRT logger per process; what it hears goes to the current open's :class:`LogCapture`.

TensorRT 8.0-8.3 (8.2 is JetPack 4.6) keeps a single global logger while any builder, runtime or
refitter lives: one created with another logger warns "The logger passed into createInferRuntime
differs from one already provided ... the existing value ... will be used instead" and uses the first
(NVIDIA/TensorRT#1475 on 8.0.1, #1539). A logger per session would then never see the session's
errors. So each ``tensorrt`` module gets one :class:`CapturingLogger` (:func:`process_logger`), and
every open starts a capture (:meth:`CapturingLogger.start_capture`) that its messages go to.

TensorRT calls ``log`` for every message from C++, and on 8.2 that call is noexcept (8.2
``pyCore.cpp:396-403``): ``log`` never raises; an interrupt landing in it is kept by
:func:`interrupts.keep` (see that module).
"""
import logging
import re

from edgeprof.agent.backends.tensorrt import interrupts

log = logging.getLogger("edgeprof.tensorrt")

# A Jetson build short of memory logs WARNINGs, "Tactic Device request: 4364MB Available: 3788MB. Device
# memory is insufficient to use tactic." and "Skipping tactic ... due to insuficient memory" (TensorRT's
# typo; open-mmlab/mmdeploy#1059, ultralytics/ultralytics#14751, NVIDIA/TensorRT#1661), then builds a
# slower engine or fails with only "Could not find any implementation for node ..." as its ERROR
# (dusty-nv/jetson-inference#1499, wang-xinyu/tensorrtx#855).
MEMORY_WARNING_RE = re.compile(r"memory is insuf+icient|insuf+icient (device )?memory", re.IGNORECASE)
NO_IMPLEMENTATION = "could not find any implementation"

_LOGGERS = {}  # id(tensorrt module) -> (module, its CapturingLogger)


class LogCapture(object):
    """What TensorRT logged during one open: its errors and its memory warnings, in order."""

    def __init__(self):
        self.errors = []
        self.memory_warnings = []

    def detail(self, since=0, last=2, default="no detail"):
        """The last ``last`` errors logged after the first ``since``, joined, else ``default``."""
        return "; ".join(self.errors[since:][-last:]) or default


def process_logger(trt):
    """The one :class:`CapturingLogger` of this ``tensorrt`` module, created on first use."""
    entry = _LOGGERS.get(id(trt))
    if entry is None or entry[0] is not trt:
        entry = _LOGGERS[id(trt)] = (trt, _make_logger(trt))
    return entry[1]


def _make_logger(trt):
    severity = trt.ILogger.Severity
    errors = (severity.ERROR, severity.INTERNAL_ERROR)

    class CapturingLogger(trt.ILogger):
        """Keeps errors and memory warnings in the current capture; everything else goes to the debug log."""

        def __init__(self):
            trt.ILogger.__init__(self)
            self.capture = LogCapture()

        def start_capture(self):
            """Send what follows to a new :class:`LogCapture`, and return it."""
            self.capture = LogCapture()
            return self.capture

        def log(self, level, message):
            try:
                self._keep(level, message)
            except BaseException as exc:  # nothing may escape into TensorRT (noexcept on 8.2)
                interrupts.keep(exc)

        def _keep(self, level, message):
            if level in errors:
                self.capture.errors.append(message)
                log.debug("TensorRT error: %s", message)
            elif level == severity.WARNING:
                if MEMORY_WARNING_RE.search(message):
                    self.capture.memory_warnings.append(message)
                log.debug("TensorRT warning: %s", message)

    return CapturingLogger()
