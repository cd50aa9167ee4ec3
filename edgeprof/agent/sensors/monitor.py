"""The monitor the sweep talks to: idle power, measurement windows, and the profile's power fields.

A :class:`PowerMonitor` samples its sensor (and the board's telemetry, in the same thread) from
open to :meth:`close`. The sweep marks each window with :meth:`start_window` /
:meth:`stop_window`; the run's ``power`` mapping comes from the samples of exactly that window,
and :meth:`window_extras` gives what the window measured beside it (the power ``scope``, the
achieved sampling rate, the in-window telemetry and whether it was throttled). Rails that could
not be read in some samples are listed in ``missing`` with the reason; a bad read never raises.
Both monitors may be closed twice and work as context managers (``with open_monitor(...) as m:``).

Idle (:meth:`PowerMonitor.measure_idle`) is the mean of the last ``seconds`` once power has
settled: the two halves of that trailing window agree within ``settle_tolerance`` (relative), and
the sensor's own averaging (``catch_up_s``) has passed; after ``max_seconds`` the last window is
taken and marked ``settled: false``. The time it took is recorded as ``settle_s``.
"""
import time

from edgeprof.agent import machine
from edgeprof.records.runs import PowerWindow
from edgeprof.util import Closeable
from edgeprof.agent.sensors.base import PowerSensor
from edgeprof.agent.sensors.sampler import Sampler, counter_j, integrate_w, peak_w
from edgeprof.agent.sensors.telemetry import PERIOD_S as TELEMETRY_PERIOD_S

SETTLE_TOLERANCE = 0.05   # idle: the two halves of the trailing window within 5% of each other
SETTLE_FLOOR_W = 0.02     # ... or within 20 mW (an idle rail near zero)
MAX_SETTLE_S = 30.0       # idle: give up waiting for a stable reading after this long
SETTLE_CHECK_S = 0.2
# window_extras() keys that the run's power record carries itself once PowerWindow lists them.
WINDOW_RECORD_FIELDS = ("scope", "achieved_rate_hz")


class _NoPower(PowerSensor):
    """The sampler's sensor where no power sensor works: no rails, so the thread only reads telemetry."""

    name = "none"
    default_rate_hz = 1.0 / TELEMETRY_PERIOD_S

    def __init__(self):
        super(_NoPower, self).__init__([], None, "none", [])


class UnavailableMonitor(Closeable):
    """The monitor when no sensor can be read: every profile says why; telemetry still samples when given."""

    def __init__(self, reason, telemetry=None):
        self.reason = reason
        self.telemetry = telemetry
        self.sampler = None
        self._t0 = None
        self._extras = None
        if telemetry is not None:
            self.sampler = Sampler(_NoPower(), _NoPower.default_rate_hz, telemetry, TELEMETRY_PERIOD_S)
            self.sampler.start()

    catch_up_s = 0.0

    def describe(self):
        return {"status": "unavailable", "reason": self.reason}

    def measure_idle(self, seconds, settle_tolerance=SETTLE_TOLERANCE, max_seconds=MAX_SETTLE_S):
        return None

    def start_window(self):
        self._t0 = time.monotonic()
        if self.sampler is not None:
            self.sampler.forget_before(self._t0)

    def stop_window(self, images, idle_w):
        t1 = time.monotonic()
        t0, self._t0 = self._t0, None
        self._extras = None
        if self.sampler is not None and t0 is not None:
            self._extras = {"scope": None, "telemetry": _telemetry_of(self.sampler, self.telemetry, t0, t1)}
        return None

    def window_extras(self):
        """``{"scope": None, "telemetry": {...}}`` of the last window where telemetry ran, else ``None``."""
        return self._extras

    def close_impl(self):
        if self.sampler is not None:
            self.sampler.stop()


def _round(value, digits):
    """``value`` rounded (``-0.0`` shown as ``0.0``), or ``None``."""
    return None if value is None else round(value, digits) + 0.0


def _measured(series, t0):
    """``series``, or ``[]`` when its last sample is older than ``t0``: a value held over the
    whole window from before it (a sensor that stopped) is not a measurement of the window."""
    return series if series and series[-1][0] >= t0 else []


def _telemetry_of(sampler, telemetry, t0, t1):
    """The telemetry summary of the ticks in ``[t0, t1]`` (the last tick before ``t0`` as the baseline)."""
    if telemetry is None:
        return None
    ticks = sampler.ticks()
    before = [tick for t, tick in ticks if t < t0]
    return telemetry.summarize([(t, tick) for t, tick in ticks if t0 <= t <= t1], before[-1] if before else None)


