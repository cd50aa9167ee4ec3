"""Trials, the randomised order, raw latencies through kills, and settings that include the power mode."""
import os
import shutil
import time

import numpy as np
import pytest

from conftest import REPO
from edgeprof.agent import sweep as sweep_module
from edgeprof.agent import trials
from edgeprof.agent.backends.base import Session
from edgeprof.agent.backends.onnxruntime import OnnxRuntimeBackend
from edgeprof.agent.measure import Protocol
from edgeprof.agent.selection import resolve
from edgeprof.agent.sensors import UnavailableMonitor
from edgeprof.agent.sweep import Sweep, SweepConfig
from edgeprof.records import latencies, profile
from test_sweep import FAST, load_profiles, make_models_dir, sweep_cli

FIXTURES = os.path.join(REPO, "tests", "fixtures")


@pytest.fixture
def models_dir(tmp_path):
    return make_models_dir(tmp_path)


def config(models, out, batches, trial_count, seed=None, redo=False):
    return SweepConfig(models=resolve(str(models)), batches=batches, backend=OnnxRuntimeBackend(), backend_note="test",
                       precision="fp32", out_dir=str(out), protocol=Protocol(0, 1, 0.02, 3),
                       monitor=UnavailableMonitor("test"), idle_seconds=0, board_name="testboard",
                       options={"ort_provider": "cpu", "threads": 1}, trials=trial_count, seed=seed, redo=redo)


def folder_of(out):
    return os.path.join(str(out), "testboard")


def every_run_reads_back(out):
    """Each ok run of each profile has raw times in its sidecar that give its statistics back."""
    for name, data in load_profiles(out).items():
        path = os.path.join(folder_of(out), name)
        for run in data["runs"]:
            if run["status"] != "ok":
                continue
            raw = latencies.read_run(path, run)
            assert len(raw) == len(profile.trial_entries(run))
            pooled = latencies.pooled(raw)
            assert len(pooled) == run["runs"]
            assert round(float(np.median(pooled)), 6) == run["latency_ms"]["median"]
            for trial, times in zip(profile.trial_entries(run), raw):
                assert len(times["latency_ms"]) == trial["runs"]


def test_trials_run_in_seeded_rounds_and_each_is_recorded(cli, models_dir, tmp_path, empty_root):
    result = sweep_cli(cli, models_dir, tmp_path / "out", "--batch", "1,2", "--trials", "3", "--seed", "7")
    assert result.returncode == 0, result.stderr
    assert "4 runs measured (12 trials, order seed 7)" in result.stderr
    positions = {}
    for data in load_profiles(tmp_path / "out").values():
        assert data["protocol"]["trials"] == 3
        for run in data["runs"]:
            assert [t["trial"] for t in run["trials"]] == [0, 1, 2]
            assert run["runs"] == sum(t["runs"] for t in run["trials"])
            spread = run["between_trials"]
            assert spread["trials"] == 3 and len(spread["medians_ms"]) == 3 and spread["cov_of_medians"] >= 0
            assert run["settings"]["protocol"]["trials"] == 3
            for t in run["trials"]:
                assert t["order"]["seed"] == 7 and t["order"]["of"] == 12
                positions[(data["model"]["name"], run["batch"], t["trial"])] = t["order"]["position"]
    assert sorted(positions.values()) == list(range(12))
    for (_, _, trial), position in positions.items():  # round k holds trial k of every point
        assert 4 * trial <= position < 4 * (trial + 1)
    every_run_reads_back(tmp_path / "out")

    again = sweep_cli(cli, models_dir, tmp_path / "again", "--batch", "1,2", "--trials", "3", "--seed", "7")
    assert again.returncode == 0, again.stderr
    repeated = dict(((d["model"]["name"], r["batch"], t["trial"]), t["order"]["position"])
                    for d in load_profiles(tmp_path / "again").values() for r in d["runs"] for t in r["trials"])
    assert repeated == positions  # the seed repeats the order


def test_the_order_is_a_fresh_permutation_per_round():
    pending = [(name, [0, 1, 2]) for name in "abcdefgh"]
    order = trials.measured_order(pending, 3)
    rounds = [[key for key, index in order if index == r] for r in range(3)]
    assert [sorted(r) for r in rounds] == [list("abcdefgh")] * 3
    assert len(set(tuple(r) for r in rounds)) > 1
    assert trials.measured_order(pending, 3) == order
    partial = trials.measured_order([("a", [2]), ("b", [0, 1, 2])], 1)  # a resumed point lacks trial 2 only
    assert partial[:2] == [("b", 0), ("b", 1)] and sorted(partial[2:]) == [("a", 2), ("b", 2)]


class Interrupted(BaseException):
    """Stands for a kill: nothing in the sweep catches it."""


