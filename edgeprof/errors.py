"""The one error family of edgeprof.

The CLI turns any :class:`EdgeprofError` into a one-line message on stderr and exit
status 2. Messages say what happened and what to do next, naming the file or flag.
"""


class EdgeprofError(Exception):
    """Base class: a problem the user can fix (bad input, missing file, missing runtime)."""


class UsageError(EdgeprofError):
    """A flag or argument value that makes no sense."""


class InputFileError(EdgeprofError):
    """A file given to edgeprof is missing, unreadable or malformed."""


class ProfileError(InputFileError):
    """A profile file does not follow the profile schema."""


class BackendUnavailable(EdgeprofError):
    """The runtime asked for cannot run on this machine; the message says why."""


class SensorError(EdgeprofError):
    """A power sensor could not be opened or read."""


class OutOfMemory(EdgeprofError):
    """A runtime could not allocate what a run needs (recorded as ``status: oom``)."""


class LockHeld(EdgeprofError):
    """Another sweep holds the lock of the output folder."""
