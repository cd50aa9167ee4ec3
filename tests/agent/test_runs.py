"""records.runs: the typed run entry and power window keep the profile's keys and order."""
import pytest

from edgeprof.records import profile
from edgeprof.records.runs import RUN_FIELDS, PowerWindow, RunEntry


def test_a_run_entry_lists_its_fields_in_the_schema_order_and_leaves_unset_ones_out():
    run = RunEntry.started_now(4, "abc", "2026-01-01T00:00:00Z")
    run.update({"throughput_ips": 10.0, "runs": 12, "latency_ms": {"median": 1.0}})
    run.board_state = {}
    assert list(run.as_dict()) == ["batch", "status", "settings_id", "started", "runs", "latency_ms",
                                   "throughput_ips", "board_state"]
    assert run["batch"] == 4 and run.status == "ok"


def test_a_misspelt_field_fails_at_once():
    run = RunEntry(batch=1, status="ok", settings_id="s")
    with pytest.raises(TypeError, match="RunEntry has no field 'throughput'"):
        run.throughput = 3.0
    with pytest.raises(TypeError, match="no field 'latency'"):
        run.update({"latency": {}})
    with pytest.raises(TypeError):
        PowerWindow(energy=1.0)


def test_a_failed_run_keeps_who_it_is_and_drops_what_was_measured():
    run = RunEntry.started_now(8, "sid", "t").update({"runs": 3, "throughput_ips": 1.0})
    failed = run.failed("oom", "out of memory")
    assert failed.as_dict() == {"batch": 8, "status": "oom", "settings_id": "sid", "started": "t",
                                "message": "out of memory"}
    inferred = RunEntry.inferred_oom(16, "sid", "t", 8).as_dict()
    assert inferred["inferred"] is True and inferred["message"] == "not run: batch 8 already ran out of memory"


def test_a_power_window_writes_every_field_null_where_unmeasured():
    window = PowerWindow(rails={}, total_mean_w=2.0, missing=[]).as_dict()
    assert list(window) == ["rails", "total_mean_w", "total_peak_w", "idle_w", "energy_j", "energy_per_image_mj",
                            "energy_per_image_above_idle_mj", "images_per_j", "missing", "scope", "achieved_rate_hz"]
    assert window["idle_w"] is None and window["total_mean_w"] == 2.0


def test_the_profile_schema_checks_the_run_fields_of_records_runs():
    assert set(profile.RUN_FIELDS) == set(name for name, _ in RUN_FIELDS) == set(RunEntry.__slots__)
    data = {"schema": profile.SCHEMA, "edgeprof_version": "0", "created": "x", "board": {"model": "m", "slug": "m"},
            "model": {"name": "n"}, "backend": {"name": "onnxruntime", "precision": "fp32"},
            "protocol": {"warmup_seconds": 0.2, "warmup_runs": 10, "min_seconds": 3, "min_runs": 10},
            "power": {"status": "unavailable"},
            "runs": [RunEntry(batch=1, status="error", settings_id="s", inferred="yes").as_dict()]}
    with pytest.raises(profile.ProfileError, match="runs\\[0\\].inferred' must be true/false"):
        profile.validate(data)
