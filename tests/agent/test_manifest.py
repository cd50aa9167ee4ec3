"""models/manifest.yaml: load, validate, save, find, verify_file (agent side: Python 3.6, no torch)."""
import hashlib
import os
import subprocess
import sys

import pytest
import yaml

from edgeprof.records.files import HASH_CHUNK_BYTES
from edgeprof.records import manifest
from edgeprof.errors import InputFileError

MODEL_BYTES = b"not really onnx, but the manifest only hashes it"


def _entry(name="resnet18", **changes):
    entry = {
        "name": name, "family": "ResNet", "file": name + ".onnx",
        "sha256": hashlib.sha256(MODEL_BYTES).hexdigest(), "input_shape": [3, 224, 224],
        "opset": 13, "params": 11689512, "graph_params": 11684712, "macs": 1814073344,
        "paper_ops": 3636276200, "weight_bytes": 46738848, "top1": 69.758, "top5": 89.078,
        "accuracy_source": "torchvision ResNet18_Weights.IMAGENET1K_V1 (weights.meta)",
        "weights": "none", "numeric_check": {"max_abs_diff": 9.5e-06, "tolerance": 0.0155},
        "exported": "2026-11-25T04:22:31Z", "export_seconds": 2.9,
    }
    entry.update(changes)
    return entry


def _manifest(*entries):
    data = manifest.new()
    data["models"] = list(entries) or [_entry()]
    return data


@pytest.fixture
def models_dir(tmp_path):
    (tmp_path / "resnet18.onnx").write_bytes(MODEL_BYTES)
    manifest.save(str(tmp_path / "manifest.yaml"), _manifest())
    return tmp_path


def _write(path, data):
    path.write_text(yaml.safe_dump(data))
    return str(path)


def test_saved_manifest_loads_back_with_the_same_entries(models_dir):
    data = manifest.load(str(models_dir / "manifest.yaml"))
    assert data["schema"] == "edgeprof/manifest/v1"
    assert manifest.entries(data) == [_entry()]


def test_find_returns_the_named_entry_or_none():
    data = _manifest(_entry("a"), _entry("b"))
    assert manifest.find(data, "b")["name"] == "b"
    assert manifest.find(data, "c") is None


def test_put_replaces_an_entry_of_the_same_name_in_place():
    data = _manifest(_entry("a"), _entry("b"))
    manifest.put(data, _entry("a", opset=17))
    assert [e["name"] for e in manifest.entries(data)] == ["a", "b"]
    assert manifest.find(data, "a")["opset"] == 17


def test_put_appends_a_new_name():
    data = _manifest(_entry("a"))
    manifest.put(data, _entry("b"))
    assert [e["name"] for e in manifest.entries(data)] == ["a", "b"]


def test_load_or_new_gives_an_empty_manifest_when_the_file_is_absent(tmp_path):
    data = manifest.load_or_new(str(tmp_path / "manifest.yaml"))
    assert manifest.entries(data) == []


def test_a_missing_required_field_is_named(tmp_path):
    entry = _entry()
    del entry["sha256"]
    with pytest.raises(InputFileError, match=r"field 'models\[0\]\.sha256' is missing"):
        manifest.load(_write(tmp_path / "m.yaml", _manifest(entry)))


def test_a_field_of_the_wrong_type_is_named_with_its_value(tmp_path):
    with pytest.raises(InputFileError, match=r"'models\[0\]\.params' must be an integer, got str"):
        manifest.load(_write(tmp_path / "m.yaml", _manifest(_entry(params="11M"))))


def test_an_unknown_weights_kind_is_rejected(tmp_path):
    with pytest.raises(InputFileError, match=r"'models\[0\]\.weights' must be one of none, default, user"):
        manifest.load(_write(tmp_path / "m.yaml", _manifest(_entry(weights="imagenet"))))


def test_repeated_model_names_are_rejected(tmp_path):
    with pytest.raises(InputFileError, match="repeats the model name 'a'"):
        manifest.load(_write(tmp_path / "m.yaml", _manifest(_entry("a"), _entry("a"))))


