"""The timing protocol and the statistics, against numbers worked out by hand."""
import pytest

from edgeprof.agent import measure
from edgeprof.agent.backends.base import Session


def test_statistics_of_a_known_sample():
    # 1..10 ms: mean 5.5; population std sqrt(8.25) = 2.8723; median 5.5 (the mean of the middle two,
    # as trtexec's findMedian). Nearest rank (trtexec's findPercentile): p90 = sorted[10 - 1 - floor(0.1 * 10)]
    # = sorted[8] = 9; p95 and p99 cannot be told from the max with 10 runs (they need 20 and 100).
    # Quartiles by nearest rank: sorted[10 - 1 - 7] = 3 and sorted[10 - 1 - 2] = 8, so IQR / median = 5 / 5.5.
    # Median CI: P(Binomial(10, 1/2) <= 1) = 11/1024 = 0.0107 <= 0.025 < P(<= 2) = 56/1024, so the 2nd and
    # 9th smallest: [2, 9], covering with 1 - 2 * 0.0107 = 97.9%.
    stats = measure.latency_stats([float(v) for v in range(1, 11)])
    assert stats["mean"] == 5.5
    assert stats["median"] == 5.5
    assert stats["p90"] == 9.0
    assert stats["p95"] is None and stats["p99"] is None
    assert stats["needs_runs"] == {"p95": 20, "p99": 100}
    assert stats["min"] == 1.0 and stats["max"] == 10.0
    assert stats["std"] == pytest.approx(2.872281, abs=1e-6)
    assert stats["cov"] == pytest.approx(2.872281 / 5.5, abs=1e-6)
    assert stats["iqr_over_median"] == pytest.approx(5 / 5.5, abs=1e-6)
    assert stats["median_ci95"] == [2.0, 9.0]


def test_nearest_rank_percentiles_of_1_to_100_and_of_20_runs():
    stats = measure.latency_stats([float(v) for v in range(1, 101)])
    assert (stats["p90"], stats["p95"], stats["p99"]) == (90.0, 95.0, 99.0)  # ceil(p n / 100)-th smallest
    assert "needs_runs" not in stats
    twenty = measure.latency_stats([float(v) for v in range(1, 21)])
    assert (twenty["p90"], twenty["p95"], twenty["p99"]) == (18.0, 19.0, None)
    shuffled = measure.latency_stats([7.0, 1.0, 9.0, 3.0, 10.0, 2.0, 8.0, 5.0, 4.0, 6.0])
    assert shuffled["p90"] == 9.0 and shuffled["median_ci95"] == [2.0, 9.0]


def test_a_median_interval_needs_six_runs():
    # n = 5: even (min, max) covers the median with 1 - 2/32 = 93.75% < 95%
    assert measure.latency_stats([1.0, 2.0, 3.0, 4.0, 5.0])["median_ci95"] is None
    assert measure.median_ci_ranks(6) == (1, 6)       # 1 - 2/64 = 96.9%
    assert measure.median_ci_ranks(100) == (40, 61)   # the textbook table's ranks for n = 100
    assert measure.median_ci_ranks(1000) == (469, 532)  # n/2 -/+ 1.96 sqrt(n)/2 (+1): 469.0 .. 532.0


def test_statistics_of_a_constant_sample_have_zero_spread():
    stats = measure.latency_stats([2.0] * 7)
    assert stats["std"] == 0.0 and stats["cov"] == 0.0 and stats["iqr_over_median"] == 0.0
    assert stats["p90"] is None and stats["median_ci95"] == [2.0, 2.0]


def test_statistics_refuse_an_empty_sample():
    with pytest.raises(ValueError):
        measure.latency_stats([])


class CountingSession(Session):
    """A session whose every run takes a fixed time on a fake clock."""
    has_device_time = False

    def __init__(self, clock, run_s, batch=4):
        Session.__init__(self, batch)
        self.clock = clock
        self.run_s = run_s
        self.runs = 0

    def run_impl(self):
        self.clock.now += self.run_s
        self.runs += 1


class FakeClock(object):
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


@pytest.fixture
def clock(monkeypatch):
    fake = FakeClock()
    monkeypatch.setattr(measure.time, "perf_counter", fake)
    return fake


def test_window_lasts_at_least_min_seconds(clock):
    session = CountingSession(clock, run_s=0.125)  # binary-exact steps: no rounding at the deadline
    result = measure.measure(session, measure.Protocol(warmup_seconds=0, warmup_runs=1, min_seconds=3, min_runs=2))
    assert result.runs == 24
    assert result.window_s == pytest.approx(3.0)
    assert result.latencies_ms[0] == pytest.approx(125.0)


