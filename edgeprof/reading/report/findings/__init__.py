"""The paper's findings as numbers and verdicts, for the profiles given (numpy only, no matplotlib).

Every finding is a dict with ``status`` (``ok`` or ``absent`` with a ``reason``), the numbers
behind it, ``paper`` (what the paper found on its Jetson TX1), ``rule`` (the test in words),
``statistic`` (its outcome in words: the p-value or interval, and ``n``) and ``verdict``, which
starts with ``agrees``, ``contradicts`` or ``inconclusive`` (see :mod:`.common`). A contradiction
is a result about the board and its software, not an error.

Measured findings are computed per setup at the smallest and the largest common batch size (the
paper's batch 1 and 16); ``time_vs_ops``, ``accuracy_vs_throughput``, ``accuracy_vs_energy``,
``ops_vs_power`` and the architecture half of ``power`` hold one entry per batch under ``batches``
and agree only when every batch agrees.
"""
from edgeprof.reading.report.findings import accuracy, memory, power, timing
from edgeprof.reading.report.findings.across import across
from edgeprof.reading.report.findings.common import (  # noqa: F401  (the package's interface)
    AGREES, ALPHA, CONTRADICTS, INCONCLUSIVE, MIN_MODELS, absent, common_batches, paper_models, samples)
from edgeprof.reading.report.findings.timing import fc_share  # noqa: F401

__all__ = ["AGREES", "ALPHA", "CONTRADICTS", "INCONCLUSIVE", "MIN_MODELS", "absent", "across", "common_batches",
           "compute", "fc_share", "for_setup", "paper_models", "power_spread", "samples", "tested_samples"]


def run_counts(dataset, setup):
    rows = dataset.rows_of(setup, status=None)
    counts = {s: sum(1 for r in rows if r["status"] == s) for s in ("ok", "oom", "error")}
    counts["not_ok"] = [{"model": r["model"], "batch": r["batch"], "status": r["status"],
                         "message": r["message"]} for r in rows if r["status"] != "ok"]
    return counts


def tested_batches(batches):
    """The batch sizes the findings are tested at: the smallest and the largest common one."""
    return batches[:1] + batches[-1:] if len(batches) > 1 else list(batches)


def tested_samples(dataset, setup):
    """``[(batch, samples)]`` at the batch sizes the setup's findings are tested at."""
    return [(b, samples(dataset, setup, b)) for b in tested_batches(common_batches(dataset, setup))]


def power_spread(dataset, setup):
    """The power finding of one setup on its own (see :func:`power.power`)."""
    return power.power(dataset, setup, tested_samples(dataset, setup))


def for_setup(dataset, setup):
    """Every per-setup finding for one (board, backend, precision)."""
    batches = common_batches(dataset, setup)
    by_batch = tested_samples(dataset, setup)
    first, first_points = by_batch[0] if by_batch else (1, [])
    last_points = by_batch[-1][1] if len(by_batch) > 1 else None
    found_power = power.power(dataset, setup, by_batch)
    prediction = timing.prediction(first_points, first)
    prediction["verdict"] = "inconclusive: scores only; the verdict on operations is time_vs_ops"
    return {
        "setup": setup.as_dict(), "runs": run_counts(dataset, setup),
        "common_batches": batches, "tested_batches": [b for b, _ in by_batch],
        "time_vs_ops": timing.time_vs_ops(by_batch),
        "power": found_power,
        "ops_vs_power": power.ops_vs_power(found_power),
        "accuracy_vs_throughput": accuracy.accuracy_vs_throughput(by_batch, setup),
        "accuracy_vs_energy": accuracy.accuracy_vs_energy(by_batch, setup),
        "memory_vs_params": memory.memory_vs_params(first_points, first),
        "fc_share": timing.fc_share(dataset, setup, first_points, last_points),
        "prediction": prediction,
    }


def models_table(dataset):
    return [dict(model) for _, model in sorted(dataset.models.items())]


def compute(dataset):
    """All findings: static ones once, measured ones per setup, ratios across setups."""
    return {"models": models_table(dataset), "density": accuracy.density(dataset),
            "setups": [for_setup(dataset, s) for s in dataset.setups], "across": across(dataset),
            "files": list(dataset.files)}
