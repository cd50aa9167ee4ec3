"""Power sensors behind one small interface, and the monitor the sweep uses.

One module per sensor (``ina3221``, ``jtop``, ``tegrastats``, ``nvml``, ``rapl``), each with
``NAME``, ``MEASURES`` and ``probe()`` (see ``base.py``). Adding a sensor is its module plus its
name in :data:`AUTO_ORDER`.

"Cannot run here" follows the same convention as ``Backend.probe()``: a sensor module's
``probe()`` returns the opened sensor or raises :class:`edgeprof.errors.SensorError` (an
:class:`edgeprof.errors.Unavailable`) whose message is the one-line reason ``edgeprof info``
shows and ``auto`` collects.

``auto`` takes the first one that works, in :func:`auto_order`: the Jetson's own rail monitors
first (sysfs, then jetson-stats, then tegrastats), then a desktop GPU through NVML, then the
CPU's RAPL counters; a run on the CPU tries RAPL before NVML. The order comes from
:data:`AUTO_ORDER` and each module's ``MEASURES``.

The sweep only talks to a monitor from :func:`open_monitor`:

- ``describe()`` -> the profile's ``power`` section (``status: ok`` with sensor, driver, paths,
  total rail, ``scope``; or ``status: unavailable`` with ``reason``);
- ``catch_up_s`` -> how long the sensor lags a change of load (the warm-up should be longer);
- ``measure_idle(seconds, settle_tolerance, max_seconds)`` -> ``{"idle_w": float, "settle_s": s,
  ...}`` or ``None``;
- ``start_window()`` / ``stop_window(images, idle_w)`` -> the run's ``power`` section or ``None``;
  ``window_extras()`` -> ``{"scope", "achieved_rate_hz", "catch_up_s", "telemetry"}`` of that
  window (telemetry with ``throttled`` and ``throttle_reasons``), or ``None``;
- ``close()`` (safe twice; a monitor is also a context manager).

Both monitors sample the board's telemetry (:mod:`.telemetry`) in their sampler thread, so a run
without a power sensor still says whether it was throttled.
"""
import importlib
import logging

from edgeprof.errors import SensorError, UsageError
from edgeprof.agent.sensors.base import BOARD, CPU, GPU
from edgeprof.agent.sensors.monitor import PowerMonitor, UnavailableMonitor
from edgeprof.agent.sensors.telemetry import Telemetry

__all__ = ["AUTO_ORDER", "PowerMonitor", "UnavailableMonitor", "auto_order", "open_monitor", "probe",
           "sensor_status"]

# Every sensor, one row each, in the order ``auto`` tries them when the run's device says nothing.
AUTO_ORDER = ("ina3221", "jtop", "tegrastats", "nvml", "rapl")

# The part of the machine a backend's device (``Backend.device()``) runs on, as sensors' MEASURES name it.
DEVICE_PARTS = {"cpu": CPU, "cuda": GPU}

log = logging.getLogger("edgeprof")


def _module(name):
    return importlib.import_module("edgeprof.agent.sensors." + name)


def probe(name):
    """Open the sensor ``name`` (one of :data:`AUTO_ORDER`); raises SensorError saying why it cannot."""
    return _module(name).probe()


def measures(name):
    """What the sensor ``name`` measures: its module's ``MEASURES`` (``board``, ``gpu`` or ``cpu``)."""
    return _module(name).MEASURES


def auto_order(device=None):
    """The order ``auto`` tries sensors in for a run on ``device``.

    The board's own monitors first, then the sensors of the part the run uses (a CPU run: RAPL
    before NVML), then the rest; within each group, :data:`AUTO_ORDER`'s order.
    """
    rank = {BOARD: 0, DEVICE_PARTS.get(device): 1}
    return tuple(sorted(AUTO_ORDER, key=lambda name: rank.get(measures(name), 2)))


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
        with sensor:
            rows.append((name, None, sensor.details()))
    return rows


def _telemetry(sensor=None):
    """The board's telemetry (with what ``sensor`` adds), or ``None`` when it cannot be set up."""
    try:
        return Telemetry(sensor.telemetry_files() if sensor is not None else None)
    except Exception as exc:  # noqa: BLE001 - telemetry is a bonus: a strange sysfs must not stop a sweep
        log.debug("telemetry not available: %s", exc)
        return None


def open_monitor(choice="auto", rate_hz=None, device=None, telemetry=True):
    """The power monitor for ``--power choice``.

    Args:
        choice (str): 'auto', 'none' or a sensor name from :data:`AUTO_ORDER`.
        rate_hz (float or None): sampling rate for polled sensors (default: the sensor's, 50 Hz for sysfs).
        device (str or None): the backend's device ('cpu', 'cuda'...); 'cpu' makes ``auto``
            prefer RAPL over NVML.
        telemetry (bool): sample the board's telemetry in the monitor's thread (default True).

    Returns:
        PowerMonitor or UnavailableMonitor. ``auto`` never raises: without a usable sensor it
        returns an UnavailableMonitor whose reason lists why each candidate was not usable.

    Raises:
        UsageError: ``choice`` is not a known sensor.
        SensorError: the sensor named by ``choice`` cannot be used here.
    """
    if choice == "none":
        return UnavailableMonitor("power measurement turned off with --power none",
                                  _telemetry() if telemetry else None)
    if choice != "auto":
        if choice not in AUTO_ORDER:
            raise UsageError("--power %s is not a sensor; use auto, none, or one of %s"
                             % (choice, ", ".join(AUTO_ORDER)))
        sensor, reason = _try(choice)
        if sensor is None:
            raise SensorError("--power %s: %s (try --power auto)" % (choice, reason))
        return PowerMonitor(sensor, rate_hz, chosen_because="asked for with --power %s" % choice,
                            telemetry=_telemetry(sensor) if telemetry else None)
    reasons = []
    for name in auto_order(device):
        sensor, reason = _try(name)
        if sensor is None:
            log.debug("power sensor %s not usable: %s", name, reason)
            reasons.append("%s: %s" % (name, reason))
            continue
        because = "first usable sensor in auto order" + (" (%s)" % "; ".join(reasons) if reasons else "")
        log.info("power: %s, %s", name, because)
        return PowerMonitor(sensor, rate_hz, chosen_because=because,
                            telemetry=_telemetry(sensor) if telemetry else None)
    log.info("power: no sensor usable (%s)", "; ".join(reasons))
    return UnavailableMonitor("no power sensor found: " + "; ".join(reasons), _telemetry() if telemetry else None)
