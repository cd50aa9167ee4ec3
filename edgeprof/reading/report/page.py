"""Write the report: findings.json (every number), findings.md and index.html (one page).

Both texts are made from the same summaries, so the page and the Markdown say the same thing.
The page is self-contained apart from its relative links to figures/*.png.
"""
import functools
import html
import json
import os

from edgeprof import __version__
from edgeprof.reading import predict
from edgeprof.records.files import write_atomic

WIDE_FIGURES = ("ops_vs_time", "across")  # two panels side by side
TARGET_LABELS = {"per_image_ms": "latency per image", "energy_per_image_mj": "energy per image"}


def _num(value, digits=3):
    if value is None:
        return "n/a"
    return f"{value:.{digits}g}" if abs(value) < 1000 else f"{value:,.0f}"


def _scaled(value, factor):
    return None if value is None else value * factor


def _times(ratio):
    return "n/a" if ratio is None else f"{ratio:.2f}x"


def _pct(share):
    return "n/a" if share is None else f"{100 * share:.0f}%"


def _verdict(found):
    return f"{found['verdict']} (paper: {found['paper']}; rule: {found['rule']})"


def _finding(title, verdict=True):
    """Decorator for one finding's summary: ``text(found)`` -> ``summary(found)`` giving (title, sentence).

    ``title`` may name ``{batch}`` (the finding's batch). The sentence is "absent: <reason>" when
    the finding could not be made; otherwise ``text(found)``, then "; " and the verdict against the
    paper unless ``verdict`` is False.
    """
    def decorate(text):
        @functools.wraps(text)
        def summary(found):
            heading = title.format(batch=found.get("batch"))
            if found["status"] != "ok":
                return heading, "absent: " + found["reason"]
            return heading, text(found) + ("; " + _verdict(found) if verdict else "")
        return summary
    return decorate


@_finding("Operations estimate inference time (batch {batch})")
def _time_vs_ops(found):
    return (f"per-image time = {_num(found['intercept_ms'])} ms + {_num(found['slope_ms_per_gop'])} ms "
            f"per G-Op, R^2 = {_num(found['r2'], 4)} over {found['n']} models")


@_finding("Power across batch sizes and models")
def _power(found):
    idle = "" if found["idle_mean_w"] is None else f", idle {_num(found['idle_mean_w'])} W"
    return (f"mean {_num(found['mean_w'])} W, std {_num(found['std_w'])} W "
            f"(std/mean {_pct(found['cov'])}), range {_num(found['min_w'])}-{_num(found['max_w'])} W "
            f"over {found['n']} runs; the largest change over batch sizes of one model is "
            f"{_num(found['largest_range_over_batches_w'])} W{idle}")


@_finding("Accuracy vs throughput (batch {batch})")
def _hyperbola(found):
    return (f"top-1 = {_num(found['a_pct'])} % + {_num(found['b_pct_ips'])} / (images/s), "
            f"R^2 = {_num(found['r2'])}, Spearman rho(throughput, top-1) = "
            f"{_num(found['spearman_rho'])} over {found['n']} models")


@_finding("Accuracy vs energy per image (batch {batch})")
def _energy(found):
    return (f"Spearman rho(energy, top-1) = {_num(found['spearman_rho'])}; the most accurate model "
            f"({found['most_accurate']}) costs {_num(found['its_energy_per_image_mj'])} mJ per image, "
            f"the cheapest {_num(found['min_energy_per_image_mj'])} mJ")


@_finding("Memory vs parameters (batch 1)")
def _memory(found):
    return (f"memory = {_num(found['intercept_mib'])} MiB + {_num(found['slope_mib_per_mparam'])} MiB "
            f"per million parameters, R^2 = {_num(found['r2'], 4)} "
            f"({', '.join(found['memory_source'])})")


@_finding("Share of time in fully connected layers", verdict=False)
def _fc(found):
    parts = []
    for m in found["models"]:
        if m["drops_from_batch"] is not None:
            where = f"drops from batch {m['drops_from_batch']}"
        else:
            where = "one batch size only" if m["first_batch"] == m["last_batch"] else "does not drop"
        parts.append(f"{m['model']} {_pct(m['first_share'])} at batch {m['first_batch']} -> "
                     f"{_pct(m['last_share'])} at batch {m['last_batch']} ({where})")
    verdict = found["verdict"]
    if verdict in ("agrees with the paper", "contradicts the paper"):
        verdict = _verdict(found)
    return "; ".join(parts) + "; " + verdict


