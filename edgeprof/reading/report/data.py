"""Profiles as tidy rows: one row per (setup, model, batch), and one static record per model.

A *setup* is one (board, backend, precision): the figures of one setup compare models on the
same machine and software; figure 10 compares setups. A missing measurement stays ``None``.
"""
from edgeprof.records import profile, store
from edgeprof.errors import InputFileError, UsageError
from edgeprof.util import family_of, slug

STATIC_FIELDS = ("family", "params", "macs", "paper_ops", "fc_macs", "fc_params", "weight_bytes",
                 "top1", "top5")
FC_SHARE_FIELD = "fc_share"


class Setup:
    """One (board, backend, precision): ``key`` for file names, ``label`` for people."""

    def __init__(self, board_slug, board_model, backend, precision, device, is_jetson, power_reason=None):
        self.board_slug = board_slug
        self.board_model = board_model
        self.backend = backend
        self.precision = precision
        self.device = device
        self.is_jetson = is_jetson
        self.power_reason = power_reason
        self.power_scope = None   # what the power sensor measures (module_input, gpu_board...), when recorded
        self.throttled_runs = []  # {"model", "batch", "reasons"} of the runs whose board_state says throttled
        self.calibration = None   # int8: the calibration set the backend options name, when any
        self.key = slug(f"{board_slug}-{backend}-{precision}")
        on_device = f" ({device})" if device else ""
        self.label = f"{board_slug} / {backend}{on_device} / {precision}"

    def as_dict(self):
        return {"key": self.key, "label": self.label, "board": self.board_slug,
                "board_model": self.board_model, "backend": self.backend,
                "precision": self.precision, "device": self.device, "power_reason": self.power_reason,
                "power_scope": self.power_scope, "throttled_runs": list(self.throttled_runs)}


class Dataset:
    """What a report is drawn from.

    Attributes:
        models (dict): model name -> static record (name plus :data:`STATIC_FIELDS`).
        setups (list of Setup): sorted by key.
        rows (list of dict): one per run, see :func:`run_row`.
        files (list of str): the profile files read.
    """

    def __init__(self, models, setups, rows, files, setup_files=None):
        self.models = models
        self.setups = setups
        self.rows = rows
        self.files = files
        self.setup_files = setup_files or {}  # setup key -> the files of that setup

    def rows_of(self, setup, status="ok"):
        """Rows of one setup with that status (all statuses when ``status`` is None)."""
        return [r for r in self.rows if r["setup"] == setup.key and (status is None or r["status"] == status)]

    def model_names(self):
        return sorted(self.models)


WINDOW_MAX = "maximum during the window"
SNAPSHOT = "end-of-window snapshot"
PROCESS_PEAK = "process peak resident set size"


def _window_max(mem):
    """The system memory the run added at its maximum during the window, where the sweep sampled one.

    Any ``memory`` field named ``*peak*``/``*max*`` other than the process's ``peak_rss_bytes``: a
    ``*delta*`` one as it is, a ``*used*`` one less the reading before the session opened.
    Returns (bytes, field) or (None, None).
    """
    names = sorted(k for k in mem if mem.get(k) is not None and k != "peak_rss_bytes"
                   and ("peak" in k or "max" in k))
    for name in names:
        if "delta" in name:
            return mem[name], name
    baseline = None
    if mem.get("system_used_bytes") is not None and mem.get("system_delta_bytes") is not None:
        baseline = mem["system_used_bytes"] - mem["system_delta_bytes"]
    for name in names:
        if "used" in name and baseline is not None:
            return mem[name] - baseline, name
    return None, None


def _memory(run, is_jetson):
    """(bytes, source field, kind) of the run's memory footprint.

    On a Jetson the GPU shares DRAM with the CPU, so the system-wide memory the run added is the
    footprint (as in the paper, which plots its maximum): the maximum sampled during the window
    where the profile has one, else the end-of-window snapshot. Elsewhere the process's peak RSS.
    """
    mem = run.get("memory") or {}
    peak, field = _window_max(mem)
    choices = [(peak, field, WINDOW_MAX), (mem.get("system_delta_bytes"), "system_delta_bytes", SNAPSHOT)]
    rss = (mem.get("peak_rss_bytes"), "peak_rss_bytes", PROCESS_PEAK)
    choices = choices + [rss] if is_jetson else [rss] + choices
    for value, name, kind in choices:
        if value is not None:
            return value, name, kind
    return None, None, None


