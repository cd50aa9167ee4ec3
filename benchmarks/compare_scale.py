"""How long does ``edgeprof compare`` take over a lab's results folder, and how much memory?

Makes N profiles from a real sweep (a short ``edgeprof sweep`` run here, or the profiles of one
given with ``--from``): each source profile cloned onto many boards, ``--per-board`` models a board,
model names varied where the sweep has fewer models than that. Then, in one run and on the same
files, it times
  A. plain ``yaml.safe_load`` of every file (PyYAML's pure-Python loader, what compare used to do),
  B. a first ``edgeprof compare`` over the folder (no index yet: every file is parsed),
  C. the same ``compare`` again (the index is current: no file is parsed),
and prints B/A and C/A (wall and CPU time; B and C are run ``--repeat`` times, B each time without an
index, and the medians are taken: a shared machine's load comes and goes), with the peak resident
memory of each compare (its own process and its parse workers, ``resource.getrusage``). Each
compare runs in a fresh process, so its time includes starting Python and importing edgeprof.

    python benchmarks/compare_scale.py                    # N=10000 from a sweep of tests/data/tiny.onnx
    python benchmarks/compare_scale.py --from profiles/demo-cpu --n 10000   # from `make demo`'s sweep

Targets (issue 19, a 2-core machine): B/A <= 0.25, C/A <= 0.01, memory < 200 MB.
"""
import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import yaml

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from edgeprof.records import profile, store  # noqa: E402

SWEEP = ["--batch", "1,2,4,8", "--min-seconds", "0.2", "--min-runs", "10", "--warmup-seconds", "0.05",
         "--idle-seconds", "0", "--power", "none"]


def sweep(models, out):
    """A short real sweep of ``models`` into ``out``; returns its profile files."""
    subprocess.check_call([sys.executable, "-m", "edgeprof", "sweep", "--models", models, "--out", out,
                           "--board-name", "bench-cpu"] + SWEEP, cwd=REPO)
    return profile.iter_profile_files([out])


def clone(sources, n, per_board, out):
    """``n`` profiles under ``out/<board>/``: the sources cycled, ``per_board`` models a board."""
    loaded = [profile.load(path) for path in sources]
    for number in range(n):
        data = json.loads(json.dumps(loaded[number % len(loaded)]))
        board = "lab-board-%04d" % (number // per_board)
        lap = (number % per_board) // len(loaded)
        if lap:
            data["model"]["name"] = "%s_v%d" % (data["model"]["name"], lap)
        data["board"]["slug"] = data["board"]["name"] = board
        folder = os.path.join(out, board)
        if not os.path.isdir(folder):
            os.makedirs(folder)
        name = "%s__%s__%s.yaml" % (data["model"]["name"], data["backend"]["name"], data["backend"]["precision"])
        with open(os.path.join(folder, name), "w") as f:
            yaml.dump(data, f, Dumper=yaml.CSafeDumper, default_flow_style=False, sort_keys=False)


def plain_safe_load(files):
    """Wall and CPU seconds of ``yaml.safe_load`` of every file, here."""
    started, cpu = time.perf_counter(), time.process_time()
    for path in files:
        with open(path, "rb") as f:
            yaml.safe_load(f.read())
    return time.perf_counter() - started, time.process_time() - cpu


def timed_compare(folder, env):
    """Wall seconds, peak RSS in MiB (max of the process and its workers) and the child's report of one
    ``edgeprof compare``."""
    report = os.path.join(tempfile.mkdtemp(), "rusage.json")
    started = time.perf_counter()
    with open(os.devnull, "w") as devnull:
        subprocess.check_call([sys.executable, __file__, "--child", report, folder], env=env, stdout=devnull,
                              cwd=REPO)
    seconds = time.perf_counter() - started
    with open(report) as f:
        usage = json.load(f)
    return seconds, max(usage["self_kib"], usage["children_kib"]) / 1024.0, usage


def child(report, folder):
    """Run ``edgeprof compare folder`` in this process, then write its peak RSS (Linux: KiB) to ``report``."""
    from edgeprof import cli
    status = cli.main(["compare", folder])
    own, workers = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    usage = {"self_kib": own.ru_maxrss, "children_kib": workers.ru_maxrss,
             "cpu_s": own.ru_utime + own.ru_stime + workers.ru_utime + workers.ru_stime,
             "parsed": store.last.parsed, "indexed": store.last.indexed, "status": status}
    with open(report, "w") as f:
        json.dump(usage, f)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10000, help="profiles to make (default 10000)")
    parser.add_argument("--per-board", type=int, default=10, help="models per board (default 10)")
    parser.add_argument("--from", dest="source", metavar="DIR", help="clone these profiles instead of sweeping")
    parser.add_argument("--models", default=os.path.join(REPO, "tests", "data", "tiny.onnx"),
                        help="what the short sweep runs (default tests/data/tiny.onnx)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of B and of C, medians taken (default 3)")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(*args.child)
    work = tempfile.mkdtemp(prefix="edgeprof-scale-")
    try:
        sources = profile.iter_profile_files([args.source]) if args.source else sweep(args.models,
                                                                                      os.path.join(work, "sweep"))
        folder = os.path.join(work, "lab")
        clone(sources, args.n, args.per_board, folder)
        files = profile.iter_profile_files([folder])
        # the index trusts no entry younger than its racy window (edgeprof.records.store.db.RACY_NS)
        time.sleep(store.db.RACY_NS / 1e9 + 0.1)
        index = os.path.join(work, "index.sqlite")
        env = dict(os.environ, EDGEPROF_INDEX=index)
        load_before = os.getloadavg()[0]
        plain, plain_cpu = plain_safe_load(files)
        firsts, seconds = [], []
        for _ in range(args.repeat):
            for name in (index, index + "-wal", index + "-shm"):
                if os.path.exists(name):
                    os.unlink(name)
            firsts.append(timed_compare(folder, env))
        for _ in range(args.repeat):
            seconds.append(timed_compare(folder, env))
        size = sum(os.path.getsize(f) for f in files) / float(len(files))
        print("%d profiles (%d sources, mean %.1f KiB), %d CPUs, load average %.1f before and %.1f after, "
              "PyYAML %s with libyaml: %s" % (len(files), len(sources), size / 1024, store._cpus(), load_before,
                                              os.getloadavg()[0], yaml.__version__, yaml.__with_libyaml__))
        print("A  plain yaml.safe_load of every file:  %8.2f s wall, %8.2f s CPU" % (plain, plain_cpu))
        for name, runs in (("B  first edgeprof compare (no index): ", firsts),
                           ("C  second edgeprof compare (index):   ", seconds)):
            wall = statistics.median(r[0] for r in runs)
            cpu = statistics.median(r[2]["cpu_s"] for r in runs)
            print("%s %8.2f s wall = %.4fx A, %8.2f s CPU = %.4fx A; peak RSS %.0f MiB; %d files parsed"
                  % (name, wall, wall / plain, cpu, cpu / plain_cpu, max(r[1] for r in runs),
                     max(r[2]["parsed"] for r in runs)))
            print("   each run: " + ", ".join("%.2f s wall %.2f s CPU" % (r[0], r[2]["cpu_s"]) for r in runs))
        print("targets (wall, medians of %d): B <= 0.25x A, C <= 0.01x A; peak RSS < 200 MiB" % args.repeat)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
