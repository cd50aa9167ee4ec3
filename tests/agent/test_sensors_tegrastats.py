"""tegrastats lines of every L4T generation, and the sensor reading a stand-in tegrastats."""
import os
import stat
import time

import pytest

from edgeprof.errors import SensorError
from edgeprof.agent.sensors import open_monitor, tegrastats
from edgeprof.agent.sensors.tegrastats import parse_line

# Recorded lines (from jetson-stats' tegrastats emulator and its tests, which copy real boards).
TX2_L4T32 = ("RAM 707/7854MB (lfb 1659x4MB) CPU [1%@345,0%@345,0%@345,2%@345,0%@345,0%@345] BCPU@30C "
             "MCPU@30C GPU@28.5C PLL@30C Tboard@26C Tdiode@27.5C PMIC@100C thermal@29.4C VDD_IN 1038/1134 "
             "VDD_CPU 153/153 VDD_GPU 153/153 VDD_SOC 384/384 VDD_WIFI 38/124 VDD_DDR 192/192")
NANO_L4T32 = ("RAM 330/3964MB (lfb 758x4MB) SWAP 0/1982MB (cached 0MB) CPU [5%@102,0%@102,1%@102,0%@102] "
              "EMC_FREQ 0% GR3D_FREQ 0% PLL@20.5C CPU@23C PMIC@100C GPU@22.5C AO@27C thermal@22.5C "
              "POM_5V_IN 933/933 POM_5V_GPU 0/0 POM_5V_CPU 84/84")
ORIN_JP5 = ("04-19-2023 10:19:27 RAM 2257/30536MB (lfb 5392x4MB) SWAP 0/15268MB (cached 0MB) CPU [2%@729] "
            "EMC_FREQ 0% GR3D_FREQ 0% CV0@-256C CPU@41.375C Tboard@29C VDD_GPU_SOC 3150mW/2971mW "
            "VDD_CPU_CV 14312mW/12415mW VIN_SYS_5V0 4968mW/5048mW NC 0mW/0mW VDDQ_VDD2_1V8AO 1091mW/1091mW")
ORIN_JP7 = ("07-25-2026 09:08:28 RAM 20642/62817MB (lfb 1x2MB) EMC_FREQ 3%@3199 GR3D_FREQ 12%@[1300,1300] "
            "cpu@52.968C/52.968C VDD_GPU_SOC 5139mW/5139mW/5139mW VDD_CPU_CV 3268mW/3268mW/3268mW "
            "VIN_SYS_5V0 5500mW/5500mW/5500mW")


def test_l4t32_line_without_units_reads_milliwatts():
    rails = parse_line(TX2_L4T32)
    assert rails["VDD_IN"] == pytest.approx(1.038)
    assert sorted(rails) == ["VDD_CPU", "VDD_DDR", "VDD_GPU", "VDD_IN", "VDD_SOC", "VDD_WIFI"]


def test_nano_line_names_pom_rails():
    assert parse_line(NANO_L4T32) == {"POM_5V_IN": 0.933, "POM_5V_GPU": 0.0, "POM_5V_CPU": 0.084}


def test_jetpack5_line_with_timestamp_and_mw_units_skips_nc():
    rails = parse_line(ORIN_JP5)
    assert rails["VDD_CPU_CV"] == pytest.approx(14.312)
    assert "NC" not in rails and "RAM" not in rails and len(rails) == 4


def test_three_value_rails_take_the_current_reading():
    assert parse_line(ORIN_JP7) == {"VDD_GPU_SOC": 5.139, "VDD_CPU_CV": 3.268, "VIN_SYS_5V0": 5.5}


def test_line_without_rails_is_empty():
    assert parse_line("RAM 385/3984MB (lfb 779x4MB) CPU [1%@204] AO@31C PMIC@100C") == {}


@pytest.fixture
def jetson_with_tegrastats(tmp_path, monkeypatch):
    """A machine root that is a Jetson and has a stand-in /usr/bin/tegrastats printing Nano lines."""
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "nv_tegra_release").write_text(
        "# R32 (release), REVISION: 7.1, GCID: 29818004, BOARD: t210ref, EABI: aarch64, DATE: x\n")
    binary = root / "usr" / "bin" / "tegrastats"
    binary.parent.mkdir(parents=True)
    binary.write_text("#!/bin/sh\nwhile true; do echo '%s'; sleep 0.05; done\n" % NANO_L4T32)
    binary.chmod(binary.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("EDGEPROF_ROOT", str(root))
    return root


def test_sensor_reads_the_running_tegrastats(jetson_with_tegrastats):
    monitor = open_monitor("tegrastats")
    try:
        monitor.start_window()
        time.sleep(0.4)
        result = monitor.stop_window(images=10, idle_w=None)
        described = monitor.describe()
    finally:
        monitor.close()
    assert described["total_rail"] == "POM_5V_IN"
    assert result["total_mean_w"] == pytest.approx(0.933)
    assert result["rails"]["POM_5V_IN"]["samples"] >= 2


def test_not_a_jetson_refuses_tegrastats(empty_root):
    with pytest.raises(SensorError, match="not a Jetson"):
        tegrastats.probe()


def test_missing_binary_is_named(jetson_with_tegrastats):
    os.remove(str(jetson_with_tegrastats / "usr" / "bin" / "tegrastats"))
    with pytest.raises(SensorError, match="/usr/bin/tegrastats or /home/nvidia/tegrastats not found"):
        tegrastats.probe()


def test_l4t28_tegrastats_in_home_nvidia_is_found(jetson_with_tegrastats):
    # L4T 28 keeps tegrastats in /home/nvidia (jetson-stats 3.1.4 jtop/service.py PATH_TEGRASTATS)
    binary = jetson_with_tegrastats / "usr" / "bin" / "tegrastats"
    home = jetson_with_tegrastats / "home" / "nvidia"
    home.mkdir(parents=True)
    os.rename(str(binary), str(home / "tegrastats"))
    with tegrastats.probe() as sensor:
        assert sensor.paths == ["/home/nvidia/tegrastats --interval 100"]
        assert sensor.scope == "module_input" and sensor.catch_up_s == pytest.approx(0.2)


def test_an_exited_tegrastats_waits_instead_of_spinning(jetson_with_tegrastats):
    binary = jetson_with_tegrastats / "usr" / "bin" / "tegrastats"
    binary.write_text("#!/bin/sh\necho '%s'\n" % NANO_L4T32)
    sensor = tegrastats.probe()
    try:
        assert sensor.wait_read(0.05) is None  # end of output: the child has exited
        started = time.monotonic()
        assert sensor.wait_read(0.1) is None
        assert time.monotonic() - started >= 0.09
        assert "tegrastats exited" in sensor.problems["POM_5V_IN"]
    finally:
        sensor.close()


def test_with_stops_tegrastats_and_a_second_close_is_harmless(jetson_with_tegrastats):
    with tegrastats.probe() as sensor:
        process = sensor._reader.process
        assert process.poll() is None
    assert process.poll() is not None and sensor._reader.process is None
    sensor.close()
