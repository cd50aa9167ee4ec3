"""edgeprof's preprocessing (Pillow + numpy) gives what torchvision's evaluation transform gives."""
import numpy as np
import pytest

from edgeprof.agent.accuracy.preprocess import default_preprocess, load_image

Image = pytest.importorskip("PIL.Image", reason="Pillow is not installed")
torchvision = pytest.importorskip("torchvision", reason="torchvision is not installed")
from torchvision import transforms as T  # noqa: E402

# (width, height) of the generated images: landscape, portrait, square, smaller than the crop, odd
# margins (the centre crop's rounding) and a long strip.
SIZES = [(500, 375), (375, 500), (256, 256), (100, 80), (301, 300), (640, 427), (200, 1000)]
MEAN, STD = (0.5, 0.4, 0.3), (0.2, 0.25, 0.3)


def _torchvision(path, resize, crop, interpolation):
    transform = T.Compose([T.Resize(resize, interpolation=getattr(T.InterpolationMode, interpolation.upper())),
                           T.CenterCrop(crop), T.ToTensor(), T.Normalize(MEAN, STD)])
    with open(path, "rb") as f:
        return transform(Image.open(f).convert("RGB")).numpy()


def write_images(folder, sizes, seed, ext="png"):
    """Images of smooth gradients plus noise (resampling filters differ on both), one per (width, height)."""
    rng = np.random.RandomState(seed)
    paths = []
    for index, (width, height) in enumerate(sizes):
        y, x = np.mgrid[0:height, 0:width]
        base = np.stack([x * 255.0 / width, y * 255.0 / height, 128 + 100 * np.sin((x + 2 * y) / 17.0)], axis=2)
        pixels = np.clip(base + rng.normal(0, 20, base.shape), 0, 255).astype(np.uint8)
        path = str(folder / ("img%d.%s" % (index, ext)))
        Image.fromarray(pixels).save(path)
        paths.append(path)
    return paths


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    folder = tmp_path_factory.mktemp("images")
    paths = write_images(folder, SIZES, seed=0)
    gray = str(folder / "gray.jpg")  # a one-channel JPEG: converted to RGB as torchvision's loader does
    Image.fromarray(np.random.RandomState(1).randint(0, 256, (90, 120)).astype(np.uint8), mode="L").save(gray)
    return paths + [gray]


@pytest.mark.parametrize("resize,crop,interpolation", [
    (256, 224, "bilinear"),       # the ImageNet evaluation of most torchvision weights
    (342, 299, "bicubic"),        # Inception v3's size, with bicubic
    (232, (224, 192), "bilinear"),  # a crop that is not square
    (200, 224, "bilinear"),       # a crop larger than the resized image: zero padding
])
def test_matches_torchvision_eval_transform(images, resize, crop, interpolation):
    crop_hw = list(crop) if isinstance(crop, tuple) else [crop, crop]
    spec = {"resize": resize, "crop": crop_hw, "mean": list(MEAN), "std": list(STD), "color": "RGB",
            "interpolation": interpolation, "scale": 255}
    for path in images:
        expected = _torchvision(path, resize, crop, interpolation)
        got = load_image(path, spec)
        assert got.dtype == np.float32 and got.shape == expected.shape == (3, crop_hw[0], crop_hw[1])
        # both resample with Pillow itself and compute in float32: equal up to float rounding
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6, err_msg=path)


def test_default_preprocess_is_torchvision_imagenet_evaluation(images):
    spec = default_preprocess(224, 224)
    assert spec["resize"] == 256 and spec["crop"] == [224, 224]
    transform = T.Compose([T.Resize(256), T.CenterCrop(224), T.ToTensor(),
                           T.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))])
    with open(images[0], "rb") as f:
        expected = transform(Image.open(f).convert("RGB")).numpy()
    np.testing.assert_allclose(load_image(images[0], spec), expected, rtol=0, atol=1e-6)
