"""Who and what the board is, and its state around a run; read through ``edgeprof.agent.sysroot``.

On a Jetson, the identity comes from the device-tree model and ``/etc/nv_tegra_release``
(``# R32 (release), REVISION: 7.1, ...``); the L4T -> JetPack mapping is kept as data below,
as jetson-stats does. The power mode comes from ``/var/lib/nvpmodel/status`` (``pmode:0000``)
and ``/etc/nvpmodel.conf`` (``< POWER_MODEL ID=0 NAME=MAXN >``), with ``nvpmodel -q`` as a
fallback only on the real machine (``EDGEPROF_ROOT`` unset). Clocks, temperatures, the fan and
the over-current counters come from :mod:`edgeprof.agent.machine`. Every read tolerates a
missing file: what cannot be read is left out.
"""
import os
import platform
import re
import socket
import subprocess

from edgeprof.agent import machine, nvml_library, sysroot
from edgeprof.agent.machine import (  # noqa: F401  (the board's facts, under the names callers use)
    CPU_FREQ_GLOB, cpu_clocks, cpu_governor, emc_mhz, gpu_clocks, gpu_devfreq, jetson_clocks_on, thermal_zones)
from edgeprof.util import slug

# L4T release -> JetPack release: NVIDIA's release notes, and jetson-stats' NVIDIA_JETPACK table
# (rbonghi/jetson_stats, jtop/core/jetson_variables.py at f41d5cad). Where one L4T release shipped
# in several JetPacks the value names them all ("3.2 | 3.2.1 | 3.3") and identity() says so:
# JetPack 3.2.1 and 3.3 installed R28.2.1 on TX2 but kept R28.2 on TX1 (meta-tegra wiki "L4T
# R28.2 Notes"; NVIDIA's JetPack 3.3 release notes), and NVIDIA's JetPack 3.3.1 page says "L4T is
# updated to 28.3.1 (from 28.3)".
L4T_TO_JETPACK = {
    "39.2.0": "7.2", "39.0.0": "7.2 EA",
    "38.4.0": "7.1", "38.2.2": "7.0", "38.2.1": "7.0", "38.2.0": "7.0",
    "36.5.0": "6.2.2", "36.4.7": "6.2.1", "36.4.4": "6.2.1", "36.4.3": "6.2", "36.4.2": "6.1 (rev1)",
    "36.4.0": "6.1", "36.3.0": "6.0", "36.2.0": "6.0 DP", "36.0.0": "6.0 EA",
    "35.6.4": "5.1.6", "35.6.3": "5.1.5", "35.6.2": "5.1.5", "35.6.1": "5.1.5", "35.6.0": "5.1.4",
    "35.5.0": "5.1.3", "35.4.1": "5.1.2", "35.3.1": "5.1.1", "35.2.1": "5.1",
    "35.1.0": "5.0.2", "34.1.1": "5.0.1 DP", "34.1.0": "5.0 DP",
    "32.7.6": "4.6.6", "32.7.5": "4.6.5", "32.7.4": "4.6.4", "32.7.3": "4.6.3", "32.7.2": "4.6.2",
    "32.7.1": "4.6.1", "32.6.1": "4.6", "32.5.2": "4.5.1", "32.5.1": "4.5.1", "32.5.0": "4.5",
    "32.4.4": "4.4.1", "32.4.3": "4.4", "32.4.2": "4.4 DP", "32.3.1": "4.3", "32.2.3": "4.2.3",
    "32.2.1": "4.2.2", "32.2.0": "4.2.1", "32.1.0": "4.2", "31.1.0": "4.1.1", "31.0.2": "4.1",
    "31.0.1": "4.0",
    "28.4.0": "3.3.3", "28.3.2": "3.3.2", "28.3.1": "3.3.1", "28.3.0": "3.3",
    "28.2.1": "3.2.1 | 3.3", "28.2.0": "3.2 | 3.2.1 | 3.3",
    "28.1.0": "3.1", "27.1.0": "3.0", "24.2.1": "3.0 | 2.3.1", "24.2.0": "2.3", "24.1.0": "2.2.1 | 2.2",
}
AMBIGUOUS = " | "

