"""The paper's figures, drawn with matplotlib (imported lazily) and saved as PNG and SVG.

Each figure function takes a :class:`Context` and returns a matplotlib Figure, or raises
:class:`Absent` with the reason it cannot be drawn from these profiles; the page lists
absent figures with their reasons. Figures 1, 2 and 8 depend only on the models (static
counts), figure 10 on several setups, the others are drawn once per setup.
"""
import math
import os

from edgeprof.reading.report import findings

MIB = 1024.0 * 1024.0
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
    """Fig. 1: top-1 accuracy per model."""
    models = [m for m in ctx.dataset.models.values() if m.get("top1") is not None]
    if not models:
        raise Absent("no profile has a top-1 accuracy (give --manifest with published accuracy)")
    models.sort(key=lambda m: m["top1"])
    fig, (ax,) = _figure()
    names = [m["name"] for m in models]
    ax.bar(names, [m["top1"] for m in models], color=[ctx.color(n) for n in names])
    for i, m in enumerate(models):
        ax.text(i, m["top1"] + 0.5, f"{m['top1']:.1f}", ha="center", fontsize="small")
    ax.set_ylabel("top-1 accuracy [%]")
    ax.set_ylim(min(m["top1"] for m in models) - 10, max(m["top1"] for m in models) + 5)
    ax.tick_params(axis="x", rotation=30)
    _family_legend(ax, ctx, names)
    return fig


def accuracy_vs_ops(ctx):
    """Fig. 2: top-1 against operations, blob area proportional to parameters."""
    models = [m for m in ctx.dataset.models.values() if m.get("top1") is not None and m.get("paper_ops")]
    if not models:
        raise Absent("no model has both top-1 accuracy and an operations count")
    fig, (ax,) = _figure()
    paper = findings.paper_models().values()
    ax.scatter([p["gops"] for p in paper], [p["top1"] for p in paper], s=[p["params_m"] * 4 for p in paper],
               facecolors="none", edgecolors="0.7", label="paper (Jetson TX1, Fig. 2)")
    label = _labeller(ax)
    for m in models:
        ax.scatter(m["paper_ops"] / 1e9, m["top1"], s=(m.get("params") or 0) / 1e6 * 4 + 10,
                   color=ctx.color(m["name"]), alpha=0.6, edgecolors="k")
        label(m["name"], m["paper_ops"] / 1e9, m["top1"])
    ax.set_xlabel("operations per image [G-Ops]")
    ax.set_ylabel("top-1 accuracy [%]")
    ax.set_title("blob area proportional to parameters", fontsize="small")
    ax.grid(True, alpha=0.3)
    _legend(ax)
    return fig


def time_vs_batch(ctx):
    """Fig. 3: inference time per image against batch size."""
    fig, ax = _lines_per_model(ctx, "per_image_ms")
    ax.set_yscale("log")
    _plain_ticks(ax.yaxis)
    ax.set_ylabel("inference time per image [ms] (log)")
    _legend(ax)
    return fig


def power_vs_batch(ctx):
    """Fig. 4: mean total power against batch size, idle power marked."""
    if ctx.found["power"]["status"] != "ok":
        raise Absent(ctx.found["power"]["reason"])
    fig, ax = _lines_per_model(ctx, "power_w")
    idle = ctx.found["power"]["idle_mean_w"]
    if idle is not None:
        ax.axhline(idle, color="0.4", linestyle="--", label=f"idle {idle:.2f} W")
    ax.set_ylabel("mean total power [W]")
    ax.set_ylim(bottom=0)
    _legend(ax)
    return fig


def memory_vs_batch(ctx):
    """Fig. 5a: memory footprint against batch size."""
    fig, ax = _lines_per_model(ctx, "memory_bytes", scale=1.0 / MIB)
    sources = sorted({r["memory_source"] for r in ctx.dataset.rows_of(ctx.setup) if r["memory_source"]})
    ax.set_ylabel(f"memory [MiB] ({', '.join(sources)})")
    _legend(ax)
    return fig


def _fit_line(ax, xs, slope, intercept, label):
    low, high = min(xs), max(xs)
    ax.plot([low, high], [intercept + slope * low, intercept + slope * high], color="0.3",
            linestyle="--", label=label)


