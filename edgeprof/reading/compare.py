"""Tables across boards, backends and precisions: one metric, model x column, ratios to a baseline.

A column is one setup of one input: (board, backend, precision, device, backend options) of the
profiles under one path given on the command line. Each input is its own column even when its board
and settings equal another input's (a before/after on one board is the commonest comparison); within
one input, two profiles that claim the same (model, setup) are refused, naming both files. A run's
setup comes from its own ``settings`` snapshot where it has one (older profiles: the header). A row
is one model; a cell is the metric of that model's run at the chosen batch size (``None`` when it did
not run, ran out of memory or has no such measurement). Ratios are cell / baseline cell; the summary
row is their geometric mean over the models both columns have. The regression gate on these cells
is :mod:`edgeprof.reading.gate`.
"""
import json
import os

from edgeprof.records import profile, store
from edgeprof.errors import UsageError
from edgeprof.reading.compare_render import DEFAULT_TOP, render_csv, render_markdown, render_text  # noqa: F401
from edgeprof.reading.table import top1_of
from edgeprof.util import geomean

# metric -> (label with unit, getter on a run entry, True when lower is better)
METRICS = {
    "latency": ("median latency per batch [ms]", lambda r: (r.get("latency_ms") or {}).get("median"), True),
    "per-image": ("median latency per image [ms]", lambda r: r.get("per_image_ms"), True),
    "throughput": ("throughput [images/s]", lambda r: r.get("throughput_ips"), False),
    "energy": ("energy per image [mJ]", lambda r: (r.get("power") or {}).get("energy_per_image_mj"), True),
    "power": ("mean total power [W]", lambda r: (r.get("power") or {}).get("total_mean_w"), True),
    "memory": ("process peak RSS [MiB]",
               lambda r: _mib((r.get("memory") or {}).get("peak_rss_bytes")), True),
    "system-memory": ("system memory used by the run [MiB]",
                      lambda r: _mib((r.get("memory") or {}).get("system_delta_bytes")), True),
    # of the profile, not of a run (see build): measured where it has an accuracy record, else published
    "top1": ("top-1 accuracy [%]", None, False),
}
SHOWN_LABELS = 8  # columns an error message names before "and N more"


def _mib(value):
    return None if value is None else value / (1024.0 * 1024.0)


class Table(object):
    """The result of :func:`build`: ``columns``, ``rows`` [(model, [value...])], ``ratios``, ``geomean``.

    ``sources[(model, column index)]`` is the ``(Loaded, run)`` behind each cell (for the gate);
    ``marks`` the cells whose value is published, not measured (``--metric top1``).
    """

    def __init__(self, metric, batch, columns, rows, baseline, sources=None, marks=()):
        self.metric = metric
        self.marks = set(marks)
        self._values = dict(rows)
        self.label, _, self.lower_is_better = METRICS[metric]
        self.batch = batch
        self.columns = columns
        self.rows = rows
        self.baseline = baseline
        self.sources = sources or {}
        self.ratios = [(model, [_ratio(v, values[baseline]) for v in values]) for model, values in rows]
        self.geomean = [geomean([r[i] for _, r in self.ratios]) for i in range(len(columns))]

    def regressions(self, pct):
        """``[(model, column, change_pct)]`` where a column's point value is worse than the baseline's by more
        than ``pct`` (no test: :mod:`edgeprof.reading.gate` tests it)."""
        out = []
        for model, ratios in self.ratios:
            for column, ratio in zip(self.columns, ratios):
                if ratio is None or column == self.columns[self.baseline]:
                    continue
                worse = ratio if self.lower_is_better else (1.0 / ratio if ratio else None)
                if worse is not None and (worse - 1.0) * 100.0 > pct:
                    out.append((model, column, (worse - 1.0) * 100.0))
        return out

    def source_of(self, model, index):
        """``measured`` or ``published`` for a ``top1`` cell that has a value; None otherwise."""
        if self.metric != "top1" or self._values[model][index] is None:
            return None
        return "published" if (model, index) in self.marks else "measured"

    def as_dict(self):
        rows = []
        for (model, values), (_, ratios) in zip(self.rows, self.ratios):
            row = {"model": model, "values": dict(zip(self.columns, values)), "ratios": dict(zip(self.columns, ratios))}
            if self.metric == "top1":
                row["sources"] = dict((c, self.source_of(model, i)) for i, c in enumerate(self.columns))
            rows.append(row)
        return {"metric": self.metric, "label": self.label, "batch": self.batch,
                "lower_is_better": self.lower_is_better, "columns": self.columns,
                "baseline": self.columns[self.baseline], "rows": rows,
                "geomean_ratio": dict(zip(self.columns, self.geomean))}