_RELEASE_RE = re.compile(r"#\s*R(\d+)\s*\(release\),\s*REVISION:\s*([0-9.]+)")
DT_MODEL_PATHS = ("/proc/device-tree/model", "/sys/firmware/devicetree/base/model")


def l4t_release():
    """The L4T release as ``'32.7.1'`` from /etc/nv_tegra_release, or ``None`` off a Jetson."""
    text = sysroot.read_text("/etc/nv_tegra_release")
    if not text:
        return None
    match = _RELEASE_RE.search(text)
    if not match:
        return None
    parts = [match.group(1)] + match.group(2).split(".")
    while len(parts) < 3:
        parts.append("0")
    return ".".join(parts[:3])


def jetpack_for(l4t):
    """The JetPack release of an L4T release, or ``None`` when the table does not know it."""
    if not l4t:
        return None
    return L4T_TO_JETPACK.get(l4t)


def device_tree_model():
    for candidate in DT_MODEL_PATHS:
        text = sysroot.read_text(candidate)
        if text:
            return text
    return None


def cpu_model():
    """The CPU's marketing name from /proc/cpuinfo (x86 ``model name``, Arm ``Hardware``/``CPU part``)."""
    text = sysroot.read_text("/proc/cpuinfo") or ""
    for key in ("model name", "Hardware", "Processor"):
        for line in text.splitlines():
            name, _, value = line.partition(":")
            if name.strip() == key and value.strip():
                return value.strip()
    return platform.processor() or platform.machine() or None


def cpu_count():
    text = sysroot.read_text("/sys/devices/system/cpu/present")
    if text:
        count = 0
        for span in text.split(","):
            low, _, high = span.partition("-")
            try:
                count += (int(high) - int(low) + 1) if high else 1
            except ValueError:
                return os.cpu_count()
        return count
    return os.cpu_count()


def slugify(text):
    """A board's name as a folder name: at most 48 characters, ``unknown-board`` when empty."""
    return slug(text, "")[:48].strip("-") or "unknown-board"


def is_jetson(l4t=None, dt_model=None):
    """True on a Jetson: an L4T release file, or an NVIDIA/Jetson device-tree model.

    ``l4t`` and ``dt_model`` are read here when not given.
    """
    if l4t or l4t_release():
        return True
    model = (dt_model or device_tree_model() or "").lower()
    return "jetson" in model or "nvidia" in model


def identity():
    """The board's identity as a dict (recorded in every profile, shown by ``edgeprof info``).

    Keys: model, slug, is_jetson, l4t, jetpack, machine, hostname, cpu_model, cpu_count, and
    where readable: nvpmodel, jetson_clocks, governor, gpu_name.
    """
    l4t = l4t_release()
    dt_model = device_tree_model()
    jetson = is_jetson(l4t, dt_model)
    cpu = cpu_model()
    model = dt_model if jetson and dt_model else (cpu or platform.machine())
    info = {
        "model": model,
        "slug": slugify(model),
        "is_jetson": jetson,
        "l4t": l4t,
        "jetpack": jetpack_for(l4t),
        "machine": platform.machine(),
        "hostname": socket.gethostname(),
        "cpu_model": cpu,
        "cpu_count": cpu_count(),
    }
    if l4t and not info["jetpack"]:
        info["jetpack_note"] = "L4T %s is not in edgeprof's table; see NVIDIA's release notes" % l4t
    elif info["jetpack"] and AMBIGUOUS in info["jetpack"]:
        info["jetpack_note"] = ("L4T %s shipped in more than one JetPack (%s); the L4T release is the exact one"
                                % (l4t, info["jetpack"]))
    extra = {
        "nvpmodel": nvpmodel() if jetson else None,
        "jetson_clocks": jetson_clocks_on() if jetson else None,
        "governor": cpu_governor(),
        "gpu_name": None if jetson else nvml_gpu_name(),
    }
    info.update((key, value) for key, value in extra.items() if value is not None)
    return info


