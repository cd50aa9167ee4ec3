"""The paper's figures, drawn with matplotlib (imported lazily) and saved as PNG and SVG.

Each figure function takes a :class:`Context` and returns a matplotlib Figure, or raises
:class:`Absent` with the reason it cannot be drawn from these profiles; the page lists
absent figures with their reasons. Every figure is numbered as in the paper (Figs. 1-10); the
three beyond it (accuracy vs energy, FC share, across setups) are lettered A-C. Figures 1, 2 and
10 depend only on the models (static counts), C on several setups, the others are drawn once per
setup from the points the findings kept, so a figure shows what its verdict was computed on.
"""
import math
import os

from edgeprof.reading.report import findings

MIB = 1024.0 * 1024.0
BLOB_MIN = 12.0       # points^2: the smallest blob
BLOB_PER_MPARAM = 3.0  # blob area per million parameters (Figs. 2, 7, 8)
BLOB_PER_GOP = 12.0   # blob area per G-Op (Fig. 9)
FIG_SIZE_IN = (7.5, 4.6)
PNG_DPI = 110
# matplotlib's "tab10" then "Dark2" colours: one hue per model family.
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22", "#17becf", "#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02")


class Absent(Exception):
    """A figure the profiles have no data for; the message says why."""


class Context:
    """What a figure function reads: the dataset, the findings, one setup (or None), family colours."""

    def __init__(self, dataset, results, setup=None, setup_findings=None):
        self.dataset = dataset
        self.results = results
        self.setup = setup
        self.found = setup_findings
        families = sorted({m["family"] for m in dataset.models.values()})
        self.colors = {f: PALETTE[i % len(PALETTE)] for i, f in enumerate(families)}

    def color(self, model_name):
        return self.colors[self.dataset.models[model_name]["family"]]

    def series(self, field):
        """{model: ([batch...], [value...])} of the setup's ok runs with ``field``, sorted by batch."""
        out = {}
        for row in sorted(self.dataset.rows_of(self.setup), key=lambda r: r["batch"]):
            if row[field] is not None:
                xs, ys = out.setdefault(row["model"], ([], []))
                xs.append(row["batch"])
                ys.append(row[field])
        return out

    def not_ok(self):
        """{model: 'oom at 64' ...} for runs that did not complete, for legends."""
        out = {}
        for row in self.dataset.rows_of(self.setup, status=None):
            if row["status"] != "ok":
                out.setdefault(row["model"], []).append(f"{row['status']} at {row['batch']}")
        return {m: ", ".join(v) for m, v in out.items()}


def _labeller(ax):
    """A function that names a point of ``ax``; a label near an earlier one steps down so they do not overlap."""
    placed = []

    def label(name, x, y):
        px, py = ax.transData.transform((x, y))
        step = sum(1 for qx, qy in placed if abs(qx - px) < 70 and abs(qy - py) < 12)
        ax.annotate(name, (x, y), fontsize="small", xytext=(4, 4 - 11 * step), textcoords="offset points")
        placed.append((px, py))
    return label


def _figure(columns=1):
    from matplotlib.figure import Figure
    width, height = FIG_SIZE_IN
    fig = Figure(figsize=(width * (1 if columns == 1 else 0.75 * columns), height))
    axes = [fig.add_subplot(1, columns, i + 1) for i in range(columns)]
    return fig, axes


def _family_legend(ax, ctx, names):
    from matplotlib.patches import Patch
    families = sorted({ctx.dataset.models[n]["family"] for n in names})
    ax.legend(handles=[Patch(color=ctx.colors[f], label=f) for f in families], title="family",
              fontsize="small", loc="best")


def _batch_axis(ax, batches):
    from matplotlib.ticker import NullFormatter, NullLocator
    ax.set_xscale("log", base=2)
    ax.set_xticks(batches)
    ax.set_xticklabels([str(b) for b in batches])
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("batch size [images]")