def test_an_absolute_file_path_is_rejected(tmp_path):
    with pytest.raises(InputFileError, match="must be relative to the manifest's folder"):
        manifest.load(_write(tmp_path / "m.yaml", _manifest(_entry(file="/models/a.onnx"))))


def test_an_input_shape_with_a_batch_or_unknown_axis_is_rejected(tmp_path):
    with pytest.raises(InputFileError, match="input_shape' must list positive integers"):
        manifest.load(_write(tmp_path / "m.yaml", _manifest(_entry(input_shape=[3, "H", 224]))))


def test_a_numeric_check_without_its_tolerance_is_rejected(tmp_path):
    entry = _entry(numeric_check={"max_abs_diff": 1e-6})
    with pytest.raises(InputFileError, match=r"'models\[0\]\.numeric_check\.tolerance' is missing"):
        manifest.load(_write(tmp_path / "m.yaml", _manifest(entry)))


def test_a_newer_major_schema_asks_to_upgrade(tmp_path):
    data = _manifest()
    data["schema"] = "edgeprof/manifest/v2"
    with pytest.raises(InputFileError, match="upgrade edgeprof"):
        manifest.load(_write(tmp_path / "m.yaml", data))


def test_a_profile_is_not_taken_for_a_manifest(tmp_path):
    with pytest.raises(InputFileError, match="not an edgeprof manifest"):
        manifest.load(_write(tmp_path / "m.yaml", {"schema": "edgeprof/profile/v1", "models": []}))


def test_a_manifest_that_is_not_a_mapping_is_rejected(tmp_path):
    with pytest.raises(InputFileError, match="must be a YAML mapping, got list"):
        manifest.load(_write(tmp_path / "m.yaml", [1, 2]))


def test_unknown_fields_are_kept_and_ignored(tmp_path):
    data = _manifest(_entry(paper={"top1_pct": 69.57}, display_name="ResNet-18"))
    loaded = manifest.load(_write(tmp_path / "m.yaml", data))
    assert manifest.find(loaded, "resnet18")["paper"] == {"top1_pct": 69.57}


def test_save_refuses_an_invalid_manifest_and_keeps_the_old_file(models_dir):
    path = str(models_dir / "manifest.yaml")
    before = open(path).read()
    with pytest.raises(InputFileError):
        manifest.save(path, _manifest(_entry(sha256=None)))
    assert open(path).read() == before


def test_sha256_file_matches_hashlib_over_several_chunks(tmp_path):
    data = os.urandom(HASH_CHUNK_BYTES * 2 + 123)
    (tmp_path / "big.bin").write_bytes(data)
    assert manifest.sha256_file(str(tmp_path / "big.bin")) == hashlib.sha256(data).hexdigest()


def test_verify_file_returns_the_path_of_an_intact_file(models_dir):
    path = manifest.verify_file(_entry(), str(models_dir))
    assert path == os.path.join(str(models_dir), "resnet18.onnx")


def test_verify_file_reports_a_missing_file(models_dir):
    os.unlink(str(models_dir / "resnet18.onnx"))
    with pytest.raises(InputFileError, match="resnet18.onnx \\(model resnet18\\) is missing"):
        manifest.verify_file(_entry(), str(models_dir))


def test_verify_file_reports_a_changed_file_and_how_to_fix_it(models_dir):
    (models_dir / "resnet18.onnx").write_bytes(MODEL_BYTES + b"!")
    with pytest.raises(InputFileError) as error:
        manifest.verify_file(_entry(), str(models_dir))
    assert str(error.value).endswith("differs from the manifest; re-export with edgeprof export "
                                     "--force or fix %s" % (models_dir / "manifest.yaml"))


def test_importing_the_manifest_module_imports_neither_torch_nor_onnx():
    code = ("import sys, edgeprof.records.manifest; "
            "sys.exit(any(m in sys.modules for m in ('torch', 'onnx', 'onnxruntime')))")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    done = subprocess.call([sys.executable, "-c", code], env=env)
    assert done == 0
