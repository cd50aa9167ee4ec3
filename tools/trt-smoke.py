#!/usr/bin/env python3
"""Smoke test of edgeprof's TensorRT backend on a real NVIDIA GPU (a Jetson first): one line per check.

    python3 tools/trt-smoke.py --model models/resnet18.onnx 2>&1 | tee smoke.log

Each check prints ``CHECK <name>: PASS|FAIL|INFO <detail>``; the last line is the summary. Exit status: 0 when
no check failed, 1 when one did, 2 for bad arguments (one line on stderr). docs/tensorrt-smoke.md says what
each check means and what to send back; shared/reviews/trt.md ("What a real-GPU smoke test must run") is
where they come from.

The checks run in groups (``--only`` takes group names), each in a child process of this script, so that a
crash (an abort, a segfault, the kernel's OOM killer) fails its group and not the run, and so that each
group's stderr can be read: ``stderr[<group>]`` fails on a non-zero exit or on a line matching
:data:`STDERR_PATTERNS` (pycuda's clean-up warnings, TensorRT's own error lines, 8.0-8.3's "logger passed
into ... differs" warning, a segfault). The two CUDA-layer groups hide the other layer
(``sys.modules['pycuda'] = None`` for cuda-python) before edgeprof imports it.

Python 3.6 (JetPack 4.6), the standard library, numpy and edgeprof only. The backend is used through its
public API: ``TensorRTBackend().open(model, batch, precision, options)``, then the session's ``run``,
``describe``, ``memory`` and ``close``; device times from ``start_device_window``/``device_times`` (or,
with an older edgeprof, ``gpu_time_ms`` after each run). Free device memory is read by opening edgeprof's
CUDA layer on its own for a moment (:func:`free_device_bytes`).
"""
import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if os.path.isdir(os.path.join(REPO, "edgeprof")) and REPO not in sys.path:
    sys.path.insert(0, REPO)  # run from a checkout without installing edgeprof

MIB = float(1 << 20)
LEAK_LIMIT_MIB = 64        # free device memory may drop by this much over repeated opens (review step 2)
WORKSPACE_MB = 1024
WARMUP_RUNS = 10
OPENS_FOR_LEAK = 5
CALIBRATION_BATCHES = 4
STATUSES = ("PASS", "FAIL", "INFO")
CHECK_LINE = re.compile(r"^CHECK (\S+): (PASS|FAIL|INFO) ?(.*)$")
# What must not appear on a group's stderr (review "What a real-GPU smoke test must run", step 2); faulthandler
# writes "Fatal Python error: Segmentation fault" for a segfault in a child.
STDERR_PATTERNS = re.compile(r"PyCUDA WARNING|\[TRT\] \[E\]|logger passed into|Segmentation")
# On the plain open/run/close path of a CUDA layer, no TensorRT ERROR either (edgeprof logs them at debug level).
CLEAN_PATH_PATTERNS = re.compile(STDERR_PATTERNS.pattern + r"|TensorRT error:")
LAYERS = ("pycuda", "cuda-python")
LAYER_CHECKS = ("open", "context", "run", "close-twice", "builder-memory", "leak")
FREE_BEFORE_KEY = "device_free_before_bytes"  # memory() or describe(): free device memory just before deserializing
# group -> the checks it prints (the parent adds stderr[group]), in run order
GROUPS = (
    ("versions", ("versions", "dtype-mapping", "nptype")),
    ("pycuda", tuple("%s[pycuda]" % c for c in LAYER_CHECKS)),
    ("cuda-python", tuple("%s[cuda-python]" % c for c in LAYER_CHECKS)),
    ("oom", ("oom", "oom-recovery")),
    ("caches", ("corrupt-timing-cache", "truncated-engine", "garbled-engine")),
    ("int8", ("int8-placeholder", "int8-calibrated")),
    ("layer-timing", ("layer-timing",)),
    ("interrupt", ("interrupt",)),
    ("trtexec", ("trtexec",)),
    ("memory", ("memory-accounting",)),
)
GROUP_NAMES = tuple(name for name, _ in GROUPS)
TRTEXEC_JETSON = "/usr/src/tensorrt/bin/trtexec"  # where JetPack installs it (not on PATH)
# "[I] GPU Compute Time: min = 0.6 ms, ..., median = 0.69 ms, ..." (8.x, 10.x; "GPU Compute: ... median: 0.69 ms" in 7.x)
TRTEXEC_LINE = re.compile(r"\[I\]\s+(GPU Compute(?: Time)?|Latency|Enqueue Time|H2D Latency|D2H Latency)\s*:"
                          r".*?median\s*[=:]\s*([0-9.eE+-]+)\s*ms")


class BadInput(Exception):
    """A bad argument: one line, exit status 2."""


class Parser(argparse.ArgumentParser):
    def error(self, message):
        raise BadInput(message)