# ---- power mode -------------------------------------------------------------------------

NVPMODEL_STATUS = "/var/lib/nvpmodel/status"
NVPMODEL_CONF = "/etc/nvpmodel.conf"
_PMODE_RE = re.compile(r"pmode:\s*(\d+)")
_POWER_MODEL_RE = re.compile(r"<\s*POWER_MODEL\s+ID=(\d+)\s+NAME=([^\s>]+)\s*>")
_PM_DEFAULT_RE = re.compile(r"<\s*PM_CONFIG\s+DEFAULT=(\d+)\s*>")
_NV_POWER_MODE_RE = re.compile(r"NV Power Mode:\s*(\S+)")


def nvpmodel_names(conf_text):
    """``{id: name}`` from the text of an nvpmodel.conf (``< POWER_MODEL ID=0 NAME=MAXN >``)."""
    return {int(i): name for i, name in _POWER_MODEL_RE.findall(conf_text or "")}


def _nvpmodel_from_files():
    status = sysroot.read_text(NVPMODEL_STATUS)
    match = _PMODE_RE.search(status or "")
    if not match:
        return None
    mode_id = int(match.group(1))
    conf = sysroot.read_text(NVPMODEL_CONF)
    names = nvpmodel_names(conf)
    mode = {"id": mode_id, "name": names.get(mode_id), "source": "%s + %s" % (NVPMODEL_STATUS, NVPMODEL_CONF)}
    default = _PM_DEFAULT_RE.search(conf or "")
    if default:   # the mode the board boots in (nvpmodel.conf "< PM_CONFIG DEFAULT=N >")
        mode["default_id"] = int(default.group(1))
    return mode


