"""The report marks runs whose board state says they were throttled (their numbers stay in)."""
from edgeprof.reading.report import data, page


def profile(runs):
    return {"board": {"slug": "agx-orin", "model": "Jetson AGX Orin Developer Kit", "is_jetson": True},
            "backend": {"name": "tensorrt", "precision": "fp16", "device": "cuda"},
            "power": {"status": "ok", "scope": "sum_of_rails"}, "model": {"name": "resnet18"}, "runs": runs}


RUNS = [
    {"batch": 1, "status": "ok", "latency_ms": {"median": 2.0},
     "board_state": {"throttled": False, "reasons": []}},
    {"batch": 8, "status": "ok", "latency_ms": {"median": 9.0},
     "board_state": {"throttled": True,
                     "reasons": ["oc3 instantaneous over-current events: 4 during the window"]}},
    {"batch": 16, "status": "ok", "latency_ms": {"median": 17.0}},
]


def test_throttled_runs_are_marked_in_their_rows_and_setup():
    dataset = data.from_profiles([("p.yaml", profile(RUNS))])
    assert [r["throttled"] for r in dataset.rows] == [False, True, None]
    assert dataset.setups[0].as_dict()["throttled_runs"] == [
        {"model": "resnet18", "batch": 8, "reasons": ["oc3 instantaneous over-current events: 4 during the window"]}]


def test_the_page_says_which_runs_were_throttled_and_why():
    found = {"setup": data.from_profiles([("p.yaml", profile(RUNS))]).setups[0].as_dict()}
    line = page.throttled_line(found)
    assert "resnet18 batch 8 (oc3 instantaneous over-current events: 4 during the window)" in line
    assert page.throttled_line({"setup": {"throttled_runs": []}}) is None


def test_a_run_with_only_in_window_telemetry_is_marked_from_it():
    run = {"batch": 4, "status": "ok", "telemetry": {"throttled": True, "throttle_reasons": ["GPU-therm hot"]}}
    assert data.throttle_of(run) == (True, ["GPU-therm hot"])
