"""The ``edgeprof`` command: argparse subcommands, each in ``edgeprof/commands/<name>.py``.

A command module defines ``HELP`` (one line), ``configure(parser)`` and ``run(args) -> int``.
Heavy libraries (torch, onnx, matplotlib, runtimes) are imported inside ``run`` only, so
``edgeprof --help`` and the agent commands work on a board that has none of them.

Errors: an :class:`edgeprof.errors.EdgeprofError` becomes one line on stderr and exit
status 2 (the traceback only with ``-v``); bad flags get argparse's usual exit 2.
"""
import argparse
import importlib
import logging
import os
import sys
import traceback

from edgeprof import __version__
from edgeprof.errors import EdgeprofError

COMMANDS = ("export", "inspect", "sweep", "accuracy", "compare", "report", "predict", "table", "info", "doctor")


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports a bad flag in one line (and exit 2), pointing at ``--help``."""

    def error(self, message):
        self.exit(2, "%s: error: %s (see %s --help)\n" % (self.prog, message, self.prog))


def build_parser():
    parser = OneLineParser(
        prog="edgeprof",
        description="Profile deep neural networks on small NVIDIA boards: export models to ONNX, "
                    "sweep batch sizes on the board (latency, power, memory), compare and report.")
    parser.add_argument("--version", action="version", version="edgeprof " + __version__)
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="debug logging, and a traceback on errors")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineParser)
    modules = {}
    for name in COMMANDS:
        module = importlib.import_module("edgeprof.commands." + name)
        sub = subparsers.add_parser(name, help=module.HELP, description=module.HELP)
        module.configure(sub)
        modules[name] = module
    return parser, modules


def main(argv=None):
    parser, modules = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(message)s", stream=sys.stderr)
    if not args.command:
        parser.print_help()
        return 2
    try:
        return modules[args.command].run(args) or 0
    except EdgeprofError as exc:
        if args.verbose:
            traceback.print_exc()
        sys.stderr.write("edgeprof %s: error: %s\n" % (args.command, exc))
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("edgeprof %s: interrupted\n" % args.command)
        return 130
    except BrokenPipeError:  # output piped into `head` and the like: stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
