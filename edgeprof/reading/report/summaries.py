"""The findings in plain words: one (title, sentence) per finding, the prediction table, the across lines.

findings.md and index.html are both made from these, so the page and the Markdown say the same.
Each sentence starts with the verdict, then the statistic behind it (p-value or interval, and n),
the rule in words and what the paper found.
"""

TARGET_LABELS = {"per_image_ms": "latency per image", "energy_per_image_mj": "energy per image"}
PREDICTION_HEADER = ("predicts", "predictor", "held out", "within +-10% (95% CI)", "mean abs. error (95% CI)",
                     "RMSPE", "Spearman rho", "note")
# finding key, title, in the paper's order
SETUP_FINDINGS = (
    ("time_vs_ops", "Operations estimate inference time (paper finding 4, Fig. 7)"),
    ("power", "Power is independent of batch size and architecture (paper finding 1, Fig. 4)"),
    ("ops_vs_power", "Power does not follow operations (paper Fig. 8)"),
    ("accuracy_vs_throughput", "Accuracy vs throughput: a linear upper bound (paper finding 2, Fig. 9)"),
    ("accuracy_vs_energy", "An energy budget bounds the accuracy (paper finding 3)"),
    ("memory_vs_params", "Memory vs parameters (paper Fig. 6)"),
    ("fc_share", "Fully connected layers at small batches (paper v1, Fig. 3)"),
)


def num(value, digits=3):
    if value is None:
        return "n/a"
    return f"{value:.{digits}g}" if abs(value) < 1000 else f"{value:,.0f}"


def pct(share):
    return "n/a" if share is None else f"{100 * share:.0f}%"


def times(ratio):
    return "n/a" if ratio is None else f"{ratio:.2f}x"


def interval(values, fmt, unit=""):
    lo, hi = values
    return "n/a" if lo is None else f"{fmt(lo)}-{fmt(hi)}{unit}"


def sentence(found, extras=()):
    """Verdict, statistic, extras, rule and the paper's finding of one finding; "absent: ..." when absent."""
    if found["status"] != "ok":
        return "absent: " + found["reason"]
    parts = [found["verdict"], found.get("statistic")]
    parts += list(extras)
    parts += ["rule: " + found["rule"] if found.get("rule") else None,
              "paper: " + found["paper"] if found.get("paper") else None]
    return ". ".join(p for p in parts if p) + "."


def _time_extras(found):
    out = []
    for fit in found["batches"]:
        if fit["status"] == "ok":
            out.append(f"batch {fit['batch']}: per-image time = {num(fit['intercept_ms'])} ms + "
                       f"{num(fit['slope_ms_per_gop'])} ms per G-Op, R^2 = {num(fit['r2'], 4)} in sample "
                       f"(shown, not used for the verdict), {fit['n']} models")
    change = found["slope_change"]
    if change["status"] == "ok":
        out.append(f"slope change (G-Ops per ms, batch {change['first_batch']} -> {change['last_batch']}): "
                   f"{change['statistic']}: {change['verdict']}")
    return out


def _power_extras(found):
    total = found["total"]
    idle = "" if found["idle_mean_w"] is None else f", idle {num(found['idle_mean_w'])} W"
    return [f"on {found['basis']}",
            f"batch half: {found['batch']['verdict']}; architecture half: {found['architecture']['verdict']}",
            f"total power beside it: mean {num(total['mean_w'])} W, std {num(total['std_w'])} W (std/mean "
            f"{pct(total['cov'])}), range {num(total['min_w'])}-{num(total['max_w'])} W over {total['runs']} "
            f"runs{idle}"]


def _memory_extras(found):
    paper = found["slope_vs_paper"]
    return [f"memory: {found['memory']}", f"slope against the paper's 1.30: {paper['verdict']} ({paper['rule']})"]


def _fc_extras(found):
    parts = []
    for m in found["models"]:
        if m["drops_from_batch"] is not None:
            where = f"drops from batch {m['drops_from_batch']}"
        else:
            where = "one batch size only" if m["first_batch"] == m["last_batch"] else "does not drop"
        parts.append(f"{m['model']} {pct(m['first_share'])} at batch {m['first_batch']} -> "
                     f"{pct(m['last_share'])} at batch {m['last_batch']} ({where})")
    speedup = found["speedup"]
    if speedup["status"] == "ok" and found["per_layer"]["status"] == "ok":
        parts.append(f"batching speed-ups: {speedup['statistic']}: {speedup['verdict']}")
    return ["; ".join(parts)] if parts else []


