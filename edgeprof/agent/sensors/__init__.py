"""Power sensors behind one small interface, and the monitor the sweep uses.

One module per sensor (``ina3221``, ``jtop``, ``tegrastats``, ``nvml``, ``rapl``), each with
``NAME`` and ``probe()`` (see ``base.py``). ``auto`` takes the first one that works, in
:data:`AUTO_ORDER`: the Jetson's own rail monitors first (sysfs, then jetson-stats, then
tegrastats), then a desktop GPU through NVML, then the CPU's RAPL counters.

The sweep only talks to a monitor from :func:`open_monitor`:

- ``describe()`` -> the profile's ``power`` section (``status: ok`` with sensor, driver, paths,
  total rail; or ``status: unavailable`` with ``reason``);
- ``measure_idle(seconds)`` -> ``{"idle_w": float, ...}`` or ``None``;
- ``start_window()`` / ``stop_window(images, idle_w)`` -> the run's ``power`` section or ``None``;
- ``close()``.
"""
import importlib
import logging

from edgeprof.errors import SensorError, UsageError
from edgeprof.agent.sensors.monitor import PowerMonitor, UnavailableMonitor

__all__ = ["AUTO_ORDER", "PowerMonitor", "UnavailableMonitor", "open_monitor", "probe", "sensor_status"]

AUTO_ORDER = ("ina3221", "jtop", "tegrastats", "nvml", "rapl")

log = logging.getLogger("edgeprof")


def probe(name):
    """Open the sensor ``name`` (one of :data:`AUTO_ORDER`); raises SensorError saying why it cannot."""
    return importlib.import_module("edgeprof.agent.sensors." + name).probe()


def auto_order(device=None):
    """The order ``auto`` tries sensors in; a CPU run prefers RAPL to a GPU's NVML."""
    if device == "cpu":
        return ("ina3221", "jtop", "tegrastats", "rapl", "nvml")
    return AUTO_ORDER


def _try(name):
    """``(sensor, None)`` or ``(None, reason)``; never raises (a sensor bug becomes a reason)."""
    try:
        return probe(name), None
    except SensorError as exc:
        return None, str(exc)
    except Exception as exc:  # noqa: BLE001 - an unexpected sysfs or library state must not stop a sweep
        return None, "unexpected %s: %s" % (type(exc).__name__, exc)


def sensor_status():
    """``[(name, reason_or_None, details)]`` for every sensor kind, for ``edgeprof info``.

    ``details`` (when found) names the driver, paths, rails and the total rail.
    """
    rows = []
    for name in AUTO_ORDER:
        sensor, reason = _try(name)
        if sensor is None:
            rows.append((name, reason, {}))
            continue
        try:
            rows.append((name, None, sensor.details()))
        finally:
            sensor.close()
    return rows


def open_monitor(choice="auto", rate_hz=None, device=None):
    """The power monitor for ``--power choice``.

    Args:
        choice (str): 'auto', 'none' or a sensor name from :data:`AUTO_ORDER`.
        rate_hz (float or None): sampling rate for polled sensors (default: the sensor's, 50 Hz for sysfs).
        device (str or None): the backend's device ('cpu', 'cuda'...); 'cpu' makes ``auto``
            prefer RAPL over NVML.

    Returns:
        PowerMonitor or UnavailableMonitor. ``auto`` never raises: without a usable sensor it
        returns an UnavailableMonitor whose reason lists why each candidate was not usable.

    Raises:
        UsageError: ``choice`` is not a known sensor.
        SensorError: the sensor named by ``choice`` cannot be used here.
    """
    if choice == "none":
        return UnavailableMonitor("power measurement turned off with --power none")
    if choice != "auto":
        if choice not in AUTO_ORDER:
            raise UsageError("--power %s is not a sensor; use auto, none, or one of %s"
                             % (choice, ", ".join(AUTO_ORDER)))
        sensor, reason = _try(choice)
        if sensor is None:
            raise SensorError("--power %s: %s (try --power auto)" % (choice, reason))
        return PowerMonitor(sensor, rate_hz, chosen_because="asked for with --power %s" % choice)
    reasons = []
    for name in auto_order(device):
        sensor, reason = _try(name)
        if sensor is None:
            log.debug("power sensor %s not usable: %s", name, reason)
            reasons.append("%s: %s" % (name, reason))
            continue
        because = "first usable sensor in auto order" + (" (%s)" % "; ".join(reasons) if reasons else "")
        log.info("power: %s, %s", name, because)
        return PowerMonitor(sensor, rate_hz, chosen_because=because)
    log.info("power: no sensor usable (%s)", "; ".join(reasons))
    return UnavailableMonitor("no power sensor found: " + "; ".join(reasons))
