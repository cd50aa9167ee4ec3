"""edgeprof accuracy on a model whose answer for each image is known: exact top-1/top-5, agreement, bad input.

The model (built here, numpy only) averages each colour channel and scores class k by closeness to
a grey level: logit_k = S * (2 x c_k - c_k^2) with x the image's mean (pixel / 255, no mean/std) and
c_k = (10 + 20 k) / 255, i.e. -S (x - c_k)^2 up to a term the same for every class. An image of
uniform grey 13 + 20 j therefore ranks the classes j, j+1, j-1, j+2, j-2, ... (the +3 breaks ties).
Runs under Python 3.6 (onnxruntime 1.10, Pillow 8.4) as well as current versions.
"""
import json
import os
import sys

import numpy as np
import pytest
import yaml

from onnx_build import _bytes, _int, _node, _tensor, _value_info

Image = pytest.importorskip("PIL.Image", reason="Pillow is not installed (pip install 'edgeprof[accuracy]')")
pytest.importorskip("onnxruntime", reason="onnxruntime is not installed")

from edgeprof.records import accuracy as accuracy_record, profile  # noqa: E402

CLASSES = 10
SIZE = 28  # the model's input height and width
SCALE = 100.0
LEVELS = np.array([10 + 20 * k for k in range(CLASSES)], dtype=np.float64) / 255.0
PREPROCESS = {"resize": 32, "crop": [SIZE, SIZE], "mean": [0.0, 0.0, 0.0], "std": [1.0, 1.0, 1.0],
              "color": "RGB", "interpolation": "bilinear", "scale": 255}
# (grey level's class j, label): 7 right, 2 wrong but in the top 5 (8 is 2nd for j=7, 6 is 4th for
# j=8), 1 wrong outside it (0 is last for j=9): top-1 7/10, top-5 9/10.
SET = [(0, 0), (1, 1), (2, 2), (3, 3), (4, 4), (5, 5), (6, 6), (7, 8), (8, 6), (9, 0)]
# +0.6 on class 1 turns grey 13 (class 0 by a margin of 0.43) into class 1 and nothing else (the
# nearest margin after it: 0.80 for grey 53): 9 of 10 top-1 agree; top-1 of the copy is 6/10.
PERTURB_CLASS, PERTURB = 1, 0.6


def colour_model(path, bias_shift=None, channels=3, size=SIZE):
    """Write the grey-level classifier: GlobalAveragePool -> Flatten -> Gemm, dynamic batch."""
    weight = np.tile(SCALE * 2 * LEVELS / 3.0, (channels, 1))  # (channels, classes): mean over channels
    bias = -SCALE * LEVELS ** 2
    if bias_shift:
        bias[bias_shift[0]] += bias_shift[1]
    nodes = [_node("GlobalAveragePool", ["input"], ["pooled"], "pool"),
             _node("Flatten", ["pooled"], ["flat"], "flatten"),
             _node("Gemm", ["flat", "w", "b"], ["logits"], "fc")]
    graph = b"".join(_bytes(1, n) for n in nodes) + _bytes(2, "grey_classifier")
    graph += _bytes(5, _tensor("w", weight)) + _bytes(5, _tensor("b", bias))
    graph += _bytes(11, _value_info("input", ["batch", channels, size, size]))
    graph += _bytes(12, _value_info("logits", ["batch", CLASSES]))
    model = _int(1, 7) + _bytes(2, "edgeprof-tests") + _bytes(7, graph) + _bytes(8, _bytes(1, "") + _int(2, 13))
    with open(str(path), "wb") as f:
        f.write(model)
    return str(path)


def grey_image(path, level_class, size=(40, 30)):
    value = 13 + 20 * level_class
    Image.fromarray(np.full((size[1], size[0], 3), value, dtype=np.uint8)).save(str(path))