class PowerMonitor(Closeable):
    """Samples ``sensor`` in a thread and turns windows of samples into power and energy.

    Args:
        sensor (PowerSensor): an opened sensor (from a module's ``probe()``).
        rate_hz (float or None): polling rate; ``None`` takes the sensor's default (50 Hz for
            sysfs). Sensors that push (jtop, tegrastats) deliver at their own pace.
        chosen_because (str or None): why ``auto`` picked this sensor, for the profile.
        telemetry (Telemetry or None): board telemetry read in the sampler's thread.
    """

    def __init__(self, sensor, rate_hz=None, chosen_because=None, telemetry=None):
        self.sensor = sensor
        self.rate_hz = float(sensor.default_rate_hz if sensor.pushes or not rate_hz else rate_hz)
        self.chosen_because = chosen_because
        self.telemetry = telemetry
        self.sampler = Sampler(sensor, self.rate_hz, telemetry, TELEMETRY_PERIOD_S)
        self.sampler.start()
        self._t0 = None
        self._extras = None

    @property
    def catch_up_s(self):
        """How long the sensor's readings lag a change of load (warm up at least this long)."""
        return float(self.sensor.catch_up_s)

    def describe(self):
        """The profile's ``power`` section: sensor, driver, paths, rails, total rail, scope, rates, averaging."""
        described = {"status": "ok"}
        described.update(self.sensor.details())
        described["rate_hz"] = self.rate_hz
        samples = self.sampler.samples()
        if len(samples) > 1 and samples[-1][0] > samples[0][0]:
            described["achieved_rate_hz"] = round((len(samples) - 1) / (samples[-1][0] - samples[0][0]), 2)
        if self.telemetry is not None:
            described["telemetry"] = self.telemetry.describe()
        if self.chosen_because:
            described["chosen_because"] = self.chosen_because
        return described

    def measure_idle(self, seconds, settle_tolerance=SETTLE_TOLERANCE, max_seconds=MAX_SETTLE_S):
        """Wait until power settles, then take the mean of the last ``seconds`` while the caller does nothing.

        Args:
            seconds (float): the idle window (the mean is over its last ``seconds``).
            settle_tolerance (float): the two halves of the window agree within this fraction.
            max_seconds (float): stop waiting after this long (the result says ``settled: false``).

        Returns:
            dict or None: ``{"idle_w", "rails", "samples", "seconds", "settle_s", "settled",
            "settle_tolerance", "catch_up_s", "jetson_clocks", "gpu_railgate", "telemetry"}``;
            ``None`` when ``seconds`` is 0 or the total could not be read.
        """
        if not seconds or seconds <= 0:
            return None
        opened = self._mark()
        deadline = opened + max(float(max_seconds or 0), seconds + self.catch_up_s)
        earliest = opened + seconds + self.catch_up_s
        settled = False
        while True:
            now = time.monotonic()
            if now < earliest:
                time.sleep(min(SETTLE_CHECK_S, earliest - now))
                continue
            settled = self._stable(now - seconds, now, settle_tolerance)
            if settled or now >= deadline:
                break
            time.sleep(SETTLE_CHECK_S)
        summary = self._summarize(now - seconds, now)
        if summary["total_mean_w"] is None:
            return None
        jetson_clocks = machine.jetson_clocks_evidence()
        return {"idle_w": summary["total_mean_w"],
                "rails": {r: v["mean_w"] for r, v in summary["rails"].items()},
                "samples": summary["samples"], "seconds": seconds,
                "settle_s": round(now - seconds - opened, 2), "settled": settled,
                "settle_tolerance": settle_tolerance, "catch_up_s": round(self.catch_up_s, 3),
                "jetson_clocks": machine.jetson_clocks_on(), "gpu_railgate": jetson_clocks["gpu_railgate"],
                "telemetry": _telemetry_of(self.sampler, self.telemetry, now - seconds, now)}

    def _stable(self, t0, t1, tolerance):
        """Whether the two halves of ``[t0, t1]`` have total means within ``tolerance``."""
        middle = (t0 + t1) / 2.0
        first = self._summarize(t0, middle, wait=False)["total_mean_w"]
        second = self._summarize(middle, t1, wait=False)["total_mean_w"]
        if first is None or second is None:
            return False
        return abs(first - second) <= max(tolerance * abs(first + second) / 2.0, SETTLE_FLOOR_W)

    def start_window(self):
        """Mark the start of a measurement window (call right before the timed loop)."""
        self._t0 = self._mark()

    def stop_window(self, images, idle_w):
        """Close the window opened by :meth:`start_window` and summarize it.

        Args:
            images (int): images processed in the window (batch x runs).
            idle_w (float or None): idle total power from :meth:`measure_idle`.

        Returns:
            PowerWindow: the run's ``power`` mapping (see docs/profile-schema.md); ``None`` without a
            window. :meth:`window_extras` has the rest.
        """
        t1 = time.monotonic()
        t0, self._t0 = self._t0, None
        self._extras = None
        if t0 is None:
            return None
        summary = self._summarize(t0, t1)
        energy_j = summary["energy_j"]
        per_image_mj = above_idle_mj = images_per_j = None
        notes = []
        if energy_j is not None and images:
            per_image_mj = energy_j * 1000.0 / images
            if idle_w is not None:
                above_idle_mj = (energy_j - idle_w * (t1 - t0)) * 1000.0 / images
                if above_idle_mj < 0:
                    notes.append("energy above idle is negative: the idle power (%.3f W) is above the window's "
                                 "mean (%.3f W); the idle was not measured in the same state" %
                                 (idle_w, energy_j / (t1 - t0)))
            if energy_j > 0:
                images_per_j = images / energy_j
        self._extras = {"scope": self.sensor.scope,
                        "achieved_rate_hz": round(summary["samples"] / (t1 - t0), 2) if t1 > t0 else None,
                        "catch_up_s": round(self.catch_up_s, 3),
                        "telemetry": _telemetry_of(self.sampler, self.telemetry, t0, t1)}
        if notes:
            self._extras["notes"] = notes
        window = PowerWindow(
            rails=summary["rails"],
            total_mean_w=summary["total_mean_w"],
            total_peak_w=summary["total_peak_w"],
            idle_w=_round(idle_w, 4),
            energy_j=_round(energy_j, 6),
            energy_per_image_mj=_round(per_image_mj, 4),
            energy_per_image_above_idle_mj=_round(above_idle_mj, 4),
            images_per_j=_round(images_per_j, 4),
            missing=summary["missing"],
        )
        # The record's own fields for what the window measured, where records/runs.py has them.
        window.update(dict((k, self._extras[k]) for k in WINDOW_RECORD_FIELDS if k in PowerWindow.__slots__))
        return window

    def window_extras(self):
        """What the last window measured beside its ``power`` mapping, or ``None`` before one.

        ``{"scope", "achieved_rate_hz", "catch_up_s", "telemetry", "notes"?}``: ``telemetry`` is the
        in-window summary (:meth:`Telemetry.summarize`, with ``throttled`` and ``throttle_reasons``)
        or ``None`` without telemetry.
        """
        return self._extras

    def close_impl(self):
        """Stop sampling and close the sensor."""
        try:
            self.sampler.stop()
        finally:
            self.sensor.close()

    def _mark(self):
        """Now, on the sampler's clock; older samples and read problems are dropped."""
        t = time.monotonic()
        self.sampler.forget_before(t)
        self.sensor.problems = {}
        return t

    def _summarize(self, t0, t1, wait=True):
        """Per-rail and total power over ``[t0, t1]`` from the samples around it."""
        if wait:
            self.sampler.wait_past(t1, max(3 * self.sampler.period_s, 0.5))
        samples = self.sampler.samples()
        window_s = t1 - t0
        in_window = [values for t, values in samples if t0 <= t <= t1]
        rails, missing = {}, []
        for rail in self.sensor.rails:
            series = _measured([(t, values[rail]) for t, values in samples if rail in values], t0)
            count = sum(1 for values in in_window if rail in values)
            reason = self.sensor.problems.get(rail, "no reading in the window")
            if count < len(in_window) or not series:
                missing.append("%s: %d of %d samples unreadable (%s)" % (
                    rail, len(in_window) - count, len(in_window), reason))
            elif series[-1][0] < t1:
                missing.append("%s: no reading in the last %.2f s of the window, its last value held (%s)"
                               % (rail, t1 - series[-1][0], reason))
            if series:
                energy_j, peak = self._energy_and_peak(series, t0, t1)
                rails[rail] = {"mean_w": round(energy_j / window_s, 4), "peak_w": _round(peak, 4),
                               "samples": count, "rate_hz": round(count / window_s, 2)}
        total = _measured(self._total_series(samples), t0)
        energy_j = total_peak_w = None
        if total:
            energy_j, total_peak_w = self._energy_and_peak(total, t0, t1)
        elif self.sensor.rails:
            missing.append("total: no sample with %s readable" % (
                self.sensor.total_rail or "every rail (the total is their sum)"))
        return {"rails": rails, "missing": missing, "samples": len(in_window), "energy_j": energy_j,
                "total_mean_w": None if energy_j is None else round(energy_j / window_s, 4),
                "total_peak_w": _round(total_peak_w, 4)}

    def _energy_and_peak(self, series, t0, t1):
        """(J over the window, peak W) of one series of power samples or energy counts."""
        counts = self.sensor.counts_energy
        energy_j = counter_j(series, t0, t1) if counts else integrate_w(series, t0, t1)
        return energy_j, peak_w(series, t0, t1, counts)

    def _total_series(self, samples):
        """``[(t, total)]``: the total rail's samples, or the sum where every rail was read."""
        if self.sensor.total_rail:
            return [(t, v[self.sensor.total_rail]) for t, v in samples if self.sensor.total_rail in v]
        rails = self.sensor.rails
        return [(t, sum(v[r] for r in rails)) for t, v in samples if all(r in v for r in rails)]
