"""One module per subcommand: ``HELP``, ``configure(parser)``, ``run(args) -> int``."""
import json
import sys

from edgeprof.argtypes import name_list, non_negative_int, positive_float, positive_int, positive_int_list

__all__ = ["name_list", "non_negative_int", "positive_float", "positive_int", "positive_int_list", "print_json"]


def print_json(data):
    """Print ``data`` as indented JSON on stdout."""
    json.dump(data, sys.stdout, indent=2, sort_keys=False, default=str)
    sys.stdout.write("\n")
