"""CPU package (and DRAM where present) energy from the Linux powercap RAPL zones.

``/sys/class/powercap/intel-rapl:<P>`` (``name`` = ``package-<P>``) and its sub-zone
``intel-rapl:<P>:<k>`` named ``dram`` hold ``energy_uj``, a counter in uJ that wraps at
``max_energy_range_uj``; edgeprof undoes the wrap. ``core`` and ``uncore`` sub-zones are
inside the package and ``psys`` overlaps it, so they are not added. The total is the sum of
packages and DRAM. AMD processors show the same zones (intel_rapl driver, Zen and later).

Since the fix for CVE-2020-8694 ``energy_uj`` is readable by root only. The fix is in Linux 5.10
and was backported to the stable and distribution kernels of that time (a "5.4" kernel can be
root-only too), so edgeprof goes by the permission it meets, not the version; the reason then
says how to grant read access.
"""
import re

from edgeprof.agent import sysroot
from edgeprof.errors import SensorError
from edgeprof.agent.sensors.base import CPU, PowerSensor, SensorReadError, read_sysfs_number

NAME = "rapl"
MEASURES = CPU
ZONE_PATTERN = "/sys/class/powercap/intel-rapl:*"
PERMISSION_FIX = ("run edgeprof as root, or grant read access until reboot with "
                  "'sudo chmod a+r /sys/class/powercap/intel-rapl:*/energy_uj'")

_ZONE_RE = re.compile(r"intel-rapl:(\d+)(?::(\d+))?$")


class Counter(object):
    """One zone's ``energy_uj``, unwrapped into joules since edgeprof first read it."""

    def __init__(self, rail, zone):
        self.rail = rail
        self.path = zone + "/energy_uj"
        self._host = sysroot.path(self.path)
        self.range_uj = sysroot.read_number(zone + "/max_energy_range_uj")
        self._last_uj = None
        self._wrapped_uj = 0.0

    def read_j(self):
        """Cumulative energy in J (never decreases). Raises SensorReadError naming the file."""
        try:
            raw_uj = read_sysfs_number(self._host)
        except SensorReadError as exc:
            raise SensorReadError("%s: %s" % (self.path, exc))
        if self._last_uj is not None and raw_uj < self._last_uj and self.range_uj:
            self._wrapped_uj += self.range_uj
        self._last_uj = raw_uj
        return (self._wrapped_uj + raw_uj) / 1e6


def discover():
    """Counters of the package and DRAM zones: ``[Counter]`` (empty when there is no RAPL)."""
    counters = []
    for zone in sysroot.glob_paths(ZONE_PATTERN):
        match = _ZONE_RE.search(zone)
        name = sysroot.read_text(zone + "/name") or ""
        if not match:
            continue
        if match.group(2) is None and name.startswith("package"):
            counters.append(Counter(name, zone))
        elif match.group(2) is not None and name == "dram":
            counters.append(Counter("dram-%s" % match.group(1), zone))
    return counters


class RaplSensor(PowerSensor):
    """Cumulative energy counters; values in J."""

    name = NAME
    counts_energy = True
    default_rate_hz = 50.0

    scope = "cpu_package"

    def __init__(self, counters):
        super(RaplSensor, self).__init__(
            [c.rail for c in counters], None, "intel_rapl (powercap)", [c.path for c in counters],
            {"note": "RAPL counters update about every 1 ms; package energy includes cores, uncore "
                     "and integrated graphics, not the rest of the machine"})
        self.channels = counters

    def read_channel(self, counter):
        return counter.read_j()


def probe():
    """A :class:`RaplSensor` whose counters read now, or SensorError saying why not."""
    counters = discover()
    if not counters:
        raise SensorError("no RAPL package zone under /sys/class/powercap (not an x86 CPU with RAPL, "
                          "or the intel_rapl driver is not loaded)")
    sensor = RaplSensor(counters)
    sensor.read()
    denied = [reason for reason in sensor.problems.values() if "permission denied" in reason]
    if denied:
        raise SensorError("%s (root-only since the CVE-2020-8694 fix, Linux 5.10 and backports): %s"
                          % (denied[0], PERMISSION_FIX))
    if sensor.problems:
        raise SensorError("RAPL counters unreadable: %s" % min(sensor.problems.values()))
    return sensor
