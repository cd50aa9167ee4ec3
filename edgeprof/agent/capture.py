"""``edgeprof doctor --capture``: every machine file edgeprof reads, as a .tar.gz whose root is the machine root.

The capture runs the reads edgeprof makes (``info``, the board state, the telemetry, the power
sensors) inside :func:`edgeprof.agent.sysroot.recording`, adds the machine paths the sensors read
on their own (their ``paths``), and copies each of those files into the archive at its machine
path with its bytes as read. Folders that a glob matched are kept as folders, so the same globs
match again. The unpacked archive is a fixture tree: ``EDGEPROF_ROOT=<unpacked> edgeprof info``
prints what ``edgeprof info`` printed on the machine (``tests/agent/test_doctor.py`` checks it on
every fixture tree).

Redacted: serial numbers (``Serial`` lines of /proc/cpuinfo, files whose path says ``serial``)
and MAC addresses anywhere in the text; the manifest lists what was changed. Nothing else of the
machine is read: no home folder, no hostname, no network.

Beside the machine files, ``edgeprof-capture/`` holds ``manifest.json`` and, on the real machine
only (``EDGEPROF_ROOT`` unset), the outputs of ``nvpmodel -q``, a few lines of ``tegrastats``,
``jetson_clocks --show`` and jtop's ``power`` where jetson-stats runs.
"""
import io
import json
import os
import re
import subprocess
import tarfile
import time

from edgeprof import __version__
from edgeprof.agent import sysroot
from edgeprof.util import one_line

CAPTURE_DIR = "edgeprof-capture"
MAX_FILE_BYTES = 1 << 20
_MAC_RE = re.compile(r"\b([0-9A-Fa-f]{2}:){5}[0-9A-Fa-f]{2}\b")
_SERIAL_LINE_RE = re.compile(r"^(Serial\s*:\s*).*$", re.MULTILINE)
REDACTED = "REDACTED"
TEGRASTATS = ("/usr/bin/tegrastats", "/home/nvidia/tegrastats")
JETSON_CLOCKS = ("/usr/bin/jetson_clocks", "/home/nvidia/jetson_clocks.sh")


def record(readers):
    """The machine paths the callables ``readers`` touch (each called once; a failure is noted, not raised).

    Returns:
        tuple: (set of machine paths, list of ``"reader: error"`` lines).
    """
    errors = []
    with sysroot.recording() as touched:
        for reader in readers:
            try:
                reader()
            except Exception as exc:  # noqa: BLE001 - a capture records what it can
                errors.append("%s: %s" % (getattr(reader, "__name__", reader), one_line(exc)))
    return set(touched), errors


def redact(machine_path, data):
    """``(bytes, changed)``: ``data`` with serial numbers and MAC addresses replaced."""
    if "serial" in machine_path.lower():
        return REDACTED.encode("ascii") + b"\n", True
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return data, False
    new = _SERIAL_LINE_RE.sub(lambda m: m.group(1) + REDACTED, text)
    new = _MAC_RE.sub("xx:xx:xx:xx:xx:xx", new)
    return new.encode("utf-8"), new != text


def _add_bytes(archive, name, data, mode=0o444):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = mode
    info.mtime = int(time.time())
    archive.addfile(info, io.BytesIO(data))


def _add_dir(archive, name):
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    info.mode = 0o755
    info.mtime = int(time.time())
    archive.addfile(info)


def _run(argv, timeout_s, lines=None):
    """``{"argv", "rc", "output"}`` of a command (stdout and stderr), ``lines`` lines at most."""
    try:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    except OSError as exc:
        return {"argv": argv, "rc": None, "output": "could not start: %s" % (exc.strerror or exc)}
    output = b""
    try:
        if lines:
            deadline = time.monotonic() + timeout_s
            while output.count(b"\n") < lines and time.monotonic() < deadline:
                chunk = proc.stdout.readline()
                if not chunk:
                    break
                output += chunk
            proc.terminate()
            proc.wait(timeout=2)
        else:
            output, _ = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    finally:
        proc.stdout.close()
    return {"argv": argv, "rc": proc.returncode, "output": output.decode("utf-8", "replace")}


