"""tools/trt-smoke.py, the smoke test for a real board, run here against the stand-ins.

trt_standins/smoke_launcher.py installs a stand-in ``tensorrt`` and the stand-in CUDA layer (one shared 4 GB
device) in each process the smoke script starts, then runs the script's ``main()``: every check line must
appear and none may fail. What the stand-ins cannot show comes out as INFO, never FAIL: the interrupt check
(a stand-in build ends long before the SIGINT; the EDGEPROF_STANDIN_FAULTS test below makes the stand-in
deliver one inside the build instead), ``context[cuda-python]`` (nothing to check there), ``versions``,
``nptype`` and ``memory-accounting`` (information by design), the 7.1 stand-in's ``corrupt-timing-cache``
(7.1 has no timing cache) and trtexec without a trtexec (a fake one here prints trtexec's lines). No test
asserts a time.
"""
import importlib.util
import json
import os
import re
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
SCRIPT = os.path.join(REPO, "tools", "trt-smoke.py")
LAUNCHER = os.path.join(HERE, "trt_standins", "smoke_launcher.py")
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from trt_standins import fixtures  # noqa: E402  (its model fixture; it installs no stand-in in this process)

model = fixtures.model

CHECK = re.compile(r"^CHECK (\S+): (PASS|FAIL|INFO) (.*)$")
# A trtexec's report lines (TensorRT 10.x samples/common/sampleReporting.cpp printEpilog layout).
FAKE_TRTEXEC = """#!%s
import sys
print("&&&& RUNNING TensorRT.trtexec [TensorRT v101300] # trtexec " + " ".join(sys.argv[1:]))
for name, median in (("Latency", 1.25), ("Enqueue Time", 0.3), ("H2D Latency", 0.06), ("GPU Compute Time", 1.0),
                     ("D2H Latency", 0.01)):
    print("[12/01/2026-10:00:00] [I] %%s: min = 0.5 ms, max = 2 ms, mean = %%g ms, median = %%g ms, "
          "percentile(90%%%%) = 1.5 ms" %% (name, median, median))
print("&&&& PASSED TensorRT.trtexec [TensorRT v101300]")
"""


