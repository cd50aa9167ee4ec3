"""Runtimes behind one interface, looked up by name; importing this never imports a runtime."""
import importlib

from edgeprof.errors import BackendUnavailable, UsageError

# name -> (module, class). Order is the ``auto`` preference on a Jetson.
REGISTRY = (
    ("tensorrt", "edgeprof.agent.backends.tensorrt", "TensorRTBackend"),
    ("onnxruntime", "edgeprof.agent.backends.onnxruntime", "OnnxRuntimeBackend"),
)
NAMES = tuple(name for name, _, _ in REGISTRY)


def load(name):
    """The backend object for ``name`` (not checked for availability)."""
    for known, module, cls in REGISTRY:
        if known == name:
            try:
                mod = importlib.import_module(module)
            except ImportError as exc:  # the module of a backend not built yet
                raise BackendUnavailable("backend %r is not built in this edgeprof: %s" % (name, exc))
            return getattr(mod, cls)()
    raise UsageError("unknown backend %r; choose one of: auto, %s" % (name, ", ".join(NAMES)))


def status():
    """``[(name, reason_or_None)]`` for every backend: ``None`` means usable here."""
    out = []
    for name in NAMES:
        try:
            out.append((name, load(name).available()))
        except BackendUnavailable as exc:
            out.append((name, str(exc)))
    return out


def choose(name, is_jetson):
    """The backend to use for ``--backend name``; raises with the reason when it cannot run.

    ``auto`` picks TensorRT on a Jetson where it is importable, else ONNX Runtime.

    Returns:
        (Backend, str): the backend and a one-line note on why it was chosen.
    """
    if name != "auto":
        backend = load(name)
        reason = backend.available()
        if reason:
            raise BackendUnavailable("backend %s cannot run here: %s" % (name, reason))
        return backend, "asked for with --backend %s" % name
    reasons = []
    for candidate in NAMES:
        if candidate == "tensorrt" and not is_jetson:
            reasons.append("tensorrt: not a Jetson")
            continue
        try:
            backend = load(candidate)
        except BackendUnavailable as exc:
            reasons.append("%s: %s" % (candidate, exc))
            continue
        reason = backend.available()
        if reason is None:
            return backend, "auto: %s (%s)" % (candidate, "; ".join(reasons) or "first choice")
        reasons.append("%s: %s" % (candidate, reason))
    raise BackendUnavailable("no backend can run here (%s); install onnxruntime: pip install 'edgeprof[ort]'"
                             % "; ".join(reasons))
