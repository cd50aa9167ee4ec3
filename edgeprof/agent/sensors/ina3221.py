"""The Jetson module's INA3221 rail monitors, read straight from sysfs (both driver layouts).

- JetPack 4 and older (L4T 28/32, iio driver ``ina3221x``):
  ``/sys/bus/i2c/drivers/ina3221x/<bus-addr>/iio:device<K>/`` (``iio_device/`` on L4T 28) with
  ``rail_name_<N>``, ``in_power<N>_input`` (mW), ``in_current<N>_input`` (mA),
  ``in_voltage<N>_input`` (mV). L4T 28 TX1 trees may lack ``rail_name_<N>``: the channels are
  then named after the board's documented rails, and ``averaging`` says so.
- JetPack 5/6 (mainline hwmon driver ``ina3221``):
  ``/sys/bus/i2c/drivers/ina3221/<bus-addr>/hwmon/hwmon<K>/`` with ``in<N>_label``,
  ``in<N>_input`` (mV), ``curr<N>_input`` (mA); power = V x I. Channels labelled ``NC`` and
  channel 7 ("sum of shunt voltages", no current) are not rails. ``samples`` and
  ``update_interval`` (ms) give the chip's averaging.

The total-input rail is VDD_IN (TX1, TX2, Xavier NX, Orin NX/Nano) or POM_5V_IN (Nano); AGX
Xavier and AGX Orin have none, so the total is the sum of the module's rails (``total_rail``
is ``None``) and the profile says so.
"""
import os
import re

from edgeprof.agent import board, sysroot
from edgeprof.errors import SensorError
from edgeprof.agent.sensors.base import BOARD, PowerSensor, SensorReadError, read_sysfs_number

NAME = "ina3221"
MEASURES = BOARD

IIO_PATTERNS = ("/sys/bus/i2c/drivers/ina3221x/*/iio:device*",
                "/sys/bus/i2c/drivers/ina3221x/*/iio_device")
HWMON_PATTERN = "/sys/bus/i2c/drivers/ina3221/*/hwmon/hwmon*"

# Rails that carry the module's whole input, in order of preference.
TOTAL_RAIL_NAMES = ("VDD_IN", "POM_5V_IN")

# hwmon labels that are not rails: unconnected inputs, and the shunt-sum channel (in7).
NOT_RAILS = ("NC", "sum of shunt voltages")

# Channel names of boards whose L4T 28 trees have no rail_name_<N> files, from NVIDIA's
# L4T 28 power-management guides: (word in the device-tree model, bus-addr) -> channels 0..2.
DOCUMENTED_RAILS = {
    ("tx1", "1-0040"): ("VDD_IN", "VDD_GPU", "VDD_CPU"),
    ("tx2", "0-0040"): ("VDD_SYS_GPU", "VDD_SYS_SOC", "VDD_4V0_WIFI"),
    ("tx2", "0-0041"): ("VDD_IN", "VDD_SYS_CPU", "VDD_SYS_DDR"),
}

_IIO_POWER_RE = re.compile(r"^in_power(\d+)_input$")
_HWMON_LABEL_RE = re.compile(r"^in(\d+)_label$")


class Channel(object):
    """One rail: its name and the machine paths that give its power."""

    def __init__(self, rail, power_mw_path=None, volt_mv_path=None, curr_ma_path=None):
        self.rail = rail
        self.power_mw_path = power_mw_path
        self.volt_mv_path = volt_mv_path
        self.curr_ma_path = curr_ma_path
        self._host = [sysroot.path(p) for p in (power_mw_path, volt_mv_path, curr_ma_path) if p]

    def read_w(self):
        """The rail's power in W. Raises SensorReadError naming the file that failed."""
        if self.power_mw_path:
            return self._number(0) / 1000.0
        return self._number(0) * self._number(1) / 1e6

    def _number(self, index):
        try:
            return read_sysfs_number(self._host[index])
        except SensorReadError as exc:
            machine = (self.power_mw_path,) if self.power_mw_path else (self.volt_mv_path, self.curr_ma_path)
            raise SensorReadError("%s: %s" % (machine[index], exc))

    def machine_paths(self):
        return [p for p in (self.power_mw_path, self.volt_mv_path, self.curr_ma_path) if p]


def _bus_addr(folder):
    """``0-0041`` from ``/sys/bus/i2c/drivers/ina3221x/0-0041/iio:device1``."""
    parts = folder.split("/")
    return parts[6] if len(parts) > 6 else folder


def _documented_names(bus_addr):
    model = (board.device_tree_model() or "").lower()
    for (word, addr), names in DOCUMENTED_RAILS.items():
        if word in model and addr == bus_addr:
            return names
    return None


def _entries(folder):
    """File names in a machine folder (empty when it cannot be listed)."""
    try:
        return sorted(os.listdir(sysroot.path(folder)))
    except OSError:
        return []


