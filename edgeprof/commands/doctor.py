"""``edgeprof doctor``: check every backend and sensor path edgeprof would use; ``--capture`` a board for a fixture."""
import logging
import sys

from edgeprof.commands import info, print_json
from edgeprof.errors import UsageError

HELP = ("check every backend, power sensor and board path edgeprof would use and say how to fix what does not "
        "work; --capture FILE.tar.gz packs the machine files edgeprof reads so a board can be sent as a fixture")
log = logging.getLogger("edgeprof")
MARKS = {True: "ok  ", False: "FAIL", None: "--  "}


def configure(parser):
    parser.add_argument("--json", action="store_true", help="print the checks as JSON")
    parser.add_argument("--capture", metavar="FILE.tar.gz",
                        help="also write every machine file edgeprof reads (values as read, serial numbers and MAC "
                             "addresses redacted) and the output of nvpmodel -q, tegrastats, jetson_clocks --show and "
                             "jtop into this archive; unpacked, it is a fixture tree (EDGEPROF_ROOT=<unpacked>)")


def _print_text(rows):
    lines = []
    for row in rows:
        lines.append("%s %-34s %s" % (MARKS[row["ok"]], row["check"], row["detail"]))
        if row["fix"]:
            lines.append("     %-34s fix: %s" % ("", row["fix"]))
    print("\n".join(lines))


def capture(path):
    """Write the capture archive at ``path``; returns its manifest."""
    from edgeprof.agent import board, capture as capture_mod, doctor, sensors
    sensor_paths = []

    def sensors_and_paths():
        for _, reason, details in sensors.sensor_status():
            if reason is None:
                sensor_paths.extend(p for p in details.get("paths") or [] if p.startswith("/"))

    readers = [info.collect, board.state, sensors_and_paths, doctor.checks]
    touched, errors = capture_mod.record(readers)
    touched.update(sensor_paths)
    return capture_mod.write(path, touched, errors, capture_mod.run_commands())


def run(args):
    from edgeprof.agent import doctor
    if args.capture and not args.capture.endswith((".tar.gz", ".tgz")):
        raise UsageError("--capture %s: the archive's name must end in .tar.gz" % args.capture)
    rows = doctor.checks()
    if args.json:
        print_json({"checks": rows})
    else:
        _print_text(rows)
    if args.capture:
        manifest = capture(args.capture)
        sys.stderr.write("wrote %s: %d files, %d folders (%d unreadable, %d redacted); please send it with the "
                         "board's name to the edgeprof maintainers (docs/power.md)\n" % (
                             args.capture, manifest["files"], manifest["folders"], len(manifest["unreadable"]),
                             len(manifest["redacted"])))
    return 0
