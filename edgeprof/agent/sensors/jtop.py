"""Rail power through jetson-stats (``jtop``) when its service runs: a fallback to the sysfs rails.

``jtop.power`` has had three meanings (rbonghi/jetson_stats, tags 3.1.4, 4.0.0, 4.1.5, 4.2.0):

- 3.x and 4.0 (``jtop/service.py`` ``_total_power``, 3.1.4 l.379-426, 4.0.0 l.390-446): a
  ``(total, rails)`` tuple of ``{"cur": mW, "avg": mW}``. The rails are renamed first (``VDD_``,
  ``POM_`` and, from 4.0, ``VDDQ_`` removed, ``_`` -> space; 4.0 also drops ``NC``), then the
  **first rail whose name contains "IN"** is taken out and returned as the total; without one
  the total is the sum. So on a TX2, Xavier NX or Orin NX the total is VDD_IN ("IN"), on a Nano
  POM_5V_IN ("5V IN"), but on an AGX Orin it is ``VIN SYS 5V0`` alone, one rail of four
  (jetson_stats issue #344: "The 'ALL' value seems to be the VIN_SYS_5V0 value"). edgeprof puts
  that rail back and sums the four, as the board's total is.
- 4.1.x (4.1.5 l.512-558): the same tuple, but only ``POM_5V_IN`` is taken out (Nano); every
  other board's total is the sum of every rail, VDD_IN included (a double count on a TX2), and
  the rails are renamed after. edgeprof takes ``IN`` as the total where it is present.
- 4.2 and later (``jtop/core/power.py`` ``total_power``): ``{"rail": {NAME: {...}}, "tot": {...}}``;
  ``tot`` has a ``name`` (VDD_IN or POM_5V_IN, taken out of ``rail``) or is the sum of ``rail``.
  From 4.2.0 ``rail`` also holds the ``/sys/class/power_supply`` entries (``find_all_system_monitor``:
  USB-C/UCSI supplies, named after the folder without ``ucsi-source-psy-``, with a ``status``
  field no INA3221 rail has), whose power is the negotiated USB-PD figure, not a measurement
  (PR #900 removes them). edgeprof drops them and sums the INA3221 rails itself.

Staleness: jtop's client waits ``interval x TIMEOUT_GAIN (3)`` for the service and then copies
the unchanged data and signals a new reading anyway (``jtop/jtop.py`` ``_get_data``), so one
service reading can arrive several times. From 4.2 the data carries the service's ``uptime``
(read by the service with the reading); a reading whose uptime is not newer than the last is not
a new sample. Before 4.2 ``uptime`` is read by the client, so a reading whose power and CPU
figures (both from the same tegrastats line, service side) are unchanged is taken as a repeat.
A reading is stamped when it arrives.

Any failure to connect (``JtopException``: service down, version mismatch) becomes a
:class:`edgeprof.errors.SensorError`, so ``auto`` falls back to the next sensor. One missed
``interval x 3`` wait (an engine build stalling the service) makes ``ok()`` return False and
ends the client for good (``jtop.ok`` sets ``_running = False``, and the reader thread's ``while
self._running`` loop exits; 3.1.4 and 4.2.0 alike), so the sensor opens a new client instead and
gives up only after :data:`MAX_MISSES` failures in a row.
"""
import logging
import re
import time

from edgeprof.agent import sysroot
from edgeprof.errors import SensorError
from edgeprof.agent.sensors.base import BOARD, PowerSensor
from edgeprof.util import one_line

NAME = "jtop"
MEASURES = BOARD

log = logging.getLogger("edgeprof")

# The interval edgeprof asks the jtop service for (s); the service may run slower (handle.interval).
REQUESTED_INTERVAL_S = 0.5
MAX_MISSES = 3                       # consecutive failed reconnections before the sensor gives up
POWER_SUPPLY = "/sys/class/power_supply"
UCSI_PREFIX = "ucsi-source-psy-"     # jetson-stats 4.2 find_all_system_monitor strips it from the name
# jtop <= 4.1 names, after its renaming: the input rails, and the rails only an AGX Orin has.
LEGACY_INPUTS = {"IN": "VDD_IN", "5V IN": "POM_5V_IN"}
LEGACY_AGX_ORIN = ("GPU SOC", "CPU CV")
LEGACY_AGX_ORIN_TOTAL = "VIN SYS 5V0"
LEGACY_INPUT_RAIL = "POM_5V_IN"      # what a 4.1 total is when it is not the sum (Nano)

_VERSION_RE = re.compile(r"^(\d+)\.(\d+)")


def version_tuple(version):
    """``(major, minor)`` of a jetson-stats version string, or ``None`` (``"unknown"``)."""
    match = _VERSION_RE.match(str(version or ""))
    return (int(match.group(1)), int(match.group(2))) if match else None


def power_supply_names():
    """The names jetson-stats >= 4.2 gives ``/sys/class/power_supply`` entries (never INA3221 rails)."""
    return set(entry.replace(UCSI_PREFIX, "") for entry in sysroot.listdir(POWER_SUPPLY))


def _is_supply(name, value, supplies):
    kind = value.get("type")
    return name in supplies or "status" in value or (kind is not None and kind != "INA3221")


def _rails_4_2(power, supplies):
    rails, dropped = {}, []
    for name, value in power["rail"].items():
        if _is_supply(name, value, supplies):
            dropped.append(name)
        elif value.get("online", True) and "power" in value:
            rails[name] = value["power"] / 1000.0
    total = power.get("tot") or {}
    total_rail = total.get("name")
    if total_rail and "power" in total:
        rails[total_rail] = total["power"] / 1000.0
    return rails, total_rail or None, dropped


