"""Rail power parsed from ``tegrastats`` lines: the last resort on a Jetson.

Formats (the first number is the reading at that moment, the next the running average):

- L4T 28/32: ``... VDD_IN 3056/3056 VDD_SYS_GPU 152/152 ...`` (mW, no unit);
- JetPack 5 and 6: ``MM-DD-YYYY HH:MM:SS RAM ... VDD_IN 4556mW/4556mW ...`` (a timestamp prefix,
  two values);
- JetPack 7.2 (L4T R39.2): ``VDD_GPU_SOC 5139mW/5139mW/5139mW`` (a third value), as in jetson-stats'
  test line "from a Jetson AGX Orin Developer Kit running JetPack 7.2" (``jtop/tests/test_06_tegra_parse.py``).

The binary is ``/usr/bin/tegrastats``; on L4T 28 it lives in ``/home/nvidia`` (jetson-stats 3.1.4
``jtop/service.py``: ``PATH_TEGRASTATS = ['/usr/bin/tegrastats', '/home/nvidia/tegrastats']``).
edgeprof starts ``tegrastats --interval 100`` itself and reads its lines as they come; each line is
stamped when it arrives (tegrastats prints the INA3221 reading of that moment).
"""
import os
import re
import select
import subprocess
import time

from edgeprof.agent import board, sysroot
from edgeprof.errors import SensorError
from edgeprof.agent.sensors.base import BOARD, PowerSensor
from edgeprof.agent.sensors.ina3221 import NOT_RAILS, total_rail_of

NAME = "tegrastats"
MEASURES = BOARD
BINARY = "/usr/bin/tegrastats"
BINARIES = (BINARY, "/home/nvidia/tegrastats")
INTERVAL_MS = 100
FIRST_LINE_TIMEOUT_S = 5.0

_DATE_RE = re.compile(r"^\s*\d+-\d+-\d+ \d+:\d+:\d+ ")
_NUMBER = r"(\d+(?:\.\d+)?)(?:mW)?"
_RAIL_RE = re.compile(r"(?:^|\s)([A-Za-z][A-Za-z0-9_]*) " + _NUMBER + "/" + _NUMBER + "(?:/" + _NUMBER + r")?(?=\s|$)")


def parse_line(line):
    """Rail readings of one tegrastats line.

    Args:
        line (str): one line of tegrastats output, any L4T release.

    Returns:
        dict: rail name -> current power in W (empty when the line has no rails).
    """
    line = _DATE_RE.sub("", line)
    rails = {}
    for match in _RAIL_RE.finditer(line):
        name = match.group(1)
        if name not in NOT_RAILS:
            rails[name] = float(match.group(2)) / 1000.0
    return rails


class LineReader(object):
    """Complete lines from a child process's stdout, waiting at most a given time for each."""

    def __init__(self, process):
        self.process = process
        self.exit_status = None
        self._buffer = b""

    def next_line(self, timeout_s):
        """The next line, or ``None`` after ``timeout_s`` or once the child has exited."""
        while b"\n" not in self._buffer:
            if self.process is None:
                return None
            ready, _, _ = select.select([self.process.stdout], [], [], timeout_s)
            if not ready:
                return None
            chunk = os.read(self.process.stdout.fileno(), 4096)
            if not chunk:
                self.exit_status = self.process.poll()
                self.close()
                return None
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line.decode("utf-8", "replace")

    def close(self):
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=2)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        process.stdout.close()


class TegrastatsSensor(PowerSensor):
    """Lines pushed by a ``tegrastats`` child process; values in W."""

    name = NAME
    pushes = True

    def __init__(self, reader, command, rails):
        super(TegrastatsSensor, self).__init__(
            sorted(rails), total_rail_of(rails), "tegrastats", [" ".join(command)],
            {"interval_ms": INTERVAL_MS,
             "note": "tegrastats prints the INA3221 reading of each interval; no averaging of its own"})
        self.default_rate_hz = 1000.0 / INTERVAL_MS
        self.catch_up_s = 2 * INTERVAL_MS / 1000.0
        self._reader = reader

    def wait_read(self, timeout_s):
        line = self._reader.next_line(timeout_s)
        if line is None:
            if self._reader.process is None:
                for rail in self.rails:
                    self.note_problem(rail, "tegrastats exited (status %s)" % self._reader.exit_status)
                time.sleep(timeout_s)  # next_line returns at once from now on: do not spin the sampler
            return None
        rails = parse_line(line)
        for rail in self.rails:
            if rail not in rails:
                self.note_problem(rail, "tegrastats line without this rail: %r" % line[:80])
        return rails

    def close_impl(self):
        self._reader.close()


def probe():
    """A running :class:`TegrastatsSensor` on a Jetson, or SensorError saying why not."""
    if not board.is_jetson():
        raise SensorError("not a Jetson (no /etc/nv_tegra_release, no Jetson device-tree model)")
    found = [b for b in BINARIES if os.access(sysroot.path(b), os.X_OK)]
    if not found:
        raise SensorError("%s not found or not executable" % " or ".join(BINARIES))
    name, binary = found[0], sysroot.path(found[0])
    interval = ["--interval", str(INTERVAL_MS)]
    try:
        process = subprocess.Popen([binary] + interval, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    except OSError as exc:
        raise SensorError("could not start %s: %s" % (name, exc.strerror or exc))
    reader = LineReader(process)
    line = reader.next_line(FIRST_LINE_TIMEOUT_S)
    rails = parse_line(line) if line else {}
    if not rails:
        reader.close()
        raise SensorError("%s printed no power rails within %.0f s" % (name, FIRST_LINE_TIMEOUT_S))
    return TegrastatsSensor(reader, [name] + interval, rails)
