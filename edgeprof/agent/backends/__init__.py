"""Runtimes behind one interface, looked up by name; importing this never imports a runtime.

To add a runtime: write ``edgeprof/agent/backends/<name>.py`` with a :class:`base.Backend`
subclass (its flags, precisions, ``unavailable_reason``, ``open``) and a :class:`base.Session`
subclass, and add one row to :data:`REGISTRY`. ``edgeprof sweep`` and ``edgeprof info`` pick it up
from there: no other file names a backend.
"""
import importlib

from edgeprof.errors import BackendUnavailable, UsageError

# name -> (module, class). Order is the ``auto`` preference.
REGISTRY = (
    ("tensorrt", "edgeprof.agent.backends.tensorrt", "TensorRTBackend"),
    ("onnxruntime", "edgeprof.agent.backends.onnxruntime", "OnnxRuntimeBackend"),
)
NAMES = tuple(name for name, _, _ in REGISTRY)


def backend_class(name):
    """The :class:`base.Backend` subclass for ``name`` (its module imports no runtime)."""
    for known, module, cls in REGISTRY:
        if known == name:
            return getattr(importlib.import_module(module), cls)
    raise UsageError("unknown backend %r; choose one of: auto, %s" % (name, ", ".join(NAMES)))


def classes():
    """Every backend class, in :data:`REGISTRY` order."""
    return [backend_class(name) for name in NAMES]


def precisions():
    """Every ``--precision`` value some backend measures, fp32 first."""
    out = []
    for cls in classes():
        out.extend(p for p in cls.PRECISIONS if p not in out)
    return tuple(out)


def load(name):
    """The backend object for ``name`` (not checked for availability)."""
    return backend_class(name)()


def status():
    """``[(name, reason_or_None)]`` for every backend: ``None`` means usable here."""
    out = []
    for name in NAMES:
        try:
            load(name).probe()
            out.append((name, None))
        except BackendUnavailable as exc:
            out.append((name, str(exc)))
    return out


def choose(name, is_jetson):
    """The backend to use for ``--backend name``; raises with the reason when it cannot run.

    ``auto`` takes the first backend of :data:`REGISTRY` that can run here, skipping those that
    declare ``AUTO_NEEDS_JETSON`` when this is not a Jetson (TensorRT: a Jetson where it is
    importable, else ONNX Runtime).

    Returns:
        (Backend, str): the backend and a one-line note on why it was chosen.
    """
    if name != "auto":
        backend = load(name)
        try:
            backend.probe()
        except BackendUnavailable as exc:
            raise BackendUnavailable("backend %s cannot run here: %s" % (name, exc))
        return backend, "asked for with --backend %s" % name
    reasons = []
    for candidate in NAMES:
        backend = load(candidate)
        if backend.AUTO_NEEDS_JETSON and not is_jetson:
            reasons.append("%s: not a Jetson" % candidate)
            continue
        try:
            backend.probe()
        except BackendUnavailable as exc:
            reasons.append("%s: %s" % (candidate, exc))
            continue
        return backend, "auto: %s (%s)" % (candidate, "; ".join(reasons) or "first choice")
    raise BackendUnavailable("no backend can run here (%s); install onnxruntime: pip install 'edgeprof[ort]'"
                             % "; ".join(reasons))
