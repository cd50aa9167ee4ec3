"""The small interface every power sensor fills in, and the sysfs number reader they share.

A sensor module defines ``NAME``, ``MEASURES`` and ``probe()``:

- ``probe()`` returns a ready :class:`PowerSensor` or raises :class:`edgeprof.errors.SensorError`
  with one line saying why the sensor cannot be used here (that line is what ``edgeprof info``
  and the profile show);
- ``MEASURES`` says what its readings cover: :data:`BOARD` (the module's input and its rails),
  :data:`GPU` or :data:`CPU`. ``auto`` tries the board's own monitors first, then those of the
  part the run uses (``edgeprof.agent.sensors.auto_order``).

Two kinds of readings (after Zeus' split between power and energy sources):

- power sensors (INA3221, jtop, tegrastats, NVML power) return ``{rail: watts}``;
- energy counters (NVML total energy, RAPL) set ``counts_energy`` and return
  ``{rail: joules}``, a cumulative count that never goes down (wraparound already undone).

Polled sensors are read by the sampler at its own rate; sensors with ``pushes = True``
(jtop, tegrastats) deliver values at their source's pace through :meth:`PowerSensor.wait_read`.
A polled sensor lists its ``channels`` (each with a ``rail``) and reads one in
:meth:`PowerSensor.read_channel`; the default :meth:`PowerSensor.read` loops over them. A rail
that cannot be read in one sample is left out of that sample's dict and its first reason is
kept in ``problems``: a bad read never raises out of ``read``.

Every sensor says what its total measures (:attr:`PowerSensor.scope`, one of :data:`SCOPES`) and
how long a change of load takes to show in its readings (:attr:`PowerSensor.catch_up_s`: the
averaging of the chip or the service behind it), so that the sweep can warm up long enough and
a reader never compares energies of different scopes.

A sensor, like a backend's session, is closed once and best effort (:meth:`PowerSensor.close`
over ``close_impl``) and works as a context manager.
"""
import errno
import os

from edgeprof.util import Closeable


# What a sensor module's MEASURES says its readings cover.
BOARD = "board"  # the module's (or machine's) input and its rails: INA3221, jtop, tegrastats
GPU = "gpu"      # a GPU's own power or energy: NVML
CPU = "cpu"      # the CPU package (and DRAM): RAPL

# What a power record's total measures (its ``scope``): energies of different scopes are not comparable.
MODULE_INPUT = "module_input"   # the module's input rail (VDD_IN, POM_5V_IN): the whole module
SUM_OF_RAILS = "sum_of_rails"   # the sum of the monitored rails (AGX Xavier, AGX Orin): less than the module
GPU_BOARD = "gpu_board"         # a discrete GPU board's own power (NVML)
CPU_PACKAGE = "cpu_package"     # the CPU package and, where shown, DRAM (RAPL)
SCOPES = (MODULE_INPUT, SUM_OF_RAILS, GPU_BOARD, CPU_PACKAGE)


class SensorReadError(Exception):
    """One sysfs value could not be read; the message is the reason (missing, empty, ...)."""


def read_sysfs_number(host_path):
    """Read one number from a sysfs file at a host path (already mapped under the root).

    Uses ``os.open``/``os.read`` (no Python file object): the sampler calls this for every rail
    at every sample, and this is about twice as cheap as ``open()``.

    Args:
        host_path (str): the file, e.g. ``<root>/sys/.../in_power0_input``.

    Returns:
        float: the value as written by the driver (units are the caller's to know).

    Raises:
        SensorReadError: missing file, permission denied, empty or non-numeric content.
    """
    try:
        fd = os.open(host_path, os.O_RDONLY)
        try:
            text = os.read(fd, 64).decode("ascii", "replace").strip()
        finally:
            os.close(fd)
    except OSError as exc:
        if exc.errno in (errno.EACCES, errno.EPERM):
            raise SensorReadError("permission denied")
        if exc.errno == errno.ENOENT:
            raise SensorReadError("file vanished")
        raise SensorReadError(exc.strerror or str(exc))
    if not text:
        raise SensorReadError("empty file")
    try:
        return float(text.split()[0])
    except ValueError:
        raise SensorReadError("not a number: %r" % text[:20])


class PowerSensor(Closeable):
    """A source of per-rail power (or energy) readings.

    Attributes:
        name (str): what ``--power`` takes ('ina3221', 'jtop', ...).
        rails (list of str): rail names as the board names them.
        total_rail (str or None): the rail that measures the module's whole input
            (VDD_IN, POM_5V_IN), or ``None`` when the total is the sum of ``rails``.
        driver (str): the kernel driver or library read (``ina3221x``, ``jetson-stats 4.2.1``...).
        paths (list of str): machine paths (or the library/command) read, for the profile.
        averaging (dict or None): the sensor's own averaging / update interval where it shows it.
        problems (dict): rail -> first reason a read of that rail failed.
        channels (list): what the default :meth:`read` reads, one :meth:`read_channel` each; every
            channel has a ``rail`` attribute (empty for sensors that push or override ``read``).
        catch_up_s (float): how long after a change of load the readings show it in full (the
            averaging behind each value); 0 for energy counters.
    """

    name = None
    pushes = False
    counts_energy = False
    default_rate_hz = 50.0
    channels = ()
    catch_up_s = 0.0

    def __init__(self, rails, total_rail, driver, paths, averaging=None):
        self.rails = list(rails)
        self.total_rail = total_rail
        self.driver = driver
        self.paths = list(paths)
        self.averaging = averaging
        self.problems = {}

    @property
    def total_is_sum(self):
        return self.total_rail is None

    @property
    def scope(self):
        """What the total measures (:data:`SCOPES`): the module's input rail, or the sum of the rails."""
        return SUM_OF_RAILS if self.total_is_sum else MODULE_INPUT

    def telemetry_files(self):
        """``{key: (machine path, scale)}`` the sensor adds to the window's telemetry (none by default)."""
        return {}

    def note_problem(self, rail, reason):
        """Keep the first reason a rail could not be read (later ones are usually the same)."""
        if rail not in self.problems:
            self.problems[rail] = reason

    def start(self):
        """Begin producing readings (spawn a process, open a connection). Default: nothing to do."""

    def read(self):
        """One reading of every channel that can be read now: ``{rail: watts}`` (or joules).

        A channel whose :meth:`read_channel` raises :class:`SensorReadError` is left out, and the
        error's message kept as its rail's reason (:meth:`note_problem`).
        """
        values = {}
        for channel in self.channels:
            try:
                values[channel.rail] = self.read_channel(channel)
            except SensorReadError as exc:
                self.note_problem(channel.rail, str(exc))
        return values

    def read_channel(self, channel):
        """The value of one of :attr:`channels` now; raises :class:`SensorReadError` with the reason."""
        raise NotImplementedError

    def wait_read(self, timeout_s):
        """For ``pushes`` sensors: block until the next reading arrives, or ``None`` after ``timeout_s``."""
        raise NotImplementedError

    def details(self):
        """What ``edgeprof info`` shows and the profile's ``power`` section records."""
        return {
            "sensor": self.name,
            "driver": self.driver,
            "paths": self.paths,
            "rails": self.rails,
            "total_rail": self.total_rail,
            "total_is_sum": self.total_is_sum,
            "scope": self.scope,
            "averaging": self.averaging,
            "catch_up_s": round(self.catch_up_s, 3),
            "method": "energy counter" if self.counts_energy else "power samples, trapezoid",
        }

    def closing_label(self):
        return "the %s power sensor" % self.name

    def close_impl(self):
        """Release the process, connection or library the sensor holds (called once by :meth:`close`)."""
