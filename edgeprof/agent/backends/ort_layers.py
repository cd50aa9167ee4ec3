"""Per-node times from ONNX Runtime's own profiler, in runs of their own after the timed window.

ONNX Runtime's profiler (``SessionOptions.enable_profiling``, ``profile_file_prefix``; the file is
written by ``InferenceSession.end_profiling()``, which returns its name:
python/onnxruntime_inference_collection.py) records a Chrome trace: a JSON array of events
``{"cat", "pid", "tid", "dur" (µs), "ts" (µs since profiling started), "ph": "X", "name", "args"}``
(onnxruntime/core/common/profiler.cc, ``Profiler::EndProfiling``). Each run is one ``"cat": "Session"``
event named ``model_run``; each node run inside it a ``"cat": "Node"`` event named
``<node>_kernel_time`` with ``args.op_name`` (the kernel's op type after ORT's graph rewrites),
``args.provider`` and ``args.parameter_size`` (bytes of the constant inputs the kernel still sees;
onnxruntime/core/framework/sequential_executor.cc, v1.10.0 and main alike; 1.10 adds
``_fence_before``/``_fence_after`` events, which are skipped). Checked by running both onnxruntime
1.10.0 and 1.32.0 on graphs built in tests/agent/test_ort_layers.py.

Profiling slows every run (an event per node, and its bookkeeping), so it never happens in the timed
window: a second session with the profiler on runs :data:`PROFILE_RUNS` inferences after the window,
each next to a run of the timed session, whose pace gives the overhead (the ratio of the medians).

What counts as fully connected (:data:`FC_RULE`): ORT reports the op type it ran, after fusing nodes
(MatMul + Add -> Gemm or FusedGemm, Conv + activation -> FusedConv, QDQ int8 -> QLinearMatMul, QGemm)
and after prepacking weights, which then no longer show in ``parameter_size``. So a Gemm-type kernel
counts, and a MatMul-type kernel counts when the model file has a MatMul with a weight under that node
name (ORT keeps a node's name, or starts a fused node's name with it), or when ORT saw a weight it did
not prepack. A MatMul of two activations (attention) does not count.
"""
import json
import os
import shutil
import tempfile
import time

import numpy as np

PROFILE_RUNS = 20       # profiled inferences kept (as TensorRT's LAYER_PROFILE_RUNS)
PROFILE_WARMUP_RUNS = 2  # the profiled session's first runs allocate its memory: dropped
TOP_NODES = 20          # layer_times_ms keeps the slowest nodes; the totals cover them all
GEMM_OPS = ("Gemm", "FusedGemm", "QGemm")
MATMUL_OPS = ("MatMul", "FusedMatMul", "QLinearMatMul", "MatMulInteger", "MatMulIntegerToFloat",
              "DynamicQuantizeMatMul")
FC_RULE = ("onnxruntime op_name Gemm/FusedGemm/QGemm; or MatMul/FusedMatMul/QLinearMatMul/MatMulInteger* "
           "named after a MatMul with a weight input in the model file (an initializer, or its "
           "DequantizeLinear/Cast), or with a weight ORT kept unpacked (parameter_size > 0)")
KERNEL_SUFFIX = "_kernel_time"
NOT_CPU_NOTE = ("node times are the host's time in each kernel call; with the CUDA or TensorRT provider "
                "kernels run asynchronously and a TensorRT subgraph is one node: fc_share means what it "
                "says on the CPU provider only")


def profile(ort, model_path, options, providers, session, feed, output_names, weighted_matmuls, runs=PROFILE_RUNS):
    """Run a profiled copy of ``session`` ``runs`` times, each run next to one of ``session``; the layer report.

    The runs alternate (unprofiled, profiled, unprofiled...) so that both see the same load on the
    machine: the ratio of their medians is the profiler's overhead.

    Args:
        ort: the onnxruntime module; options: a fresh ``SessionOptions`` with the timed session's settings.
        providers (list): the timed session's providers; session: the timed (unprofiled) session.
        feed (dict), output_names (list): what the timed session runs on.
        weighted_matmuls (set or None): names of the file's MatMul nodes with a weight (None: unknown).

    Returns:
        dict: ``layer_times_ms``, ``fc_share``, ``fc_rule``, ``op_time_shares``, ``layer_profile_runs``,
        ``layer_total_ms``, ``layer_count``, ``layers_profiled_ms``, ``layers_unprofiled_ms``, ``layers_overhead``.
    """
    folder = tempfile.mkdtemp(prefix="edgeprof-ort-profile-")
    try:
        options.enable_profiling = True
        options.profile_file_prefix = os.path.join(folder, "ort")
        profiled = ort.InferenceSession(model_path, options, providers=providers)
        try:
            for _ in range(PROFILE_WARMUP_RUNS):
                profiled.run(output_names, feed)
            unprofiled_s, profiled_s = _alternate(lambda: session.run(output_names, feed),
                                                  lambda: profiled.run(output_names, feed), runs)
        finally:
            trace_path = profiled.end_profiling()
        with open(trace_path) as f:
            events = json.load(f)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    report = layer_report(node_times(events, runs), weighted_matmuls)
    profiled_ms, unprofiled_ms = 1000.0 * float(np.median(profiled_s)), 1000.0 * float(np.median(unprofiled_s))
    report.update(layer_profile_runs=runs, layers_profiled_ms=round(profiled_ms, 6),
                  layers_unprofiled_ms=round(unprofiled_ms, 6),
                  layers_overhead=round(profiled_ms / unprofiled_ms, 4) if unprofiled_ms > 0 else None)
    return report