def load_smoke():
    spec = importlib.util.spec_from_file_location("trt_smoke", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SMOKE = load_smoke()
ALL_CHECKS = [name for _, checks in SMOKE.GROUPS for name in checks] + ["stderr[%s]" % g for g in SMOKE.GROUP_NAMES]


def run_smoke(standin, args, faults=None):
    env = dict(os.environ)
    env.pop("EDGEPROF_STANDIN_FAULTS", None)
    if faults:
        env["EDGEPROF_STANDIN_FAULTS"] = json.dumps(faults)
    return subprocess.run([sys.executable, LAUNCHER, "--standin", standin, "--"] + list(args), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, env=env, timeout=600)


def checks(stdout):
    found = {}
    for line in stdout.splitlines():
        match = CHECK.match(line)
        if match:
            assert match.group(1) not in found, "%s reported twice" % match.group(1)
            found[match.group(1)] = (match.group(2), match.group(3))
    return found


@pytest.fixture
def fake_trtexec(tmp_path):
    path = str(tmp_path / "trtexec")
    with open(path, "w") as f:
        f.write(FAKE_TRTEXEC % sys.executable)
    os.chmod(path, 0o755)
    return path


@pytest.mark.parametrize("standin", ["trt_7_1", "trt_8_2", "trt_10"])
def test_every_check_runs_and_none_fails_on_the_stand_ins(standin, model, fake_trtexec, tmp_path):
    out_json = str(tmp_path / "smoke.json")
    done = run_smoke(standin, ["--model", model, "--input-shape", "3,8,8", "--runs", "20", "--oom-batch", "10000000",
                               "--trtexec", fake_trtexec, "--json", out_json])
    found = checks(done.stdout)
    assert sorted(found) == sorted(ALL_CHECKS), done.stderr[-2000:]
    assert [n for n, (status, _) in found.items() if status == "FAIL"] == [], done.stdout
    assert done.returncode == 0 and "STANDIN VIOLATION" not in done.stderr
    assert re.match(r"^SUMMARY: \d+ PASS, 0 FAIL, \d+ INFO \(exit 0\)$", done.stdout.splitlines()[-1])
    status = dict((name, s) for name, (s, _) in found.items())
    passing = ["dtype-mapping", "open[pycuda]", "context[pycuda]", "run[pycuda]", "close-twice[pycuda]",
               "builder-memory[pycuda]", "leak[pycuda]", "open[cuda-python]", "run[cuda-python]", "oom", "oom-recovery",
               "truncated-engine", "garbled-engine", "int8-placeholder", "int8-calibrated", "layer-timing"]
    assert [n for n in passing if status[n] != "PASS"] == []
    assert status["corrupt-timing-cache"] == ("INFO" if standin == "trt_7_1" else "PASS")
    assert "is_out_of_memory" in found["oom"][1]
    assert "cuda_layer=cuda-python" in found["open[cuda-python]"][1]
    assert "ratio" in found["trtexec"][1] and "'GPU Compute Time' 1.000 ms" in found["trtexec"][1]
    assert found["interrupt"][0] == "INFO" and "finished" in found["interrupt"][1]
    if standin != "trt_7_1":  # 7.1 has no engine inspector: layers without types
        assert "CaskConvolution" in found["layer-timing"][1]
    with open(out_json) as f:
        saved = json.load(f)
    assert saved["exit"] == 0 and saved["summary"]["FAIL"] == 0
    assert sorted(r["name"] for r in saved["results"]) == sorted(ALL_CHECKS)


def test_the_nptype_note_says_when_trt_nptype_itself_would_raise(model):
    found = checks(run_smoke("trt_8_2", ["--model", model, "--only", "versions"]).stdout)
    assert found["nptype"][0] == "INFO" and "no attribute 'bool'" in found["nptype"][1]  # 8.2 under numpy 1.24-1.26
    assert found["dtype-mapping"][0] == "PASS"


@pytest.mark.parametrize("standin", ["trt_8_2", "trt_10"])
def test_an_interrupt_inside_the_build_ends_the_build_process_with_130(standin, model):
    done = run_smoke(standin, ["--model", model, "--only", "interrupt"], faults={"signal_during_build": 2})
    found = checks(done.stdout)
    assert found["interrupt"][0] == "PASS" and "exit 130" in found["interrupt"][1], done.stdout + done.stderr
    assert done.returncode == 0


def test_a_forced_failure_fails_its_checks_and_exits_1(model):
    done = run_smoke("trt_10", ["--model", model, "--only", "pycuda"], faults={"build_oom": True})
    found = checks(done.stdout)
    assert found["open[pycuda]"][0] == "FAIL" and "OutOfMemory" in found["open[pycuda]"][1]
    assert found["stderr[pycuda]"][0] == "FAIL" and "TensorRT error:" in found["stderr[pycuda]"][1]
    assert found["run[pycuda]"][0] == "INFO"  # not run after the failed open
    assert done.returncode == 1 and re.search(r"^SUMMARY: 0 PASS, 2 FAIL", done.stdout, re.M)


def test_a_jetson_out_of_memory_build_passes_the_oom_check(model):
    done = run_smoke("trt_8_2", ["--model", model, "--only", "oom"], faults={"build_oom_jetson": True})
    found = checks(done.stdout)
    assert found["oom"][0] == "PASS" and "no tactic that fits in memory" in found["oom"][1]
    assert found["oom-recovery"][0] == "FAIL"  # the fault holds for every build, batch 1's too


@pytest.mark.parametrize("args", [
    [],
    ["--model", "no-such-model.onnx"],
    ["--model", "MODEL", "--only", "versions,bogus"],
    ["--model", "MODEL", "--batch", "0"],
    ["--model", "MODEL", "--trtexec", "/no/such/trtexec"],
    ["--model", "MODEL", "--input-shape", "3,x,8"],
    ["--model", "MODEL", "--surprise"],
])
def test_bad_arguments_exit_2_with_one_line(args, model):
    args = [model if a == "MODEL" else a for a in args]
    done = subprocess.run([sys.executable, SCRIPT] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=60)
    assert done.returncode == 2 and done.stdout == ""
    assert len(done.stderr.splitlines()) == 1 and done.stderr.startswith("trt-smoke.py: error: "), done.stderr


def test_a_group_that_dies_fails_the_checks_it_did_not_print(model, capsys):
    child = [sys.executable, "-c", "import os; print('CHECK versions: INFO partial', flush=True); os.abort()"]
    assert SMOKE.main(["--model", model, "--only", "versions"], child_command=child) == 1
    found = checks(capsys.readouterr().out)
    assert found["versions"] == ("INFO", "partial")
    assert found["dtype-mapping"][0] == "FAIL" and "did not run" in found["dtype-mapping"][1]
    assert found["stderr[versions]"][0] == "FAIL" and "SIGABRT" in found["stderr[versions]"][1]


def test_a_pycuda_warning_on_stderr_fails_the_group(model, capsys):
    code = ("import sys\nfor n in ('versions', 'dtype-mapping', 'nptype'): print('CHECK %s: PASS ok' % n)\n"
            "sys.stderr.write('PyCUDA WARNING: a clean-up operation failed (dead context maybe?)\\n')\n")
    assert SMOKE.main(["--model", model, "--only", "versions"], child_command=[sys.executable, "-c", code]) == 1
    found = checks(capsys.readouterr().out)
    assert found["stderr[versions]"][0] == "FAIL" and "dead context" in found["stderr[versions]"][1]
    assert found["versions"][0] == "PASS"


def test_trtexec_reports_of_7_and_8_and_later_are_read():
    assert SMOKE.parse_trtexec(
        "[I] Latency: min = 1 ms, max = 2 ms, mean = 1.5 ms, median = 1.4 ms, percentile(99%) = 2 ms\n"
        "[I] H2D Latency: min = 0.1 ms, max = 0.2 ms, mean = 0.1 ms, median = 0.12 ms\n"
        "[I] GPU Compute Time: min = 1 ms, max = 2 ms, mean = 1.1 ms, median = 1.05 ms\n") == {
        "Latency": 1.4, "H2D Latency": 0.12, "GPU Compute Time": 1.05}
    assert SMOKE.parse_trtexec("[I] GPU Compute: min: 0.9 ms, max: 1 ms, mean: 0.95 ms, median: 0.94 ms") == {
        "GPU Compute Time": 0.94}
    assert SMOKE.trtexec_flags("8.2.1.8") == ["--workspace=1024", "--explicitBatch"]
    assert SMOKE.trtexec_flags("10.13.0.35") == ["--memPoolSize=workspace:1024"]
