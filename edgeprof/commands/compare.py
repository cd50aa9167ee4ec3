"""``edgeprof compare``: a table of one metric across boards, backends and precisions."""
import sys

from edgeprof.reading import compare, gate
from edgeprof.commands import positive_float, positive_int, print_json

HELP = "compare profiles across boards/backends/precisions (latency, throughput, energy, memory)"


def configure(parser):
    parser.add_argument("paths", nargs="+", help="profile files or folders (e.g. profiles/jetson-tx2)")
    parser.add_argument("--metric", default="latency", choices=sorted(compare.METRICS),
                        help="what to compare (default latency)")
    parser.add_argument("--batch", type=positive_int, default=1, help="batch size to compare (default 1)")
    parser.add_argument("--baseline", help="column the ratios refer to (a unique part of its label; default: first)")
    parser.add_argument("--fail-if-slower", type=positive_float, metavar="PCT",
                        help="exit 1 when a model is worse than the baseline by more than PCT percent beyond the noise: "
                             "the Holm-corrected 95%% bootstrap interval of the ratio (of medians; of mean latencies "
                             "for throughput), from the raw latencies, lies entirely above 1 + PCT/100; exit 2 when a "
                             "pair cannot be tested (no raw latencies) or its settings differ in more than one "
                             "dimension")
    fmt = parser.add_mutually_exclusive_group()
    fmt.add_argument("--csv", action="store_true", help="print CSV")
    fmt.add_argument("--json", action="store_true", help="print JSON")
    fmt.add_argument("--markdown", action="store_true", help="print a Markdown table")


def run(args):
    table = compare.build(compare.load_profiles(args.paths), args.metric, args.batch, args.baseline)
    verdict = gate.run(table, args.fail_if_slower) if args.fail_if_slower is not None else None
    if args.json:
        data = table.as_dict()
        if verdict is not None:
            data["gate"] = verdict.as_dict()
            data["regressions"] = [{"model": p.model, "column": p.column, "worse_pct": round((p.ratio - 1) * 100, 2)}
                                   for p in verdict.of(gate.REGRESSION)]
        print_json(data)
    elif args.csv:
        print(compare.render_csv(table))
    elif args.markdown:
        print(compare.render_markdown(table))
    else:
        print(compare.render_text(table))
        if verdict is not None and verdict.pairs:
            print("")
            print(gate.render_text(verdict))
    if verdict is None:
        return 0
    for line in gate.messages(verdict):
        sys.stderr.write(line + "\n")
    return verdict.exit_status()