def _r2_text(r2):
    return "n/a" if r2 is None else f"{r2:.3f}"


def memory_vs_params(ctx):
    """Fig. 5b: memory footprint at batch 1 against parameters, with a linear fit."""
    fit = ctx.found["memory_vs_params"]
    if fit["status"] != "ok":
        raise Absent(fit["reason"])
    points = findings.samples(ctx.dataset, ctx.setup, 1)
    points = [p for p in points if p.get("params") and p.get("memory_bytes") is not None]
    fig, (ax,) = _figure()
    xs = [p["params"] / 1e6 for p in points]
    label = _labeller(ax)
    for p, x in zip(points, xs):
        ax.scatter(x, p["memory_bytes"] / MIB, color=ctx.color(p["name"]), s=40)
        label(p["name"], x, p["memory_bytes"] / MIB)
    _fit_line(ax, xs, fit["slope_mib_per_mparam"], fit["intercept_mib"],
              f"{fit['intercept_mib']:.0f} MiB + {fit['slope_mib_per_mparam']:.2f} MiB/M params, "
              f"R^2 {_r2_text(fit['r2'])}")
    ax.set_xlabel("parameters [millions]")
    ax.set_ylabel(f"memory at batch 1 [MiB] ({', '.join(fit['memory_source'])})")
    ax.grid(True, alpha=0.3)
    _legend(ax)
    return fig


def ops_vs_time(ctx):
    """Fig. 6: operations against time per image, at the smallest and largest common batch."""
    fits = [f for f in ctx.found["time_vs_ops"] if f["status"] == "ok"]
    if not fits:
        raise Absent(ctx.found["time_vs_ops"][0]["reason"])
    fig, axes = _figure(len(fits))
    for ax, fit in zip(axes, fits):
        points = [p for p in findings.samples(ctx.dataset, ctx.setup, fit["batch"]) if p.get("paper_ops")]
        xs = [p["paper_ops"] / 1e9 for p in points]
        label = _labeller(ax)
        for p, x in zip(points, xs):
            ax.scatter(x, p["per_image_ms"], color=ctx.color(p["name"]), s=40)
            label(p["name"], x, p["per_image_ms"])
        _fit_line(ax, xs, fit["slope_ms_per_gop"], fit["intercept_ms"],
                  f"{fit['intercept_ms']:.2f} ms + {fit['slope_ms_per_gop']:.3f} ms/G-Op\nR^2 {_r2_text(fit['r2'])}")
        ax.set_title(f"batch {fit['batch']}", fontsize="medium")
        ax.set_xlabel("operations per image [G-Ops]")
        ax.set_ylabel("inference time per image [ms]")
        ax.grid(True, alpha=0.3)
        _legend(ax)
    return fig


def _accuracy_against(ctx, finding, field, xlabel):
    """Top-1 against ``field`` at the batch of ``ctx.found[finding]``: one named dot per model, log x axis.

    Returns (fig, ax, fit, points); ``xlabel`` may name ``{batch}``.

    Raises:
        Absent: the finding could not be made.
    """
    fit = ctx.found[finding]
    if fit["status"] != "ok":
        raise Absent(fit["reason"])
    points = [p for p in findings.samples(ctx.dataset, ctx.setup, fit["batch"])
              if p.get("top1") is not None and p.get(field) is not None]
    fig, (ax,) = _figure()
    label = _labeller(ax)
    for p in points:
        ax.scatter(p[field], p["top1"], color=ctx.color(p["name"]), s=40)
        label(p["name"], p[field], p["top1"])
    ax.set_xscale("log")
    _plain_ticks(ax.xaxis)
    ax.set_xlabel(xlabel.format(batch=fit["batch"]))
    ax.set_ylabel("top-1 accuracy [%]")
    ax.grid(True, which="both", alpha=0.3)
    return fig, ax, fit, points


