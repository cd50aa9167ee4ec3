"""Which file a sweep runs per precision: the manifest's variants for ONNX Runtime, fp32 for TensorRT.

Agent side (Python 3.6, no torch, no onnx): a hand-written manifest whose "model files" are bytes
the manifest only hashes, and a manifest validation of the new fields (preprocess, variants).
"""
import hashlib
import os

import pytest
import yaml

from conftest import TINY_ONNX
from edgeprof.agent import selection
from edgeprof.agent.backends.base import Backend
from edgeprof.errors import InputFileError
from edgeprof.records import manifest

FILES = {"fp32": b"fp32 graph bytes", "fp16": b"fp16 graph bytes", "int8": b"int8 graph bytes"}
CALIBRATION = {"dir": "/data/calib", "images": 100, "fingerprint": "ab" * 32, "random": False}
INT8_MADE_BY = "onnxruntime 1.32.0 quantize_static QDQ per-channel MinMax"
PREPROCESS = {"resize": 256, "crop": [224, 224], "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225],
              "color": "RGB", "interpolation": "bilinear", "scale": 255, "source": "default"}


def _sha(data):
    return hashlib.sha256(data).hexdigest()


def _variants():
    return {
        "fp16": {"file": "m.fp16.onnx", "sha256": _sha(FILES["fp16"]), "file_bytes": len(FILES["fp16"]),
                 "made_by": "onnxconverter-common 1.16.0 float16 keep_io_types", "from_sha256": _sha(FILES["fp32"])},
        "int8": {"file": "m.int8.onnx", "sha256": _sha(FILES["int8"]), "file_bytes": len(FILES["int8"]),
                 "made_by": INT8_MADE_BY, "from_sha256": _sha(FILES["fp32"]), "calibration": dict(CALIBRATION)},
    }


def _entry(name="m", variants=True):
    entry = {"name": name, "family": "custom", "file": name + ".onnx", "sha256": _sha(FILES["fp32"]),
             "input_shape": [3, 224, 224], "weights": "none", "preprocess": dict(PREPROCESS)}
    if variants:
        entry["variants"] = _variants()
    return entry


@pytest.fixture
def models_dir(tmp_path):
    (tmp_path / "m.onnx").write_bytes(FILES["fp32"])
    (tmp_path / "m.fp16.onnx").write_bytes(FILES["fp16"])
    (tmp_path / "m.int8.onnx").write_bytes(FILES["int8"])
    data = manifest.new()
    data["models"] = [_entry()]
    manifest.save(str(tmp_path / "manifest.yaml"), data)
    return tmp_path


def _save(folder, *entries):
    data = manifest.new()
    data["models"] = list(entries)
    (folder / "manifest.yaml").write_text(yaml.safe_dump(data))


def test_a_per_precision_backend_gets_the_int8_variant_file_and_its_sha256(models_dir):
    model, = selection.resolve(str(models_dir), precision="int8", per_precision_files=True)
    assert model["path"] == os.path.join(str(models_dir), "m.int8.onnx")
    assert model["file"] == "m.int8.onnx"
    assert model["sha256"] == _sha(FILES["int8"])
    assert model["precision"] == "int8"
    assert model["made_by"] == INT8_MADE_BY
    assert model["calibration"] == CALIBRATION


def test_the_variant_keeps_the_models_static_fields_and_preprocessing(models_dir):
    model, = selection.resolve(str(models_dir), precision="fp16", per_precision_files=True)
    assert model["file"] == "m.fp16.onnx" and model["precision"] == "fp16"
    assert model["input_shape"] == [3, 224, 224]
    assert model["preprocess"] == PREPROCESS
    assert "calibration" not in model


def test_fp32_with_a_per_precision_backend_is_the_entrys_own_file(models_dir):
    model, = selection.resolve(str(models_dir), precision="fp32", per_precision_files=True)
    assert model["file"] == "m.onnx" and model["sha256"] == _sha(FILES["fp32"])
    assert "precision" not in model and "made_by" not in model


def test_a_backend_that_builds_its_own_precision_keeps_the_fp32_file(models_dir):
    model, = selection.resolve(str(models_dir), precision="int8", per_precision_files=False)
    assert model["path"] == os.path.join(str(models_dir), "m.onnx")
    assert model["sha256"] == _sha(FILES["fp32"])


def test_the_default_backend_base_builds_from_fp32():
    assert Backend.ONNX_PER_PRECISION is False


