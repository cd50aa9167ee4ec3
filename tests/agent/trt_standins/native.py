"""What the stand-ins model of TensorRT's C++ side and its pybind11 bindings, beyond names and call shapes.

- **CUDA context (S4)**: TensorRT objects create and free device memory and handles in whatever CUDA
  context is current in the calling thread, their destructors too (TRT's engine and builder destructors
  call cudaFree and destroy handles: review finding 3, pycuda ``src/cpp/cuda.hpp``). The stand-in CUDA
  layer (cuda_standin.py) pushes itself here inside ``active()``; a :class:`Native` object made or dropped
  with no live context current is recorded in ``STATE.violations`` (the tests assert it stays empty).
- **One logger (S5)**: TensorRT 8.0-8.3 keeps a single logger while any builder, runtime or refitter
  lives; one made with another logger warns and uses the first (NVIDIA/TensorRT#1475 on 8.0.1, #1539;
  said fixed in 8.4.1).
- **Callbacks (S6)**: Python code TensorRT calls from C++ (``ILogger.log``, the calibrator's ``get_batch``,
  ``IProfiler.report_layer_time``). On 8.2 those trampolines are noexcept with no try/catch (release/8.2
  ``python/src/infer/pyCore.cpp:396-403``, ``pyInt8.cpp:39-45``): an exception is ``std::terminate``
  (:class:`Terminate` here). From 8.4 they catch and print it (release/8.4 ``pyCore.cpp:376-384``; 8.5
  ``:495-507``; 10.13 ``:945-963``; ``pyInt8.cpp`` 8.4/8.5 ``:52-56``). A signal that arrived while C++
  ran (GIL released in ``build_serialized_network``: 8.2 ``pyCore.cpp:838-839``) has its Python handler
  run at the next Python bytecode, which is in the next callback: :func:`call_back` runs it there.
- **Overloads**: a method pybind11 binds more than once takes a call that fits any one of them, tried in order
  (:func:`overloaded`; e.g. 10.x ``ICudaEngine.create_execution_context``).
- **pybind11 base classes (S12)**: a Python subclass of a bound class that overrides ``__init__`` without
  calling the base ``__init__`` gets ``TypeError: ... __init__() must be called when overriding __init__``
  (pybind11 ``include/pybind11/detail/class.h``, ``pybind11_meta_call``; the review gives no line).
"""
import functools
import inspect
import signal
import sys
import threading

from trt_standins.state import STATE, Severity, record

TERMINATE = "terminate"  # 7.1, 8.2: an exception escaping a callback aborts the process
SWALLOW = "swallow"  # 8.4+: the bindings print it and go on


class Terminate(BaseException):
    """``std::terminate``: a Python exception escaped a noexcept TensorRT callback (the process aborts, 134)."""


class _Current(threading.local):
    def __init__(self):
        self.stack = []


_CURRENT = _Current()


def push_context(context):
    _CURRENT.stack.append(context)


def pop_context():
    _CURRENT.stack.pop()


def current_context():
    """The stand-in CUDA layer current in this thread (inside its ``active()``), or None."""
    return _CURRENT.stack[-1] if _CURRENT.stack else None


def _live(context):
    return context is not None and not context.closed and not context.sticky


class Native(object):
    """A TensorRT object with device state: made and dropped with a live CUDA context current."""

    def __init__(self):
        self._cuda_context = current_context()
        self._device_bytes = 0
        if not _live(self._cuda_context):
            STATE.violations.append("%s made with no live CUDA context current" % type(self).__name__)
        STATE.alive.add(self)

    def _hold_device_memory(self, nbytes):
        """Take ``nbytes`` of device memory in the current context until this object goes."""
        if _live(self._cuda_context):
            self._cuda_context.reserve(id(self), nbytes)
            self._device_bytes = nbytes

    def __del__(self):
        try:
            self._dropped()
        except Exception:  # interpreter shutdown: the module globals may be gone
            pass

    def _dropped(self):
        made_in = self._cuda_context
        if self._device_bytes and made_in is not None:
            made_in.unreserve(id(self))
        current = current_context()
        if _live(current) and current is made_in:
            return
        if made_in is not None and made_in.sticky:
            STATE.lost.append(type(self).__name__)  # its context broke: nothing can free it properly
            return
        why = ("none current" if current is None else "another context current" if _live(current)
               else "the current one is closed")
        STATE.violations.append("%s dropped with no live CUDA context current (%s)" % (type(self).__name__, why))


def alive(cls):
    """How many stand-in objects of class ``cls`` (or a subclass) are alive now."""
    return sum(1 for obj in list(STATE.alive) if isinstance(obj, cls))