def _ratio(value, base):
    if value is None or base is None or base == 0:
        return None
    return value / base


class Loaded(object):
    """One profile file of one input: ``path``, ``data``, and the input (``index``, ``name``) it came from."""

    def __init__(self, path, data, index, name):
        self.path = path
        self.data = data
        self.index = index
        self.name = name


def load_profiles(paths, use_index=True):
    """The profiles under each of ``paths``, validated, as :class:`Loaded` (their summaries, read through the
    index: :mod:`edgeprof.records.store`); a broken file stops with its name."""
    inputs = []
    for given in paths:
        files = profile.iter_profile_files([given])
        if not files:
            raise UsageError("no profiles (*.yaml) under %s; run edgeprof sweep first" % given)
        inputs.append(files)
    summaries = iter(store.load([f for files in inputs for f in files], paths, use_index))
    return [Loaded(path, next(summaries), index, given)
            for index, (given, files) in enumerate(zip(paths, inputs)) for path in files]


def _run_at(data, batch):
    for run in data["runs"]:
        if run["batch"] == batch:
            return run
    return None


class Column(object):
    """One setup of one input."""

    def __init__(self, key, loaded, settings):
        self.key = key
        self.input = loaded.name
        board = loaded.data["board"]
        self.base = "%s/%s/%s" % (board["slug"], settings["backend"], settings["precision"])
        self.device = settings.get("device")
        self.options = settings.get("options") or {}
        self.label = self.base


def setup_key(loaded, run):
    """The column a profile's run belongs to: input, board, backend, precision, device, options."""
    settings = profile.settings_of(loaded.data, run or {})
    key = (loaded.index, loaded.data["board"]["slug"], settings["backend"], settings["precision"],
           settings.get("device"), json.dumps(settings.get("options") or {}, sort_keys=True, default=str))
    return key, settings


def _groups(columns, attribute):
    """Columns with the same value of ``attribute``, in order (a dict: thousands of columns are common)."""
    groups = {}
    for column in columns:
        groups.setdefault(getattr(column, attribute), []).append(column)
    return groups


def _label_columns(columns):
    """Make labels unique: what differs among columns of one base label (options, device), then the input."""
    for twins in _groups(columns, "base").values():
        if len(twins) < 2:
            continue
        names = sorted(set(k for c in twins for k in c.options))
        differ = [k for k in names if len(set(json.dumps(c.options.get(k), default=str) for c in twins)) > 1]
        for column in twins:
            parts = ["%s=%s" % (k, column.options.get(k)) for k in differ]
            if not parts and len(set(c.device for c in twins)) > 1:
                parts = ["device=%s" % column.device]
            if parts:
                column.label = "%s [%s]" % (column.base, ", ".join(parts))
    for twins in _groups(columns, "label").values():
        if len(twins) > 1 and len(set(c.input for c in twins)) == len(twins):
            for c in twins:
                c.label = "%s (%s)" % (c.label, c.input)
    counts = dict((label, len(twins)) for label, twins in _groups(columns, "label").items())
    for number, column in enumerate(columns):
        if counts[column.label] > 1:
            column.label = "%s #%d" % (column.label, number + 1)


