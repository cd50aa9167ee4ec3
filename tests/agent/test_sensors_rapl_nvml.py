"""RAPL counters from a powercap tree, and NVML through a stand-in of nvidia-ml-py's ``pynvml``."""
import errno
import os
import sys
import types

import pytest

from edgeprof.errors import SensorError
from edgeprof.agent.sensors import nvml, open_monitor, rapl

POWERCAP = "sys/class/powercap"


@pytest.fixture
def rapl_root(tmp_path, monkeypatch):
    """Two packages' zones as Linux lays them out: package, core, uncore and dram sub-zones, psys."""
    root = tmp_path / "root"
    zones = {"intel-rapl:0": "package-0", "intel-rapl:0:0": "core", "intel-rapl:0:1": "uncore",
             "intel-rapl:0:2": "dram", "intel-rapl:1": "psys"}
    for zone, name in zones.items():
        folder = root / POWERCAP / zone
        folder.mkdir(parents=True)
        (folder / "name").write_text(name + "\n")
        (folder / "energy_uj").write_text("1000000\n")
        (folder / "max_energy_range_uj").write_text("262143328850\n")
    monkeypatch.setenv("EDGEPROF_ROOT", str(root))
    return root


def test_rapl_rails_are_packages_and_dram_not_core_uncore_or_psys(rapl_root):
    sensor = rapl.probe()
    assert sensor.rails == ["package-0", "dram-0"]
    assert sensor.total_is_sum and sensor.counts_energy


def test_rapl_counter_reads_joules(rapl_root):
    assert rapl.probe().read() == {"package-0": 1.0, "dram-0": 1.0}


def test_rapl_wraparound_adds_the_counter_range(rapl_root):
    sensor = rapl.probe()
    energy_file = rapl_root / POWERCAP / "intel-rapl:0" / "energy_uj"
    energy_file.write_text("262143000000\n")
    before = sensor.read()["package-0"]
    energy_file.write_text("1000\n")
    after = sensor.read()["package-0"]
    assert after - before == pytest.approx((262143328850 - 262143000000 + 1000) / 1e6)


def test_rapl_permission_denied_says_how_to_fix_it(rapl_root, monkeypatch):
    real_open = os.open

    def deny(path, *args, **kwargs):
        if str(path).endswith("energy_uj"):
            raise PermissionError(errno.EACCES, "Permission denied")
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", deny)
    with pytest.raises(SensorError, match="root-only since Linux 5.10.*chmod a\\+r"):
        rapl.probe()


def test_no_powercap_is_a_reason(empty_root):
    with pytest.raises(SensorError, match="no RAPL package zone"):
        rapl.probe()


def _pynvml_standin(energy_supported):
    """A stand-in mirroring nvidia-ml-py 12.x names (module ``pynvml``): one GPU."""
    module = types.ModuleType("pynvml")

    class NVMLError(Exception):
        pass

    module.NVMLError = NVMLError
    module.state = {"energy_mj": 5000, "power_mw": 70000}
    module.nvmlInit = lambda: None
    module.nvmlShutdown = lambda: None
    module.nvmlSystemGetDriverVersion = lambda: "550.54.15"
    module.nvmlDeviceGetCount = lambda: 1
    module.nvmlDeviceGetHandleByIndex = lambda i: "handle%d" % i
    module.nvmlDeviceGetName = lambda h: b"NVIDIA H100 80GB HBM3"
    module.nvmlDeviceGetPowerUsage = lambda h: module.state["power_mw"]

    def energy(handle):
        if not energy_supported:
            raise NVMLError("Not Supported")
        return module.state["energy_mj"]

    module.nvmlDeviceGetTotalEnergyConsumption = energy
    return module


def test_nvml_uses_the_energy_counter_where_the_gpu_has_it(empty_root, monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", _pynvml_standin(energy_supported=True))
    sensor = nvml.probe()
    assert sensor.counts_energy and sensor.rails == ["GPU0"] and sensor.total_rail == "GPU0"
    assert sensor.read() == {"GPU0": 5.0}
    assert "NVIDIA H100" in sensor.paths[0]


def test_nvml_polls_power_without_the_counter(empty_root, monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", _pynvml_standin(energy_supported=False))
    sensor = nvml.probe()
    assert not sensor.counts_energy
    assert sensor.read() == {"GPU0": 70.0}


def test_nvml_is_never_chosen_on_a_jetson(monkeypatch, tmp_path):
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "nv_tegra_release").write_text("# R35 (release), REVISION: 3.1, GCID: 1\n")
    monkeypatch.setenv("EDGEPROF_ROOT", str(tmp_path))
    monkeypatch.setitem(sys.modules, "pynvml", _pynvml_standin(energy_supported=True))
    with pytest.raises(SensorError, match="Jetson"):
        nvml.probe()


def test_cpu_runs_prefer_rapl_over_nvml_in_auto(rapl_root, monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", _pynvml_standin(energy_supported=True))
    chosen = []
    for device in ("cpu", "cuda"):
        monitor = open_monitor("auto", device=device)
        chosen.append(monitor.describe()["sensor"])
        monitor.close()
    assert chosen == ["rapl", "nvml"]