def alive_on(side):
    """The class names of the live objects of one ``side`` ("builder" or "runtime"), sorted, or "nothing"."""
    names = sorted(set(type(obj).__name__ for obj in list(STATE.alive) if getattr(obj, "side", None) == side))
    return ", ".join(names) or "nothing of a %s" % side


LOGGER_DIFFERS = ("The logger passed into %s differs from one already provided for an existing builder, runtime, "
                  "or refitter. TensorRT maintains only a single logger pointer at any given time, so the existing "
                  "value, which can be retrieved with getLogger(), will be used instead. In order to use a new "
                  "logger, first destroy all existing builder, runner or refitter objects.")


class Logs(object):
    """Logs through ``self._logger`` as TensorRT calls Python loggers (``self._callbacks``: see :func:`call_back`)."""

    def _log(self, severity, message):
        call_back(self._callbacks, "log", self._logger.log, severity, message)


class LoggerUser(Logs, Native):
    """A Builder or Runtime: it takes a logger (kept alive: keep_alive<1,2>, 8.2 ``pyCore.cpp:819``)."""

    single_logger = False  # True on 7.1 and 8.0-8.3: one global logger while any user lives
    callbacks = TERMINATE
    factory = "createInferBuilder"

    def __init__(self, logger):
        Native.__init__(self)
        if self.single_logger:
            for other in list(STATE.logger_users):
                if other._logger is not logger:
                    record("logger differs: %s" % self.factory)
                    call_back(self.callbacks, "log", other._logger.log, Severity.WARNING, LOGGER_DIFFERS % self.factory)
                    logger = other._logger
                break
        self._logger = logger
        self._callbacks = self.callbacks
        STATE.logger_users.add(self)


def signal_arrives(fault):
    """The signal of fault ``fault`` (once) arrives now, while "C++" runs: its handler runs in the next callback."""
    signum = STATE.faults.pop(fault, None)
    if signum is not None:
        STATE.pending_signal = signum


def deliver_pending_signal():
    """Run the Python handler of a signal that came while TensorRT's C++ code ran (see the module doc)."""
    signum, STATE.pending_signal = STATE.pending_signal, None
    if signum is not None:
        handler = signal.getsignal(signum)
        record("signal %d handled" % signum)
        if callable(handler):
            handler(signum, None)


def call_back(callbacks, what, function, *args):
    """Call Python code from "C++" as the bindings of this version do (``callbacks``: TERMINATE or SWALLOW)."""
    try:
        deliver_pending_signal()
        return function(*args)
    except BaseException as exc:
        if callbacks == TERMINATE:
            record("terminate in %s: %s" % (what, type(exc).__name__))
            raise Terminate("terminate called after throwing an instance of 'pybind11::error_already_set' "
                            "(%s in %s)" % (type(exc).__name__, what))
        record("swallowed in %s: %s" % (what, type(exc).__name__))
        sys.stderr.write("[ERROR] Exception caught in %s(): %s\n" % (what, exc))
        return None


class PybindMeta(type):
    """Refuses instances whose pybind11 base ``__init__`` did not run (S12)."""

    def __call__(cls, *args, **kwargs):
        instance = type.__call__(cls, *args, **kwargs)
        for base in cls.__mro__:
            if base.__dict__.get("_pybind_base") and not instance.__dict__.get("_init_" + base.__name__):
                raise TypeError("tensorrt.tensorrt.%s.__init__() must be called when overriding __init__"
                                % base.__name__)
        return instance


class BoundBase(object, metaclass=PybindMeta):
    """A bound class Python code subclasses (ILogger, IProfiler, IInt8EntropyCalibrator2)."""

    def _bound_init(self, base):
        self.__dict__["_init_" + base.__name__] = True


def overloaded(*signatures):
    """A method bound with several pybind11 overloads, one per function of ``signatures`` (each ``(self, ...)``,
    only its parameters matter). A call takes the first overload its arguments bind to, as pybind11 tries them
    in order; the decorated body gets ``(self, index of that overload, {argument name: value})``. None fits:
    TypeError "incompatible function arguments", as pybind11 says. ``method.overloads`` keeps ``signatures``
    (test_tensorrt_standin_signatures.py checks each against the real ones)."""

    def decorate(body):
        @functools.wraps(body)
        def method(self, *args, **kwargs):
            for index, signature in enumerate(signatures):
                try:
                    bound = inspect.signature(signature).bind(self, *args, **kwargs)
                except TypeError:
                    continue
                bound.apply_defaults()
                arguments = dict(bound.arguments)
                del arguments["self"]
                return body(self, index, arguments)
            raise TypeError("%s(): incompatible function arguments" % body.__name__)

        method.overloads = signatures
        return method

    return decorate
