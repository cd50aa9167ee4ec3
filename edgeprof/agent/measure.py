"""The timing protocol and latency statistics, runtime-agnostic.

Protocol (docs/methodology.md): warm up for at least ``warmup_seconds`` and ``warmup_runs`` inferences, then
time a window of at least ``min_seconds`` and ``min_runs`` inferences. Each inference is timed on
its own with ``time.perf_counter`` (wall latency). The loop does nothing else per run: one clock read
before and after, one list append, one comparison. Garbage collection is done before the window
and off inside it (as ``timeit`` does). Where the session times the device side too (CUDA events),
it records them itself and they are read after the window, never inside it.

Statistics follow trtexec (``samples/common/sampleReporting.cpp``): mean, median, min, max, std
(population, ddof=0), the coefficient of variation ``cov = std / mean`` (a fraction), and
percentiles by **nearest rank**, trtexec's ``findPercentile``: the value at index
``n - 1 - floor((1 - p/100) n)`` of the sorted times, computed here in exact integer arithmetic
(which is the textbook nearest rank, ``ceil(p n / 100)``-th smallest). A percentile the sample count
cannot tell from the maximum (p90 below 10 runs, p95 below 20, p99 below 100) is ``null``, and
``needs_runs`` says how many it needs. Beside them: a distribution-free 95% confidence interval of
the median (order statistics of the binomial(n, 1/2); null below 6 runs) and the robust spread
``iqr_over_median`` (nearest-rank quartiles).
"""
import gc
import math
import time

import numpy as np

COV_WARN = 0.05            # wall-latency CoV above this: the machine was not quiet (edgeprof's rule)
DEVICE_COV_WARN = 0.01     # GPU compute CoV above this: trtexec's kUNSTABLE_PERF_REPORTING_THRESHOLD (1%)
ENQUEUE_BOUND = 0.8        # trtexec's enqueueBoundReportingThreshold: enqueue median above 0.8 x compute
PERCENTILES = (("p90", 90), ("p95", 95), ("p99", 99))
MEDIAN_CI_MIN_RUNS = 6     # below, even (min, max) covers the median with less than 95%
RING_MARGIN = 1.25         # device-time events allocated for this many times the runs the warm-up predicts


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

    def __init__(self, batch, latencies_ms, device, window_s, warmup_runs):
        self.batch = batch
        self.latencies_ms = latencies_ms
        self.device = device or {}
        self.window_s = window_s
        self.warmup_runs = warmup_runs

    @property
    def runs(self):
        return len(self.latencies_ms)

    @property
    def throughput_ips(self):
        """Sequential images per second over the window: batch x runs / window."""
        return self.batch * self.runs / self.window_s

    def summary(self):
        """The run entry fields of a profile (see docs/profile-schema.md)."""
        latency = latency_stats(self.latencies_ms)
        out = {
            "runs": self.runs,
            "window_s": round(self.window_s, 4),
            "warmup_runs": self.warmup_runs,
            "latency_ms": latency,
            "per_image_ms": round(latency["median"] / self.batch, 6),  # from the median latency
            "throughput_ips": round(self.throughput_ips, 4),             # from the window: batch x runs / window
            "warnings": [],
        }
        if latency["cov"] > COV_WARN:
            out["warnings"].append(
                "latency CoV %.1f%% > %.0f%%: the machine was not quiet (other load, throttling, "
                "frequency scaling); treat these numbers with care" % (100 * latency["cov"], 100 * COV_WARN))
        if self.device.get("compute_ms"):
            out.update(device_summary(self.device))
            out["warnings"].extend(device_warnings(out))
        return out


def device_summary(device):
    """The run's device-time fields from per-run lists (trtexec's names in the comments)."""
    out = {"device_time_ms": latency_stats(device["compute_ms"])}              # GPU Compute Time
    for field, key in (("h2d_ms", "h2d_ms"), ("d2h_ms", "d2h_ms"), ("enqueue_ms", "enqueue_ms")):
        if device.get(key):                                                    # H2D / D2H Latency, Enqueue Time
            out[field] = latency_stats(device[key])
    if device.get("h2d_ms") and device.get("d2h_ms"):                          # Latency = H2D + compute + D2H
        out["device_latency_ms"] = latency_stats([a + b + c for a, b, c in zip(
            device["h2d_ms"], device["compute_ms"], device["d2h_ms"])])
    return out


def device_warnings(fields):
    """trtexec's warnings (printEpilog): throughput bound by enqueue, H2D or D2H; unstable GPU compute."""
    compute = fields["device_time_ms"]
    warnings = []
    enqueue, h2d, d2h = (fields.get(k, {}).get("median") for k in ("enqueue_ms", "h2d_ms", "d2h_ms"))
    if enqueue is not None and enqueue > ENQUEUE_BOUND * compute["median"]:
        warnings.append("throughput may be bound by enqueue time (%.3f ms) rather than GPU compute (%.3f ms); the "
                        "GPU may be under-utilized (trtexec's warning)" % (enqueue, compute["median"]))
    for median, what in ((h2d, "host-to-device transfers for the inputs"),
                         (d2h, "device-to-host transfers for the outputs")):
        if median is not None and median >= compute["median"]:
            warnings.append("throughput may be bound by %s (%.3f ms) rather than GPU compute (%.3f ms) "
                            "(trtexec's warning)" % (what, median, compute["median"]))
    if compute["cov"] > DEVICE_COV_WARN:
        warnings.append("GPU compute time is unstable: CoV %.1f%% > %.0f%% (trtexec's threshold); locking the GPU "
                        "clocks (jetson_clocks) may steady it" % (100 * compute["cov"], 100 * DEVICE_COV_WARN))
    return warnings


