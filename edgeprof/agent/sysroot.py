"""One root for every read of the machine (sysfs, procfs, /etc), settable by ``EDGEPROF_ROOT``.

Tests point ``EDGEPROF_ROOT`` at a fixture tree that mirrors a real board's layout, so
the same code that reads ``/sys/...`` on a Jetson reads ``tests/fixtures/tx2/sys/...``.
All helpers tolerate missing or unreadable files: they return ``None``.
"""
import glob
import os


def root():
    """The root path of the machine being read (default ``/``)."""
    return os.environ.get("EDGEPROF_ROOT") or "/"


def path(abs_path):
    """Map an absolute machine path like ``/sys/class/thermal`` under the root."""
    return os.path.join(root(), abs_path.lstrip("/"))


def glob_paths(pattern):
    """Sorted machine paths (not host paths) matching ``pattern`` under the root."""
    base = root()
    found = glob.glob(path(pattern))
    return sorted("/" + os.path.relpath(p, base) for p in found)


def exists(abs_path):
    return os.path.exists(path(abs_path))


def read_text(abs_path):
    """The stripped text of a file, or ``None`` when it is missing or unreadable.

    Device-tree strings end in NUL bytes; those are stripped too.
    """
    try:
        with open(path(abs_path), "rb") as f:
            data = f.read()
    except (IOError, OSError):
        return None
    return data.decode("utf-8", "replace").strip().strip("\x00").strip()


def read_number(abs_path):
    """A file holding one number, as int (or float), or ``None`` when missing or not a number."""
    text = read_text(abs_path)
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return None