def _positive(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("%r is not a whole number" % text)
    if value < 1:
        raise argparse.ArgumentTypeError("%d is not a positive number" % value)
    return value


def _shape(text):
    try:
        dims = tuple(int(d) for d in text.replace("x", ",").split(","))
    except ValueError:
        raise argparse.ArgumentTypeError("%r is not C,H,W" % text)
    if not dims or any(d < 1 for d in dims):
        raise argparse.ArgumentTypeError("%r is not C,H,W" % text)
    return dims


def build_parser():
    parser = Parser(prog="trt-smoke.py", description="Smoke test of edgeprof's TensorRT backend on a real GPU "
                                                     "(see docs/tensorrt-smoke.md).")
    parser.add_argument("--model", required=True, help="an ONNX file with a dynamic batch axis "
                                                        "(e.g. models/resnet18.onnx from edgeprof export)")
    parser.add_argument("--batch", type=_positive, default=1, help="batch of the run, int8 and layer checks (1)")
    parser.add_argument("--oom-batch", type=_positive, default=256,
                        help="a batch that cannot fit, for the OOM check (256; on a Nano 64 is enough for vgg16)")
    parser.add_argument("--oom-model", help="the model of the OOM check (default --model; e.g. models/vgg16.onnx)")
    parser.add_argument("--cache-dir", help="engine cache folder (default: a fresh temporary folder, removed after)")
    parser.add_argument("--trtexec", help="trtexec to cross-check with (default: on PATH, or %s)" % TRTEXEC_JETSON)
    parser.add_argument("--only", help="run only these groups, comma-separated: %s" % ", ".join(GROUP_NAMES))
    parser.add_argument("--json", help="also write the results to this JSON file")
    parser.add_argument("--runs", type=_positive, default=200, help="timed runs of the run and trtexec checks (200)")
    parser.add_argument("--input-shape", type=_shape,
                        help="C,H,W of the model's input, for the int8 calibration files (default: from the "
                             "manifest.yaml beside the model)")
    parser.add_argument("--interrupt-after", type=float, default=5.0,
                        help="seconds into the build at which the interrupt check sends SIGINT (5)")
    parser.add_argument("--timeout", type=_positive, default=3600,
                        help="seconds a group may take before it is killed (3600: builds on a Nano are slow)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    return parser


def parse_args(argv):
    args = build_parser().parse_args(argv)
    if not os.path.isfile(args.model):
        raise BadInput("--model %s: no such file (export one with `edgeprof export` and copy it here)" % args.model)
    args.model = os.path.abspath(args.model)
    if args.oom_model and not os.path.isfile(args.oom_model):
        raise BadInput("--oom-model %s: no such file" % args.oom_model)
    args.oom_model = os.path.abspath(args.oom_model or args.model)
    if args.only:
        args.groups = [g.strip() for g in args.only.split(",") if g.strip()]
        unknown = [g for g in args.groups if g not in GROUP_NAMES]
        if unknown or not args.groups:
            raise BadInput("--only: unknown group %s (groups: %s)" % (", ".join(unknown) or "(none)",
                                                                      ", ".join(GROUP_NAMES)))
    else:
        args.groups = list(GROUP_NAMES)
    if args.trtexec and not (os.path.isfile(args.trtexec) and os.access(args.trtexec, os.X_OK)):
        raise BadInput("--trtexec %s: not an executable file" % args.trtexec)
    if args.child is not None and args.child not in GROUP_NAMES + ("build",):
        raise BadInput("--child %s: unknown" % args.child)
    if args.json and not os.path.isdir(os.path.dirname(os.path.abspath(args.json))):
        raise BadInput("--json %s: its folder does not exist" % args.json)
    if args.interrupt_after < 0:
        raise BadInput("--interrupt-after must not be negative")
    return args


def one_line(text):
    return " ".join(str(text).split())


def error_text(exc):
    return one_line("%s: %s" % (type(exc).__name__, exc))


def mib(nbytes):
    return "%.1f MiB" % (nbytes / MIB) if nbytes is not None else "n/a"


# -- the parent: one child per group, their lines relayed, stderr read ---------------------------------

def _relay(stream, sink, kept):
    for line in iter(stream.readline, ""):
        sink.write(line)
        sink.flush()
        kept.append(line)
    stream.close()


def run_child(command, timeout):
    """(exit status, stdout lines, stderr lines) of ``command``, its output relayed as it comes."""
    env = dict(os.environ, PYTHONUNBUFFERED="1", PYTHONFAULTHANDLER="1")
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                            env=env)
    out, err = [], []
    threads = [threading.Thread(target=_relay, args=(proc.stdout, sys.stdout, out)),
               threading.Thread(target=_relay, args=(proc.stderr, sys.stderr, err))]
    for thread in threads:
        thread.daemon = True
        thread.start()
    try:
        rc = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        rc = proc.wait()
        err.append("trt-smoke: killed after %d s (--timeout)\n" % timeout)
    for thread in threads:
        thread.join(10)
    return rc, out, err


def exit_text(rc):
    if rc >= 0:
        return "exit %d%s" % (rc, " (an abort: std::terminate?)" if rc == 134 else "")
    try:
        name = signal.Signals(-rc).name
    except ValueError:
        name = "signal %d" % -rc
    why = {signal.SIGKILL: " (the kernel's OOM killer?)", signal.SIGABRT: " (std::terminate?)"}.get(-rc, "")
    return "killed by %s%s" % (name, why)


def stderr_check(group, rc, err_lines):
    patterns = CLEAN_PATH_PATTERNS if group in LAYERS else STDERR_PATTERNS
    matched = [one_line(line) for line in err_lines if patterns.search(line)]
    if rc != 0 or matched:
        tail = [one_line(line) for line in err_lines[-2:] if line.strip()]
        return "FAIL", "%s; %d stderr line(s) matching %s%s" % (
            exit_text(rc), len(matched), patterns.pattern, (": " + " | ".join(matched[:3])) if matched
            else (" (last: %s)" % " | ".join(tail) if tail else ""))
    return "PASS", "exit 0, %d stderr line(s), none matching %s" % (len(err_lines), patterns.pattern)


def child_args(args, group, cache_dir):
    argv = ["--child", group, "--model", args.model, "--batch", str(args.batch), "--oom-batch", str(args.oom_batch),
            "--oom-model", args.oom_model,
            "--cache-dir", cache_dir, "--runs", str(args.runs), "--interrupt-after", str(args.interrupt_after),
            "--timeout", str(args.timeout)]
    if args.trtexec:
        argv += ["--trtexec", args.trtexec]
    if args.input_shape:
        argv += ["--input-shape", ",".join(map(str, args.input_shape))]
    return argv


def print_check(name, status, detail):
    sys.stdout.write("CHECK %s: %s %s\n" % (name, status, one_line(detail)))
    sys.stdout.flush()


def run_parent(args, child_command):
    made_cache = args.cache_dir is None
    cache_dir = os.path.abspath(args.cache_dir or tempfile.mkdtemp(prefix="trt-smoke-"))
    results = []
    try:
        for group, checks in GROUPS:
            if group not in args.groups:
                continue
            rc, out, err = run_child(child_command + child_args(args, group, cache_dir), args.timeout)
            seen = {}
            for line in out:
                match = CHECK_LINE.match(line.rstrip("\n"))
                if match:
                    seen[match.group(1)] = (match.group(2), match.group(3))
            for name in checks:
                if name not in seen:  # the child died before it: say so in the check's own line
                    seen[name] = ("FAIL", "did not run: the %s group ended first (%s)" % (group, exit_text(rc)))
                    print_check(name, *seen[name])
                results.append({"name": name, "status": seen[name][0], "detail": seen[name][1]})
            status, detail = stderr_check(group, rc, err)
            print_check("stderr[%s]" % group, status, detail)
            results.append({"name": "stderr[%s]" % group, "status": status, "detail": detail})
    finally:
        if made_cache:
            shutil.rmtree(cache_dir, ignore_errors=True)
    counts = dict((s, sum(1 for r in results if r["status"] == s)) for s in STATUSES)
    code = 1 if counts["FAIL"] else 0
    sys.stdout.write("SUMMARY: %d PASS, %d FAIL, %d INFO (%s)\n" % (
        counts["PASS"], counts["FAIL"], counts["INFO"], "exit %d" % code))
    sys.stdout.flush()
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"tool": "tools/trt-smoke.py", "argv": sys.argv[1:], "groups": args.groups,
                       "results": results, "summary": counts, "exit": code}, f, indent=1, sort_keys=True)
            f.write("\n")
    return code


