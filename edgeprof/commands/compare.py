"""``edgeprof compare``: a table of one metric across boards, backends and precisions."""
import sys

from edgeprof.reading import compare
from edgeprof.commands import positive_float, positive_int, print_json

HELP = "compare profiles across boards/backends/precisions (latency, throughput, energy, memory)"


def configure(parser):
    parser.add_argument("paths", nargs="+", help="profile files or folders (e.g. profiles/jetson-tx2)")
    parser.add_argument("--metric", default="latency", choices=sorted(compare.METRICS),
                        help="what to compare (default latency)")
    parser.add_argument("--batch", type=positive_int, default=1, help="batch size to compare (default 1)")
    parser.add_argument("--baseline", help="column the ratios refer to (a unique part of its label; default: first)")
    parser.add_argument("--fail-if-slower", type=positive_float, metavar="PCT",
                        help="exit 1 when any model is worse than the baseline by more than PCT percent")
    fmt = parser.add_mutually_exclusive_group()
    fmt.add_argument("--csv", action="store_true", help="print CSV")
    fmt.add_argument("--json", action="store_true", help="print JSON")
    fmt.add_argument("--markdown", action="store_true", help="print a Markdown table")


def run(args):
    table = compare.build(compare.load_profiles(args.paths), args.metric, args.batch, args.baseline)
    if args.json:
        data = table.as_dict()
        if args.fail_if_slower is not None:
            data["regressions"] = [{"model": m, "column": c, "worse_pct": round(p, 2)}
                                   for m, c, p in table.regressions(args.fail_if_slower)]
        print_json(data)
    elif args.csv:
        print(compare.render_csv(table))
    elif args.markdown:
        print(compare.render_markdown(table))
    else:
        print(compare.render_text(table))
    if args.fail_if_slower is None:
        return 0
    regressions = table.regressions(args.fail_if_slower)
    for model, column, pct in regressions:
        sys.stderr.write("regression: %s on %s is %.1f%% worse than %s (limit %g%%)\n"
                         % (model, column, pct, table.columns[table.baseline], args.fail_if_slower))
    return 1 if regressions else 0