def _jtop_power():
    """``{"version", "interval", "power"}`` from the jtop service, or ``{"error": ...}``."""
    try:
        import jtop as jtop_module
        from jtop import jtop
    except ImportError:
        return {"error": "jetson-stats is not installed"}
    handle = jtop(interval=0.5)
    try:
        handle.start()
        handle.ok()
        return {"version": getattr(jtop_module, "__version__", "unknown"), "interval": handle.interval,
                "power": handle.power}
    except Exception as exc:  # noqa: BLE001 - JtopException and friends: say so in the capture
        return {"error": one_line(exc)}
    finally:
        try:
            handle.close()
        except Exception:  # noqa: BLE001 - nothing more to release
            pass


def run_commands():
    """The board's own tools, run on the real machine only: ``{name: {"argv", "rc", "output"}}``."""
    if os.environ.get("EDGEPROF_ROOT"):
        return {}
    found = {}
    found["nvpmodel-q"] = _run(["nvpmodel", "-q"], 10)
    binary = next((b for b in TEGRASTATS if os.access(b, os.X_OK)), None)
    if binary:
        found["tegrastats"] = _run([binary, "--interval", "200"], 5, lines=5)
    script = next((b for b in JETSON_CLOCKS if os.access(b, os.X_OK)), None)
    if script:
        found["jetson_clocks-show"] = _run([script, "--show"], 15)
    found["jtop-power"] = {"argv": ["jtop.power"], "rc": 0,
                           "output": json.dumps(_jtop_power(), indent=2, default=repr) + "\n"}
    return found


def write(archive_path, touched, errors=(), commands=None):
    """Write the capture archive; returns its manifest (also stored as ``edgeprof-capture/manifest.json``).

    Args:
        archive_path (str): the ``.tar.gz`` to write.
        touched (iterable): machine paths read (from :func:`record` and the sensors' ``paths``).
        errors (list): reader failures to note.
        commands (dict or None): :func:`run_commands` output.
    """
    files, folders, unreadable, redacted = [], [], [], []
    entries = {}
    for machine_path in sorted(set(p for p in touched if p and p.startswith("/"))):
        host = sysroot.path(machine_path)
        if os.path.isdir(host):
            folders.append(machine_path)
            continue
        if not os.path.isfile(host):
            continue
        try:
            with open(host, "rb") as f:
                data = f.read(MAX_FILE_BYTES)
        except (IOError, OSError) as exc:
            unreadable.append("%s: %s" % (machine_path, exc.strerror or exc))
            continue
        data, changed = redact(machine_path, data)
        if changed:
            redacted.append(machine_path)
        entries[machine_path] = data
        files.append(machine_path)
    commands = commands or {}
    manifest = {"edgeprof": __version__, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "root": sysroot.root(), "files": len(files), "folders": len(folders),
                "unreadable": unreadable, "redacted": redacted, "errors": list(errors),
                "commands": {name: {"argv": c["argv"], "rc": c["rc"], "file": "%s/commands/%s.txt" % (CAPTURE_DIR, name)}
                             for name, c in sorted(commands.items())}}
    with tarfile.open(archive_path, "w:gz") as archive:
        done = set()
        for machine_path in sorted(folders + files):
            parts = machine_path.strip("/").split("/")
            for depth in range(1, len(parts)):
                parent = "/".join(parts[:depth])
                if parent not in done:
                    _add_dir(archive, parent)
                    done.add(parent)
            name = "/".join(parts)
            if machine_path in entries:
                _add_bytes(archive, name, entries[machine_path])
            elif name not in done:
                _add_dir(archive, name)
                done.add(name)
        for name, command in sorted(commands.items()):
            text, _ = redact("", command["output"].encode("utf-8"))
            _add_bytes(archive, "%s/commands/%s.txt" % (CAPTURE_DIR, name), text)
        _add_bytes(archive, CAPTURE_DIR + "/manifest.json", (json.dumps(manifest, indent=2) + "\n").encode("utf-8"))
    return manifest


def safe_members(archive):
    """The members of a capture that unpack inside the target folder (no links, no absolute or ``..`` paths)."""
    members = []
    for member in archive.getmembers():
        name = member.name
        if name.startswith("/") or ".." in name.split("/") or not (member.isfile() or member.isdir()):
            raise ValueError("capture member %r is not a plain file or folder under the root" % name)
        members.append(member)
    return members