# -- in a child: the checks ------------------------------------------------------------------------------

class Group(object):
    """What a group's checks share: the arguments, the backend, and how a check reports."""

    def __init__(self, args):
        from edgeprof.agent.backends.tensorrt import TensorRTBackend
        self.args = args
        self.backend = TensorRTBackend()
        self.cache_dir = args.cache_dir

    def options(self, folder, **extra):
        options = {"cache_dir": os.path.join(self.cache_dir, folder), "workspace_mb": WORKSPACE_MB}
        options.update(extra)
        return options

    def open(self, folder, batch=None, precision="fp32", model=None, **extra):
        return self.backend.open(model or self.args.model, batch or self.args.batch, precision,
                                 self.options(folder, **extra))

    def use_once(self, folder, **kwargs):
        """Open (see :meth:`open`), run once, close; returns what ``describe()`` said after the run."""
        session = self.open(folder, **kwargs)
        try:
            session.run()
            return session.describe()
        finally:
            session.close()


def check(name, function, *args):
    """Run one check: ``function`` returns (status, detail); an exception is a FAIL. Returns the status."""
    try:
        status, detail = function(*args)
    except Exception as exc:  # a check that raises has failed; the next still runs
        status, detail = "FAIL", error_text(exc)
    print_check(name, status, detail)
    return status


