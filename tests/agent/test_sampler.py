"""The sampler thread, the window arithmetic, and the monitor's energy against known power traces."""
import math
import os
import shutil
import threading
import time

import pytest
import yaml

from edgeprof.records import profile
from edgeprof.agent.sensors import ina3221
from edgeprof.agent.sensors.base import PowerSensor
from edgeprof.agent.sensors.monitor import PowerMonitor
from edgeprof.agent.sensors.sampler import counter_j, integrate_w, peak_w, value_at

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures")
VDD_IN_FILE = "sys/bus/i2c/drivers/ina3221x/0-0041/iio:device1/in_power0_input"


class RampSensor(PowerSensor):
    """A stand-in whose one rail draws ``base_w + slope_w_per_s * t`` (t = time.monotonic())."""

    name = "ramp"

    def __init__(self, base_w, slope_w_per_s, counts_energy=False):
        super(RampSensor, self).__init__(["VDD_IN"], "VDD_IN", "test", ["ramp"])
        self.base_w, self.slope = base_w, slope_w_per_s
        self.counts_energy = counts_energy
        self.t_start = time.monotonic()

    def read(self):
        t = time.monotonic() - self.t_start
        if self.counts_energy:
            return {"VDD_IN": self.base_w * t + self.slope * t * t / 2.0}
        return {"VDD_IN": self.base_w + self.slope * t}


def test_value_at_interpolates_between_samples_and_holds_outside():
    series = [(0.0, 1.0), (2.0, 3.0)]
    assert value_at(series, 1.0) == 2.0
    assert value_at(series, -1.0) == 1.0
    assert value_at(series, 5.0) == 3.0


def test_trapezoid_is_exact_for_a_linear_trace_cut_between_samples():
    series = [(float(t), 2.0 + t) for t in range(11)]
    assert integrate_w(series, 0.5, 9.25) == pytest.approx((2.0 + 0.5 + 2.0 + 9.25) / 2 * 8.75)


def test_counter_energy_is_the_interpolated_difference():
    series = [(0.0, 100.0), (1.0, 103.0), (2.0, 109.0)]
    assert counter_j(series, 0.5, 1.5) == pytest.approx(106.0 - 101.5)


def test_counter_peak_is_the_fastest_interval():
    series = [(0.0, 0.0), (1.0, 3.0), (2.0, 9.0)]
    assert peak_w(series, 0.0, 2.0, counts_energy=True) == pytest.approx(6.0)


def test_empty_series_has_no_energy():
    assert integrate_w([], 0.0, 1.0) is None
    assert counter_j([], 0.0, 1.0) is None


@pytest.mark.parametrize("counts_energy", [False, True])
def test_window_energy_matches_a_ramp_whose_energy_is_known(counts_energy):
    sensor = RampSensor(2.0, 1.0, counts_energy)
    monitor = PowerMonitor(sensor, rate_hz=100)
    try:
        time.sleep(0.05)
        monitor.start_window()
        t0 = monitor._t0 - sensor.t_start
        time.sleep(0.6)
        t1 = time.monotonic() - sensor.t_start
        result = monitor.stop_window(images=60, idle_w=None)
    finally:
        monitor.close()
    expected_j = 2.0 * (t1 - t0) + (t1 * t1 - t0 * t0) / 2.0
    assert result["energy_j"] == pytest.approx(expected_j, rel=0.01)
    assert result["energy_per_image_mj"] == pytest.approx(expected_j * 1000 / 60, rel=0.01)


def test_rate_and_samples_are_recorded_per_rail():
    monitor = PowerMonitor(RampSensor(1.0, 0.0), rate_hz=50)
    try:
        monitor.start_window()
        time.sleep(0.5)
        rail = monitor.stop_window(10, None)["rails"]["VDD_IN"]
    finally:
        monitor.close()
    assert 15 <= rail["samples"] <= 30
    assert rail["rate_hz"] == pytest.approx(50, rel=0.3)


def run_window(sensor, seconds, images, idle_w=None, rate_hz=100):
    """``(power window, window extras, describe())`` of one window of ``seconds`` over ``sensor``."""
    monitor = PowerMonitor(sensor, rate_hz=rate_hz)
    try:
        monitor.start_window()
        time.sleep(seconds)
        window = monitor.stop_window(images=images, idle_w=idle_w)
        return window, monitor.window_extras(), monitor.describe()
    finally:
        monitor.close()


