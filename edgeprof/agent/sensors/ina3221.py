"""The Jetson module's INA3221 rail monitors, read straight from sysfs (both driver layouts).

- JetPack 4 and older (L4T 28/32, NVIDIA's iio driver ``ina3221x``,
  ``drivers/staging/iio/meter/ina3221.c`` in ``OE4T/linux-tegra-4.9``):
  ``/sys/bus/i2c/drivers/ina3221x/<bus-addr>/iio:device<K>/`` (``iio_device/`` on L4T 28) with
  ``rail_name_<N>``, ``in_power<N>_input`` (mW), ``in_current<N>_input`` (mA),
  ``in_voltage<N>_input`` (mV). The driver registers ``rail_name_0..2`` unconditionally
  (``IIO_DEVICE_ATTR(rail_name_N, ...)``) and fills them from the device tree's
  ``ti,rail-name``; a channel without one reads ``(null)`` (``snprintf("%s", NULL)``), and is then
  named after the board's documented rails, which ``averaging.rail_names`` says. Each value is
  the chip's average: NVIDIA's continuous configuration ``INA3221_CONT_CONFIG_DATA`` (0x7727) is
  64 samples of 1.1 ms bus and shunt conversions on 3 channels, a new value every 422 ms (the
  device tree's ``ti,continuous-config`` may set another, which sysfs does not show).
- JetPack 5/6 (mainline hwmon driver ``ina3221``, ``torvalds/linux`` and NVIDIA's
  ``OE4T/linux-tegra-5.10`` ``drivers/hwmon/ina3221.c``):
  ``/sys/bus/i2c/drivers/ina3221/<bus-addr>/hwmon/hwmon<K>/`` with ``in<N>_label``,
  ``in<N>_input`` (mV), ``curr<N>_input`` (mA); power = V x I. Channels labelled ``NC`` and
  channel 7 ("sum of shunt voltages", no current) are not rails. ``samples`` and
  ``update_interval`` (ms) give the chip's averaging; the driver starts from
  ``INA3221_CONFIG_DEFAULT`` 0x7127 (1 sample, 1.1 ms conversions: ``update_interval`` =
  channels x 2.2 ms, 7 ms with three channels), so each value is a ~1 ms snapshot. Every
  ``in<N>_input`` and ``curr<N>_input`` read waits for a fresh conversion
  (``ina3221_wait_for_data`` polls CVRF, and reading the Mask/Enable register clears it): one
  sample of R rails blocks for up to 2R x ``update_interval``, so the achieved rate can be far
  below the requested one. The monitor records the achieved rate of every window.

The total-input rail is VDD_IN (TX1, TX2, Xavier NX, Orin NX/Nano) or POM_5V_IN (Nano); AGX
Xavier and AGX Orin have none, so the total is the sum of the module's rails (``total_rail``
is ``None``) and the profile says so.
"""
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

# A rail_name_<N> of a channel whose device-tree node has no ti,rail-name (printed from NULL).
NO_NAME = "(null)"

# Channel names of boards, for channels whose rail_name_<N> is missing or "(null)", from NVIDIA's
# L4T 28 power-management guides: (word in the device-tree model, bus-addr) -> channels 0..2.
# On L4T 28 the TX2's device-tree model is "quill" (Adafruit Blinka's board detector maps
# quill|storm|lightning to the TX2), so both words are listed.
DOCUMENTED_RAILS = {
    ("tx1", "1-0040"): ("VDD_IN", "VDD_GPU", "VDD_CPU"),
    ("tx2", "0-0040"): ("VDD_SYS_GPU", "VDD_SYS_SOC", "VDD_4V0_WIFI"),
    ("tx2", "0-0041"): ("VDD_IN", "VDD_SYS_CPU", "VDD_SYS_DDR"),
    ("quill", "0-0040"): ("VDD_SYS_GPU", "VDD_SYS_SOC", "VDD_4V0_WIFI"),
    ("quill", "0-0041"): ("VDD_IN", "VDD_SYS_CPU", "VDD_SYS_DDR"),
}

# NVIDIA's iio continuous configuration (INA3221_CONT_CONFIG_DATA 0x7727): 64 averages x (1.1 ms bus
# + 1.1 ms shunt) x 3 channels = 422 ms per value.
IIO_ASSUMED_UPDATE_S = 64 * 2 * 1.1e-3 * 3
# A value reflects a change of load in full once two update intervals have passed.
CATCH_UP_INTERVALS = 2

_IIO_POWER_RE = re.compile(r"^in_power(\d+)_input$")
_HWMON_LABEL_RE = re.compile(r"^in(\d+)_label$")