def free_device_bytes():
    """Free device memory now, read through edgeprof's own CUDA layer opened for a moment (raises if it cannot)."""
    from edgeprof.agent.backends.tensorrt import cuda as cuda_layer
    layer = cuda_layer.open_layer()
    try:
        with layer.active():
            return layer.free_device_bytes()
    finally:
        layer.close()


def close_quietly(session):
    if session is not None:
        try:
            session.close()
        except Exception:  # noqa: BLE001 - already reported, or reported by the check that needed it
            pass


def free_before_deserialization(session):
    """What the session says free device memory was just before it deserialized its engine, or None."""
    for facts in (session.memory(), session.describe()):
        if facts.get(FREE_BEFORE_KEY) is not None:
            return facts[FREE_BEFORE_KEY]
    return None


def timed_runs(session, runs):
    """(wall ms per run, device times dict) of ``runs`` runs after a warm-up."""
    for _ in range(WARMUP_RUNS):
        session.run()
    window = getattr(session, "start_device_window", None)
    per_run = None if window is not None else getattr(session, "gpu_time_ms", None)  # an older edgeprof
    if window is not None:
        window(runs)
    walls, gpu = [], []
    for _ in range(runs):
        started = time.perf_counter()
        session.run()
        walls.append((time.perf_counter() - started) * 1000.0)
        if per_run is not None:
            gpu.append(per_run())
    device = session.device_times() if window is not None else {"compute_ms": gpu}
    return walls, device


def median(values):
    values = [v for v in values or () if v is not None]
    return statistics.median(values) if values else None


def ms(value):
    return "%.3f ms" % value if value is not None else "n/a"


def memory_text(memory):
    return ", ".join("%s=%s" % (k, mib(v) if k.endswith("_bytes") else v) for k, v in sorted(memory.items()))


# versions ---------------------------------------------------------------------------------------------

def group_versions(group):
    import numpy

    def versions():
        try:
            import tensorrt
            trt_version = tensorrt.__version__
        except Exception as exc:  # noqa: BLE001 - reported, and the other groups will fail too
            return "FAIL", "Python %s, numpy %s; tensorrt not importable (%s)" % (
                sys.version.split()[0], numpy.__version__, error_text(exc))
        import edgeprof
        layers = []
        for name, module in (("pycuda", "pycuda.driver"), ("cuda-python", None)):
            layers.append("%s %s" % (name, "yes" if _importable(module) else "no"))
        return "INFO", "Python %s, numpy %s, TensorRT %s, edgeprof %s; CUDA layers importable: %s" % (
            sys.version.split()[0], numpy.__version__, trt_version, edgeprof.__version__, ", ".join(layers))

    def dtype_mapping():
        import tensorrt
        from edgeprof.agent.backends.tensorrt.dtypes import numpy_dtype
        found, wrong = [], []
        for member, expected in (("FLOAT", "float32"), ("HALF", "float16"), ("INT8", "int8"), ("INT32", "int32"),
                                 ("BOOL", "bool")):
            got = numpy_dtype(tensorrt, getattr(tensorrt.DataType, member), member)
            found.append("%s->%s" % (member, got.name))
            if got != numpy.dtype(expected):
                wrong.append("%s is %s, not %s" % (member, got.name, expected))
        return ("FAIL", "; ".join(wrong)) if wrong else ("PASS", "edgeprof maps " + ", ".join(found))

    def nptype():
        import tensorrt
        seen = []
        for member in ("FLOAT", "HALF", "INT8", "INT32", "BOOL"):
            try:
                seen.append("%s->%s" % (member, numpy.dtype(tensorrt.nptype(getattr(tensorrt.DataType, member))).name))
            except Exception as exc:  # noqa: BLE001 - the point of the check (review finding 1)
                seen.append("%s raises %s" % (member, error_text(exc)))
        return "INFO", "trt.nptype (edgeprof never calls it): %s" % "; ".join(seen)

    check("versions", versions)
    check("dtype-mapping", dtype_mapping)
    check("nptype", nptype)


def _importable(module):
    import importlib
    names = [module] if module else ["cuda.bindings.runtime", "cuda.cudart"]
    for name in names:
        try:
            importlib.import_module(name)
            return True
        except Exception:  # noqa: BLE001 - ImportError, or a broken install (OSError...)
            continue
    return False


# one CUDA layer ------------------------------------------------------------------------------------------

def hide_other_layer(layer):
    """Make edgeprof pick ``layer``: hide pycuda for cuda-python (edgeprof prefers pycuda where it imports)."""
    if layer == "cuda-python":
        for name in [n for n in sys.modules if n == "pycuda" or n.startswith("pycuda.")] + ["pycuda", "pycuda.driver"]:
            sys.modules[name] = None