def test_energy_above_idle_subtracts_idle_power_over_the_window():
    result, _, _ = run_window(RampSensor(3.0, 0.0), 0.3, images=30, idle_w=1.0)
    assert result["energy_per_image_above_idle_mj"] == pytest.approx(result["energy_per_image_mj"] * 2 / 3, rel=0.01)
    assert result["images_per_j"] == pytest.approx(30 / result["energy_j"], rel=1e-3)


def test_measure_idle_returns_the_total_mean():
    monitor = PowerMonitor(RampSensor(1.5, 0.0), rate_hz=100)
    try:
        idle = monitor.measure_idle(0.2)
    finally:
        monitor.close()
    assert idle["idle_w"] == pytest.approx(1.5)


def test_a_sensor_that_raises_never_stops_the_sampler():
    class Broken(RampSensor):
        def read(self):
            raise RuntimeError("driver exploded")

    monitor = PowerMonitor(Broken(1.0, 0.0), rate_hz=100)
    try:
        monitor.start_window()
        time.sleep(0.1)
        result = monitor.stop_window(5, None)
    finally:
        monitor.close()
    assert result["energy_j"] is None
    assert any("driver exploded" in m for m in result["missing"])


class StoppingPushSensor(RampSensor):
    """Pushes a constant 2 W every 20 ms until ``stopped`` is set, then nothing (a dead jtop/tegrastats)."""

    pushes = True
    default_rate_hz = 50.0

    def __init__(self):
        super(StoppingPushSensor, self).__init__(2.0, 0.0)
        self.stopped = threading.Event()

    def wait_read(self, timeout_s):
        if self.stopped.wait(0.02):
            self.note_problem("VDD_IN", "the service stopped sending data")
            time.sleep(timeout_s)
            return None
        return self.read()


def test_a_sensor_dead_before_the_window_gives_no_energy_from_its_stale_value():
    sensor = StoppingPushSensor()
    monitor = PowerMonitor(sensor)
    try:
        time.sleep(0.1)
        sensor.stopped.set()
        time.sleep(0.05)
        monitor.start_window()
        time.sleep(0.2)
        result = monitor.stop_window(images=10, idle_w=None)
    finally:
        monitor.close()
    assert result["energy_j"] is None and result["total_mean_w"] is None and result["rails"] == {}
    assert any("stopped sending data" in m for m in result["missing"])


def test_a_sensor_dying_mid_window_is_listed_in_missing():
    sensor = StoppingPushSensor()
    monitor = PowerMonitor(sensor)
    try:
        monitor.start_window()
        time.sleep(0.2)
        sensor.stopped.set()
        time.sleep(0.2)
        result = monitor.stop_window(images=10, idle_w=None)
    finally:
        monitor.close()
    assert [m for m in result["missing"] if m.startswith("VDD_IN: no reading in the last")]


@pytest.fixture
def tx2_root(tmp_path, monkeypatch):
    root = tmp_path / "tx2"
    shutil.copytree(os.path.join(FIXTURES, "tx2"), str(root))
    monkeypatch.setenv("EDGEPROF_ROOT", str(root))
    return root


def _write_later(path, text, delay_s):
    timer = threading.Timer(delay_s, lambda: path.write_text(text))
    timer.start()
    return timer


def test_energy_of_a_step_in_the_fixture_files_is_integrated(tx2_root):
    # The expected energy follows from when the step really happened (the machine may be loaded, so
    # the sleeps are not exact): 2 W before it, 4 W after, each edge uncertain by one sample period.
    vdd_in = tx2_root / VDD_IN_FILE
    vdd_in.write_text("2000\n")
    rate_hz = 100
    monitor = PowerMonitor(ina3221.probe(), rate_hz=rate_hz)
    try:
        t0 = time.monotonic()
        monitor.start_window()
        time.sleep(0.5)
        t_step = time.monotonic()
        vdd_in.write_text("4000\n")
        time.sleep(0.5)
        result = monitor.stop_window(images=100, idle_w=2.0)
        t1 = time.monotonic()
    finally:
        monitor.close()
    expected = 2.0 * (t_step - t0) + 4.0 * (t1 - t_step)
    slack = 2.0 * 3.0 / rate_hz  # the 2 W step seen up to ~3 sample periods late or early
    assert abs(result["energy_j"] - expected) <= slack + 0.02 * expected, (result["energy_j"], expected)
    assert result["total_peak_w"] == pytest.approx(4.0)
    above = (result["energy_j"] - 2.0 * (t1 - t0)) * 1000.0 / 100
    assert result["energy_per_image_above_idle_mj"] == pytest.approx(above, rel=0.05, abs=0.5)


