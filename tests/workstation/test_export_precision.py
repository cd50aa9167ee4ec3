"""``edgeprof export --precision fp16,int8``: variant files, calibration, preprocessing, and sweeping them.

One export of squeezenet1_1 (random weights, nothing downloaded) with fp16 and int8 on random
calibration data, and one with int8 calibrated on a few generated images, are shared by the tests.
The int8 and fp16 files are then swept with ONNX Runtime and compared with fp32.
"""
import hashlib
import logging
import os
import shutil
import subprocess
import sys

import numpy
import onnx
import onnxruntime
import pytest
import yaml
from PIL import Image

from conftest import REPO, run_cli
from edgeprof.cli import main
from edgeprof.records import manifest
from edgeprof.records.files import sha256_file

MODEL = "squeezenet1_1"
RANDOM_COUNT = 4
# name -> (height, width): a subfolder sorted first, an upper-case extension, a file that is no image
IMAGES = {"a/first.jpg": (240, 320), "b.PNG": (300, 260), "c.png": (256, 256)}
CALIB_COUNT = 2
CHOSEN = ["a/first.jpg", "b.PNG"]  # the first CALIB_COUNT in sorted order of relative path
FAST = ["--min-seconds", "0.05", "--min-runs", "3", "--warmup-seconds", "0", "--warmup-runs", "1",
        "--idle-seconds", "0", "--power", "none"]
PY36 = os.path.join(REPO, ".venv36", "bin", "python")


def _make_images(folder):
    generator = numpy.random.RandomState(7)
    for rel, (height, width) in IMAGES.items():
        path = os.path.join(folder, *rel.split("/"))
        if not os.path.isdir(os.path.dirname(path)):
            os.makedirs(os.path.dirname(path))
        pixels = generator.randint(0, 256, size=(height, width, 3)).astype(numpy.uint8)
        Image.fromarray(pixels).save(path, format="JPEG" if rel.endswith(".jpg") else "PNG")
    with open(os.path.join(folder, "notes.txt"), "w") as f:
        f.write("not an image: left out of the calibration set\n")
    return folder


@pytest.fixture(scope="session")
def images(tmp_path_factory):
    return _make_images(str(tmp_path_factory.mktemp("calib")))


@pytest.fixture(scope="session")
def exported(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("models"))
    assert main(["export", "--models", MODEL, "--out", out, "--precision", "fp16,int8",
                 "--calib-count", str(RANDOM_COUNT)]) == 0
    return out


@pytest.fixture(scope="session")
def calibrated(tmp_path_factory, exported, images):
    out = str(tmp_path_factory.mktemp("calibrated"))
    for name in (MODEL + ".onnx", manifest.FILE_NAME):
        shutil.copy(os.path.join(exported, name), out)
    data = manifest.load(os.path.join(out, manifest.FILE_NAME))
    del data["models"][0]["variants"]
    manifest.save(os.path.join(out, manifest.FILE_NAME), data)
    assert main(["export", "--models", MODEL, "--out", out, "--precision", "int8", "--calib-dir", images,
                 "--calib-count", str(CALIB_COUNT)]) == 0
    return out


def _entry(folder):
    return manifest.find(manifest.load(os.path.join(folder, manifest.FILE_NAME)), MODEL)


def _run(capsys, *argv):
    status = main(["export"] + list(argv))
    return status, capsys.readouterr().err


def test_every_entry_records_the_torchvision_weights_preprocessing(exported):
    pre = _entry(exported)["preprocess"]
    assert pre == {"resize": 256, "crop": [224, 224], "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225],
                   "color": "RGB", "interpolation": "bilinear", "scale": 255,
                   "source": "torchvision SqueezeNet1_1_Weights.IMAGENET1K_V1 transforms()"}


