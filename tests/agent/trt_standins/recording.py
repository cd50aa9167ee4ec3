"""Record what edgeprof's TensorRT backend does to a stand-in ``tensorrt`` module, for the signature test.

A :class:`Recorder` wraps the stand-ins from the outside, so their modules need no change: it
patches ``__init__``, ``__getattribute__`` and ``__setattr__`` of every class the ``trt_standins``
modules define (undone by :meth:`Recorder.uninstall`), and :attr:`Recorder.module` is a module
proxy to install as ``sys.modules["tensorrt"]``. Only what code in ``sources`` (the backend's
files) does is recorded, each as a :data:`Record`:

- ``call``: a method called on a TensorRT object, or ``__init__`` (``trt.Builder(logger)``, and
  ``trt.ILogger.__init__(self)`` in a subclass); ``npos`` counts ``self``;
- ``get`` / ``set``: an attribute read or assigned on a TensorRT object (a hasattr() probe that
  finds nothing is not recorded);
- ``module-get`` / ``module-call``: ``trt.NAME`` and ``trt.function(...)``;
- ``subclass``: a backend subclass of a TensorRT class (its ILogger, IProfiler, calibrator), when
  first constructed: ``member`` is its name, ``detail`` the names of its public methods;
- ``override``: each of those methods (``log``...), which TensorRT calls back with positional
  arguments where it is one of the base class's; ``detail`` is ``(most positional arguments it
  takes after self, how many it needs, whether it has *args)``.

``cls`` is the name the stand-in module exports for the object's class (its real TensorRT
name, one of ``known_classes`` where given) or None; then ``standin`` (the stand-in class name) and ``origin`` (the recorded call that
returned the object) let the checker name it from the real signatures' return types.
"""
import collections
import inspect
import os
import sys
import threading
import types

Record = collections.namedtuple("Record", ("kind", "cls", "standin", "origin", "member", "npos", "kwnames", "site",
                                           "detail"))

PACKAGE = "trt_standins"
NOT_TENSORRT = ("trt_standins.cuda_standin", "trt_standins.recording")  # the CUDA stand-in, this module
HELPERS = ("State",)  # stand-in machinery, not TensorRT classes
_MISSING = object()


def is_standin_class(klass):
    """Whether ``klass`` stands in for a TensorRT class (not a metaclass, exception or helper of the stand-ins)."""
    module = getattr(klass, "__module__", "") or ""
    return (module.split(".")[0] == PACKAGE and module not in NOT_TENSORRT and not klass.__name__.startswith("_")
            and klass.__name__ not in HELPERS
            and not issubclass(klass, (type, BaseException, threading.local)))


def standin_classes():
    """Every class defined by an imported ``trt_standins`` module (TensorRT stand-ins only)."""
    found = []
    for name, module in sorted(sys.modules.items()):
        if module is None or name.split(".")[0] != PACKAGE or name in NOT_TENSORRT:
            continue
        for value in vars(module).values():
            if isinstance(value, type) and value.__module__ == name and is_standin_class(value) \
                    and value not in found:
                found.append(value)
    return found


def _owner(klass, name):
    """The class of ``klass``'s MRO whose ``__dict__`` holds ``name``, or None."""
    for base in klass.__mro__:
        if name in base.__dict__:
            return base
    return None


def _capacity(function):
    """(positional arguments after self, required ones, has *args) of a Python function."""
    try:
        parameters = list(inspect.signature(function).parameters.values())[1:]
    except (TypeError, ValueError):
        return None
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    required = [p for p in positional if p.default is p.empty]
    return (len(positional), len(required), any(p.kind == p.VAR_POSITIONAL for p in parameters))


class RecordingModule(types.ModuleType):
    """``sys.modules["tensorrt"]`` during a recording: the stand-in module's names, each read recorded."""

    def __init__(self, recorder):
        types.ModuleType.__init__(self, "tensorrt", recorder.standin_module.__doc__)
        self.__dict__["__recorder__"] = recorder

    def __getattr__(self, name):
        recorder = self.__dict__["__recorder__"]
        value = getattr(recorder.standin_module, name)
        frame = sys._getframe(1)
        if recorder.counts(frame) and (not name.startswith("_") or name == "__version__"):
            recorder.add("module-get", None, None, None, name, 0, (), frame)
            if isinstance(value, types.FunctionType):
                return recorder.module_function(name, value)
        return value


