"""How much does edgeprof's harness add to what it measures?

In one process, on one ONNX Runtime session, alternate rounds of
  A. a bare loop: ``session.run`` on the same preallocated input, timed with perf_counter, and
  B. edgeprof's measurement (``edgeprof.agent.measure.measure`` on the backend's Session),
and print the median latency of each, and their ratio B/A. Rounds alternate, and so does which side
goes first in a round, so that drifts of a shared machine hit both alike; the figure reported is the median over rounds.

    python benchmarks/harness_overhead.py                 # resnet18, batch 1, CPU (exports it if needed)
    python benchmarks/harness_overhead.py --model models/resnet18.onnx --rounds 7 --seconds 3

The house limit is 2% (ratio <= 1.02) for resnet18 at batch 1 on the CPU.
"""
import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from edgeprof.agent.backends.base import Session  # noqa: E402
from edgeprof.agent.backends.onnxruntime import OnnxRuntimeBackend  # noqa: E402
from edgeprof.agent.measure import Protocol, measure  # noqa: E402
from common import add_model_arguments, model_path  # noqa: E402


def bare_loop(ort_session, outputs, feed, seconds):
    perf = time.perf_counter
    run = ort_session.run
    times = []
    deadline = perf() + seconds
    while perf() < deadline or len(times) < 10:
        t0 = perf()
        run(outputs, feed)
        times.append(perf() - t0)
    return statistics.median(times) * 1000.0


class NullSession(Session):
    """A session whose inference does nothing: what edgeprof times is then its own cost."""

    def run_impl(self):
        pass


def fixed_cost_ns():
    """Per-inference cost of the timed path with nothing to run: (bare call, edgeprof Session.run), in ns."""
    def nothing():
        pass

    perf = time.perf_counter
    bare = []
    for _ in range(200000):
        t0 = perf()
        nothing()
        bare.append(perf() - t0)
    result = measure(NullSession(1), Protocol(0, 1000, 0.5, 200000))
    return statistics.median(bare) * 1e9, result.summary()["latency_ms"]["median"] * 1e6


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_model_arguments(parser)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=3.0, help="per round and per side")
    args = parser.parse_args()
    model = model_path(args.model)
    session = OnnxRuntimeBackend().open(model, args.batch, "fp32", {})
    ort_session, outputs, feed = session._session, session._output_names, session._feed
    protocol = Protocol(warmup_seconds=0.5, warmup_runs=10, min_seconds=args.seconds, min_runs=10)
    measure(session, Protocol(1.0, 10, 0.5, 10))  # warm the caches once for both sides
    bare, harness = [], []
    for index in range(args.rounds):
        # Alternate which side goes first (ABBA), so a drift within a round favours neither.
        if index % 2 == 0:
            bare.append(bare_loop(ort_session, outputs, feed, args.seconds))
            harness.append(measure(session, protocol).summary()["latency_ms"]["median"])
        else:
            harness.append(measure(session, protocol).summary()["latency_ms"]["median"])
            bare.append(bare_loop(ort_session, outputs, feed, args.seconds))
        print("round %d: bare %.3f ms  edgeprof %.3f ms  ratio %.4f"
              % (index + 1, bare[-1], harness[-1], harness[-1] / bare[-1]))
    ratios = [h / b for h, b in zip(harness, bare)]
    bare_ns, edgeprof_ns = fixed_cost_ns()
    print("fixed cost per inference (median of 200000 empty calls): bare %.0f ns, edgeprof %.0f ns; "
          "difference %.0f ns = %.4f%% of the bare median latency"
          % (bare_ns, edgeprof_ns, edgeprof_ns - bare_ns, 100 * (edgeprof_ns - bare_ns) / (statistics.median(bare) * 1e6)))
    print("model %s batch %d: median bare %.3f ms, median edgeprof %.3f ms, median ratio edgeprof/bare %.4f "
          "(limit 1.02)" % (os.path.basename(model), args.batch, statistics.median(bare),
                            statistics.median(harness), statistics.median(ratios)))


if __name__ == "__main__":
    main()