def test_a_rail_vanishing_mid_window_is_listed_in_missing(tx2_root):
    monitor = PowerMonitor(ina3221.probe(), rate_hz=100)
    ddr = tx2_root / "sys/bus/i2c/drivers/ina3221x/0-0041/iio:device1/in_power2_input"
    try:
        monitor.start_window()
        time.sleep(0.15)
        os.remove(str(ddr))
        time.sleep(0.15)
        result = monitor.stop_window(images=10, idle_w=None)
    finally:
        monitor.close()
    assert result["total_mean_w"] == pytest.approx(3.056)
    assert [m for m in result["missing"] if m.startswith("VDD_SYS_DDR:") and "vanished" in m]


def test_describe_and_run_power_fit_the_profile_schema_as_plain_yaml(tx2_root):
    monitor = PowerMonitor(ina3221.probe(), rate_hz=50)
    try:
        monitor.start_window()
        time.sleep(0.1)
        run_power = monitor.stop_window(images=4, idle_w=None)
        power = monitor.describe()
    finally:
        monitor.close()
    data = {"schema": "edgeprof/profile/v1", "edgeprof_version": "0", "created": "x",
            "board": {"model": "m", "slug": "m"}, "model": {"name": "n"},
            "backend": {"name": "onnxruntime", "precision": "fp32"},
            "protocol": {"warmup_seconds": 0.2, "warmup_runs": 10, "min_seconds": 3, "min_runs": 10},
            "power": power, "runs": [{"batch": 1, "status": "error", "settings_id": "s", "power": run_power.as_dict()}]}
    loaded = yaml.safe_load(yaml.safe_dump(data))
    profile.validate(loaded)
    assert loaded["power"]["total_rail"] == "VDD_IN" and loaded["power"]["status"] == "ok"


class ClosingRampSensor(RampSensor):
    """A ramp that counts how often its resources are released."""

    def __init__(self):
        super(ClosingRampSensor, self).__init__(2.0, 0.0)
        self.released = 0

    def close_impl(self):
        self.released += 1


def test_closing_a_monitor_twice_stops_the_sampler_and_closes_the_sensor_once():
    sensor = ClosingRampSensor()
    monitor = PowerMonitor(sensor, rate_hz=100)
    monitor.close()
    monitor.close()
    assert sensor.released == 1 and monitor.sampler._thread is None


def test_a_monitor_used_with_with_is_closed_on_the_way_out():
    sensor = ClosingRampSensor()
    with pytest.raises(RuntimeError):
        with PowerMonitor(sensor, rate_hz=100) as monitor:
            monitor.start_window()
            raise RuntimeError("the run failed")
    assert sensor.released == 1 and monitor.sampler._thread is None


class ArrivalSensor(PowerSensor):
    """Pushes 2 W after waiting 80 ms for it, as tegrastats or jtop deliver a reading at the end of a wait."""

    name = "arrival"
    pushes = True
    default_rate_hz = 12.5

    def __init__(self):
        super(ArrivalSensor, self).__init__(["VDD_IN"], "VDD_IN", "test", ["arrival"])
        self.arrivals = []

    def wait_read(self, timeout_s):
        time.sleep(0.08)
        self.arrivals.append(time.monotonic())
        return {"VDD_IN": 2.0}


def test_a_pushed_reading_is_stamped_when_it_arrives_not_half_a_wait_earlier():
    sensor = ArrivalSensor()
    monitor = PowerMonitor(sensor)
    try:
        time.sleep(0.5)
        stamps = [t for t, _ in monitor.sampler.samples()]
    finally:
        monitor.close()
    arrivals = sensor.arrivals[:len(stamps)]
    assert all(0 <= s - a < 0.01 for s, a in zip(stamps, arrivals)), list(zip(stamps, arrivals))


def test_polling_is_jittered_around_the_requested_rate():
    monitor = PowerMonitor(RampSensor(1.0, 0.0), rate_hz=50)
    try:
        time.sleep(1.0)
        stamps = [t for t, _ in monitor.sampler.samples()]
    finally:
        monitor.close()
    gaps = [b - a for a, b in zip(stamps, stamps[1:])]
    assert 0.016 < sum(gaps) / len(gaps) < 0.026          # the mean period stays 20 ms
    assert max(gaps) - min(gaps) > 0.006                   # but the reads are not in lockstep


