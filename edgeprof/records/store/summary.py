"""What the index keeps of a profile, and how it is stored: a summary, split into shared parts.

:func:`summarize` keeps what the readers of many profiles use (compare, the gate, report, predict,
table): the header as it is, and of each run :data:`RUN_KEEP`, of its power :data:`POWER_KEEP` and of its
memory the fields named by :data:`MEMORY_WORDS` (no trials, rails, board snapshots, per-input shapes,
window lengths or start times). :func:`split` stores it as a row and *parts*: the header's sections and some of
each run's (:data:`SHARED_TOP`, :data:`SHARED_RUN`) are stored once per distinct content, by digest,
and a loaded summary shares one object per part: 10,000 profiles of 20 boards hold 20 board
sections, not 10,000. Summaries are read-only for their readers.
"""
import hashlib
import json

from edgeprof.errors import EdgeprofError
from edgeprof.records import profile, schema

# What a summary keeps of a run. A field not listed reads as absent from the index; add it here
# (and bump edgeprof.records.store.db.SCHEMA_VERSION) to read it.
# Not ``raw_latencies``: only the regression gate reads it, for the few runs it tests, and it reloads those
# runs from their profiles (edgeprof.reading.gate); kept, it was a fifth of a summary's memory.
RUN_KEEP = ("batch", "status", "settings_id", "inferred", "message", "latency_ms", "per_image_ms", "throughput_ips",
            "power", "memory", "backend", "board_state", "telemetry", "settings", "fc_share")
POWER_KEEP = ("total_mean_w", "idle_w", "scope", "energy_per_image_mj", "energy_per_image_above_idle_mj",
              "images_per_j")
# memory fields by name, as edgeprof.reading.report.data chooses a run's footprint (and table reads two of them)
MEMORY_WORDS = ("peak", "max", "delta", "used")
FLAG_KEEP = ("throttled", "reasons", "throttle_reasons")  # of board_state and telemetry
SHARED_TOP = ("board", "model", "backend", "protocol", "power", "accuracy")
SHARED_RUN = ("backend", "board_state", "telemetry", "settings")


def _scalar(value):
    return value is None or isinstance(value, (str, bool) + schema.NUMBER)


def _run_summary(run):
    out = dict((k, run[k]) for k in RUN_KEEP if k in run)
    if isinstance(out.get("latency_ms"), dict):
        out["latency_ms"] = dict((k, v) for k, v in out["latency_ms"].items() if k in profile.LATENCY_STATS)
    if isinstance(out.get("power"), dict):
        out["power"] = dict((k, v) for k, v in out["power"].items() if k in POWER_KEEP)
    if isinstance(out.get("memory"), dict):
        out["memory"] = dict((k, v) for k, v in out["memory"].items() if any(w in k for w in MEMORY_WORDS))
    if isinstance(out.get("backend"), dict):  # the runtime's facts: scalars (int8_calibration, fc_share...)
        out["backend"] = dict((k, v) for k, v in out["backend"].items() if _scalar(v))
    for section in ("board_state", "telemetry"):
        if isinstance(out.get(section), dict):
            out[section] = dict((k, v) for k, v in out[section].items() if k in FLAG_KEEP)
    return out


def summarize(data):
    """What the readers of many profiles need of one loaded profile (see the module's docstring)."""
    out = dict(data)
    out["runs"] = [_run_summary(r) for r in data["runs"]]
    return out


class NotJson(ValueError):
    """A summary JSON cannot give back as it is (a YAML timestamp, a non-string key, NaN)."""


def _text(value):
    try:
        text = json.dumps(value, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise NotJson(str(exc))
    if json.loads(text) != value:
        raise NotJson("does not survive JSON")
    return text


def _part(value, parts):
    text = _text(value)
    digest = hashlib.sha1(text.encode("utf-8")).hexdigest()[:20]
    parts[digest] = text
    return digest


def split(summary):
    """``(row JSON, {digest: part JSON})`` of a summary; raises :class:`NotJson`."""
    parts = {}
    top, refs = {}, {}
    for key, value in summary.items():
        if key == "runs":
            continue
        if key in SHARED_TOP and isinstance(value, dict):
            refs[key] = _part(value, parts)
        else:
            top[key] = value
    runs, run_refs = [], []
    for run in summary["runs"]:
        own, shared = {}, {}
        for key, value in run.items():
            if key in SHARED_RUN and isinstance(value, dict):
                shared[key] = _part(value, parts)
            else:
                own[key] = value
        runs.append(own)
        run_refs.append(shared)
    return _text({"top": top, "parts": refs, "runs": runs, "run_parts": run_refs}), parts


def digests(row):
    """The part digests a decoded row refers to."""
    found = list(row["parts"].values())
    for refs in row["run_parts"]:
        found.extend(refs.values())
    return found


def join(row, parts):
    """The summary of a decoded row, its parts taken (shared, not copied) from ``parts`` {digest: object}."""
    data = row["top"]
    for key, digest in row["parts"].items():
        data[key] = parts[digest]
    for run, refs in zip(row["runs"], row["run_parts"]):
        for key, digest in refs.items():
            run[key] = parts[digest]
    data["runs"] = row["runs"]
    return data


def parse(item):
    """Load one profile (in a worker): ``(path, stamp, row JSON, {digest: part JSON}, other)``.

    ``other`` is None, or the :class:`EdgeprofError` that stops the read (the file is broken), or the
    summary itself when JSON cannot hold it (then it is used as it is, and not indexed).
    """
    path, file_stamp = item
    try:
        summary = summarize(profile.load(path))
    except EdgeprofError as exc:
        return path, file_stamp, None, None, exc
    try:
        row, parts = split(summary)
    except NotJson:
        return path, file_stamp, None, None, summary
    return path, file_stamp, row, parts, None