def _lines_per_model(ctx, field, scale=1.0):
    fig, (ax,) = _figure()
    data = ctx.series(field)
    if not data:
        raise Absent(f"no run of this setup has {field}")
    notes = ctx.not_ok()
    markers = "osD^v<>ph*"
    for i, (name, (xs, ys)) in enumerate(sorted(data.items())):
        label = name + (f" ({notes[name]}: missing)" if name in notes else "")
        ax.plot(xs, [y * scale for y in ys], marker=markers[i % len(markers)], color=ctx.color(name), label=label)
    _batch_axis(ax, sorted({r["batch"] for r in ctx.dataset.rows_of(ctx.setup, status=None)}))
    ax.grid(True, which="both", alpha=0.3)
    return fig, ax


def _plain_ticks(axis):
    """Tick labels of a log axis as plain numbers (50, 100) instead of powers (5 x 10^1)."""
    from matplotlib.ticker import FuncFormatter
    plain = FuncFormatter(lambda value, _: f"{value:g}")
    axis.set_major_formatter(plain)
    axis.set_minor_formatter(plain)


def _legend(ax):
    ax.legend(fontsize="small", loc="best")


def accuracy(ctx):
    """Paper Fig. 1: top-1 accuracy per model."""
    models = [m for m in ctx.dataset.models.values() if m.get("top1") is not None]
    if not models:
        raise Absent("no profile has a top-1 accuracy (give --manifest with published accuracy)")
    models.sort(key=lambda m: m["top1"])
    fig, (ax,) = _figure()
    names = [m["name"] for m in models]
    ax.bar(names, [m["top1"] for m in models], color=[ctx.color(n) for n in names])
    for i, m in enumerate(models):
        ax.text(i, m["top1"] + 0.5, f"{m['top1']:.1f}", ha="center", fontsize="small")
    ax.set_ylabel("top-1 accuracy [%] (published)")
    ax.set_ylim(min(m["top1"] for m in models) - 10, max(m["top1"] for m in models) + 5)
    ax.tick_params(axis="x", rotation=30)
    _family_legend(ax, ctx, names)
    return fig


def _blobs(ax, ctx, rows, x, y, area, labels=None):
    """One named blob per row (``row['model']``) at (row[x], row[y]) with area ``area(row)``;
    ``labels``: (x label, y label) for the axes."""
    label = _labeller(ax)
    for r in rows:
        ax.scatter(r[x], r[y], s=BLOB_MIN + area(r), color=ctx.color(r["model"]), alpha=0.6, edgecolors="k")
        label(r["model"], r[x], r[y])
    ax.grid(True, alpha=0.3)
    if labels:
        ax.set_xlabel(labels[0])
        ax.set_ylabel(labels[1])


def _present(found):
    """``found`` when the finding was computed; else the figure is absent for the finding's reason."""
    if found["status"] != "ok":
        raise Absent(found["reason"])
    return found


def _by_params(row):
    """Blob area proportional to the parameters, as in the paper's figures."""
    return BLOB_PER_MPARAM * row["params_m"]


def accuracy_vs_ops(ctx):
    """Paper Fig. 2: top-1 against operations, blob area proportional to parameters."""
    models = [{"model": m["name"], "gops": m["paper_ops"] / 1e9, "top1": m["top1"],
               "params_m": (m.get("params") or 0) / 1e6}
              for m in ctx.dataset.models.values() if m.get("top1") is not None and m.get("paper_ops")]
    if not models:
        raise Absent("no model has both top-1 accuracy and an operations count")
    fig, (ax,) = _figure()
    paper = findings.paper_models().values()
    ax.scatter([p["gops"] for p in paper], [p["top1"] for p in paper],
               s=[BLOB_MIN + BLOB_PER_MPARAM * p["params_m"] for p in paper],
               facecolors="none", edgecolors="0.7", label="paper (Jetson TX1, Fig. 2)")
    _blobs(ax, ctx, models, "gops", "top1", _by_params, ("operations per image [G-Ops]", "top-1 accuracy [%]"))
    _legend(ax)
    return fig


def time_vs_batch(ctx):
    """Paper Fig. 3: inference time per image against batch size (log-log)."""
    fig, ax = _lines_per_model(ctx, "per_image_ms")
    ax.set_yscale("log")
    _plain_ticks(ax.yaxis)
    ax.set_ylabel("inference time per image [ms] (log)")
    _legend(ax)
    return fig