class Channel(object):
    """One rail: its name, the machine paths that give its power, and its alarm/voltage files."""

    def __init__(self, rail, power_mw_path=None, volt_mv_path=None, curr_ma_path=None, alarm_path=None,
                 input_mv_path=None):
        self.rail = rail
        self.power_mw_path = power_mw_path
        self.volt_mv_path = volt_mv_path
        self.curr_ma_path = curr_ma_path
        self.alarm_path = alarm_path          # hwmon curr<N>_crit_alarm (1 while over the critical limit)
        self.input_mv_path = input_mv_path or volt_mv_path  # the rail's bus voltage
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
    return sysroot.listdir(folder)


def _iio_channels(folder, notes):
    """Channels of one ``ina3221x`` iio folder, named by ``rail_name_<N>`` or the board's documentation."""
    numbers = sorted(int(m.group(1)) for m in (_IIO_POWER_RE.match(f) for f in _entries(folder)) if m)
    bus_addr = _bus_addr(folder)
    documented = None
    channels = []
    for n in numbers:
        rail = sysroot.read_text("%s/rail_name_%d" % (folder, n))
        if rail == NO_NAME:
            rail = None
            notes.add("%s/rail_name_%d reads (null): the device tree gives that channel no ti,rail-name"
                      % (folder, n))
        if not rail:
            documented = documented or _documented_names(bus_addr)
            if documented and n < len(documented):
                rail = documented[n]
                notes.add("%s has no rail_name_N files: channels named after the board's documented rails"
                          % folder)
            else:
                rail = "CH%d@%s" % (n, bus_addr)
                notes.add("%s has no rail names and edgeprof does not know this board's rails" % folder)
        channels.append(Channel(rail, power_mw_path="%s/in_power%d_input" % (folder, n),
                                input_mv_path="%s/in_voltage%d_input" % (folder, n)))
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
        alarm = "%s/curr%d_crit_alarm" % (folder, n)
        channels.append(Channel(label, volt_mv_path="%s/in%d_input" % (folder, n), curr_ma_path=curr,
                                alarm_path=alarm if sysroot.exists(alarm) else None))
    return channels


def _hwmon_averaging(folders):
    """``{folder: {"samples": n, "update_interval_ms": ms}}`` where the hwmon driver shows them.

    ``update_interval`` is what the driver computes from its configuration register
    (``ina3221_reg_to_interval_us``: channels x (bus + shunt conversion time) x samples, rounded
    to ms), so it is the chip's real cadence, not a request.
    """
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
        averaging = {"note": "the ina3221x iio driver does not show its averaging; the device tree sets it "
                             "(NVIDIA's default 0x7727: 64 samples, a value every 422 ms)",
                     "assumed_update_interval_ms": round(IIO_ASSUMED_UPDATE_S * 1000, 1)}
        modes = {f: sysroot.read_number(f + "/running_mode") for f in iio}
        modes = {f: m for f, m in modes.items() if m is not None}
        if modes:
            averaging["running_mode"] = modes  # 1 continuous, 0 triggered (one conversion per read)
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


def catch_up_of(driver, averaging):
    """Seconds a reading lags a change of load: two of the chip's update intervals."""
    if driver == "ina3221x":
        return CATCH_UP_INTERVALS * IIO_ASSUMED_UPDATE_S
    intervals = [entry.get("update_interval_ms") for entry in (averaging or {}).values()
                 if isinstance(entry, dict) and entry.get("update_interval_ms")]
    return CATCH_UP_INTERVALS * max(intervals) / 1000.0 if intervals else 0.0


class Ina3221Sensor(PowerSensor):
    """Polls every INA3221 channel's sysfs files; values in W."""

    name = NAME
    default_rate_hz = 50.0

    def __init__(self, driver, channels, averaging):
        rails = [c.rail for c in channels]
        paths = [p for c in channels for p in c.machine_paths()]
        super(Ina3221Sensor, self).__init__(rails, total_rail_of(rails), driver, paths, averaging)
        self.channels = channels
        self.catch_up_s = catch_up_of(driver, averaging)

    def telemetry_files(self):
        """The critical-current alarm of each rail (hwmon) and the input rail's voltage, for telemetry."""
        files = {"alarm:" + c.rail: (c.alarm_path, 1) for c in self.channels if c.alarm_path}
        for channel in self.channels:
            if channel.rail == self.total_rail and channel.input_mv_path:
                files["input_mv"] = (channel.input_mv_path, 1)
        return files

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
