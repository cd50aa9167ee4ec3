"""Synthetic profiles whose fits are known, for the report and predict tests.

Per-image time is exactly ``INTERCEPT_MS + SLOPE_MS_PER_GOP * paper_ops / 1e9`` at every batch
size unless a test says otherwise, so the time-vs-operations fit must give that slope and R^2 = 1.
"""
import os

from edgeprof.records import profile
from edgeprof.records.files import write_atomic

INTERCEPT_MS = 2.0
SLOPE_MS_PER_GOP = 5.0
POWER_W = 10.0
IDLE_W = 3.0
RSS_OFFSET_BYTES = 200 * 1024 * 1024
RSS_BYTES_PER_PARAM = 4

# name, family, params, macs, fc_macs, top1
MODELS = (
    ("alexnet", "alexnet", 61100840, 714691904, 58621952, 56.5),
    ("googlenet", "googlenet", 6624904, 1504879488, 1024000, 69.8),
    ("resnet18", "resnet", 11689512, 1814073344, 512000, 69.8),
    ("resnet50", "resnet", 25557032, 4089184256, 2048000, 76.1),
    ("vgg16", "vgg", 138357544, 15470264320, 123633664, 71.6),
)
# more light models, for out-of-sample scores that need at least 5 (each fit keeps 2 degrees of freedom)
EXTRA_MODELS = (
    ("mobilenet_v2", "mobilenet", 3504872, 300774272, 1281000, 72.2),
    ("squeezenet1_1", "squeezenet", 1235496, 352238592, 0, 58.2),
    ("resnet34", "resnet", 21797672, 3663761408, 512000, 73.3),
)


def per_image_ms(paper_ops):
    return INTERCEPT_MS + SLOPE_MS_PER_GOP * paper_ops / 1e9


def make_run(batch, paper_ops, params, power=True, status="ok", fc_share=None):
    """One run entry of the schema: exact linear time, flat power, memory linear in params."""
    if status != "ok":
        return {"batch": batch, "status": status, "settings_id": "synthetic", "started": "2026-01-01T00:00:00Z",
                "message": "Failed to allocate memory" if status == "oom" else "runtime error"}
    per_image = per_image_ms(paper_ops)
    latency = per_image * batch
    run = {"batch": batch, "status": "ok", "settings_id": "synthetic", "started": "2026-01-01T00:00:00Z",
           "runs": 20, "window_s": latency * 20 / 1000.0, "warmup_runs": 10,
           "latency_ms": {"mean": latency, "median": latency, "p90": latency, "p95": latency, "p99": latency,
                          "min": latency, "max": latency, "std": 0.0, "cov": 0.0},
           "per_image_ms": per_image, "throughput_ips": 1000.0 / per_image, "warnings": [],
           "memory": {"runtime_bytes": None,
                      "peak_rss_bytes": RSS_OFFSET_BYTES + RSS_BYTES_PER_PARAM * params + batch * 1024 * 1024,
                      "system_used_bytes": 4 << 30}}
    if power:
        energy = POWER_W * per_image  # W x ms = mJ
        run["power"] = {"total_mean_w": POWER_W, "total_peak_w": POWER_W + 1, "idle_w": IDLE_W,
                        "energy_per_image_mj": energy,
                        "energy_per_image_above_idle_mj": (POWER_W - IDLE_W) * per_image,
                        "images_per_j": 1000.0 / energy, "rails": {}}
    if fc_share is not None:
        run["fc_share"] = fc_share
    return run


def make_profile(model, batches=(1, 2, 4, 8), board="synthetic-board", backend="onnxruntime",
                 precision="fp32", power=True, oom_from=None, fc_shares=None, top1=True):
    """A valid profile of one model from :data:`MODELS` (a tuple of it)."""
    name, family, params, macs, fc_macs, accuracy = model
    paper_ops = 2 * macs
    runs = []
    for batch in batches:
        status = "oom" if oom_from is not None and batch >= oom_from else "ok"
        share = fc_shares.get(batch) if fc_shares else None
        runs.append(make_run(batch, paper_ops, params, power=power, status=status, fc_share=share))
    return {
        "schema": profile.SCHEMA, "edgeprof_version": "0.1.0", "created": "2026-01-01T00:00:00Z",
        "board": {"model": "Synthetic board " + board, "slug": board, "is_jetson": False},
        "model": {"name": name, "family": family, "params": params, "macs": macs, "paper_ops": paper_ops,
                  "fc_macs": fc_macs, "weight_bytes": 4 * params, "top1": accuracy if top1 else None},
        "backend": {"name": backend, "precision": precision, "device": "cpu"},
        "protocol": {"warmup_seconds": 0.2, "warmup_runs": 10, "min_seconds": 1.0, "min_runs": 10},
        "power": {"status": "ok", "sensor": "synthetic"} if power
        else {"status": "unavailable", "reason": "no power sensor found (synthetic)"},
        "runs": runs,
    }


def write_set(folder, models=MODELS, **kwargs):
    """Write one profile per model under ``folder/<board>/``; returns the board folder."""
    board = kwargs.get("board", "synthetic-board")
    out = os.path.join(str(folder), board)
    for model in models:
        data = make_profile(model, **kwargs)
        backend = data["backend"]
        path = os.path.join(out, f"{model[0]}__{backend['name']}__{backend['precision']}.yaml")
        write_atomic(path, profile.dump_yaml(profile.validate(data, path)))
    return out
