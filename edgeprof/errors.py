"""The one error family of edgeprof.

The CLI turns any :class:`EdgeprofError` into a one-line message on stderr and exit
status 2. Messages say what happened and what to do next, naming the file or flag.

"Cannot run here" has one convention for every plugin: a backend's or a sensor's ``probe()``
returns the usable thing or raises an :class:`Unavailable` whose message is the one-line reason
(``edgeprof info`` lists those reasons; ``auto`` moves on to the next candidate).
"""


class EdgeprofError(Exception):
    """Base class: a problem the user can fix (bad input, missing file, missing runtime)."""


class UsageError(EdgeprofError):
    """A flag or argument value that makes no sense."""


class InputFileError(EdgeprofError):
    """A file given to edgeprof is missing, unreadable or malformed."""


class ProfileError(InputFileError):
    """A profile file does not follow the profile schema."""


class MissingDependency(EdgeprofError):
    """A command needs a library that is not installed here; the message names the install line."""


class Unavailable(EdgeprofError):
    """A backend or sensor cannot be used on this machine; the message is the reason."""


class BackendUnavailable(Unavailable):
    """The runtime asked for cannot run on this machine; the message says why."""


class SensorError(Unavailable):
    """A power sensor cannot be opened here (its reads never raise: they record a reason)."""


class BackendError(EdgeprofError):
    """A runtime failed on one model (build, shape, enqueue, a CUDA call); the sweep records the run
    as ``status: error`` with this message and goes on."""


class EngineLoadError(BackendError):
    """TensorRT could not deserialize an engine (a cached one is then rebuilt)."""


class OutOfMemory(EdgeprofError):
    """A runtime could not allocate what a run needs (recorded as ``status: oom``)."""


class ExportError(EdgeprofError):
    """An export failed its checks (ONNX Runtime and PyTorch disagree) or some models failed."""


class LockHeld(EdgeprofError):
    """Another sweep holds the lock of the output folder."""


def require(module, purpose, install):
    """Import ``module`` or raise :class:`MissingDependency` saying what needs it and how to install it.

    Args:
        module (str): the module to import (``onnx``, ``matplotlib``).
        purpose (str): what needs it, as the start of a sentence (``edgeprof report``).
        install (str): the install line (``pip install 'edgeprof[report]'``).
    """
    import importlib
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependency("%s needs %s, which is not installed here (%s); install it with: %s"
                                % (purpose, module, exc, install))