def group_layer(group, layer):
    names = ["%s[%s]" % (c, layer) for c in LAYER_CHECKS]
    hide_other_layer(layer)
    if not _importable("pycuda.driver" if layer == "pycuda" else None):
        for name in names:
            print_check(name, "INFO", "skipped: %s is not importable here" % layer)
        return
    folder = "layer-" + layer
    state = {}

    def open_fresh():
        state["free_before"] = free_device_bytes()
        session = state["session"] = group.open(folder, rebuild=True)
        facts = session.describe()
        state["free_before_built"] = free_before_deserialization(session)
        text = "api=%s, cuda_layer=%s, cuda_version=%s (%s), built in %.1f s, warnings=%s; free device memory " \
               "before the open %s" % (facts.get("api"), facts.get("cuda_layer"), facts.get("cuda_version"),
                                       facts.get("cuda_version_kind"), facts.get("build_seconds") or 0.0,
                                       facts.get("warnings"), mib(state["free_before"]))
        if facts.get("cuda_layer") != layer:
            return "FAIL", "edgeprof picked %s, not %s: %s" % (facts.get("cuda_layer"), layer, text)
        return "PASS", text

    def context():
        if layer != "pycuda":
            return "INFO", "cuda-python uses the primary context; nothing is left pushed to check"
        import pycuda.driver
        current = pycuda.driver.Context.get_current()
        if current is not None:
            return "FAIL", "a CUDA context is still current after open(): %r" % (current,)
        return "PASS", "no CUDA context current after open()"

    def run():
        session = state["session"]
        state["free_open_built"] = free_device_bytes()  # after the context check: the probe makes a context
        walls, device = timed_runs(session, group.args.runs)
        compute = device.get("compute_ms") or []
        detail = "%d runs: wall median %s; GPU compute median %s (H2D %s, D2H %s, enqueue %s); memory: %s" % (
            len(walls), ms(median(walls)), ms(median(compute)), ms(median(device.get("h2d_ms"))),
            ms(median(device.get("d2h_ms"))), ms(median(device.get("enqueue_ms"))), memory_text(session.memory()))
        if len([v for v in compute if v is not None and v > 0]) != len(walls):
            return "FAIL", "device times missing or not positive (%d of %d): %s" % (len(compute), len(walls), detail)
        return "PASS", detail

    def close_twice():
        session = state.pop("session")
        session.close()
        session.close()
        return "PASS", "close() twice, no exception"

    def builder_memory():
        session = group.open(folder)
        try:
            hit = session.describe().get("cache_hit")
            free_open_hit = free_device_bytes()
            free_before_hit = free_before_deserialization(session)
        finally:
            session.close()
        built, cached = state["free_before_built"], free_before_hit
        if built is not None and cached is not None:
            how = "free device memory just before deserialization (%r)" % FREE_BEFORE_KEY
        else:
            built, cached = state.get("free_open_built"), free_open_hit
            how = ("free device memory with the session open (this edgeprof does not report it just before "
                   "deserialization)")
        if built is None or cached is None:
            return "INFO", "the CUDA layer cannot tell free device memory"
        gap = cached - built
        detail = "%s: fresh build %s, cache hit %s, gap %s%s" % (
            how, mib(built), mib(cached), mib(gap), "" if hit else " (the second open was not a cache hit)")
        return ("FAIL" if gap > LEAK_LIMIT_MIB * MIB else "PASS"), detail

    def leak():
        before = free_device_bytes()
        for _ in range(OPENS_FOR_LEAK):
            group.use_once(folder)
        after = free_device_bytes()
        drop = before - after
        detail = "free device memory %s before %d opens, %s after: drop %s (limit %d MiB)" % (
            mib(before), OPENS_FOR_LEAK, mib(after), mib(drop), LEAK_LIMIT_MIB)
        return ("FAIL" if drop > LEAK_LIMIT_MIB * MIB else "PASS"), detail

    if check(names[0], open_fresh) != "PASS":
        close_quietly(state.pop("session", None))
        for name in names[1:]:
            print_check(name, "INFO", "not run: %s did not pass" % names[0])
        return
    check(names[1], context)
    check(names[2], run)
    if check(names[3], close_twice) != "PASS":
        close_quietly(state.pop("session", None))
    check(names[4], builder_memory)
    check(names[5], leak)


# out of memory, then recovery ----------------------------------------------------------------------------

