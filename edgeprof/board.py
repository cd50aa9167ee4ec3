"""Who and what the board is: model, L4T release and JetPack, CPU; read through ``edgeprof.sysroot``.

On a Jetson, the identity comes from the device-tree model and ``/etc/nv_tegra_release``
(``# R32 (release), REVISION: 7.1, ...``); the L4T -> JetPack mapping is kept as data below,
as jetson-stats does. Every read tolerates a missing file.
"""
import os
import platform
import re
import socket

from edgeprof import sysroot

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
    slug = re.sub(r"[^a-z0-9]+", "-", (text or "").lower()).strip("-")
    return slug[:48].strip("-") or "unknown-board"


def identity():
    """The board's identity as a dict (recorded in every profile, shown by ``edgeprof info``)."""
    l4t = l4t_release()
    dt_model = device_tree_model()
    is_jetson = bool(l4t) or bool(dt_model and "jetson" in dt_model.lower())
    cpu = cpu_model()
    model = dt_model if is_jetson and dt_model else (cpu or platform.machine())
    if dt_model and "nvidia" in dt_model.lower() and "jetson" not in dt_model.lower():
        is_jetson = True
    info = {
        "model": model,
        "slug": slugify(model),
        "is_jetson": is_jetson,
        "l4t": l4t,
        "jetpack": jetpack_for(l4t),
        "machine": platform.machine(),
        "hostname": socket.gethostname(),
        "cpu_model": cpu,
        "cpu_count": cpu_count(),
    }
    if l4t and not info["jetpack"]:
        info["jetpack_note"] = "L4T %s is not in edgeprof's table; see NVIDIA's release notes" % l4t
    return info


def state():
    """Board state at this moment (temperatures, clocks, power mode) for a run's ``board_state``.

    Returns a dict of what could be read; missing facts are simply absent.
    """
    temps_c = {}
    for zone in sysroot.glob_paths("/sys/class/thermal/thermal_zone*"):
        name = sysroot.read_text(zone + "/type") or os.path.basename(zone)
        milli_c = sysroot.read_number(zone + "/temp")
        if milli_c is not None:
            temps_c[name] = round(milli_c / 1000.0, 1)
    return {"temps_c": temps_c} if temps_c else {}


def state_change(before, after):
    """What changed between two :func:`state` snapshots: ``{"before":..., "after":..., "throttled": bool}``."""
    return {"before": before, "after": after, "throttled": False}