def build(profiles, metric="latency", batch=1, baseline=None):
    """Build the comparison table.

    Args:
        profiles (list): :class:`Loaded` profiles (from :func:`load_profiles`).
        metric (str): a key of ``METRICS``.
        batch (int): the batch size to compare.
        baseline (str): a column label, one of the inputs by its path (when it holds one setup), or a
            unique part of a label (default: the first column).
    """
    if metric not in METRICS:
        raise UsageError("unknown --metric %r; choose one of: %s" % (metric, ", ".join(sorted(METRICS))))
    getter = METRICS[metric][1]
    columns = []
    by_key = {}
    cells = {}
    claimed = {}
    published = set()
    models = []
    for loaded in profiles:
        model = loaded.data["model"]["name"]
        if model not in models:
            models.append(model)
        run = _run_at(loaded.data, batch)
        key, settings = setup_key(loaded, run)
        if key not in by_key:
            by_key[key] = Column(key, loaded, settings)
            columns.append(by_key[key])
        other = claimed.get((model, key))
        if other is not None:
            raise UsageError("%s and %s both hold %s for the same setup (%s) in %s; give them as separate inputs "
                             "or remove one" % (other.path, loaded.path, model, by_key[key].base, loaded.name))
        claimed[(model, key)] = loaded
        if getter is None:  # top1: the profile's, whether or not it ran at this batch
            value, _, _, source = top1_of(loaded.data)
            if value is not None:
                cells[(model, key)] = (value, loaded, run)
                if source == "published":
                    published.add((model, key))
        elif run is not None and run["status"] == "ok":
            cells[(model, key)] = (getter(run), loaded, run)
    # files come sorted by name, which puts fp16 before fp32: columns that differ only in precision are
    # ordered fp32, fp16, int8 (so fp32 is the default baseline); everything else keeps its first-seen order
    first_seen = {}
    for position, column in enumerate(columns):
        first_seen.setdefault(column.key[:3] + column.key[4:], position)
    columns.sort(key=lambda c: (first_seen[c.key[:3] + c.key[4:]],
                                _PRECISION_ORDER.get(c.key[3], len(_PRECISION_ORDER))))
    _label_columns(columns)
    labels = [c.label for c in columns]
    rows, sources, marks = [], {}, []
    for model in models:
        values = []
        for index, column in enumerate(columns):
            cell = cells.get((model, column.key))
            values.append(cell[0] if cell else None)
            if cell and cell[2] is not None:
                sources[(model, index)] = (cell[1], cell[2])
            if (model, column.key) in published:
                marks.append((model, index))
        rows.append((model, values))
    return Table(metric, batch, labels, rows, _baseline_index(columns, baseline), sources, marks)


_PRECISION_ORDER = {"fp32": 0, "tf32": 1, "fp16": 2, "bf16": 3, "int8": 4}


def _some(labels):
    shown = ", ".join(labels[:SHOWN_LABELS])
    return shown + (" and %d more" % (len(labels) - SHOWN_LABELS) if len(labels) > SHOWN_LABELS else "")


def same_path(a, b):
    """Whether two paths name the same file or folder (as written, normalised, or resolved)."""
    if os.path.normpath(a) == os.path.normpath(b):
        return True
    return os.path.exists(a) and os.path.exists(b) and os.path.realpath(a) == os.path.realpath(b)


def _baseline_index(columns, baseline):
    """The baseline column: by label, by input path (``profiles/tx2/``), or by a unique part of a label."""
    if baseline is None:
        return 0
    labels = [c.label for c in columns]
    if baseline in labels:
        return labels.index(baseline)
    inputs = [given for given in _groups(columns, "input") if same_path(given, baseline)]
    if inputs:
        of_input = [i for i, c in enumerate(columns) if c.input == inputs[0]]
        if len(of_input) > 1:
            raise UsageError("--baseline %s holds %d setups (%s); give the label of one"
                             % (baseline, len(of_input), _some([labels[i] for i in of_input])))
        return of_input[0]
    matches = [i for i, label in enumerate(labels) if baseline in label]
    if len(matches) != 1:
        raise UsageError("--baseline %r matches %s of the columns (%s); give a unique part of one, or one of "
                         "the inputs by its path" % (baseline, "none" if not matches else "several",
                                                      _some([labels[i] for i in matches] if matches else labels)))
    return matches[0]