def _legacy_sum_matches(total_w, rails):
    return abs(total_w - sum(rails.values())) <= 0.001 * max(len(rails), 1) + 1e-9


def _rails_legacy(power, version):
    total, rail_values = power
    rails = {name: value["cur"] / 1000.0 for name, value in rail_values.items() if name != "NC"}
    total_w = total.get("cur", 0) / 1000.0
    if version is not None and version < (4, 1):
        if _legacy_sum_matches(total_w, rails):
            return rails, None
        if any(name in rails for name in LEGACY_AGX_ORIN):   # jtop took VIN SYS 5V0 out as its "total"
            rails[LEGACY_AGX_ORIN_TOTAL] = total_w
            return rails, None
        name = LEGACY_INPUTS["5V IN"] if any(n.startswith("5V ") for n in rails) else LEGACY_INPUTS["IN"]
        rails[name] = total_w
        return rails, name
    if "IN" in rails:                                        # 4.1: the sum counts IN twice; IN is the total
        return rails, "IN"
    if not _legacy_sum_matches(total_w, rails):
        rails[LEGACY_INPUT_RAIL] = total_w
        return rails, LEGACY_INPUT_RAIL
    return rails, None


def rails_w(power, version=None, supplies=None):
    """Convert one ``jtop.power`` value to ``({rail: W}, total_rail or None, shape, dropped)``.

    Args:
        power: ``jetson.power`` as jetson-stats returns it.
        version (tuple or None): ``(major, minor)`` of jetson-stats (:func:`version_tuple`); a
            tuple-shaped value of an unknown version is read with 4.1's rules.
        supplies (set or None): power-supply names to drop (default: read from the machine).

    Returns:
        tuple: (dict of rail -> watts, the total-input rail or ``None`` when the total is the sum
        of the rails, ``"4.2+"``, ``"4.1"`` or ``"3.x-4.0"``, the names dropped as power supplies).
    """
    if isinstance(power, dict) and "rail" in power:
        rails, total_rail, dropped = _rails_4_2(power, power_supply_names() if supplies is None else supplies)
        return rails, total_rail, "4.2+", dropped
    rails, total_rail = _rails_legacy(power, version)
    shape = "3.x-4.0" if version is not None and version < (4, 1) else "4.1"
    return rails, total_rail, shape, []


class JtopSensor(PowerSensor):
    """Readings pushed by the jtop service at its interval; values in W."""

    name = NAME
    pushes = True

    def __init__(self, handle, version, first_power, factory=None):
        self._version = version_tuple(version)
        self._factory = factory
        self._supplies = power_supply_names()
        rails, total_rail, shape, dropped = rails_w(first_power, self._version, self._supplies)
        interval_s = float(getattr(handle, "interval", REQUESTED_INTERVAL_S) or REQUESTED_INTERVAL_S)
        averaging = {"service_interval_s": interval_s,
                     "note": "jtop reads the INA3221 once per service interval; no averaging of its own"}
        if dropped:
            averaging["dropped_power_supplies"] = sorted(dropped)
        super(JtopSensor, self).__init__(
            sorted(rails), total_rail, "jetson-stats %s" % version,
            ["jtop service (jtop.power, %s format)" % shape], averaging)
        self.default_rate_hz = 1.0 / interval_s
        self.catch_up_s = 2 * interval_s
        self._handle = handle
        self._broken = None
        self._misses = 0
        self._last = None

    def _stamp(self, power):
        """What identifies one service reading: the service's uptime (4.2+), else its power and CPU figures."""
        if self._version is not None and self._version >= (4, 2):
            try:
                return ("uptime", self._handle.uptime)
            except Exception:  # noqa: BLE001 - an older or odd handle: fall back to the values
                pass
        try:
            cpu = self._handle.cpu
        except Exception:  # noqa: BLE001 - no cpu figures: the power value alone
            cpu = None
        return ("values", repr(power), repr(cpu))

    def wait_read(self, timeout_s):
        if self._broken:
            time.sleep(timeout_s)
            return None
        try:
            alive = self._handle.ok()
        except Exception as exc:  # noqa: BLE001 - JtopException or a dropped connection: record it, go on
            self._broken = "jtop: %s" % one_line(exc)
            alive = False
        if not alive and not self._broken:
            self._misses += 1
            if self._misses <= MAX_MISSES and self._reconnect():
                return None
            if self._misses >= MAX_MISSES:
                self._broken = "the jtop service stopped sending data (%d reconnections failed)" % self._misses
            else:
                return None
        if self._broken:
            for rail in self.rails:
                self.note_problem(rail, self._broken)
            return None
        self._misses = 0
        power = self._handle.power
        stamp = self._stamp(power)
        if stamp == self._last:
            return None   # the client copied the same service reading again: not a new sample
        self._last = stamp
        rails, _, _, _ = rails_w(power, self._version, self._supplies)
        for rail in self.rails:
            if rail not in rails:
                self.note_problem(rail, "jtop stopped reporting it")
        return rails

    def _reconnect(self):
        """A new client after ``ok()`` ended the old one; False when the service does not answer."""
        if self._factory is None:
            return False
        _close_quietly(self._handle)
        handle = self._factory(interval=REQUESTED_INTERVAL_S)
        try:
            handle.start()
        except Exception as exc:  # noqa: BLE001 - JtopException: the service is still down
            log.debug("jtop reconnect: %s", one_line(exc))
            _close_quietly(handle)
            return False
        self._handle = handle
        log.info("jtop: the service stalled; reconnected")
        return True

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
        if not power or not rails_w(power, version_tuple(version))[0]:
            raise SensorError("jtop %s reports no power rails on this board" % version)
        return JtopSensor(handle, version, power, factory=jtop)
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
