"""Board telemetry sampled inside the measurement window, in the power sampler's own thread.

What one tick reads (each file once, with ``os.open``/``os.read`` on host paths found when the
monitor opens, so a tick costs what a sensor read costs; see :mod:`edgeprof.agent.machine` for
where each path comes from): the GPU's load (per mille), clock and clock ceiling; each CPU
cluster's clock (the hardware's ``cpuinfo_cur_freq`` where readable, else ``scaling_cur_freq``),
floor and ceiling; the EMC clock (debugfs, root only); every thermal zone; ``MemAvailable``;
Orin's over-current counters; the fan; and what the power sensor adds (INA3221 critical-current
alarms, the input rail's voltage).

:meth:`Telemetry.summarize` turns the ticks of a window into the run's ``telemetry`` mapping and
decides whether the window was throttled: a clock fell below the value it was pinned at (min ==
max when the window opened), a clock ceiling was lowered, a zone reached its passive trip point,
an over-current counter moved, or an INA3221 critical alarm was raised. DVFS moving an unpinned
clock is not throttling.
"""
import os

from edgeprof.agent import machine, sysroot
from edgeprof.agent.sensors.base import SensorReadError, read_sysfs_number

PERIOD_S = 0.1            # one tick every 100 ms (the power sampler reads its sensor at 50 Hz)
DROP_FRACTION = 0.95      # a clock below this fraction of its pinned value (or ceiling) has dropped
MEMINFO = "/proc/meminfo"


def _stats(values, *names):
    values = [v for v in values if v is not None]
    if not values:
        return None
    out = {}
    for name in names:
        out[name] = round({"mean": sum(values) / len(values), "min": min(values), "max": max(values)}[name], 1)
    return out


def read_meminfo(host_path):
    """``(MemTotal, MemAvailable)`` in bytes from the first lines of /proc/meminfo; ``(None, None)``."""
    try:
        fd = os.open(host_path, os.O_RDONLY)
        try:
            text = os.read(fd, 512).decode("ascii", "replace")
        finally:
            os.close(fd)
    except OSError:
        return None, None
    found = {}
    for line in text.splitlines():
        name, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            found[name] = int(parts[0]) * 1024
    return found.get("MemTotal"), found.get("MemAvailable")


