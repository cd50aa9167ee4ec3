"""Profile schema v1: loading, validation messages, atomic saves, run merging."""
import copy
import os

import pytest
import yaml

from edgeprof.records import profile
from edgeprof.errors import InputFileError, ProfileError

GOOD = {
    "schema": "edgeprof/profile/v1", "edgeprof_version": "0.1.0", "created": "2026-11-25T04:00:00Z",
    "board": {"model": "NVIDIA Jetson TX2", "slug": "nvidia-jetson-tx2", "is_jetson": True},
    "model": {"name": "resnet18", "params": 11689512},
    "backend": {"name": "onnxruntime", "precision": "fp32"},
    "protocol": {"warmup_seconds": 0.2, "warmup_runs": 10, "min_seconds": 3.0, "min_runs": 10},
    "power": {"status": "unavailable", "reason": "none found"},
    "runs": [{"batch": 1, "status": "ok", "settings_id": "abc", "runs": 10, "throughput_ips": 70.5,
              "latency_ms": {"mean": 1.0, "median": 1.0, "p90": 1.1, "p95": 1.2, "p99": 1.3, "min": 0.9,
                             "max": 1.4, "std": 0.1, "cov": 0.1}},
             {"batch": 64, "status": "oom", "settings_id": "abc", "message": "Failed to allocate"}],
}


def write(tmp_path, data, name="p.yaml"):
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    return str(path)


def test_a_valid_profile_loads(tmp_path):
    assert profile.load(write(tmp_path, GOOD))["model"]["name"] == "resnet18"


def test_missing_file_is_an_input_error_naming_it(tmp_path):
    with pytest.raises(InputFileError, match="cannot read .*nope.yaml"):
        profile.load(str(tmp_path / "nope.yaml"))


def test_unreadable_yaml_names_line_and_column(tmp_path):
    with pytest.raises(InputFileError, match=r"not valid YAML \(line 3, column 1\)"):
        profile.load(write(tmp_path, "schema: x\nruns: [1, 2\n"))


def test_text_is_read_as_utf8_whatever_the_locale_and_bad_bytes_are_an_input_error(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_bytes(yaml.safe_dump(dict(GOOD, model={"name": "caf\u00e9"}), allow_unicode=True).encode("utf-8"))
    assert profile.load(str(path))["model"]["name"] == "caf\u00e9"
    path.write_bytes(b"schema: edgeprof/profile/v1\nmodel: {name: caf\xe9}\n")
    with pytest.raises(InputFileError, match="p.yaml is not valid YAML"):
        profile.load(str(path))


def test_wrong_field_type_names_the_field(tmp_path):
    bad = copy.deepcopy(GOOD)
    bad["runs"][0]["latency_ms"]["median"] = "fast"
    with pytest.raises(ProfileError, match=r"runs\[0\]\.latency_ms\.median' must be a number, got str"):
        profile.load(write(tmp_path, bad))


def test_boolean_is_not_accepted_as_a_number(tmp_path):
    bad = copy.deepcopy(GOOD)
    bad["runs"][0]["batch"] = True
    with pytest.raises(ProfileError, match=r"runs\[0\]\.batch' must be an integer"):
        profile.load(write(tmp_path, bad))


def test_missing_required_field_is_named(tmp_path):
    bad = copy.deepcopy(GOOD)
    del bad["backend"]["precision"]
    with pytest.raises(ProfileError, match="'backend.precision' is missing"):
        profile.load(write(tmp_path, bad))


def test_ok_run_needs_latency(tmp_path):
    bad = copy.deepcopy(GOOD)
    del bad["runs"][0]["latency_ms"]
    with pytest.raises(ProfileError, match=r"runs\[0\]\.latency_ms' is missing \(required when status is ok\)"):
        profile.load(write(tmp_path, bad))


def test_unknown_status_is_refused(tmp_path):
    bad = copy.deepcopy(GOOD)
    bad["runs"][1]["status"] = "crashed"
    with pytest.raises(ProfileError, match="must be one of ok, oom, error"):
        profile.load(write(tmp_path, bad))


def test_unknown_major_version_is_refused_with_upgrade_hint(tmp_path):
    bad = dict(GOOD, schema="edgeprof/profile/v2")
    with pytest.raises(ProfileError, match="v2' is not supported .* upgrade edgeprof"):
        profile.load(write(tmp_path, bad))


def test_a_file_that_is_not_a_profile_says_so(tmp_path):
    with pytest.raises(ProfileError, match="not an edgeprof profile"):
        profile.load(write(tmp_path, {"models": []}))


def test_python_tags_are_not_loaded(tmp_path):
    with pytest.raises(InputFileError, match="not valid YAML"):
        profile.load(write(tmp_path, "!!python/object/apply:os.system ['true']\n"))


def test_save_is_atomic_and_leaves_no_temp_files(tmp_path):
    path = str(tmp_path / "sub" / "p.yaml")
    profile.save(path, copy.deepcopy(GOOD))
    assert profile.load(path)["updated"].endswith("Z")
    assert os.listdir(str(tmp_path / "sub")) == ["p.yaml"]


def test_save_gives_the_file_the_mode_of_a_plain_open(tmp_path):
    old = os.umask(0o022)
    try:
        profile.save(str(tmp_path / "p.yaml"), copy.deepcopy(GOOD))
    finally:
        os.umask(old)
    assert os.stat(str(tmp_path / "p.yaml")).st_mode & 0o777 == 0o644  # readable by others, as umask says


def test_save_refuses_an_invalid_profile_and_keeps_the_old_file(tmp_path):
    path = str(tmp_path / "p.yaml")
    profile.save(path, copy.deepcopy(GOOD))
    bad = copy.deepcopy(GOOD)
    bad["runs"][0]["status"] = "??"
    with pytest.raises(ProfileError):
        profile.save(path, bad)
    assert profile.load(path)["runs"][0]["status"] == "ok"


def test_put_run_replaces_the_same_batch_and_keeps_order():
    data = copy.deepcopy(GOOD)
    profile.put_run(data, {"batch": 8, "status": "error", "settings_id": "abc", "message": "x"})
    profile.put_run(data, {"batch": 1, "status": "oom", "settings_id": "abc", "message": "y"})
    assert [(r["batch"], r["status"]) for r in data["runs"]] == [(1, "oom"), (8, "error"), (64, "oom")]


def test_find_run_matches_batch_and_settings():
    assert profile.find_run(GOOD, 64, "abc")["status"] == "oom"
    assert profile.find_run(GOOD, 64, "other") is None
