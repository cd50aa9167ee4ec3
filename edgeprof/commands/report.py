"""``edgeprof report``: the paper's figures and findings for a set of profiles, as one HTML page.

Bounded for a lab's results folder: findings and figures are made for the setups chosen (``--setup``)
or the first ``--first`` of them, and the page opens with an index of every setup, one row each.
"""
import json
import os

from edgeprof.commands import positive_int
from edgeprof.errors import require
from edgeprof.records import store

HELP = "the paper's figures and findings (fits) for a set of profiles: PNG/SVG figures and one HTML page"
FIRST = 6


def configure(parser):
    parser.add_argument("profiles", nargs="+", metavar="PATH",
                        help="profile files or folders (e.g. profiles/<board>; several boards compare)")
    parser.add_argument("--out", default="report", metavar="DIR",
                        help="folder for index.html, findings.md, findings.json and figures/ (default: report)")
    parser.add_argument("--manifest", metavar="FILE",
                        help="models/manifest.yaml: fills static fields (accuracy, counts) the profiles lack")
    parser.add_argument("--setup", action="append", metavar="LABEL|KEY|BOARD",
                        help="make findings and figures for this setup (its label or key as the page lists it, or a "
                             "board slug for all of its setups); repeatable; default: the first --first")
    parser.add_argument("--first", type=positive_int, default=FIRST, metavar="N",
                        help="without --setup, findings and figures for the first N setups (default %d); the page "
                             "lists every setup" % FIRST)
    parser.add_argument("--no-index", action="store_true", help=store.NO_INDEX_HELP)


def run(args):
    require("matplotlib", "edgeprof report", "pip install 'edgeprof[report]' (or copy the profiles to a "
            "workstation)")
    from edgeprof.reading.report import data, figures, findings, page, summaries
    dataset = data.load(args.profiles, args.manifest, use_index=not args.no_index)
    chosen = data.choose_setups(dataset, args.setup, args.first)
    detailed = data.subset(dataset, chosen)
    results = findings.compute(detailed)
    results["overview"] = page.overview(dataset, chosen)
    drawn = figures.draw_all(detailed, results, os.path.join(args.out, "figures"))
    index = page.write(results, drawn, args.out)
    with open(os.path.join(args.out, "findings.json")) as f:
        written = json.load(f)  # what the page says, as the page says it
    print("verdicts against the paper (each with its statistic and rule in findings.md and on the page):")
    print("\n".join(summaries.verdict_lines(written)))
    if written["overview"]:
        print(written["overview"]["note"])
    print(f"report written: {index}")
    print(f"open it in a browser: file://{os.path.abspath(index)}")
    return 0