def setup_summaries(found):
    """(title, sentence) pairs of one setup's findings, in the paper's order."""
    rows = [_time_vs_ops(f) for f in found["time_vs_ops"]]
    rows += [_power(found["power"]), _hyperbola(found["accuracy_vs_throughput"]),
             _energy(found["accuracy_vs_energy"]), _memory(found["memory_vs_params"]), _fc(found["fc_share"])]
    return rows


@_finding("Accuracy per parameter", verdict=False)
def density_summary(found):
    return (f"best: {found['best']} with {_num(found['best_pct_per_mparam'])} % top-1 per million parameters "
            f"(paper: {found['paper']})")


def prediction_rows(found):
    """Rows (target, predictor, within +-10%, RMSPE %, Spearman rho, note) of the leave-one-out scores."""
    rows = []
    for target in ("per_image_ms", "energy_per_image_mj"):
        for loo in found["prediction"][target]:
            if loo["status"] == "ok":
                s = loo["score"]
                rows.append((TARGET_LABELS[target], loo["label"], _pct(s["within_10pct_share"]),
                             f"{s['rmspe_pct']:.1f}", _num(s["spearman_rho"], 2), f"{s['n']} models"))
            else:
                rows.append((TARGET_LABELS[target], loo["label"], "-", "-", "-", "absent: " + loo["reason"]))
    return rows


PREDICTION_HEADER = ("predicts", "predictor", "within +-10%", "RMSPE [%]", "Spearman rho", "note")


def _literature_line(found):
    lit = found["prediction"]["literature"]
    return (f"For comparison: {lit['help_note']}; {lit['nn_meter_note']}. Leave-one-out at batch "
            f"{found['prediction']['batch']}: each model is predicted from a fit on all the others.")


def across_lines(found):
    if found["status"] != "ok":
        return ["absent: " + found["reason"]]
    lines = []
    for s in found["setups"]:
        lines.append(f"{s['label']} vs {found['baseline_label']} at batch {found['batch']}: geometric mean "
                     f"speed-up {_times(s['geomean_speedup'])}, energy ratio {_times(s['geomean_energy_ratio'])} "
                     f"over {len(s['models'])} models")
    return lines


def _md_table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines


def _runs_line(found):
    runs = found["runs"]
    line = f"runs: {runs['ok']} ok, {runs['oom']} out of memory, {runs['error']} failed"
    if runs["not_ok"]:
        line += " (" + ", ".join(f"{r['model']} batch {r['batch']}: {r['status']}" for r in runs["not_ok"]) + ")"
    reason = found["setup"]["power_reason"]
    return line + (f". Power: not measured: {reason}" if reason else "")


def markdown(results, drawn):
    """findings.md: every finding with its number, per setup, then the figures that are absent and why."""
    lines = ["# Findings", "", f"edgeprof {__version__}, from {len(results['files'])} profile files.", ""]
    title, text = density_summary(results["density"])
    lines += [f"- **{title}**: {text}", ""]
    for found in results["setups"]:
        lines += [f"## {found['setup']['label']}", "", _runs_line(found), ""]
        lines += [f"- **{t}**: {x}" for t, x in setup_summaries(found)]
        lines += ["", "### Predicting from operations (leave-one-out)", ""]
        lines += _md_table(PREDICTION_HEADER, prediction_rows(found))
        lines += ["", _literature_line(found), ""]
    lines += ["## Across setups", ""] + ["- " + x for x in across_lines(results["across"])] + [""]
    absent = [e for e in drawn if e["status"] != "ok"]
    if absent:
        lines += ["## Figures not drawn", ""]
        lines += [f"- Fig. {e['number']} {e['title']}{_for_setup(e)}: {e['reason']}" for e in absent]
    return "\n".join(lines) + "\n"


def _for_setup(entry):
    return f" ({entry['setup']})" if entry["setup"] else ""


def _h(text):
    return html.escape(str(text))