EXTRAS = {"time_vs_ops": _time_extras, "power": _power_extras, "memory_vs_params": _memory_extras,
          "fc_share": _fc_extras,
          "accuracy_vs_throughput": lambda f: [f"accuracy: {f['accuracy']}"],
          "accuracy_vs_energy": lambda f: [f"energy: {f['energy']}"]}


def setup_summaries(found):
    """(title, sentence) pairs of one setup's findings, in the paper's order."""
    rows = []
    for key, title in SETUP_FINDINGS:
        finding = found[key]
        extras = EXTRAS[key](finding) if key in EXTRAS and finding["status"] == "ok" else ()
        rows.append((title, sentence(finding, extras)))
    return rows


def density_summary(found):
    title = "Accuracy per parameter (paper Fig. 10)"
    if found["status"] != "ok":
        return title, sentence(found)
    return title, sentence(found, [f"best here: {found['best']} with {num(found['best_pct_per_mparam'])} % top-1 "
                                   "per million parameters (published accuracy)"])


def prediction_rows(found):
    """Rows of the out-of-sample scores (see :data:`PREDICTION_HEADER`)."""
    rows = []
    for target in ("per_image_ms", "energy_per_image_mj"):
        for cv in found["prediction"][target]:
            head = (TARGET_LABELS[target], cv["label"], cv["folds"])
            if cv["status"] != "ok":
                rows.append(head + ("-", "-", "-", "-", "absent: " + cv["reason"]))
                continue
            s = cv["score"]
            note = f"{s['n']} models" + (f"; not predicted (training set too small): {', '.join(cv['not_predicted'])}"
                                         if cv["not_predicted"] else "")
            rows.append(head + (f"{pct(s['within_10pct_share'])} ({interval(s['within_10pct_ci'], pct)})",
                                f"{s['mape_pct']:.1f}% ({interval(s['mape_ci_pct'], lambda v: f'{v:.1f}', '%')})",
                                f"{s['rmspe_pct']:.1f}%", num(s["spearman_rho"], 2), note))
    return rows


def literature_line(found):
    lit = found["prediction"]["literature"]
    return (f"Out of sample at batch {found['prediction']['batch']}: each model (or each family) is predicted from "
            f"a fit on the others, in relative error, each fit keeping 2 residual degrees of freedom. Like for like: "
            f"{lit['like_for_like']}. Not comparable: {lit['not_comparable']}.")


def across_lines(found):
    if found["status"] != "ok":
        return ["absent: " + found["reason"]]
    lines = []
    for s in found["setups"]:
        note = f" ({s['energy_note']})" if s["energy_note"] else ""
        lines.append(f"{s['label']} vs {found['baseline_label']} at batch {found['batch']}: geometric mean "
                     f"speed-up {times(s['geomean_speedup'])} (95% CI {interval(s['geomean_speedup_ci'], times)}), "
                     f"energy ratio {times(s['geomean_energy_ratio'])}{note}, over {len(s['models'])} models")
    return lines


def runs_line(found):
    runs = found["runs"]
    line = f"runs: {runs['ok']} ok, {runs['oom']} out of memory, {runs['error']} failed"
    if runs["not_ok"]:
        line += " (" + ", ".join(f"{r['model']} batch {r['batch']}: {r['status']}" for r in runs["not_ok"]) + ")"
    reason = found["setup"]["power_reason"]
    tested = ", ".join(str(b) for b in found["tested_batches"]) or "none"
    return line + f"; findings tested at batch {tested}" + (f". Power: not measured: {reason}" if reason else "")


VERDICT_KEYS = tuple(key for key, _ in SETUP_FINDINGS)


def verdict_lines(results):
    """One line per finding and setup: its name and verdict (for the terminal; the page has the statistics)."""
    lines = [f"  density (all setups): {results['density']['verdict']}"]
    for found in results["setups"]:
        lines.append(f"  {found['setup']['label']}:")
        for key in VERDICT_KEYS:
            finding = found[key]
            text = finding["verdict"] if finding["status"] == "ok" else "absent: " + finding["reason"]
            lines.append(f"    {key:24s} {text}")
    return lines
