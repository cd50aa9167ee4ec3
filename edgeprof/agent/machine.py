"""What the board's clocks, temperatures, fan and over-current counters read now (through ``sysroot``).

Paths, and where each comes from:

- CPU: cpufreq ``scaling_{cur,min,max}_freq`` (kHz). ``scaling_cur_freq`` is the policy's
  requested frequency; ``cpuinfo_cur_freq`` (root only on most kernels) is what the hardware
  runs, so a clock cut by soctherm shows there only. edgeprof reads it where it can.
- GPU: the devfreq node (``/sys/class/devfreq/<gpu>``: ``cur_freq``/``min_freq``/``max_freq`` in
  Hz) and its device's ``load`` (per mille) and ``railgate_enable`` (jetson-stats 4.2.0
  ``jtop/core/gpu.py``: ``float(load) / 10.0`` and ``railgate_enable``).
- EMC (memory clock; debugfs, root only), in the order jetson-stats 4.2.0 ``jtop/core/memory.py``
  ``read_emc`` tries them: ``/sys/kernel/debug/bpmp/debug/clk/emc/{rate,max_rate,min_rate}``
  (T186/T194/T234), ``/sys/kernel/debug/clk/override.emc/clk_rate`` with
  ``/sys/kernel/debug/tegra_bwmgr/emc_{max,min}_rate`` (T210: TX1, Nano), then
  ``/sys/kernel/debug/clk/emc/clk_rate`` (NVIDIA's L4T 28/32 ``jetson_clocks.sh`` on TX2), and the
  kernel-3.10 ``/sys/kernel/debug/clock/emc/rate`` (L4T 24 and older). All in Hz.
- Temperatures: ``/sys/class/thermal/thermal_zone*`` (``type``, ``temp`` in m°C, trip points).
- Fan: the hwmon nodes named ``pwmfan`` (``pwm1``, 0-255) and ``pwm_tach`` (``rpm``) on JetPack
  5/6, ``/sys/devices/pwm-fan`` (``target_pwm``, ``cur_pwm``, ``rpm_measured``) on L4T 32, and
  ``/sys/kernel/debug/tegra_fan`` on L4T 28 (jetson-stats ``jtop/core/fan.py``,
  ``get_all_legacy_fan`` and ``_collect_hwmon_fans``).
- Over-current: the hwmon node named ``soctherm_oc`` that NVIDIA's ``tegra23x-oc-event`` driver
  registers on Orin (JetPack 5/6): ``oc<N>_event_cnt`` and ``oc<N>_throt_en`` for N = 1
  (under-voltage), 2 (average over-current), 3 (instantaneous over-current); the driver's
  ``devm_hwmon_device_register_with_groups(..., "soctherm_oc", ...)``.

Every read tolerates a missing file: what cannot be read is left out.
"""
import os

from edgeprof.agent import sysroot

CPU_FREQ_GLOB = "/sys/devices/system/cpu/cpu[0-9]*/cpufreq"
CPU_POLICY_GLOB = "/sys/devices/system/cpu/cpufreq/policy[0-9]*"
DEVFREQ_GLOB = "/sys/class/devfreq/*"
# devfreq node names of Jetson GPUs: TX1/Nano (gm20b, 57000000.gpu), TX2 (gp10b), Xavier (gv11b),
# Orin (ga10b; 17000000.gpu on JetPack 6), Thor (gpu-gpc-0): NVIDIA jetson_clocks.sh, jetson-stats
# KNOWN_GPU_DEVICE_NAMES.
GPU_DEVFREQ_WORDS = ("gpu", "gm20b", "gp10b", "gv11b", "ga10b")
# (rate file, max-rate file or None), in jetson-stats' read_emc order (see the module docstring).
EMC_PATHS = (
    ("/sys/kernel/debug/bpmp/debug/clk/emc/rate", "/sys/kernel/debug/bpmp/debug/clk/emc/max_rate"),
    ("/sys/kernel/debug/clk/override.emc/clk_rate", "/sys/kernel/debug/tegra_bwmgr/emc_max_rate"),
    ("/sys/kernel/debug/clk/emc/clk_rate", None),
    ("/sys/kernel/debug/clock/emc/rate", None),
)
# nvpmodel's EMC cap where the kernel has one (jetson-stats read_emc: nvpmodel_emc_cap/emc_iso_cap).
EMC_CAP = "/sys/kernel/nvpmodel_emc_cap/emc_iso_cap"

THERMAL_GLOB = "/sys/class/thermal/thermal_zone*"
# Zones that do not measure a temperature: PMIC-Die reads a fixed 100 C on TX1/TX2/Nano
# (jetson-stats hides it too); Orin zones of powered-off blocks read -256 C (TEMPERATURE_OFFLINE).
IGNORED_ZONES = ("PMIC-Die",)
LOWEST_REAL_C = -40.0

