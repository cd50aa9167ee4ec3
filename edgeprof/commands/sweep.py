"""``edgeprof sweep``: measure each model at each batch size and write YAML profiles."""
import logging

from edgeprof.agent import backends, board, sensors
from edgeprof.commands import name_list, non_negative_int, positive_float, positive_int, positive_int_list
from edgeprof.agent.measure import Protocol
from edgeprof.agent.selection import resolve
from edgeprof.agent.sweep import Sweep, SweepConfig

HELP = "measure latency, power and memory per batch size on this board; write profiles"
DEFAULT_BATCHES = "1,2,4,8,16,32,64"
log = logging.getLogger("edgeprof")


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
    parser.add_argument("--precision", default="fp32", choices=backends.precisions(),
                        help="precision to run: onnxruntime runs the manifest's fp16/int8 file (edgeprof export "
                             "--precision), tensorrt builds its engine at it (default fp32)")
    parser.add_argument("--out", default="profiles", help="profiles folder (default: profiles)")
    parser.add_argument("--board-name", help="name of this board for the profile folder (default: from the board)")
    proto = parser.add_argument_group("measurement protocol")
    proto.add_argument("--min-seconds", type=positive_float, default=3.0, help="timed window, at least (3)")
    proto.add_argument("--min-runs", type=positive_int, default=10, help="timed runs, at least (10)")
    proto.add_argument("--warmup-seconds", type=positive_float, default=0.2, help="warm-up, at least (0.2)")
    proto.add_argument("--warmup-runs", type=positive_int, default=10, help="warm-up runs, at least (10)")
    proto.add_argument("--trials", type=positive_int, default=1,
                       help="measure each (model, batch) this many times, trial k of every point in round k, each "
                            "round in a random order; the spread between trials is recorded (default 1)")
    proto.add_argument("--seed", type=non_negative_int,
                       help="seed of the random order (default: a fresh one, recorded in each run's order)")
    proto.add_argument("--layers", action="store_true",
                       help="also time each layer, in profiled runs of their own after the timed window (any "
                            "backend): records fc_share and the time per layer type")
    power = parser.add_argument_group("power")
    power.add_argument("--power", default="auto", choices=("auto", "none") + sensors.AUTO_ORDER,
                       help="power sensor: auto (the first that works: the Jetson's rails first, then NVML "
                            "or RAPL as the model runs on GPU or CPU), none, or one by name (default auto)")
    power.add_argument("--power-rate-hz", type=positive_float, help="sampling rate (default: the sensor's)")
    power.add_argument("--idle-seconds", type=positive_float, default=2.0,
                       help="idle power measured before each model (2; 0 skips it)")
    again = parser.add_argument_group("resume")
    again.add_argument("--resume", action="store_true",
                       help="finish an interrupted sweep (the default: runs recorded with the same settings "
                            "are skipped)")
    again.add_argument("--redo", action="store_true", help="measure again runs that are already recorded")
    for cls in sorted(backends.classes(), key=lambda c: c.name):  # each declares its own (backends/<name>.py)
        cls.add_arguments(parser.add_argument_group("%s backend" % cls.name))


def build_config(args):
    backend, note = backends.choose(args.backend, board.identity()["is_jetson"])
    backend.check_precision(args.precision)
    models = resolve(args.models, args.only, args.precision, backend.ONNX_PER_PRECISION)
    options, runtime_options = backend.options(args)
    monitor = sensors.open_monitor(args.power, args.power_rate_hz, device=backend.device(options))
    # warm up at least as long as the power sensor's own averaging needs to catch up with the load
    protocol = Protocol(max(args.warmup_seconds, monitor.catch_up_s), args.warmup_runs, args.min_seconds,
                        args.min_runs)
    return SweepConfig(models=models, batches=args.batch, backend=backend, backend_note=note,
                       precision=args.precision, out_dir=args.out, protocol=protocol, monitor=monitor,
                       idle_seconds=args.idle_seconds, board_name=args.board_name, options=options,
                       runtime_options=runtime_options, redo=args.redo, trials=args.trials, seed=args.seed)


def run(args):
    sweep = Sweep(build_config(args))
    summary = sweep.run()
    log.info(summary.line(sweep.folder))
    if summary.interrupted:
        return 130
    return 0
