"""The sweep end to end on the tiny model: profiles, resume after SIGKILL, oom, errors, lock, bad input."""
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import yaml

from conftest import REPO, TINY_ONNX
from edgeprof.records import latencies, profile
from edgeprof.agent.backends.base import Session
from edgeprof.agent.backends.onnxruntime import OnnxRuntimeBackend
from edgeprof.agent.measure import Protocol
from edgeprof.agent.sensors import UnavailableMonitor
from edgeprof.agent.sweep import Sweep, SweepConfig

FAST = ["--min-seconds", "0.05", "--min-runs", "3", "--warmup-seconds", "0", "--warmup-runs", "1",
        "--idle-seconds", "0", "--power", "none"]


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


@pytest.fixture
def models_dir(tmp_path):
    """A models folder as `edgeprof export` leaves it: two copies of the tiny model and a manifest."""
    return make_models_dir(tmp_path)


def make_models_dir(tmp_path):
    folder = tmp_path / "models"
    folder.mkdir()
    entries = []
    for name in ("tiny_a", "tiny_b"):
        shutil.copy(TINY_ONNX, str(folder / (name + ".onnx")))
        entries.append({"name": name, "family": "Tiny", "file": name + ".onnx", "sha256": sha256(TINY_ONNX),
                        "input_shape": [3, 32, 32], "opset": 13, "params": 322, "macs": 19664,
                        "paper_ops": 48000, "weight_bytes": 1288, "top1": 12.5, "weights": "none",
                        "accuracy_source": "made up for the test"})
    manifest = {"schema": "edgeprof/manifest/v1", "edgeprof_version": "0.1.0", "models": entries}
    (folder / "manifest.yaml").write_text(yaml.safe_dump(manifest))
    return folder


def sweep_cli(cli, models, out, *extra):
    return cli(["sweep", "--models", str(models), "--out", str(out), "--board-name", "testboard"]
               + FAST + list(extra))


def load_profiles(out):
    folder = os.path.join(str(out), "testboard")
    return {name: profile.load(os.path.join(folder, name)) for name in sorted(os.listdir(folder))
            if name.endswith(".yaml")}


def test_full_sweep_writes_one_valid_profile_per_model(cli, models_dir, tmp_path, empty_root):
    result = sweep_cli(cli, models_dir, tmp_path / "out", "--batch", "1,2,4")
    assert result.returncode == 0, result.stderr
    profiles = load_profiles(tmp_path / "out")
    assert sorted(profiles) == ["tiny_a__onnxruntime__fp32.yaml", "tiny_b__onnxruntime__fp32.yaml"]
    data = profiles["tiny_a__onnxruntime__fp32.yaml"]
    assert [r["batch"] for r in data["runs"]] == [1, 2, 4]
    assert all(r["status"] == "ok" and r["runs"] >= 3 for r in data["runs"])
    assert data["model"]["params"] == 322 and data["model"]["top1"] == 12.5
    assert data["backend"]["options"]["ort_provider"] == "cpu"
    assert data["power"] == {"status": "unavailable", "reason": "power measurement turned off with --power none"}
    assert data["runs"][0]["memory"]["peak_rss_bytes"] > 0
    assert "sweep done: 6 runs measured" in result.stderr


def test_a_single_onnx_file_can_be_swept(cli, tmp_path, empty_root):
    result = cli(["sweep", "--models", TINY_ONNX, "--out", str(tmp_path / "out"), "--board-name", "testboard",
                  "--batch", "2"] + FAST)
    assert result.returncode == 0, result.stderr
    data = load_profiles(tmp_path / "out")["tiny__onnxruntime__fp32.yaml"]
    assert data["model"]["sha256"] == sha256(TINY_ONNX)
    assert data["runs"][0]["status"] == "ok"


def test_a_rerun_skips_what_is_recorded(cli, models_dir, tmp_path, empty_root):
    sweep_cli(cli, models_dir, tmp_path / "out", "--batch", "1,2")
    first = load_profiles(tmp_path / "out")
    result = sweep_cli(cli, models_dir, tmp_path / "out", "--batch", "1,2,4", "--resume")
    assert "2 runs measured, 4 already recorded (skipped)" in result.stderr
    again = load_profiles(tmp_path / "out")
    for name, data in first.items():
        assert again[name]["runs"][:2] == data["runs"]