def power_vs_batch(ctx):
    """Paper Fig. 4: net power (total minus idle) against batch size; total power thin and dotted."""
    found = _present(ctx.found["power"])
    net = found["net_mean_w"] is not None
    fig, ax = _lines_per_model(ctx, "net_w" if net else "power_w")
    if net:
        for name, (xs, ys) in sorted(ctx.series("power_w").items()):
            ax.plot(xs, ys, linestyle=":", linewidth=0.8, color=ctx.color(name))
        ax.set_ylabel("net power [W] (total minus idle; total dotted)")
    else:
        ax.set_ylabel("total power [W] (no idle measured: net unknown)")
    ax.set_ylim(bottom=0)
    _legend(ax)
    return fig


def memory_vs_batch(ctx):
    """Paper Fig. 5: memory footprint against batch size."""
    fig, ax = _lines_per_model(ctx, "memory_bytes", scale=1.0 / MIB)
    kinds = sorted({f"{r['memory_kind']}, {r['memory_source']}" for r in ctx.dataset.rows_of(ctx.setup)
                    if r["memory_source"]})
    ax.set_ylabel("memory [MiB]")
    ax.set_title("; ".join(kinds), fontsize="small")
    _legend(ax)
    return fig


def memory_vs_params(ctx):
    """Paper Fig. 6: memory against parameter memory (MB of fp32 parameters), with the paper's line."""
    fit = _present(ctx.found["memory_vs_params"])
    fig, (ax,) = _figure()
    _blobs(ax, ctx, fit["points"], "params_mb", "memory_mb", lambda r: 28.0)
    xs = [0.0, max(p["params_mb"] for p in fit["points"])]
    ax.plot(xs, [fit["floor_mb"] + fit["slope_mb_per_param_mb"] * x for x in xs], color="0.3", linestyle="--",
            label=f"{fit['floor_mb']:.0f} MB + {fit['slope_mb_per_param_mb']:.2f} x parameters, n = {fit['n']}")
    ax.plot(xs, [fit["paper_floor_mb"] + fit["paper_slope"] * x for x in xs], color="0.7", linestyle=":",
            label="paper: 200 MB + 1.30 x parameters")
    ax.set_xlabel("parameters [MB, fp32]")
    ax.set_ylabel(f"memory at batch {fit['batch']} [MB]")
    ax.set_title(fit["memory"], fontsize="x-small")
    _legend(ax)
    return fig


def _panels(ctx, finding):
    """One panel per batch size the finding was tested at: (fig, [(ax, part)])."""
    found = _present(ctx.found[finding])
    parts = [p for p in found["batches"] if p["status"] == "ok"]
    fig, axes = _figure(len(parts))
    for ax, part in zip(axes, parts):
        ax.set_title(f"batch {part['batch']}: {part['verdict'].split(':')[0]}", fontsize="small")
    return fig, list(zip(axes, parts))


def ops_vs_time(ctx):
    """Paper Fig. 7: operations against time per image, blob area proportional to parameters."""
    fig, panels = _panels(ctx, "time_vs_ops")
    for ax, part in panels:
        _blobs(ax, ctx, part["points"], "per_image_ms", "gops", _by_params,
               ("inference time per image [ms]", "operations per image [G-Ops]"))
        gops = [0.0, max(p["gops"] for p in part["points"])]
        ax.plot([part["intercept_ms"] + part["slope_ms_per_gop"] * g for g in gops], gops, color="0.3",
                linestyle="--", label=f"time = {part['intercept_ms']:.2f} ms + {part['slope_ms_per_gop']:.3f} ms/G-Op")
        _legend(ax)
    return fig


def ops_vs_power(ctx):
    """Paper Fig. 8: operations against (net) power, blob area proportional to parameters."""
    fig, panels = _panels(ctx, "ops_vs_power")
    for ax, part in panels:
        _blobs(ax, ctx, part["points"], "power_w", "gops", _by_params,
               (ctx.found["ops_vs_power"]["basis"].split(" (")[0] + " [W]", "operations per image [G-Ops]"))
    return fig


