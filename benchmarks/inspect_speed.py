"""How fast, and in how much memory, does ``edgeprof inspect`` read a model, next to onnx-tool?

Each measurement is a fresh child process on the same file, so that neither tool profits from the
other's imports or allocations: A. ``edgeprof inspect FILE --json`` (``python -m edgeprof``), and
B. ``onnx_tool.model_profile(FILE, dynamic_shapes={input: an array of the batch-1 shape})`` (onnx-tool's
profiler: load, shape inference, per-node MACs; its printed table goes to /dev/null). The two
alternate over rounds, and which goes first alternates too, so that drifts of a shared machine
hit both alike. Per child: wall time of the whole process (interpreter start and imports
included: edgeprof imports onnx only for a model its own shape rules do not cover, and says which
happened), the time of the work alone (after the imports, printed by the child), and its peak
resident memory (VmHWM, read by the child from /proc/self/status; Linux only). The figures are medians over
rounds; the ratios are edgeprof / onnx-tool, and edgeprof's peak memory over the file size.

    python benchmarks/inspect_speed.py                     # VGG-19, random weights (exported once)
    python benchmarks/inspect_speed.py --model a.onnx --model b.onnx --rounds 5

Targets (issue 20): on VGG-19, edgeprof's time at most 0.2x onnx-tool's, and its peak memory at
most 0.3x the file size. Files from the export stay in the temporary folder printed at the end.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TIME_TARGET = 0.2
MEMORY_TARGET = 0.3

# The children print one JSON line: how long the work took once everything was imported.
_EDGEPROF_CHILD = """
import sys, time, json, contextlib, io
from edgeprof import cli
started = time.perf_counter()
with contextlib.redirect_stdout(io.StringIO()) as out:
    status = cli.main(["inspect", sys.argv[1], "--json"])
seconds = time.perf_counter() - started
print(json.dumps({"work_s": seconds, "status": status, "macs": json.loads(out.getvalue())["macs"],
                  "onnx_imported": "onnx" in sys.modules,
                  "hwm_kb": [int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:")][0]}))
"""
_ONNX_TOOL_CHILD = """
import sys, time, json, contextlib, os
import onnx, onnx_tool
started = time.perf_counter()
with open(os.devnull, "w") as null, contextlib.redirect_stdout(null):
    onnx_tool.model_profile(sys.argv[1], dynamic_shapes={sys.argv[2]: onnx_tool.create_ndarray_f32(json.loads(sys.argv[3]))})
seconds = time.perf_counter() - started
print(json.dumps({"work_s": seconds, "status": 0,
                  "hwm_kb": [int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:")][0]}))
"""


def measure(code, args):
    """(wall s, peak RSS bytes, the child's JSON line) of one fresh interpreter running ``code``.

    The peak is the child's own VmHWM (/proc/self/status, read by the child at its end): a forked
    child's ru_maxrss (os.wait4, RUSAGE_CHILDREN) starts from the parent's resident size at the
    fork, as Linux keeps the pre-exec memory's high-water mark, and this process holds torch and
    an exported VGG-19 when it exported the model itself.
    """
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code] + list(args), stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL, env=env)
    wall = time.perf_counter() - started
    out = done.stdout.decode(errors="replace").strip()
    if done.returncode != 0 or not out:
        raise RuntimeError("child %s exited with status %d; run it by hand to see why" % (args, done.returncode))
    found = json.loads(out.splitlines()[-1])
    return wall, found["hwm_kb"] * 1024, found


def input_of(path):
    """The first graph input's name and its shape with the batch axis at 1 (onnx-tool needs both)."""
    sys.path.insert(0, REPO)
    from edgeprof import costs
    found = costs.analyze(path)
    return found.input_name, [1] + list(found.input_shape)


def export_vgg19(folder):
    path = os.path.join(folder, "vgg19.onnx")
    if not os.path.isfile(path):
        import torch
        import torchvision
        print("exporting VGG-19 with random weights to %s ..." % path, file=sys.stderr, flush=True)
        model = torchvision.models.vgg19(weights=None).eval()
        torch.onnx.export(model, (torch.randn(1, 3, 224, 224),), path, input_names=["input"],
                          output_names=["logits"], opset_version=17, dynamo=False,
                          dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
    return path


def bench(path, rounds):
    name, shape = input_of(path)
    sides = {"edgeprof": (_EDGEPROF_CHILD, [path]),
             "onnx-tool": (_ONNX_TOOL_CHILD, [path, name, json.dumps(shape)])}
    runs = {side: [] for side in sides}
    for index in range(rounds):
        order = list(sides) if index % 2 == 0 else list(reversed(list(sides)))
        for side in order:
            runs[side].append(measure(*sides[side]))
    result = {"file": path, "file_bytes": os.path.getsize(path)}
    for side, found in runs.items():
        result[side] = {"wall_s": statistics.median(r[0] for r in found),
                        "work_s": statistics.median(r[2]["work_s"] for r in found),
                        "peak_rss_bytes": max(r[1] for r in found)}
    result["edgeprof"]["onnx_imported"] = any(r[2]["onnx_imported"] for r in runs["edgeprof"])
    return result


def report(result):
    ours, theirs = result["edgeprof"], result["onnx-tool"]
    size = result["file_bytes"]
    wall_ratio = ours["wall_s"] / theirs["wall_s"]
    work_ratio = ours["work_s"] / theirs["work_s"]
    rss_ratio = ours["peak_rss_bytes"] / size
    lines = ["%s (%.0f MB)" % (os.path.basename(result["file"]), size / 1e6),
             "  %-10s %9s %9s %12s" % ("", "process s", "work s", "peak RSS MB")]
    for side in ("edgeprof", "onnx-tool"):
        r = result[side]
        lines.append("  %-10s %9.3f %9.3f %12.0f" % (side, r["wall_s"], r["work_s"], r["peak_rss_bytes"] / 1e6))
    lines.append("  edgeprof's shapes by %s" % (
        "ONNX's shape inference (onnx imported)" if ours["onnx_imported"] else "its own rules (onnx not imported)"))
    lines.append("  time ratio edgeprof/onnx-tool: process %.3f, work %.3f (target <= %.1f: %s)" % (
        wall_ratio, work_ratio, TIME_TARGET, "met" if wall_ratio <= TIME_TARGET else "NOT met"))
    lines.append("  edgeprof peak RSS / file size: %.3f; onnx-tool's %.3f (target <= %.1f: %s)" % (
        rss_ratio, theirs["peak_rss_bytes"] / size, MEMORY_TARGET, "met" if rss_ratio <= MEMORY_TARGET else "NOT met"))
    return "\n".join(lines)


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", action="append", help="ONNX file (repeatable; default VGG-19, random weights)")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each tool per file (default 3)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    args = parser.parse_args(argv)
    folder = None
    paths = args.model
    if not paths:
        folder = os.environ.get("EDGEPROF_BENCH_DIR") or tempfile.mkdtemp(prefix="edgeprof-bench-")
        paths = [export_vgg19(folder)]
    results = [bench(path, args.rounds) for path in paths]
    print("\n\n".join(report(result) for result in results))
    if args.json:
        print(json.dumps(results, indent=1))
    if folder:
        print("(the export is in %s)" % folder)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
