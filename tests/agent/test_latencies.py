"""records.latencies: the sidecar of raw times, its checksum, and how a reader tells a missing or stale one."""
import os

import numpy as np
import pytest

from edgeprof.records import latencies

TRIALS = [{"latency_ms": [1.0, 1.5, 1.25], "compute_ms": [0.5, 0.75, 0.625]}, {"latency_ms": [2.0, 2.5]}]


def run_with(path, trials=TRIALS, batch=1):
    ref = latencies.reference(path, trials)
    return {"batch": batch, "status": "ok", "raw_latencies": ref}, latencies.named_arrays(trials, ref)


def test_the_sidecar_sits_beside_the_profile():
    assert latencies.sidecar_path("/p/resnet18__onnxruntime__fp32.yaml") == "/p/resnet18__onnxruntime__fp32.latencies.npz"


def test_a_reference_names_only_the_kinds_every_trial_has_and_reads_back(tmp_path):
    path = str(tmp_path / "m.yaml")
    run, arrays = run_with(path)
    assert run["raw_latencies"]["kinds"] == ["latency_ms"] and run["raw_latencies"]["trials"] == 2
    assert run["raw_latencies"]["file"] == "m.latencies.npz"
    latencies.write_file(latencies.sidecar_path(path), arrays)
    got = latencies.read_run(path, run)
    assert [list(t["latency_ms"]) for t in got] == [[1.0, 1.5, 1.25], [2.0, 2.5]]
    assert list(latencies.pooled(got)) == [1.0, 1.5, 1.25, 2.0, 2.5]
    assert got[0]["latency_ms"].dtype == np.float64


def test_device_times_are_kept_where_every_trial_has_them(tmp_path):
    path = str(tmp_path / "m.yaml")
    run, arrays = run_with(path, TRIALS[:1])
    latencies.write_file(latencies.sidecar_path(path), arrays)
    assert list(latencies.read_run(path, run)[0]["compute_ms"]) == [0.5, 0.75, 0.625]


def test_a_missing_sidecar_is_named(tmp_path):
    path = str(tmp_path / "m.yaml")
    run, _ = run_with(path)
    with pytest.raises(latencies.MissingLatencies, match="m.latencies.npz, which is missing"):
        latencies.read_run(path, run)


def test_a_profile_from_before_raw_latencies_says_so():
    with pytest.raises(latencies.MissingLatencies, match="no raw latencies"):
        latencies.read_run("/nowhere/m.yaml", {"batch": 4, "status": "ok"})


def test_a_stale_sidecar_is_detected_not_read(tmp_path):
    path = str(tmp_path / "m.yaml")
    run, _ = run_with(path)
    _, other = run_with(path, [{"latency_ms": [9.0, 9.0, 9.0]}, {"latency_ms": [9.0, 9.0]}])
    latencies.write_file(latencies.sidecar_path(path), other)  # e.g. restored from another sweep
    with pytest.raises(latencies.MissingLatencies, match="missing or stale"):
        latencies.read_run(path, run)


def test_altered_arrays_fail_the_checksum(tmp_path):
    path = str(tmp_path / "m.yaml")
    run, arrays = run_with(path)
    name = sorted(arrays)[0]
    arrays[name] = arrays[name] * 2
    latencies.write_file(latencies.sidecar_path(path), arrays)
    with pytest.raises(latencies.MissingLatencies, match="do not match the profile's checksum"):
        latencies.read_run(path, run)


def test_a_corrupt_sidecar_is_an_error_naming_it(tmp_path):
    path = str(tmp_path / "m.yaml")
    run, _ = run_with(path)
    with open(latencies.sidecar_path(path), "wb") as f:
        f.write(b"PK\x03\x04 not really a zip")
    with pytest.raises(latencies.MissingLatencies, match="m.latencies.npz cannot be read"):
        latencies.read_run(path, run)


def test_the_sweeps_sidecar_keeps_what_the_profile_on_disk_names_until_it_is_replaced(tmp_path):
    path = str(tmp_path / "m.yaml")
    old_run, _ = run_with(path, [{"latency_ms": [1.0, 2.0]}])
    new_trials = [{"latency_ms": [3.0, 4.0]}]
    new_ref = latencies.reference(path, new_trials)
    new_run = {"batch": 1, "status": "ok", "raw_latencies": new_ref}

    sidecar = latencies.Sidecar(path, None)
    sidecar.put([{"latency_ms": [1.0, 2.0]}], old_run["raw_latencies"])
    sidecar.save({"runs": [old_run]})
    sidecar.committed({"runs": [old_run]})
    sidecar.put(new_trials, new_ref)
    sidecar.save({"runs": [new_run]})  # a kill here leaves the old profile: its arrays must still be there
    latencies.read_run(path, old_run)
    latencies.read_run(path, new_run)
    sidecar.committed({"runs": [new_run]})
    sidecar.prune()
    latencies.read_run(path, new_run)
    with pytest.raises(latencies.MissingLatencies):
        latencies.read_run(path, old_run)
    assert len(latencies.read_file(latencies.sidecar_path(path))) == 1


def test_a_profile_with_no_raw_times_left_has_no_sidecar(tmp_path):
    path = str(tmp_path / "m.yaml")
    latencies.write_file(latencies.sidecar_path(path), {"x": np.zeros(2)})
    sidecar = latencies.Sidecar(path, {"runs": []})
    sidecar.prune()
    assert not os.path.exists(latencies.sidecar_path(path))