class Recorder(object):
    """Records the backend's use of one stand-in ``tensorrt`` module (see the module docstring)."""

    def __init__(self, standin_module, sources, known_classes=None):
        self.standin_module = standin_module
        self.sources = {os.path.realpath(s) for s in sources}
        self.records = []
        self._produced = {}  # id(object) -> (object, the call Record that returned it)
        self._exports = {}
        for name, value in sorted(vars(standin_module).items()):
            # A class can be exported twice (trt_7_1: IBuilderConfig = WorkspaceSizeConfig): keep the TensorRT name.
            if (isinstance(value, type) and is_standin_class(value) and not name.startswith("_")
                    and (known_classes is None or name in known_classes)):
                self._exports.setdefault(value, name)
        self._patched = []
        self._subclasses = []
        self.module = RecordingModule(self)

    # -- who did it --------------------------------------------------------------------------
    def counts(self, frame):
        return os.path.realpath(frame.f_code.co_filename) in self.sources

    def site(self, frame):
        return "%s:%d" % (os.path.basename(frame.f_code.co_filename), frame.f_lineno)

    def naming(self, obj, klass=None):
        """(exported name or None, stand-in class name, origin Record or None) of ``obj`` (or of ``klass``)."""
        klass = klass or type(obj)
        exported = next((self._exports[k] for k in klass.__mro__ if k in self._exports), None)
        standin = next((k.__name__ for k in klass.__mro__ if is_standin_class(k)), klass.__name__)
        produced = self._produced.get(id(obj)) if obj is not None else None
        origin = produced[1] if produced is not None and produced[0] is obj else None
        return exported, standin, origin

    def add(self, kind, cls, standin, origin, member, npos, kwnames, frame, detail=None):
        record = Record(kind, cls, standin, origin, member, npos, tuple(sorted(kwnames)), self.site(frame), detail)
        self.records.append(record)
        return record

    def _returned(self, value, record):
        if value is not None and any(is_standin_class(k) for k in type(value).__mro__):
            self._produced[id(value)] = (value, record)
        return value

    # -- wrappers ----------------------------------------------------------------------------
    def module_function(self, name, function):
        recorder = self

        def recorded(*args, **kwargs):
            frame = sys._getframe(1)
            if recorder.counts(frame):
                recorder.add("module-call", None, None, None, name, len(args), kwargs, frame)
            return function(*args, **kwargs)
        return recorded

    def bound(self, obj, name, value):
        recorder = self
        naming = self.naming(obj)

        def recorded(*args, **kwargs):
            frame = sys._getframe(1)
            record = None
            if recorder.counts(frame):
                record = recorder.add("call", naming[0], naming[1], naming[2], name, 1 + len(args), kwargs, frame)
            result = value(*args, **kwargs)
            return recorder._returned(result, record) if record is not None else result
        return recorded

    def _tensorrt_member(self, obj, name):
        """Whether ``obj.name`` is the stand-in's (TensorRT's), not the backend's own attribute of its subclass."""
        if name.startswith("_"):
            return False
        if is_standin_class(type(obj)):
            return True
        owner = _owner(type(obj), name)
        return owner is not None and is_standin_class(owner)

    def _overrides(self, obj, frame):
        """A ``subclass`` record, and an ``override`` record per public method, of a backend subclass (once)."""
        subclass = type(obj)
        if subclass in self._subclasses:
            return
        self._subclasses.append(subclass)
        exported, standin, _ = self.naming(obj)
        methods = {}
        for klass in reversed(subclass.__mro__):
            if not is_standin_class(klass) and klass is not object:
                methods.update((n, v) for n, v in vars(klass).items()
                               if not n.startswith("_") and isinstance(v, types.FunctionType))
        self.add("subclass", exported, standin, None, subclass.__name__, 0, (), frame, tuple(sorted(methods)))
        for name, value in sorted(methods.items()):
            self.add("override", exported, standin, None, name, 0, (), frame, _capacity(value))

    # -- install / uninstall -------------------------------------------------------------------
    def install(self):
        classes = standin_classes()
        originals = {k: (k.__init__, k.__getattribute__, k.__setattr__) for k in classes}
        for klass in classes:
            init, getattribute, setattr_ = originals[klass]
            for name, wrapper in (("__init__", self._init_wrapper(klass, init)),
                                  ("__getattribute__", self._get_wrapper(getattribute)),
                                  ("__setattr__", self._set_wrapper(setattr_))):
                self._patched.append((klass, name, klass.__dict__.get(name, _MISSING)))
                setattr(klass, name, wrapper)
        return self

    def uninstall(self):
        while self._patched:
            klass, name, before = self._patched.pop()
            if before is _MISSING:
                delattr(klass, name)
            else:
                setattr(klass, name, before)

    def _init_wrapper(self, klass, original):
        recorder = self

        def __init__(obj, *args, **kwargs):
            frame = sys._getframe(1)
            if recorder.counts(frame):
                exported, standin, _ = recorder.naming(None, klass)
                recorder.add("call", exported, standin, None, "__init__", 1 + len(args), kwargs, frame)
                if not is_standin_class(type(obj)):
                    recorder._overrides(obj, frame)
            original(obj, *args, **kwargs)
        return __init__

    def _get_wrapper(self, original):
        recorder = self

        def __getattribute__(obj, name):
            value = original(obj, name)
            if name.startswith("_"):
                return value
            frame = sys._getframe(1)
            if not recorder.counts(frame) or not recorder._tensorrt_member(obj, name):
                return value
            if callable(value) and not isinstance(value, type):
                return recorder.bound(obj, name, value)
            exported, standin, origin = recorder.naming(obj)
            record = recorder.add("get", exported, standin, origin, name, 0, (), frame)
            return recorder._returned(value, record)
        return __getattribute__

    def _set_wrapper(self, original):
        recorder = self

        def __setattr__(obj, name, value):
            frame = sys._getframe(1)
            if recorder.counts(frame) and recorder._tensorrt_member(obj, name):
                exported, standin, origin = recorder.naming(obj)
                recorder.add("set", exported, standin, origin, name, 0, (), frame)
            original(obj, name, value)
        return __setattr__
