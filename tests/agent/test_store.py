"""The profile index (edgeprof.records.store): current, incremental, never in the way; the fast YAML loader."""
import copy
import json
import os
import sqlite3
import threading
import time

import pytest
import yaml

from edgeprof.records import accuracy, profile, store

LAT = {"mean": 10.2, "median": 10.0, "p90": 11.0, "p95": 11.5, "p99": None, "min": 9.5, "max": 12.0, "std": 0.4,
       "cov": 0.04, "median_ci95": [9.9, 10.1], "iqr_over_median": 0.02, "needs_runs": {"p99": 100}}


def demo_like(board="demo-cpu", model="resnet18", median_ms=10.0, batches=(1, 2)):
    """A profile shaped as a CPU sweep writes one: header, runs with trials, memory, backend facts, board state."""
    runs = []
    for batch in batches:
        latency = dict(LAT, median=median_ms * batch)
        runs.append({
            "batch": batch, "status": "ok", "settings_id": "e6e3a46772b5", "started": "2026-12-01T16:40:39Z",
            "runs": 59, "window_s": 1.0092, "warmup_runs": 12, "latency_ms": latency,
            "per_image_ms": median_ms, "throughput_ips": 1000.0 / median_ms, "warnings": [],
            "trials": [{"trial": 1, "runs": 30, "latency_ms": dict(latency)}],
            "memory": {"runtime_bytes": None, "peak_rss_bytes": 218005504, "system_used_bytes": 1233698816,
                       "system_delta_bytes": -7708672},
            "power": {"total_mean_w": 9.5, "idle_w": 3.0, "energy_per_image_mj": 95.0, "rails": {"VDD_IN": 9.5}},
            "backend": {"ort_provider": "cpu", "providers": ["CPUExecutionProvider"], "inputs": {"input": [batch, 3]},
                        "intra_op_num_threads": 0},
            "board_state": {"before": {"temp_c": 40.0}, "after": {"temp_c": 41.0}, "throttled": False, "reasons": []},
        })
    return {"schema": profile.SCHEMA, "edgeprof_version": "0.1.0", "created": "2026-12-01T16:40:39Z",
            "board": {"model": "AMD EPYC", "slug": board, "is_jetson": False, "hostname": "vm"},
            "model": {"name": model, "family": "ResNet", "params": 11689512, "top1": 69.758, "top5": 89.078},
            "backend": {"name": "onnxruntime", "version": "1.32.0", "precision": "fp32", "device": "cpu",
                        "options": {"ort_provider": "cpu", "threads": 0}},
            "protocol": {"warmup_seconds": 0.2, "warmup_runs": 10, "min_seconds": 1.0, "min_runs": 10},
            "power": {"status": "unavailable", "reason": "no power sensor found"}, "runs": runs}


def age(path, seconds=60):
    """Set a file's mtime into the past, beyond the index's racy window."""
    then = time.time() - seconds
    os.utime(path, (then, then))


def write(path, data, old=True):
    profile.save(str(path), data)
    if old:
        age(str(path))
    return str(path)


@pytest.fixture
def index_file(tmp_path, monkeypatch):
    path = str(tmp_path / "cache" / "index.sqlite")
    monkeypatch.setenv(store.ENV, path)
    return path


@pytest.fixture
def folder(tmp_path):
    out = tmp_path / "profiles" / "demo-cpu"
    out.mkdir(parents=True)
    for number, model in enumerate(("resnet18", "alexnet", "vgg16")):
        write(out / ("%s__onnxruntime__fp32.yaml" % model), demo_like(model=model, median_ms=5.0 + number))
    return str(out)


def load(folder, **kwargs):
    files = profile.iter_profile_files([folder])
    return dict(zip(files, store.load(files, [folder], **kwargs)))


def rows_in(index_file):
    db = sqlite3.connect(index_file)
    try:
        return dict(db.execute("SELECT path, summary FROM profiles").fetchall())
    finally:
        db.close()