HWMON_GLOB = "/sys/class/hwmon/hwmon*"
OC_HWMON_NAME = "soctherm_oc"
OC_EVENTS = (("oc1", "under-voltage"), ("oc2", "average over-current"), ("oc3", "instantaneous over-current"))
FAN_LEGACY = ("/sys/kernel/debug/tegra_fan", "/sys/devices/pwm-fan")
FAN_PWM_CAP = 255.0


def _mhz(value, per_mhz):
    return None if value is None else round(value / float(per_mhz), 1)


# ---- CPU, GPU, EMC ---------------------------------------------------------------------------

def cpu_clocks():
    """``{"cur_mhz", "min_mhz", "max_mhz", "hw_mhz"}`` per cpuN from cpufreq (kHz files).

    ``hw_mhz`` is ``cpuinfo_cur_freq`` where it can be read (the clock the hardware runs).
    """
    clocks = {"cur_mhz": {}, "min_mhz": {}, "max_mhz": {}, "hw_mhz": {}}
    for folder in sysroot.glob_paths(CPU_FREQ_GLOB):
        cpu = folder.split("/")[-2]
        for key, name in (("cur_mhz", "scaling_cur_freq"), ("min_mhz", "scaling_min_freq"),
                          ("max_mhz", "scaling_max_freq"), ("hw_mhz", "cpuinfo_cur_freq")):
            value = _mhz(sysroot.read_number("%s/%s" % (folder, name)), 1000)
            if value is not None:
                clocks[key][cpu] = value
    return clocks


def cpu_governor():
    """The cpufreq governor of cpu0 (``schedutil``, ``performance``...), or ``None``."""
    return sysroot.read_text("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor")


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


def gpu_railgate():
    """``railgate_enable`` of the GPU (True: the GPU powers off when idle), or ``None``."""
    folder = gpu_devfreq()
    value = sysroot.read_number(folder + "/device/railgate_enable") if folder else None
    return None if value is None else bool(value)


def emc_path():
    """``(rate file, max-rate file or None)`` of the first EMC clock that reads, or ``(None, None)``."""
    for rate, top in EMC_PATHS:
        if sysroot.read_number(rate) is not None:
            return rate, top
    return None, None


def emc():
    """``{"cur_mhz", "max_mhz"}`` of the memory clock from debugfs (root only), or ``{}``."""
    rate, top = emc_path()
    if rate is None:
        return {}
    found = {"cur_mhz": _mhz(sysroot.read_number(rate), 1e6)}
    max_mhz = _mhz(sysroot.read_number(top), 1e6) if top else None
    cap_mhz = _mhz(sysroot.read_number(EMC_CAP), 1e6)
    if cap_mhz and (max_mhz is None or cap_mhz < max_mhz):
        max_mhz = cap_mhz
    if max_mhz is not None:
        found["max_mhz"] = max_mhz
    return found


def emc_mhz():
    """The memory (EMC) clock in MHz from debugfs (root only), or ``None``."""
    return emc().get("cur_mhz")


def jetson_clocks_evidence(cpu=None, gpu=None):
    """What ``jetson_clocks`` sets, as read: ``{"cpu_pinned", "gpu_pinned", "emc_at_max", "gpu_railgate"}``.

    NVIDIA's ``jetson_clocks.sh`` pins every core and the GPU at min == max, locks the EMC at its
    maximum (``do_emc``: ``mrq_rate_locked`` / ``override.emc``) and sets ``railgate_enable`` to 0
    (``do_gpu``); jetson-stats' ``jetson_clocks_alive`` also requires EMC ``max == cur``.
    Facts that cannot be read are ``None``.
    """
    cpu = cpu if cpu is not None else cpu_clocks()
    gpu = gpu if gpu is not None else gpu_clocks()
    cores = [cpu["min_mhz"][c] == cpu["max_mhz"].get(c) for c in cpu["min_mhz"]]
    memory = emc()
    return {
        "cpu_pinned": all(cores) if cores else None,
        "gpu_pinned": gpu["min_mhz"] == gpu["max_mhz"] if "min_mhz" in gpu and "max_mhz" in gpu else None,
        "emc_at_max": (memory["cur_mhz"] >= memory["max_mhz"]) if "max_mhz" in memory else None,
        "gpu_railgate": gpu_railgate(),
    }


def jetson_clocks_on(cpu=None, gpu=None):
    """True when the clocks are as ``jetson_clocks`` leaves them; ``None`` when nothing can be read.

    CPU and GPU pinned (min == max) is required; where the EMC clock or the GPU's rail-gating
    can be read (as root) they must agree too, so a user-space governor pinned at a low CPU
    frequency with the EMC still scaling no longer reads as ``jetson_clocks``.
    """
    facts = jetson_clocks_evidence(cpu, gpu)
    pinned = [facts[k] for k in ("cpu_pinned", "gpu_pinned") if facts[k] is not None]
    if not pinned:
        return None
    agree = [facts["emc_at_max"] is not False, facts["gpu_railgate"] is not True]
    return all(pinned) and all(agree)


