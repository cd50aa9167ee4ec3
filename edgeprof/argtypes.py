"""Value parsers for argparse flags, shared by the commands and by the backends' own flag groups.

Each raises ``argparse.ArgumentTypeError``, which argparse reports in one line with exit status 2.
Standard library only.
"""
import argparse


def name_list(text):
    """``a,b`` -> ``["a", "b"]``; an empty list is refused (it would select nothing)."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise argparse.ArgumentTypeError("%r names no model; give names like resnet18,vgg16" % text)
    return names


def positive_int_list(text):
    """Parse ``1,2,4`` into ``[1, 2, 4]`` for argparse; rejects 0, negatives and words."""
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


def _number(text, cast, minimum, what):
    try:
        value = cast(text)
    except ValueError:
        raise argparse.ArgumentTypeError("%r is not %s" % (text, what))
    if value < minimum:
        raise argparse.ArgumentTypeError("must be >= %s, got %r" % (minimum, text))
    return value


def positive_float(text):
    """A number >= 0 for argparse (seconds, percentages)."""
    return _number(text, float, 0, "a number")


def positive_int(text):
    """An integer >= 1 for argparse (counts, batch sizes)."""
    return _number(text, int, 1, "an integer")


def non_negative_int(text):
    """An integer >= 0 for argparse (thread counts, where 0 means the runtime's default)."""
    return _number(text, int, 0, "an integer")
