"""``compare --fail-if-slower PCT``: a regression gate that tells a slowdown from noise, on the raw latencies.

For each model and each column against the baseline, the statistic is the ratio of medians of the
per-inference latencies (``--metric latency`` and ``per-image``; ``throughput``: the ratio of mean
latencies, which sequential throughput is the inverse of), new over baseline. Its uncertainty comes
from a two-stage percentile bootstrap on the raw times of the profiles' sidecars: each resample draws
the run's trials with replacement, then the times within each drawn trial with replacement (with one
trial, the plain bootstrap of the times; with ``--trials``, the spread between trials enters the
interval, which a bootstrap of the times alone would miss). Both sides are resampled independently;
``RESAMPLES`` resamples, seeded (``SEED``), so a gate on the same files always gives the same answer.

The test of one pair is one-sided: H0 "the slowdown is at most PCT" (ratio <= 1 + PCT/100), with
p = (1 + #{resampled ratios <= 1 + PCT/100}) / (1 + resamples). The p-values of every pair are
Holm-corrected (Holm 1979, step-down, family-wise error 2.5% one-sided), and a pair is a regression
only when its Holm-adjusted p is below 0.025: for one pair, when the 95% interval lies entirely above
1 + PCT/100. A point ratio above the limit whose test does not reject is "not significant", and is
said so; a model that ran on one side only is "not compared" (said, without changing the exit
status). A pair the gate cannot test (no raw latencies: a profile from before edgeprof kept them, or a
missing or stale sidecar) or must refuse (the two runs' settings differ in more than one dimension:
board, model, backend, precision, protocol) is named with the reason.

Exit statuses (``edgeprof compare``): 1 when any pair is a regression; otherwise 2 when any pair could
not be tested or was refused; otherwise 0.
"""
import json

import numpy as np

from edgeprof.errors import UsageError
from edgeprof.records import latencies, profile

SEED = 20150  # any fixed number: the gate's answer must not change from one call to the next
RESAMPLES = 2000
ALPHA = 0.025  # one-sided: the lower end of a two-sided 95% interval
CHUNK_VALUES = 2000000  # resampled values held at once
# metric -> (what is compared, the statistic of the raw times)
STATISTICS = {
    "latency": ("ratio of medians", np.median),
    "per-image": ("ratio of medians", np.median),
    "throughput": ("ratio of mean latencies", np.mean),
}
REGRESSION, NOT_SIGNIFICANT, WITHIN, UNTESTABLE, REFUSED, MISSING = (
    "regression", "not significant", "within the limit", "cannot test", "refused", "not compared")
# a dimension of comparison -> the settings (profile.settings_of keys) and board fields it holds
DIMENSIONS = (
    ("board", ("board_model", "hostname", "power_mode")),
    ("model", ("model_sha256",)),
    ("backend", ("backend", "backend_version", "device", "options")),
    ("precision", ("precision",)),
    ("protocol", ("protocol",)),
)


class Pair(object):
    """One model on one column against the baseline column, and the gate's verdict on it."""

    def __init__(self, model, column, baseline):
        self.model = model
        self.column = column
        self.baseline = baseline
        self.ratio = self.low = self.high = self.p = self.p_holm = None
        self.trials = None
        self.verdict = None
        self.reason = None

    def as_dict(self):
        out = {"model": self.model, "column": self.column, "verdict": self.verdict}
        if self.ratio is not None:
            out.update(ratio=round(self.ratio, 6), ci95=[round(self.low, 6), round(self.high, 6)],
                       p=round(self.p, 6), p_holm=round(self.p_holm, 6), trials=self.trials)
        if self.reason:
            out["reason"] = self.reason
        return out


class Gate(object):
    """The gate's result: ``pairs`` (tested or not), the limit, the statistic; see :func:`run`."""

    def __init__(self, pct, statistic, pairs, resamples):
        self.pct = pct
        self.limit = 1.0 + pct / 100.0
        self.statistic = statistic
        self.pairs = pairs
        self.resamples = resamples

    def of(self, verdict):
        return [p for p in self.pairs if p.verdict == verdict]

    def exit_status(self):
        if self.of(REGRESSION):
            return 1
        return 2 if self.of(UNTESTABLE) or self.of(REFUSED) else 0

    def as_dict(self):
        return {"fail_if_slower_pct": self.pct, "limit_ratio": self.limit, "statistic": self.statistic,
                "interval": "95%%, two-stage percentile bootstrap (trials, then times), %d resamples, seed %d"
                            % (self.resamples, SEED),
                "correction": "Holm over %d tested pairs, one-sided alpha %.3f" % (self.tested(), ALPHA),
                "pairs": [p.as_dict() for p in self.pairs], "exit_status": self.exit_status()}

    def tested(self):
        return len([p for p in self.pairs if p.p is not None])