# ---- temperatures ------------------------------------------------------------------------------

def thermal_zones():
    """``{zone name: {"temp_c", "passive_trip_c", "zone"}}`` for the zones that read.

    Zones sharing a type (two ``cpu-thermal`` zones) are kept apart as ``name``, ``name_1``... in
    zone order, as jetson-stats does for duplicate names (``jtop/core/temperature.py``).
    """
    zones = {}
    for zone in sysroot.glob_paths(THERMAL_GLOB):
        name = sysroot.read_text(zone + "/type") or os.path.basename(zone)
        milli_c = sysroot.read_number(zone + "/temp")
        if name in IGNORED_ZONES or milli_c is None or milli_c / 1000.0 <= LOWEST_REAL_C:
            continue
        key, n = name, 0
        while key in zones:
            n += 1
            key = "%s_%d" % (name, n)
        zones[key] = {"temp_c": round(milli_c / 1000.0, 1), "passive_trip_c": passive_trip_c(zone), "zone": zone}
    return zones


def passive_trip_c(zone):
    """The lowest ``passive`` trip point of a zone in C (where throttling starts), or ``None``."""
    trips = []
    for type_path in sysroot.glob_paths(zone + "/trip_point_*_type"):
        if sysroot.read_text(type_path) == "passive":
            milli_c = sysroot.read_number(type_path[:-len("_type")] + "_temp")
            if milli_c is not None:
                trips.append(milli_c / 1000.0)
    return min(trips) if trips else None


# ---- hwmon: over-current counters and the fan ---------------------------------------------------

def hwmon_named(name):
    """The machine folders of the hwmon devices called ``name`` (``soctherm_oc``, ``pwmfan``...)."""
    return [f for f in sysroot.glob_paths(HWMON_GLOB) if sysroot.read_text(f + "/name") == name]


def oc_files():
    """``{"oc1": (event_cnt file, throt_en file), ...}`` of the ``soctherm_oc`` node, or ``{}``."""
    for folder in hwmon_named(OC_HWMON_NAME):
        found = {}
        for key, _ in OC_EVENTS:
            count = "%s/%s_event_cnt" % (folder, key)
            if sysroot.exists(count):
                found[key] = (count, "%s/%s_throt_en" % (folder, key))
        if found:
            return found
    return {}


def oc_events():
    """``{"oc1": {"event_cnt": n, "throt_en": bool, "what": "under-voltage"}, ...}`` on Orin, else ``{}``."""
    what = dict(OC_EVENTS)
    events = {}
    for key, (count, enabled) in sorted(oc_files().items()):
        n = sysroot.read_number(count)
        if n is None:
            continue
        entry = {"event_cnt": n, "what": what[key]}
        flag = sysroot.read_number(enabled)
        if flag is not None:
            entry["throt_en"] = bool(flag)
        events[key] = entry
    return events


def fan_files():
    """``{"pwm": [files], "rpm": [files], "source": folder}`` of the board's fan, or ``{}``."""
    found = {"pwm": [], "rpm": []}
    for folder in hwmon_named("pwmfan") + hwmon_named("pwm_tach"):
        for entry in sysroot.listdir(folder):
            if entry.startswith("pwm") and entry[3:].isdigit():
                found["pwm"].append("%s/%s" % (folder, entry))
            elif entry in ("rpm", "rpm_measured", "fan1_input"):
                found["rpm"].append("%s/%s" % (folder, entry))
        found.setdefault("source", folder)
    if not found["pwm"]:
        for folder in FAN_LEGACY:
            entries = sysroot.listdir(folder)
            if "target_pwm" in entries:
                found["pwm"] = ["%s/%s" % (folder, e) for e in ("cur_pwm", "target_pwm") if e in entries][:1]
                found["rpm"] = ["%s/%s" % (folder, e) for e in entries if e in ("rpm", "rpm_measured")]
                found["source"] = folder
                break
    return found if found["pwm"] or found["rpm"] else {}


def fan():
    """``{"pwm_pct", "rpm", "source"}`` of the fan now (what can be read), or ``{}``."""
    files = fan_files()
    state = {}
    pwm = [sysroot.read_number(p) for p in files.get("pwm", [])]
    pwm = [v for v in pwm if v is not None]
    if pwm:
        state["pwm_pct"] = round(100.0 * pwm[0] / FAN_PWM_CAP, 1)
    rpm = [sysroot.read_number(p) for p in files.get("rpm", [])]
    rpm = [v for v in rpm if v is not None]
    if rpm:
        state["rpm"] = rpm[0]
    if state:
        state["source"] = files["source"]
    return state
