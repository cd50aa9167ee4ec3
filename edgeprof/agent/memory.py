"""Memory readings for a run: the process's peak RSS and the system's used memory.

The process is read from the real ``/proc/self`` (it is this process, wherever the machine root
points); system memory is the machine's ``/proc/meminfo`` read through ``edgeprof.agent.sysroot``. On a
Jetson the CPU and GPU share DRAM, so system memory used is the footprint the paper plotted.
"""
import resource

from edgeprof.agent import sysroot


def reset_peak_rss():
    """Reset the kernel's peak-RSS mark of this process (Linux 4.0+); False where it cannot."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except (IOError, OSError):
        return False


def peak_rss_bytes():
    """Peak resident set size of this process since the last reset (or since start)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (IOError, OSError, ValueError, IndexError):
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def system_memory():
    """``{"system_used_bytes", "system_total_bytes"}`` from /proc/meminfo (MemTotal - MemAvailable)."""
    text = sysroot.read_text("/proc/meminfo")
    if not text:
        return {}
    fields = {}
    for line in text.splitlines():
        name, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            fields[name.strip()] = int(parts[0]) * 1024
    if "MemTotal" not in fields:
        return {}
    available = fields.get("MemAvailable")
    if available is None:
        available = fields.get("MemFree", 0) + fields.get("Buffers", 0) + fields.get("Cached", 0)
    return {"system_used_bytes": fields["MemTotal"] - available, "system_total_bytes": fields["MemTotal"]}
