"""``edgeprof doctor``: every backend, sensor and board path edgeprof would use, what works, and the fix.

:func:`checks` returns rows ``{"check", "ok", "detail", "fix"}`` (``fix`` empty where nothing is
to be done). ``ok`` is ``True``, ``False``, or ``None`` for a fact that is neither (a board
without over-current counters is not broken). The reads go through ``sysroot``, so
``EDGEPROF_ROOT`` points the doctor at a fixture tree or an unpacked capture.
"""
import os

from edgeprof.agent import backends, board, machine, sensors, sysroot
from edgeprof.agent.sensors import jtop as jtop_sensor
from edgeprof.agent.sensors.telemetry import Telemetry

ROOT_ONLY = "debugfs and cpuinfo_cur_freq are root-only: run edgeprof as root (sudo) to record them"
SENSOR_FIXES = {
    "ina3221": "on a Jetson, check that the INA3221 driver is loaded (ls /sys/bus/i2c/drivers/ina3221*) and "
               "that this user can read its files; elsewhere this sensor does not apply",
    "jtop": "sudo pip3 install -U jetson-stats, then 'sudo systemctl restart jtop.service' (client and service "
            "versions must match); jtop is only a fallback to the sysfs rails",
    "tegrastats": "tegrastats ships with L4T (/usr/bin/tegrastats; /home/nvidia/tegrastats on L4T 28); it is "
                  "the last resort on a Jetson",
    "nvml": "pip install nvidia-ml-py on a machine with an NVIDIA GPU and driver; NVML reports no power on a "
            "Jetson",
    "rapl": "on x86, run as root or 'sudo chmod a+r /sys/class/powercap/intel-rapl:*/energy_uj' (until reboot)",
}


def _row(check, ok, detail, fix=""):
    return {"check": check, "ok": ok, "detail": detail, "fix": fix if ok is False else ""}


def board_checks():
    identity = board.identity()
    rows = [_row("machine root", True, sysroot.root()),
            _row("board", True, "%s%s" % (identity["model"], " (Jetson)" if identity["is_jetson"] else ""))]
    if identity["is_jetson"]:
        l4t = identity.get("l4t")
        known = bool(identity.get("jetpack"))
        rows.append(_row("L4T release", known if l4t else False,
                         "L4T %s -> JetPack %s" % (l4t, identity.get("jetpack") or "unknown") if l4t
                         else "no /etc/nv_tegra_release",
                         "send a capture (edgeprof doctor --capture board.tar.gz) so edgeprof learns this release"))
        mode = identity.get("nvpmodel")
        rows.append(_row("power mode", mode is not None,
                         "%s (id %s) from %s" % (mode["name"], mode["id"], mode["source"]) if mode else "not readable",
                         "nvpmodel status unreadable: check /var/lib/nvpmodel/status and /etc/nvpmodel.conf, or "
                         "run 'sudo nvpmodel -q'"))
        facts = machine.jetson_clocks_evidence()
        rows.append(_row("jetson_clocks", None, "%s (cpu pinned %s, gpu pinned %s, emc at max %s, gpu railgate %s)" % (
            "on" if identity.get("jetson_clocks") else "off", facts["cpu_pinned"], facts["gpu_pinned"],
            facts["emc_at_max"], facts["gpu_railgate"])))
    return rows