def test_each_variant_is_its_own_file_with_its_sha256_and_maker(exported):
    entry = _entry(exported)
    assert sorted(entry["variants"]) == ["fp16", "int8"]
    for precision, variant in entry["variants"].items():
        path = os.path.join(exported, variant["file"])
        assert variant["file"] == "%s.%s.onnx" % (MODEL, precision)
        assert variant["sha256"] == sha256_file(path) != entry["sha256"]
        assert variant["file_bytes"] == os.path.getsize(path)
        assert variant["from_sha256"] == entry["sha256"]
    assert entry["variants"]["fp16"]["made_by"].startswith("onnxconverter-common 1.")
    assert entry["variants"]["fp16"]["made_by"].endswith(" float16 keep_io_types")
    assert entry["variants"]["int8"]["made_by"] == ("onnxruntime %s quantize_static QDQ per-channel MinMax"
                                                    % onnxruntime.__version__)


def test_int8_without_images_records_a_random_calibration(exported):
    calibration = _entry(exported)["variants"]["int8"]["calibration"]
    assert calibration == {"dir": None, "images": RANDOM_COUNT, "fingerprint": None, "random": True, "seed": 0}


def test_int8_with_images_records_the_folder_count_and_fingerprint(calibrated, images):
    calibration = _entry(calibrated)["variants"]["int8"]["calibration"]
    digest = hashlib.sha256()
    for rel in CHOSEN:
        digest.update(rel.encode("utf-8") + b"\0")
        with open(os.path.join(images, *rel.split("/")), "rb") as f:
            digest.update(hashlib.sha256(f.read()).hexdigest().encode("ascii") + b"\n")
    assert calibration == {"dir": os.path.abspath(images), "images": CALIB_COUNT,
                           "fingerprint": digest.hexdigest(), "random": False}


def test_calibration_on_images_gives_other_int8_scales_than_random_data(exported, calibrated):
    assert _entry(calibrated)["sha256"] == _entry(exported)["sha256"]
    assert _entry(calibrated)["variants"]["int8"]["sha256"] != _entry(exported)["variants"]["int8"]["sha256"]


def test_the_int8_file_is_qdq_with_per_channel_weights_at_opset_13(exported):
    model = onnx.load(os.path.join(exported, MODEL + ".int8.onnx"))
    ops = [n.op_type for n in model.graph.node]
    assert "QuantizeLinear" in ops and "DequantizeLinear" in ops
    initializers = dict((t.name, t) for t in model.graph.initializer)
    int8_weights = [t for t in initializers.values() if t.data_type == onnx.TensorProto.INT8 and len(t.dims) == 4]
    assert int8_weights, "no int8 convolution weights"
    per_channel = [n for n in model.graph.node if n.op_type == "DequantizeLinear"
                   and n.input[0] in initializers and initializers[n.input[0]].data_type == onnx.TensorProto.INT8
                   and len(initializers[n.input[0]].dims) == 4 and list(initializers[n.input[1]].dims) != []]
    assert len(per_channel) == len(int8_weights)
    assert [(o.domain, o.version) for o in model.opset_import] == [("", 13)]


def test_the_fp16_file_has_fp16_weights_and_fp32_input_and_output(exported):
    model = onnx.load(os.path.join(exported, MODEL + ".fp16.onnx"))
    kinds = set(t.data_type for t in model.graph.initializer if len(t.dims) > 1)
    assert kinds == {onnx.TensorProto.FLOAT16}
    assert [v.type.tensor_type.elem_type for v in model.graph.input] == [onnx.TensorProto.FLOAT]
    assert [v.type.tensor_type.elem_type for v in model.graph.output] == [onnx.TensorProto.FLOAT]