def _html_table(header, rows):
    head = "".join(f"<th>{_h(c)}</th>" for c in header)
    body = "".join("<tr>" + "".join(f"<td>{_h(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _html_list(pairs):
    return "<ul>" + "".join(f"<li><b>{_h(t)}</b>: {_h(x)}</li>" for t, x in pairs) + "</ul>"


def _models_table(results):
    header = ("model", "family", "params [M]", "G-Ops (paper convention)", "MACs [G]", "top-1 [%]")
    rows = []
    for m in results["models"]:
        rows.append((m["name"], m.get("family") or "", _num(_scaled(m.get("params"), 1e-6)),
                     _num(_scaled(m.get("paper_ops"), 1e-9)), _num(_scaled(m.get("macs"), 1e-9)),
                     _num(m.get("top1"))))
    return _html_table(header, rows)


def _figure_html(entry):
    caption = f"Fig. {entry['number']}. {entry['title']}"
    if entry["status"] != "ok":
        return f'<div class="absent"><b>{_h(caption)}</b>: not drawn, {_h(entry["reason"])}</div>'
    png = entry["files"][0]
    wide = ' class="wide"' if entry["id"] in WIDE_FIGURES else ""
    return (f'<figure{wide}><a href="{_h(png)}"><img src="{_h(png)}" alt="{_h(caption)}"></a>'
            f"<figcaption>{_h(caption)} (<a href=\"{_h(entry['files'][1])}\">SVG</a>)</figcaption></figure>")


STYLE = ("body{font-family:sans-serif;max-width:1300px;margin:1em auto;padding:0 1em;color:#222}"
         "table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:3px 8px;"
         "text-align:left;font-size:90%}figure{display:inline-block;margin:.5em;vertical-align:top}"
         "img{max-width:620px;border:1px solid #eee}figure.wide img{max-width:1260px}figcaption{font-size:90%}"
         ".absent{color:#844;margin:.3em 0}li{margin:.25em 0}")


def page(results, drawn):
    """index.html: models, findings, prediction scores and figures per setup, absent figures with why."""
    def figures_of(key):
        return [e for e in drawn if e["setup"] == key]
    head = f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>edgeprof report</title><style>{STYLE}</style>'
    intro = (f"<p>The analysis of Canziani, Paszke and Culurciello (2016) for these profiles; edgeprof "
             f"{_h(__version__)}, {len(results['files'])} profile files. Numbers: "
             '<a href="findings.json">findings.json</a>, <a href="findings.md">findings.md</a>.</p>')
    parts = [head + "</head><body>", "<h1>edgeprof report</h1>", intro,
             "<h2>Models</h2>", _models_table(results),
             _html_list([density_summary(results["density"])]),
             "".join(_figure_html(e) for e in figures_of(None) if e["id"] != "across")]
    for found in results["setups"]:
        parts += [f"<h2>{_h(found['setup']['label'])}</h2>", f"<p>{_h(_runs_line(found))}</p>",
                  "<h3>Findings</h3>", _html_list(setup_summaries(found)),
                  "<h3>Predicting from operations (leave-one-out)</h3>",
                  _html_table(PREDICTION_HEADER, prediction_rows(found)),
                  f"<p>{_h(_literature_line(found))}</p>", "<h3>Figures</h3>",
                  "".join(_figure_html(e) for e in figures_of(found["setup"]["key"]))]
    parts += ["<h2>Across setups</h2>", "<ul>" + "".join(f"<li>{_h(x)}</li>" for x in across_lines(results["across"]))
              + "</ul>", "".join(_figure_html(e) for e in drawn if e["id"] == "across"), "</body></html>"]
    return "\n".join(parts) + "\n"


def write(results, drawn, out_dir):
    """Write findings.json, findings.md and index.html into ``out_dir``; returns index.html's path."""
    doc = dict(results, figures=drawn, edgeprof_version=__version__,
               predictors=dict(predict.PREDICTOR_LABELS))
    write_atomic(os.path.join(out_dir, "findings.json"), json.dumps(doc, indent=2, default=str) + "\n")
    write_atomic(os.path.join(out_dir, "findings.md"), markdown(results, drawn))
    index = os.path.join(out_dir, "index.html")
    write_atomic(index, page(results, drawn))
    return index
