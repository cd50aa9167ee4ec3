"""Rail power through jetson-stats (``jtop``) when its service runs.

jtop's ``power`` property comes in two shapes:

- jetson-stats 4.2 and later: ``{"rail": {NAME: {"power": mW, "online": bool, ...}},
  "tot": {"power": mW, "name": "VDD_IN"}}``; ``tot`` has a ``name`` when it is the board's
  input rail (taken out of ``rail``), and is the sum of the rails otherwise;
- jetson-stats 3.x to 4.1: a ``(total, rails)`` tuple with ``{"cur": mW, "avg": mW}`` values,
  rails renamed without their ``VDD_``/``POM_`` prefixes (``VDD_IN`` -> ``IN``). Its total is
  POM_5V_IN on a Nano (taken out of the rails) and the sum of every rail elsewhere, which
  counts VDD_IN twice on a TX2; edgeprof takes ``IN`` as the total rail where it is present.

Any failure to connect (``JtopException``: service down, version mismatch) becomes a
:class:`edgeprof.errors.SensorError`, so ``auto`` falls back to the next sensor.
"""
import logging
import time

from edgeprof.errors import SensorError
from edgeprof.agent.sensors.base import BOARD, PowerSensor
from edgeprof.util import one_line

NAME = "jtop"
MEASURES = BOARD

log = logging.getLogger("edgeprof")

# The interval edgeprof asks the jtop service for (s); the service may run slower.
REQUESTED_INTERVAL_S = 0.1

LEGACY_TOTAL_RAIL = "IN"        # VDD_IN as jetson-stats <= 4.1 names it
LEGACY_INPUT_RAIL = "POM_5V_IN"  # what a <= 4.1 total is when it is not the sum (Nano)


def rails_w(power):
    """Convert one ``jtop.power`` value (either shape) to ``({rail: W}, total_rail or None, shape)``.

    Args:
        power: ``jetson.power`` as jetson-stats returns it.

    Returns:
        tuple: (dict of rail -> watts, the total-input rail name or ``None`` when the total is
        the sum of the rails, ``"4.2+"`` or ``"3.x-4.1"``).
    """
    if isinstance(power, dict) and "rail" in power:
        rails = {name: value["power"] / 1000.0 for name, value in power["rail"].items()
                     if value.get("online", True) and "power" in value}
        total = power.get("tot") or {}
        total_rail = total.get("name")
        if total_rail and "power" in total:
            rails[total_rail] = total["power"] / 1000.0
        return rails, total_rail or None, "4.2+"
    total, rail_values = power
    rails = {name: value["cur"] / 1000.0 for name, value in rail_values.items()}
    if LEGACY_TOTAL_RAIL in rails:
        return rails, LEGACY_TOTAL_RAIL, "3.x-4.1"
    total_w = total.get("cur", 0) / 1000.0
    if abs(total_w - sum(rails.values())) > 0.002:
        rails[LEGACY_INPUT_RAIL] = total_w
        return rails, LEGACY_INPUT_RAIL, "3.x-4.1"
    return rails, None, "3.x-4.1"


class JtopSensor(PowerSensor):
    """Readings pushed by the jtop service at its interval; values in W."""

    name = NAME
    pushes = True

    def __init__(self, handle, version, first_power):
        rails, total_rail, shape = rails_w(first_power)
        interval_s = float(getattr(handle, "interval", REQUESTED_INTERVAL_S) or REQUESTED_INTERVAL_S)
        super(JtopSensor, self).__init__(
            sorted(rails), total_rail, "jetson-stats %s" % version,
            ["jtop service (jtop.power, %s format)" % shape],
            {"service_interval_s": interval_s,
             "note": "jtop reads the INA3221 once per service interval; no averaging of its own"})
        self.default_rate_hz = 1.0 / interval_s
        self._handle = handle
        self._broken = None

    def wait_read(self, timeout_s):
        if self._broken:
            time.sleep(timeout_s)
            return None
        try:
            if not self._handle.ok():
                self._broken = "the jtop service stopped sending data"
        except Exception as exc:  # noqa: BLE001 - JtopException or a dropped connection: record it, go on
            self._broken = "jtop: %s" % one_line(exc)
        if self._broken:
            for rail in self.rails:
                self.note_problem(rail, self._broken)
            return None
        rails, _, _ = rails_w(self._handle.power)
        for rail in self.rails:
            if rail not in rails:
                self.note_problem(rail, "jtop stopped reporting it")
        return rails

    def close_impl(self):
        _close_quietly(self._handle)


def probe():
    """A :class:`JtopSensor` connected to the running jtop service, or SensorError saying why not."""
    try:
        import jtop as jtop_module
        from jtop import jtop
    except ImportError:
        raise SensorError("jetson-stats is not installed (sudo pip3 install jetson-stats, then reboot "
                          "or start jtop.service)")
    version = getattr(jtop_module, "__version__", "unknown")
    handle = jtop(interval=REQUESTED_INTERVAL_S)
    try:
        handle.start()
        if not handle.ok():
            raise SensorError("the jtop service answered but sent no data; check "
                              "'systemctl status jtop.service'")
        power = handle.power
        if not power or not rails_w(power)[0]:
            raise SensorError("jtop %s reports no power rails on this board" % version)
        return JtopSensor(handle, version, power)
    except SensorError:
        _close_quietly(handle)
        raise
    except Exception as exc:  # noqa: BLE001 - JtopException: service down, version mismatch, no permission
        _close_quietly(handle)
        raise SensorError("jtop %s not usable: %s" % (version, one_line(exc)))


def _close_quietly(handle):
    """Close a jtop handle that may never have connected; a failure there is only logged."""
    try:
        handle.close()
    except Exception as exc:  # noqa: BLE001 - nothing more to release either way
        log.debug("jtop close: %s", one_line(exc))
