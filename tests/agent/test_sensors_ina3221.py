"""INA3221 rails read from fixture trees of real Jetson sysfs layouts (iio and hwmon drivers)."""
import errno
import os

import pytest

import boards
from edgeprof.errors import SensorError
from edgeprof.agent.sensors import ina3221

# board -> (driver, rails in discovery order, total rail, watts of the total)
EXPECTED = {
    "tx1": ("ina3221x", ["VDD_IN", "VDD_GPU", "VDD_CPU"], "VDD_IN", 2.479),
    "tx2": ("ina3221x", ["VDD_SYS_GPU", "VDD_SYS_SOC", "VDD_4V0_WIFI", "VDD_IN", "VDD_SYS_CPU", "VDD_SYS_DDR"],
            "VDD_IN", 3.056),
    "nano": ("ina3221x", ["POM_5V_IN", "POM_5V_GPU", "POM_5V_CPU"], "POM_5V_IN", 2.225),
    "xavier-nx": ("ina3221x", ["VDD_IN", "VDD_CPU_GPU_CV", "VDD_SOC"], "VDD_IN", 4.555),
    "agx-orin": ("ina3221", ["VDD_GPU_SOC", "VDD_CPU_CV", "VIN_SYS_5V0", "VDDQ_VDD2_1V8AO"], None, None),
    "orin-nx": ("ina3221", ["VDD_IN", "VDD_CPU_GPU_CV", "VDD_SOC"], "VDD_IN", None),
    "orin-nano": ("ina3221", ["VDD_IN", "VDD_CPU_GPU_CV", "VDD_SOC"], "VDD_IN", None),
    "agx-xavier": ("ina3221", ["GPU", "CPU", "SOC", "CV", "VDDRQ", "SYS5V"], None, None),
    "xavier-nx-jp5": ("ina3221", ["VDD_IN", "VDD_CPU_GPU_CV", "VDD_SOC"], "VDD_IN", None),
}


@pytest.fixture
def board_root(tmp_path, monkeypatch):
    return boards.user(tmp_path, monkeypatch)


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
    assert values["VDD_GPU_SOC"] == pytest.approx(5.000 * 0.624)
    assert values["VIN_SYS_5V0"] == pytest.approx(5.000 * 0.744)


@pytest.mark.parametrize("board", [b for b in sorted(EXPECTED) if EXPECTED[b][0] == "ina3221"])
def test_hwmon_fixture_values_are_ones_the_driver_can_produce(board, board_root):
    # drivers/hwmon/ina3221.c: bus mV = reg * 8, shunt uV = reg * 40, curr mA = DIV_ROUND_CLOSEST(reg * 40000,
    # shunt uOhm); update_interval = channels * (bus + shunt conversion time) * samples; 0x7127: 1 sample, 1.1 ms.
    root = board_root(board)
    for folder in ina3221.sysroot.glob_paths(ina3221.HWMON_PATTERN):
        host = root / folder.lstrip("/")
        enabled = [n for n in (1, 2, 3) if (host / ("in%d_enable" % n)).read_text().strip() == "1"]
        assert (host / "samples").read_text().strip() == "1"
        assert int((host / "update_interval").read_text()) == round(len(enabled) * 2200 / 1000.0)
        for n in enabled:
            assert int((host / ("in%d_input" % n)).read_text()) % 8 == 0
            shunt_uv = int((host / ("in%d_input" % (n + 3))).read_text())
            assert shunt_uv % 40 == 0
            ohms = int((host / ("shunt%d_resistor" % n)).read_text())
            assert int((host / ("curr%d_input" % n)).read_text()) == (shunt_uv * 1000 + ohms // 2) // ohms


def test_hwmon_skips_nc_inputs_and_the_shunt_sum_channel(board_root):
    board_root("agx-orin")
    rails = ina3221.probe().rails
    assert "NC" not in rails
    assert "sum of shunt voltages" not in rails


def test_hwmon_averaging_comes_from_samples_and_update_interval(board_root):
    board_root("agx-orin")
    sensor = ina3221.probe()
    folder = "/sys/bus/i2c/drivers/ina3221/1-0040/hwmon/hwmon3"
    assert sensor.averaging[folder] == {"samples": 1, "update_interval_ms": 7}
    assert sensor.catch_up_s == pytest.approx(0.014)
    assert sensor.scope == "sum_of_rails"


def test_iio_catch_up_is_nvidias_continuous_averaging(board_root):
    board_root("nano")
    sensor = ina3221.probe()
    assert sensor.averaging["assumed_update_interval_ms"] == pytest.approx(422.4)
    assert sensor.catch_up_s == pytest.approx(0.8448)
    assert sensor.averaging["running_mode"] == {"/sys/bus/i2c/drivers/ina3221x/6-0040/iio:device0": 1}
    assert sensor.scope == "module_input"


def test_tx1_has_the_rail_name_files_nvidias_driver_creates(board_root):
    board_root("tx1")
    sensor = ina3221.probe()
    assert sensor.rails == ["VDD_IN", "VDD_GPU", "VDD_CPU"]
    assert "rail_names" not in sensor.averaging


@pytest.mark.parametrize("board, rail_file", [
    ("tx1", "sys/bus/i2c/drivers/ina3221x/1-0040/iio_device/rail_name_1"),
    ("tx2", "sys/bus/i2c/drivers/ina3221x/0-0041/iio:device1/rail_name_0")])
def test_a_null_rail_name_is_not_a_rail_name(board, rail_file, board_root):
    # NVIDIA's iio driver prints a channel without ti,rail-name with snprintf("%s", NULL): "(null)"
    root = board_root(board)
    (root / rail_file).write_text("(null)\n")
    if board == "tx2":
        (root / "proc/device-tree/model").write_bytes(b"quill\0")   # the L4T 28 TX2 model names the board
    sensor = ina3221.probe()
    assert "(null)" not in sensor.rails
    assert sensor.rails[1 if board == "tx1" else 3] == ("VDD_GPU" if board == "tx1" else "VDD_IN")
    assert any("(null)" in note for note in sensor.averaging["rail_names"])


def test_hwmon_alarms_and_the_input_voltage_go_to_telemetry(board_root):
    board_root("orin-nx")
    files = ina3221.probe().telemetry_files()
    folder = "/sys/bus/i2c/drivers/ina3221/1-0040/hwmon/hwmon1"
    assert files["alarm:VDD_IN"] == (folder + "/curr1_crit_alarm", 1)
    assert files["input_mv"] == (folder + "/in1_input", 1)


def test_iio_input_voltage_goes_to_telemetry(board_root):
    board_root("nano")
    assert ina3221.probe().telemetry_files() == {
        "input_mv": ("/sys/bus/i2c/drivers/ina3221x/6-0040/iio:device0/in_voltage0_input", 1)}


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
