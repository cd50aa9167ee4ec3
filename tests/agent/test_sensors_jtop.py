"""jtop through stand-ins of jetson-stats, in both of its power formats.

The stand-ins mirror the real API names: ``from jtop import jtop, JtopException``, ``jtop(interval=)``,
``start()``, ``ok()``, ``close()``, ``.interval`` and ``.power``, and ``jtop.__version__``.
``STANDIN_4_2`` mirrors jetson-stats 4.2.1 (``power`` is ``{"rail": ..., "tot": ...}``);
``STANDIN_4_1`` mirrors 4.1.5 (``power`` is a ``(total, rails)`` tuple, rails renamed without
``VDD_``/``POM_``). They test edgeprof's handling, not jetson-stats itself.
"""
import sys
import time

import pytest

from edgeprof.errors import SensorError
from edgeprof.agent.sensors import jtop as jtop_sensor
from edgeprof.agent.sensors import open_monitor
from edgeprof.agent.sensors.jtop import rails_w

STANDIN = '''
import time

__version__ = "{version}"


class JtopException(Exception):
    """jetson-stats' exception for a service that is down or of another version."""


class jtop(object):
    FAIL_START = None
    POWERS = []

    def __init__(self, interval=1.0):
        self._interval = float(interval)
        self._index = -1

    def start(self):
        if jtop.FAIL_START:
            raise JtopException(jtop.FAIL_START)

    @property
    def interval(self):
        return self._interval

    def ok(self, spin=False):
        time.sleep(self._interval)
        self._index = min(self._index + 1, len(jtop.POWERS) - 1)
        return True

    @property
    def power(self):
        return jtop.POWERS[self._index]

    def close(self):
        pass
'''

# Recorded shapes: a TX2 on jetson-stats 4.2.1 (VDD_IN taken out as the total) ...
POWER_4_2_TX2 = {
    "rail": {"VDD_SYS_GPU": {"online": True, "type": "INA3221", "volt": 19104, "curr": 8, "power": 152, "avg": 152},
             "VDD_SYS_CPU": {"online": True, "type": "INA3221", "volt": 19104, "curr": 16, "power": 305, "avg": 305}},
    "tot": {"online": True, "type": "INA3221", "volt": 19104, "curr": 160, "power": 3056, "avg": 3056,
            "name": "VDD_IN"},
}
# ... an AGX Orin on 4.2.1 (no input rail: tot is the sum, without a name) ...
POWER_4_2_ORIN = {
    "rail": {"VDD_GPU_SOC": {"online": True, "power": 3100, "avg": 3100},
             "VDD_CPU_CV": {"online": True, "power": 800, "avg": 800}},
    "tot": {"power": 3900, "avg": 3900},
}
# ... a TX2 on 4.1.5 (total = sum of every rail, IN included) and a Nano on 4.1.5 (total = POM_5V_IN).
POWER_4_1_TX2 = ({"cur": 3513, "avg": 3513},
                 {"IN": {"cur": 3056, "avg": 3056}, "SYS GPU": {"cur": 152, "avg": 152},
                  "SYS CPU": {"cur": 305, "avg": 305}})
POWER_4_1_NANO = ({"cur": 2225, "avg": 2225},
                  {"5V GPU": {"cur": 40, "avg": 40}, "5V CPU": {"cur": 365, "avg": 365}})


@pytest.fixture
def standin(tmp_path, monkeypatch):
    """Install a jtop stand-in of ``version`` on sys.path; returns its module."""
    def install(version, powers, fail_start=None):
        folder = tmp_path / ("jtop_" + version)
        (folder / "jtop").mkdir(parents=True)
        (folder / "jtop" / "__init__.py").write_text(STANDIN.format(version=version))
        monkeypatch.syspath_prepend(str(folder))
        monkeypatch.delitem(sys.modules, "jtop", raising=False)
        import jtop as module
        module.jtop.POWERS = powers
        module.jtop.FAIL_START = fail_start
        return module
    yield install
    sys.modules.pop("jtop", None)


def test_4_2_format_puts_the_named_total_back_as_a_rail():
    rails, total, shape = rails_w(POWER_4_2_TX2)
    assert shape == "4.2+" and total == "VDD_IN"
    assert rails == {"VDD_SYS_GPU": 0.152, "VDD_SYS_CPU": 0.305, "VDD_IN": 3.056}


def test_4_2_format_without_a_total_name_means_the_sum():
    rails, total, _ = rails_w(POWER_4_2_ORIN)
    assert total is None and sorted(rails) == ["VDD_CPU_CV", "VDD_GPU_SOC"]


def test_legacy_tuple_takes_in_as_the_total_not_jtops_double_count():
    rails, total, shape = rails_w(POWER_4_1_TX2)
    assert shape == "3.x-4.1" and total == "IN" and rails["IN"] == 3.056


def test_legacy_tuple_total_that_is_not_the_sum_is_the_nano_input_rail():
    rails, total, _ = rails_w(POWER_4_1_NANO)
    assert total == "POM_5V_IN" and rails["POM_5V_IN"] == 2.225


@pytest.mark.parametrize("version, powers, total_w", [("4.2.1", [POWER_4_2_TX2], 3.056),
                                                      ("4.1.5", [POWER_4_1_NANO], 2.225)])
def test_monitor_over_jtop_reports_the_total(standin, version, powers, total_w):
    standin(version, powers)
    monitor = open_monitor("jtop")
    try:
        monitor.start_window()
        time.sleep(0.35)
        result = monitor.stop_window(images=10, idle_w=None)
        described = monitor.describe()
    finally:
        monitor.close()
    assert described["driver"] == "jetson-stats %s" % version
    assert result["total_mean_w"] == pytest.approx(total_w)
    assert result["rails"][described["total_rail"]]["samples"] >= 2


def test_jtop_exception_at_start_is_a_sensor_error_with_its_message(standin):
    standin("4.2.1", [POWER_4_2_TX2], fail_start="The jtop.service is not active. Please run:\nsudo jtop --install-service")
    with pytest.raises(SensorError, match="not active. Please run: sudo jtop --install-service"):
        jtop_sensor.probe()


def test_auto_falls_back_past_a_failing_jtop_and_records_why(standin, empty_root):
    standin("4.2.1", [POWER_4_2_TX2], fail_start="Mismatch version jtop service: [4.2.0] and client: [4.2.1]")
    monitor = open_monitor("auto")
    assert monitor.describe()["status"] == "unavailable"
    assert "jtop: jtop 4.2.1 not usable: Mismatch version" in monitor.describe()["reason"]


def test_jtop_not_installed_is_a_reason_with_the_install_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "jtop", None)
    with pytest.raises(SensorError, match="pip3 install jetson-stats"):
        jtop_sensor.probe()


def test_closing_the_sensor_twice_closes_the_jtop_connection_once(standin, monkeypatch):
    module = standin("4.2.1", [POWER_4_2_TX2])
    closes = []
    monkeypatch.setattr(module.jtop, "close", lambda self: closes.append(self))
    sensor = jtop_sensor.probe()
    sensor.close()
    sensor.close()
    assert len(closes) == 1


def test_with_closes_the_jtop_connection(standin, monkeypatch):
    module = standin("4.2.1", [POWER_4_2_TX2])
    closes = []
    monkeypatch.setattr(module.jtop, "close", lambda self: closes.append(self))
    with jtop_sensor.probe() as sensor:
        assert sensor.rails == ["VDD_IN", "VDD_SYS_CPU", "VDD_SYS_GPU"]
    assert len(closes) == 1
