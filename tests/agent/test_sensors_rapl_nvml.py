"""RAPL counters from a powercap tree, and NVML through a stand-in of nvidia-ml-py's ``pynvml``."""
import errno
import os
import sys
import types

import pytest

from edgeprof.errors import SensorError
from edgeprof.agent import board
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
    with pytest.raises(SensorError, match="root-only since the CVE-2020-8694 fix.*chmod a\\+r"):
        rapl.probe()


def test_no_powercap_is_a_reason(empty_root):
    with pytest.raises(SensorError, match="no RAPL package zone"):
        rapl.probe()


# Return codes of nvml.h, with the text nvidia-ml-py 12.550.52 gives them (pynvml.py: NVML_ERROR_*,
# NVMLError._errcode_to_string).
NVML_ERROR_UNINITIALIZED = 1
NVML_ERROR_INVALID_ARGUMENT = 2
NVML_ERROR_NOT_SUPPORTED = 3
NVML_ERROR_DRIVER_NOT_LOADED = 9
ERROR_TEXT = {NVML_ERROR_UNINITIALIZED: "Uninitialized", NVML_ERROR_INVALID_ARGUMENT: "Invalid Argument",
              NVML_ERROR_NOT_SUPPORTED: "Not Supported",
              NVML_ERROR_DRIVER_NOT_LOADED: "Driver Not Loaded"}


def _pynvml_standin(energy_supported, gpus=1, init_error=None):
    """A stand-in mirroring nvidia-ml-py 12.550.52 (module ``pynvml``): ``gpus`` GPUs.

    As the real one does: ``NVMLError(code)`` takes a return code and its ``str()`` is the code's text
    (pynvml.py ``NVMLError.__new__``/``__str__``, raised by ``_nvmlCheckReturn``); starts are counted
    (nvml.h, ``nvmlInit_v2``/``nvmlShutdown``: "A reference count of the number of initializations is
    maintained. Shutdown only occurs when the reference count reaches zero"), and with no start held
    ``nvmlShutdown`` and every query fail with NVML_ERROR_UNINITIALIZED (nvml.h; pynvml.py
    ``_nvmlGetFunctionPointer`` raises it before the library is loaded).
    """
    module = types.ModuleType("pynvml")

    class NVMLError(Exception):
        def __init__(self, value):
            super(NVMLError, self).__init__(value)
            self.value = value

        def __str__(self):
            return ERROR_TEXT[self.value]

    module.NVMLError = NVMLError
    module.state = {"energy_mj": 5000, "power_mw": 70000, "starts": 0, "power_error": None}

    def started(query):
        def checked(*args):
            if module.state["starts"] < 1:
                raise NVMLError(NVML_ERROR_UNINITIALIZED)
            return query(*args)
        return checked

    def init():
        if init_error:
            raise NVMLError(init_error)
        module.state["starts"] += 1

    def shutdown():
        module.state["starts"] -= 1

    def power(handle):
        if module.state["power_error"]:
            raise NVMLError(module.state["power_error"])
        return module.state["power_mw"]

    def energy(handle):
        if not energy_supported:
            raise NVMLError(NVML_ERROR_NOT_SUPPORTED)
        return module.state["energy_mj"]

    module.nvmlInit = init
    module.nvmlShutdown = started(shutdown)
    module.nvmlSystemGetDriverVersion = started(lambda: "550.54.15")
    module.nvmlDeviceGetCount = started(lambda: gpus)
    def handle_by_index(index):
        if not 0 <= index < gpus:   # nvml.h nvmlDeviceGetHandleByIndex_v2: NVML_ERROR_INVALID_ARGUMENT
            raise NVMLError(NVML_ERROR_INVALID_ARGUMENT)
        return "handle%d" % index

    module.nvmlDeviceGetHandleByIndex = started(handle_by_index)
    # nvml.h nvmlDeviceGetUUID: "GPU-" and the 16-byte UUID in 8-4-4-4-12 hex groups
    module.nvmlDeviceGetUUID = started(lambda h: "GPU-%08d-1111-2222-3333-444455556666" % int(h[len("handle"):]))
    module.nvmlDeviceGetName = started(lambda h: b"NVIDIA H100 80GB HBM3")
    module.nvmlDeviceGetPowerUsage = started(power)
    module.nvmlDeviceGetTotalEnergyConsumption = started(energy)
    return module


@pytest.fixture(autouse=True)
def no_cuda_visible_devices(monkeypatch):
    """The tests choose CUDA_VISIBLE_DEVICES themselves: the machine's own must not leak in."""
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.delenv("CUDA_DEVICE_ORDER", raising=False)


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


