"""jtop through stand-ins of jetson-stats, with the power values each release really produces.

The stand-in mirrors the real client API (``rbonghi/jetson_stats``, ``jtop/jtop.py``): ``from jtop
import jtop, JtopException``, ``jtop(interval=)``, ``start()``, ``ok()``, ``close()``, ``.interval``,
``.power``, ``.uptime`` and ``jtop.__version__``. Like the real ``ok()`` (3.1.4 l.1043-1061, 4.2.0
l.1217-1254), one wait that times out sets ``_running = False`` for good: that client never reads
again. Like the real ``_get_data`` (4.2.0 l.1050-1060, ``TIMEOUT_GAIN = 3``), a service that is late
makes the client deliver the same data again. ``uptime`` comes with the service's data from 4.2
(4.2.0 ``service.py`` l.556 ``data['uptime'] = get_uptime()``) and is read by the client before
(3.1.4 ``jtop.py`` l.843 ``timedelta(seconds=get_uptime())``).

The power values are built from recorded tegrastats lines by the release's own code, mirrored in
:func:`legacy_power` (3.1.4 ``service.py`` l.379-426; 4.0.0 l.390-446; 4.1.5 l.512-558).
"""
import sys
import time

import pytest

from edgeprof.errors import SensorError
from edgeprof.agent.sensors import jtop as jtop_sensor
from edgeprof.agent.sensors import open_monitor
from edgeprof.agent.sensors.jtop import rails_w, version_tuple
from edgeprof.agent.sensors.tegrastats import parse_line
from test_sensors_tegrastats import NANO_L4T32, ORIN_JP5

STANDIN = '''
import datetime
import time

__version__ = "{version}"


class JtopException(Exception):
    """jetson-stats' exception for a service that is down or of another version."""


class jtop(object):
    FAIL_START = None
    POWERS = []
    REPEAT = 1          # the client delivers each service reading this many times
    STALL_AT = None     # service reading at which ok() times out once (the service stalled)
    SERVICE_UPTIME = {service_uptime}
    clients = 0
    deliveries = 0      # ok() calls that returned True, over every client

    def __init__(self, interval=1.0):
        self._interval = float(interval)
        self._running = False

    def start(self):
        if jtop.FAIL_START:
            raise JtopException(jtop.FAIL_START)
        jtop.clients += 1
        self._running = True

    @property
    def interval(self):
        return self._interval

    def ok(self, spin=False):
        time.sleep(self._interval)
        if not self._running:
            return False
        if jtop.STALL_AT is not None and (jtop.deliveries + 1) // jtop.REPEAT >= jtop.STALL_AT:
            jtop.STALL_AT = None
            self._running = False   # jtop.ok: the trigger wait timed out; this client is over
            return False
        jtop.deliveries += 1
        return True

    @staticmethod
    def _reading():
        return max(jtop.deliveries - 1, 0) // jtop.REPEAT

    @property
    def power(self):
        return jtop.POWERS[min(self._reading(), len(jtop.POWERS) - 1)]

    @property
    def cpu(self):
        return {{"cpu": [{{"idle": 90.0 - self._reading() % 7}}]}}

    @property
    def uptime(self):
        if jtop.SERVICE_UPTIME:
            return datetime.timedelta(seconds=1000 + self._reading())
        return datetime.timedelta(seconds=time.monotonic())

    def close(self):
        self._running = False
'''