def test_an_interrupted_trial_sweep_resumes_with_the_missing_trials_only(models_dir, tmp_path, empty_root, monkeypatch):
    calls = []
    real = Sweep._count_trial

    def count_then_stop(self, point, trial, run):
        real(self, point, trial, run)
        calls.append(1)
        if len(calls) == 5:
            raise Interrupted()

    monkeypatch.setattr(Sweep, "_count_trial", count_then_stop)
    with pytest.raises(Interrupted):
        Sweep(config(models_dir, tmp_path / "out", [1, 2], 3, seed=11)).run()
    monkeypatch.setattr(Sweep, "_count_trial", real)
    before = load_profiles(tmp_path / "out")
    done = dict(((d["model"]["name"], r["batch"]), r["trials"]) for d in before.values() for r in d["runs"])
    assert sum(len(t) for t in done.values()) == 5
    assert any("trials measured (the sweep was interrupted" in w
               for d in before.values() for r in d["runs"] for w in r["warnings"])
    every_run_reads_back(tmp_path / "out")

    summary = Sweep(config(models_dir, tmp_path / "out", [1, 2], 3, seed=12)).run()
    assert summary.trials == 12 - 5 and summary.measured == 4 and summary.skipped == 0
    after = load_profiles(tmp_path / "out")
    for data in after.values():
        for run in data["runs"]:
            assert [t["trial"] for t in run["trials"]] == [0, 1, 2]
            kept = done.get((data["model"]["name"], run["batch"]), [])
            assert run["trials"][:len(kept)] == kept  # what was measured before the kill is kept as it was
            assert not any("trials measured" in w for w in run["warnings"])
    every_run_reads_back(tmp_path / "out")
    assert Sweep(config(models_dir, tmp_path / "out", [1, 2], 3)).run().skipped == 4


def test_a_kill_between_the_sidecar_and_the_profile_leaves_them_agreeing(models_dir, tmp_path, empty_root,
                                                                         monkeypatch):
    saves = []
    real = profile.save

    def save_or_die(path, data):
        saves.append(path)
        if len(saves) == 3:  # the sidecar of this save is written; the profile never is
            raise Interrupted()
        real(path, data)

    monkeypatch.setattr(sweep_module.profile, "save", save_or_die)
    with pytest.raises(Interrupted):
        Sweep(config(models_dir, tmp_path / "out", [1, 2, 4], 1, seed=5)).run()
    monkeypatch.setattr(sweep_module.profile, "save", real)
    assert sum(len(d["runs"]) for d in load_profiles(tmp_path / "out").values()) == 2
    every_run_reads_back(tmp_path / "out")

    summary = Sweep(config(models_dir, tmp_path / "out", [1, 2, 4], 1)).run()
    assert (summary.measured, summary.skipped) == (4, 2)
    every_run_reads_back(tmp_path / "out")
    for name, data in load_profiles(tmp_path / "out").items():  # the orphan arrays are gone again
        arrays = latencies.read_file(latencies.sidecar_path(os.path.join(folder_of(tmp_path / "out"), name)))
        assert len(arrays) == len(data["runs"])


def test_a_writer_killed_mid_write_leaves_a_temp_file_that_the_next_sweep_removes(models_dir, tmp_path, empty_root):
    folder = tmp_path / "out" / "testboard"
    folder.mkdir(parents=True)
    (folder / ".tiny_a__onnxruntime__fp32.latencies.npz.k2j3h4.tmp").write_bytes(b"half")
    Sweep(config(models_dir, tmp_path / "out", [1], 1)).run()
    assert not [n for n in os.listdir(str(folder)) if n.endswith(".tmp")]


def fixture_root(tmp_path, board="tx2"):
    root = tmp_path / ("root-" + board)
    shutil.copytree(os.path.join(FIXTURES, board), str(root))
    return root


def tx2_sweep(cli, models_dir, tmp_path, root):
    args = ["sweep", "--models", str(models_dir), "--out", str(tmp_path / "out"), "--batch", "1,2",
            "--only", "tiny_a", "--board-name", "testboard"] + FAST
    return cli(args, env={"EDGEPROF_ROOT": str(root)})