def test_window_has_at_least_min_runs(clock):
    session = CountingSession(clock, run_s=1.0)
    result = measure.measure(session, measure.Protocol(warmup_seconds=0, warmup_runs=1, min_seconds=0.5, min_runs=10))
    assert result.runs == 10


def test_warm_up_needs_both_time_and_runs(clock):
    session = CountingSession(clock, run_s=0.0625)
    runs, seconds = measure.warm_up(session, measure.Protocol(warmup_seconds=0.25, warmup_runs=2))
    assert runs == 4 and seconds == pytest.approx(0.25)


def test_throughput_is_batch_times_runs_over_window(clock):
    session = CountingSession(clock, run_s=0.25, batch=8)
    summary = measure.measure(session, measure.Protocol(0, 1, 1.0, 4)).summary()
    assert summary["throughput_ips"] == pytest.approx(8 * 4 / 1.0)
    assert summary["per_image_ms"] == pytest.approx(250.0 / 8)
    assert summary["warnings"] == []


def test_high_cov_gives_a_warning():
    result = measure.Measurement(1, [1.0, 1.0, 2.0, 1.0], [], 0.005, 10)
    summary = result.summary()
    assert summary["latency_ms"]["cov"] > 0.05
    assert "CoV" in summary["warnings"][0]


def test_window_callbacks_bracket_the_timed_runs(clock):
    session = CountingSession(clock, run_s=0.125)
    seen = []
    measure.measure(session, measure.Protocol(0, 3, 1.0, 5),
                    on_window_start=lambda: seen.append(("start", session.runs)),
                    on_window_stop=lambda runs: seen.append(("stop", session.runs, runs)))
    assert seen == [("start", 3), ("stop", 11, 8)]


class DeviceTimedSession(CountingSession):
    """Records when the loop asks for device timing, to check nothing happens inside the window."""
    has_device_time = True

    def __init__(self, clock, run_s, times):
        CountingSession.__init__(self, clock, run_s)
        self.times = times
        self.log = []

    def start_device_window(self, expected_runs):
        self.log.append(("start", self.runs, expected_runs))

    def device_times(self):
        self.log.append(("read", self.runs))
        n = self.runs - self.log[0][1]
        return dict((k, [v] * n) for k, v in self.times.items())


def test_device_times_are_read_after_the_window_and_never_inside_it(clock):
    session = DeviceTimedSession(clock, 0.125, {"compute_ms": 0.07, "h2d_ms": 0.01, "d2h_ms": 0.02,
                                                "enqueue_ms": 0.03})
    seen = []
    summary = measure.measure(session, measure.Protocol(0.25, 1, 0.5, 2), on_window_start=lambda: seen.append(
        ("window", session.runs)), on_window_stop=lambda runs: seen.append(("stop", session.runs))).summary()
    # 2 warm-up runs of 0.125 s in 0.25 s: the 0.5 s window should take 4 runs; events for 1.25 x 4 + 16
    assert session.log[0] == ("start", 2, 21)
    assert seen == [("window", 2), ("stop", 6)] and session.log[1] == ("read", 6)
    assert summary["device_time_ms"]["median"] == pytest.approx(0.07)
    assert summary["device_latency_ms"]["median"] == pytest.approx(0.10)
    assert summary["enqueue_ms"]["median"] == pytest.approx(0.03)
    assert summary["warnings"] == []


def test_trtexec_s_host_bound_and_unstable_warnings():
    def warnings(h2d, compute, d2h, enqueue):
        fields = measure.device_summary({"compute_ms": compute, "h2d_ms": h2d, "d2h_ms": d2h, "enqueue_ms": enqueue})
        return " | ".join(measure.device_warnings(fields))
    steady = [1.0] * 10
    assert warnings([0.1] * 10, steady, [0.1] * 10, [0.79] * 10) == ""
    assert "bound by enqueue time" in warnings([0.1] * 10, steady, [0.1] * 10, [0.81] * 10)
    assert "host-to-device" in warnings(steady, steady, [0.1] * 10, [0.1] * 10)
    assert "device-to-host" in warnings([0.1] * 10, steady, steady, [0.1] * 10)
    assert "unstable: CoV 1.5%" in warnings([0.1] * 10, [0.985, 1.015] * 5, [0.1] * 10, [0.1] * 10)


def test_garbage_collection_is_off_inside_the_window_only(clock):
    import gc
    states = []

    class Watching(CountingSession):
        def run_impl(self):
            CountingSession.run_impl(self)
            states.append(gc.isenabled())

    was = gc.isenabled()
    measure.measure(Watching(clock, 0.125), measure.Protocol(0, 2, 0.25, 2))
    assert states[:2] == [was, was] and set(states[2:]) == {False} and gc.isenabled() == was