def _dimension_values(loaded, run):
    settings = profile.settings_of(loaded.data, run)
    board = loaded.data.get("board") or {}
    settings["board_model"] = board.get("model")
    settings["hostname"] = board.get("hostname")
    return settings


def _show(value):
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)


def _detail(key, a, b):
    if isinstance(a, dict) and isinstance(b, dict):
        keys = sorted(set(a) | set(b))
        return "; ".join("%s: %s vs %s" % (k, _show(a.get(k)), _show(b.get(k))) for k in keys if a.get(k) != b.get(k))
    return "%s: %s vs %s" % (key, _show(a), _show(b))


def differences(base, other):
    """``[(dimension, detail)]``: where the settings of two cells' runs (``(Loaded, run)`` each) differ."""
    a, b = _dimension_values(*base), _dimension_values(*other)
    found = []
    for dimension, keys in DIMENSIONS:
        details = [_detail(k, a.get(k), b.get(k)) for k in keys if a.get(k) != b.get(k)]
        if details:
            found.append((dimension, "; ".join(details)))
    return found


def two_stage_bootstrap(trials, statistic, rng, resamples):
    """``resamples`` values of ``statistic`` over the pooled times of resampled runs.

    Each resample fills the run's trial slots (as many as it has) with trials drawn with replacement,
    then fills slot j with as many times as trial j has, drawn with replacement from the trial drawn
    for it, so every resample has the run's size (the trials of a run are about equally long anyway).
    """
    sizes = [len(t) for t in trials]
    total = sum(sizes)
    width = max(sizes)
    padded = np.zeros((len(trials), width))
    for index, times in enumerate(trials):
        padded[index, :len(times)] = times
    lengths = np.array(sizes, dtype=np.float64)
    out = np.empty(resamples)
    chunk = max(1, CHUNK_VALUES // total)
    for start in range(0, resamples, chunk):
        size = min(chunk, resamples - start)
        picks = rng.randint(0, len(trials), size=(size, len(trials)))
        parts = []
        for slot, n in enumerate(sizes):
            chosen = picks[:, slot][:, None]
            index = (rng.random_sample((size, n)) * lengths[chosen]).astype(np.int64)
            parts.append(padded[chosen, index])
        out[start:start + size] = statistic(np.concatenate(parts, axis=1), axis=1)
    return out


def holm(p_values):
    """Holm's step-down adjusted p-values (same order as given)."""
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    adjusted = [None] * len(p_values)
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (len(p_values) - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted


def _raw(source):
    loaded, run = source
    if "raw_latencies" not in run:  # a summary from the profile index leaves the reference out: read the run itself
        run = profile.find_run(profile.load(loaded.path), run.get("batch"), run.get("settings_id")) or run
    try:
        return [t["latency_ms"] for t in latencies.read_run(loaded.path, run)]
    except latencies.MissingLatencies as exc:
        raise latencies.MissingLatencies("%s: %s; sweep it again to gate it" % (loaded.path, exc))


def _test(pair, base, other, statistic, limit, rng, resamples):
    base_trials, new_trials = _raw(base), _raw(other)
    pair.ratio = float(statistic(np.concatenate(new_trials)) / statistic(np.concatenate(base_trials)))
    ratios = (two_stage_bootstrap(new_trials, statistic, rng, resamples)
              / two_stage_bootstrap(base_trials, statistic, rng, resamples))
    pair.low, pair.high = (float(v) for v in np.percentile(ratios, [2.5, 97.5]))
    pair.p = (1.0 + float(np.sum(ratios <= limit))) / (1.0 + resamples)
    pair.trials = [len(base_trials), len(new_trials)]


def run(table, pct):
    """Gate ``table`` (from :func:`edgeprof.reading.compare.build`) at ``pct`` percent; returns a :class:`Gate`."""
    if table.metric not in STATISTICS:
        raise UsageError("--fail-if-slower tests %s, from the raw latencies; --metric %s has one value per run and "
                         "no per-inference samples to test" % (", ".join(sorted(STATISTICS)), table.metric))
    name, statistic = STATISTICS[table.metric]
    limit = 1.0 + pct / 100.0
    base_label = table.columns[table.baseline]
    candidates = []
    for model, _ in table.rows:
        base = table.sources.get((model, table.baseline))
        for index, column in enumerate(table.columns):
            other = table.sources.get((model, index))
            if index == table.baseline or (base is None and other is None):
                continue
            pair = Pair(model, column, base_label)
            if base is None or other is None:  # said, but no test and no change of the exit status
                pair.verdict = MISSING
                pair.reason = "no ok run at batch %d on %s" % (table.batch, base_label if base is None else column)
                candidates.append((pair, base, other))
                continue
            found = differences(base, other)
            if len(found) > 1:
                pair.verdict = REFUSED
                pair.reason = "their settings differ in %s: %s; the gate compares one dimension at a time" % (
                    " and ".join(d for d, _ in found), "; ".join("%s (%s)" % f for f in found))
            candidates.append((pair, base, other))
    testable = [c for c in candidates if c[0].verdict is None]
    resamples = max(RESAMPLES, 100 * len(testable))
    for number, (pair, base, other) in enumerate(testable):
        try:
            _test(pair, base, other, statistic, limit, np.random.RandomState(SEED + number), resamples)
        except latencies.MissingLatencies as exc:
            pair.verdict = UNTESTABLE
            pair.reason = str(exc)
    tested = [c[0] for c in testable if c[0].p is not None]
    for pair, adjusted in zip(tested, holm([p.p for p in tested])):
        pair.p_holm = adjusted
        if adjusted < ALPHA:
            pair.verdict = REGRESSION
        elif pair.ratio > limit:
            pair.verdict = NOT_SIGNIFICANT
        else:
            pair.verdict = WITHIN
    return Gate(pct, name, [c[0] for c in candidates], resamples)


def messages(gate):
    """One line per pair that is not a plain pass, for stderr, and the summary line last."""
    lines = []
    for pair in gate.pairs:
        if pair.verdict in (REGRESSION, NOT_SIGNIFICANT):
            lines.append("%s: %s on %s is %.1f%% worse than %s (%s %.3f, 95%% CI %.3f-%.3f %s %.3f; Holm p %.4f)"
                         % (pair.verdict, pair.model, pair.column, (pair.ratio - 1.0) * 100.0, pair.baseline,
                            gate.statistic, pair.ratio, pair.low, pair.high,
                            "entirely above" if pair.verdict == REGRESSION else "not entirely above", gate.limit,
                            pair.p_holm)
                         + ("" if pair.verdict == REGRESSION else ": inside the noise, not a proven slowdown"))
        elif pair.verdict in (UNTESTABLE, REFUSED, MISSING):
            lines.append("%s: %s on %s against %s: %s" % (pair.verdict, pair.model, pair.column, pair.baseline,
                                                          pair.reason))
    counts = ", ".join("%d %s%s" % (len(gate.of(v)), v, "s" if v == REGRESSION and len(gate.of(v)) > 1 else "")
                       for v in (REGRESSION, NOT_SIGNIFICANT, WITHIN, UNTESTABLE, REFUSED, MISSING) if gate.of(v))
    lines.append("gate (--fail-if-slower %g: %s, 95%% bootstrap CI, Holm over %d tests): %s"
                 % (gate.pct, gate.statistic, gate.tested(), counts or "no pair to test"))
    return lines


def render_text(gate):
    """The tested pairs as a table (stdout, after the comparison table)."""
    header = ["model", "column", "ratio", "95% CI", "Holm p", "verdict"]
    rows = []
    for pair in gate.pairs:
        if pair.ratio is None:
            rows.append([pair.model, pair.column, "-", "-", "-", pair.verdict])
        else:
            rows.append([pair.model, pair.column, "%.3f" % pair.ratio, "%.3f-%.3f" % (pair.low, pair.high),
                         "%.4f" % pair.p_holm, pair.verdict])
    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]
    lines = ["gate: worse than %s by more than %g%% (%s new/baseline; fails only when the Holm-corrected 95%% "
             "interval lies above %.3f)" % (gate.pairs[0].baseline if gate.pairs else "-", gate.pct, gate.statistic,
                                             gate.limit)]
    for row in [header] + rows:
        lines.append("  ".join(c.ljust(w) if i < 2 or i == 5 else c.rjust(w)
                               for i, (c, w) in enumerate(zip(row, widths))).rstrip())
    return "\n".join(lines)