@pytest.mark.parametrize("precision", ["fp16", "int8"])
def test_the_variant_runs_in_onnx_runtime_close_to_fp32(exported, precision):
    batch = numpy.random.RandomState(0).randn(3, 3, 224, 224).astype(numpy.float32)
    logits = []
    for name in (MODEL + ".onnx", "%s.%s.onnx" % (MODEL, precision)):
        session = onnxruntime.InferenceSession(os.path.join(exported, name), providers=["CPUExecutionProvider"])
        logits.append(session.run(["logits"], {"input": batch})[0])
    assert logits[1].shape == (3, 1000) and logits[1].dtype == numpy.float32
    assert numpy.max(numpy.abs(logits[1] - logits[0])) < 0.5 * numpy.max(numpy.abs(logits[0]))
    check = _entry(exported)["variants"][precision]["check"]
    assert check["batch"] == 2 and check["max_abs_diff"] < check["fp32_max_abs"]


@pytest.mark.skipif(not os.path.exists(PY36), reason="no .venv36 (onnxruntime 1.10, Python 3.6) here")
@pytest.mark.parametrize("precision", ["fp16", "int8"])
def test_the_variant_runs_in_onnx_runtime_1_10(exported, precision):
    script = ("import sys, numpy, onnxruntime as ort\n"
              "s = ort.InferenceSession(sys.argv[1], providers=['CPUExecutionProvider'])\n"
              "y = s.run(['logits'], {'input': numpy.zeros((2, 3, 224, 224), numpy.float32)})[0]\n"
              "print(ort.__version__, y.shape, y.dtype)\n")
    path = os.path.join(exported, "%s.%s.onnx" % (MODEL, precision))
    result = subprocess.run([PY36, "-c", script, path], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            universal_newlines=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split()[0].startswith("1.10") and "(2, 1000) float32" in result.stdout


def test_an_unchanged_variant_is_kept_and_a_new_calibration_set_remakes_it(calibrated, images, caplog):
    before = _entry(calibrated)["variants"]["int8"]
    caplog.set_level(logging.INFO, logger="edgeprof")
    assert main(["export", "--models", MODEL, "--out", calibrated, "--precision", "int8", "--calib-dir", images,
                 "--calib-count", str(CALIB_COUNT)]) == 0
    assert "int8 kept" in caplog.text
    assert _entry(calibrated)["variants"]["int8"] == before
    assert main(["export", "--models", MODEL, "--out", calibrated, "--precision", "int8", "--calib-dir", images,
                 "--calib-count", "3"]) == 0
    after = _entry(calibrated)["variants"]["int8"]
    assert after["calibration"]["images"] == 3 and after["calibration"]["fingerprint"] != \
        before["calibration"]["fingerprint"]


def test_an_export_without_images_keeps_an_int8_file_calibrated_on_images(calibrated, caplog):
    before = _entry(calibrated)["variants"]["int8"]
    caplog.set_level(logging.INFO, logger="edgeprof")
    assert main(["export", "--models", MODEL, "--out", calibrated, "--precision", "int8"]) == 0
    assert "int8 kept" in caplog.text and "RANDOM" not in caplog.text
    assert _entry(calibrated)["variants"]["int8"] == before and not before["calibration"]["random"]


def test_random_calibration_warns_loudly(exported, tmp_path, caplog):
    out = str(tmp_path / "models")
    shutil.copytree(exported, out)
    os.unlink(os.path.join(out, MODEL + ".int8.onnx"))
    caplog.set_level(logging.INFO, logger="edgeprof")
    assert main(["export", "--models", MODEL, "--out", out, "--precision", "int8", "--calib-count", "2"]) == 0
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("CALIBRATED ON RANDOM DATA" in w and "accuracy means nothing" in w for w in warnings)
    assert "fp16" in _entry(out)["variants"], "a variant not asked for is kept"


def test_a_failing_variant_keeps_the_fp32_file_and_the_other_variant(exported, tmp_path, capsys, caplog,
                                                                     monkeypatch):
    from edgeprof.workstation import precision

    def broken(*args, **kwargs):
        raise RuntimeError("quantizer broke")

    out = str(tmp_path / "models")
    shutil.copytree(exported, out)
    monkeypatch.setattr(precision, "to_int8", broken)
    status, err = _run(capsys, "--models", MODEL, "--out", out, "--precision", "fp16,int8", "--force")
    assert status == 2
    assert "int8 FAILED: quantizer broke" in caplog.text
    assert err.strip().splitlines()[-1].startswith("edgeprof export: error: 1 of 1 models failed (%s)" % MODEL)
    entry = _entry(out)
    assert entry["variants"]["fp16"]["from_sha256"] == entry["sha256"]
    assert "int8" in entry["variants"], "the old int8 file stays recorded: it was made from the same fp32 file"


def test_fp16_clamping_is_summarised_in_one_line(exported, tmp_path, caplog):
    out = str(tmp_path / "models")
    shutil.copytree(exported, out)
    caplog.set_level(logging.INFO, logger="edgeprof")
    assert main(["export", "--models", MODEL, "--out", out, "--precision", "fp16", "--force"]) == 0
    lines = [r.getMessage() for r in caplog.records if "fp16:" in r.getMessage()]
    clamped = _entry(out)["variants"]["fp16"]["clamped_values"]
    assert len(lines) == (1 if clamped else 0)
    assert not [r for r in caplog.records if "truncated" in r.getMessage()]


def test_a_users_onnx_file_gets_variants_and_a_default_preprocessing(exported, tmp_path, capsys):
    out = str(tmp_path / "models")
    status, err = _run(capsys, "--onnx", os.path.join(exported, MODEL + ".onnx"), "--name", "mine", "--out", out,
                       "--precision", "int8", "--calib-count", "2")
    assert status == 0, err
    entry = _entry_named(out, "mine")
    assert entry["preprocess"]["source"] == "default"
    assert (entry["preprocess"]["resize"], entry["preprocess"]["crop"]) == (256, [224, 224])
    assert entry["variants"]["int8"]["file"] == "mine.int8.onnx"


def _entry_named(folder, name):
    return manifest.find(manifest.load(os.path.join(folder, manifest.FILE_NAME)), name)


@pytest.mark.parametrize("make, words", [
    (lambda folder: folder, "has no image"),
    (lambda folder: os.path.join(folder, "missing"), "no such folder"),
    (lambda folder: _file(folder, "one.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 40) and folder, "cannot read image"),
    (lambda folder: _file(folder, "empty.jpg", b"") and folder, "empty.jpg"),
])
def test_a_bad_calibration_folder_exits_2_in_one_line(tmp_path, capsys, make, words):
    folder = str(tmp_path / "calib")
    os.makedirs(folder)
    given = make(folder)
    status, err = _run(capsys, "--models", MODEL, "--out", str(tmp_path / "m"), "--precision", "int8",
                       "--calib-dir", given)
    assert status == 2
    assert words in err and len(err.strip().splitlines()) == 1
    assert not os.path.exists(str(tmp_path / "m" / manifest.FILE_NAME)), "nothing exported"


def _file(folder, name, data):
    path = os.path.join(folder, name)
    with open(path, "wb") as f:
        f.write(data)
    return path


def test_calibration_follows_linked_class_folders_as_accuracy_does(tmp_path):
    from edgeprof.agent.accuracy import datasets
    from edgeprof.workstation import calibration
    real = tmp_path / "store" / "n01"
    real.mkdir(parents=True)
    Image.fromarray(numpy.zeros((8, 8, 3), numpy.uint8)).save(str(real / "x.png"))
    val = tmp_path / "val"
    val.mkdir()
    os.symlink(str(real), str(val / "n01"))
    assert [rel for rel, _ in datasets.from_folders(str(val)).samples] == ["n01/x.png"]
    assert calibration.list_images(str(val)) == ["n01/x.png"]


def test_a_calibration_path_that_is_a_file_exits_2(tmp_path, capsys):
    path = _file(str(tmp_path), "image.png", b"whatever")
    status, err = _run(capsys, "--models", MODEL, "--out", str(tmp_path / "m"), "--precision", "int8",
                       "--calib-dir", path)
    assert status == 2 and "is not a folder" in err and len(err.strip().splitlines()) == 1


def test_an_unknown_precision_exits_2_naming_the_choices(tmp_path, capsys):
    with pytest.raises(SystemExit) as caught:
        main(["export", "--models", MODEL, "--out", str(tmp_path / "m"), "--precision", "fp16,int4"])
    err = capsys.readouterr().err
    assert caught.value.code == 2 and "give precisions from fp32, fp16, int8" in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("argv, words", [
    (["--calib-dir", "."], "--calib-dir is for int8"),
    (["--precision", "int8", "--opset", "11"], "needs --opset 13 or later"),
])
def test_bad_precision_flags_exit_2(tmp_path, capsys, argv, words):
    status, err = _run(capsys, "--models", MODEL, "--out", str(tmp_path / "m"), *argv)
    assert status == 2 and words in err


def test_int8_with_an_onnxruntime_too_old_to_prepare_models_exits_2(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime.quantization.shape_inference", None)  # as before 1.13
    status, err = _run(capsys, "--models", MODEL, "--out", str(tmp_path / "m"), "--precision", "int8")
    assert status == 2 and "needs onnxruntime 1.13 or later" in err and len(err.strip().splitlines()) == 1


@pytest.fixture(scope="session")
def swept(tmp_path_factory, exported):
    root = tmp_path_factory.mktemp("root")
    out = root / "profiles"
    env = {"EDGEPROF_ROOT": str(root), "TMPDIR": str(root)}
    for precision in ("fp32", "fp16", "int8"):
        result = run_cli(["sweep", "--models", exported, "--out", str(out), "--board-name", "cpu",
                          "--backend", "onnxruntime", "--precision", precision, "--batch", "1,2"] + FAST, env=env)
        assert result.returncode == 0, result.stderr[-3000:]
    return out / "cpu"


def _profile(swept, precision):
    with open(str(swept / ("%s__onnxruntime__%s.yaml" % (MODEL, precision)))) as f:
        return yaml.safe_load(f)


@pytest.mark.parametrize("precision", ["fp16", "int8"])
def test_sweep_at_a_precision_runs_that_variant_file(exported, swept, precision):
    data = _profile(swept, precision)
    variant = _entry(exported)["variants"][precision]
    assert data["backend"]["precision"] == precision
    assert data["model"]["sha256"] == variant["sha256"]
    assert data["model"]["file"] == variant["file"] and data["model"]["precision"] == precision
    assert data["model"]["made_by"] == variant["made_by"]
    assert data["model"].get("calibration") == variant.get("calibration")
    # the variant's own weight bytes (about 1/2, 1/4 of fp32's), the fp32 model's params
    fp32 = _entry(exported)
    assert data["model"]["weight_bytes"] == variant["weight_bytes"] < 0.6 * fp32["weight_bytes"]
    assert data["model"]["params"] == fp32["params"]
    assert [run["settings"]["model_sha256"] for run in data["runs"]] == [variant["sha256"]] * 2
    assert all(run["status"] == "ok" for run in data["runs"])


def test_the_fp32_sweep_keeps_the_fp32_file(exported, swept):
    data = _profile(swept, "fp32")
    assert data["model"]["sha256"] == _entry(exported)["sha256"] and "precision" not in data["model"]


def test_compare_shows_fp32_and_int8_side_by_side(swept):
    result = run_cli(["compare", str(swept), "--batch", "1"])
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    header = next(line for line in lines if line.startswith("model"))
    columns = header.split()[1:]
    # fp32 first (the default baseline), though its file sorts after fp16's
    assert columns == ["cpu/onnxruntime/fp32", "cpu/onnxruntime/fp16", "cpu/onnxruntime/int8"]
    row = next(line for line in lines if line.startswith(MODEL)).split()
    assert len([cell for cell in row[1:] if not cell.startswith("(")]) == 3