def accuracy_vs_throughput(ctx):
    """Paper Fig. 9: top-1 against images per second, blob area proportional to operations, upper bound shaded."""
    fig, panels = _panels(ctx, "accuracy_vs_throughput")
    for ax, part in panels:
        _blobs(ax, ctx, part["points"], "ips", "top1", lambda r: BLOB_PER_GOP * r["gops"])
        front = [p for p in part["points"] if p["frontier"]]
        if len(front) >= 2:
            xs = [0.0, max(p["ips"] for p in part["points"]) * 1.05]
            line = part["shapes"]["paper"]
            # the frontier's line raised until no model lies above it: the paper's linear upper bound
            lift = max(p["top1"] - line["a_pct"] - line["k_pct_per_ips"] * p["ips"] for p in part["points"])
            bound = [line["a_pct"] + max(lift, 0.0) + line["k_pct_per_ips"] * x for x in xs]
            low = min(p["top1"] for p in part["points"]) - 5
            ax.fill_between(xs, [low, low], bound, color="0.85", alpha=0.5, label="below the linear upper bound")
            ax.plot(xs, bound, color="0.3", linestyle="--", label="upper bound: line in images/s")
        ax.set_xlabel("throughput [images/s]")
        ax.set_ylabel(f"top-1 accuracy [%] ({part['points'][0]['accuracy_source']})")
        ax.set_ylim(min(p["top1"] for p in part["points"]) - 3, max(p["top1"] for p in part["points"]) + 3)
        _legend(ax)
    return fig


def accuracy_vs_energy(ctx):
    """Fig. A (not in the paper; its finding 3): top-1 against energy per image."""
    fig, panels = _panels(ctx, "accuracy_vs_energy")
    for ax, part in panels:
        _blobs(ax, ctx, part["points"], "energy_mj", "top1", lambda r: 28.0)
        ax.set_xscale("log")
        _plain_ticks(ax.xaxis)
        ax.set_xlabel(f"{part['energy'].split(' (')[0]} [mJ] (log)")
        ax.set_ylabel("top-1 accuracy [%]")
    return fig


def density(ctx):
    """Paper Fig. 10: top-1 accuracy per million parameters."""
    found = _present(ctx.results["density"])
    rows = found["models"]
    fig, (ax,) = _figure()
    names = [r["model"] for r in rows]
    ax.bar(names, [r["pct_per_mparam"] for r in rows], color=[ctx.color(n) for n in names])
    paper = [(i, r["paper_pct_per_mparam"]) for i, r in enumerate(rows) if r["paper_pct_per_mparam"]]
    if paper:
        ax.scatter([i for i, _ in paper], [v for _, v in paper], marker="_", s=400, color="k",
                   label="paper (Fig. 10)", zorder=3)
        _legend(ax)
    ax.set_ylabel("top-1 accuracy per parameter [% / M params]")
    ax.tick_params(axis="x", rotation=30)
    return fig


def fc_share(ctx):
    """Fig. B (the paper's v1 text): share of time in fully connected layers against batch size."""
    if ctx.found["fc_share"].get("per_layer", {}).get("status") != "ok":
        raise Absent(ctx.found["fc_share"].get("per_layer", ctx.found["fc_share"]).get("reason"))
    fig, ax = _lines_per_model(ctx, "fc_share", scale=100.0)
    ax.set_ylabel("time in fully connected layers [%]")
    ax.set_ylim(0, 100)
    _legend(ax)
    return fig


def across(ctx):
    """Fig. C (beyond the paper): speed-up and energy ratio of each setup against the first, per model."""
    found = _present(ctx.results["across"])
    fig, axes = _figure(2)
    names = sorted({r["model"] for s in found["setups"] for r in s["models"]})
    width = 0.8 / len(found["setups"])
    for ax, field, label in ((axes[0], "speedup", "speed-up per image [x]"),
                             (axes[1], "energy_ratio", "energy per image ratio [x] (same power scope only)")):
        for k, setup in enumerate(found["setups"]):
            values = {r["model"]: r[field] for r in setup["models"]}
            ax.bar([i + k * width for i in range(len(names))],
                   [values.get(n) or math.nan for n in names], width, label=setup["label"])
        ax.axhline(1.0, color="0.3", linewidth=0.8)
        ax.set_xticks([i + 0.4 - width / 2 for i in range(len(names))])
        ax.set_xticklabels(names, rotation=30, fontsize="small")
        ax.set_ylabel(label)
        ax.set_title(f"vs {found['baseline_label']}, batch {found['batch']}", fontsize="small")
        _legend(ax)
    return fig


