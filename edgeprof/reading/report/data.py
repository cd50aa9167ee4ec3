"""Profiles as tidy rows: one row per (setup, model, batch), and one static record per model.

A *setup* is one (board, backend, precision): the figures of one setup compare models on the
same machine and software; figure 10 compares setups. A missing measurement stays ``None``.
"""

from edgeprof.records import profile
from edgeprof.errors import InputFileError
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
        self.key = slug(f"{board_slug}-{backend}-{precision}")
        on_device = f" ({device})" if device else ""
        self.label = f"{board_slug} / {backend}{on_device} / {precision}"

    def as_dict(self):
        return {"key": self.key, "label": self.label, "board": self.board_slug,
                "board_model": self.board_model, "backend": self.backend,
                "precision": self.precision, "device": self.device, "power_reason": self.power_reason}


class Dataset:
    """What a report is drawn from.

    Attributes:
        models (dict): model name -> static record (name plus :data:`STATIC_FIELDS`).
        setups (list of Setup): sorted by key.
        rows (list of dict): one per run, see :func:`run_row`.
        files (list of str): the profile files read.
    """

    def __init__(self, models, setups, rows, files):
        self.models = models
        self.setups = setups
        self.rows = rows
        self.files = files

    def rows_of(self, setup, status="ok"):
        """Rows of one setup with that status (all statuses when ``status`` is None)."""
        return [r for r in self.rows if r["setup"] == setup.key and (status is None or r["status"] == status)]

    def model_names(self):
        return sorted(self.models)


def _memory(run, is_jetson):
    """(bytes, source) of the run's memory footprint.

    On a Jetson the GPU shares DRAM with the CPU, so the system-wide memory the run added is the
    footprint (as in the paper); elsewhere the process's peak resident set size.
    """
    mem = run.get("memory") or {}
    order = (("system_delta_bytes", "peak_rss_bytes") if is_jetson
             else ("peak_rss_bytes", "system_delta_bytes"))
    for field in order:
        if mem.get(field) is not None:
            return mem[field], field
    return None, None


def run_row(setup, model_name, run):
    """The tidy row of one run entry: units in the names, ``None`` where not measured."""
    power = run.get("power") or {}
    memory_bytes, memory_source = _memory(run, setup.is_jetson)
    latency = run.get("latency_ms") or {}
    return {
        "setup": setup.key, "model": model_name, "batch": run["batch"], "status": run["status"],
        "message": run.get("message"),
        "latency_median_ms": latency.get("median"),
        "per_image_ms": run.get("per_image_ms") if run.get("per_image_ms") is not None
        else (latency["median"] / run["batch"] if latency.get("median") is not None else None),
        "throughput_ips": run.get("throughput_ips"),
        "power_w": power.get("total_mean_w"), "idle_w": power.get("idle_w"),
        "energy_per_image_mj": power.get("energy_per_image_mj"),
        "images_per_j": power.get("images_per_j"),
        "memory_bytes": memory_bytes, "memory_source": memory_source,
        "fc_share": fc_share_of(run),
    }


def fc_share_of(run):
    """The run's share of time in fully connected layers: ``run.fc_share``, or where the TensorRT
    backend puts it with ``--layers``, ``run.backend.fc_share``; None without per-layer timings."""
    if run.get(FC_SHARE_FIELD) is not None:
        return run[FC_SHARE_FIELD]
    return (run.get("backend") or {}).get(FC_SHARE_FIELD)


def _setup_of(data):
    board, backend, power = data["board"], data["backend"], data["power"]
    reason = None if power["status"] == "ok" else (power.get("reason") or "no power sensor was used")
    return Setup(board["slug"], board.get("model"), backend["name"], backend["precision"],
                 backend.get("device"), bool(board.get("is_jetson")), reason)


def _merge_static(models, name, source):
    record = models.setdefault(name, {"name": name})
    for field in STATIC_FIELDS:
        if record.get(field) is None and source.get(field) is not None:
            record[field] = source[field]


def _manifest_models(path):
    from edgeprof.records import manifest
    return manifest.load(path)["models"]


def load(paths, manifest_path=None):
    """Read every profile under ``paths`` into a :class:`Dataset`.

    Static fields missing from the profiles are filled from ``manifest_path`` when given.
    Raises :class:`InputFileError` when no profile is found.
    """
    files = profile.iter_profile_files(paths)
    if not files:
        raise InputFileError(f"no profile files (*.yaml) under {', '.join(paths)}; run edgeprof sweep "
                             "first or give the profiles/<board> folder")
    models, setups, rows = {}, {}, []
    for path in files:
        data = profile.load(path)
        setup = _setup_of(data)
        setups.setdefault(setup.key, setup)
        name = data["model"]["name"]
        _merge_static(models, name, data["model"])
        rows.extend(run_row(setup, name, run) for run in data["runs"])
    if manifest_path:
        for entry in _manifest_models(manifest_path):
            if entry["name"] in models:
                _merge_static(models, entry["name"], entry)
    for record in models.values():
        if record.get("family") is None:
            record["family"] = family_of(record["name"])
    return Dataset(models, [setups[k] for k in sorted(setups)], rows, files)
