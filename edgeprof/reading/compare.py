"""Tables across boards, backends and precisions: one metric, model x column, ratios to a baseline.

A column is one (board, backend, precision); a row is one model; a cell is the metric of that
model's run at the chosen batch size (``None`` when it did not run, ran out of memory or has no
such measurement). Ratios are cell / baseline cell; the summary row is their geometric mean over
the models both columns have.
"""

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
    """The result of :func:`build`: ``columns``, ``rows`` [(model, [value...])], ``ratios``, ``geomean``."""

    def __init__(self, metric, batch, columns, rows, baseline):
        self.metric = metric
        self.label, _, self.lower_is_better = METRICS[metric]
        self.batch = batch
        self.columns = columns
        self.rows = rows
        self.baseline = baseline
        self.ratios = [(model, [_ratio(v, values[baseline]) for v in values]) for model, values in rows]
        self.geomean = [geomean([r[i] for _, r in self.ratios]) for i in range(len(columns))]

    def regressions(self, pct):
        """``[(model, column, change_pct)]`` where a column is worse than the baseline by more than ``pct``."""
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


def column_label(data):
    return "%s/%s/%s" % (data["board"]["slug"], data["backend"]["name"], data["backend"]["precision"])


def load_profiles(paths):
    """All profiles under ``paths``, validated; a broken file stops with its name."""
    files = profile.iter_profile_files(paths)
    if not files:
        raise UsageError("no profiles (*.yaml) under %s; run edgeprof sweep first" % ", ".join(paths))
    return [profile.load(path) for path in files]


def build(profiles, metric="latency", batch=1, baseline=None):
    """Build the comparison table.

    Args:
        profiles (list): loaded profiles.
        metric (str): a key of ``METRICS``.
        batch (int): the batch size to compare.
        baseline (str): a column label, or a unique part of one (default: the first column).
    """
    if metric not in METRICS:
        raise UsageError("unknown --metric %r; choose one of: %s" % (metric, ", ".join(sorted(METRICS))))
    getter = METRICS[metric][1]
    columns = []
    cells = {}
    for data in profiles:
        column = column_label(data)
        if column not in columns:
            columns.append(column)
        for run in data["runs"]:
            if run["batch"] == batch and run["status"] == "ok":
                cells[(data["model"]["name"], column)] = getter(run)
    models = []
    for data in profiles:
        if data["model"]["name"] not in models:
            models.append(data["model"]["name"])
    rows = [(model, [cells.get((model, column)) for column in columns]) for model in models]
    return Table(metric, batch, columns, rows, _baseline_index(columns, baseline))


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