def group_oom(group):
    state = {}

    def oom():
        state["free_before"] = free_device_bytes()
        try:
            session = group.open("oom", batch=group.args.oom_batch, model=group.args.oom_model, rebuild=True)
        except Exception as exc:  # the point: what open raises
            if group.backend.is_out_of_memory(exc):
                return "PASS", "batch %d: is_out_of_memory: %s" % (group.args.oom_batch, error_text(exc)[:400])
            return "FAIL", "batch %d raised, but not as out of memory: %s" % (group.args.oom_batch,
                                                                              error_text(exc)[:400])
        session.close()
        return "INFO", "batch %d fitted, so no out-of-memory path ran: give a larger --oom-batch" % group.args.oom_batch

    def recovery():
        group.use_once("oom", batch=1, model=group.args.oom_model)
        after = free_device_bytes()
        before = state.get("free_before")
        drop = (before - after) if before is not None and after is not None else None
        detail = "batch 1 opened, ran and closed after the OOM; free device memory %s before the OOM open, %s " \
                 "after: drop %s (limit %d MiB)" % (mib(before), mib(after), mib(drop), LEAK_LIMIT_MIB)
        return ("FAIL" if drop is not None and drop > LEAK_LIMIT_MIB * MIB else "PASS"), detail

    check("oom", oom)
    check("oom-recovery", recovery)
    shutil.rmtree(os.path.join(group.cache_dir, "oom"), ignore_errors=True)  # engines at a big batch: large


# corrupt caches -------------------------------------------------------------------------------------------