def nearest_rank(sorted_values, percent):
    """trtexec's findPercentile on ascending values: index ``n - 1 - floor((100 - percent) n / 100)``."""
    n = len(sorted_values)
    exclude = (100 - percent) * n // 100
    return sorted_values[max(n - 1 - exclude, 0)]


def runs_needed(percent):
    """Runs a nearest-rank percentile needs to differ from the maximum: ceil(100 / (100 - percent))."""
    return -(-100 // (100 - percent))


def _log_binomial_half(n, k):
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1) - n * math.log(2.0)


def median_ci_ranks(n, level=0.95):
    """1-based ranks ``(j, n - j + 1)`` of order statistics that cover the median with at least ``level``.

    The largest j with P(Binomial(n, 1/2) <= j - 1) <= (1 - level) / 2 (exact; a textbook result, e.g.
    Conover, Practical Nonparametric Statistics, 3.2). ``None`` when n is too small for ``level``.
    """
    tail = (1.0 - level) / 2.0
    cdf, j = 0.0, 0
    while j < n:
        nxt = cdf + math.exp(_log_binomial_half(n, j))
        if nxt > tail:
            break
        cdf, j = nxt, j + 1
    if j < 1:
        return None
    return j, n - j + 1


def latency_stats(values_ms):
    """Statistics of a list of times in ms, rounded to the nanosecond (6 decimals of a ms), ``cov`` too."""
    a = np.asarray(values_ms, dtype=np.float64)
    if a.size == 0:
        raise ValueError("no times to summarise")
    ordered = np.sort(a)
    n = int(ordered.size)
    mean = float(a.mean())
    std = float(a.std())
    stats = {"mean": mean, "median": float(np.median(a)), "min": float(ordered[0]), "max": float(ordered[-1]),
             "std": std}
    needs = {}
    for name, percent in PERCENTILES:
        if n >= runs_needed(percent):
            stats[name] = float(nearest_rank(ordered, percent))
        else:
            stats[name] = None
            needs[name] = runs_needed(percent)
    stats = dict((k, None if v is None else round(v, 6)) for k, v in stats.items())
    stats["cov"] = round(std / mean, 6) if mean > 0 else 0.0
    ranks = median_ci_ranks(n) if n >= MEDIAN_CI_MIN_RUNS else None
    stats["median_ci95"] = None if ranks is None else [round(float(ordered[ranks[0] - 1]), 6),
                                                       round(float(ordered[ranks[1] - 1]), 6)]
    median = stats["median"]
    spread = float(nearest_rank(ordered, 75) - nearest_rank(ordered, 25))
    stats["iqr_over_median"] = round(spread / median, 6) if median > 0 else 0.0
    if needs:
        stats["needs_runs"] = needs
    return stats


def warm_up(session, protocol):
    """Run until both the warm-up time and run count are reached; returns ``(runs, seconds)``."""
    perf = time.perf_counter
    run = session.run_impl
    start = perf()
    deadline = start + protocol.warmup_seconds
    count = 0
    while count < protocol.warmup_runs or perf() < deadline:
        run()
        count += 1
    return count, perf() - start


def expected_runs(protocol, warmup_runs, warmup_s):
    """About how many runs the window will take, from the warm-up's pace (to size device-time events)."""
    per_run = warmup_s / warmup_runs if warmup_runs else 0.0
    paced = protocol.min_seconds / per_run if per_run > 0 else protocol.min_runs
    return int(max(protocol.min_runs, paced) * RING_MARGIN) + 16


def timed_window(session, protocol, expected=None, on_start=None, on_stop=None):
    """Time single inferences until ``min_seconds`` and ``min_runs`` are both reached.

    Everything the window needs is done before ``on_start`` (device-time events, garbage collection),
    and everything after it (reading device times) after ``on_stop``, so a power window bracketed by
    the two callbacks holds the timed runs only.

    Args:
        expected (int or None): about how many runs the window takes (sizes the session's device timing).
        on_start: called just before the first timed run; on_stop: right after the last, with the run count.

    Returns:
        (list, dict, float): wall latencies in s, the session's device times (empty when it has none:
        see :meth:`Session.device_times`), and the window length in s (first run's start to last run's end).
    """
    perf = time.perf_counter
    run = session.run_impl  # bound once: no extra frame per timed inference
    latencies = []
    record = latencies.append
    min_runs = protocol.min_runs
    device_timing = session.has_device_time
    if device_timing:
        session.start_device_window(expected or min_runs)
    gc.collect()
    collecting = gc.isenabled()
    gc.disable()
    try:
        if on_start:
            on_start()
        start = perf()
        deadline = start + protocol.min_seconds
        end = start
        while True:
            t0 = perf()
            run()
            end = perf()
            record(end - t0)
            if end >= deadline and len(latencies) >= min_runs:
                break
        if on_stop:
            on_stop(len(latencies))
    finally:
        if collecting:
            gc.enable()
    device = session.device_times() if device_timing else {}
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
    warmup_runs, warmup_s = warm_up(session, protocol)
    latencies_s, device, window_s = timed_window(session, protocol, expected_runs(protocol, warmup_runs, warmup_s),
                                                 on_start=on_window_start, on_stop=on_window_stop)
    return Measurement(session.batch, [t * 1000.0 for t in latencies_s], device, window_s, warmup_runs)