def test_a_second_load_of_an_unchanged_folder_parses_no_file_and_gives_the_same_data(folder, index_file):
    first = load(folder)
    assert store.last.parsed == 3
    second = load(folder)
    assert (store.last.parsed, store.last.indexed) == (0, 3)
    assert second == first


def test_the_summary_keeps_what_readers_use_and_drops_trials_rails_and_snapshots(folder, index_file):
    summary = load(folder)[os.path.join(folder, "resnet18__onnxruntime__fp32.yaml")]
    run = summary["runs"][0]
    assert "trials" not in run and "rails" not in run["power"] and "warnings" not in run and "started" not in run
    assert run["memory"] == {"peak_rss_bytes": 218005504, "system_used_bytes": 1233698816,
                             "system_delta_bytes": -7708672}
    assert run["board_state"] == {"throttled": False, "reasons": []}
    assert run["backend"] == {"ort_provider": "cpu", "intra_op_num_threads": 0}
    assert run["latency_ms"]["median"] == 5.0 and "median_ci95" not in run["latency_ms"]
    assert run["power"]["energy_per_image_mj"] == 95.0 and run["memory"]["peak_rss_bytes"] == 218005504
    assert summary["board"]["hostname"] == "vm" and summary["model"]["top1"] == 69.758


def test_a_changed_profile_is_parsed_again_and_its_new_numbers_are_read(folder, index_file):
    load(folder)
    path = os.path.join(folder, "alexnet__onnxruntime__fp32.yaml")
    write(path, demo_like(model="alexnet", median_ms=42.0))
    after = load(folder)
    assert store.last.parsed == 1
    assert after[path]["runs"][0]["latency_ms"]["median"] == 42.0


def test_a_new_profile_appears_and_a_removed_one_disappears_from_the_index(folder, index_file):
    load(folder)
    added = write(os.path.join(folder, "googlenet__onnxruntime__fp32.yaml"), demo_like(model="googlenet"))
    assert len(load(folder)) == 4 and store.last.parsed == 1
    os.unlink(os.path.join(folder, "vgg16__onnxruntime__fp32.yaml"))
    assert len(load(folder)) == 3 and store.last.parsed == 0
    assert sorted(os.path.basename(p) for p in rows_in(index_file)) == sorted(
        os.path.basename(p) for p in [added, "alexnet__onnxruntime__fp32.yaml", "resnet18__onnxruntime__fp32.yaml"])


def test_an_accuracy_record_written_beside_a_profile_is_seen_at_once(folder, index_file):
    path = os.path.join(folder, "resnet18__onnxruntime__fp32.yaml")
    assert "accuracy" not in load(folder)[path]
    record = {"schema": accuracy.SCHEMA, "top1": 68.9, "top5": 88.5, "images": 1000, "measured": "2026-12-01T17:00:00Z"}
    accuracy.write(accuracy.sibling_path(path), record)
    age(accuracy.sibling_path(path))
    assert load(folder)[path]["accuracy"]["top1"] == 68.9 and store.last.parsed == 1
    os.unlink(accuracy.sibling_path(path))
    assert "accuracy" not in load(folder)[path]


def test_a_corrupt_index_file_is_rebuilt_silently(folder, index_file, capsys):
    expected = load(folder)
    with open(index_file, "wb") as f:
        f.write(b"this is not a database" * 100)
    assert load(folder) == expected and store.last.parsed == 3
    assert len(rows_in(index_file)) == 3
    assert capsys.readouterr().err == ""


def test_an_index_of_another_schema_version_is_rebuilt(folder, index_file):
    load(folder)
    db = sqlite3.connect(index_file)
    db.execute("PRAGMA user_version = 999")
    db.commit()
    db.close()
    load(folder)
    assert store.last.parsed == 3
    load(folder)
    assert store.last.parsed == 0