def legacy_power(watts, version):
    """``jetson.power`` of jetson-stats < 4.2 from one tegrastats reading ``{name: mW}``.

    Mirrors ``_total_power`` and the renaming of each release: 3.x renames first
    (``VDD_``/``POM_`` removed, ``_`` -> space) and takes the first name containing ``IN``; 4.0
    drops ``NC`` and also removes ``VDDQ_`` first; 4.1 takes ``POM_5V_IN`` out before renaming.
    A total taken from the rails is that rail; otherwise the sum of ``cur`` and ``avg``.
    """
    power = {k: {"cur": v, "avg": v} for k, v in watts.items()}
    major_minor = version_tuple(version)
    if major_minor >= (4, 0):
        power.pop("NC", None)

    def rename(name):
        if major_minor >= (4, 0):
            name = name.replace("VDDQ_", "")
        return name.replace("VDD_", "").replace("POM_", "").replace("_", " ")

    if major_minor < (4, 1):
        power = dict((rename(k), v) for k, v in power.items())
        total_name = next((k for k in power if "IN" in k), "")
    else:
        total_name = next((k for k in power if "POM_5V_IN" in k), "")
    if total_name:
        total = power.pop(total_name)
    else:
        total = {"cur": sum(v["cur"] for v in power.values()), "avg": sum(v["avg"] for v in power.values())}
    if major_minor >= (4, 1):
        power = dict((rename(k), v) for k, v in power.items())
    return total, power


def mw(line):
    """``{rail: mW}`` of a recorded tegrastats line (NC kept: tegrastats prints it)."""
    rails = {k: int(round(v * 1000)) for k, v in parse_line(line).items()}
    if " NC " in line:
        rails["NC"] = 0
    return rails


# Recorded lines: an AGX Orin on JetPack 5 (jetson-stats' tests), a Nano and a TX2 on L4T 32 (the
# TX2 rails as NVIDIA's L4T 32 TX2 names them: 0-0040 VDD_SYS_GPU/SOC/4V0_WIFI, 0-0041 VDD_IN/SYS_CPU/DDR).
TX2_L4T32 = ("RAM 707/7854MB CPU [1%@345] VDD_SYS_GPU 152/152 VDD_SYS_SOC 611/611 VDD_4V0_WIFI 38/38 "
             "VDD_IN 3056/3056 VDD_SYS_CPU 305/305 VDD_SYS_DDR 481/481")
ORIN_W = mw(ORIN_JP5)      # VDD_GPU_SOC 3150, VDD_CPU_CV 14312, VIN_SYS_5V0 4968, NC 0, VDDQ_VDD2_1V8AO 1091
ORIN_SUM_W = (3150 + 14312 + 4968 + 1091) / 1000.0

# jetson-stats >= 4.2 (jtop/core/power.py get_status): INA3221 rails carry volt/curr/warn/crit/power/online/avg
# (read_power_status skips 'type'); a /sys/class/power_supply entry also has 'status' (find_all_system_monitor);
# the total is the sum of all of them when no VDD_IN/POM_5V_IN is present.
USB_PD = {"online": True, "status": "Charging", "volt": 20000, "curr": 3250, "warn": 3250, "power": 65000,
          "avg": 65000}
POWER_4_2_ORIN_USB = {
    "rail": {"VDD_GPU_SOC": {"volt": 5000, "curr": 630, "warn": 32760, "crit": 32760, "power": 3150,
                             "online": True, "avg": 3150},
             "VDD_CPU_CV": {"volt": 5000, "curr": 2862, "power": 14312, "online": True, "avg": 14312},
             "VIN_SYS_5V0": {"volt": 5000, "curr": 993, "power": 4968, "online": True, "avg": 4968},
             "VDDQ_VDD2_1V8AO": {"volt": 5000, "curr": 218, "power": 1091, "online": True, "avg": 1091},
             "1-00081": USB_PD},
    "tot": {"power": 3150 + 14312 + 4968 + 1091 + 65000, "avg": 3150 + 14312 + 4968 + 1091 + 65000},
}
POWER_4_2_TX2 = {
    "rail": {"VDD_SYS_GPU": {"online": True, "volt": 19104, "curr": 8, "power": 152, "avg": 152},
             "VDD_SYS_CPU": {"online": True, "volt": 19104, "curr": 16, "power": 305, "avg": 305}},
    "tot": {"online": True, "volt": 19104, "curr": 160, "power": 3056, "avg": 3056, "name": "VDD_IN"},
}