def test_redo_measures_again_and_the_sidecar_keeps_only_the_new_times(cli, models_dir, tmp_path, empty_root):
    sweep_cli(cli, models_dir, tmp_path / "out", "--batch", "1,2", "--only", "tiny_a")
    path = os.path.join(str(tmp_path / "out"), "testboard", "tiny_a__onnxruntime__fp32.yaml")
    first = profile.load(path)["runs"]
    result = sweep_cli(cli, models_dir, tmp_path / "out", "--batch", "1,2", "--only", "tiny_a", "--redo")
    assert "2 runs measured, 0 already recorded" in result.stderr
    again = profile.load(path)["runs"]
    assert [r["raw_latencies"]["sha256"] for r in again] != [r["raw_latencies"]["sha256"] for r in first]
    for run in again:
        assert len(latencies.read_run(path, run)[0]["latency_ms"]) == run["runs"]
    with pytest.raises(latencies.MissingLatencies, match="stale"):  # the old runs' arrays were dropped
        latencies.read_run(path, first[0])
    assert len(latencies.read_file(latencies.sidecar_path(path))) == 2  # one array per run: nothing stale left


def test_changed_settings_measure_again(cli, models_dir, tmp_path, empty_root):
    sweep_cli(cli, models_dir, tmp_path / "out", "--batch", "1", "--only", "tiny_a")
    result = sweep_cli(cli, models_dir, tmp_path / "out", "--batch", "1", "--only", "tiny_a", "--threads", "1")
    assert "1 runs measured, 0 already recorded" in result.stderr
    data = load_profiles(tmp_path / "out")["tiny_a__onnxruntime__fp32.yaml"]
    assert data["backend"]["options"]["threads"] == 1  # the header says what the new run was measured with