def accuracy_vs_throughput(ctx):
    """Fig. 7a: top-1 against images per second, with the fitted hyperbola."""
    fig, ax, fit, points = _accuracy_against(ctx, "accuracy_vs_throughput", "throughput_ips",
                                             "throughput at batch {batch} [images/s] (log)")
    low = min(p["throughput_ips"] for p in points)
    high = max(p["throughput_ips"] for p in points)
    xs = [low * (high / low) ** (i / 50.0) for i in range(51)]
    ax.plot(xs, [fit["a_pct"] + fit["b_pct_ips"] / x for x in xs], color="0.3", linestyle="--",
            label=f"{fit['a_pct']:.1f} + {fit['b_pct_ips']:.1f} / ips, R^2 {_r2_text(fit['r2'])}")
    _legend(ax)
    return fig


def accuracy_vs_energy(ctx):
    """Fig. 7b: top-1 against energy per image."""
    fig, ax, fit, points = _accuracy_against(ctx, "accuracy_vs_energy", "energy_per_image_mj",
                                             "energy per image at batch {batch} [mJ] (log)")
    ax.set_title(f"Spearman rho {fit['spearman_rho']:.2f}" if fit["spearman_rho"] is not None else "",
                 fontsize="small")
    _family_legend(ax, ctx, [p["name"] for p in points])
    return fig


def density(ctx):
    """Fig. 8: top-1 accuracy per million parameters."""
    found = ctx.results["density"]
    if found["status"] != "ok":
        raise Absent(found["reason"])
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
    """Fig. 9: share of time in fully connected layers against batch size."""
    if ctx.found["fc_share"]["status"] != "ok":
        raise Absent(ctx.found["fc_share"]["reason"])
    fig, ax = _lines_per_model(ctx, "fc_share", scale=100.0)
    ax.set_ylabel("time in fully connected layers [%]")
    ax.set_ylim(0, 100)
    _legend(ax)
    return fig


def across(ctx):
    """Fig. 10: speed-up and energy ratio of each setup against the first, per model."""
    found = ctx.results["across"]
    if found["status"] != "ok":
        raise Absent(found["reason"])
    fig, axes = _figure(2)
    names = sorted({r["model"] for s in found["setups"] for r in s["models"]})
    width = 0.8 / len(found["setups"])
    for ax, field, label in ((axes[0], "speedup", "speed-up per image [x]"),
                             (axes[1], "energy_ratio", "energy per image ratio [x]")):
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


# id, number, title, function; per_setup says whether it is drawn once per setup.
STATIC = (
    ("accuracy", "1", "Top-1 accuracy per model", accuracy),
    ("accuracy_vs_ops", "2", "Top-1 accuracy vs operations (blob size: parameters)", accuracy_vs_ops),
    ("density", "8", "Accuracy per parameter (information density)", density),
    ("across", "10", "Across setups: speed-up and energy ratio per model", across),
)
PER_SETUP = (
    ("time_vs_batch", "3", "Inference time per image vs batch size", time_vs_batch),
    ("power_vs_batch", "4", "Power vs batch size (idle marked)", power_vs_batch),
    ("memory_vs_batch", "5a", "Memory vs batch size", memory_vs_batch),
    ("memory_vs_params", "5b", "Memory vs parameters at batch 1, linear fit", memory_vs_params),
    ("ops_vs_time", "6", "Operations vs inference time per image, linear fit", ops_vs_time),
    ("accuracy_vs_throughput", "7a", "Top-1 vs throughput, fitted hyperbola", accuracy_vs_throughput),
    ("accuracy_vs_energy", "7b", "Top-1 vs energy per image", accuracy_vs_energy),
    ("fc_share", "9", "Share of time in fully connected layers vs batch size", fc_share),
)


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
        entry = {"id": fig_id, "number": number, "title": title, "setup": None}
        drawn.append(_draw(func, static_ctx, folder, fig_id, entry))
    for setup, found in zip(dataset.setups, results["setups"]):
        ctx = Context(dataset, results, setup, found)
        for fig_id, number, title, func in PER_SETUP:
            entry = {"id": fig_id, "number": number, "title": title, "setup": setup.key}
            drawn.append(_draw(func, ctx, folder, f"{fig_id}__{setup.key}", entry))
    drawn.sort(key=lambda e: (_number_key(e["number"]), e["setup"] or ""))
    return drawn


def _number_key(number):
    digits = "".join(c for c in number if c.isdigit())
    return (int(digits), number)