def sha256(path):
    import hashlib
    with open(str(path), "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def models_folder(folder, name="grey", **build):
    """A models folder as `edgeprof export` leaves it: the model and its manifest entry with ``preprocess``."""
    folder.mkdir()
    path = colour_model(folder / (name + ".onnx"), **build)
    entry = {"name": name, "family": "Test", "file": name + ".onnx", "sha256": sha256(path),
             "input_shape": [3, SIZE, SIZE], "weights": "none", "top1": 50.0,
             "accuracy_source": "made up for the test", "preprocess": dict(PREPROCESS, source="the test")}
    (folder / "manifest.yaml").write_text(yaml.safe_dump(
        {"schema": "edgeprof/manifest/v1", "edgeprof_version": "0.1.0", "models": [entry]}))
    return folder


@pytest.fixture
def models(tmp_path):
    return models_folder(tmp_path / "models")


@pytest.fixture
def class_folders(tmp_path):
    """SET as class folders c0..c9 (each class at least one image, as ImageFolder requires)."""
    root = tmp_path / "val"
    for k in range(CLASSES):
        (root / ("c%d" % k)).mkdir(parents=True)
    for index, (level, label) in enumerate(SET):
        grey_image(root / ("c%d" % label) / ("img%02d.png" % index), level)
    # class 7 and 9 got no image from SET: give each one whose answer is right (top-1 9/12, top-5 11/12)
    grey_image(root / "c7" / "extra7.PNG", 7)
    grey_image(root / "c9" / "extra9.JPEG", 9)
    (root / "c9" / "notes.txt").write_text("not an image: skipped by its extension")
    return root


@pytest.fixture
def labels_file(tmp_path):
    folder = tmp_path / "set"
    (folder / "imgs").mkdir(parents=True)
    lines = ["# image label"]
    for index, (level, label) in enumerate(SET):
        grey_image(folder / "imgs" / ("n %02d.png" % index), level, size=(30 + index, 50))
        lines.append("imgs/n %02d.png %d" % (index, label))
    (folder / "labels.txt").write_text("\n".join(lines) + "\n\n")
    return folder / "labels.txt"


def accuracy_cli(cli, models, out, *extra):
    return cli(["accuracy", "--models", str(models), "--out", str(out), "--board-name", "testboard",
                "--backend", "onnxruntime", "--batch", "4"] + list(extra))


def record_of(out, model="grey", precision="fp32"):
    path = os.path.join(str(out), "testboard", "%s__onnxruntime__%s.accuracy.json" % (model, precision))
    with open(path) as f:
        return json.load(f)


def test_labels_file_gives_the_exact_top1_and_top5(cli, models, labels_file, tmp_path):
    result = accuracy_cli(cli, models, tmp_path / "out", "--labels", str(labels_file))
    assert result.returncode == 0, result.stderr
    record = record_of(tmp_path / "out")
    assert (record["top1_correct"], record["top5_correct"], record["images"]) == (7, 9, 10)
    assert record["top1"] == pytest.approx(70.0) and record["top5"] == pytest.approx(90.0)
    assert record["classes"] == CLASSES and record["preprocess_source"] == "manifest"
    assert record["set"]["kind"] == "labels" and len(record["set"]["fingerprint"]) == 64
    assert "70.00" in result.stdout and "90.00" in result.stdout


def test_class_folders_follow_imagefolder_order_and_extensions(cli, models, class_folders, tmp_path):
    result = accuracy_cli(cli, models, tmp_path / "out", "--images", str(class_folders))
    assert result.returncode == 0, result.stderr
    record = record_of(tmp_path / "out")
    assert (record["top1_correct"], record["top5_correct"], record["images"]) == (9, 11, 12)
    assert record["set"]["class_folders"] == CLASSES


def test_limit_takes_the_first_images_and_per_class_the_first_of_each(cli, models, class_folders, tmp_path):
    # set order: c0/img00, c0/img09, c1/img01, ...: the first 3 are right, wrong, right
    assert accuracy_cli(cli, models, tmp_path / "a", "--images", str(class_folders), "--limit", "3").returncode == 0
    assert (record_of(tmp_path / "a")["top1_correct"], record_of(tmp_path / "a")["images"]) == (2, 3)
    assert record_of(tmp_path / "a")["set"]["limit"] == 3
    # one per class: c0/img00 right, c6/img06 right (img08 comes later), c8/img07 wrong, the rest right
    result = accuracy_cli(cli, models, tmp_path / "b", "--images", str(class_folders), "--per-class", "1")
    assert result.returncode == 0, result.stderr
    assert (record_of(tmp_path / "b")["top1_correct"], record_of(tmp_path / "b")["images"]) == (9, 10)


def test_agreement_with_a_perturbed_copy(cli, models, labels_file, tmp_path):
    perturbed = models_folder(tmp_path / "perturbed", "grey_perturbed", bias_shift=(PERTURB_CLASS, PERTURB))
    reference = str(models / "grey.onnx")
    result = accuracy_cli(cli, perturbed, tmp_path / "out", "--labels", str(labels_file), "--reference", reference)
    assert result.returncode == 0, result.stderr
    record = record_of(tmp_path / "out", model="grey_perturbed")
    assert record["top1_correct"] == 6
    agreement = record["agreement"]
    assert agreement["top1_agreeing"] == 9 and agreement["top1_agreement"] == pytest.approx(90.0)
    assert agreement["max_abs_logit_diff"] == pytest.approx(PERTURB, abs=1e-4)
    assert agreement["reference_sha256"] == sha256(reference)


def test_a_variant_is_compared_with_its_fp32_file_without_being_asked(cli, models, labels_file, tmp_path):
    # an fp16 variant as `edgeprof export --precision fp16` records it (here: the perturbed copy)
    variant = colour_model(models / "grey_fp16.onnx", bias_shift=(PERTURB_CLASS, PERTURB))
    manifest = yaml.safe_load((models / "manifest.yaml").read_text())
    manifest["models"][0]["variants"] = {"fp16": {"file": "grey_fp16.onnx", "sha256": sha256(variant),
                                                  "made_by": "the test: a perturbed copy"}}
    (models / "manifest.yaml").write_text(yaml.safe_dump(manifest))
    result = accuracy_cli(cli, models, tmp_path / "out", "--labels", str(labels_file), "--precision", "fp16")
    assert result.returncode == 0, result.stderr
    record = record_of(tmp_path / "out", precision="fp16")
    assert record["model_sha256"] == sha256(variant) and record["top1_correct"] == 6
    assert record["agreement"]["top1_agreeing"] == 9
    assert record["agreement"]["reference_sha256"] == sha256(models / "grey.onnx")


class FixedBatchSession(object):
    """A backend session with ``infer`` at a fixed batch, as TensorRT's engines have: a batch of another
    size is refused (the engine's input binding has this batch's shape). Computes the grey classifier."""

    def __init__(self, batch):
        self.batch = batch
        self.calls = []
        self.closed = False

    def infer(self, images):
        if images.shape != (self.batch, 3, SIZE, SIZE):
            raise ValueError("input of shape %s, the engine takes %s" % (images.shape, (self.batch, 3, SIZE, SIZE)))
        self.calls.append(images.shape[0])
        channel_means = images.mean(axis=(2, 3))
        return channel_means.mean(axis=1, keepdims=True) * SCALE * 2 * LEVELS - SCALE * LEVELS ** 2

    def close(self):
        self.closed = True


class FixedBatchBackend(object):
    name = "fixedbatch"

    def __init__(self):
        self.sessions = []

    def check_precision(self, precision):
        assert precision == "fp32"

    def version(self):
        return "1"

    def open(self, model_path, batch, precision, options):
        self.sessions.append(FixedBatchSession(batch))
        self.sessions[-1].opened = (model_path, precision, options.get("model_sha256"))
        return self.sessions[-1]


def test_a_backend_session_with_infer_gets_full_batches_and_the_last_one_padded(models, labels_file, tmp_path):
    from edgeprof.agent.accuracy import datasets, job
    from edgeprof.agent.selection import resolve
    backend = FixedBatchBackend()
    config = job.AccuracyConfig(labelled=datasets.load(labels=str(labels_file)), backend=backend, precision="fp32",
                                out_dir=str(tmp_path / "out"), batch=4, board_name="testboard")
    record, path = job.measure_model(config, resolve(str(models))[0])
    assert backend.sessions[0].calls == [4, 4, 4] and backend.sessions[0].closed  # 10 images: 4 + 4 + 2 padded
    assert (record["top1_correct"], record["top5_correct"], record["images"]) == (7, 9, 10)
    assert path.endswith(os.path.join("testboard", "grey__fixedbatch__fp32.accuracy.json"))


def test_the_reference_is_opened_with_its_own_sha256(models, labels_file, tmp_path):
    """TensorRT keys its engine cache by the ``model_sha256`` option: the reference given the measured
    model's would be served that model's cached engine instead of being built from its own file."""
    from edgeprof.agent.accuracy import datasets, job
    from edgeprof.agent.selection import resolve
    other = colour_model(tmp_path / "reference.onnx", bias_shift=(PERTURB_CLASS, PERTURB))
    backend = FixedBatchBackend()
    config = job.AccuracyConfig(labelled=datasets.load(labels=str(labels_file)), backend=backend, precision="fp32",
                                out_dir=str(tmp_path / "out"), batch=4, board_name="testboard")
    model = resolve(str(models))[0]
    record, _ = job.measure_model(config, model, reference={"path": other, "sha256": sha256(other)})
    assert [s.opened for s in backend.sessions] == [(model["path"], "fp32", model["sha256"]),
                                                    (other, "fp32", sha256(other))]
    assert record["agreement"]["reference_sha256"] == sha256(other)


def test_profile_load_attaches_the_record(cli, models, labels_file, tmp_path):
    out = tmp_path / "out"
    sweep = cli(["sweep", "--models", str(models), "--out", str(out), "--board-name", "testboard",
                 "--backend", "onnxruntime", "--batch", "1", "--min-seconds", "0.05", "--min-runs", "3",
                 "--warmup-seconds", "0", "--warmup-runs", "1", "--idle-seconds", "0", "--power", "none"])
    assert sweep.returncode == 0, sweep.stderr
    assert accuracy_cli(cli, models, out, "--labels", str(labels_file)).returncode == 0
    data = profile.load(os.path.join(str(out), "testboard", "grey__onnxruntime__fp32.yaml"))
    assert data["accuracy"]["top1_correct"] == 7
    accuracy_record.validate(data["accuracy"])


def test_bare_onnx_without_preprocess_uses_the_default_and_says_so(cli, labels_file, tmp_path):
    model = colour_model(tmp_path / "bare.onnx")
    result = accuracy_cli(cli, model, tmp_path / "out", "--labels", str(labels_file))
    assert result.returncode == 0, result.stderr
    record = record_of(tmp_path / "out", model="bare")
    assert record["preprocess_source"] == "default" and record["preprocess"]["resize"] == 32  # round(28 / 0.875)
    assert "ImageNet default" in result.stderr


# ---- bad input: one line, exit 2 -------------------------------------------------------------

def bad(result, *words):
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert "Traceback" not in result.stderr and "error" in lines[-1], result.stderr
    for word in words:
        assert word in lines[-1], lines[-1]


def test_empty_image_is_named(cli, models, class_folders, tmp_path):
    (class_folders / "c3" / "broken.png").write_bytes(b"")
    bad(accuracy_cli(cli, models, tmp_path / "out", "--images", str(class_folders)), "broken.png", "empty")


def test_unreadable_image_is_named(cli, models, class_folders, tmp_path):
    (class_folders / "c3" / "garbage.jpg").write_bytes(b"this is not a jpeg")
    result = accuracy_cli(cli, models, tmp_path / "out", "--images", str(class_folders))
    bad(result, "garbage.jpg", "not an image file Pillow can identify")
    assert "BytesIO" not in result.stderr  # Pillow names the stream it was given, not the file


def test_a_truncated_image_is_named(cli, models, class_folders, tmp_path):
    grey_image(class_folders / "c3" / "whole.jpg", 3, size=(64, 64))
    data = (class_folders / "c3" / "whole.jpg").read_bytes()
    (class_folders / "c3" / "whole.jpg").write_bytes(data[:len(data) // 2])
    result = accuracy_cli(cli, models, tmp_path / "out", "--images", str(class_folders))
    bad(result, "whole.jpg")
    assert "BytesIO" not in result.stderr


def test_folder_without_class_folders(cli, models, tmp_path):
    flat = tmp_path / "flat"
    flat.mkdir()
    grey_image(flat / "a.png", 1)
    bad(accuracy_cli(cli, models, tmp_path / "out", "--images", str(flat)), "no class folders")


def test_class_folder_without_images(cli, models, class_folders, tmp_path):
    (class_folders / "c99").mkdir()
    bad(accuracy_cli(cli, models, tmp_path / "out", "--images", str(class_folders)), "c99", "no images")


def test_label_outside_the_models_classes(cli, models, labels_file, tmp_path):
    with open(str(labels_file), "a") as f:
        f.write("imgs/n 00.png 10\n")
    bad(accuracy_cli(cli, models, tmp_path / "out", "--labels", str(labels_file)), "label 10", "10 classes")


def test_more_class_folders_than_model_classes(cli, models, class_folders, tmp_path):
    (class_folders / "d_extra").mkdir()
    grey_image(class_folders / "d_extra" / "x.png", 1)
    bad(accuracy_cli(cli, models, tmp_path / "out", "--images", str(class_folders)), "label 10")


@pytest.mark.parametrize("line,words", [("imgs/lonely.png", ["line 3", "integer label"]),
                                        ("imgs/n 00.png cat", ["line 3", "'cat'"]),
                                        ("imgs/n 00.png -1", ["line 3", "negative"])])
def test_malformed_label_line_names_its_number(cli, models, labels_file, tmp_path, line, words):
    text = labels_file.read_text().splitlines()
    text.insert(2, line)
    labels_file.write_text("\n".join(text) + "\n")
    bad(accuracy_cli(cli, models, tmp_path / "out", "--labels", str(labels_file)), *words)


def test_model_with_one_channel_is_refused(cli, labels_file, tmp_path):
    model = colour_model(tmp_path / "mono.onnx", channels=1)
    bad(accuracy_cli(cli, model, tmp_path / "out", "--labels", str(labels_file)), "1 colour channels")


def test_input_size_other_than_the_recorded_crop_is_refused(cli, models, labels_file, tmp_path):
    colour_model(models / "grey.onnx", size=32)  # sha256 check would refuse it: rewrite the manifest too
    manifest = yaml.safe_load((models / "manifest.yaml").read_text())
    manifest["models"][0]["sha256"] = sha256(models / "grey.onnx")
    (models / "manifest.yaml").write_text(yaml.safe_dump(manifest))
    bad(accuracy_cli(cli, models, tmp_path / "out", "--labels", str(labels_file)), "height 32", "28x28")


def test_dynamic_image_size_without_preprocess_is_refused(cli, labels_file, tmp_path):
    model = colour_model(tmp_path / "dynamic.onnx", size="side")
    # with onnx installed the model selection refuses it first (its static costs need a fixed size)
    bad(accuracy_cli(cli, model, tmp_path / "out", "--labels", str(labels_file)), "dynamic")


def test_missing_pillow_names_the_install_line(monkeypatch, tmp_path):
    from edgeprof.agent.accuracy import preprocess
    from edgeprof.errors import MissingDependency
    grey_image(tmp_path / "a.png", 1)
    monkeypatch.setitem(sys.modules, "PIL", None)
    monkeypatch.setitem(sys.modules, "PIL.Image", None)
    with pytest.raises(MissingDependency, match=r"pip install 'edgeprof\[accuracy\]'"):
        preprocess.load_image(str(tmp_path / "a.png"), PREPROCESS)


def test_limit_below_one_is_refused(cli, models, labels_file, tmp_path):
    result = accuracy_cli(cli, models, tmp_path / "out", "--labels", str(labels_file), "--limit", "0")
    assert result.returncode == 2 and "--limit" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()