def net_power(power):
    """Total minus idle power of a run's ``power`` mapping (the paper's net power), or None without idle."""
    if power.get("total_mean_w") is None or power.get("idle_w") is None:
        return None
    return power["total_mean_w"] - power["idle_w"]


def throttle_of(run):
    """``(throttled, reasons)`` of a run: its ``board_state`` (which the sweep fills from the in-window
    telemetry), or its ``telemetry`` where only that says it; ``(None, [])`` when neither was recorded."""
    for section in (run.get("board_state"), run.get("telemetry")):
        if isinstance(section, dict) and section.get("throttled") is not None:
            return bool(section["throttled"]), list(section.get("reasons") or section.get("throttle_reasons") or [])
    return None, []


def run_row(setup, model_name, run, accuracy=None, profile_data=None):
    """The tidy row of one run entry: units in the names, ``None`` where not measured.

    ``accuracy`` is the profile's measured top-1 (percent) when it has one. A throttled run keeps its
    numbers and is marked (``throttled``, and in its setup's ``throttled_runs``).
    """
    power = run.get("power") or {}
    throttled, reasons = throttle_of(run)
    if throttled:
        setup.throttled_runs.append({"model": model_name, "batch": run["batch"], "reasons": reasons})
    memory_bytes, memory_source, memory_kind = _memory(run, setup.is_jetson)
    latency = run.get("latency_ms") or {}
    return {
        "setup": setup.key, "model": model_name, "batch": run["batch"], "status": run["status"],
        "message": run.get("message"),
        "latency_median_ms": latency.get("median"),
        "per_image_ms": run.get("per_image_ms") if run.get("per_image_ms") is not None
        else (latency["median"] / run["batch"] if latency.get("median") is not None else None),
        "throughput_ips": run.get("throughput_ips"),
        "power_w": power.get("total_mean_w"), "idle_w": power.get("idle_w"), "net_w": net_power(power),
        "power_scope": power.get("scope") or setup.power_scope,
        "energy_per_image_mj": power.get("energy_per_image_mj"),
        "net_energy_per_image_mj": power.get("energy_per_image_above_idle_mj"),
        "images_per_j": power.get("images_per_j"),
        "memory_bytes": memory_bytes, "memory_source": memory_source, "memory_kind": memory_kind,
        "fc_share": fc_share_of(run),
        "top1_measured": accuracy,
        "top1_images": measured_images(profile_data) if accuracy is not None else None,
        "int8_calibrated": _calibrated(setup, run, (profile_data or {}).get("model")),
        "throttled": throttled,
    }


def _calibrated(setup, run, model=None):
    """Whether an int8 run was calibrated on images (None for other precisions).

    TensorRT records ``int8_calibration`` in the run's backend facts ("none: placeholder ..." when
    not calibrated); an ONNX Runtime int8 file carries its manifest variant's ``calibration`` in the
    profile's model section (``random: true`` when made on random data); a ``calib_dir`` or
    ``calibration`` in the backend options counts too.
    """
    if setup.precision != "int8":
        return None
    note = (run.get("backend") or {}).get("int8_calibration")
    if note:
        return not str(note).lower().startswith("none")
    calibration = (model or {}).get("calibration")
    if isinstance(calibration, dict):
        return calibration.get("random") is False
    return bool(setup.calibration)


def measured_images(data):
    """How many images the profile's accuracy record measured (None without one)."""
    record = (data or {}).get("accuracy")
    return record.get("images") if isinstance(record, dict) else None


def measured_accuracy(data):
    """A profile's measured top-1 in percent, or None: its ``accuracy.top1`` (the record of
    ``edgeprof accuracy``), or ``model.top1`` when ``model.accuracy_source`` says it was measured.

    A record measured on another file than the profile's model (``model_sha256`` differs: the model
    was exported again since) is not this model's accuracy and is ignored.
    """
    accuracy = data.get("accuracy")
    if isinstance(accuracy, dict) and accuracy.get("top1") is not None:
        measured_sha, profiled_sha = accuracy.get("model_sha256"), data["model"].get("sha256")
        if not (measured_sha and profiled_sha and measured_sha != profiled_sha):
            return accuracy["top1"]
    model = data["model"]
    if "measured" in str(model.get("accuracy_source") or "").lower():
        return model.get("top1")
    return None


