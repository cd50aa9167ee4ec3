"""Power sensors behind one small interface, and the monitor the sweep uses.

The sweep only talks to a monitor from :func:`open_monitor`:

- ``describe()`` -> the profile's ``power`` section (``status: ok`` with sensor, driver, paths,
  total rail; or ``status: unavailable`` with ``reason``);
- ``measure_idle(seconds)`` -> ``{"idle_w": float, ...}`` or ``None``;
- ``start_window()`` / ``stop_window(images, idle_w)`` -> the run's ``power`` section or ``None``;
- ``close()``.
"""


class UnavailableMonitor(object):
    """The monitor when no sensor can be read: every profile says why."""

    def __init__(self, reason):
        self.reason = reason

    def describe(self):
        return {"status": "unavailable", "reason": self.reason}

    def measure_idle(self, seconds):
        return None

    def start_window(self):
        pass

    def stop_window(self, images, idle_w):
        return None

    def close(self):
        pass


def sensor_status():
    """``[(name, reason_or_None, details)]`` for every sensor kind edgeprof knows."""
    return []


def open_monitor(choice="auto", rate_hz=None):
    """The power monitor for ``--power choice`` ('auto', 'none' or a sensor name)."""
    if choice == "none":
        return UnavailableMonitor("power measurement turned off with --power none")
    return UnavailableMonitor("no power sensor support in this build of edgeprof")