def test_nvml_closed_twice_gives_its_start_back_once(empty_root, monkeypatch):
    standin = _pynvml_standin(energy_supported=True)
    monkeypatch.setitem(sys.modules, "pynvml", standin)
    sensor = nvml.probe()
    assert standin.state["starts"] == 1
    shutdowns = []
    real_shutdown = standin.nvmlShutdown
    monkeypatch.setattr(standin, "nvmlShutdown", lambda: shutdowns.append(real_shutdown()))
    sensor.close()
    sensor.close()
    assert len(shutdowns) == 1 and standin.state["starts"] == 0


def test_a_gpu_nvml_cannot_read_is_left_out_with_nvmls_words(empty_root, monkeypatch):
    standin = _pynvml_standin(energy_supported=False)
    monkeypatch.setitem(sys.modules, "pynvml", standin)
    with nvml.probe() as sensor:
        standin.state["power_error"] = NVML_ERROR_NOT_SUPPORTED
        assert sensor.read() == {}
        assert sensor.problems == {"GPU0": "NVML: Not Supported"}


def test_nvml_without_a_gpu_is_a_reason_and_gives_its_start_back(empty_root, monkeypatch):
    standin = _pynvml_standin(energy_supported=True, gpus=0)
    monkeypatch.setitem(sys.modules, "pynvml", standin)
    with pytest.raises(SensorError, match="NVML sees no GPU"):
        nvml.probe()
    assert standin.state["starts"] == 0


def test_nvml_that_cannot_start_says_so(empty_root, monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", _pynvml_standin(True, init_error=NVML_ERROR_DRIVER_NOT_LOADED))
    with pytest.raises(SensorError, match=r"NVML could not start \(Driver Not Loaded\): no NVIDIA GPU"):
        nvml.probe()


def test_nvml_not_installed_names_the_package(empty_root, monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", None)
    with pytest.raises(SensorError, match=r"pip install nvidia-ml-py"):
        nvml.probe()


def test_the_boards_gpu_name_comes_from_nvml_as_text_and_gives_its_start_back(monkeypatch):
    standin = _pynvml_standin(energy_supported=True)
    monkeypatch.setitem(sys.modules, "pynvml", standin)
    assert board.nvml_gpu_name() == "NVIDIA H100 80GB HBM3"
    assert standin.state["starts"] == 0


@pytest.mark.parametrize("standin", [None, _pynvml_standin(True, init_error=NVML_ERROR_DRIVER_NOT_LOADED),
                                     _pynvml_standin(True, gpus=0)], ids=["not installed", "no driver", "no gpu"])
def test_the_boards_gpu_name_is_none_without_a_gpu_nvml_can_see(monkeypatch, standin):
    monkeypatch.setitem(sys.modules, "pynvml", standin)
    assert board.nvml_gpu_name() is None
    assert standin is None or standin.state["starts"] == 0


def test_asking_the_gpu_name_leaves_an_open_nvml_sensor_reading(empty_root, monkeypatch):
    standin = _pynvml_standin(energy_supported=True)
    monkeypatch.setitem(sys.modules, "pynvml", standin)
    with nvml.probe() as sensor:
        assert board.nvml_gpu_name() == "NVIDIA H100 80GB HBM3"
        assert sensor.read() == {"GPU0": 5.0} and not sensor.problems


@pytest.mark.parametrize("visible, rails", [("1", ["GPU1"]), ("2,0", ["GPU2", "GPU0"]), ("0,7,1", ["GPU0"]),
                                            ("GPU-00000001", ["GPU1"])])
def test_nvml_measures_only_the_gpus_cuda_visible_devices_names(empty_root, monkeypatch, visible, rails):
    monkeypatch.setitem(sys.modules, "pynvml", _pynvml_standin(energy_supported=True, gpus=3))
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", visible)
    with nvml.probe() as sensor:
        assert sensor.rails == rails
        assert "CUDA_VISIBLE_DEVICES=%s" % visible in sensor.paths[-1]
        assert "CUDA_DEVICE_ORDER=PCI_BUS_ID" in sensor.paths[-1]
        assert sensor.scope == "gpu_board"


def test_nvml_without_cuda_visible_devices_measures_every_gpu(empty_root, monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", _pynvml_standin(energy_supported=True, gpus=2))
    with nvml.probe() as sensor:
        assert sensor.rails == ["GPU0", "GPU1"] and sensor.total_rail is None


@pytest.mark.parametrize("visible, reason", [("", "empty"), ("MIG-1234", "MIG"), ("5", "names no GPU")])
def test_nvml_refuses_a_cuda_visible_devices_it_cannot_measure(empty_root, monkeypatch, visible, reason):
    standin = _pynvml_standin(energy_supported=True, gpus=2)
    monkeypatch.setitem(sys.modules, "pynvml", standin)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", visible)
    with pytest.raises(SensorError, match=reason):
        nvml.probe()
    assert standin.state["starts"] == 0
