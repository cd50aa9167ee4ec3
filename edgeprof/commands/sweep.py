"""``edgeprof sweep``: measure each model at each batch size and write YAML profiles."""
import logging
import os

from edgeprof.agent import backends, board, sensors
from edgeprof.commands import non_negative_int, positive_float, positive_int, positive_int_list
from edgeprof.agent.measure import Protocol
from edgeprof.agent.selection import resolve
from edgeprof.agent.sweep import Sweep, SweepConfig

HELP = "measure latency, power and memory per batch size on this board; write profiles"
DEFAULT_BATCHES = "1,2,4,8,16,32,64"
log = logging.getLogger("edgeprof")


def name_list(text):
    """``a,b`` -> ``["a", "b"]`` for argparse; an empty list is refused (it would select nothing)."""
    import argparse
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise argparse.ArgumentTypeError("%r names no model; give names like resnet18,vgg16" % text)
    return names


def configure(parser):
    parser.add_argument("--models", default="models",
                        help="a folder with manifest.yaml (from edgeprof export), a manifest, or one .onnx file "
                             "(default: models)")
    parser.add_argument("--only", type=name_list,
                        help="comma-separated model names from the manifest")
    parser.add_argument("--batch", type=positive_int_list, default=positive_int_list(DEFAULT_BATCHES),
                        help="batch sizes (default %s)" % DEFAULT_BATCHES)
    parser.add_argument("--backend", default="auto", choices=("auto",) + backends.NAMES,
                        help="runtime: auto picks TensorRT on a Jetson where importable, else onnxruntime")
    parser.add_argument("--precision", default="fp32", choices=("fp32", "fp16", "int8"))
    parser.add_argument("--out", default="profiles", help="profiles folder (default: profiles)")
    parser.add_argument("--board-name", help="name of this board for the profile folder (default: from the board)")
    proto = parser.add_argument_group("measurement protocol")
    proto.add_argument("--min-seconds", type=positive_float, default=3.0, help="timed window, at least (3)")
    proto.add_argument("--min-runs", type=positive_int, default=10, help="timed runs, at least (10)")
    proto.add_argument("--warmup-seconds", type=positive_float, default=0.2, help="warm-up, at least (0.2)")
    proto.add_argument("--warmup-runs", type=positive_int, default=10, help="warm-up runs, at least (10)")
    power = parser.add_argument_group("power")
    power.add_argument("--power", default="auto",
                       help="power sensor: auto, none, ina3221, jtop, tegrastats, nvml, rapl (default auto)")
    power.add_argument("--power-rate-hz", type=positive_float, help="sampling rate (default: the sensor's)")
    power.add_argument("--idle-seconds", type=positive_float, default=2.0,
                       help="idle power measured before each model (2; 0 skips it)")
    again = parser.add_argument_group("resume")
    again.add_argument("--resume", action="store_true",
                       help="finish an interrupted sweep (the default: runs recorded with the same settings "
                            "are skipped)")
    again.add_argument("--redo", action="store_true", help="measure again runs that are already recorded")
    ort = parser.add_argument_group("onnxruntime backend")
    ort.add_argument("--ort-provider", default="cpu", choices=("cpu", "cuda", "tensorrt"),
                     help="execution provider (default cpu)")
    ort.add_argument("--threads", type=non_negative_int, default=0, help="intra-op threads, 0 = onnxruntime's default")
    trt = parser.add_argument_group("tensorrt backend")
    trt.add_argument("--workspace-mb", type=positive_int, default=1024,
                     help="builder workspace in MiB (1024, sized for a 4 GB board; always set explicitly)")
    trt.add_argument("--calib-dir", help="images for int8 calibration (without: timing-only int8)")
    trt.add_argument("--layers", action="store_true", help="also time each layer (separate run)")
    trt.add_argument("--engine-cache", default=os.path.join("~", ".cache", "edgeprof", "engines"),
                     help="engine cache folder (default ~/.cache/edgeprof/engines)")
    trt.add_argument("--rebuild", action="store_true", help="rebuild engines even when cached")


def backend_options(args, backend_name):
    """(recorded options, runtime-only options) for the chosen backend."""
    if backend_name == "onnxruntime":
        return {"ort_provider": args.ort_provider, "threads": args.threads}, {}
    recorded = {"workspace_mb": args.workspace_mb, "calib_dir": args.calib_dir, "layers": args.layers}
    return recorded, {"cache_dir": os.path.expanduser(args.engine_cache), "rebuild": args.rebuild}


def build_config(args):
    models = resolve(args.models, args.only)
    backend, note = backends.choose(args.backend, board.identity()["is_jetson"])
    options, runtime_options = backend_options(args, backend.name)
    monitor = sensors.open_monitor(args.power, args.power_rate_hz, device=backend.device(options))
    protocol = Protocol(args.warmup_seconds, args.warmup_runs, args.min_seconds, args.min_runs)
    return SweepConfig(models, args.batch, backend, note, args.precision, args.out, protocol, monitor,
                       idle_seconds=args.idle_seconds, board_name=args.board_name, options=options,
                       runtime_options=runtime_options, redo=args.redo)


def run(args):
    sweep = Sweep(build_config(args))
    summary = sweep.run()
    log.info(summary.line(sweep.folder))
    if summary.interrupted:
        return 130
    return 0