def group_caches(group):
    state = {}

    def timing():
        session = group.open("caches")
        path = session.describe().get("timing_cache")
        session.close()
        if not path or not os.path.isfile(path):
            return "INFO", "this TensorRT keeps no timing cache (%s)" % path
        with open(path, "wb") as f:
            f.write(b"junk, not a timing cache")
        facts = group.use_once("caches", rebuild=True)
        state["engine_file"] = facts.get("engine_file")
        warned = [w for w in facts.get("warnings") or [] if "timing cache" in w]
        with open(path, "rb") as f:
            rewritten = not f.read().startswith(b"junk")
        detail = "junk timing cache: a session, warnings %s; the cache file %s" % (
            warned or facts.get("warnings"), "was rewritten" if rewritten else "still holds the junk")
        return ("PASS" if warned else "FAIL"), detail

    def damaged_engine(damage, what):
        def run():
            path = state.get("engine_file")
            if not path:
                session = group.open("caches")
                path = session.describe().get("engine_file")
                session.close()
            with open(path, "rb") as f:
                data = f.read()
            with open(path, "wb") as f:
                f.write(damage(data))
            facts = group.use_once("caches")
            state["engine_file"] = facts.get("engine_file")
            if facts.get("cache_hit"):
                return "FAIL", "the %s engine file was used as a cache hit" % what
            return "PASS", "%s engine file: rebuilt (cache_hit False, in %.1f s), no error" % (
                what, facts.get("build_seconds") or 0.0)
        return run

    def truncate(data):
        magic, header, body = data.split(b"\n", 2)  # edgeprof's cache file: magic line, JSON header, the plan
        return magic + b"\n" + header + b"\n" + body[:len(body) // 2]

    def garble(data):
        import numpy
        magic, header, body = data.split(b"\n", 2)  # edgeprof's cache file: magic line, JSON header, the plan
        return magic + b"\n" + header + b"\n" + (numpy.frombuffer(body, numpy.uint8) ^ 0x5A).tobytes()

    check("corrupt-timing-cache", timing)
    check("truncated-engine", damaged_engine(truncate, "truncated (half the plan)"))
    check("garbled-engine", damaged_engine(garble, "garbled (same length, other bytes)"))


# int8 ------------------------------------------------------------------------------------------------------

def input_shape(args):
    """C,H,W of the model's input: --input-shape, else the manifest.yaml beside the model, else None."""
    if args.input_shape:
        return tuple(args.input_shape)
    manifest_path = os.path.join(os.path.dirname(args.model), "manifest.yaml")
    if not os.path.isfile(manifest_path):
        return None
    from edgeprof.records import manifest
    for entry in manifest.entries(manifest.load(manifest_path)):
        if entry.get("file") == os.path.basename(args.model) and entry.get("input_shape"):
            return tuple(int(d) for d in entry["input_shape"])
    return None


def group_int8(group):
    import numpy
    from edgeprof.errors import UsageError

    def int8(calib_dir):
        def run():
            extra = {"calib_dir": calib_dir} if calib_dir else {}
            try:
                facts = group.use_once("int8", precision="int8", **extra)
            except UsageError as exc:  # no INT8 builder flag (TensorRT 11)
                return "INFO", "int8 not offered here: %s" % error_text(exc)
            return "PASS", "int8_calibration=%r, warnings=%s" % (facts.get("int8_calibration"), facts.get("warnings"))
        return run

    check("int8-placeholder", int8(None))
    shape = input_shape(group.args)
    if shape is None:
        print_check("int8-calibrated", "INFO", "skipped: the input shape is unknown; give --input-shape C,H,W")
        return
    folder = tempfile.mkdtemp(prefix="trt-smoke-calib-")
    try:
        random = numpy.random.RandomState(0)
        for index in range(CALIBRATION_BATCHES):
            numpy.save(os.path.join(folder, "batch%d.npy" % index),
                       random.random_sample((group.args.batch,) + shape).astype(numpy.float32))
        check("int8-calibrated", int8(folder))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# per-layer timing --------------------------------------------------------------------------------------

def group_layer_timing(group):
    def layers():
        facts = group.use_once("layers", layers=True)
        rows = facts.get("layer_times_ms")
        if not rows:
            return "FAIL", "no layer times: %s" % facts.get("layer_times_error")
        types = sorted(set(str(r.get("type")) for r in rows if r.get("type") is not None))
        fc = [r["name"] for r in rows if r.get("fc")]
        return "PASS", "%d layers, fc_share=%s (%d FC layers: %s), inspector types: %s" % (
            len(rows), facts.get("fc_share"), len(fc), ", ".join(fc[:4]), ", ".join(types) or "none (no inspector)")

    check("layer-timing", layers)


# interrupt during a build --------------------------------------------------------------------------------

def child_build(args):
    """``--child build``: one build, which the interrupt check interrupts; exit 130 on KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        group = Group(args)
        print("BUILDING")
        sys.stdout.flush()
        session = group.open("build", rebuild=True)
        print("OPENED %.6f" % time.time())
        sys.stdout.flush()
        session.close()
    except KeyboardInterrupt:
        return 130
    return 0


def group_interrupt(group, child_command):
    def interrupt():
        args = group.args
        command = child_command + ["--child", "build", "--model", args.model, "--batch", str(args.batch),
                                   "--cache-dir", tempfile.mkdtemp(prefix="build-", dir=group.cache_dir)]
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                                env=dict(os.environ, PYTHONUNBUFFERED="1", PYTHONFAULTHANDLER="1"))
        out, err = [], []
        threads = [threading.Thread(target=_relay, args=(proc.stdout, _Null(), out)),
                   threading.Thread(target=_relay, args=(proc.stderr, sys.stderr, err))]
        for thread in threads:
            thread.daemon = True
            thread.start()
        deadline = time.time() + args.timeout
        while not any(line.startswith("BUILDING") for line in out) and proc.poll() is None and time.time() < deadline:
            time.sleep(0.05)
        sent = None
        try:
            proc.wait(timeout=args.interrupt_after)
        except subprocess.TimeoutExpired:
            sent = time.time()
            os.kill(proc.pid, signal.SIGINT)
            try:
                proc.wait(timeout=max(1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                return "FAIL", "the build went on for %d s after SIGINT (--timeout)" % args.timeout
        for thread in threads:
            thread.join(10)
        rc = proc.returncode
        opened = [float(line.split()[1]) for line in out if line.startswith("OPENED ")]
        when = ("SIGINT %.1f s into the build" % args.interrupt_after) if sent else \
            "before the smoke sent its SIGINT: a signal came from elsewhere"
        if rc == 130:
            return "PASS", "exit 130 (%s; held until TensorRT returned, then delivered)" % when
        if rc == 0 and opened and (sent is None or opened[0] < sent):
            return "INFO", "skipped: the build finished in under %.1f s, before the signal; give a larger model " \
                           "or a smaller --interrupt-after" % args.interrupt_after
        if rc == 0:
            return "FAIL", "the interrupt was lost: the open returned after the SIGINT and the process went on (%s)" \
                           % when
        tail = " | ".join(one_line(line) for line in err[-2:] if line.strip())
        return "FAIL", "%s, not 130 (%s): %s" % (exit_text(rc), when, tail)

    check("interrupt", interrupt)


class _Null(object):
    def write(self, text):
        pass

    def flush(self):
        pass


# trtexec ---------------------------------------------------------------------------------------------------

def find_trtexec(args):
    if args.trtexec:
        return args.trtexec
    found = shutil.which("trtexec")
    if found:
        return found
    return TRTEXEC_JETSON if os.access(TRTEXEC_JETSON, os.X_OK) else None


def trtexec_flags(trt_version):
    """The workspace flags trtexec of this TensorRT takes (review step 8): --memPoolSize from 8.4, else --workspace."""
    major_minor = tuple(int(p) for p in trt_version.split(".")[:2])
    if major_minor >= (8, 4):
        return ["--memPoolSize=workspace:%d" % WORKSPACE_MB]
    return ["--workspace=%d" % WORKSPACE_MB, "--explicitBatch"]


def parse_trtexec(text):
    """``{"GPU Compute Time": median ms, "Latency": ..., "Enqueue Time": ..., "H2D Latency": ..., "D2H Latency": ...}``."""
    found = {}
    for match in TRTEXEC_LINE.finditer(text):
        name = "GPU Compute Time" if match.group(1).startswith("GPU Compute") else match.group(1)
        found.setdefault(name, float(match.group(2)))
    return found


def group_trtexec(group):
    def cross_check():
        trtexec = find_trtexec(group.args)
        if trtexec is None:
            return "INFO", "skipped: no trtexec (on a Jetson it is %s; or give --trtexec)" % TRTEXEC_JETSON
        session = group.open("shared", batch=1)
        try:
            walls, device = timed_runs(session, group.args.runs)
            version = session.describe().get("tensorrt_version") or "0.0"
        finally:
            session.close()
        mine = {"compute": median(device.get("compute_ms")), "wall": median(walls)}
        plan = os.path.join(group.cache_dir, "trtexec.plan")
        runs = {}
        for mode, flags in (("--exposeDMA", ["--onnx=%s" % group.args.model, "--saveEngine=%s" % plan,
                                             "--exposeDMA"] + trtexec_flags(version)),
                            ("default", ["--loadEngine=%s" % plan])):
            proc = subprocess.Popen([trtexec] + flags + ["--warmUp=200", "--duration=3"], stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, universal_newlines=True)
            try:
                text = proc.communicate(timeout=group.args.timeout)[0]
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()
                return "INFO", "trtexec %s ran past --timeout (%d s)" % (mode, group.args.timeout)
            if proc.returncode != 0:
                return "INFO", "trtexec %s failed (%s): %s" % (mode, exit_text(proc.returncode),
                                                              one_line(text.strip().splitlines()[-1] if text.strip()
                                                                       else ""))
            runs[mode] = parse_trtexec(text)
        like = runs["--exposeDMA"]

        def ratio(a, b):
            return "%.2f" % (a / b) if a is not None and b else "n/a"

        return "INFO", ("batch 1, shapes as trtexec chose for the dynamic axis (1): edgeprof GPU compute median %s vs "
                        "trtexec --exposeDMA 'GPU Compute Time' %s (ratio %s) and default %s (ratio %s); edgeprof "
                        "wall latency median %s vs trtexec --exposeDMA 'Latency' %s (ratio %s); trtexec Enqueue Time "
                        "%s, H2D %s, D2H %s") % (
            ms(mine["compute"]), ms(like.get("GPU Compute Time")), ratio(mine["compute"], like.get("GPU Compute Time")),
            ms(runs["default"].get("GPU Compute Time")), ratio(mine["compute"], runs["default"].get("GPU Compute Time")),
            ms(mine["wall"]), ms(like.get("Latency")), ratio(mine["wall"], like.get("Latency")),
            ms(like.get("Enqueue Time")), ms(like.get("H2D Latency")), ms(like.get("D2H Latency")))

    check("trtexec", cross_check)


# memory accounting -----------------------------------------------------------------------------------------

def group_memory(group):
    def accounting():
        before = free_device_bytes()
        session = group.open("shared")
        try:
            after = free_device_bytes()
            memory = session.memory()
            hit = session.describe().get("cache_hit")
        finally:
            session.close()
        runtime, inside = memory.get("runtime_bytes"), memory.get("device_free_delta_bytes")
        across = before - after if before is not None and after is not None else None

        def ratio(a, b):
            return "%.2f" % (float(a) / b) if a is not None and b else "n/a"

        return "INFO", ("batch %d (%s): runtime_bytes %s; device_free_delta_bytes (deserialization to IO, measured "
                        "by the session) %s, ratio %s; free device memory drop across the whole open (with the CUDA "
                        "context) %s, ratio %s; engine_file_bytes %s") % (
            group.args.batch, "cache hit" if hit else "built", mib(runtime), mib(inside), ratio(runtime, inside),
            mib(across), ratio(runtime, across), mib(memory.get("engine_file_bytes")))

    check("memory-accounting", accounting)


def run_group(args, child_command):
    if args.child == "build":
        return child_build(args)
    import logging
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("edgeprof.tensorrt").setLevel(logging.DEBUG)  # TensorRT's errors and warnings, for the log
    group = Group(args)
    if args.child == "versions":
        group_versions(group)
    elif args.child in LAYERS:
        group_layer(group, args.child)
    elif args.child == "interrupt":
        group_interrupt(group, child_command)
    else:
        {"oom": group_oom, "caches": group_caches, "int8": group_int8, "layer-timing": group_layer_timing,
         "trtexec": group_trtexec, "memory": group_memory}[args.child](group)
    return 0


def main(argv=None, child_command=None):
    """Run the smoke test (or, with the hidden ``--child``, one group of it).

    Args:
        argv (list): the arguments (default ``sys.argv[1:]``).
        child_command (list): how to start this script again for a group (default: this Python, this file);
            a test passes a launcher that installs stand-ins first.
    Returns:
        int: the exit status.
    """
    try:
        args = parse_args(sys.argv[1:] if argv is None else argv)
    except BadInput as exc:
        sys.stderr.write("trt-smoke.py: error: %s\n" % one_line(exc))
        return 2
    child_command = list(child_command or [sys.executable, os.path.abspath(__file__)])
    if args.child:
        return run_group(args, child_command)
    try:
        return run_parent(args, child_command)
    except KeyboardInterrupt:
        sys.stderr.write("trt-smoke.py: interrupted\n")
        return 130


if __name__ == "__main__":
    sys.exit(main())
