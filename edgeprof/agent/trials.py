"""Trials of a sweep: the settings a run is keyed by, the randomised order, and one entry from N trials.

- :func:`power_mode`: the board settings that change results besides the software (nvpmodel,
  jetson_clocks, the CPU and GPU governors); part of every run's ``settings`` and so of its
  ``settings_id``.
- :func:`measured_order`: with ``--trials N``, trial k of every pending (model, batch) runs in
  round k, and each round is a fresh random permutation (a randomised complete block design: each
  round a replicate, so a drift of the machine over the sweep spreads over every point instead of
  following model or batch order). Seeded; the seed is recorded in every trial's ``order``.
- :func:`run_fields`: the run entry from its trials. One trial is the run itself; several are kept
  in ``trials`` and the run's fields pool them: their times as one sample, their windows as one
  window, their energy summed, the spread of their medians in ``between_trials``.
"""
import json
import random

import numpy as np

from edgeprof.agent import board, sysroot
from edgeprof.agent.measure import COV_WARN, Measurement
from edgeprof.records.runs import PowerWindow, TrialEntry

DEVICE_KINDS = ("compute_ms", "h2d_ms", "d2h_ms", "enqueue_ms")   # the session's device_times() keys
TRIAL_SPREAD_WARN = COV_WARN   # CoV of the trials' medians above this: the machine drifted between trials


def power_mode():
    """``{"nvpmodel", "jetson_clocks", "cpu_governor", "gpu_governor"}`` as read now (``None`` where unknown).

    ``cpu_governor`` is one name when every core has the same governor, else ``{cpuN: name}``.
    """
    jetson = board.is_jetson()
    mode = board.nvpmodel() if jetson else None
    governors = {}
    for folder in sysroot.glob_paths(board.CPU_FREQ_GLOB):
        name = sysroot.read_text(folder + "/scaling_governor")
        if name:
            governors[folder.split("/")[-2]] = name
    distinct = sorted(set(governors.values()))
    gpu = board.gpu_devfreq()
    return {
        "nvpmodel": {"id": mode.get("id"), "name": mode.get("name")} if mode else None,
        "jetson_clocks": board.jetson_clocks_on() if jetson else None,
        "cpu_governor": (distinct[0] if len(distinct) == 1 else governors) if distinct else None,
        "gpu_governor": sysroot.read_text(gpu + "/governor") if gpu else None,
    }


def changes(before, after):
    """``"nvpmodel: {...} -> {...}"``: the fields of two :func:`power_mode` readings that differ."""
    return "; ".join("%s: %s -> %s" % (key, json.dumps(before.get(key), sort_keys=True),
                                       json.dumps(after.get(key), sort_keys=True))
                     for key in sorted(set(before) | set(after)) if before.get(key) != after.get(key))


def new_seed():
    """A fresh seed for the order (recorded, so ``--seed`` repeats an order)."""
    return random.SystemRandom().randrange(2 ** 31)


def measured_order(pending, seed):
    """The measured trials in the order they run.

    Args:
        pending (list): ``(key, [trial index...])`` per (model, batch), in plan order.
        seed (int): the seed of the permutations.

    Returns:
        list of ``(key, trial index)``: round by round, each round shuffled.
    """
    rng = random.Random(seed)
    order = []
    rounds = max([max(indices) + 1 for _, indices in pending if indices] or [0])
    for round_index in range(rounds):
        block = [(key, round_index) for key, indices in pending if round_index in indices]
        rng.shuffle(block)
        order.extend(block)
    return order


class Trial(object):
    """One trial: ``fields`` (a ``trials[]`` entry, as a dict) and ``raw`` (``{kind: values}`` in ms)."""

    def __init__(self, fields, raw):
        self.fields = fields
        self.raw = raw

    @property
    def index(self):
        return self.fields["trial"]


def measured_trial(index, measurement, **context):
    """A :class:`Trial` from a :class:`~edgeprof.agent.measure.Measurement`; ``context``: started, order,
    power, memory, board_state, runtime_warnings."""
    summary = measurement.summary()
    summary["warnings"] = summary["warnings"] + list(context.pop("runtime_warnings", None) or [])
    entry = TrialEntry(trial=index, **context).update(summary)
    raw = {"latency_ms": np.asarray(measurement.latencies_ms, dtype=np.float64)}
    raw.update((kind, np.asarray(measurement.device[kind], dtype=np.float64)) for kind in DEVICE_KINDS
               if measurement.device.get(kind))
    return Trial(entry.as_dict(), raw)


def recorded_trials(run, raw_trials):
    """The :class:`Trial` list of a recorded run whose raw times are ``raw_trials`` (from its sidecar)."""
    entries = run.get("trials") or []
    if len(entries) != len(raw_trials):
        return None
    return [Trial(dict(entry), dict(raw)) for entry, raw in zip(entries, raw_trials)]


