"""``edgeprof export`` then ``edgeprof accuracy``: the manifest's preprocessing is the torchvision weights' own.

Real torchvision architectures with random weights (nothing downloaded): regnet_y_400mf (its weights
resize to 232, not the default 256) and efficientnet_b0 (bicubic). The expected answers are the
model's own predictions on images put through the weights' ``transforms()`` by torchvision itself:
each image is labelled with the model's first choice or, for every third image, its second, so
top-1 is exactly the share of first choices and top-5 100% only if edgeprof feeds the model what
torchvision would.
"""
import json
import os

import numpy as np
import pytest

Image = pytest.importorskip("PIL.Image")
ort = pytest.importorskip("onnxruntime")
torchvision = pytest.importorskip("torchvision")

from edgeprof.agent.accuracy.preprocess import load_image  # noqa: E402
from edgeprof.cli import main  # noqa: E402
from edgeprof.records import manifest  # noqa: E402
from test_accuracy_preprocess import write_images  # noqa: E402

MODELS = ("regnet_y_400mf", "efficientnet_b0")
SIZES = [(500, 375), (375, 500), (320, 320), (640, 427), (250, 300), (333, 500)]
MARGIN = 1e-3  # logits this close are a tie that float rounding may break either way: such images are left out


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("models"))
    assert main(["export", "--models", ",".join(MODELS), "--out", out]) == 0
    return out


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    return write_images(tmp_path_factory.mktemp("images"), SIZES, seed=3, ext="jpg")


def _torchvision_inputs(name, paths):
    transform = torchvision.models.get_model_weights(name).DEFAULT.transforms()
    batch = []
    for path in paths:
        with open(path, "rb") as f:
            batch.append(transform(Image.open(f).convert("RGB")).numpy())
    return batch


def _torchvision_logits(model_path, name, paths):
    batch = _torchvision_inputs(name, paths)
    session = ort.InferenceSession(model_path, providers=["CPUExecutionProvider"])
    return np.concatenate([session.run(None, {"input": image[None]})[0] for image in batch])


def _labels_file(folder, paths, logits):
    """Labels: the first choice, the second for every third image; returns (file, images kept, first choices)."""
    lines, firsts = [], 0
    for index, (path, row) in enumerate(zip(paths, logits)):
        order = np.argsort(-row)
        if row[order[0]] - row[order[1]] < MARGIN or row[order[1]] - row[order[2]] < MARGIN:
            continue
        first = index % 3 != 2
        lines.append("%s %d" % (os.path.relpath(path, str(folder)), order[0] if first else order[1]))
        firsts += first
    path = folder / "labels.txt"
    path.write_text("\n".join(lines) + "\n")
    return str(path), len(lines), firsts


@pytest.mark.parametrize("name", MODELS)
def test_the_manifest_s_preprocess_feeds_what_the_weights_transforms_make(exported, images, name):
    entry = [e for e in manifest.entries(manifest.load(os.path.join(exported, "manifest.yaml"))) if e["name"] == name][0]
    for path, expected in zip(images, _torchvision_inputs(name, images)):
        np.testing.assert_allclose(load_image(path, entry["preprocess"]), expected, rtol=0, atol=1e-6, err_msg=path)


@pytest.mark.parametrize("name", MODELS)
def test_top1_and_top5_are_those_of_torchvision_s_own_preprocessing(exported, images, tmp_path, name):
    logits = _torchvision_logits(os.path.join(exported, name + ".onnx"), name, images)
    labels, kept, firsts = _labels_file(tmp_path, images, logits)
    assert kept >= 4 and 0 < firsts < kept
    out = str(tmp_path / "profiles")
    assert main(["accuracy", "--models", exported, "--only", name, "--labels", labels, "--out", out,
                 "--board-name", "ws", "--backend", "onnxruntime", "--batch", "4"]) == 0
    with open(os.path.join(out, "ws", "%s__onnxruntime__fp32.accuracy.json" % name)) as f:
        record = json.load(f)
    assert (record["images"], record["top1_correct"], record["top5_correct"]) == (kept, firsts, kept)
    assert record["preprocess_source"] == "manifest" and record["classes"] == 1000
    expected = torchvision.models.get_model_weights(name).DEFAULT.transforms()
    assert record["preprocess"]["resize"] == expected.resize_size[0]
    assert record["preprocess"]["interpolation"] == expected.interpolation.value


def test_an_fp16_variant_agrees_with_its_fp32_file(tmp_path, images):
    models = str(tmp_path / "models")
    assert main(["export", "--models", "squeezenet1_1", "--precision", "fp32,fp16", "--out", models]) == 0
    with open(str(tmp_path / "labels.txt"), "w") as f:
        f.write("".join("%s %d\n" % (path, index) for index, path in enumerate(images)))
    out = str(tmp_path / "profiles")
    assert main(["accuracy", "--models", models, "--labels", str(tmp_path / "labels.txt"), "--out", out,
                 "--board-name", "ws", "--backend", "onnxruntime", "--precision", "fp16"]) == 0
    with open(os.path.join(out, "ws", "squeezenet1_1__onnxruntime__fp16.accuracy.json")) as f:
        agreement = json.load(f)["agreement"]
    # fp16 weights and activations move the logits a little, far less than their spread
    assert 0 < agreement["max_abs_logit_diff"] < 0.5
    assert agreement["top1_agreeing"] >= len(images) - 1
