"""The index file: SQLite (Python's own ``sqlite3``), WAL mode, one transaction per update.

Tables: ``profiles`` (path, stamp, when indexed, the newest mtime of its files, the row JSON, its part
digests) and ``parts`` (digest, JSON). ``PRAGMA user_version`` is :data:`SCHEMA_VERSION` and the
``meta`` table names the edgeprof version that wrote it; any other index is dropped and made again.
Every method may raise ``sqlite3.Error`` or ``OSError``: the caller then reads the files instead.
"""
import os
import sqlite3
import time

from edgeprof import __version__

SCHEMA_VERSION = 4  # bump when the summary keeps other fields or is stored otherwise: older indexes are rebuilt
BUSY_TIMEOUT_S = 10.0
RACY_NS = 2 * 10 ** 9
QUERY_CHUNK = 500  # values per statement (SQLite before 3.32 allows 999 variables)
TABLES = ("CREATE TABLE profiles (path TEXT PRIMARY KEY, stamp TEXT NOT NULL, indexed_ns INTEGER NOT NULL, "
          "newest_ns INTEGER NOT NULL, summary TEXT NOT NULL, parts TEXT NOT NULL)",
          "CREATE TABLE parts (digest TEXT PRIMARY KEY, json TEXT NOT NULL)",
          "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")


def chunks(values, size=QUERY_CHUNK):
    """``values`` as lists of at most ``size``."""
    values = list(values)
    for start in range(0, len(values), size):
        yield values[start:start + size]


class Index(object):
    """An open index file."""

    def __init__(self, path, timeout_s=None):
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder):
            os.makedirs(folder)
        self.path = path
        self.db = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S if timeout_s is None else timeout_s,
                                  isolation_level=None)
        try:
            self._prepare()
        except BaseException:
            self.db.close()
            raise

    def _prepare(self):
        self.db.execute("PRAGMA journal_mode=WAL")  # where WAL is refused, rollback journals: still atomic
        # WAL with synchronous=NORMAL: a commit is atomic and never corrupts the file, but is not fsynced, so a
        # power cut may lose the last update of this cache (sqlite.org/pragma.html#pragma_synchronous)
        self.db.execute("PRAGMA synchronous=NORMAL")
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        made_by = None
        if version == SCHEMA_VERSION:
            row = self.db.execute("SELECT value FROM meta WHERE key = 'edgeprof'").fetchone()
            made_by = row[0] if row else None
        if version == SCHEMA_VERSION and made_by == __version__:
            return
        self.db.execute("BEGIN IMMEDIATE")
        try:
            for table in ("profiles", "parts", "meta"):
                self.db.execute("DROP TABLE IF EXISTS %s" % table)
            for statement in TABLES:
                self.db.execute(statement)
            self.db.execute("INSERT INTO meta VALUES ('edgeprof', ?)", (__version__,))
            self.db.execute("PRAGMA user_version = %d" % SCHEMA_VERSION)
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def begin_read(self):
        """One snapshot for the reads that follow (WAL: a writer's commit in between is not seen)."""
        self.db.execute("BEGIN")

    def end_read(self):
        self.db.execute("COMMIT")

    def current_rows(self, stamps):
        """``[(path, row JSON)]`` lists, one per chunk of paths, of the rows whose stamp is ``stamps[path]``
        and whose files were older than the racy window (:data:`RACY_NS`) when they were indexed."""
        for part in chunks(stamps):
            rows = self.db.execute("SELECT path, stamp, indexed_ns, newest_ns, summary FROM profiles WHERE path IN "
                                   "(%s)" % ",".join("?" * len(part)), part)
            yield [(path, summary) for path, file_stamp, indexed_ns, newest_ns, summary in rows
                   if file_stamp == stamps[path] and indexed_ns - newest_ns > RACY_NS]

    def parts(self, digests):
        """``{digest: part JSON}`` of those ``digests`` the index holds."""
        found = {}
        for part in chunks(digests):
            found.update(self.db.execute("SELECT digest, json FROM parts WHERE digest IN (%s)"
                                         % ",".join("?" * len(part)), part))
        return found

    def vanished(self, folders, present):
        """Paths of rows under ``folders`` that are not in ``present`` (their files disappeared)."""
        gone = []
        for folder in folders:
            base = folder.rstrip(os.sep)
            # every path below folder/: between "folder/" and "folder0" ("0" follows "/" in ASCII)
            rows = self.db.execute("SELECT path FROM profiles WHERE path > ? AND path < ?", (base + os.sep, base + "0"))
            gone.extend(p for (p,) in rows if p not in present)
        return gone

    def store(self, entries, parts, gone):
        """In one transaction: write ``entries`` [(path, stamp, newest_ns, row JSON, [digests])] and ``parts``
        {digest: JSON}, drop the rows of ``gone``, and the parts no row refers to any more."""
        now_ns = int(time.time() * 1e9)
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self.db.executemany("INSERT OR IGNORE INTO parts VALUES (?, ?)", list(parts.items()))
            self.db.executemany("INSERT OR REPLACE INTO profiles VALUES (?, ?, ?, ?, ?, ?)",
                                [(p, s, now_ns, n, t, ",".join(d)) for p, s, n, t, d in entries])
            self.db.executemany("DELETE FROM profiles WHERE path = ?", [(p,) for p in gone])
            used = set()
            for (names,) in self.db.execute("SELECT parts FROM profiles"):
                used.update(names.split(","))
            unused = [(d,) for (d,) in self.db.execute("SELECT digest FROM parts").fetchall() if d not in used]
            self.db.executemany("DELETE FROM parts WHERE digest = ?", unused)
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def close(self):
        self.db.close()


def open_index(path, log):
    """An :class:`Index` at ``path``; a corrupt file is removed and made again; None when it cannot be used."""
    for attempt in (1, 2):
        try:
            return Index(path)
        except sqlite3.OperationalError as exc:  # locked past the timeout, read-only, cannot open: not this time
            log.debug("profile index %s not used: %s", path, exc)
            return None
        except sqlite3.DatabaseError as exc:  # not a database, malformed: it is only a cache
            log.debug("profile index %s is corrupt (%s); making it again", path, exc)
            if attempt == 2 or not _remove(path):
                return None
        except OSError as exc:
            log.debug("profile index %s not used: %s", path, exc)
            return None
    return None


def _remove(path):
    try:
        for name in (path, path + "-wal", path + "-shm", path + "-journal"):
            if os.path.exists(name):
                os.unlink(name)
    except OSError:
        return False
    return True
