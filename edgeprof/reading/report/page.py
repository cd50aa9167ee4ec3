"""Write the report: findings.json (every number), findings.md and index.html (one page).

Both texts are made from the same summaries, so the page and the Markdown say the same thing.
The page is self-contained apart from its relative links to figures/*.png.
"""
import html
import json
import os

from edgeprof import __version__
from edgeprof.reading import predict
from edgeprof.reading.report.summaries import (
    PREDICTION_HEADER, across_lines, density_summary, literature_line, num, prediction_rows, runs_line,
    setup_summaries)
from edgeprof.records.files import write_atomic

WIDE_FIGURES = ("ops_vs_time", "ops_vs_power", "accuracy_vs_throughput", "accuracy_vs_energy", "across")


def _scaled(value, factor):
    return None if value is None else value * factor


def _md_table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines


def throttled_line(found):
    """The setup's throttled runs in one sentence, or None when there are none."""
    runs = found["setup"].get("throttled_runs") or []
    if not runs:
        return None
    items = ", ".join(f"{r['model']} batch {r['batch']}" + (f" ({r['reasons'][0]})" if r["reasons"] else "")
                      for r in runs)
    return (f"throttled during the window ({len(runs)} runs; their numbers are kept, but they ran slower and drew "
            f"a different power than an unthrottled run): {items}")


OVERVIEW_HEADER = ("setup", "models", "ok runs", "runs not ok", "detailed")


def overview(dataset, chosen):
    """The index of every setup (one row each) and, when only some are detailed, the note saying how to
    choose others; a dict for findings.json, or None when every setup is detailed."""
    if len(chosen) == len(dataset.setups):
        return None
    keys = set(s.key for s in chosen)
    models, ok, not_ok = {}, {}, {}
    for row in dataset.rows:
        models.setdefault(row["setup"], set()).add(row["model"])
        counts = ok if row["status"] == "ok" else not_ok
        counts[row["setup"]] = counts.get(row["setup"], 0) + 1
    rows = [{"key": s.key, "label": s.label, "models": len(models.get(s.key, ())), "ok": ok.get(s.key, 0),
             "not_ok": not_ok.get(s.key, 0), "detailed": s.key in keys} for s in dataset.setups]
    note = (f"Figures and findings for {len(chosen)} of {len(dataset.setups):,} setups; choose others with "
            "--setup LABEL|KEY|BOARD (repeatable) or --first N.")
    return {"setups": rows, "note": note}


def _overview_rows(index):
    return [(r["label"], r["models"], r["ok"], r["not_ok"], "yes" if r["detailed"] else "-")
            for r in index["setups"]]


def markdown(results, drawn):
    """findings.md: every finding with its number, per setup, then the figures that are absent and why."""
    lines = ["# Findings", "", f"edgeprof {__version__}, from {len(results['files'])} profile files.", ""]
    index = results.get("overview")
    if index:
        lines += ["## Setups", "", index["note"], ""] + _md_table(OVERVIEW_HEADER, _overview_rows(index)) + [""]
    title, text = density_summary(results["density"])
    lines += [f"- **{title}**: {text}", ""]
    for found in results["setups"]:
        lines += [f"## {found['setup']['label']}", "", runs_line(found), ""]
        if throttled_line(found):
            lines += [f"**Marked:** {throttled_line(found)}", ""]
        lines += [f"- **{t}**: {x}" for t, x in setup_summaries(found)]
        lines += ["", "### Predicting from operations (out of sample)", ""]
        lines += _md_table(PREDICTION_HEADER, prediction_rows(found))
        lines += ["", literature_line(found), ""]
    lines += ["## Across setups", ""] + ["- " + x for x in across_lines(results["across"])] + [""]
    absent = [e for e in drawn if e["status"] != "ok"]
    if absent:
        lines += ["## Figures not drawn", ""]
        lines += [f"- {e['caption']}{_for_setup(e)}: {e['reason']}" for e in absent]
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
        rows.append((m["name"], m.get("family") or "", num(_scaled(m.get("params"), 1e-6)),
                     num(_scaled(m.get("paper_ops"), 1e-9)), num(_scaled(m.get("macs"), 1e-9)),
                     num(m.get("top1"))))
    return _html_table(header, rows)


def _figure_html(entry):
    caption = entry["caption"]
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


def _overview_html(index):
    if not index:
        return ""
    return (f"<h2>Setups</h2><p>{_h(index['note'])}</p>"
            + _html_table(OVERVIEW_HEADER, _overview_rows(index)))


def page(results, drawn):
    """index.html: models, findings, prediction scores and figures per setup, absent figures with why."""
    def figures_of(key):
        return [e for e in drawn if e["setup"] == key]
    head = f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>edgeprof report</title><style>{STYLE}</style>'
    intro = (f"<p>The analysis of Canziani, Paszke and Culurciello (2016) for these profiles; edgeprof "
             f"{_h(__version__)}, {len(results['files'])} profile files. Numbers: "
             '<a href="findings.json">findings.json</a>, <a href="findings.md">findings.md</a>.</p>')
    parts = [head + "</head><body>", "<h1>edgeprof report</h1>", intro,
             _overview_html(results.get("overview")),
             "<h2>Models</h2>", _models_table(results),
             _html_list([density_summary(results["density"])]),
             "".join(_figure_html(e) for e in figures_of(None) if e["id"] != "across")]
    for found in results["setups"]:
        marked = throttled_line(found)
        parts += [f"<h2>{_h(found['setup']['label'])}</h2>", f"<p>{_h(runs_line(found))}</p>",
                  f'<p class="absent"><b>Marked:</b> {_h(marked)}</p>' if marked else "",
                  "<h3>Findings</h3>", _html_list(setup_summaries(found)),
                  "<h3>Predicting from operations (out of sample)</h3>",
                  _html_table(PREDICTION_HEADER, prediction_rows(found)),
                  f"<p>{_h(literature_line(found))}</p>", "<h3>Figures</h3>",
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
