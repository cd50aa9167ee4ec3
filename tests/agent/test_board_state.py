"""Board identity and state from fixture trees, throttle flags, and ``edgeprof info --json`` per board."""
import json
import os
import shutil

import pytest

from edgeprof.agent import board

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures")

# board -> (device-tree model, L4T, JetPack, nvpmodel name, jetson_clocks, total rail)
BOARDS = {
    "tx1": ("jetson_tx1", "28.2.1", "3.3", None, False, "VDD_IN"),
    "tx2": ("NVIDIA Jetson TX2", "32.7.1", "4.6.1", "MAXN", True, "VDD_IN"),
    "nano": ("NVIDIA Jetson Nano Developer Kit", "32.7.1", "4.6.1", "5W", False, "POM_5V_IN"),
    "xavier-nx": ("NVIDIA Jetson Xavier NX Developer Kit", "32.7.1", "4.6.1", "MODE_15W_6CORE", False, "VDD_IN"),
    "agx-orin": ("Jetson AGX Orin Developer Kit", "35.3.1", "5.1.1", "MAXN", False, None),
}


@pytest.fixture
def board_root(tmp_path, monkeypatch):
    def use(name):
        root = tmp_path / name
        shutil.copytree(os.path.join(FIXTURES, name), str(root))
        monkeypatch.setenv("EDGEPROF_ROOT", str(root))
        return root
    return use


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
    assert board.nvpmodel() == {"id": 1, "name": "5W",
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
    assert "PMIC-Die" not in state["temps_c"] and state["temps_c"]["GPU-therm"] == 28.5
    assert state["passive_trip_c"]["GPU-therm"] == 96.5


def test_state_leaves_out_zones_of_powered_off_blocks(board_root):
    board_root("agx-orin")
    assert "CV0-therm" not in board.state()["temps_c"]


def test_unchanged_state_is_not_throttled(board_root):
    board_root("tx2")
    change = board.state_change(board.state(), board.state())
    assert change["throttled"] is False and change["reasons"] == []


def test_gpu_clock_drop_flags_throttling(board_root):
    root = board_root("tx2")
    before = board.state()
    (root / "sys/class/devfreq/17000000.gp10b/cur_freq").write_text("828750000\n")
    change = board.state_change(before, board.state())
    assert change["throttled"] is True
    assert change["reasons"] == ["GPU clock dropped from 1300.5 to 828.8 MHz"]


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