@pytest.fixture
def standin(tmp_path, monkeypatch, empty_root):
    """Install a jtop stand-in of ``version`` on sys.path; returns its module."""
    def install(version, powers, fail_start=None, repeat=1, stall_at=None):
        folder = tmp_path / ("jtop_" + version)
        (folder / "jtop").mkdir(parents=True)
        service_uptime = version_tuple(version) >= (4, 2)
        (folder / "jtop" / "__init__.py").write_text(STANDIN.format(version=version, service_uptime=service_uptime))
        monkeypatch.syspath_prepend(str(folder))
        monkeypatch.delitem(sys.modules, "jtop", raising=False)
        import jtop as module
        module.jtop.POWERS = powers
        module.jtop.FAIL_START = fail_start
        module.jtop.REPEAT = repeat
        module.jtop.STALL_AT = stall_at
        module.jtop.clients = module.jtop.deliveries = 0
        monkeypatch.setattr(jtop_sensor, "REQUESTED_INTERVAL_S", 0.05)
        return module
    yield install
    sys.modules.pop("jtop", None)


def test_jtop_3x_and_4_0_on_agx_orin_total_is_the_four_rails_not_vin_sys_5v0():
    for version in ("3.1.4", "4.0.0"):
        power = legacy_power(ORIN_W, version)
        assert power[0]["cur"] == 4968      # what jetson-stats itself calls the total: VIN SYS 5V0 alone
        rails, total, shape, _ = rails_w(power, version_tuple(version))
        assert shape == "3.x-4.0" and total is None
        assert sum(rails.values()) == pytest.approx(ORIN_SUM_W)
        assert "VIN SYS 5V0" in rails and "NC" not in rails


def test_monitor_over_jtop_4_0_on_the_agx_orin_fixture_records_the_boards_sum(standin, monkeypatch):
    import os
    monkeypatch.setenv("EDGEPROF_ROOT", os.path.join(os.path.dirname(os.path.dirname(__file__)), "fixtures",
                                                     "agx-orin"))
    standin("4.0.0", [legacy_power(ORIN_W, "4.0.0")])
    with open_monitor("jtop") as monitor:
        monitor.start_window()
        time.sleep(0.3)
        window = monitor.stop_window(images=10, idle_w=None)
        described = monitor.describe()
    assert described["total_rail"] is None and described["scope"] == "sum_of_rails"
    assert window["total_mean_w"] == pytest.approx(ORIN_SUM_W)
    assert monitor.window_extras()["scope"] == "sum_of_rails"


@pytest.mark.parametrize("version, line, total, total_w", [
    ("3.1.4", TX2_L4T32, "VDD_IN", 3.056), ("4.0.0", NANO_L4T32, "POM_5V_IN", 0.933),
    ("4.1.5", TX2_L4T32, "IN", 3.056), ("4.1.5", NANO_L4T32, "POM_5V_IN", 0.933)])
def test_legacy_totals_are_the_input_rail_whatever_jetson_stats_called_its_total(version, line, total, total_w):
    rails, total_rail, _, _ = rails_w(legacy_power(mw(line), version), version_tuple(version))
    assert total_rail == total and rails[total] == pytest.approx(total_w)


def test_jtop_4_1_on_agx_orin_sums_the_rails():
    rails, total, shape, _ = rails_w(legacy_power(ORIN_W, "4.1.5"), (4, 1))
    assert shape == "4.1" and total is None and sum(rails.values()) == pytest.approx(ORIN_SUM_W)


def test_4_2_format_puts_the_named_total_back_as_a_rail():
    rails, total, shape, dropped = rails_w(POWER_4_2_TX2, (4, 2), supplies=set())
    assert shape == "4.2+" and total == "VDD_IN" and dropped == []
    assert rails == {"VDD_SYS_GPU": 0.152, "VDD_SYS_CPU": 0.305, "VDD_IN": 3.056}


def test_4_2_usb_c_supply_is_never_summed_into_the_total():
    rails, total, _, dropped = rails_w(POWER_4_2_ORIN_USB, (4, 2), supplies=set())
    assert total is None and dropped == ["1-00081"]
    assert sum(rails.values()) == pytest.approx(ORIN_SUM_W)