class Telemetry(object):
    """The files of one board's telemetry, and the arithmetic over their ticks.

    Args:
        extra (dict or None): ``{key: (machine path, scale)}`` the power sensor adds
            (``sensor.telemetry_files()``): keys ``alarm:<rail>`` (INA3221 critical alarm flags)
            and ``input_mv`` (the input rail's voltage).
    """

    def __init__(self, extra=None):
        self.files = []        # (key, machine path, host path, scale)
        self.trips = {}        # zone key -> passive trip C
        self.cpu_source = None
        gpu = machine.gpu_devfreq()
        if gpu:
            for key, name, scale in (("gpu_load_pct", "/device/load", 0.1), ("gpu_mhz", "/cur_freq", 1e-6),
                                     ("gpu_min_mhz", "/min_freq", 1e-6), ("gpu_max_mhz", "/max_freq", 1e-6)):
                self._add(key, gpu + name, scale)
        self._add_cpus()
        rate, _ = machine.emc_path()
        if rate:
            self._add("emc_mhz", rate, 1e-6)
        for name, zone in sorted(machine.thermal_zones().items()):
            self._add("temp_c:" + name, zone["zone"] + "/temp", 1e-3)
            if zone["passive_trip_c"] is not None:
                self.trips[name] = zone["passive_trip_c"]
        for key, (count, _) in sorted(machine.oc_files().items()):
            self._add("oc:" + key, count, 1)
        fan = machine.fan_files()
        if fan.get("pwm"):
            self._add("fan_pwm_pct", fan["pwm"][0], 100.0 / machine.FAN_PWM_CAP)
        if fan.get("rpm"):
            self._add("fan_rpm", fan["rpm"][0], 1)
        for key, (machine_path, scale) in sorted((extra or {}).items()):
            self._add(key, machine_path, scale)
        sysroot.note(MEMINFO)
        self.meminfo = sysroot.path(MEMINFO) if read_meminfo(sysroot.path(MEMINFO))[0] else None

    def _add(self, key, machine_path, scale):
        """Keep a file that reads now (one that cannot is left out, not retried every tick)."""
        host = sysroot.path(machine_path)
        sysroot.note(machine_path)
        try:
            read_sysfs_number(host)
        except SensorReadError:
            return False
        self.files.append((key, machine_path, host, scale))
        return True

    def _add_cpus(self):
        policies = sysroot.glob_paths(machine.CPU_POLICY_GLOB) or sysroot.glob_paths(machine.CPU_FREQ_GLOB)
        for folder in policies:
            name = os.path.basename(folder) if "policy" in folder else folder.split("/")[-2]
            if self._add("cpu_mhz:" + name, folder + "/cpuinfo_cur_freq", 1e-3):
                self.cpu_source = "cpuinfo_cur_freq"
            elif self._add("cpu_mhz:" + name, folder + "/scaling_cur_freq", 1e-3):
                self.cpu_source = self.cpu_source or "scaling_cur_freq"
            self._add("cpu_min_mhz:" + name, folder + "/scaling_min_freq", 1e-3)
            self._add("cpu_max_mhz:" + name, folder + "/scaling_max_freq", 1e-3)

    def describe(self):
        """What the profile's ``power`` section says about telemetry: its period and files."""
        paths = [p for _, p, _, _ in self.files] + ([MEMINFO] if self.meminfo else [])
        return {"period_s": PERIOD_S, "cpu_clock_source": self.cpu_source, "files": paths}

    def read(self):
        """One tick: ``{key: value}`` of every file that read (and ``mem_total``/``mem_available``)."""
        tick = {}
        for key, _, host, scale in self.files:
            try:
                tick[key] = read_sysfs_number(host) * scale
            except SensorReadError:
                continue
        if self.meminfo:
            total, available = read_meminfo(self.meminfo)
            if available is not None:
                tick["mem_total"], tick["mem_available"] = total, available
        return tick

    def summarize(self, ticks, before=None):
        """The window's ``telemetry`` mapping from its ticks (``[(t, tick)]``, in time order).

        Args:
            ticks (list): the ticks inside the window.
            before (dict or None): the last tick before the window (the baseline of counters).

        Returns:
            dict or None: ``None`` without ticks.
        """
        if not ticks:
            return None
        series = [tick for _, tick in ticks]
        first = before or series[0]

        def column(key):
            return [tick.get(key) for tick in series]

        out = {"samples": len(series)}
        span = ticks[-1][0] - ticks[0][0]
        if span > 0:
            out["rate_hz"] = round((len(series) - 1) / span, 2)
        for key, names in (("gpu_load_pct", ("mean", "max")), ("gpu_mhz", ("mean", "min", "max")),
                           ("emc_mhz", ("mean", "min")), ("fan_pwm_pct", ("mean",)), ("fan_rpm", ("mean",)),
                           ("input_mv", ("min",))):
            stats = _stats(column(key), *names)
            if stats:
                out[key] = stats
        clusters = sorted(k[len("cpu_mhz:"):] for k in first if k.startswith("cpu_mhz:"))
        fastest = [max([t["cpu_mhz:" + c] for c in clusters if "cpu_mhz:" + c in t] or [None]) for t in series]
        stats = _stats([v for v in fastest if v is not None], "mean", "min")
        if stats:
            out["cpu_mhz"] = stats
        temps = {k[len("temp_c:"):]: max(v for v in column(k) if v is not None)
                 for k in sorted(first) if k.startswith("temp_c:") and any(v is not None for v in column(k))}
        if temps:
            out["temps_peak_c"] = {k: round(v, 1) for k, v in temps.items()}
        available = [v for v in column("mem_available") if v is not None]
        if available:
            out["memory_available_min_bytes"] = min(available)
            total = next(t["mem_total"] for t in series if t.get("mem_total"))
            out["system_used_max_bytes"] = total - min(available)
        events = {}
        for key in sorted(k for k in first if k.startswith("oc:")):
            last = [v for v in column(key) if v is not None]
            if last:
                events[key[3:]] = int(last[-1] - first[key])
        if events:
            out["oc_events"] = events
        alarms = {k[len("alarm:"):]: sum(1 for v in column(k) if v) for k in sorted(first) if k.startswith("alarm:")}
        if alarms:
            out["ina_crit_alarm_ticks"] = alarms
        reasons = self._throttle_reasons(series, first, out)
        out["throttled"] = bool(reasons)
        out["throttle_reasons"] = reasons
        return out

    def _throttle_reasons(self, series, first, out):
        reasons = []
        pinned = [("GPU", "gpu_mhz", "gpu_min_mhz", "gpu_max_mhz")]
        pinned += [("CPU %s" % k[len("cpu_mhz:"):], k, "cpu_min_mhz:" + k[len("cpu_mhz:"):],
                    "cpu_max_mhz:" + k[len("cpu_mhz:"):]) for k in sorted(first) if k.startswith("cpu_mhz:")]
        for what, cur, low, top in pinned:
            clocks = [t[cur] for t in series if cur in t]
            ceiling = [t[top] for t in series if top in t]
            if ceiling and top in first and min(ceiling) < first[top] * DROP_FRACTION:
                reasons.append("%s clock ceiling lowered from %.1f to %.1f MHz during the window"
                               % (what, first[top], min(ceiling)))
            if (clocks and low in first and top in first and first[low] == first[top]
                    and min(clocks) < first[top] * DROP_FRACTION):
                reasons.append("%s clock fell below its pinned %.1f MHz to %.1f MHz during the window"
                               % (what, first[top], min(clocks)))
        for zone, peak in sorted((out.get("temps_peak_c") or {}).items()):
            trip = self.trips.get(zone)
            if trip is not None and peak >= trip:
                reasons.append("%s reached %.1f C during the window, at or above its passive trip point %.1f C"
                               % (zone, peak, trip))
        what = dict(machine.OC_EVENTS)
        for key, count in sorted((out.get("oc_events") or {}).items()):
            if count > 0:
                reasons.append("%s %s events: %d during the window" % (key, what.get(key, ""), count))
        for rail, ticks in sorted((out.get("ina_crit_alarm_ticks") or {}).items()):
            if ticks:
                reasons.append("INA3221 critical-current alarm on %s in %d telemetry samples" % (rail, ticks))
        return reasons
