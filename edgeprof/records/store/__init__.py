"""An index of the profile store: each profile's summary in SQLite, so a second read parses no YAML.

Why: a lab's results folder holds thousands of profiles, and ``compare``, ``report`` and ``table``
read all of them every time; parsing is almost all of that time. The index keeps, per profile file,
its summary (:mod:`.summary`), keyed by the file's real path and by the size, mtime and inode of the
file and of its accuracy record (:func:`edgeprof.records.accuracy.sibling_path`, which
:func:`edgeprof.records.profile.load` attaches): a file whose stamp changed, or that is new, is
parsed again (in worker processes where there are many and cores allow), and the rows of files
that disappeared from the folders read are dropped.

The YAML files stay the only source of truth. Whatever goes wrong with the index (missing, from
another schema or edgeprof version, corrupt, locked by another writer past the busy timeout,
unwritable) the files are read as if there were none, and the index is made again where it can
be; the user never sees an error from it. Updates are one transaction in WAL mode (:mod:`.db`), so a
concurrent reader sees the old index or the new one, never half of one; a sweep replaces a profile
by rename (new inode and mtime), and the stamp is taken before the file is read, so a file changed
during a read is parsed again next time. An entry whose file changed less than ``db.RACY_NS`` before
it was indexed is not trusted (a file rewritten in place within the file system's timestamp
granularity could keep its stamp: git's "racy" index entries); it is parsed again until it is older.

Where: ``$EDGEPROF_INDEX`` (a file; ``off`` to bypass), else
``$XDG_CACHE_HOME/edgeprof/index-<hash of the inputs' common folder>.sqlite`` (default ``~/.cache``):
outside the results folders, which users often commit (docs/analysis.md).
"""
import contextlib
import gc
import hashlib
import json
import logging
import os
import sqlite3
import sys
import time

from edgeprof.errors import EdgeprofError
from edgeprof.records import accuracy
from edgeprof.records.store import db
from edgeprof.records.store.summary import digests, join, parse, summarize  # noqa: F401 (the interface)

log = logging.getLogger(__name__)

ENV = "EDGEPROF_INDEX"
OFF = ("off", "none", "no", "0")
PARALLEL_FROM = 48   # files to parse: fewer are parsed here (starting processes costs more)
CHUNK = 16           # files per task sent to a worker
DECODE_CHUNK = 500   # rows decoded by one json.loads (which shares their key strings)
PROGRESS_EVERY_S = 2.0
NO_INDEX_HELP = ("read every profile file, not the index of their summaries (a cache; see docs/analysis.md; "
                 "EDGEPROF_INDEX=off does the same)")


def index_path(paths):
    """The index file for ``paths`` (profile files and folders), or None when ``$EDGEPROF_INDEX`` is off."""
    given = os.environ.get(ENV, "").strip()
    if given.lower() in OFF:
        return None
    if given:
        return given
    folders = [os.path.realpath(p) for p in set(p if os.path.isdir(p) else os.path.dirname(p) or "." for p in paths)]
    root = os.path.commonpath(folders) if folders else os.path.realpath(".")
    cache = os.environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(cache):  # the XDG base directory spec: a relative value is to be ignored
        cache = os.path.join(os.path.expanduser("~"), ".cache")
    digest = hashlib.sha256(root.encode("utf-8", "surrogateescape")).hexdigest()[:16]
    return os.path.join(cache, "edgeprof", "index-%s.sqlite" % digest)


class _Folders(object):
    """Real paths and listings of folders, each looked up once (a lab's folder has thousands of files)."""

    def __init__(self):
        self.real = {}
        self.names = {}

    def realpath(self, path):
        folder, name = os.path.split(os.path.abspath(path))
        if folder not in self.real:
            self.real[folder] = os.path.realpath(folder)
        return os.path.join(self.real[folder], name)

    def has(self, path):
        folder, name = os.path.split(path)
        if folder not in self.names:
            try:
                self.names[folder] = set(os.listdir(folder))
            except OSError:
                self.names[folder] = set()
        return name in self.names[folder]


def _file_stamp(path):
    st = os.stat(path)
    return "%d:%d:%d" % (st.st_size, st.st_mtime_ns, st.st_ino), st.st_mtime_ns


def stamp(path, folders=None):
    """``(stamp, newest mtime in ns)`` of a profile and its accuracy record, or ``(None, None)``."""
    try:
        own, newest = _file_stamp(path)
    except OSError:
        return None, None
    sibling, sibling_mtime = "-", 0
    record = accuracy.sibling_path(path)
    if folders is None or folders.has(record):
        try:
            sibling, sibling_mtime = _file_stamp(record)
        except OSError:
            pass
    return own + "|" + sibling, max(newest, sibling_mtime)


def _cpus():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class Progress(object):
    """``loaded 4,000/10,002 profiles`` on stderr every :data:`PROGRESS_EVERY_S` once loading takes that long."""

    def __init__(self, total, stream=None):
        self.total = total
        self.done = 0
        self.stream = stream or sys.stderr
        self.started = self.last = time.time()
        self.shown = False

    def add(self, count=1):
        self.done += count
        now = time.time()
        if now - self.last >= PROGRESS_EVERY_S:
            self.last = now
            self.shown = True
            self.stream.write("loaded {:,}/{:,} profiles\n".format(self.done, self.total))
            self.stream.flush()

    def finish(self, parsed):
        if self.shown:
            self.stream.write("loaded {:,} profiles ({:,} parsed, {:,} from the index) in {:.1f} s\n".format(
                self.total, parsed, self.total - parsed, time.time() - self.started))


