"""The timing protocol and latency statistics, runtime-agnostic.

Protocol (docs/methodology.md): warm up for at least ``warmup_seconds`` and ``warmup_runs`` inferences, then
time a window of at least ``min_seconds`` and ``min_runs`` inferences. Each inference is timed on
its own with ``time.perf_counter`` (wall latency); where the session can time the device side
(CUDA events), that time is collected too. The loop does nothing else per run: one clock read
before and after, one list append (two with device time), one comparison.

Statistics follow trtexec's vocabulary: mean, median, p90, p95, p99, min, max, std (population,
ddof=0), and the coefficient of variation ``cov = std / mean`` (a fraction). Percentiles use linear
interpolation between closest ranks (numpy's default), so p50 == median.
"""
import time

import numpy as np

COV_WARN = 0.05


class Protocol(object):
    """Measurement settings; all in seconds or counts."""

    def __init__(self, warmup_seconds=0.2, warmup_runs=10, min_seconds=3.0, min_runs=10):
        self.warmup_seconds = float(warmup_seconds)
        self.warmup_runs = int(warmup_runs)
        self.min_seconds = float(min_seconds)
        self.min_runs = int(min_runs)

    def as_dict(self):
        return {"warmup_seconds": self.warmup_seconds, "warmup_runs": self.warmup_runs,
                "min_seconds": self.min_seconds, "min_runs": self.min_runs}


class Measurement(object):
    """What one window measured: per-run wall latencies (ms) and, where available, device times (ms)."""

    def __init__(self, batch, latencies_ms, device_ms, window_s, warmup_runs):
        self.batch = batch
        self.latencies_ms = latencies_ms
        self.device_ms = device_ms
        self.window_s = window_s
        self.warmup_runs = warmup_runs

    @property
    def runs(self):
        return len(self.latencies_ms)

    @property
    def throughput_ips(self):
        """Images per second over the window: batch x runs / window."""
        return self.batch * self.runs / self.window_s

    def summary(self):
        """The run entry fields of a profile (see docs/profile-schema.md)."""
        latency = latency_stats(self.latencies_ms)
        out = {
            "runs": self.runs,
            "window_s": round(self.window_s, 4),
            "warmup_runs": self.warmup_runs,
            "latency_ms": latency,
            "per_image_ms": round(latency["median"] / self.batch, 6),
            "throughput_ips": round(self.throughput_ips, 4),
            "warnings": [],
        }
        if self.device_ms:
            out["device_time_ms"] = latency_stats(self.device_ms)
        if latency["cov"] > COV_WARN:
            out["warnings"].append(
                "latency CoV %.1f%% > %.0f%%: the machine was not quiet (other load, throttling, "
                "frequency scaling); treat these numbers with care" % (100 * latency["cov"], 100 * COV_WARN))
        return out


def latency_stats(values_ms):
    """Statistics of a list of times in ms, rounded to the nanosecond (6 decimals of a ms), ``cov`` too."""
    a = np.asarray(values_ms, dtype=np.float64)
    if a.size == 0:
        raise ValueError("no times to summarise")
    mean = float(a.mean())
    std = float(a.std())
    p50, p90, p95, p99 = (float(v) for v in np.percentile(a, [50, 90, 95, 99]))
    stats = {"mean": mean, "median": p50, "p90": p90, "p95": p95, "p99": p99,
             "min": float(a.min()), "max": float(a.max()), "std": std}
    stats = {k: round(v, 6) for k, v in stats.items()}
    stats["cov"] = round(std / mean, 6) if mean > 0 else 0.0
    return stats


def warm_up(session, protocol):
    """Run until both the warm-up time and run count are reached; returns the number of runs."""
    perf = time.perf_counter
    run = session.run_impl
    deadline = perf() + protocol.warmup_seconds
    count = 0
    while count < protocol.warmup_runs or perf() < deadline:
        run()
        count += 1
    return count


def timed_window(session, protocol):
    """Time single inferences until ``min_seconds`` and ``min_runs`` are both reached.

    Returns:
        (list, list, float): wall latencies in s, device times in ms (empty when the session has
        none), and the window length in s (from the first run's start to the last run's end).
    """
    perf = time.perf_counter
    run = session.run_impl  # bound once: no extra frame per timed inference
    latencies = []
    record = latencies.append
    device = []
    device_time = session.gpu_time_ms if session.has_device_time else None
    min_runs = protocol.min_runs
    start = perf()
    deadline = start + protocol.min_seconds
    end = start
    if device_time is None:
        while True:
            t0 = perf()
            run()
            end = perf()
            record(end - t0)
            if end >= deadline and len(latencies) >= min_runs:
                break
    else:
        while True:
            t0 = perf()
            run()
            end = perf()
            record(end - t0)
            device.append(device_time())
            if end >= deadline and len(latencies) >= min_runs:
                break
    return latencies, device, end - start


def measure(session, protocol, on_window_start=None, on_window_stop=None):
    """Warm up, then time a window; callbacks bracket the window (e.g. a power monitor).

    Args:
        session: an opened :class:`edgeprof.agent.backends.base.Session`.
        protocol (Protocol): the settings.
        on_window_start: called just before the first timed run.
        on_window_stop: called right after the last timed run with the number of timed runs.

    Returns:
        Measurement
    """
    warmup_runs = warm_up(session, protocol)
    if on_window_start:
        on_window_start()
    latencies_s, device_ms, window_s = timed_window(session, protocol)
    if on_window_stop:
        on_window_stop(len(latencies_s))
    return Measurement(session.batch, [t * 1000.0 for t in latencies_s], device_ms, window_s, warmup_runs)
