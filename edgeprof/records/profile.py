"""Profiles: schema ``edgeprof/profile/v1`` as YAML; load, validate, save atomically, merge runs.

A profile holds one (board, model, backend, precision) and a run entry per batch size.
The full field list is in docs/profile-schema.md. Loading uses safe loaders only (PyYAML's C
loader where PyYAML has libyaml: read_yaml); validation names the field that is wrong; saving writes a temp file in the same folder,
fsyncs it and renames it over the old one, so a killed process leaves the old or the new
file, never half of one.
"""
import datetime
import hashlib
import json
import os

import yaml

from edgeprof.errors import InputFileError, ProfileError
from edgeprof.records.files import write_atomic
from edgeprof.records.schema import NUMBER as _NUMBER
from edgeprof.records.runs import RUN_FIELDS as _RUN_FIELDS
from edgeprof.records.runs import TRIAL_FIELDS as _TRIAL_FIELDS
from edgeprof.records.schema import check_fields, check_version

SCHEMA = "edgeprof/profile/v1"
RUN_STATUSES = ("ok", "oom", "error")
LATENCY_STATS = ("mean", "median", "p90", "p95", "p99", "min", "max", "std", "cov")
# null where the run count cannot support them (edgeprof.agent.measure: nearest rank needs 10, 20, 100 runs)
NULLABLE_STATS = ("p90", "p95", "p99")
EXTRA_STATS = {"median_ci95": (list, False), "iqr_over_median": (_NUMBER, False), "needs_runs": (dict, False)}

# field -> (type, required). Nested mappings are checked by their own tables below.
TOP_FIELDS = {
    "schema": (str, True),
    "edgeprof_version": (str, True),
    "created": (str, True),
    "updated": (str, False),
    "board": (dict, True),
    "model": (dict, True),
    "backend": (dict, True),
    "protocol": (dict, True),
    "power": (dict, True),
    "runs": (list, True),
    "accuracy": (dict, False),  # attached by load() from the sibling record (edgeprof.records.accuracy)
}
BOARD_FIELDS = {"model": (str, True), "slug": (str, True), "is_jetson": (bool, False)}
MODEL_FIELDS = {
    "name": (str, True), "file": (str, False), "sha256": (str, False), "input_shape": (list, False),
    "params": (int, False), "macs": (int, False), "paper_ops": (int, False),
    "weight_bytes": (int, False), "top1": (_NUMBER, False), "top5": (_NUMBER, False),
    # a variant file (manifest variants.<precision>, run by ONNX Runtime): what it is and how it was made
    "precision": (str, False), "made_by": (str, False), "calibration": (dict, False), "preprocess": (dict, False),
}
BACKEND_FIELDS = {"name": (str, True), "version": (str, False), "precision": (str, True),
                  "device": (str, False), "options": (dict, False)}
PROTOCOL_FIELDS = {"warmup_seconds": (_NUMBER, True), "warmup_runs": (int, True),
                   "min_seconds": (_NUMBER, True), "min_runs": (int, True)}
POWER_FIELDS = {"status": (str, True)}
RUN_FIELDS = dict(_RUN_FIELDS)  # the table and the field order live in edgeprof.records.runs
TRIAL_FIELDS = dict(_TRIAL_FIELDS)
RAW_LATENCIES_FIELDS = {"file": (str, True), "sha256": (str, True), "kinds": (list, True), "trials": (int, True)}
# What a run's ``settings`` snapshot holds (its sha256 is the run's settings_id): see settings_of().
SETTINGS_KEYS = ("model_sha256", "backend", "backend_version", "precision", "device", "options", "protocol",
                 "power_mode")


def now_iso():
    """UTC time as ISO 8601 with a ``Z``, to the second."""
    return datetime.datetime.utcnow().replace(microsecond=0).isoformat() + "Z"


def _check_run(run, index, source):
    where = "runs[%d]" % index
    if not isinstance(run, dict):
        raise ProfileError("%s: field %r must be a mapping, got %s" % (source, where, type(run).__name__))
    check_fields(run, RUN_FIELDS, where, source, ProfileError)
    if run["batch"] < 1:
        raise ProfileError("%s: field '%s.batch' must be >= 1, got %d" % (source, where, run["batch"]))
    if run["status"] not in RUN_STATUSES:
        raise ProfileError("%s: field '%s.status' must be one of %s, got %r"
                           % (source, where, ", ".join(RUN_STATUSES), run["status"]))
    if run["status"] != "ok":
        return
    for field in ("latency_ms", "throughput_ips", "runs"):
        if run.get(field) is None:
            raise ProfileError("%s: field '%s.%s' is missing (required when status is ok)"
                               % (source, where, field))
    _check_stats(run["latency_ms"], where + ".latency_ms", source)
    if run.get("raw_latencies") is not None:
        check_fields(run["raw_latencies"], RAW_LATENCIES_FIELDS, where + ".raw_latencies", source, ProfileError)
    for number, trial in enumerate(run.get("trials") or []):
        at = "%s.trials[%d]" % (where, number)
        if not isinstance(trial, dict):
            raise ProfileError("%s: field %r must be a mapping, got %s" % (source, at, type(trial).__name__))
        check_fields(trial, TRIAL_FIELDS, at, source, ProfileError)
        _check_stats(trial["latency_ms"], at + ".latency_ms", source)


def _check_stats(stats_map, where, source):
    stats = dict((name, (_NUMBER, name not in NULLABLE_STATS)) for name in LATENCY_STATS)
    stats.update(EXTRA_STATS)
    check_fields(stats_map, stats, where, source, ProfileError)