def _parse_all(items, progress):
    """Parse ``items`` ([(path, stamp)]): in a pool of processes where there are many and cores allow."""
    workers = min(_cpus(), (len(items) + CHUNK - 1) // CHUNK)
    if len(items) < PARALLEL_FROM or workers < 2:
        for item in items:
            yield parse(item)
            progress.add()
        return
    import multiprocessing
    # fork (the Linux default) copies this process as it is: no index connection is open at this point
    pool = multiprocessing.Pool(workers)
    try:
        for result in pool.imap_unordered(parse, items, CHUNK):
            yield result
            progress.add()
        pool.close()
    finally:
        pool.terminate()
        pool.join()


class Stats(object):
    """What the last :func:`load` did: ``parsed`` files, ``indexed`` (read from the index), ``index`` path."""

    def __init__(self, parsed=0, indexed=0, index=None):
        self.parsed, self.indexed, self.index = parsed, indexed, index


last = Stats()


def _decode_rows(chunks):
    """``{path: row}`` of lists of ``(path, row JSON)``, decoded a list at a time (all the texts of a lab's
    folder at once would double the peak memory); a row that does not decode is left out (parsed again)."""
    out = {}
    for chunk in chunks:
        try:
            rows = json.loads("[" + ",".join(text for _, text in chunk) + "]")
        except ValueError:
            rows = []
            for _, text in chunk:
                try:
                    rows.append(json.loads(text))
                except ValueError:
                    rows.append(None)
        out.update((path, row) for (path, _), row in zip(chunk, rows) if isinstance(row, dict))
    return out


@contextlib.contextmanager
def _no_collection():
    """The cyclic garbage collector paused: decoding makes millions of objects and no garbage, and each
    collection would walk them all (a fifth of the decoding time)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _drain(pairs):
    """``pairs`` in lists of :data:`DECODE_CHUNK`, taken off the list as they go (each text is freed once decoded)."""
    while pairs:
        chunk = pairs[-DECODE_CHUNK:]
        del pairs[-DECODE_CHUNK:]
        yield chunk


def _from_index(where, stamps, folders):
    """``({path: row}, {digest: part}, [vanished paths])`` from the index at ``where`` (empty when unusable)."""
    index = db.open_index(where, log)
    if index is None:
        return {}, {}, []
    try:
        index.begin_read()
        rows = _decode_rows(index.current_rows(dict((r, s[0]) for r, s in stamps.items() if s[0] is not None)))
        needs = dict((path, digests(row)) for path, row in rows.items())
        parts = dict((d, json.loads(t)) for d, t in index.parts(set(d for n in needs.values() for d in n)).items())
        gone = index.vanished(folders, stamps)
        index.end_read()
    except (sqlite3.Error, ValueError, KeyError, TypeError, AttributeError) as exc:
        log.debug("profile index %s not read: %s", where, exc)
        return {}, {}, []
    finally:
        index.close()
    return dict((p, r) for p, r in rows.items() if all(d in parts for d in needs[p])), parts, gone


def load(files, folders=(), use_index=True):
    """Summaries of the profiles ``files`` (:func:`summarize`), in that order, through the index.

    Args:
        files (list of str): profile files (:func:`edgeprof.records.profile.iter_profile_files`).
        folders (list of str): the paths they were found under: rows of files that vanished from those
            that are folders are dropped from the index.
        use_index (bool): False (``--no-index``) reads every file and leaves the index alone.

    Raises:
        InputFileError, ProfileError: the first broken file, as :func:`edgeprof.records.profile.load`.
    """
    global last
    seen = _Folders()
    real = [seen.realpath(f) for f in files]
    stamps = dict((r, stamp(r, seen)) for r in real)
    where = index_path(folders or files) if use_index else None
    scanned = [seen.realpath(f) for f in folders if os.path.isdir(f)]
    with _no_collection():
        rows, parts, gone = _from_index(where, stamps, scanned) if where else ({}, {}, [])
    progress = Progress(len(stamps))
    progress.add(len(rows))
    todo = [(r, stamps[r][0]) for r in stamps if r not in rows]
    objects, entries, new_parts, failed = {}, [], {}, []
    for path, file_stamp, text, its_parts, other in _parse_all(todo, progress):
        if text is not None:
            new_parts.update(its_parts)
            entries.append((path, file_stamp, stamps[path][1], text, sorted(its_parts)))
        elif isinstance(other, EdgeprofError):
            failed.append((path, other))
        else:
            objects[path] = other
    if where and (entries or gone):  # also before a broken file stops the read: the others stay indexed
        _write(where, [e for e in entries if e[1] is not None], new_parts, gone)
    if failed:  # the first in the order given, as a serial read would have named it
        order = dict((r, n) for n, r in enumerate(real))
        raise min(failed, key=lambda f: order[f[0]])[1]
    pairs = [(e[0], e[3]) for e in entries]
    del entries
    with _no_collection():
        parts.update((d, json.loads(t)) for d, t in new_parts.items() if d not in parts)
        rows.update(_decode_rows(_drain(pairs)))
        by_path = dict((path, join(row, parts)) for path, row in rows.items())
    by_path.update(objects)
    last = Stats(len(todo), len(stamps) - len(todo), where)
    progress.finish(len(todo))
    return [by_path[r] for r in real]


def _write(where, entries, parts, gone):
    index = db.open_index(where, log)
    if index is None:
        return
    try:
        index.store(entries, parts, gone)
    except sqlite3.Error as exc:
        log.debug("profile index %s not updated: %s", where, exc)
    finally:
        index.close()