def node_times(events, runs):
    """``[(node name, op_name, provider, parameter_size, mean ms per run)]`` over the last ``runs``
    ``model_run`` events of a trace, in the order the nodes first ran."""
    if not isinstance(events, list):
        raise ValueError("the onnxruntime profile is not a JSON array of events")
    spans = sorted((e["ts"], e["ts"] + e["dur"]) for e in events
                   if e.get("cat") == "Session" and e.get("name") == "model_run")[-runs:]
    if len(spans) < runs:
        raise ValueError("the onnxruntime profile has %d model_run events, %d expected" % (len(spans), runs))
    totals, order = {}, []
    for event in events:
        name = event.get("name") or ""
        if event.get("cat") != "Node" or not name.endswith(KERNEL_SUFFIX):
            continue
        if not any(begin <= event["ts"] <= end for begin, end in spans):  # a warm-up run's, or the init's
            continue
        node = name[:-len(KERNEL_SUFFIX)]
        if node not in totals:
            args = event.get("args") or {}
            order.append((node, args.get("op_name"), args.get("provider"), _int(args.get("parameter_size"))))
            totals[node] = 0
        totals[node] += event["dur"]
    return [(node, op, provider, params, totals[node] / 1000.0 / runs) for node, op, provider, params in order]


def is_fc(name, op_name, parameter_size, weighted_matmuls):
    """Whether the node ``name`` that ORT ran as ``op_name`` counts as fully connected (:data:`FC_RULE`)."""
    if op_name in GEMM_OPS:
        return True
    if op_name not in MATMUL_OPS:
        return False
    if parameter_size and op_name in ("MatMul", "FusedMatMul"):  # quantized ones always see their scales
        return True
    base = name[len("fused "):] if name.startswith("fused ") else name
    base = base.split("_token_")[0]
    return any(base == w or base.startswith(w + "/") for w in weighted_matmuls or ())


def layer_report(nodes, weighted_matmuls):
    """The record fields (as TensorRT's ``--layers``) from :func:`node_times` rows."""
    rows = [{"name": name, "type": op, "provider": provider, "mean_ms": round(ms, 6),
             "fc": is_fc(name, op, params, weighted_matmuls)} for name, op, provider, params, ms in nodes]
    total = sum(ms for _, _, _, _, ms in nodes)
    by_op = {}
    for (_, op, _, _, ms) in nodes:
        by_op[op or "?"] = by_op.get(op or "?", 0.0) + ms
    fc_ms = sum(ms for row, (_, _, _, _, ms) in zip(rows, nodes) if row["fc"])
    return {"layer_times_ms": sorted(rows, key=lambda row: -row["mean_ms"])[:TOP_NODES],
            "layer_total_ms": round(total, 6), "layer_count": len(rows),
            "fc_share": round(fc_ms / total, 4) if total > 0 else None, "fc_rule": FC_RULE,
            "op_time_shares": dict((op, round(ms / total, 4)) for op, ms in by_op.items()) if total > 0 else {}}


def summary(report):
    """One line on a :func:`profile` report, for the sweep's progress."""
    share = "n/a" if report["fc_share"] is None else "%.1f%%" % (100 * report["fc_share"])
    return ("FC %s of %.3f ms summed over %d nodes; profiled runs x%s the unprofiled"
            % (share, report["layer_total_ms"], report["layer_count"], report["layers_overhead"]))


def _alternate(first, second, count):
    """Wall times in s of ``count`` calls each of ``first`` and ``second``, called by turns."""
    times = ([], [])
    perf = time.perf_counter
    for _ in range(count):
        for call, out in ((first, times[0]), (second, times[1])):
            t0 = perf()
            call()
            out.append(perf() - t0)
    return times


def _int(text):
    try:
        return int(text)
    except (TypeError, ValueError):
        return 0

