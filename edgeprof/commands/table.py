"""``edgeprof table``: every run of the profiles as one flat table (CSV, JSON Lines, Parquet)."""
import os
import sys

from edgeprof.errors import UsageError
from edgeprof.reading import table
from edgeprof.records import files, profile, store

HELP = "every run of the profiles as one flat table (csv, jsonl, parquet) for pandas, DuckDB or a spreadsheet"
SUFFIXES = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet", ".pq": "parquet"}


def configure(parser):
    parser.add_argument("paths", nargs="+", metavar="PATH", help="profile files or folders")
    parser.add_argument("--format", choices=table.FORMATS,
                        help="csv, jsonl (one JSON object a line) or parquet (needs pyarrow: edgeprof[parquet]); "
                             "default: from --out's suffix, else csv")
    parser.add_argument("--out", metavar="FILE", help="write here (atomically) instead of to stdout")
    parser.add_argument("--no-index", action="store_true", help=store.NO_INDEX_HELP)


def chosen_format(args):
    if args.format:
        return args.format
    return SUFFIXES.get(os.path.splitext(args.out or "")[1].lower(), "csv")


def run(args):
    fmt = chosen_format(args)
    if fmt == "parquet" and not args.out and sys.stdout.isatty():
        raise UsageError("--format parquet is binary: give --out FILE (or pipe stdout into a file)")
    found = profile.iter_profile_files(args.paths)
    if not found:
        raise UsageError("no profiles (*.yaml) under %s; run edgeprof sweep first" % ", ".join(args.paths))
    rows = table.rows(list(zip(found, store.load(found, args.paths, not args.no_index))))
    content = table.render(rows, fmt)
    if args.out:
        files.write_atomic(args.out, content)
        sys.stderr.write("table written: %s (%s, %d rows of %d profiles)\n" % (args.out, fmt, len(rows), len(found)))
    elif isinstance(content, bytes):
        sys.stdout.flush()
        sys.stdout.buffer.write(content)
    else:
        sys.stdout.write(content)
    return 0
