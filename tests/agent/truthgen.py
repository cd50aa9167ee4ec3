"""Synthetic profiles of known truth for the findings tests: numpy and PyYAML only (runs under Python 3.6).

A test states the truth as functions of the model and the batch size (time per image, total and
idle power, memory); :func:`dataset` turns them into validated profiles and the report's dataset.
Random scatter comes from a seeded ``RandomState``, so every case is the same on every run.
"""
import math

import numpy

from edgeprof.reading.report import data
from edgeprof.records import profile

BATCHES = (1, 2, 4, 8)
FAMILIES = ("alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa", "lambda", "mu")


class Model(object):
    """A synthetic model: operations (G-Ops), parameters (millions), top-1 (%), family, FC share of MACs."""

    def __init__(self, name, gops, params_m, top1=None, family=None, fc_fraction=0.0):
        self.name, self.gops, self.params_m, self.top1 = name, gops, params_m, top1
        self.family = family or name
        self.fc_fraction = fc_fraction

    def record(self):
        macs = int(self.gops * 1e9 / 2)
        return {"name": self.name, "family": self.family, "params": int(self.params_m * 1e6), "macs": macs,
                "paper_ops": int(self.gops * 1e9), "fc_macs": int(macs * self.fc_fraction), "top1": self.top1}


def spread_models(count, seed=0, low_gops=0.3, high_gops=20.0, families=2):
    """``count`` models with operations spread log-uniformly, parameters ~ operations, ``families`` per family."""
    rng = numpy.random.RandomState(seed)
    gops = numpy.exp(rng.uniform(math.log(low_gops), math.log(high_gops), count))
    out = []
    for i, g in enumerate(sorted(gops)):
        out.append(Model("m%02d" % i, float(g), float(2.0 + 3.0 * g * rng.uniform(0.5, 1.5)),
                         family=FAMILIES[(i // families) % len(FAMILIES)]))
    return out


def run_entry(batch, per_image_ms, power=None, memory_bytes=None):
    """One ok run: ``power`` is (total W, idle W or None) or None (no sensor)."""
    latency = per_image_ms * batch
    run = {"batch": batch, "status": "ok", "settings_id": "truth", "runs": 20, "window_s": latency * 0.02,
           "latency_ms": {k: latency for k in profile.LATENCY_STATS if k not in ("std", "cov")},
           "per_image_ms": per_image_ms, "throughput_ips": 1000.0 / per_image_ms, "warnings": []}
    run["latency_ms"].update(std=0.0, cov=0.0)
    if memory_bytes is not None:
        run["memory"] = {"peak_rss_bytes": int(memory_bytes)}
    if power is not None:
        total, idle = power
        energy = total * per_image_ms
        run["power"] = {"total_mean_w": total, "idle_w": idle, "energy_per_image_mj": energy,
                        "energy_per_image_above_idle_mj": None if idle is None else (total - idle) * per_image_ms,
                        "images_per_j": 1000.0 / energy, "rails": {}}
    return run


def profile_of(model, runs, board="truth-board", precision="fp32", sensor=True, extra=None):
    data_ = {"schema": profile.SCHEMA, "edgeprof_version": "0.1.0", "created": "2026-01-01T00:00:00Z",
             "board": {"model": "Synthetic " + board, "slug": board, "is_jetson": False},
             "model": model.record(), "backend": {"name": "onnxruntime", "precision": precision, "device": "cpu"},
             "protocol": {"warmup_seconds": 0.2, "warmup_runs": 10, "min_seconds": 1.0, "min_runs": 10},
             "power": {"status": "ok", "sensor": "synthetic"} if sensor
             else {"status": "unavailable", "reason": "no power sensor (synthetic)"},
             "runs": runs}
    data_.update(extra or {})
    return profile.validate(data_, model.name)


def dataset(models, time, power=None, memory=None, batches=BATCHES, **kwargs):
    """The report's dataset of ``models``: ``time(model, batch)`` ms per image, ``power(model, batch)``
    (total W, idle W or None), ``memory(model, batch)`` bytes; other keywords go to :func:`profile_of`."""
    loaded = []
    for m in models:
        runs = [run_entry(b, time(m, b), None if power is None else power(m, b),
                          None if memory is None else memory(m, b)) for b in batches]
        loaded.append(("%s.yaml" % m.name, profile_of(m, runs, sensor=power is not None, **kwargs)))
    return data.from_profiles(loaded)


def scatter(seed, count, sigma):
    """``count`` multiplicative noise factors exp(N(0, sigma)), seeded."""
    return numpy.exp(numpy.random.RandomState(seed).normal(0.0, sigma, count))
