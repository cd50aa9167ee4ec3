"""One root for every read of the machine (sysfs, procfs, /etc), settable by ``EDGEPROF_ROOT``.

Tests point ``EDGEPROF_ROOT`` at a fixture tree that mirrors a real board's layout, so
the same code that reads ``/sys/...`` on a Jetson reads ``tests/fixtures/tx2/sys/...``.
All helpers tolerate missing or unreadable files: they return ``None`` (or an empty list).

``edgeprof doctor --capture`` records which machine paths these helpers touched
(:func:`recording`) and copies exactly those files into an archive whose root is the machine
root: the archive unpacked is a fixture tree. Recording costs one test of a module global per
call and is off unless a capture runs; the sampler's hot path (``sensors.base.read_sysfs_number``
on host paths) never comes through here.
"""
import contextlib
import glob
import os

# The machine paths touched while a :func:`recording` block runs, or None (not recording).
_recorded = None


def root():
    """The root path of the machine being read (default ``/``)."""
    return os.environ.get("EDGEPROF_ROOT") or "/"


def path(abs_path):
    """Map an absolute machine path like ``/sys/class/thermal`` under the root."""
    return os.path.join(root(), abs_path.lstrip("/"))


def machine_path(host_path):
    """The machine path (``/sys/...``) of a host path under the root (the inverse of :func:`path`)."""
    return "/" + os.path.relpath(host_path, root()).lstrip("/")


def note(abs_path):
    """Record ``abs_path`` as read (for a capture); a no-op unless :func:`recording` is active."""
    if _recorded is not None:
        _recorded.add(abs_path)


@contextlib.contextmanager
def recording():
    """``with recording() as touched:`` the machine paths (a set) read, listed or tested in the block."""
    global _recorded
    saved, _recorded = _recorded, set()
    try:
        yield _recorded
    finally:
        touched, _recorded = _recorded, saved
        if saved is not None:
            saved.update(touched)


def glob_paths(pattern):
    """Sorted machine paths (not host paths) matching ``pattern`` under the root."""
    base = root()
    found = sorted("/" + os.path.relpath(p, base) for p in glob.glob(path(pattern)))
    if _recorded is not None:
        _recorded.update(found)
    return found


def exists(abs_path):
    note(abs_path)
    return os.path.exists(path(abs_path))


def listdir(abs_path):
    """Sorted names in a machine folder (empty when it cannot be listed)."""
    note(abs_path)
    try:
        return sorted(os.listdir(path(abs_path)))
    except OSError:
        return []


def read_text(abs_path):
    """The stripped text of a file, or ``None`` when it is missing or unreadable.

    Device-tree strings end in NUL bytes; those are stripped too.
    """
    note(abs_path)
    try:
        with open(path(abs_path), "rb") as f:
            data = f.read()
    except (IOError, OSError):
        return None
    return data.decode("utf-8", "replace").strip().strip("\x00").strip()


def read_number(abs_path):
    """A file holding one number, as int (or float), or ``None`` when missing or not a number.

    A unit after the number is ignored: NVIDIA's iio INA3221 driver writes ``"3000 ma"`` in its
    ``crit_current_limit_<N>`` files (``OE4T/linux-tegra-4.9`` ``drivers/staging/iio/meter/ina3221.c``,
    ``ina3221_show_channel``: ``snprintf(buf, PAGE_SIZE, "%d ma\\n", current_ma)``).
    """
    text = read_text(abs_path)
    if not text:
        return None
    word = text.split()[0]
    try:
        return int(word)
    except ValueError:
        try:
            return float(word)
        except ValueError:
            return None