def test_an_unwritable_index_place_is_bypassed(folder, tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    monkeypatch.setenv(store.ENV, str(blocker / "index.sqlite"))  # a folder that cannot be made
    assert len(load(folder)) == 3 and store.last.parsed == 3


def test_an_index_locked_by_another_writer_is_bypassed_after_the_busy_timeout(folder, index_file, monkeypatch):
    expected = load(folder)
    write(os.path.join(folder, "alexnet__onnxruntime__fp32.yaml"), demo_like(model="alexnet", median_ms=7.5))
    monkeypatch.setattr(store.db, "BUSY_TIMEOUT_S", 0.05)
    holder = sqlite3.connect(index_file, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        got = load(folder)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert got.keys() == expected.keys()
    assert got[os.path.join(folder, "alexnet__onnxruntime__fp32.yaml")]["runs"][0]["latency_ms"]["median"] == 7.5


def test_off_reads_every_file_and_leaves_no_index(folder, tmp_path, monkeypatch):
    monkeypatch.setenv(store.ENV, "off")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    load(folder)
    load(folder)
    assert store.last.parsed == 3 and not (tmp_path / "xdg").exists()
    monkeypatch.setenv(store.ENV, "")
    load(folder, use_index=False)
    assert store.last.parsed == 3 and not (tmp_path / "xdg").exists()


def test_the_default_index_lives_in_the_user_cache_not_in_the_results_folder(folder, tmp_path, monkeypatch):
    monkeypatch.delenv(store.ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    where = store.index_path([folder])
    assert where.startswith(str(tmp_path / "xdg" / "edgeprof" / "index-")) and where.endswith(".sqlite")
    assert store.index_path([folder + os.sep]) == where
    load(folder)
    assert os.path.exists(where) and not any(n.endswith(".sqlite") for n in os.listdir(folder))


def test_a_file_changed_within_the_racy_window_is_not_trusted(folder, index_file):
    path = write(os.path.join(folder, "alexnet__onnxruntime__fp32.yaml"), demo_like(model="alexnet"), old=False)
    load(folder)
    load(folder)
    assert store.last.parsed == 1  # the young file again, the two old ones from the index
    age(path)
    load(folder)
    assert store.last.parsed == 1
    load(folder)
    assert store.last.parsed == 0


def test_a_broken_profile_is_named_and_never_indexed(folder, index_file):
    bad = os.path.join(folder, "bad__onnxruntime__fp32.yaml")
    with open(bad, "w") as f:
        f.write("schema: edgeprof/profile/v1\nruns: [1, 2\n")
    with pytest.raises(profile.InputFileError, match="bad__onnxruntime__fp32.yaml is not valid YAML"):
        load(folder)
    with pytest.raises(profile.InputFileError):
        load(folder)
    assert sorted(os.path.basename(p) for p in rows_in(index_file)) == [
        "alexnet__onnxruntime__fp32.yaml", "resnet18__onnxruntime__fp32.yaml", "vgg16__onnxruntime__fp32.yaml"]
    os.unlink(bad)
    load(folder)
    assert store.last.parsed == 0  # the good files were indexed by the read the broken one stopped


def test_a_profile_json_cannot_hold_is_read_but_not_indexed(folder, index_file):
    path = os.path.join(folder, "resnet18__onnxruntime__fp32.yaml")
    data = demo_like()
    data["model"]["released"] = "x"
    text = profile.dump_yaml(data).replace("released: x", "released: 2026-12-01 16:40:39")  # a YAML timestamp
    with open(path, "w") as f:
        f.write(text)
    age(path)
    for _ in range(2):
        got = load(folder)[path]
        assert got["model"]["released"].year == 2026
    assert store.last.parsed == 1


def test_many_files_are_parsed_in_worker_processes_with_the_same_result(tmp_path, index_file, monkeypatch):
    out = tmp_path / "many"
    out.mkdir()
    for number in range(store.PARALLEL_FROM + 5):
        write(out / ("m%03d__onnxruntime__fp32.yaml" % number), demo_like(model="m%03d" % number))
    monkeypatch.setattr(store, "_cpus", lambda: 2)
    parallel = load(str(out))
    serial = load(str(out), use_index=False)
    monkeypatch.setattr(store, "PARALLEL_FROM", 10 ** 6)
    assert parallel == serial == load(str(out), use_index=False)


def test_progress_is_printed_once_loading_takes_long(monkeypatch, capsys):
    clock = iter([0.0, 0.5, 2.5, 3.0, 5.0, 5.1])
    monkeypatch.setattr(store.time, "time", lambda: next(clock))
    progress = store.Progress(10002)
    for count in (1000, 3000, 1000, 5002):
        progress.add(count)
    progress.finish(10002)
    lines = capsys.readouterr().err.splitlines()
    assert lines == ["loaded 4,000/10,002 profiles", "loaded 10,002/10,002 profiles",
                     "loaded 10,002 profiles (10,002 parsed, 0 from the index) in 5.1 s"]


def test_a_sweep_replacing_profiles_while_readers_load_is_always_one_version_or_the_other(folder, index_file):
    """Writers replace profiles by rename (as the sweep does); every read sees a whole old or new profile."""
    path = os.path.join(folder, "resnet18__onnxruntime__fp32.yaml")
    versions = [demo_like(median_ms=float(ms)) for ms in range(1, 30)]
    seen, errors = [], []

    def sweep():
        for data in versions:
            write(path, copy.deepcopy(data))

    def read():
        try:
            for _ in range(15):
                seen.append(load(folder)[path]["runs"][0]["latency_ms"]["median"])
        except Exception as exc:  # any error a reader sees fails the test
            errors.append(exc)
    threads = [threading.Thread(target=sweep)] + [threading.Thread(target=read) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert set(seen) <= set([5.0] + [float(ms) for ms in range(1, 30)])
    assert load(folder)[path]["runs"][0]["latency_ms"]["median"] == 29.0


YAML_EDGE_CASES = """\
when: 2026-12-01 16:40:39
day: 2026-12-01
anchor: &shared {a: 1, b: [1, 2]}
alias: *shared
big: 123456789012345678901234567890
small: 1e-05
float_int: 1.0
hexa: 0x1F
octal: 0o17
inf: .inf
neg: -.inf
nothing: ~
flag: yes
text: "caf\\u00e9 \\U0001F600"
plain_unicode: Ærøskøbing
multi: |
  two
  lines
folded: >
  one
  line
"""


def test_the_c_and_the_pure_python_loaders_give_the_same_objects(tmp_path):
    if not getattr(yaml, "__with_libyaml__", False):
        pytest.skip("this PyYAML was built without libyaml: only the pure-Python loader exists here")
    edge = tmp_path / "edge.yaml"
    edge.write_bytes(YAML_EDGE_CASES.encode("utf-8"))
    demo = write(tmp_path / "demo.yaml", demo_like())
    for path in (str(edge), demo):
        fast, pure = profile.read_yaml(path, yaml.CSafeLoader), profile.read_yaml(path, yaml.SafeLoader)
        assert fast == pure and json.dumps(fast, default=repr, sort_keys=True) == json.dumps(pure, default=repr,
                                                                                              sort_keys=True)
    assert profile.SAFE_LOADER is yaml.CSafeLoader


def test_both_loaders_refuse_python_objects(tmp_path):
    path = tmp_path / "evil.yaml"
    path.write_text("!!python/object/apply:os.system ['true']\n")
    loaders = [yaml.SafeLoader] + ([yaml.CSafeLoader] if getattr(yaml, "__with_libyaml__", False) else [])
    for loader in loaders:
        with pytest.raises(profile.InputFileError, match="not valid YAML"):
            profile.read_yaml(str(path), loader)