def test_a_missing_variant_names_the_export_command(tmp_path):
    (tmp_path / "m.onnx").write_bytes(FILES["fp32"])
    _save(tmp_path, _entry(variants=False))
    with pytest.raises(InputFileError) as caught:
        selection.resolve(str(tmp_path), precision="int8", per_precision_files=True)
    message = str(caught.value)
    assert "model m has no int8 file" in message
    assert "edgeprof export --models m --precision int8 --out %s" % tmp_path in message
    assert "\n" not in message


def test_a_missing_variant_of_a_users_model_names_the_onnx_form(tmp_path):
    (tmp_path / "m.onnx").write_bytes(FILES["fp32"])
    entry = _entry(variants=False)
    entry["weights"] = "user"
    _save(tmp_path, entry)
    with pytest.raises(InputFileError, match=r"edgeprof export --onnx FILE --name m --precision fp16"):
        selection.resolve(str(tmp_path), precision="fp16", per_precision_files=True)


def test_a_changed_variant_file_is_refused_before_anything_runs(models_dir):
    (models_dir / "m.int8.onnx").write_bytes(b"someone changed it")
    with pytest.raises(InputFileError, match=r"m\.int8\.onnx \(model m int8\) differs from the manifest.*"
                                             r"--precision int8 --force"):
        selection.resolve(str(models_dir), precision="int8", per_precision_files=True)


def test_a_missing_variant_file_is_refused(models_dir):
    os.unlink(str(models_dir / "m.fp16.onnx"))
    with pytest.raises(InputFileError, match=r"m\.fp16\.onnx \(model m fp16\) is missing"):
        selection.resolve(str(models_dir), precision="fp16", per_precision_files=True)


def test_only_the_asked_precisions_file_is_checked(models_dir):
    os.unlink(str(models_dir / "m.fp16.onnx"))
    model, = selection.resolve(str(models_dir), precision="int8", per_precision_files=True)
    assert model["file"] == "m.int8.onnx"


def test_a_bare_onnx_file_is_run_as_it_is_at_any_precision():
    model, = selection.resolve(TINY_ONNX, precision="int8", per_precision_files=True)
    assert model["path"] == TINY_ONNX and model["file"] == "tiny.onnx"
    with open(TINY_ONNX, "rb") as f:
        assert model["sha256"] == _sha(f.read())
    assert "precision" not in model


def test_an_int8_variant_must_say_what_it_was_calibrated_on(tmp_path):
    entry = _entry()
    del entry["variants"]["int8"]["calibration"]
    _save(tmp_path, entry)
    with pytest.raises(InputFileError, match=r"models\[0\]\.variants\.int8\.calibration' is missing"):
        manifest.load(str(tmp_path / "manifest.yaml"))


def test_a_calibration_on_images_must_name_its_fingerprint(tmp_path):
    entry = _entry()
    entry["variants"]["int8"]["calibration"]["fingerprint"] = None
    _save(tmp_path, entry)
    with pytest.raises(InputFileError, match=r"names no dir and fingerprint but is not random"):
        manifest.load(str(tmp_path / "manifest.yaml"))


def test_a_random_calibration_needs_no_folder(tmp_path):
    entry = _entry()
    entry["variants"]["int8"]["calibration"] = {"dir": None, "images": 100, "fingerprint": None, "random": True,
                                                "seed": 0}
    _save(tmp_path, entry)
    assert manifest.load(str(tmp_path / "manifest.yaml"))["models"][0]["variants"]["int8"]["calibration"]["random"]


def test_an_unknown_variant_precision_is_rejected(tmp_path):
    entry = _entry()
    entry["variants"]["int4"] = dict(entry["variants"]["fp16"])
    _save(tmp_path, entry)
    with pytest.raises(InputFileError, match=r"variants\.int4' is not a variant precision"):
        manifest.load(str(tmp_path / "manifest.yaml"))


@pytest.mark.parametrize("field, value, message", [
    ("crop", [224], r"preprocess\.crop' must be \[height, width\]"),
    ("mean", [0.5, 0.5], r"preprocess\.mean' must be 3 numbers"),
    ("std", [0.2, 0.0, 0.2], r"preprocess\.std' must be non-zero"),
    ("color", "YUV", r"preprocess\.color' must be one of RGB, BGR"),
    ("interpolation", "cubic", r"preprocess\.interpolation' must be one of"),
    ("resize", "256", r"preprocess\.resize' must be an integer"),
])
def test_a_wrong_preprocessing_field_is_named(tmp_path, field, value, message):
    entry = _entry()
    entry["preprocess"][field] = value
    _save(tmp_path, entry)
    with pytest.raises(InputFileError, match=message):
        manifest.load(str(tmp_path / "manifest.yaml"))
