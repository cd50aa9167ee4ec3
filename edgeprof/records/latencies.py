"""Raw per-inference times of a profile's runs: a sidecar ``<profile>.latencies.npz`` beside the YAML.

Why a sidecar and not a field of the profile: a long window of a fast model holds tens of thousands
of times per trial; as base64 inside the YAML they would make every profile slow to read and hard to
diff, for readers (``report``, people) that rarely need them. An ``.npz`` (numpy's zip of ``.npy``
arrays, read with ``numpy.load(..., allow_pickle=False)``) stores float64 milliseconds exactly, is
compact (8 bytes a time, deflated) and opens anywhere numpy does.

Agreement with the profile. Arrays are stored under content-addressed names: a run's arrays are
named by the sha256 of their bytes, and the run entry's ``raw_latencies`` field names that digest
(docs/profile-schema.md). The sweep writes the sidecar first and the profile second, each atomically
(:func:`edgeprof.records.files.write_atomic`), and the sidecar it writes holds the arrays of the
profile on disk *and* of the one about to replace it; stale arrays are dropped at the next write. So
after a kill at any moment every run the profile on disk names has its arrays in the sidecar. A
reader recomputes the digest: a sidecar that is missing, from another file, or older than the
profile (restored from a backup, copied without its profile) is detected and named, never read as
the run's.
"""
import hashlib
import io
import os

import numpy as np

from edgeprof.records.files import write_atomic

SUFFIX = ".latencies.npz"
# The wall latency of each timed inference, then the device times where the runtime has them
# (edgeprof.agent.measure: trtexec's GPU Compute Time, H2D, D2H, Enqueue Time).
KINDS = ("latency_ms", "compute_ms", "h2d_ms", "d2h_ms", "enqueue_ms")
DIGEST_CHARS = 16


class MissingLatencies(Exception):
    """A run's raw times cannot be read; the message says why (and names the files)."""


def sidecar_path(profile_path):
    """``dir/model__backend__precision.yaml`` -> ``dir/model__backend__precision.latencies.npz``."""
    stem, ext = os.path.splitext(profile_path)
    return (stem if ext in (".yaml", ".yml") else profile_path) + SUFFIX


def _array(values):
    return np.ascontiguousarray(np.asarray(values, dtype="<f8"))


def common_kinds(trials):
    """The kinds every trial has, in :data:`KINDS` order (the ones a run's sidecar keeps)."""
    return [k for k in KINDS if trials and all(arrays.get(k) is not None for arrays in trials)]


def digest(trials, kinds=None):
    """The sha256 (hex) of one run's arrays: ``trials`` is a list, per trial, of ``{kind: values}``."""
    h = hashlib.sha256()
    for index, arrays in enumerate(trials):
        for kind in kinds if kinds is not None else common_kinds(trials):
            data = _array(arrays[kind])
            h.update(("%d:%s:%d;" % (index, kind, data.size)).encode("ascii"))
            h.update(data.tobytes())
    return h.hexdigest()


def _name(run_digest, trial, kind):
    return "%s.t%d.%s" % (run_digest[:DIGEST_CHARS], trial, kind)


def reference(profile_path, trials):
    """The run entry's ``raw_latencies`` field for ``trials`` (a list, per trial, of ``{kind: values}``)."""
    kinds = common_kinds(trials)
    return {"file": os.path.basename(sidecar_path(profile_path)), "sha256": digest(trials, kinds), "kinds": kinds,
            "trials": len(trials)}


def named_arrays(trials, ref):
    """``{name in the sidecar: array}`` of one run's ``trials`` under its reference ``ref``."""
    out = {}
    for index, arrays in enumerate(trials):
        for kind in ref["kinds"]:
            out[_name(ref["sha256"], index, kind)] = _array(arrays[kind])
    return out


def read_file(path):
    """Every array of a sidecar as ``{name: array}``; ``{}`` when there is no file.

    Raises:
        MissingLatencies: the file exists but is not a readable ``.npz``.
    """
    if not os.path.exists(path):
        return {}
    try:
        with np.load(path, allow_pickle=False) as archive:
            return dict((name, archive[name]) for name in archive.files)
    except Exception as exc:  # OSError, ValueError (not an .npy/.npz), zipfile.BadZipFile, a truncated member
        raise MissingLatencies("%s cannot be read (%s: %s)" % (path, type(exc).__name__, exc))


