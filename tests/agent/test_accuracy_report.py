"""Reports say per model whether top-1 is measured (edgeprof accuracy) or published, and drop stale records.

numpy and PyYAML only: runs under Python 3.6 as well.
"""
import truthgen
from edgeprof.reading.report import data, findings
from edgeprof.reading.report.findings import accuracy as accuracy_findings


NAMES = [m.name for m in truthgen.spread_models(10, seed=1)]


def _loaded(measured, precision="fp32"):
    """Profiles of 10 models on the paper's shape; ``measured`` names get an accuracy record."""
    models = truthgen.spread_models(10, seed=1)
    loaded = []
    for m in models:
        m.top1 = 80.0 - 0.06 * (1000.0 / (2.0 + 5.0 * m.gops))
        runs = [truthgen.run_entry(b, 2.0 + 5.0 * m.gops) for b in truthgen.BATCHES]
        extra = {}
        if m.name in measured:
            extra["accuracy"] = {"top1": m.top1 - 1.0, "images": 500}
        loaded.append((m.name, truthgen.profile_of(m, runs, precision=precision, extra=extra)))
    return loaded


def _throughput(loaded):
    return findings.compute(data.from_profiles(loaded))["setups"][0]["accuracy_vs_throughput"]


def test_each_point_says_measured_or_published_and_the_note_names_them():
    measured = [NAMES[0], NAMES[3]]
    found = _throughput(_loaded(measured))
    points = found["batches"][0]["points"]
    sources = dict((p["model"], p["accuracy_source"]) for p in points)
    assert set(n for n, s in sources.items() if s == "measured") == set(measured)
    assert set(sources.values()) == {"measured", "published fp32"}
    assert "top-1 measured on the board for " + ", ".join("%s (500 images)" % n for n in sorted(measured)) \
        in found["accuracy"]
    assert "published fp32 top-1 (torchvision or the paper) for" in found["accuracy"]
    labels = dict((row["model"], row["label"]) for row in found["sources"])
    assert sorted(labels) == sorted(NAMES)
    assert labels[NAMES[0]] == "measured on the board (500 images)"  # the row carries the record's count
    assert labels[NAMES[1]].startswith("published fp32")


def test_a_measured_point_carries_its_image_count_where_the_row_has_it():
    point = {"name": "m", "accuracy_source": "measured", "top1_images": 50000}
    assert accuracy_findings._source_fields(point) == {"accuracy_source": "measured", "top1_images": 50000}
    assert "m (50000 images)" in accuracy_findings._sources([point], "note")
    assert accuracy_findings._source_label(point) == "measured on the board (50000 images)"
    assert accuracy_findings._source_fields({"name": "p", "accuracy_source": "published fp32"}) == {
        "accuracy_source": "published fp32"}


def test_an_fp16_setup_with_measured_top1_pairs_only_the_measured_models():
    names = NAMES[:4]
    found = _throughput(_loaded(names, precision="fp16"))
    assert found["status"] == "ok"
    assert sorted(p["model"] for p in found["batches"][0]["points"]) == sorted(names)
    assert "published fp32 top-1 (torchvision" not in found["accuracy"]


def test_a_record_of_another_model_file_is_not_this_model_s_accuracy():
    profile = {"model": {"name": "m", "sha256": "a" * 64}, "accuracy": {"top1": 70.0, "model_sha256": "b" * 64}}
    assert data.measured_accuracy(profile) is None
    profile["accuracy"]["model_sha256"] = "a" * 64
    assert data.measured_accuracy(profile) == 70.0
    del profile["accuracy"]["model_sha256"]  # a record that does not say: taken as it is
    assert data.measured_accuracy(profile) == 70.0


def test_an_fp32_setup_measured_throughout_does_not_say_published():
    found = _throughput(_loaded(NAMES))
    assert set(p["accuracy_source"] for p in found["batches"][0]["points"]) == {"measured"}
    assert found["accuracy"].startswith("top-1 measured on the board for ")
    assert "published" not in found["accuracy"]
    mixed = _throughput(_loaded(NAMES[:2]))["accuracy"]
    assert mixed.startswith("published fp32 top-1; ") and "(torchvision or the paper) for" in mixed


def _int8_profiles(calibration):
    loaded = _loaded([], precision="int8")
    for _, profile in loaded:
        profile["model"]["calibration"] = calibration
    return loaded


def test_an_onnxruntime_int8_file_calibrated_on_images_pairs_with_the_published_top1():
    calibrated = {"random": False, "dir": "/x", "images": 8, "fingerprint": "f"}
    found = _throughput(_int8_profiles(calibrated))
    assert found["status"] == "ok"
    assert set(p["accuracy_source"] for p in found["batches"][0]["points"]) == {"published fp32"}


def test_an_int8_file_calibrated_on_random_data_has_no_accuracy_to_pair():
    found = _throughput(_int8_profiles({"random": True, "seed": 0}))
    assert found["status"] != "ok"