def test_a_sweep_killed_with_sigkill_resumes_without_repeating_or_losing_runs(models_dir, tmp_path, empty_root):
    out = tmp_path / "out"
    batches = [1, 2, 4, 8, 16, 32]
    env = dict(os.environ, PYTHONPATH=REPO)
    cmd = [sys.executable, "-m", "edgeprof", "sweep", "--models", str(models_dir), "--out", str(out),
           "--board-name", "testboard", "--batch", ",".join(map(str, batches))] + FAST
    cmd[cmd.index("--min-seconds") + 1] = "0.4"
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    target = os.path.join(str(out), "testboard", "tiny_a__onnxruntime__fp32.yaml")
    deadline = time.time() + 60
    while time.time() < deadline:
        if os.path.exists(target) and len(profile.load(target)["runs"]) >= 2:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    before = profile.load(target)["runs"]
    assert 2 <= len(before) < len(batches), "the kill came too late to test a resume"
    recorded = sum(len(data["runs"]) for data in load_profiles(out).values())
    assert os.path.exists(os.path.join(str(out), "testboard", ".edgeprof.lock"))  # left behind by the kill

    resumed = subprocess.run(cmd + ["--resume"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             universal_newlines=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    assert "taking over a stale lock" in resumed.stderr
    profiles = load_profiles(out)
    for data in profiles.values():
        assert [r["batch"] for r in data["runs"]] == batches
        assert all(r["status"] == "ok" for r in data["runs"])
    after = dict((r["batch"], r) for r in profiles["tiny_a__onnxruntime__fp32.yaml"]["runs"])
    for run in before:  # the runs done before the kill (in the sweep's random order) were not done again
        assert after[run["batch"]] == run
    assert "%d already recorded" % recorded in resumed.stderr
    folder = os.path.join(str(out), "testboard")
    for name, data in profiles.items():  # every run's raw times survived the kill and the resume
        for run in data["runs"]:
            (trial,) = latencies.read_run(os.path.join(folder, name), run)
            assert len(trial["latency_ms"]) == run["runs"]
            assert round(float(np.median(trial["latency_ms"])), 6) == run["latency_ms"]["median"]
    sidecars = [latencies.sidecar_path(name) for name in profiles]
    assert sorted(os.listdir(folder)) == sorted(list(profiles) + sidecars)  # lock released, no temp files


class FailingSession(Session):
    def __init__(self, batch, error):
        Session.__init__(self, batch)
        self.error = error

    def run_impl(self):
        raise self.error


class FlakyBackend(OnnxRuntimeBackend):
    """The real ONNX Runtime backend, except that batches >= ``fail_from`` raise ``error`` when run."""

    def __init__(self, fail_from, error, models_failing=None):
        self.fail_from = fail_from
        self.error = error
        self.models_failing = models_failing

    def open(self, model_path, batch, precision, options):
        failing = self.models_failing is None or os.path.basename(model_path) in self.models_failing
        if batch >= self.fail_from and failing:
            return FailingSession(batch, self.error)
        return OnnxRuntimeBackend.open(self, model_path, batch, precision, options)


def sweep_in_process(models_dir, out, backend, batches):
    from edgeprof.agent.selection import resolve
    config = SweepConfig(models=resolve(str(models_dir)), batches=batches, backend=backend, backend_note="test",
                         precision="fp32", out_dir=str(out), protocol=Protocol(0, 1, 0.02, 2),
                         monitor=UnavailableMonitor("test"), idle_seconds=0, board_name="testboard",
                         options={"ort_provider": "cpu", "threads": 0})
    return Sweep(config).run()


def ort_allocation_error():
    """The exception class and message ONNX Runtime raises when an allocation fails."""
    from onnxruntime.capi.onnxruntime_pybind11_state import RuntimeException
    return RuntimeException("[ONNXRuntimeError] : 6 : RUNTIME_EXCEPTION : Non-zero status code returned while "
                            "running Conv node. Name:'conv' Status Message: Failed to allocate memory for "
                            "requested buffer of size 822083584")


def test_an_allocation_failure_is_recorded_as_oom_and_the_sweep_goes_on(models_dir, tmp_path, empty_root):
    backend = FlakyBackend(4, ort_allocation_error(), models_failing={"tiny_a.onnx"})
    summary = sweep_in_process(models_dir, tmp_path / "out", backend, [1, 2, 4, 8])
    profiles = load_profiles(tmp_path / "out")
    runs = profiles["tiny_a__onnxruntime__fp32.yaml"]["runs"]
    assert [r["status"] for r in runs] == ["ok", "ok", "oom", "oom"]
    assert "Failed to allocate memory" in runs[2]["message"]
    assert runs[3]["inferred"] is True and "batch 4 already ran out of memory" in runs[3]["message"]
    assert [r["status"] for r in profiles["tiny_b__onnxruntime__fp32.yaml"]["runs"]] == ["ok"] * 4
    assert (summary.measured, summary.oom, summary.errors) == (6, 2, 0)


def test_a_memory_error_is_recorded_as_oom(models_dir, tmp_path, empty_root):
    sweep_in_process(models_dir, tmp_path / "out", FlakyBackend(2, MemoryError()), [1, 2])
    runs = load_profiles(tmp_path / "out")["tiny_a__onnxruntime__fp32.yaml"]["runs"]
    assert [r["status"] for r in runs] == ["ok", "oom"]


def test_any_other_failure_is_recorded_as_error_and_the_sweep_goes_on(models_dir, tmp_path, empty_root):
    summary = sweep_in_process(models_dir, tmp_path / "out", FlakyBackend(2, ValueError("shape mismatch")), [1, 2, 4])
    runs = load_profiles(tmp_path / "out")["tiny_b__onnxruntime__fp32.yaml"]["runs"]
    assert [(r["status"], r.get("message")) for r in runs] == [
        ("ok", None), ("error", "shape mismatch"), ("error", "shape mismatch")]
    assert summary.errors == 4


def test_a_second_sweep_on_the_same_folder_is_refused(cli, models_dir, tmp_path, empty_root):
    folder = tmp_path / "out" / "testboard"
    folder.mkdir(parents=True)
    (folder / ".edgeprof.lock").write_text("%d %s\n" % (os.getppid(), os.uname()[1]))
    result = sweep_cli(cli, models_dir, tmp_path / "out", "--batch", "1")
    assert result.returncode == 2
    assert "another sweep (pid %d) is writing to" % os.getppid() in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_lock_left_with_this_process_pid_is_taken_over(tmp_path):
    from edgeprof.agent.lock import LOCK_NAME, FolderLock
    (tmp_path / LOCK_NAME).write_text("%d %s\n" % (os.getpid(), os.uname()[1]))  # a container restarted
    with FolderLock(str(tmp_path)) as lock:
        assert lock.held


def one_line_error(result):
    lines = result.stderr.strip().splitlines()
    return result.returncode == 2 and len(lines) == 1 and "error" in lines[0]


@pytest.mark.parametrize("batch", ["0", "-4", "a,b", "1,,x", "2.5"])
def test_bad_batch_lists_get_one_line_and_exit_2(cli, models_dir, tmp_path, batch):
    result = cli(["sweep", "--models", str(models_dir), "--out", str(tmp_path), "--batch=" + batch])
    assert one_line_error(result), result.stderr


def test_a_missing_model_file_is_refused_before_anything_runs(cli, models_dir, tmp_path, empty_root):
    os.remove(str(models_dir / "tiny_b.onnx"))
    result = sweep_cli(cli, models_dir, tmp_path / "out", "--batch", "1")
    assert one_line_error(result) and "tiny_b.onnx" in result.stderr
    assert not (tmp_path / "out" / "testboard").exists()


def test_a_model_whose_sha256_differs_from_the_manifest_is_refused(cli, models_dir, tmp_path, empty_root):
    with open(str(models_dir / "tiny_a.onnx"), "ab") as f:
        f.write(b"\0")
    result = sweep_cli(cli, models_dir, tmp_path / "out", "--batch", "1")
    assert one_line_error(result) and "differs from the manifest" in result.stderr


def test_a_bad_manifest_is_refused_naming_the_field(cli, models_dir, tmp_path, empty_root):
    text = (models_dir / "manifest.yaml").read_text().replace("params: 322", "params: many")
    (models_dir / "manifest.yaml").write_text(text)
    result = sweep_cli(cli, models_dir, tmp_path / "out", "--batch", "1")
    assert one_line_error(result) and "params" in result.stderr


def test_a_models_folder_without_manifest_says_what_to_do(cli, tmp_path, empty_root):
    result = sweep_cli(cli, tmp_path, tmp_path / "out", "--batch", "1")
    assert one_line_error(result) and "edgeprof export" in result.stderr


def test_unknown_only_names_are_refused(cli, models_dir, tmp_path, empty_root):
    result = sweep_cli(cli, models_dir, tmp_path / "out", "--only", "vgg99")
    assert one_line_error(result) and "vgg99" in result.stderr


def test_tensorrt_on_a_machine_without_it_says_why(cli, models_dir, tmp_path, empty_root):
    result = sweep_cli(cli, models_dir, tmp_path / "out", "--backend", "tensorrt")
    assert one_line_error(result) and "tensorrt" in result.stderr.lower()


def test_a_precision_the_manifest_has_no_file_for_stops_with_one_line_and_writes_no_profile(cli, models_dir,
                                                                                            tmp_path, empty_root):
    result = sweep_cli(cli, models_dir, tmp_path / "out", "--batch", "1,2", "--precision", "fp16")
    last = result.stderr.strip().splitlines()[-1]
    assert result.returncode == 2 and "has no fp16 file" in last and "edgeprof export --models" in last, \
        result.stderr
    folder = tmp_path / "out" / "testboard"
    assert not folder.exists() or os.listdir(str(folder)) == []


FIXTURES = os.path.join(REPO, "tests", "fixtures")


def test_a_cpu_sweep_without_sensors_records_why_power_is_unavailable(cli, models_dir, tmp_path, empty_root):
    args = ["sweep", "--models", str(models_dir), "--out", str(tmp_path / "out"), "--board-name", "testboard",
            "--batch", "1", "--only", "tiny_a"] + FAST
    args[args.index("--power") + 1] = "auto"
    result = cli(args)
    assert result.returncode == 0, result.stderr
    power = load_profiles(tmp_path / "out")["tiny_a__onnxruntime__fp32.yaml"]["power"]
    assert power["status"] == "unavailable"
    assert "no power sensor found" in power["reason"] and "ina3221" in power["reason"]


def test_a_sweep_on_the_tx2_fixture_records_power_from_its_rails(cli, models_dir, tmp_path):
    args = ["sweep", "--models", str(models_dir), "--out", str(tmp_path / "out"), "--batch", "1,2",
            "--only", "tiny_a", "--min-seconds", "0.3", "--min-runs", "3", "--warmup-runs", "1",
            "--idle-seconds", "0.2"]
    result = cli(args, env={"EDGEPROF_ROOT": os.path.join(FIXTURES, "tx2")})
    assert result.returncode == 0, result.stderr
    data = profile.load(str(tmp_path / "out" / "nvidia-jetson-tx2" / "tiny_a__onnxruntime__fp32.yaml"))
    assert data["board"]["jetpack"] == "4.6.1"
    assert data["power"]["status"] == "ok" and data["power"]["total_rail"] == "VDD_IN"
    run = data["runs"][0]
    # The fixture's VDD_IN reads 3056 mW and does not change, so every figure follows from it.
    assert run["power"]["total_mean_w"] == pytest.approx(3.056)
    assert run["power"]["idle_w"] == pytest.approx(3.056)
    images = run["batch"] * run["runs"]
    assert run["power"]["energy_per_image_mj"] == pytest.approx(3.056 * run["window_s"] / images * 1000, rel=0.02)
    assert run["power"]["energy_per_image_above_idle_mj"] == pytest.approx(0, abs=0.01)
    assert sorted(run["power"]["rails"]) == sorted(["VDD_IN", "VDD_SYS_CPU", "VDD_SYS_DDR", "VDD_SYS_GPU",
                                                    "VDD_SYS_SOC", "VDD_4V0_WIFI"])
    # what the power figures measure, in the header and in each run; what the sampler saw in the window;
    # the idle measured with the session open, once power had settled
    assert data["power"]["scope"] == "module_input" and run["power"]["scope"] == "module_input"
    assert run["power"]["achieved_rate_hz"] > 0
    assert run["telemetry"]["samples"] > 0 and run["telemetry"].get("temps_peak_c")
    assert run["idle"]["idle_w"] == pytest.approx(3.056) and "settle_s" in run["idle"]
    assert run["memory"]["system_used_max_bytes"] > 0
    assert data["power"]["idle"]["idle_w"] == pytest.approx(3.056)


def test_an_empty_only_list_is_refused(cli, models_dir, tmp_path):
    result = sweep_cli(cli, models_dir, tmp_path / "out", "--only", ",")
    assert one_line_error(result) and "names no model" in result.stderr
