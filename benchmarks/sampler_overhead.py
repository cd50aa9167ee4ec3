"""Does the power sampler disturb what it measures?

In one process, on one ONNX Runtime session, alternate rounds of edgeprof's measurement
(``edgeprof.agent.measure.measure``) with the power sampler off and on, and print the median latency
of each and their ratio on/off. Rounds alternate so that drifts of a shared machine hit both
alike; the figure reported is the median of the per-round ratios. It also prints what one
sensor read costs and the share of one core the sampler takes at its rate: a bound that
holds even where other work makes the latencies noisy.

The sampler reads the sensor ``auto`` finds. On a machine without one (a CI box, a laptop in
a container) it reads a fixture tree instead (``--root``, default the TX2 tree: six INA3221
rails, one sysfs file each per sample; ``tests/fixtures/agx-orin`` has eight files per sample),
which costs the sampler thread what real sysfs files would.

    python benchmarks/sampler_overhead.py                  # resnet18, batch 1, CPU, 50 Hz
    python benchmarks/sampler_overhead.py --rate-hz 200 --rounds 7 --root tests/fixtures/agx-orin

The house limit is 2% (ratio <= 1.02) for resnet18 at batch 1 on the CPU.
"""
import argparse
import os
import statistics
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from edgeprof.agent import sensors  # noqa: E402
from edgeprof.agent.backends.onnxruntime import OnnxRuntimeBackend  # noqa: E402
from edgeprof.agent.measure import Protocol, measure  # noqa: E402
from common import add_model_arguments, model_path  # noqa: E402


def choose_sensor(fallback_root):
    """``(choice, where)``: this machine's sensor, else the INA3221 of the fixture tree ``fallback_root``."""
    monitor = sensors.open_monitor("auto", device="cpu")
    described = monitor.describe()
    monitor.close()
    if described["status"] == "ok":
        return described["sensor"], "this machine"
    os.environ["EDGEPROF_ROOT"] = fallback_root
    return "ina3221", "fixture tree %s" % os.path.relpath(fallback_root, REPO)


def read_cost_us(choice, reads=2000):
    """Mean wall time of one ``read()`` of the sensor ``choice``, in microseconds."""
    sensor = sensors.probe(choice)
    try:
        start = time.perf_counter()
        for _ in range(reads):
            sensor.read()
        return (time.perf_counter() - start) / reads * 1e6
    finally:
        sensor.close()


def median_latency_ms(session, protocol, monitor=None):
    """Median latency of one measurement window; with ``monitor``, its window brackets the timed runs."""
    if monitor is None:
        return measure(session, protocol).summary()["latency_ms"]["median"]
    result = measure(session, protocol, on_window_start=monitor.start_window,
                     on_window_stop=lambda runs: monitor.stop_window(runs * session.batch, None))
    return result.summary()["latency_ms"]["median"]


def sampled_latency_ms(session, protocol, choice, rate_hz):
    """Median latency with a monitor open (its sampler thread running) for just this window."""
    monitor = sensors.open_monitor(choice, rate_hz=rate_hz)
    try:
        return median_latency_ms(session, protocol, monitor)
    finally:
        monitor.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_model_arguments(parser)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=3.0, help="per round and per side")
    parser.add_argument("--rate-hz", type=float, default=50.0, help="sampler rate (default 50, as in a sweep)")
    parser.add_argument("--root", default=os.path.join(REPO, "tests", "fixtures", "tx2"),
                        help="fixture tree to sample when this machine has no power sensor")
    args = parser.parse_args()
    model = model_path(args.model)
    session = OnnxRuntimeBackend().open(model, args.batch, "fp32", {})
    protocol = Protocol(warmup_seconds=0.5, warmup_runs=10, min_seconds=args.seconds, min_runs=10)
    measure(session, Protocol(1.0, 10, 0.5, 10))  # warm the caches once for both sides
    choice, where = choose_sensor(args.root)
    cost_us = read_cost_us(choice)
    print("sampler: sensor %s on %s at %.0f Hz; one read %.1f us, so the sampler takes %.3f%% of one core"
          % (choice, where, args.rate_hz, cost_us, cost_us * args.rate_hz / 1e4))
    off, on = [], []
    for index in range(args.rounds):
        # Alternate which side goes first (ABBA), so a drift within a round favours neither.
        if index % 2 == 0:
            off.append(median_latency_ms(session, protocol))
            on.append(sampled_latency_ms(session, protocol, choice, args.rate_hz))
        else:
            on.append(sampled_latency_ms(session, protocol, choice, args.rate_hz))
            off.append(median_latency_ms(session, protocol))
        print("round %d: sampler off %.3f ms  on %.3f ms  ratio %.4f" % (index + 1, off[-1], on[-1], on[-1] / off[-1]))
    ratios = [b / a for a, b in zip(off, on)]
    print("model %s batch %d: median sampler off %.3f ms, on %.3f ms, median ratio on/off %.4f (limit 1.02)"
          % (os.path.basename(model), args.batch, statistics.median(off), statistics.median(on),
             statistics.median(ratios)))


if __name__ == "__main__":
    main()
