"""One module per subcommand: ``HELP``, ``configure(parser)``, ``run(args) -> int``."""
import json
import sys


def print_json(data):
    """Print ``data`` as indented JSON on stdout."""
    json.dump(data, sys.stdout, indent=2, sort_keys=False, default=str)
    sys.stdout.write("\n")


def positive_int_list(text):
    """Parse ``1,2,4`` into ``[1, 2, 4]`` for argparse; rejects 0, negatives and words."""
    import argparse
    values = []
    for part in text.split(","):
        part = part.strip()
        try:
            value = int(part)
        except ValueError:
            raise argparse.ArgumentTypeError("%r is not a list of positive integers like 1,2,4" % text)
        if value < 1:
            raise argparse.ArgumentTypeError("batch sizes must be >= 1, got %d in %r" % (value, text))
        values.append(value)
    return sorted(set(values))


def positive_float(text):
    import argparse
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("%r is not a number" % text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be >= 0, got %r" % text)
    return value


def positive_int(text):
    import argparse
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("%r is not an integer" % text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be >= 1, got %r" % text)
    return value
