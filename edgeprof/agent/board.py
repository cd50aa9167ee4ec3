"""Who and what the board is, and its state around a run; read through ``edgeprof.agent.sysroot``.

On a Jetson, the identity comes from the device-tree model and ``/etc/nv_tegra_release``
(``# R32 (release), REVISION: 7.1, ...``); the L4T -> JetPack mapping is kept as data below,
as jetson-stats does. The power mode comes from ``/var/lib/nvpmodel/status`` (``pmode:0000``)
and ``/etc/nvpmodel.conf`` (``< POWER_MODEL ID=0 NAME=MAXN >``), with ``nvpmodel -q`` as a
fallback only on the real machine (``EDGEPROF_ROOT`` unset). Clocks come from cpufreq, the
GPU's devfreq node and (as root) the EMC clock in debugfs; temperatures and passive trip
points from the thermal zones. Every read tolerates a missing file: what cannot be read is
left out.
"""
import os
import platform
import re
import socket
import subprocess

from edgeprof.agent import nvml_library, sysroot
from edgeprof.util import slug

# L4T release -> JetPack release (NVIDIA's release notes; same table as jetson-stats keeps).
L4T_TO_JETPACK = {
    "38.2.0": "7.0",
    "36.4.4": "6.2.1", "36.4.3": "6.2", "36.4.0": "6.1", "36.3.0": "6.0", "36.2.0": "6.0 DP",
    "35.6.0": "5.1.4", "35.5.0": "5.1.3", "35.4.1": "5.1.2", "35.3.1": "5.1.1", "35.2.1": "5.1",
    "35.1.0": "5.0.2", "34.1.1": "5.0.1 DP", "34.1.0": "5.0 DP",
    "32.7.6": "4.6.6", "32.7.5": "4.6.5", "32.7.4": "4.6.4", "32.7.3": "4.6.3", "32.7.2": "4.6.2",
    "32.7.1": "4.6.1", "32.6.1": "4.6", "32.5.2": "4.5.1", "32.5.1": "4.5.1", "32.5.0": "4.5",
    "32.4.4": "4.4.1", "32.4.3": "4.4", "32.4.2": "4.4 DP", "32.3.1": "4.3", "32.2.3": "4.2.3",
    "32.2.1": "4.2.2", "32.2.0": "4.2.1", "32.1.0": "4.2", "31.1.0": "4.1.1", "31.0.2": "4.1",
    "28.4.0": "3.3.3", "28.3.2": "3.3.2", "28.3.1": "3.3.1", "28.2.1": "3.3", "28.2.0": "3.2",
    "28.1.0": "3.1", "27.1.0": "3.0", "24.2.1": "3.0", "24.2.0": "2.3", "24.1.0": "2.2",
}

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
    names = nvpmodel_names(sysroot.read_text(NVPMODEL_CONF))
    return {"id": mode_id, "name": names.get(mode_id), "source": "%s + %s" % (NVPMODEL_STATUS, NVPMODEL_CONF)}


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


# ---- clocks -------------------------------------------------------------------------------

CPU_FREQ_GLOB = "/sys/devices/system/cpu/cpu[0-9]*/cpufreq"
DEVFREQ_GLOB = "/sys/class/devfreq/*"
# devfreq node names of Jetson GPUs: TX1/Nano (gm20b, 57000000.gpu), TX2 (gp10b),
# Xavier (gv11b), Orin (ga10b; 17000000.gpu on JetPack 6).
GPU_DEVFREQ_WORDS = ("gpu", "gm20b", "gp10b", "gv11b", "ga10b")
EMC_RATE_PATHS = ("/sys/kernel/debug/bpmp/debug/clk/emc/rate", "/sys/kernel/debug/clock/emc/rate")


def _mhz(value, per_mhz):
    return None if value is None else round(value / float(per_mhz), 1)


def cpu_clocks():
    """``{"cur_mhz": {cpuN: MHz}, "min_mhz": {...}, "max_mhz": {...}}`` from cpufreq (kHz files)."""
    clocks = {"cur_mhz": {}, "min_mhz": {}, "max_mhz": {}}
    for folder in sysroot.glob_paths(CPU_FREQ_GLOB):
        cpu = folder.split("/")[-2]
        for key, name in (("cur_mhz", "scaling_cur_freq"), ("min_mhz", "scaling_min_freq"),
                          ("max_mhz", "scaling_max_freq")):
            value = _mhz(sysroot.read_number("%s/%s" % (folder, name)), 1000)
            if value is not None:
                clocks[key][cpu] = value
    return clocks


def gpu_devfreq():
    """The Jetson GPU's devfreq folder (``/sys/class/devfreq/17000000.gp10b``), or ``None``."""
    for folder in sysroot.glob_paths(DEVFREQ_GLOB):
        name = os.path.basename(folder).lower()
        if any(word in name for word in GPU_DEVFREQ_WORDS):
            return folder
    return None


def gpu_clocks():
    """``{"cur_mhz", "min_mhz", "max_mhz"}`` of the GPU from devfreq (Hz files), or ``{}``."""
    folder = gpu_devfreq()
    if not folder:
        return {}
    clocks = {}
    for key, name in (("cur_mhz", "cur_freq"), ("min_mhz", "min_freq"), ("max_mhz", "max_freq")):
        value = _mhz(sysroot.read_number("%s/%s" % (folder, name)), 1e6)
        if value is not None:
            clocks[key] = value
    return clocks


def emc_mhz():
    """The memory (EMC) clock in MHz from debugfs (root only), or ``None``."""
    for candidate in EMC_RATE_PATHS:
        value = _mhz(sysroot.read_number(candidate), 1e6)
        if value is not None:
            return value
    return None


