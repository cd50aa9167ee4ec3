"""The timing protocol and the statistics, against numbers worked out by hand."""
import pytest

from edgeprof.agent import measure
from edgeprof.agent.backends.base import Session


def test_statistics_of_a_known_sample():
    # 1..10 ms: mean 5.5; population std sqrt(8.25) = 2.8723; median 5.5;
    # linear-interpolated p90 = 1 + 0.9*9 = 9.1, p95 = 9.55, p99 = 9.91.
    stats = measure.latency_stats([float(v) for v in range(1, 11)])
    assert stats["mean"] == 5.5
    assert stats["median"] == 5.5
    assert stats["p90"] == pytest.approx(9.1)
    assert stats["p95"] == pytest.approx(9.55)
    assert stats["p99"] == pytest.approx(9.91)
    assert stats["min"] == 1.0 and stats["max"] == 10.0
    assert stats["std"] == pytest.approx(2.872281, abs=1e-6)
    assert stats["cov"] == pytest.approx(2.872281 / 5.5, abs=1e-6)


def test_statistics_of_a_constant_sample_have_zero_spread():
    stats = measure.latency_stats([2.0] * 7)
    assert stats["std"] == 0.0 and stats["cov"] == 0.0 and stats["p99"] == 2.0


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
    runs = measure.warm_up(session, measure.Protocol(warmup_seconds=0.25, warmup_runs=2))
    assert runs == 4


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


def test_device_times_are_collected_when_the_session_has_them(clock):
    session = CountingSession(clock, run_s=0.1)
    session.has_device_time = True
    session.gpu_time_ms = lambda: 0.07
    summary = measure.measure(session, measure.Protocol(0, 1, 0.5, 5)).summary()
    assert summary["device_time_ms"]["median"] == pytest.approx(0.07)
