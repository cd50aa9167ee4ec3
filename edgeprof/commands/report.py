"""``edgeprof report``: the paper's figures and findings for a set of profiles, as one HTML page."""
import json
import os

from edgeprof.errors import require

HELP = "the paper's figures and findings (fits) for a set of profiles: PNG/SVG figures and one HTML page"


def configure(parser):
    parser.add_argument("profiles", nargs="+", metavar="PATH",
                        help="profile files or folders (e.g. profiles/<board>; several boards compare)")
    parser.add_argument("--out", default="report", metavar="DIR",
                        help="folder for index.html, findings.md, findings.json and figures/ (default: report)")
    parser.add_argument("--manifest", metavar="FILE",
                        help="models/manifest.yaml: fills static fields (accuracy, counts) the profiles lack")


def run(args):
    require("matplotlib", "edgeprof report", "pip install 'edgeprof[report]' (or copy the profiles to a "
            "workstation)")
    from edgeprof.reading import report
    from edgeprof.reading.report import summaries
    index = report.build(args.profiles, args.out, manifest_path=args.manifest)
    with open(os.path.join(args.out, "findings.json")) as f:
        results = json.load(f)
    print("verdicts against the paper (each with its statistic and rule in findings.md and on the page):")
    print("\n".join(summaries.verdict_lines(results)))
    print(f"report written: {index}")
    print(f"open it in a browser: file://{os.path.abspath(index)}")
    return 0