def write_file(path, arrays):
    """Write ``{name: array}`` to ``path`` atomically (an empty mapping removes the file)."""
    if not arrays:
        if os.path.exists(path):
            os.unlink(path)
        return
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    write_atomic(path, buf.getvalue())


def run_trials(arrays, run, where="the sidecar"):
    """One run's raw times out of a sidecar's ``arrays``, checked against the run's ``raw_latencies``.

    Returns:
        list: per trial, ``{kind: numpy array}``.

    Raises:
        MissingLatencies: the run names none, or the sidecar lacks them or holds others (stale).
    """
    ref = run.get("raw_latencies")
    if not ref:
        raise MissingLatencies("batch %s has no raw latencies (profile written before edgeprof kept them)"
                               % run.get("batch"))
    trials = []
    for index in range(int(ref.get("trials") or 0)):
        got = {}
        for kind in ref.get("kinds") or []:
            name = _name(ref["sha256"], index, kind)
            if name not in arrays:
                raise MissingLatencies("batch %s: %s lacks its raw latencies (%s); the sidecar is missing or "
                                       "stale" % (run.get("batch"), where, name))
            got[kind] = np.asarray(arrays[name], dtype=np.float64)
        trials.append(got)
    if digest(trials, ref.get("kinds") or []) != ref["sha256"]:
        raise MissingLatencies("batch %s: the raw latencies in %s do not match the profile's checksum (a stale "
                               "or altered sidecar)" % (run.get("batch"), where))
    return trials


def read_run(profile_path, run):
    """The raw times of one run of the profile at ``profile_path`` (for compare and report).

    Returns:
        list: per trial, ``{kind: numpy array of ms}``; ``kind`` is one of :data:`KINDS`
        (``latency_ms`` always).

    Raises:
        MissingLatencies: with the reason, naming the files.
    """
    path = sidecar_path(profile_path)
    ref = run.get("raw_latencies")
    if ref and not os.path.exists(path):
        raise MissingLatencies("batch %s names raw latencies in %s, which is missing" % (run.get("batch"), path))
    return run_trials(read_file(path) if ref else {}, run, path)


def pooled(trials, kind="latency_ms"):
    """The times of every trial of a run, concatenated (a numpy array)."""
    return np.concatenate([np.asarray(t[kind], dtype=np.float64) for t in trials]) if trials else np.zeros(0)


class Sidecar(object):
    """The sweep's view of one profile's sidecar: the arrays in memory, written before each profile save.

    ``on_disk`` holds the names the profile file on disk refers to. :meth:`save` (right before the
    profile is saved) writes the arrays of those and of the profile about to replace it, so the two
    files agree after a kill at any moment; :meth:`committed` (right after) records the new profile
    as the one on disk; :meth:`prune` drops what it no longer names.
    """

    def __init__(self, profile_path, data):
        self.path = sidecar_path(profile_path)
        try:
            self.arrays = read_file(self.path)
        except MissingLatencies:
            self.arrays = {}  # unreadable: its runs lose their raw times (a reader says so), new ones are kept
        self.on_disk = _names(data)

    def trials_of(self, run):
        """A recorded run's trials as ``{kind: array}``, or ``None`` when the sidecar cannot give them."""
        try:
            return run_trials(self.arrays, run, self.path)
        except MissingLatencies:
            return None

    def put(self, trials, ref):
        """Hold one run's arrays (``ref``: its :func:`reference`) until the next :meth:`save`."""
        self.arrays.update(named_arrays(trials, ref))

    def save(self, data):
        """Write the arrays the profile on disk and ``data`` name; call right before saving ``data``."""
        wanted = self.on_disk | _names(data)
        write_file(self.path, dict((n, a) for n, a in self.arrays.items() if n in wanted))

    def committed(self, data):
        """``data`` is now the profile on disk."""
        self.on_disk = _names(data)

    def prune(self):
        """Keep only the arrays the profile on disk names (in memory and in the file)."""
        if any(name not in self.on_disk for name in self.arrays):
            self.arrays = dict((n, a) for n, a in self.arrays.items() if n in self.on_disk)
            write_file(self.path, self.arrays)


def _names(data):
    """The sidecar names the runs of a profile refer to."""
    names = set()
    for run in (data or {}).get("runs", []):
        ref = run.get("raw_latencies")
        if ref:
            for index in range(int(ref.get("trials") or 0)):
                names.update(_name(ref["sha256"], index, kind) for kind in ref.get("kinds") or [])
    return names