def jetson_clocks_on(cpu=None, gpu=None):
    """True when every CPU core and the GPU run pinned at min == max (what jetson_clocks sets).

    Returns ``None`` when neither the CPU nor the GPU limits can be read.
    """
    cpu = cpu if cpu is not None else cpu_clocks()
    gpu = gpu if gpu is not None else gpu_clocks()
    pinned = [cpu["min_mhz"][c] == cpu["max_mhz"].get(c) for c in cpu["min_mhz"]]
    if "min_mhz" in gpu and "max_mhz" in gpu:
        pinned.append(gpu["min_mhz"] == gpu["max_mhz"])
    return all(pinned) if pinned else None


def cpu_governor():
    """The cpufreq governor of cpu0 (``schedutil``, ``performance``...), or ``None``."""
    return sysroot.read_text("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor")


def nvml_gpu_name():
    """The first GPU's name through NVML (``pip install nvidia-ml-py``), or ``None``."""
    return nvml_library.first_gpu_name()


# ---- temperatures -------------------------------------------------------------------------

THERMAL_GLOB = "/sys/class/thermal/thermal_zone*"
# Zones that do not measure a temperature: PMIC-Die reads a fixed 100 C on TX1/TX2/Nano
# (jetson-stats hides it too); Orin zones of powered-off blocks read -256 C.
IGNORED_ZONES = ("PMIC-Die",)
LOWEST_REAL_C = -40.0


def thermal_zones():
    """``{zone type: {"temp_c": C, "passive_trip_c": C or None}}`` for the zones that read."""
    zones = {}
    for zone in sysroot.glob_paths(THERMAL_GLOB):
        name = sysroot.read_text(zone + "/type") or os.path.basename(zone)
        milli_c = sysroot.read_number(zone + "/temp")
        if name in IGNORED_ZONES or milli_c is None or milli_c / 1000.0 <= LOWEST_REAL_C:
            continue
        zones[name] = {"temp_c": round(milli_c / 1000.0, 1), "passive_trip_c": _passive_trip_c(zone)}
    return zones


def _passive_trip_c(zone):
    """The lowest ``passive`` trip point of a zone in C (where throttling starts), or ``None``."""
    trips = []
    for type_path in sysroot.glob_paths(zone + "/trip_point_*_type"):
        if sysroot.read_text(type_path) == "passive":
            milli_c = sysroot.read_number(type_path[:-len("_type")] + "_temp")
            if milli_c is not None:
                trips.append(milli_c / 1000.0)
    return min(trips) if trips else None


# ---- state around a run ---------------------------------------------------------------------

def state():
    """Board state at this moment, for a run's ``board_state`` (before and after the window).

    Returns:
        dict: what could be read of ``temps_c``, ``passive_trip_c``, ``clocks_mhz``
        (``cpu`` = fastest core, ``gpu``, ``emc``), ``max_clocks_mhz``, ``nvpmodel``,
        ``jetson_clocks`` and ``governor``; missing facts are absent.
    """
    snapshot = {}
    zones = thermal_zones()
    if zones:
        snapshot["temps_c"] = {name: z["temp_c"] for name, z in zones.items()}
        trips = {name: z["passive_trip_c"] for name, z in zones.items() if z["passive_trip_c"] is not None}
        if trips:
            snapshot["passive_trip_c"] = trips
    cpu, gpu = cpu_clocks(), gpu_clocks()
    clocks = {"cpu": max(cpu["cur_mhz"].values()) if cpu["cur_mhz"] else None,
              "gpu": gpu.get("cur_mhz"), "emc": emc_mhz()}
    limits = {"cpu": max(cpu["max_mhz"].values()) if cpu["max_mhz"] else None, "gpu": gpu.get("max_mhz")}
    jetson = is_jetson()
    facts = {
        "clocks_mhz": {k: v for k, v in clocks.items() if v is not None} or None,
        "max_clocks_mhz": {k: v for k, v in limits.items() if v is not None} or None,
        "nvpmodel": nvpmodel() if jetson else None,
        "jetson_clocks": jetson_clocks_on(cpu, gpu) if jetson else None,
        "governor": cpu_governor(),
    }
    snapshot.update((key, value) for key, value in facts.items() if value is not None)
    return snapshot


# A clock below this fraction of its value before the run counts as dropped.
CLOCK_DROP_FRACTION = 0.95


def state_change(before, after):
    """What changed between two :func:`state` snapshots, and whether the run was throttled.

    Returns:
        dict: ``{"before", "after", "throttled": bool, "reasons": [str]}``. A run is flagged
        when the CPU or GPU clock (or its ceiling) dropped, or a zone reached its passive trip
        point (where the kernel starts to throttle).
    """
    reasons = []
    pinned = before.get("jetson_clocks")
    for kind in ("cpu", "gpu"):
        for key, what in (("clocks_mhz", "clock"), ("max_clocks_mhz", "clock ceiling")):
            was, now = before.get(key, {}).get(kind), after.get(key, {}).get(kind)
            if was and now is not None and now < was * CLOCK_DROP_FRACTION:
                note = "" if pinned or key == "max_clocks_mhz" else " (jetson_clocks off: DVFS may explain it)"
                reasons.append("%s %s dropped from %s to %s MHz%s" % (kind.upper(), what, was, now, note))
    trips = after.get("passive_trip_c") or before.get("passive_trip_c") or {}
    for zone, temp_c in sorted((after.get("temps_c") or {}).items()):
        trip_c = trips.get(zone)
        if trip_c is not None and temp_c >= trip_c:
            reasons.append("%s reached %.1f C, at or above its passive trip point %.1f C" % (zone, temp_c, trip_c))
    return {"before": before, "after": after, "throttled": bool(reasons), "reasons": reasons}
