"""The comparison table as text, Markdown or CSV; with more setups than fit a terminal, a summary.

A full table has one column per setup; a lab's results folder has thousands, which no terminal shows.
So :func:`render_text` prints the full table only when it fits ``width``; otherwise (or with ``top``)
one line per setup: the models it has, the geometric mean of its ratios to the baseline, and its best
and worst model by ratio, sorted best first, ``top`` of them (the baseline always), and says how to
get the rest (``--format csv|json|markdown`` has every cell). Lines never exceed ``width``.
"""
import csv
import io
import textwrap

DEFAULT_TOP = 20
MIN_CELL = 8     # a truncated cell keeps at least this many characters
BEST_FLOOR = 14  # the best/worst model columns give way down to this before the setup label does
PUBLISHED = "*"


def fmt(value):
    if value is None:
        return "-"
    if abs(value) >= 100:
        return "%.1f" % value
    return "%.3g" % value if abs(value) < 1 else "%.2f" % value


def _footnotes(table):
    if table.marks:
        return ["%s published accuracy (the model's header); unmarked: measured (edgeprof accuracy)" % PUBLISHED]
    return []


def _cells(table):
    """Header and body rows of strings: value (and ratio where not the baseline)."""
    header = ["model"] + table.columns
    body = []
    for (model, values), (_, ratios) in zip(table.rows, table.ratios):
        row = [model]
        for index, (value, ratio) in enumerate(zip(values, ratios)):
            text = fmt(value) + (PUBLISHED if (model, index) in table.marks else "")
            if index != table.baseline and ratio is not None:
                text += " (x%.2f)" % ratio
            row.append(text)
        body.append(row)
    geo = ["geomean ratio"] + ["-" if g is None else "x%.2f" % g for g in table.geomean]
    return header, body, geo


def _title(table):
    return "%s at batch %d (ratios to %s; %s is better)" % (
        table.label, table.batch, table.columns[table.baseline], "lower" if table.lower_is_better else "higher")


def _lines(rows, widths, left):
    def line(cells):
        return "  ".join(_cut(c, w).ljust(w) if i < left else _cut(c, w).rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()
    return line


def _cut(text, width):
    """``text`` in ``width`` characters: its start and its end (where labels differ: board, precision)."""
    if len(text) <= width:
        return text
    head = max(1, (width - 2) // 2)
    return text[:head] + ".." + text[len(text) - max(0, width - 2 - head):]


def _fit(widths, width, stages):
    """Narrow columns until the line fits ``width``: per stage ``(columns, floor)``, the widest of those
    columns above the floor first, then the next stage (the setup label keeps its width longest)."""
    widths = list(widths)
    for columns, floor in stages:
        while sum(widths) + 2 * (len(widths) - 1) > width:
            candidates = [i for i in columns if widths[i] > floor]
            if not candidates:
                break
            widths[max(candidates, key=lambda i: widths[i])] -= 1
    return widths


def _wrap(text, width):
    return textwrap.wrap(text, width, break_long_words=True, break_on_hyphens=False) or [""]


def _full(table):
    header, body, geo = _cells(table)
    rows = [header] + body + [geo]
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    line = _lines(rows, widths, 1)
    rule = "  ".join("-" * w for w in widths)
    return [line(header), rule] + [line(r) for r in body] + [rule, line(geo)]


def _extremes(table, index):
    """(best, worst) ``(model, ratio)`` of one column, by ratio to the baseline."""
    found = [(ratios[index], model) for model, ratios in table.ratios if ratios[index] is not None]
    if not found:
        return None, None
    low, high = min(found), max(found)
    best, worst = (low, high) if table.lower_is_better else (high, low)
    return (best[1], best[0]), (worst[1], worst[0])


def summary_rows(table):
    """One row per setup: ``(column index, label, models, geomean ratio, best, worst)``, best first."""
    out = []
    for index, label in enumerate(table.columns):
        models = sum(1 for _, values in table.rows if values[index] is not None)
        best, worst = _extremes(table, index)
        out.append((index, label, models, table.geomean[index], best, worst))
    sign = 1.0 if table.lower_is_better else -1.0
    out.sort(key=lambda r: (r[0] != table.baseline, r[3] is None, sign * (r[3] or 0.0), r[0]))
    return out


def _model_ratio(pair, width=None):
    """``model xRATIO``; in ``width``, the model's name gives way, not the ratio."""
    if pair is None:
        return "-"
    ratio = " x%.2f" % pair[1]
    name = pair[0] if width is None else _cut(pair[0], max(1, width - len(ratio)))
    return name + ratio


def _summary(table, width, top):
    rows = summary_rows(table)
    shown = rows[:max(1, top)]
    header = ["setup", "models", "geomean", "best model", "worst model"]
    cells = []
    for index, label, models, geo, best, worst in shown:
        baseline = index == table.baseline
        cells.append((label, "%d" % models, "-" if geo is None else "x%.2f" % geo,
                      "(baseline)" if baseline else best, None if baseline else worst))

    def strings(row, widths=(None,) * 5):
        return [c if isinstance(c, str) else _model_ratio(c, w) for c, w in zip(row, widths)]
    widths = [max(len(r[i]) for r in [header] + [strings(c) for c in cells]) for i in range(len(header))]
    widths = _fit(widths, width, (((3, 4), BEST_FLOOR), ((0,), MIN_CELL), ((3, 4), MIN_CELL)))
    body = [strings(c, widths) for c in cells]
    line = _lines([header] + body, widths, 1)
    out = [line(header), "  ".join("-" * w for w in widths)] + [line(r) for r in body]
    rest = len(rows) - len(shown)
    note = ("{:,} setups, sorted by the geometric mean of their ratios to the baseline, best first".format(len(rows))
            + ("; {:,} more not shown (--top N shows more)".format(rest) if rest else "")
            + "; every model and setup: --format csv, json or markdown")
    return out, note


def render_text(table, width=None, top=None):
    """The table as text; ``width`` (columns) decides between the full table and the summary."""
    full = _full(table)
    if top is None and (width is None or max(len(line) for line in full) <= width):
        return "\n".join(_wrap(_title(table), width or 10 ** 6) + full + _footnotes(table))
    width = width or 10 ** 6
    lines, note = _summary(table, width, top if top is not None else DEFAULT_TOP)
    out = _wrap(_title(table), width) + lines + _wrap(note, width)
    for text in _footnotes(table):
        out += _wrap(text, width)
    return "\n".join(out)


def render_markdown(table):
    header, body, geo = _cells(table)
    out = ["**%s at batch %d** (ratios to `%s`; %s is better)" % (
        table.label, table.batch, table.columns[table.baseline], "lower" if table.lower_is_better else "higher"), "",
        "| " + " | ".join(header) + " |", "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in body]
    out.append("| " + " | ".join("**%s**" % c for c in geo) + " |")
    notes = _footnotes(table)
    return "\n".join(out + ([""] + notes if notes else []))


def render_csv(table):
    buf = io.StringIO()
    writer = csv.writer(buf)
    sources = ["source:" + c for c in table.columns] if table.metric == "top1" else []
    writer.writerow(["model"] + table.columns + ["ratio:" + c for c in table.columns] + sources)
    for (model, values), (_, ratios) in zip(table.rows, table.ratios):
        row = ([model] + ["" if v is None else repr(round(v, 6)) for v in values]
               + ["" if r is None else repr(round(r, 6)) for r in ratios])
        if sources:
            row += [table.source_of(model, i) or "" for i in range(len(values))]
        writer.writerow(row)
    return buf.getvalue().rstrip("\n")
