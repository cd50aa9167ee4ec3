"""``edgeprof compare``: a table of one metric across boards, backends and precisions."""
import shutil
import sys

from edgeprof.reading import compare, gate
from edgeprof.records import store
from edgeprof.commands import positive_float, positive_int, print_json
from edgeprof.errors import UsageError

HELP = "compare profiles across boards/backends/precisions (latency, throughput, energy, memory, accuracy)"
FORMATS = ("text", "markdown", "csv", "json")
FALLBACK_COLUMNS = 100  # the width when stdout is not a terminal and $COLUMNS is unset


def configure(parser):
    parser.add_argument("paths", nargs="+", help="profile files or folders (e.g. profiles/jetson-tx2)")
    parser.add_argument("--metric", default="latency", choices=sorted(compare.METRICS),
                        help="what to compare (default latency; top1: measured accuracy where the profile has an "
                             "accuracy record, else the published one, marked *)")
    parser.add_argument("--batch", type=positive_int, default=1, help="batch size to compare (default 1)")
    parser.add_argument("--baseline", help="column the ratios refer to: one of the PATHS as given (when it holds one "
                                           "setup), a column label or a unique part of one (default: the first)")
    parser.add_argument("--fail-if-slower", type=positive_float, metavar="PCT",
                        help="exit 1 when a model is worse than the baseline by more than PCT percent beyond the noise: "
                             "the Holm-corrected 95%% bootstrap interval of the ratio (of medians; of mean latencies "
                             "for throughput), from the raw latencies, lies entirely above 1 + PCT/100; exit 2 when a "
                             "pair cannot be tested (no raw latencies) or its settings differ in more than one "
                             "dimension")
    parser.add_argument("--format", choices=FORMATS,
                        help="text (default: the full table where it fits the terminal, else one line per setup), "
                             "markdown, csv or json (every model and setup)")
    parser.add_argument("--top", type=positive_int, metavar="N",
                        help="text: one line per setup (models, geometric mean ratio, best and worst model), the N "
                             "best (default %d when the full table does not fit)" % compare.DEFAULT_TOP)
    parser.add_argument("--no-index", action="store_true", help=store.NO_INDEX_HELP)
    fmt = parser.add_mutually_exclusive_group()
    fmt.add_argument("--csv", action="store_true", help="same as --format csv")
    fmt.add_argument("--json", action="store_true", help="same as --format json")
    fmt.add_argument("--markdown", action="store_true", help="same as --format markdown")


def chosen_format(args):
    flags = [name for name in ("csv", "json", "markdown") if getattr(args, name)]
    if flags and args.format and args.format != flags[0]:
        raise UsageError("--%s and --format %s disagree; give one of them" % (flags[0], args.format))
    return args.format or (flags[0] if flags else "text")


def run(args):
    fmt = chosen_format(args)
    table = compare.build(compare.load_profiles(args.paths, use_index=not args.no_index), args.metric, args.batch,
                          args.baseline)
    verdict = gate.run(table, args.fail_if_slower) if args.fail_if_slower is not None else None
    if fmt == "json":
        data = table.as_dict()
        if verdict is not None:
            data["gate"] = verdict.as_dict()
            data["regressions"] = [{"model": p.model, "column": p.column, "worse_pct": round((p.ratio - 1) * 100, 2)}
                                   for p in verdict.of(gate.REGRESSION)]
        print_json(data)
    elif fmt == "csv":
        print(compare.render_csv(table))
    elif fmt == "markdown":
        print(compare.render_markdown(table))
    else:
        width = shutil.get_terminal_size((FALLBACK_COLUMNS, 24)).columns
        print(compare.render_text(table, width=width, top=args.top))
        if verdict is not None and verdict.pairs:
            print("")
            print(gate.render_text(verdict))
    if verdict is None:
        return 0
    for line in gate.messages(verdict):
        sys.stderr.write(line + "\n")
    return verdict.exit_status()
