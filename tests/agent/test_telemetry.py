"""Board telemetry: which files each fixture board gives it, and what a window's ticks say."""
import pytest

import boards
from boards import BOARDS
from edgeprof.agent.sensors import ina3221
from edgeprof.agent.sensors.telemetry import Telemetry


@pytest.fixture
def board_root(tmp_path, monkeypatch):
    return boards.user(tmp_path, monkeypatch)


def keys_of(telemetry):
    return sorted(set(k.split(":")[0] for k, _, _, _ in telemetry.files))


@pytest.mark.parametrize("name", BOARDS)
def test_every_fixture_board_gives_gpu_load_clocks_temperatures_and_memory(name, board_root):
    board_root(name)
    sensor = ina3221.probe()
    telemetry = Telemetry(sensor.telemetry_files())
    keys = keys_of(telemetry)
    for key in ("gpu_load_pct", "gpu_mhz", "gpu_max_mhz", "cpu_mhz", "cpu_max_mhz", "emc_mhz", "temp_c"):
        assert key in keys, (name, key)
    assert ("input_mv" in keys) == (sensor.total_rail is not None)   # the input rail's voltage, where there is one
    assert telemetry.meminfo
    tick = telemetry.read()
    assert tick["gpu_load_pct"] == 0.0 and tick["mem_available"] > 0
    orin = name.startswith(("agx-orin", "orin"))
    assert ("oc" in keys) == orin                       # soctherm_oc exists on Orin only
    assert ("alarm" in keys) == (sensor.driver == "ina3221")   # the iio driver shows no alarm flags


def test_cpu_clusters_are_read_once_per_policy_where_the_kernel_has_policies(board_root):
    board_root("orin-nx")
    telemetry = Telemetry()
    assert sorted(k for k, _, _, _ in telemetry.files if k.startswith("cpu_mhz:")) == ["cpu_mhz:policy0",
                                                                                      "cpu_mhz:policy4"]
    assert telemetry.cpu_source == "scaling_cur_freq"


def test_the_hardware_cpu_clock_is_preferred_where_it_can_be_read(board_root):
    root = board_root("orin-nx")
    (root / "sys/devices/system/cpu/cpufreq/policy0/cpuinfo_cur_freq").write_text("1984000\n")
    telemetry = Telemetry()
    assert telemetry.cpu_source == "cpuinfo_cur_freq"
    assert telemetry.read()["cpu_mhz:policy0"] == pytest.approx(1984.0)


def ticks(*values):
    return [(0.1 * i, dict(v)) for i, v in enumerate(values)]


BASE = {"gpu_mhz": 1300.5, "gpu_min_mhz": 1300.5, "gpu_max_mhz": 1300.5, "cpu_mhz:policy0": 2035.2,
        "cpu_min_mhz:policy0": 2035.2, "cpu_max_mhz:policy0": 2035.2, "temp_c:GPU-therm": 60.0,
        "oc:oc3": 5, "alarm:VDD_IN": 0, "mem_total": 8 << 30, "mem_available": 6 << 30}


def summarize(*values, **kwargs):
    telemetry = Telemetry.__new__(Telemetry)
    telemetry.trips = {"GPU-therm": 96.5}
    return telemetry.summarize(ticks(*values), **kwargs)


def test_a_steady_pinned_window_is_not_throttled():
    out = summarize(BASE, BASE, BASE)
    assert out["throttled"] is False and out["throttle_reasons"] == []
    assert out["gpu_mhz"] == {"mean": 1300.5, "min": 1300.5, "max": 1300.5} and out["samples"] == 3


def test_a_pinned_clock_that_falls_inside_the_window_is_throttled():
    out = summarize(BASE, dict(BASE, gpu_mhz=828.75), BASE)
    assert out["throttle_reasons"] == ["GPU clock fell below its pinned 1300.5 MHz to 828.8 MHz during the window"]


def test_an_unpinned_clock_moving_is_dvfs_not_throttling():
    free = dict(BASE, gpu_min_mhz=114.75, gpu_mhz=1109.25)
    out = summarize(free, dict(free, gpu_mhz=114.75), free)
    assert out["throttled"] is False


def test_a_ceiling_lowered_inside_the_window_is_throttled_even_when_lifted_before_the_end():
    out = summarize(BASE, dict(BASE, **{"cpu_max_mhz:policy0": 1420.8, "cpu_mhz:policy0": 1420.8}), BASE)
    assert out["throttle_reasons"][0] == ("CPU policy0 clock ceiling lowered from 2035.2 to 1420.8 MHz during "
                                          "the window")


def test_trip_point_over_current_and_ina_alarm_inside_the_window_are_throttling():
    out = summarize(BASE, dict(BASE, **{"temp_c:GPU-therm": 97.0, "alarm:VDD_IN": 1}), dict(BASE, **{"oc:oc3": 9}))
    assert out["temps_peak_c"] == {"GPU-therm": 97.0} and out["oc_events"] == {"oc3": 4}
    assert out["ina_crit_alarm_ticks"] == {"VDD_IN": 1}
    assert len(out["throttle_reasons"]) == 3


def test_counters_count_from_the_tick_before_the_window():
    out = summarize(dict(BASE, **{"oc:oc3": 7}), dict(BASE, **{"oc:oc3": 7}), before=BASE)
    assert out["oc_events"] == {"oc3": 2} and out["throttled"]


def test_memory_maximum_is_total_less_the_lowest_available():
    out = summarize(BASE, dict(BASE, mem_available=5 << 30), BASE)
    assert out["system_used_max_bytes"] == 3 << 30 and out["memory_available_min_bytes"] == 5 << 30


def test_no_ticks_is_no_telemetry():
    assert summarize() is None