def _iio_channels(folder, notes):
    """Channels of one ``ina3221x`` iio folder, named by ``rail_name_<N>`` or the board's documentation."""
    numbers = sorted(int(m.group(1)) for m in (_IIO_POWER_RE.match(f) for f in _entries(folder)) if m)
    bus_addr = _bus_addr(folder)
    documented = None
    channels = []
    for n in numbers:
        rail = sysroot.read_text("%s/rail_name_%d" % (folder, n))
        if not rail:
            documented = documented or _documented_names(bus_addr)
            if documented and n < len(documented):
                rail = documented[n]
                notes.add("%s has no rail_name_N files: channels named after the board's documented rails"
                          % folder)
            else:
                rail = "CH%d@%s" % (n, bus_addr)
                notes.add("%s has no rail names and edgeprof does not know this board's rails" % folder)
        channels.append(Channel(rail, power_mw_path="%s/in_power%d_input" % (folder, n)))
    return channels


def _hwmon_channels(folder):
    """Channels of one mainline ``ina3221`` hwmon folder (labelled inputs with a current)."""
    channels = []
    for entry in _entries(folder):
        match = _HWMON_LABEL_RE.match(entry)
        if not match:
            continue
        n = int(match.group(1))
        label = sysroot.read_text("%s/%s" % (folder, entry))
        curr = "%s/curr%d_input" % (folder, n)
        if not label or label in NOT_RAILS or not sysroot.exists(curr):
            continue
        channels.append(Channel(label, volt_mv_path="%s/in%d_input" % (folder, n), curr_ma_path=curr))
    return channels


def _hwmon_averaging(folders):
    """``{folder: {"samples": n, "update_interval_ms": ms}}`` where the hwmon driver shows them."""
    averaging = {}
    for folder in folders:
        entry = {}
        samples = sysroot.read_number(folder + "/samples")
        interval_ms = sysroot.read_number(folder + "/update_interval")
        if samples is not None:
            entry["samples"] = samples
        if interval_ms is not None:
            entry["update_interval_ms"] = interval_ms
        if entry:
            averaging[folder] = entry
    return averaging


def _unique(channels):
    """Rail names made unique across chips (a repeated name gets its bus address appended)."""
    seen = {}
    for channel in channels:
        seen[channel.rail] = seen.get(channel.rail, 0) + 1
    for channel in channels:
        if seen[channel.rail] > 1:
            channel.rail = "%s@%s" % (channel.rail, _bus_addr(channel.machine_paths()[0]))
    return channels


def discover():
    """Find the INA3221 channels under the machine root.

    Returns:
        tuple: (driver, channels, averaging) with driver ``ina3221x`` or ``ina3221``.

    Raises:
        SensorError: no INA3221 folder, or folders without rails.
    """
    iio = [f for pattern in IIO_PATTERNS for f in sysroot.glob_paths(pattern)]
    hwmon = sysroot.glob_paths(HWMON_PATTERN)
    if not iio and not hwmon:
        raise SensorError("no INA3221 rail monitor under /sys/bus/i2c/drivers/ina3221x or "
                          "/sys/bus/i2c/drivers/ina3221 (not a Jetson module, or the driver is not loaded)")
    channels = []
    notes = set()
    if iio:
        driver = "ina3221x"
        for folder in iio:
            channels.extend(_iio_channels(folder, notes))
        averaging = {"note": "the ina3221x iio driver does not show its averaging; the device tree sets it"}
    else:
        driver = "ina3221"
        for folder in hwmon:
            channels.extend(_hwmon_channels(folder))
        averaging = _hwmon_averaging(hwmon) or None
    if notes:
        averaging = dict(averaging or {}, rail_names=sorted(notes))
    if not channels:
        raise SensorError("INA3221 folders found (%s) but no rail channels in them" % ", ".join(iio or hwmon))
    return driver, _unique(channels), averaging


def total_rail_of(rails):
    """The total-input rail among ``rails``, or ``None`` when the board has none (sum of rails)."""
    for name in TOTAL_RAIL_NAMES:
        if name in rails:
            return name
    return None


class Ina3221Sensor(PowerSensor):
    """Polls every INA3221 channel's sysfs files; values in W."""

    name = NAME
    default_rate_hz = 50.0

    def __init__(self, driver, channels, averaging):
        rails = [c.rail for c in channels]
        paths = [p for c in channels for p in c.machine_paths()]
        super(Ina3221Sensor, self).__init__(rails, total_rail_of(rails), driver, paths, averaging)
        self.channels = channels

    def read_channel(self, channel):
        return channel.read_w()


def probe():
    """An :class:`Ina3221Sensor` whose rails read now, or SensorError saying why not."""
    driver, channels, averaging = discover()
    sensor = Ina3221Sensor(driver, channels, averaging)
    if not sensor.read():
        first = min(sensor.problems.items())
        raise SensorError("INA3221 rails found but none can be read (%s: %s); run as a user who can "
                          "read them, or check the driver" % first)
    sensor.problems = {}
    return sensor