def test_4_2_supply_named_like_the_machines_power_supply_folder_is_dropped_without_a_status():
    supply = dict(USB_PD)
    del supply["status"]
    power = {"rail": {"VDD_IN": {"power": 4000, "online": True}, "1-00081": supply}, "tot": {"power": 69000}}
    rails, _, _, dropped = rails_w(power, (4, 2), supplies={"1-00081"})
    assert rails == {"VDD_IN": 4.0} and dropped == ["1-00081"]


def test_power_supply_names_come_from_the_machine_as_jetson_stats_names_them(monkeypatch):
    import os
    monkeypatch.setenv("EDGEPROF_ROOT", os.path.join(os.path.dirname(os.path.dirname(__file__)), "fixtures",
                                                     "agx-orin"))
    assert jtop_sensor.power_supply_names() == {"1-00081"}


@pytest.mark.parametrize("version, powers, total_w", [("4.2.1", [POWER_4_2_TX2], 3.056),
                                                      ("4.1.5", [legacy_power(mw(NANO_L4T32), "4.1.5")], 0.933)])
def test_monitor_over_jtop_reports_the_total(standin, version, powers, total_w):
    standin(version, powers)
    with open_monitor("jtop") as monitor:
        monitor.start_window()
        time.sleep(0.35)
        result = monitor.stop_window(images=10, idle_w=None)
        described = monitor.describe()
    assert described["driver"] == "jetson-stats %s" % version
    assert result["total_mean_w"] == pytest.approx(total_w)
    assert result["rails"][described["total_rail"]]["samples"] >= 2


@pytest.mark.parametrize("version", ["4.2.1", "4.1.5"])
def test_a_reading_the_client_delivers_again_is_not_a_new_sample(standin, version):
    powers = [POWER_4_2_TX2, dict(POWER_4_2_TX2, tot=dict(POWER_4_2_TX2["tot"], power=3100))] * 20
    if version < "4.2":
        powers = [legacy_power({"VDD_IN": 3056 + i, "VDD_SYS_CPU": 305}, version) for i in range(40)]
    module = standin(version, powers, repeat=3)
    sensor = jtop_sensor.probe()
    try:
        readings = [sensor.wait_read(1.0) for _ in range(12)]
    finally:
        sensor.close()
    fresh = [r for r in readings if r is not None]
    assert 3 <= len(fresh) <= 5, readings   # 12 deliveries of 4 service readings
    assert module.jtop.clients == 1


def test_a_service_stall_reconnects_instead_of_losing_power_for_the_sweep(standin):
    module = standin("4.2.1", [POWER_4_2_TX2], stall_at=2)
    sensor = jtop_sensor.probe()
    try:
        readings = [sensor.wait_read(1.0) for _ in range(6)]
    finally:
        sensor.close()
    assert module.jtop.clients == 2 and not sensor.problems
    assert readings[-1] is None or readings[-1]["VDD_IN"] == pytest.approx(3.056)
    assert any(r is not None for r in readings[3:])


def test_jtop_exception_at_start_is_a_sensor_error_with_its_message(standin):
    standin("4.2.1", [POWER_4_2_TX2], fail_start="The jtop.service is not active. Please run:\nsudo jtop --install-service")
    with pytest.raises(SensorError, match="not active. Please run: sudo jtop --install-service"):
        jtop_sensor.probe()


def test_auto_falls_back_past_a_failing_jtop_and_records_why(standin):
    standin("4.2.1", [POWER_4_2_TX2], fail_start="Mismatch version jtop service: [4.2.0] and client: [4.2.1]")
    monitor = open_monitor("auto")
    try:
        assert monitor.describe()["status"] == "unavailable"
        assert "jtop: jtop 4.2.1 not usable: Mismatch version" in monitor.describe()["reason"]
    finally:
        monitor.close()


def test_jtop_not_installed_is_a_reason_with_the_install_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "jtop", None)
    with pytest.raises(SensorError, match="pip3 install jetson-stats"):
        jtop_sensor.probe()


def test_jtop_declares_its_catch_up_from_the_service_interval(standin):
    standin("4.2.1", [POWER_4_2_TX2])
    with jtop_sensor.probe() as sensor:
        assert sensor.catch_up_s == pytest.approx(2 * 0.05) and sensor.scope == "module_input"
