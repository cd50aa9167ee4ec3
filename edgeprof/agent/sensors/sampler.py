"""A thread that reads one sensor at a set rate, and the window arithmetic over its samples.

Samples are ``(t, {rail: value})`` with ``t`` from ``time.monotonic()``. A polled sensor's sample
is stamped at the middle of its read; a pushed reading (jtop, tegrastats) at its arrival: the
source measured it when it sent it, and the wait before it says nothing about when that was. A
window ``[t0, t1]`` is marked by the caller with the same clock, so the energy covers exactly the
window: power samples are integrated with the trapezoid rule, the values at ``t0`` and ``t1``
interpolated linearly from the samples either side (held flat past the first or last sample);
energy counters are interpolated at ``t0`` and ``t1`` and subtracted.

Polling is jittered: each period is drawn uniformly from ``[1 - JITTER, 1 + JITTER]`` times the
nominal one (the mean rate is unchanged), so a sensor that returns an instantaneous snapshot (the
hwmon INA3221 at its reset configuration, 1 sample per conversion) is not read in lockstep with a
periodic inference loop, which would bias the mean.

The same thread reads the board's telemetry (:mod:`edgeprof.agent.sensors.telemetry`) every
``telemetry.PERIOD_S``, after a sensor read: the timed loop gets no extra work.

The thread does as little as it can: one ``read()`` (a few small sysfs files), one append.
"""
import logging
import random
import threading
import time

log = logging.getLogger("edgeprof")
JITTER = 0.2   # +-20% of the polling period


class Sampler(object):
    """Reads ``sensor`` in a daemon thread from :meth:`start` to :meth:`stop`.

    Args:
        sensor (PowerSensor): polled at ``rate_hz``, or waited on when ``sensor.pushes``.
        rate_hz (float): polling rate for polled sensors.
        telemetry (Telemetry or None): read every ``telemetry_period_s`` in the same thread.
    """

    def __init__(self, sensor, rate_hz, telemetry=None, telemetry_period_s=0.1):
        self.sensor = sensor
        self.period_s = 1.0 / rate_hz
        self.telemetry = telemetry
        self.telemetry_period_s = telemetry_period_s
        self._next_tick = 0.0
        self._ticks = []
        self._random = random.Random()
        self._samples = []
        self._changed = threading.Condition()
        self._stop = threading.Event()
        self._thread = None

    def start(self):
        self.sensor.start()
        self._thread = threading.Thread(target=self._run, name="edgeprof-power-sampler")
        self._thread.daemon = True
        self._thread.start()

    def stop(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0 + self.period_s)
            self._thread = None

    def _run(self):
        if self.sensor.pushes:
            timeout = max(self.period_s * 3, 0.5)
            if self.telemetry is not None:
                timeout = min(timeout, self.telemetry_period_s)
            while not self._stop.is_set():
                self._take(lambda: self.sensor.wait_read(timeout), pushed=True)
                self._tick()
            return
        next_t = time.monotonic()
        while not self._stop.is_set():
            self._take(self.sensor.read)
            self._tick()
            next_t += self.period_s * self._random.uniform(1.0 - JITTER, 1.0 + JITTER)
            delay = next_t - time.monotonic()
            if delay < 0:
                next_t = time.monotonic()
                delay = 0
            self._stop.wait(delay)

    def _take(self, read, pushed=False):
        before = time.monotonic()
        try:
            values = read()
        except Exception as exc:  # noqa: BLE001 - a sensor bug must not kill the sweep: record it, go on
            for rail in self.sensor.rails:
                self.sensor.note_problem(rail, "read failed: %s" % exc)
            values = {}
            self._stop.wait(self.period_s)
        if values is None:
            return
        after = time.monotonic()
        stamp = after if pushed else (before + after) / 2.0
        with self._changed:
            self._samples.append((stamp, values))
            self._changed.notify_all()

    def _tick(self):
        """Read the telemetry when its period is due (never more often, whatever the sensor's rate)."""
        if self.telemetry is None:
            return
        now = time.monotonic()
        if now < self._next_tick:
            return
        self._next_tick = now + self.telemetry_period_s
        try:
            tick = self.telemetry.read()
        except Exception as exc:  # noqa: BLE001 - telemetry is a bonus: it never stops power sampling
            log.debug("telemetry read failed: %s", exc)
            return
        stamp = (now + time.monotonic()) / 2.0
        with self._changed:
            self._ticks.append((stamp, tick))

    def forget_before(self, t):
        """Drop samples older than ``t``, keeping the last one before it (for interpolation)."""
        with self._changed:
            for held in (self._samples, self._ticks):
                keep_from = 0
                for i, (stamp, _) in enumerate(held):
                    if stamp < t:
                        keep_from = i
                    else:
                        break
                del held[:keep_from]

    def wait_past(self, t, timeout_s):
        """Wait until a sample stamped after ``t`` exists (at most ``timeout_s``)."""
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while not (self._samples and self._samples[-1][0] >= t):
                left = deadline - time.monotonic()
                if left <= 0 or self._thread is None:
                    return False
                self._changed.wait(left)
        return True

    def samples(self):
        """A copy of the samples held now."""
        with self._changed:
            return list(self._samples)

    def ticks(self):
        """A copy of the telemetry ticks held now: ``[(t, {key: value})]``."""
        with self._changed:
            return list(self._ticks)


def value_at(series, t):
    """The value of ``series`` (sorted ``[(t, v)]``) at ``t``: linear between samples, flat outside."""
    if t <= series[0][0]:
        return series[0][1]
    for (ta, va), (tb, vb) in zip(series, series[1:]):  # noqa: RUF007 (pairwise needs Python 3.10)
        if ta <= t <= tb:
            return va if tb == ta else va + (vb - va) * (t - ta) / (tb - ta)
    return series[-1][1]


def integrate_w(series, t0, t1):
    """Energy in J of a power series ``[(t, W)]`` over ``[t0, t1]`` (trapezoid); ``None`` when empty."""
    if not series:
        return None
    points = [(t0, value_at(series, t0))]
    points.extend(p for p in series if t0 < p[0] < t1)
    points.append((t1, value_at(series, t1)))
    return sum((tb - ta) * (va + vb) / 2.0 for (ta, va), (tb, vb) in zip(points, points[1:]))  # noqa: RUF007


def counter_j(series, t0, t1):
    """Energy in J of a cumulative counter series ``[(t, J)]`` over ``[t0, t1]``; ``None`` when empty."""
    if not series:
        return None
    return value_at(series, t1) - value_at(series, t0)


def peak_w(series, t0, t1, counts_energy):
    """Highest power in the window: the largest sample (power) or interval rate (counter)."""
    inside = [p for p in series if t0 <= p[0] <= t1]
    if not counts_energy:
        values = [v for _, v in inside] or [value_at(series, t0), value_at(series, t1)]
        return max(values)
    points = [(t0, value_at(series, t0))] + [p for p in inside if t0 < p[0] < t1] + [(t1, value_at(series, t1))]
    rates = [(vb - va) / (tb - ta) for (ta, va), (tb, vb) in zip(points, points[1:]) if tb > ta]  # noqa: RUF007
    return max(rates) if rates else None
