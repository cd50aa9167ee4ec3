"""INA3221 rails read from fixture trees of real Jetson sysfs layouts (iio and hwmon drivers)."""
import errno
import os
import shutil

import pytest

from edgeprof.errors import SensorError
from edgeprof.agent.sensors import ina3221

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures")

# board -> (driver, rails in discovery order, total rail, watts of the total)
EXPECTED = {
    "tx1": ("ina3221x", ["VDD_IN", "VDD_GPU", "VDD_CPU"], "VDD_IN", 2.48),
    "tx2": ("ina3221x", ["VDD_SYS_GPU", "VDD_SYS_SOC", "VDD_4V0_WIFI", "VDD_IN", "VDD_SYS_CPU", "VDD_SYS_DDR"],
            "VDD_IN", 3.056),
    "nano": ("ina3221x", ["POM_5V_IN", "POM_5V_GPU", "POM_5V_CPU"], "POM_5V_IN", 2.225),
    "xavier-nx": ("ina3221x", ["VDD_IN", "VDD_CPU_GPU_CV", "VDD_SOC"], "VDD_IN", 4.555),
    "agx-orin": ("ina3221", ["VDD_GPU_SOC", "VDD_CPU_CV", "VIN_SYS_5V0", "VDDQ_VDD2_1V8AO"], None, None),
}


@pytest.fixture
def board_root(tmp_path, monkeypatch):
    """Copy a fixture board to tmp_path and point EDGEPROF_ROOT at the copy; returns a function."""
    def use(board):
        root = tmp_path / board
        shutil.copytree(os.path.join(FIXTURES, board), str(root))
        monkeypatch.setenv("EDGEPROF_ROOT", str(root))
        return root
    return use


@pytest.mark.parametrize("board", sorted(EXPECTED))
def test_probe_finds_the_boards_rails_and_driver(board, board_root):
    board_root(board)
    driver, rails, _, _ = EXPECTED[board]
    sensor = ina3221.probe()
    assert sensor.driver == driver
    assert sensor.rails == rails


@pytest.mark.parametrize("board", sorted(EXPECTED))
def test_total_rail_is_the_boards_input_rail_or_the_sum(board, board_root):
    board_root(board)
    sensor = ina3221.probe()
    assert sensor.total_rail == EXPECTED[board][2]
    assert sensor.total_is_sum == (EXPECTED[board][2] is None)


@pytest.mark.parametrize("board", ["tx1", "tx2", "nano", "xavier-nx"])
def test_iio_power_files_in_milliwatts_read_as_watts(board, board_root):
    board_root(board)
    values = ina3221.probe().read()
    assert values[EXPECTED[board][2]] == pytest.approx(EXPECTED[board][3], abs=1e-3)


def test_hwmon_power_is_volts_times_amps(board_root):
    board_root("agx-orin")
    values = ina3221.probe().read()
    assert values["VDD_GPU_SOC"] == pytest.approx(5.000 * 0.620)
    assert values["VIN_SYS_5V0"] == pytest.approx(5.000 * 0.740)


def test_hwmon_skips_nc_inputs_and_the_shunt_sum_channel(board_root):
    board_root("agx-orin")
    rails = ina3221.probe().rails
    assert "NC" not in rails
    assert "sum of shunt voltages" not in rails


def test_hwmon_averaging_comes_from_samples_and_update_interval(board_root):
    board_root("agx-orin")
    averaging = ina3221.probe().averaging
    folder = "/sys/bus/i2c/drivers/ina3221/1-0040/hwmon/hwmon3"
    assert averaging[folder] == {"samples": 512, "update_interval_ms": 140}


def test_tx1_without_rail_names_uses_documented_names_and_says_so(board_root):
    board_root("tx1")
    sensor = ina3221.probe()
    assert sensor.rails == ["VDD_IN", "VDD_GPU", "VDD_CPU"]
    assert "documented rails" in sensor.averaging["rail_names"][0]


def test_paths_are_machine_paths_not_fixture_paths(board_root):
    root = board_root("tx2")
    paths = ina3221.probe().paths
    assert "/sys/bus/i2c/drivers/ina3221x/0-0041/iio:device1/in_power0_input" in paths
    assert not any(str(root) in p for p in paths)


def test_no_ina3221_folder_is_a_sensor_error_naming_both_drivers(empty_root):
    with pytest.raises(SensorError, match="ina3221x.*ina3221"):
        ina3221.probe()


IIO_VDD_IN = "sys/bus/i2c/drivers/ina3221x/0-0041/iio:device1/in_power0_input"


@pytest.mark.parametrize("content, reason", [("", "empty file"), ("abc\n", "not a number")])
def test_bad_file_content_leaves_the_rail_out_with_the_reason(board_root, content, reason):
    root = board_root("tx2")
    sensor = ina3221.probe()
    (root / IIO_VDD_IN).write_text(content)
    values = sensor.read()
    assert "VDD_IN" not in values and "VDD_SYS_CPU" in values
    assert reason in sensor.problems["VDD_IN"]


def test_a_rail_vanishing_is_recorded_not_raised(board_root):
    root = board_root("tx2")
    sensor = ina3221.probe()
    os.remove(str(root / IIO_VDD_IN))
    assert "VDD_IN" not in sensor.read()
    assert "vanished" in sensor.problems["VDD_IN"]


def test_permission_denied_is_recorded_not_raised(board_root, monkeypatch):
    board_root("tx2")
    sensor = ina3221.probe()
    real_open = os.open

    def deny_vdd_in(path, *args, **kwargs):
        if str(path).endswith("iio:device1/in_power0_input"):
            raise PermissionError(errno.EACCES, "Permission denied")
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", deny_vdd_in)
    assert "VDD_IN" not in sensor.read()
    assert "permission denied" in sensor.problems["VDD_IN"]


def test_probe_refuses_when_no_rail_can_be_read(board_root):
    root = board_root("nano")
    for n in range(3):
        (root / ("sys/bus/i2c/drivers/ina3221x/6-0040/iio:device0/in_power%d_input" % n)).write_text("")
    with pytest.raises(SensorError, match="none can be read"):
        ina3221.probe()