# id, number (the paper's figure, or a letter beyond it), title, function; per_setup: drawn once per setup.
STATIC = (
    ("accuracy", "1", "Top-1 accuracy per model", accuracy),
    ("accuracy_vs_ops", "2", "Top-1 accuracy vs operations, blob size proportional to parameters", accuracy_vs_ops),
    ("density", "10", "Accuracy per parameter (information density)", density),
    ("across", "C", "Across setups: speed-up and energy ratio per model", across),
)
PER_SETUP = (
    ("time_vs_batch", "3", "Inference time per image vs batch size", time_vs_batch),
    ("power_vs_batch", "4", "Net power (total minus idle) vs batch size", power_vs_batch),
    ("memory_vs_batch", "5", "Memory vs batch size", memory_vs_batch),
    ("memory_vs_params", "6", "Memory vs parameters, with the paper's 200 MB + 1.30 x line", memory_vs_params),
    ("ops_vs_time", "7", "Operations vs inference time, blob size proportional to parameters", ops_vs_time),
    ("ops_vs_power", "8", "Operations vs net power, blob size proportional to parameters", ops_vs_power),
    ("accuracy_vs_throughput", "9", "Top-1 vs images per second, blob size proportional to operations, "
     "linear upper bound", accuracy_vs_throughput),
    ("accuracy_vs_energy", "A", "Top-1 vs energy per image (the paper's finding 3)", accuracy_vs_energy),
    ("fc_share", "B", "Share of time in fully connected layers vs batch size", fc_share),
)


def caption(number, title):
    """``Paper Fig. 7. Title`` for the paper's figures, ``Fig. A (not in the paper). Title`` beyond them."""
    if number.isdigit():
        return f"Paper Fig. {number}. {title}"
    return f"Fig. {number} (not in the paper). {title}"


def _save(fig, folder, stem):
    fig.tight_layout()
    files = []
    for ext in ("png", "svg"):
        path = os.path.join(folder, f"{stem}.{ext}")
        fig.savefig(path, dpi=PNG_DPI)
        files.append(os.path.join("figures", f"{stem}.{ext}"))
    return files


def _draw(func, ctx, folder, stem, entry):
    try:
        fig = func(ctx)
    except Absent as exc:
        entry.update(status="absent", reason=str(exc))
        return entry
    entry.update(status="ok", files=_save(fig, folder, stem))
    return entry


def draw_all(dataset, results, folder):
    """Draw every figure into ``folder``; returns one entry per figure (drawn or absent, with why)."""
    if not os.path.isdir(folder):
        os.makedirs(folder)
    drawn = []
    static_ctx = Context(dataset, results)
    for fig_id, number, title, func in STATIC:
        entry = {"id": fig_id, "number": number, "paper_figure": number if number.isdigit() else None,
                 "title": title, "caption": caption(number, title), "setup": None}
        drawn.append(_draw(func, static_ctx, folder, fig_id, entry))
    for setup, found in zip(dataset.setups, results["setups"]):
        ctx = Context(dataset, results, setup, found)
        for fig_id, number, title, func in PER_SETUP:
            entry = {"id": fig_id, "number": number, "paper_figure": number if number.isdigit() else None,
                     "title": title, "caption": caption(number, title), "setup": setup.key}
            drawn.append(_draw(func, ctx, folder, f"{fig_id}__{setup.key}", entry))
    drawn.sort(key=lambda e: (_number_key(e["number"]), e["setup"] or ""))
    return drawn


def _number_key(number):
    """The paper's figures in order, then the lettered ones."""
    return (0, int(number), "") if number.isdigit() else (1, 0, number)
