"""Profiles as one flat table: a row per run, the columns people filter on, for pandas, DuckDB, spreadsheets.

Each row is one run entry of one profile (one model at one batch size on one setup), whatever its
status; a measurement the run lacks is empty (``None``). Columns are :data:`COLUMNS`, units in the
names. Accuracy is the measured one where the profile has an accuracy record (``edgeprof accuracy``:
``top1``, ``top5``, ``accuracy_images``), else the published one of the model header, and
``top1_source`` says which (``measured``, ``published``, or empty when neither is known).
Written as CSV, JSON Lines, or Parquet (pyarrow, the ``edgeprof[parquet]`` extra).
"""
import csv
import io
import json

from edgeprof.errors import MissingDependency
from edgeprof.records import profile

COLUMNS = (
    "board", "board_slug", "jetpack", "power_mode", "model", "family", "backend", "backend_version", "precision",
    "device", "batch", "status", "latency_mean_ms", "latency_median_ms", "latency_p90_ms", "latency_p95_ms",
    "latency_p99_ms", "latency_min_ms", "latency_max_ms", "latency_std_ms", "latency_cov", "per_image_ms",
    "throughput_ips", "power_total_w", "power_net_w", "power_idle_w", "energy_per_image_mj",
    "energy_per_image_above_idle_mj", "peak_rss_bytes", "system_delta_bytes", "top1", "top5", "accuracy_images",
    "top1_source", "settings_id", "file",
)
LATENCY = ("mean", "median", "p90", "p95", "p99", "min", "max", "std")
FORMATS = ("csv", "jsonl", "parquet")
# Arrow types of the columns that are not text (parquet keeps them typed; CSV cannot)
INTEGERS = ("batch", "peak_rss_bytes", "system_delta_bytes", "accuracy_images")
TEXTS = ("board", "board_slug", "jetpack", "power_mode", "model", "family", "backend", "backend_version",
         "precision", "device", "status", "top1_source", "settings_id", "file")


def top1_of(data):
    """``(top1, top5, images, source)`` of a profile: measured (its accuracy record), else published
    (the model header), else all None."""
    measured = data.get("accuracy")
    if isinstance(measured, dict) and measured.get("top1") is not None:
        return measured["top1"], measured.get("top5"), measured.get("images"), "measured"
    model = data.get("model") or {}
    if model.get("top1") is not None:
        return model["top1"], model.get("top5"), None, "published"
    return None, None, None, None


def _power_mode(settings):
    mode = (settings.get("power_mode") or {}).get("nvpmodel")
    if not mode:
        return None
    return str(mode.get("name") if mode.get("name") is not None else mode.get("id"))


def rows_of(path, data):
    """The rows of one loaded profile (or its summary: :func:`edgeprof.records.store.summarize`)."""
    board, model = data["board"], data["model"]
    top1, top5, images, source = top1_of(data)
    out = []
    for run in data["runs"]:
        settings = profile.settings_of(data, run)
        latency = run.get("latency_ms") or {}
        power = run.get("power") or {}
        memory = run.get("memory") or {}
        net = None
        if power.get("total_mean_w") is not None and power.get("idle_w") is not None:
            net = power["total_mean_w"] - power["idle_w"]
        row = {"board": board.get("model"), "board_slug": board["slug"], "jetpack": board.get("jetpack"),
               "power_mode": _power_mode(settings), "model": model["name"], "family": model.get("family"),
               "backend": settings["backend"], "backend_version": settings.get("backend_version"),
               "precision": settings["precision"], "device": settings.get("device"), "batch": run["batch"],
               "status": run["status"], "latency_cov": latency.get("cov"),
               "per_image_ms": run.get("per_image_ms"), "throughput_ips": run.get("throughput_ips"),
               "power_total_w": power.get("total_mean_w"), "power_net_w": net, "power_idle_w": power.get("idle_w"),
               "energy_per_image_mj": power.get("energy_per_image_mj"),
               "energy_per_image_above_idle_mj": power.get("energy_per_image_above_idle_mj"),
               "peak_rss_bytes": memory.get("peak_rss_bytes"), "system_delta_bytes": memory.get("system_delta_bytes"),
               "top1": top1, "top5": top5, "accuracy_images": images, "top1_source": source,
               "settings_id": run.get("settings_id"), "file": path}
        for stat in LATENCY:
            row["latency_%s_ms" % stat] = latency.get(stat)
        out.append(row)
    return out


def rows(loaded):
    """Every row of ``loaded``: ``[(path, data)]``."""
    return [row for path, data in loaded for row in rows_of(path, data)]


def _text(value):
    return None if value is None else str(value)


def to_csv(table_rows):
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in table_rows:
        writer.writerow(["" if row[c] is None else row[c] for c in COLUMNS])
    return buf.getvalue()


def to_jsonl(table_rows):
    return "".join(json.dumps(dict((c, row[c]) for c in COLUMNS), default=str) + "\n" for row in table_rows)


def to_parquet(table_rows):
    """Parquet bytes of the rows (typed columns); needs pyarrow."""
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError:
        raise MissingDependency("--format parquet needs pyarrow: pip install 'edgeprof[parquet]' (or use "
                                "--format csv or jsonl)")
    fields, arrays = [], []
    for column in COLUMNS:
        kind = (pyarrow.int64() if column in INTEGERS else pyarrow.string() if column in TEXTS
                else pyarrow.float64())
        values = [row[column] for row in table_rows]
        if column in TEXTS:
            values = [_text(v) for v in values]
        elif column in INTEGERS:
            values = [None if v is None else int(v) for v in values]
        else:
            values = [None if v is None else float(v) for v in values]
        fields.append(pyarrow.field(column, kind))
        arrays.append(pyarrow.array(values, type=kind))
    buf = pyarrow.BufferOutputStream()
    pyarrow.parquet.write_table(pyarrow.Table.from_arrays(arrays, schema=pyarrow.schema(fields)), buf)
    return buf.getvalue().to_pybytes()


def render(table_rows, fmt):
    """The rows as ``str`` (csv, jsonl) or ``bytes`` (parquet)."""
    return {"csv": to_csv, "jsonl": to_jsonl, "parquet": to_parquet}[fmt](table_rows)