def _nvpmodel_from_command():
    try:
        proc = subprocess.Popen(["nvpmodel", "-q"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                universal_newlines=True)
        out, _ = proc.communicate(timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    lines = out.splitlines()
    for index, line in enumerate(lines):
        match = _NV_POWER_MODE_RE.search(line)
        if match:
            following = lines[index + 1].strip() if index + 1 < len(lines) else ""
            return {"id": int(following) if following.isdigit() else None, "name": match.group(1),
                    "source": "nvpmodel -q"}
    return None


def nvpmodel():
    """The power mode ``{"id", "name", "source"}``, or ``None`` where it cannot be read.

    Files under the machine root come first; ``nvpmodel -q`` only runs when ``EDGEPROF_ROOT``
    is unset (a fixture tree must never reach the real machine).
    """
    mode = _nvpmodel_from_files()
    if mode is None and not os.environ.get("EDGEPROF_ROOT"):
        mode = _nvpmodel_from_command()
    return mode


def nvml_gpu_name():
    """The first GPU's name through NVML (``pip install nvidia-ml-py``), or ``None``."""
    return nvml_library.first_gpu_name()


# ---- state around a run ---------------------------------------------------------------------

def _present(mapping):
    return {k: v for k, v in mapping.items() if v is not None} or None


def state():
    """Board state at this moment, for a run's ``board_state`` (before and after the window).

    Returns:
        dict: what could be read of ``temps_c``, ``passive_trip_c``, ``clocks_mhz`` (``cpu`` =
        fastest core, ``gpu``, ``emc``), ``min_clocks_mhz``, ``max_clocks_mhz``, ``nvpmodel``,
        ``jetson_clocks``, ``governor``, ``gpu_railgate``, ``fan`` and ``oc_event_cnt``
        (Orin's over-current counters); missing facts are absent.
    """
    snapshot = {}
    zones = thermal_zones()
    if zones:
        snapshot["temps_c"] = {name: z["temp_c"] for name, z in zones.items()}
        trips = {name: z["passive_trip_c"] for name, z in zones.items() if z["passive_trip_c"] is not None}
        if trips:
            snapshot["passive_trip_c"] = trips
    cpu, gpu, memory = cpu_clocks(), gpu_clocks(), machine.emc()

    def fastest(values):
        return max(values.values()) if values else None

    jetson = is_jetson()
    events = machine.oc_events()
    facts = {
        "clocks_mhz": _present({"cpu": fastest(cpu["cur_mhz"]), "gpu": gpu.get("cur_mhz"), "emc": memory.get("cur_mhz")}),
        "min_clocks_mhz": _present({"cpu": fastest(cpu["min_mhz"]), "gpu": gpu.get("min_mhz")}),
        "max_clocks_mhz": _present({"cpu": fastest(cpu["max_mhz"]), "gpu": gpu.get("max_mhz"),
                                    "emc": memory.get("max_mhz")}),
        "nvpmodel": nvpmodel() if jetson else None,
        "jetson_clocks": jetson_clocks_on(cpu, gpu) if jetson else None,
        "governor": cpu_governor(),
        "gpu_railgate": machine.gpu_railgate() if jetson else None,
        "fan": machine.fan() or None,
        "oc_event_cnt": {k: v["event_cnt"] for k, v in events.items()} or None,
    }
    snapshot.update((key, value) for key, value in facts.items() if value is not None)
    return snapshot


# A clock below this fraction of its value before the run counts as dropped.
CLOCK_DROP_FRACTION = 0.95


def state_change(before, after, telemetry=None):
    """What changed between two :func:`state` snapshots, and whether the run was throttled.

    Throttled means: a clock fell below the value it was pinned at (``jetson_clocks`` on: DVFS
    does not move pinned clocks, so a drop is a hardware cap), a clock ceiling was lowered, a
    zone reached its passive trip point, or an over-current counter moved. With ``telemetry``
    (the window's summary from the power monitor's sampler, :mod:`edgeprof.agent.sensors.telemetry`)
    the same tests run on what was sampled inside the window, which the two snapshots taken at
    idle miss. A clock that is lower afterwards while nothing is pinned is DVFS at work: it is
    listed under ``notes``, not as throttling.

    Returns:
        dict: ``{"before", "after", "throttled": bool, "reasons": [str]}``, plus ``notes`` when any.
    """
    reasons, notes = [], []
    pinned = before.get("jetson_clocks")
    for kind in ("cpu", "gpu"):
        was, now = (before.get("max_clocks_mhz") or {}).get(kind), (after.get("max_clocks_mhz") or {}).get(kind)
        if was and now is not None and now < was * CLOCK_DROP_FRACTION:
            reasons.append("%s clock ceiling dropped from %s to %s MHz" % (kind.upper(), was, now))
        was, now = (before.get("clocks_mhz") or {}).get(kind), (after.get("clocks_mhz") or {}).get(kind)
        if was and now is not None and now < was * CLOCK_DROP_FRACTION:
            if pinned:
                reasons.append("%s clock fell from its pinned %s to %s MHz" % (kind.upper(), was, now))
            else:
                notes.append("%s clock %s -> %s MHz between the idle snapshots (jetson_clocks off: DVFS, "
                             "not throttling)" % (kind.upper(), was, now))
    trips = after.get("passive_trip_c") or before.get("passive_trip_c") or {}
    for zone, temp_c in sorted((after.get("temps_c") or {}).items()):
        trip_c = trips.get(zone)
        if trip_c is not None and temp_c >= trip_c:
            reasons.append("%s reached %.1f C, at or above its passive trip point %.1f C" % (zone, temp_c, trip_c))
    was, now = before.get("oc_event_cnt") or {}, after.get("oc_event_cnt") or {}
    for key in sorted(now):
        if key in was and now[key] > was[key]:
            reasons.append("%s %s events: %d during the run" % (key, dict(machine.OC_EVENTS).get(key, ""),
                                                               now[key] - was[key]))
    for reason in (telemetry or {}).get("throttle_reasons") or []:
        if reason not in reasons:
            reasons.append(reason)
    change = {"before": before, "after": after, "throttled": bool(reasons), "reasons": reasons}
    if notes:
        change["notes"] = notes
    return change
