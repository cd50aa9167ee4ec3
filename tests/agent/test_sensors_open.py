"""open_monitor and sensor_status: the contract the sweep and ``edgeprof info`` rely on."""
import os
import shutil

import pytest

from edgeprof.errors import SensorError, UsageError
from edgeprof.agent import sensors
from edgeprof.agent.sensors import AUTO_ORDER, UnavailableMonitor, auto_order, measures, open_monitor, sensor_status
from edgeprof.agent.sensors.base import BOARD, CPU, GPU

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures")


@pytest.fixture
def tx2_root(tmp_path, monkeypatch):
    root = tmp_path / "tx2"
    shutil.copytree(os.path.join(FIXTURES, "tx2"), str(root))
    monkeypatch.setenv("EDGEPROF_ROOT", str(root))
    return root


def test_auto_without_sensors_is_unavailable_with_every_candidates_reason(empty_root):
    monitor = open_monitor("auto")
    described = monitor.describe()
    assert described["status"] == "unavailable"
    for name in ("ina3221", "jtop", "tegrastats", "nvml", "rapl"):
        assert name + ": " in described["reason"]


def test_unavailable_monitor_measures_nothing(empty_root):
    monitor = open_monitor("auto")
    monitor.start_window()
    assert monitor.measure_idle(0.1) is None
    assert monitor.stop_window(10, None) is None
    monitor.close()


def test_none_turns_power_off_and_says_so(tx2_root):
    monitor = open_monitor("none")
    assert isinstance(monitor, UnavailableMonitor)
    assert "--power none" in monitor.describe()["reason"]


def test_named_sensor_that_is_missing_raises_its_reason(empty_root):
    with pytest.raises(SensorError, match="--power ina3221: no INA3221"):
        open_monitor("ina3221")


def test_unknown_sensor_name_is_a_usage_error(empty_root):
    with pytest.raises(UsageError, match="--power watts"):
        open_monitor("watts")


def test_auto_on_tx2_picks_ina3221_and_describes_it(tx2_root):
    monitor = open_monitor("auto", rate_hz=20)
    try:
        described = monitor.describe()
    finally:
        monitor.close()
    assert described["status"] == "ok" and described["sensor"] == "ina3221"
    assert described["driver"] == "ina3221x" and described["total_rail"] == "VDD_IN"
    assert described["total_is_sum"] is False and described["rate_hz"] == 20.0


def test_idle_power_on_tx2_is_the_fixtures_vdd_in(tx2_root):
    monitor = open_monitor("auto")
    try:
        idle = monitor.measure_idle(0.2)
    finally:
        monitor.close()
    assert idle["idle_w"] == pytest.approx(3.056)
    assert idle["rails"]["VDD_SYS_DDR"] == pytest.approx(0.481)


def test_sensor_status_lists_every_sensor_with_details_for_the_found_one(tx2_root):
    rows = {name: (reason, details) for name, reason, details in sensor_status()}
    assert sorted(rows) == ["ina3221", "jtop", "nvml", "rapl", "tegrastats"]
    reason, details = rows["ina3221"]
    assert reason is None and details["total_rail"] == "VDD_IN" and "VDD_SYS_GPU" in details["rails"]
    assert rows["rapl"][0]


def test_an_unavailable_monitor_closes_twice_and_works_with_with(empty_root):
    with open_monitor("auto") as monitor:
        assert monitor.describe()["status"] == "unavailable"
    monitor.close()
    monitor.close()


def test_auto_order_is_the_board_first_then_the_runs_own_part():
    assert auto_order() == AUTO_ORDER == ("ina3221", "jtop", "tegrastats", "nvml", "rapl")
    assert auto_order("cuda") == ("ina3221", "jtop", "tegrastats", "nvml", "rapl")
    assert auto_order("cpu") == ("ina3221", "jtop", "tegrastats", "rapl", "nvml")


def test_every_sensor_declares_what_it_measures():
    assert {name: measures(name) for name in AUTO_ORDER} == {
        "ina3221": BOARD, "jtop": BOARD, "tegrastats": BOARD, "nvml": GPU, "rapl": CPU}


def test_a_new_sensor_takes_its_place_in_auto_from_its_declaration(monkeypatch):
    declared = {"ina3221": BOARD, "jtop": BOARD, "tegrastats": BOARD, "nvml": GPU, "rapl": CPU, "amd_energy": CPU}
    monkeypatch.setattr(sensors, "AUTO_ORDER", AUTO_ORDER + ("amd_energy",))
    monkeypatch.setattr(sensors, "measures", declared.get)
    assert auto_order("cpu") == ("ina3221", "jtop", "tegrastats", "rapl", "amd_energy", "nvml")
    assert auto_order("cuda") == ("ina3221", "jtop", "tegrastats", "nvml", "rapl", "amd_energy")
