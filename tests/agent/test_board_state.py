"""Board identity and state from fixture trees, throttle flags, and ``edgeprof info --json`` per board."""
import json
import os

import pytest

import boards
from boards import FIXTURES
from edgeprof.agent import board

# board -> (device-tree model, L4T, JetPack, nvpmodel name, jetson_clocks, total rail)
BOARDS = {
    "tx1": ("jetson_tx1", "28.2.0", "3.2 | 3.2.1 | 3.3", None, False, "VDD_IN"),
    "tx2": ("NVIDIA Jetson TX2", "32.7.1", "4.6.1", "MAXN", True, "VDD_IN"),
    "nano": ("NVIDIA Jetson Nano Developer Kit", "32.7.1", "4.6.1", "5W", False, "POM_5V_IN"),
    "xavier-nx": ("NVIDIA Jetson Xavier NX Developer Kit", "32.7.1", "4.6.1", "MODE_15W_6CORE", False, "VDD_IN"),
    "agx-orin": ("Jetson AGX Orin Developer Kit", "35.3.1", "5.1.1", "MAXN", False, None),
    "orin-nx": ("NVIDIA Jetson Orin NX Engineering Reference Developer Kit", "36.3.0", "6.0", "MAXN", False,
                "VDD_IN"),
    "orin-nano": ("NVIDIA Jetson Orin Nano Developer Kit", "36.4.0", "6.1", "15W", False, "VDD_IN"),
    "agx-xavier": ("Jetson-AGX", "35.4.1", "5.1.2", "MAXN", False, None),
    "xavier-nx-jp5": ("NVIDIA Jetson Xavier NX Developer Kit", "35.3.1", "5.1.1", "MODE_15W_6CORE", False,
                      "VDD_IN"),
}


@pytest.fixture
def board_root(tmp_path, monkeypatch):
    return boards.user(tmp_path, monkeypatch)


@pytest.mark.parametrize("name", sorted(BOARDS))
def test_identity_names_board_release_and_power_mode(name, board_root):
    board_root(name)
    model, l4t, jetpack, mode, pinned, _ = BOARDS[name]
    info = board.identity()
    assert (info["model"], info["l4t"], info["jetpack"], info["is_jetson"]) == (model, l4t, jetpack, True)
    assert (info.get("nvpmodel") or {}).get("name") == mode
    assert info["jetson_clocks"] is pinned


def test_an_nvidia_device_tree_without_l4t_is_a_jetson_named_by_its_model(tmp_path, monkeypatch):
    (tmp_path / "proc" / "device-tree").mkdir(parents=True)
    (tmp_path / "proc" / "device-tree" / "model").write_bytes(b"NVIDIA Clara AGX Developer Kit\0")
    (tmp_path / "proc" / "cpuinfo").write_text("processor\t: 0\nmodel name\t: ARMv8 Processor rev 0 (v8l)\n")
    monkeypatch.setenv("EDGEPROF_ROOT", str(tmp_path))
    info = board.identity()
    assert info["is_jetson"] is True and info["model"] == "NVIDIA Clara AGX Developer Kit"


def test_nvpmodel_id_comes_from_the_status_file(board_root):
    board_root("nano")
    assert board.nvpmodel() == {"id": 1, "name": "5W", "default_id": 0,
                                "source": "/var/lib/nvpmodel/status + /etc/nvpmodel.conf"}


def test_nvpmodel_command_is_not_run_under_a_fixture_root(board_root, monkeypatch):
    board_root("tx1")

    def forbidden(*args, **kwargs):
        raise AssertionError("nvpmodel -q must not run when EDGEPROF_ROOT is set")

    monkeypatch.setattr(board.subprocess, "Popen", forbidden)
    assert board.nvpmodel() is None


def test_state_has_clocks_in_mhz_and_leaves_out_pmic(board_root):
    board_root("tx2")
    state = board.state()
    assert state["clocks_mhz"] == {"cpu": 2035.2, "gpu": 1300.5, "emc": 1866.0}
    assert state["max_clocks_mhz"]["emc"] == 1866.0 and state["gpu_railgate"] is False
    assert "PMIC-Die" not in state["temps_c"] and state["temps_c"]["GPU-therm"] == 28.5
    assert state["passive_trip_c"]["GPU-therm"] == 96.5


def test_state_leaves_out_zones_of_powered_off_blocks(board_root):
    board_root("agx-orin")
    assert "CV0-therm" not in board.state()["temps_c"]


def test_unchanged_state_is_not_throttled(board_root):
    board_root("tx2")
    change = board.state_change(board.state(), board.state())
    assert change["throttled"] is False and change["reasons"] == []


def test_a_pinned_gpu_clock_that_drops_is_throttling(board_root):
    root = board_root("tx2")   # jetson_clocks on: min == max, so only a hardware cap lowers the clock
    before = board.state()
    (root / "sys/class/devfreq/17000000.gp10b/cur_freq").write_text("828750000\n")
    change = board.state_change(before, board.state())
    assert change["throttled"] is True
    assert change["reasons"] == ["GPU clock fell from its pinned 1300.5 to 828.8 MHz"]


def test_dvfs_lowering_an_unpinned_clock_between_idle_snapshots_is_not_throttling(board_root):
    # review finding 3: the Xavier NX GPU at 1109 MHz after the previous run, 114.75 MHz at idle
    root = board_root("xavier-nx")
    gpu = root / "sys/class/devfreq/17000000.gv11b/cur_freq"
    gpu.write_text("1109250000\n")
    before = board.state()
    gpu.write_text("114750000\n")
    change = board.state_change(before, board.state())
    assert change["throttled"] is False and change["reasons"] == []
    assert "DVFS, not throttling" in change["notes"][0]


