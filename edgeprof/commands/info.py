"""``edgeprof info``: the machine as edgeprof sees it."""
import platform
import sys

from edgeprof import __version__
from edgeprof.agent import backends, board, sensors, sysroot
from edgeprof.commands import print_json

# Sensor details worth a line of text (``--json`` shows them all).
INFO_SENSOR_KEYS = ("driver", "total_rail", "total_is_sum", "scope", "rails")

HELP = "show this machine as edgeprof sees it: board, Python, backends, power sensors"


def configure(parser):
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")


def _numpy_version():
    try:
        import numpy
    except ImportError:
        return None
    return numpy.__version__


def collect():
    """Everything ``info`` reports, as a dict."""
    backend_rows = []
    for name, reason in backends.status():
        row = {"name": name, "usable": reason is None}
        if reason:
            row["reason"] = reason
        else:
            try:
                row["version"] = backends.load(name).version()
            except Exception as exc:  # a broken install still gets reported, not a crash
                row["version"] = "unknown (%s)" % exc
        backend_rows.append(row)
    sensor_rows = []
    for name, reason, details in sensors.sensor_status():
        row = {"name": name, "found": reason is None}
        row.update({"reason": reason} if reason else details)
        sensor_rows.append(row)
    return {
        "edgeprof": __version__,
        "root": sysroot.root(),
        "python": platform.python_version(),
        "python_executable": sys.executable,
        "numpy": _numpy_version(),
        "os": "%s %s" % (platform.system(), platform.release()),
        "arch": platform.machine(),
        "board": board.identity(),
        "backends": backend_rows,
        "power_sensors": sensor_rows,
    }


def _print_text(data):
    b = data["board"]
    lines = ["edgeprof %s   (machine root: %s)" % (data["edgeprof"], data["root"]),
             "board:    %s%s" % (b["model"], "  [Jetson]" if b["is_jetson"] else "")]
    if b.get("l4t"):
        lines.append("L4T:      %s  ->  JetPack %s" % (b["l4t"], b.get("jetpack") or "unknown"))
    lines.append("cpu:      %s x %s" % (b.get("cpu_count"), b.get("cpu_model")))
    lines.append("python:   %s  numpy %s  (%s, %s)" % (data["python"], data["numpy"], data["os"], data["arch"]))
    lines.append("backends:")
    for row in data["backends"]:
        state = ("usable, version %s" % row["version"]) if row["usable"] else ("not usable: %s" % row["reason"])
        lines.append("  %-12s %s" % (row["name"], state))
    lines.append("power sensors:")
    if not data["power_sensors"]:
        lines.append("  (none known to this build)")
    for row in data["power_sensors"]:
        if row["found"]:
            shown = [(k, row[k]) for k in INFO_SENSOR_KEYS if row.get(k) not in (None, [], "")]
            detail = ", ".join("%s=%s" % (k, ",".join(map(str, v)) if isinstance(v, list) else v) for k, v in shown)
            lines.append("  %-12s found  %s" % (row["name"], detail))
        else:
            lines.append("  %-12s not found: %s" % (row["name"], row["reason"]))
    for key, value in sorted(b.items()):
        if key.endswith("_note"):
            lines.append("note: %s" % value)
    lines.append("(edgeprof doctor checks every path edgeprof reads and says how to fix what does not work)")
    print("\n".join(lines))


def run(args):
    data = collect()
    if args.json:
        print_json(data)
    else:
        _print_text(data)
    return 0
