"""The monitor the sweep talks to: idle power, measurement windows, and the profile's power fields.

A :class:`PowerMonitor` samples its sensor from open to :meth:`close`. The sweep marks each
window with :meth:`start_window` / :meth:`stop_window`; the run's ``power`` mapping comes from
the samples of exactly that window. Rails that could not be read in some samples are listed
in ``missing`` with the reason; a bad read never raises. Both monitors may be closed twice and
work as context managers (``with open_monitor(...) as monitor:``).
"""
import time

from edgeprof.records.runs import PowerWindow
from edgeprof.util import Closeable
from edgeprof.agent.sensors.sampler import Sampler, counter_j, integrate_w, peak_w


class UnavailableMonitor(Closeable):
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


def _round(value, digits):
    """``value`` rounded (``-0.0`` shown as ``0.0``), or ``None``."""
    return None if value is None else round(value, digits) + 0.0


def _measured(series, t0):
    """``series``, or ``[]`` when its last sample is older than ``t0``: a value held over the
    whole window from before it (a sensor that stopped) is not a measurement of the window."""
    return series if series and series[-1][0] >= t0 else []


class PowerMonitor(Closeable):
    """Samples ``sensor`` in a thread and turns windows of samples into power and energy.

    Args:
        sensor (PowerSensor): an opened sensor (from a module's ``probe()``).
        rate_hz (float or None): polling rate; ``None`` takes the sensor's default (50 Hz for
            sysfs). Sensors that push (jtop, tegrastats) deliver at their own pace.
        chosen_because (str or None): why ``auto`` picked this sensor, for the profile.
    """

    def __init__(self, sensor, rate_hz=None, chosen_because=None):
        self.sensor = sensor
        self.rate_hz = float(sensor.default_rate_hz if sensor.pushes or not rate_hz else rate_hz)
        self.chosen_because = chosen_because
        self.sampler = Sampler(sensor, self.rate_hz)
        self.sampler.start()
        self._t0 = None

    def describe(self):
        """The profile's ``power`` section: sensor, driver, paths, rails, total rail, rate, averaging."""
        described = {"status": "ok"}
        described.update(self.sensor.details())
        described["rate_hz"] = self.rate_hz
        if self.chosen_because:
            described["chosen_because"] = self.chosen_because
        return described

    def measure_idle(self, seconds):
        """Sample for ``seconds`` while the caller does nothing.

        Returns:
            dict or None: ``{"idle_w": total W, "rails": {rail: W}, "samples": n}``, ``None``
            when ``seconds`` is 0 or the total could not be read.
        """
        if not seconds or seconds <= 0:
            return None
        t0 = self._mark()
        time.sleep(seconds)
        summary = self._summarize(t0, time.monotonic())
        if summary["total_mean_w"] is None:
            return None
        return {"idle_w": summary["total_mean_w"],
                "rails": {r: v["mean_w"] for r, v in summary["rails"].items()},
                "samples": summary["samples"]}

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
            window.
        """
        t1 = time.monotonic()
        t0, self._t0 = self._t0, None
        if t0 is None:
            return None
        summary = self._summarize(t0, t1)
        energy_j = summary["energy_j"]
        per_image_mj = above_idle_mj = images_per_j = None
        if energy_j is not None and images:
            per_image_mj = energy_j * 1000.0 / images
            if idle_w is not None:
                above_idle_mj = (energy_j - idle_w * (t1 - t0)) * 1000.0 / images
            if energy_j > 0:
                images_per_j = images / energy_j
        return PowerWindow(
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

    def _summarize(self, t0, t1):
        """Per-rail and total power over ``[t0, t1]`` from the samples around it."""
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
