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

from edgeprof.records import profile
from edgeprof.errors import UsageError
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
}


def _mib(value):
    return None if value is None else value / (1024.0 * 1024.0)


class Table(object):
    """The result of :func:`build`: ``columns``, ``rows`` [(model, [value...])], ``ratios``, ``geomean``.

    ``sources[(model, column index)]`` is the ``(Loaded, run)`` behind each cell (for the gate).
    """

    def __init__(self, metric, batch, columns, rows, baseline, sources=None):
        self.metric = metric
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

    def as_dict(self):
        return {"metric": self.metric, "label": self.label, "batch": self.batch,
                "lower_is_better": self.lower_is_better, "columns": self.columns,
                "baseline": self.columns[self.baseline],
                "rows": [{"model": m, "values": dict(zip(self.columns, v)),
                          "ratios": dict(zip(self.columns, r))}
                         for (m, v), (_, r) in zip(self.rows, self.ratios)],
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


def load_profiles(paths):
    """The profiles under each of ``paths``, validated, as :class:`Loaded`; a broken file stops with its name."""
    loaded = []
    for index, given in enumerate(paths):
        files = profile.iter_profile_files([given])
        if not files:
            raise UsageError("no profiles (*.yaml) under %s; run edgeprof sweep first" % given)
        loaded.extend(Loaded(path, profile.load(path), index, given) for path in files)
    return loaded


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


def _label_columns(columns):
    """Make labels unique: what differs among columns of one base label (options, device), then the input."""
    for column in columns:
        twins = [c for c in columns if c.base == column.base]
        if len(twins) < 2:
            continue
        names = sorted(set(k for c in twins for k in c.options))
        differ = [k for k in names if len(set(json.dumps(c.options.get(k), default=str) for c in twins)) > 1]
        parts = ["%s=%s" % (k, column.options.get(k)) for k in differ]
        if not parts and len(set(c.device for c in twins)) > 1:
            parts = ["device=%s" % column.device]
        if parts:
            column.label = "%s [%s]" % (column.base, ", ".join(parts))
    for column in columns:
        twins = [c for c in columns if c.label == column.label]
        if len(twins) > 1 and len(set(c.input for c in twins)) == len(twins):
            for c in twins:
                c.label = "%s (%s)" % (c.label, c.input)
    labels = [c.label for c in columns]
    for number, column in enumerate(columns):
        if labels.count(column.label) > 1:
            column.label = "%s #%d" % (column.label, number + 1)


def build(profiles, metric="latency", batch=1, baseline=None):
    """Build the comparison table.

    Args:
        profiles (list): :class:`Loaded` profiles (from :func:`load_profiles`).
        metric (str): a key of ``METRICS``.
        batch (int): the batch size to compare.
        baseline (str): a column label, or a unique part of one (default: the first column).
    """
    if metric not in METRICS:
        raise UsageError("unknown --metric %r; choose one of: %s" % (metric, ", ".join(sorted(METRICS))))
    getter = METRICS[metric][1]
    columns = []
    by_key = {}
    cells = {}
    claimed = {}
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
        if run is not None and run["status"] == "ok":
            cells[(model, key)] = (getter(run), loaded, run)
    _label_columns(columns)
    labels = [c.label for c in columns]
    rows, sources = [], {}
    for model in models:
        values = []
        for index, column in enumerate(columns):
            cell = cells.get((model, column.key))
            values.append(cell[0] if cell else None)
            if cell:
                sources[(model, index)] = (cell[1], cell[2])
        rows.append((model, values))
    return Table(metric, batch, labels, rows, _baseline_index(labels, baseline), sources)


def _baseline_index(columns, baseline):
    if baseline is None:
        return 0
    if baseline in columns:
        return columns.index(baseline)
    matches = [i for i, c in enumerate(columns) if baseline in c]
    if len(matches) != 1:
        raise UsageError("--baseline %r matches %s of the columns (%s); give a unique part of one"
                         % (baseline, "none" if not matches else "several", ", ".join(columns)))
    return matches[0]


def _fmt(value):
    if value is None:
        return "-"
    if abs(value) >= 100:
        return "%.1f" % value
    return "%.3g" % value if abs(value) < 1 else "%.2f" % value


def _cells(table):
    """Header and body rows of strings: value (and ratio where not the baseline)."""
    header = ["model"] + table.columns
    body = []
    for (model, values), (_, ratios) in zip(table.rows, table.ratios):
        row = [model]
        for index, (value, ratio) in enumerate(zip(values, ratios)):
            text = _fmt(value)
            if index != table.baseline and ratio is not None:
                text += " (x%.2f)" % ratio
            row.append(text)
        body.append(row)
    geo = ["geomean ratio"] + ["-" if g is None else "x%.2f" % g for g in table.geomean]
    return header, body, geo


def render_text(table):
    header, body, geo = _cells(table)
    rows = [header] + body + [geo]
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]

    def line(cells):
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))

    title = "%s at batch %d (ratios to %s; %s is better)" % (
        table.label, table.batch, table.columns[table.baseline], "lower" if table.lower_is_better else "higher")
    out = [title, line(header), "  ".join("-" * w for w in widths)]
    out += [line(r) for r in body]
    out += ["  ".join("-" * w for w in widths), line(geo)]
    return "\n".join(out)


def render_markdown(table):
    header, body, geo = _cells(table)
    out = ["**%s at batch %d** (ratios to `%s`; %s is better)" % (
        table.label, table.batch, table.columns[table.baseline], "lower" if table.lower_is_better else "higher"), "",
        "| " + " | ".join(header) + " |", "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in body]
    out.append("| " + " | ".join("**%s**" % c for c in geo) + " |")
    return "\n".join(out)


def render_csv(table):
    import csv
    import io
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["model"] + table.columns + ["ratio:" + c for c in table.columns])
    for (model, values), (_, ratios) in zip(table.rows, table.ratios):
        writer.writerow([model] + ["" if v is None else repr(round(v, 6)) for v in values]
                        + ["" if r is None else repr(round(r, 6)) for r in ratios])
    return buf.getvalue().rstrip("\n")