def fc_share_of(run):
    """The run's share of time in fully connected layers: ``run.fc_share``, or where the TensorRT
    backend puts it with ``--layers``, ``run.backend.fc_share``; None without per-layer timings."""
    if run.get(FC_SHARE_FIELD) is not None:
        return run[FC_SHARE_FIELD]
    return (run.get("backend") or {}).get(FC_SHARE_FIELD)


def _setup_of(data):
    board, backend, power = data["board"], data["backend"], data["power"]
    reason = None if power["status"] == "ok" else (power.get("reason") or "no power sensor was used")
    options = backend.get("options") or {}
    setup = Setup(board["slug"], board.get("model"), backend["name"], backend["precision"],
                  backend.get("device"), bool(board.get("is_jetson")), reason)
    setup.power_scope = power.get("scope")
    setup.calibration = options.get("calib_dir") or options.get("calibration")
    return setup


def _merge_static(models, name, source):
    record = models.setdefault(name, {"name": name})
    for field in STATIC_FIELDS:
        if record.get(field) is None and source.get(field) is not None:
            record[field] = source[field]


def _manifest_models(path):
    from edgeprof.records import manifest
    return manifest.load(path)["models"]


def load(paths, manifest_path=None, use_index=True):
    """Read every profile under ``paths`` into a :class:`Dataset` (their summaries, through the index:
    :mod:`edgeprof.records.store`; ``use_index=False`` parses every file).

    Static fields missing from the profiles are filled from ``manifest_path`` when given.
    Raises :class:`InputFileError` when no profile is found.
    """
    files = profile.iter_profile_files(paths)
    if not files:
        raise InputFileError(f"no profile files (*.yaml) under {', '.join(paths)}; run edgeprof sweep "
                             "first or give the profiles/<board> folder")
    manifest_models = _manifest_models(manifest_path) if manifest_path else []
    summaries = store.load(files, paths, use_index)
    return from_profiles(list(zip(files, summaries)), manifest_models)


def from_profiles(loaded, manifest_models=()):
    """A :class:`Dataset` of already loaded profiles: ``[(path, data)]``; ``manifest_models`` fill gaps."""
    models, setups, rows, setup_files = {}, {}, [], {}
    for path, data in loaded:
        candidate = _setup_of(data)
        setup = setups.setdefault(candidate.key, candidate)
        setup_files.setdefault(setup.key, []).append(path)
        name = data["model"]["name"]
        _merge_static(models, name, data["model"])
        accuracy = measured_accuracy(data)
        rows.extend(run_row(setup, name, run, accuracy, data) for run in data["runs"])
    for entry in manifest_models:
        if entry["name"] in models:
            _merge_static(models, entry["name"], entry)
    for record in models.values():
        if record.get("family") is None:
            record["family"] = family_of(record["name"])
    return Dataset(models, [setups[k] for k in sorted(setups)], rows, [path for path, _ in loaded], setup_files)


def choose_setups(dataset, wanted=None, first=None):
    """The setups a bounded report details: those ``wanted`` names (a setup's label or key, or a board
    slug: all of its setups), else the ``first`` ones (all when ``first`` is None), in dataset order."""
    if not wanted:
        return list(dataset.setups if first is None else dataset.setups[:first])
    chosen = set()
    for name in wanted:
        found = [s.key for s in dataset.setups if name in (s.label, s.key, s.board_slug)]
        if not found:
            keys = [s.key for s in dataset.setups]
            raise UsageError(f"--setup {name!r} matches no setup (a setup's label, its key or a board slug); the "
                             f"profiles hold {len(keys)}: {', '.join(keys[:8])}"
                             + (f" and {len(keys) - 8} more" if len(keys) > 8 else ""))
        chosen.update(found)
    return [s for s in dataset.setups if s.key in chosen]


def subset(dataset, setups):
    """The :class:`Dataset` of ``setups`` only (models, their static records, are kept whole)."""
    keys = set(s.key for s in setups)
    files = [f for s in setups for f in dataset.setup_files.get(s.key, [])]
    return Dataset(dataset.models, [s for s in dataset.setups if s.key in keys],
                   [r for r in dataset.rows if r["setup"] in keys], files,
                   dict((k, v) for k, v in dataset.setup_files.items() if k in keys))