def test_a_resume_after_a_change_of_power_mode_measures_again(cli, models_dir, tmp_path):
    root = fixture_root(tmp_path)
    first = tx2_sweep(cli, models_dir, tmp_path, root)
    assert first.returncode == 0, first.stderr
    path = os.path.join(folder_of(tmp_path / "out"), "tiny_a__onnxruntime__fp32.yaml")
    mode = profile.load(path)["runs"][0]["settings"]["power_mode"]
    assert mode == {"nvpmodel": {"id": 0, "name": "MAXN"}, "jetson_clocks": True, "cpu_governor": "schedutil",
                    "gpu_governor": "nvhost_podgov"}
    assert "0 runs measured, 2 already recorded" in tx2_sweep(cli, models_dir, tmp_path, root).stderr

    (root / "var" / "lib" / "nvpmodel" / "status").write_text(u"pmode:0001\n")  # sudo nvpmodel -m 1
    resumed = tx2_sweep(cli, models_dir, tmp_path, root)
    assert "2 runs measured, 0 already recorded" in resumed.stderr, resumed.stderr
    runs = profile.load(path)["runs"]
    assert [r["settings"]["power_mode"]["nvpmodel"] for r in runs] == [{"id": 1, "name": "MAXQ"}] * 2

    for cpu in os.listdir(str(root / "sys" / "devices" / "system" / "cpu")):  # the governor set to performance
        governor = root / "sys" / "devices" / "system" / "cpu" / cpu / "cpufreq" / "scaling_governor"
        if governor.exists():
            governor.write_text(u"performance\n")
    assert "2 runs measured, 0 already recorded" in tx2_sweep(cli, models_dir, tmp_path, root).stderr
    assert profile.load(path)["runs"][0]["settings"]["power_mode"]["cpu_governor"] == "performance"


def test_power_mode_reads_jetson_clocks_and_both_governors(monkeypatch):
    monkeypatch.setenv("EDGEPROF_ROOT", os.path.join(FIXTURES, "nano"))
    mode = trials.power_mode()
    assert mode["nvpmodel"] == {"id": 1, "name": "5W"} and mode["jetson_clocks"] is False
    assert mode["cpu_governor"] == "schedutil" and mode["gpu_governor"]
    monkeypatch.setenv("EDGEPROF_ROOT", os.path.join(FIXTURES, "deploy"))
    assert trials.power_mode() == {"nvpmodel": None, "jetson_clocks": None, "cpu_governor": None,
                                   "gpu_governor": None}


def test_a_power_mode_change_in_the_middle_of_a_sweep_is_an_error_not_a_mixed_profile(models_dir, tmp_path,
                                                                                        monkeypatch):
    root = fixture_root(tmp_path)
    monkeypatch.setenv("EDGEPROF_ROOT", str(root))
    sweep = Sweep(config(models_dir, tmp_path / "out", [1], 1))
    (root / "var" / "lib" / "nvpmodel" / "status").write_text(u"pmode:0002\n")
    summary = sweep.run()
    assert summary.errors == 2
    run = load_profiles(tmp_path / "out")["tiny_a__onnxruntime__fp32.yaml"]["runs"][0]
    assert run["status"] == "error" and "the power mode changed during the sweep" in run["message"]
    assert 'nvpmodel: {"id": 0, "name": "MAXN"} -> {"id": 2, "name": "MAXP_CORE_ALL"}' in run["message"]


class DeviceTimedSession(Session):
    """A session that times its runs on a 'device' too, as the TensorRT backend does."""

    has_device_time = True

    def __init__(self, batch):
        Session.__init__(self, batch)
        self.count = 0

    def run_impl(self):
        time.sleep(0.0005)  # a few dozen runs a window, not a hundred thousand
        self.count += 1

    def start_device_window(self, expected_runs):
        self.count = 0

    def device_times(self):
        return {"compute_ms": [0.5 + 0.001 * i for i in range(self.count)], "h2d_ms": [0.1] * self.count,
                "d2h_ms": [0.05] * self.count, "enqueue_ms": [0.02] * self.count}


class DeviceTimedBackend(OnnxRuntimeBackend):
    def open(self, model_path, batch, precision, options):
        return DeviceTimedSession(batch)


def test_device_times_go_into_the_sidecar_with_the_wall_times(models_dir, tmp_path, empty_root):
    cfg = config(models_dir, tmp_path / "out", [1, 2], 2, seed=3)
    cfg.backend = DeviceTimedBackend()
    Sweep(cfg).run()
    for name, data in load_profiles(tmp_path / "out").items():
        for run in data["runs"]:
            assert run["raw_latencies"]["kinds"] == ["latency_ms", "compute_ms", "h2d_ms", "d2h_ms", "enqueue_ms"]
            raw = latencies.read_run(os.path.join(folder_of(tmp_path / "out"), name), run)
            compute = latencies.pooled(raw, "compute_ms")
            assert len(compute) == run["runs"] == sum(t["runs"] for t in run["trials"])
            assert round(float(np.median(compute)), 6) == run["device_time_ms"]["median"]
            assert [t["device_time_ms"]["median"] for t in run["trials"]] == [
                round(float(np.median(t["compute_ms"])), 6) for t in raw]