def test_idle_waits_until_power_settles_and_records_how_long():
    class Settling(RampSensor):
        def read(self):   # 5 W falling to 2 W with a 0.3 s time constant: the previous model's tail
            t = time.monotonic() - self.t_start
            return {"VDD_IN": 2.0 + 3.0 * math.exp(-t / 0.3)}

    monitor = PowerMonitor(Settling(0, 0), rate_hz=100)
    try:
        idle = monitor.measure_idle(0.4, settle_tolerance=0.03, max_seconds=5)
    finally:
        monitor.close()
    assert idle["settled"] is True and idle["settle_s"] > 0.3
    assert idle["idle_w"] == pytest.approx(2.0, abs=0.1)


def test_idle_that_never_settles_stops_at_the_limit_and_says_so():
    monitor = PowerMonitor(RampSensor(1.0, 2.0), rate_hz=100)
    try:
        started = time.monotonic()
        idle = monitor.measure_idle(0.2, settle_tolerance=0.01, max_seconds=0.8)
    finally:
        monitor.close()
    assert idle["settled"] is False and 0.75 < time.monotonic() - started < 1.5


def test_idle_of_a_steady_board_takes_the_idle_window_and_no_more():
    monitor = PowerMonitor(RampSensor(1.5, 0.0), rate_hz=100)
    try:
        started = time.monotonic()
        idle = monitor.measure_idle(0.3)
    finally:
        monitor.close()
    assert idle["settled"] and idle["settle_s"] < 0.1 and time.monotonic() - started < 0.6


def test_a_window_above_idle_below_zero_is_noted():
    window, extras, _ = run_window(RampSensor(1.0, 0.0), 0.2, images=10, idle_w=1.5)
    assert window["energy_per_image_above_idle_mj"] < 0
    assert "energy above idle is negative" in extras["notes"][0]


def test_window_extras_say_the_scope_and_the_rate_achieved():
    class Slow(RampSensor):
        def read(self):   # a blocking hwmon read: every read waits for a fresh conversion
            time.sleep(0.045)
            return super(Slow, self).read()

    _, extras, described = run_window(Slow(2.0, 0.0), 0.6, images=10, rate_hz=50)
    assert extras["scope"] == "module_input" and described["scope"] == "module_input"
    assert described["rate_hz"] == 50.0 and extras["achieved_rate_hz"] < 25


def test_telemetry_is_sampled_in_the_window_on_a_fixture_and_marks_a_trip_point(tx2_root):
    from edgeprof.agent.sensors import open_monitor
    monitor = open_monitor("ina3221", rate_hz=50)
    try:
        monitor.start_window()
        time.sleep(0.35)
        (tx2_root / "sys/class/thermal/thermal_zone2/temp").write_text("97000\n")   # GPU-therm past 96.5 C
        time.sleep(0.3)
        monitor.stop_window(images=10, idle_w=None)
        telemetry = monitor.window_extras()["telemetry"]
    finally:
        monitor.close()
    assert 4 <= telemetry["samples"] <= 9
    assert telemetry["gpu_mhz"]["mean"] == pytest.approx(1300.5) and telemetry["emc_mhz"]["min"] == 1866.0
    assert telemetry["temps_peak_c"]["GPU-therm"] == 97.0
    assert telemetry["throttled"] is True
    assert telemetry["throttle_reasons"] == [
        "GPU-therm reached 97.0 C during the window, at or above its passive trip point 96.5 C"]


def test_a_run_without_a_power_sensor_still_gets_its_telemetry(tx2_root):
    from edgeprof.agent.sensors import open_monitor
    monitor = open_monitor("none")
    try:
        monitor.start_window()
        time.sleep(0.3)
        assert monitor.stop_window(images=10, idle_w=None) is None
        extras = monitor.window_extras()
    finally:
        monitor.close()
    assert extras["scope"] is None and extras["telemetry"]["throttled"] is False
    assert extras["telemetry"]["system_used_max_bytes"] == (8039964 - 7032560) * 1024


def test_the_power_record_carries_scope_and_rate_once_records_lists_them(monkeypatch):
    from edgeprof.agent.sensors import monitor as monitor_module
    from edgeprof.records.runs import POWER_WINDOW_FIELDS, Record

    class Wider(Record):   # PowerWindow as records/runs.py will define it with the two fields
        __slots__ = POWER_WINDOW_FIELDS + ("scope", "achieved_rate_hz")
        KEEP_NONE = True

    monkeypatch.setattr(monitor_module, "PowerWindow", Wider)
    window, extras, _ = run_window(RampSensor(2.0, 0.0), 0.2, images=10)
    assert window["scope"] == "module_input" and window["achieved_rate_hz"] == extras["achieved_rate_hz"]
