"""Files edgeprof writes and checks: atomic writes and sha256 digests.

Every file edgeprof writes (profiles, the manifest, engines, reports) goes through
:func:`write_atomic`: a temp file in the same folder, fsync, rename, then an fsync of the folder,
so a process killed at any moment leaves the old file or the new one, never half of one.
"""
import hashlib
import os
import tempfile

HASH_CHUNK_BYTES = 1 << 20


def write_atomic(path, data):
    """Write ``data`` to ``path`` atomically.

    Args:
        path (str): the file to write; its folder is created if missing.
        data (str, bytes, or a list of bytes chunks): the whole content.
    """
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        os.makedirs(folder)
    chunks = [data] if isinstance(data, (str, bytes)) else data
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=folder)
    try:
        os.fchmod(fd, _file_mode(path))  # mkstemp makes it 0600; give it what open() would
        with os.fdopen(fd, "wb") as f:
            for chunk in chunks:
                f.write(chunk.encode("utf-8") if isinstance(chunk, str) else chunk)
            f.flush()
            os.fsync(f.fileno())
        os.rename(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    _fsync_folder(folder)


def remove_leftovers(folder):
    """Delete the temp files a writer killed inside :func:`write_atomic` left in ``folder``.

    Call it only while holding the folder's lock (no other writer can be half-way). Returns the
    names removed.
    """
    removed = []
    try:
        names = os.listdir(folder)
    except OSError:
        return removed
    for name in names:
        if name.startswith(".") and name.endswith(".tmp") and name.count(".") >= 3:
            try:
                os.unlink(os.path.join(folder, name))
                removed.append(name)
            except OSError:
                pass
    return removed


def _file_mode(path):
    """The mode ``open(path, "w")`` leaves: the file's own where it exists, else 0666 less the umask."""
    try:
        return os.stat(path).st_mode & 0o7777
    except OSError:
        pass
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _fsync_folder(folder):
    """Make the rename itself durable (best effort: some filesystems refuse a folder fsync)."""
    try:
        dir_fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


def sha256_file(path):
    """The sha256 hex digest of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(HASH_CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()