def validate(data, source="<profile>"):
    """Check a loaded profile; raise :class:`ProfileError` naming the first wrong field."""
    if not isinstance(data, dict):
        raise ProfileError("%s: a profile must be a YAML mapping, got %s" % (source, type(data).__name__))
    check_version(data, source, SCHEMA, "profile", ProfileError)
    check_fields(data, TOP_FIELDS, "", source, ProfileError)
    for field, table in (("board", BOARD_FIELDS), ("model", MODEL_FIELDS),
                         ("backend", BACKEND_FIELDS), ("protocol", PROTOCOL_FIELDS),
                         ("power", POWER_FIELDS)):
        check_fields(data[field], table, field, source, ProfileError)
    for index, run in enumerate(data["runs"]):
        _check_run(run, index, source)
    return data


# PyYAML's C parser (libyaml; JetPack's python3-yaml has it) reads a profile about 8x faster than the
# pure-Python one and builds the same objects with the same safe constructor; the pure one where
# PyYAML was built without libyaml. Never anything but a safe loader.
SAFE_LOADER = yaml.CSafeLoader if getattr(yaml, "__with_libyaml__", False) else yaml.SafeLoader


def read_yaml(path, loader=None):
    """Safe-load a YAML file (``loader``: :data:`SAFE_LOADER` or ``yaml.SafeLoader``), with one-line errors
    for missing and malformed files."""
    try:
        with open(path, "rb") as f:  # bytes: YAML's own UTF-8/16 decoding, not the locale's
            text = f.read()
    except (IOError, OSError) as exc:
        raise InputFileError("cannot read %s: %s" % (path, exc.strerror or exc))
    try:
        return yaml.load(text, Loader=loader or SAFE_LOADER)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = " (line %d, column %d)" % (mark.line + 1, mark.column + 1) if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InputFileError("%s is not valid YAML%s: %s" % (path, where, problem))


def load(path):
    """Load and validate one profile file, with its measured accuracy attached when it has one."""
    from edgeprof.records import accuracy  # imports this module's neighbours only; no cycle at import time
    return accuracy.attach(validate(read_yaml(path), source=path), path)


class _PlainDumper(yaml.SafeDumper):
    """``yaml.safe_dump`` without anchors and aliases: a mapping shared by two runs is written twice."""

    def ignore_aliases(self, data):
        return True


def dump_yaml(data):
    return yaml.dump(data, Dumper=_PlainDumper, default_flow_style=False, sort_keys=False, width=100,
                     allow_unicode=False)


def save(path, data):
    """Validate and atomically save a profile; stamps ``updated``."""
    data["updated"] = now_iso()
    validate(data, source=path)
    # ``accuracy`` lives in its sibling record (load() attached it); the profile keeps what the sweep measured
    write_atomic(path, dump_yaml(dict((k, v) for k, v in data.items() if k != "accuracy")))


def find_run(data, batch, settings_id):
    """The run entry for ``batch`` recorded with ``settings_id``, or ``None``."""
    for run in data.get("runs", []):
        if run.get("batch") == batch and run.get("settings_id") == settings_id:
            return run
    return None


def trial_entries(run):
    """The trials of a run entry: its ``trials`` list (``--trials`` > 1), else the run itself as one."""
    return list(run.get("trials") or []) or [run]


def settings_digest(settings):
    """A run's ``settings_id``: the first 12 hex digits of the sha256 of its ``settings`` as sorted JSON."""
    text = json.dumps(settings, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def settings_of(data, run):
    """What ``run`` was measured with, as a mapping of :data:`SETTINGS_KEYS`.

    The run's own ``settings`` snapshot where it has one; for runs of older profiles, what the
    header says (which describes the last sweep into the file, so it may be wrong for older runs).
    """
    if run.get("settings"):
        return dict((key, run["settings"].get(key)) for key in SETTINGS_KEYS)
    backend = data.get("backend") or {}
    board = data.get("board") or {}
    protocol = dict((k, v) for k, v in (data.get("protocol") or {}).items() if k != "idle_seconds")
    nvpmodel = board.get("nvpmodel")
    power_mode = {"nvpmodel": dict((k, v) for k, v in nvpmodel.items() if k != "source") if nvpmodel else None,
                  "jetson_clocks": board.get("jetson_clocks"), "cpu_governor": board.get("governor"),
                  "gpu_governor": None}
    return {"model_sha256": (data.get("model") or {}).get("sha256"), "backend": backend.get("name"),
            "backend_version": backend.get("version"), "precision": backend.get("precision"),
            "device": backend.get("device"), "options": backend.get("options") or {}, "protocol": protocol,
            "power_mode": power_mode}


def put_run(data, run):
    """Insert or replace the run for ``run['batch']``, keeping runs sorted by batch."""
    runs = [r for r in data.get("runs", []) if r.get("batch") != run["batch"]]
    runs.append(run)
    runs.sort(key=lambda r: r["batch"])
    data["runs"] = runs


def iter_profile_files(paths):
    """Profile YAML files under the given files/folders, in the order given (sorted within a folder).

    Raises :class:`InputFileError` when a path does not exist.
    """
    found, seen = [], set()  # a set: a lab's folder holds thousands of files
    for given in paths:
        if os.path.isdir(given):
            inside = []
            for folder, _, files in os.walk(given):
                inside.extend(os.path.join(folder, f) for f in files
                              if f.endswith((".yaml", ".yml")) and not f.startswith("."))
            fresh = [f for f in sorted(inside) if f not in seen]
        elif os.path.isfile(given):
            fresh = [given] if given not in seen else []
        else:
            raise InputFileError("no such file or folder: %s" % given)
        found.extend(fresh)
        seen.update(fresh)
    return found