def sensor_checks():
    """One row per power sensor. A sensor that does not apply here (NVML or RAPL on a Jetson, the
    Jetson's sensors elsewhere, jtop or tegrastats where the sysfs rails work) is not a failure."""
    rows = []
    status = sensors.sensor_status()
    jetson = board.is_jetson()
    found = set(name for name, reason, _ in status if reason is None)
    for name, reason, details in status:
        board_sensor = sensors.measures(name) == "board"
        applies = (board_sensor == jetson) and not (name in ("jtop", "tegrastats") and "ina3221" in found)
        if reason is None:
            detail = "%s: %s, total %s (%s)" % (details.get("driver"), ",".join(details.get("rails") or []),
                                                details.get("total_rail") or "sum of rails", details.get("scope"))
            rows.append(_row("power: " + name, True, detail))
        else:
            fix = SENSOR_FIXES.get(name, "")
            if "permission denied" in reason:
                fix = "run edgeprof as a user who can read the files (or root); " + fix
            rows.append(_row("power: " + name, False if applies else None, reason, fix))
    supplies = sorted(jtop_sensor.power_supply_names())
    for entry in sysroot.listdir(jtop_sensor.POWER_SUPPLY):
        for leaf in ("type", "online", "voltage_now", "current_now"):
            sysroot.read_text("%s/%s/%s" % (jtop_sensor.POWER_SUPPLY, entry, leaf))
    if supplies:
        rows.append(_row("power supplies", None, "%s (never summed into a total: a USB-PD figure is negotiated, "
                         "not measured)" % ", ".join(supplies)))
    return rows


def telemetry_checks():
    """What the in-window telemetry can read here, by group."""
    jetson = board.is_jetson()
    sensor = None
    try:
        sensor = sensors.probe("ina3221") if jetson else None
    except Exception:  # noqa: BLE001 - the sensor rows already say why
        sensor = None
    try:
        telemetry = Telemetry(sensor.telemetry_files() if sensor else None)
        telemetry.read()
    finally:
        if sensor is not None:
            sensor.close()
    keys = [k for k, _, _, _ in telemetry.files]

    def has(prefix):
        return any(k.startswith(prefix) for k in keys)

    gpu = machine.gpu_devfreq()
    cpu = "from %s" % telemetry.cpu_source if telemetry.cpu_source else "no CPU clock readable"
    rows = [_row("telemetry: CPU clocks", has("cpu_mhz:"), cpu,
                 "no cpufreq files under /sys/devices/system/cpu"),
            _row("telemetry: memory", bool(telemetry.meminfo), "MemAvailable from /proc/meminfo",
                 "/proc/meminfo unreadable")]
    if telemetry.cpu_source == "scaling_cur_freq":
        rows.append(_row("telemetry: hardware CPU clock", False, "cpuinfo_cur_freq not readable: the requested "
                         "clock is recorded, which hides a hardware (soctherm) cut", ROOT_ONLY))
    rows.append(_row("telemetry: temperatures", has("temp_c:"), "%d zones" % sum(k.startswith("temp_c:") for k in keys),
                     "no readable /sys/class/thermal/thermal_zone*/temp"))
    if jetson:
        rows += [_row("telemetry: GPU load and clock", has("gpu_load_pct") and has("gpu_mhz"),
                      "%s/device/load, cur_freq" % gpu if gpu else "no GPU devfreq node",
                      "the GPU devfreq node or its device/load is missing: check /sys/class/devfreq"),
                 _row("telemetry: EMC clock", has("emc_mhz"), "debugfs EMC clock" if has("emc_mhz") else "not readable",
                      ROOT_ONLY),
                 _row("telemetry: over-current counters", True if has("oc:") else None,
                      "soctherm_oc oc1-3_event_cnt" if has("oc:") else "none on this board (Orin has soctherm_oc)"),
                 _row("telemetry: fan", True if has("fan_") else None,
                      "fan pwm/rpm" if has("fan_") else "no fan node found"),
                 _row("telemetry: INA3221 alarms", True if has("alarm:") else None,
                      "curr<N>_crit_alarm" if has("alarm:") else "not shown by this driver")]
    return rows


def backend_checks():
    rows = []
    for name, reason in backends.status():
        rows.append(_row("backend: " + name, reason is None, "usable" if reason is None else reason,
                         "see README.md and docs/deploy.md for installing %s on the board" % name))
    return rows


def checks():
    """Every check, in the order the doctor prints them."""
    rows = board_checks() + sensor_checks() + telemetry_checks() + backend_checks()
    if os.environ.get("EDGEPROF_ROOT"):
        rows.append(_row("note", None, "EDGEPROF_ROOT is set: the machine files come from %s and no board "
                         "tool (nvpmodel, tegrastats, jetson_clocks) is run" % sysroot.root()))
    return rows