def test_a_lowered_clock_ceiling_is_throttling(board_root):
    root = board_root("xavier-nx")
    before = board.state()
    (root / "sys/class/devfreq/17000000.gv11b/max_freq").write_text("599250000\n")
    change = board.state_change(before, board.state())
    assert change["throttled"] and "GPU clock ceiling dropped from 1109.2 to 599.2 MHz" in change["reasons"]


def test_over_current_events_between_the_snapshots_are_throttling(board_root):
    root = board_root("agx-orin")
    before = board.state()
    assert before["oc_event_cnt"] == {"oc1": 0, "oc2": 0, "oc3": 0}
    (root / "sys/class/hwmon/hwmon5/oc3_event_cnt").write_text("37\n")
    change = board.state_change(before, board.state())
    assert change["throttled"] and change["reasons"] == ["oc3 instantaneous over-current events: 37 during the run"]


def test_in_window_telemetry_reasons_make_the_run_throttled(board_root):
    board_root("nano")
    telemetry = {"throttled": True, "throttle_reasons": ["GPU clock fell below its pinned 921.6 MHz"]}
    change = board.state_change(board.state(), board.state(), telemetry)
    assert change["throttled"] and change["reasons"] == telemetry["throttle_reasons"]


def test_temperature_at_the_passive_trip_point_flags_throttling(board_root):
    root = board_root("nano")
    before = board.state()
    (root / "sys/class/thermal/thermal_zone1/temp").write_text("97500\n")
    change = board.state_change(before, board.state())
    assert change["throttled"] is True and "CPU-therm reached 97.5 C" in change["reasons"][0]


def test_off_jetson_state_has_no_jetson_facts(empty_root):
    state = board.state()
    assert "nvpmodel" not in state and "jetson_clocks" not in state


@pytest.mark.parametrize("name", sorted(BOARDS))
def test_info_json_names_board_jetpack_and_rails(name, cli):
    model, _, jetpack, _, _, total = BOARDS[name]
    result = cli(["info", "--json"], env={"EDGEPROF_ROOT": os.path.join(FIXTURES, name)})
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["board"]["model"] == model and data["board"]["jetpack"] == jetpack
    ina = next(row for row in data["power_sensors"] if row["name"] == "ina3221")
    assert ina["found"] is True and ina["total_rail"] == total and ina["rails"]


@pytest.mark.parametrize("name, emc, fan", [
    ("tx1", 1600.0, {"pwm_pct": 0.0, "source": "/sys/kernel/debug/tegra_fan"}),
    ("nano", 1600.0, {"pwm_pct": 0.0, "rpm": 0, "source": "/sys/devices/pwm-fan"}),
    ("tx2", 1866.0, {"pwm_pct": 100.0, "rpm": 3200, "source": "/sys/devices/pwm-fan"}),
    ("agx-orin", 2133.0, {"pwm_pct": 31.4, "rpm": 1967, "source": "/sys/class/hwmon/hwmon1"}),
    ("orin-nx", 2133.0, {"pwm_pct": 26.7, "rpm": 1846, "source": "/sys/class/hwmon/hwmon0"})])
def test_emc_clock_and_fan_come_from_each_generations_paths(name, emc, fan, board_root):
    board_root(name)
    state = board.state()
    assert state["clocks_mhz"]["emc"] == emc
    assert state["fan"] == fan


def test_tx2_emc_is_read_where_l4t_32_has_it_not_the_kernel_3_10_path(board_root):
    root = board_root("tx2")
    assert not (root / "sys/kernel/debug/clock").exists()
    (root / "sys/kernel/debug/bpmp").rename(root / "bpmp-moved")   # without bpmp: jetson_clocks.sh's clk/emc
    assert board.emc_mhz() == 1866.0


def test_jetson_clocks_needs_the_emc_at_its_maximum_where_it_can_be_read(board_root):
    root = board_root("tx2")
    assert board.jetson_clocks_on() is True
    (root / "sys/kernel/debug/bpmp/debug/clk/emc/rate").write_text("800000000\n")
    assert board.jetson_clocks_on() is False   # a user-space pin of the CPU and GPU is not jetson_clocks


def test_zones_sharing_a_type_are_kept_apart(board_root):
    root = board_root("orin-nx")
    (root / "sys/class/thermal/thermal_zone1/type").write_text("cpu-thermal\n")
    temps = board.state()["temps_c"]
    assert temps["cpu-thermal"] == 47.5 and temps["cpu-thermal_1"] == 45.9


@pytest.mark.parametrize("l4t, jetpack", [("35.6.1", "5.1.5"), ("35.6.4", "5.1.6"), ("36.4.2", "6.1 (rev1)"),
                                          ("36.4.7", "6.2.1"), ("36.5.0", "6.2.2"), ("36.0.0", "6.0 EA"),
                                          ("38.2.1", "7.0"), ("38.4.0", "7.1"), ("31.0.1", "4.0"),
                                          ("28.3.0", "3.3"), ("28.2.1", "3.2.1 | 3.3")])
def test_l4t_to_jetpack_rows_from_nvidia_and_jetson_stats(l4t, jetpack):
    assert board.jetpack_for(l4t) == jetpack


def test_an_l4t_release_of_several_jetpacks_says_so(board_root):
    board_root("tx1")
    info = board.identity()
    assert info["jetpack"] == "3.2 | 3.2.1 | 3.3" and "more than one JetPack" in info["jetpack_note"]