def run_fields(batch, trials, planned):
    """The measured fields of a run entry from its trials (sorted by index); ``planned``: ``--trials``."""
    trials = sorted(trials, key=lambda t: t.index)
    if planned == 1 and len(trials) == 1:
        fields = dict(trials[0].fields)
        del fields["trial"]
        return fields
    device = {}
    for kind in DEVICE_KINDS:
        if all(t.raw.get(kind) is not None and len(t.raw[kind]) for t in trials):
            device[kind] = np.concatenate([t.raw[kind] for t in trials]).tolist()  # measure tests lists for truth
    window_s = sum(t.fields["window_s"] for t in trials)
    warmup = sum(t.fields.get("warmup_runs") or 0 for t in trials)
    pooled = Measurement(batch, np.concatenate([t.raw["latency_ms"] for t in trials]), device, window_s, warmup)
    out = pooled.summary()
    out["started"] = trials[0].fields.get("started")
    out["power"] = pool_power(batch, trials)
    out["memory"] = pool_memory(trials)
    out["board_state"] = pool_board_state(trials)
    out["trials"] = [t.fields for t in trials]
    out["between_trials"] = spread(trials, planned)
    cov = out["between_trials"]["cov_of_medians"]
    if cov is not None and cov > TRIAL_SPREAD_WARN:
        out["warnings"].append("the medians of the %d trials spread by CoV %.1f%% > %.0f%%: the machine drifted "
                               "between trials" % (len(trials), 100 * cov, 100 * TRIAL_SPREAD_WARN))
    if len(trials) < planned:
        out["warnings"].append("%d of %d trials measured (the sweep was interrupted; a resume measures the rest)"
                               % (len(trials), planned))
    return out


def spread(trials, planned):
    """``between_trials``: the trials' medians and throughputs and how far they spread."""
    medians = [t.fields["latency_ms"]["median"] for t in trials]
    middle = float(np.median(medians))
    cov = float(np.std(medians) / np.mean(medians)) if len(medians) > 1 and np.mean(medians) > 0 else None
    return {"trials": len(trials), "planned": planned, "medians_ms": medians,
            "throughputs_ips": [t.fields.get("throughput_ips") for t in trials],
            "cov_of_medians": None if cov is None else round(cov, 6),
            "range_over_median": round((max(medians) - min(medians)) / middle, 6) if middle > 0 else None}


def _weighted(values, weights):
    if any(v is None for v in values) or not sum(weights):
        return None
    return sum(v * w for v, w in zip(values, weights)) / float(sum(weights))


def _sum(values):
    return None if any(v is None for v in values) else sum(values)


def _max(values):
    present = [v for v in values if v is not None]
    return max(present) if present else None


def _round(value, digits):
    return None if value is None else round(value, digits)


def pool_power(batch, trials):
    """The trials' power windows as one: energy summed, means weighted by window length, peaks the max."""
    windows = [t.fields.get("power") for t in trials]
    if not windows or any(w is None for w in windows):
        return None
    seconds = [t.fields["window_s"] for t in trials]
    images = [batch * t.fields["runs"] for t in trials]
    energy_j = _sum([w.get("energy_j") for w in windows])
    above = [w.get("energy_per_image_above_idle_mj") for w in windows]
    above_j = None if any(a is None for a in above) else sum(a * n / 1000.0 for a, n in zip(above, images))
    rails = {}
    for name in sorted(set.intersection(*[set(w.get("rails") or {}) for w in windows])):
        parts = [w["rails"][name] for w in windows]
        rails[name] = {"mean_w": _round(_weighted([p.get("mean_w") for p in parts], seconds), 4),
                       "peak_w": _max([p.get("peak_w") for p in parts]),
                       "samples": _sum([p.get("samples") for p in parts]),
                       "rate_hz": _round(_weighted([p.get("rate_hz") for p in parts], seconds), 2)}
    total_images = sum(images)
    missing = []
    for index, w in enumerate(windows):
        missing.extend("trial %d: %s" % (trials[index].index, m) for m in w.get("missing") or [])
    return PowerWindow(
        rails=rails, total_mean_w=_round(_weighted([w.get("total_mean_w") for w in windows], seconds), 4),
        total_peak_w=_max([w.get("total_peak_w") for w in windows]),
        idle_w=_round(_weighted([w.get("idle_w") for w in windows], seconds), 4),
        energy_j=_round(energy_j, 6),
        energy_per_image_mj=None if energy_j is None else round(energy_j * 1000.0 / total_images, 4),
        energy_per_image_above_idle_mj=None if above_j is None else round(above_j * 1000.0 / total_images, 4),
        images_per_j=round(total_images / energy_j, 4) if energy_j else None,
        missing=missing, scope=windows[0].get("scope")).as_dict()


def pool_memory(trials):
    """Each memory field's largest value over the trials (the footprint a run needs)."""
    memories = [t.fields.get("memory") or {} for t in trials]
    names = []
    for memory in memories:
        names.extend(n for n in memory if n not in names)
    return dict((name, _max([m.get(name) for m in memories])) for name in names) or None


def pool_board_state(trials):
    """Before the first trial, after the last; throttled when any trial was, with its reasons."""
    states = [t.fields.get("board_state") for t in trials]
    if not any(states):
        return None
    reasons = []
    for trial, state in zip(trials, states):
        reasons.extend("trial %d: %s" % (trial.index, r) for r in (state or {}).get("reasons") or [])
    first = next(s for s in states if s)
    last = [s for s in states if s][-1]
    return {"before": first.get("before"), "after": last.get("after"),
            "throttled": any((s or {}).get("throttled") for s in states), "reasons": reasons}
