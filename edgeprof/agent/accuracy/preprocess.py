"""A model's evaluation preprocessing with Pillow and numpy, as torchvision's does it (no torch).

The steps are those of torchvision's ``ImageClassification`` preset, which the published top-1 of
the zoo's weights was measured with (torchvision v0.29.1, ``torchvision/transforms/_presets.py``,
``ImageClassification.forward``): load as RGB (``datasets/folder.py``, ``pil_loader``), resize the
shorter side to ``resize`` with Pillow (``transforms/functional.py``, ``resize`` and
``_compute_resized_output_size``: the longer side is ``int(resize * long / short)``, and an image
already at that size is left alone; on PIL images torchvision always calls ``Image.resize``, so its
antialiasing is Pillow's own), centre-crop to ``crop`` (``center_crop``: zero padding when the image
is smaller, then ``top = int(round((H - h) / 2.0))``), scale to [0, 1] by dividing by 255 in float32
(``convert_image_dtype``), and normalise ``(x - mean) / std``.

A preprocessing is a mapping, as the manifest records it at export::

    {resize: 256, crop: [224, 224], mean: [3 floats], std: [3 floats], color: RGB,
     interpolation: bilinear, scale: 255}
"""
import io
import re

import numpy as np

from edgeprof.errors import InputFileError, UsageError, require
# torchvision's ImageNet evaluation (resize crop / 0.875, mean/std), as the export records it
from edgeprof.records.manifest import CROP_FRACTION, IMAGENET_MEAN, IMAGENET_STD
from edgeprof.records.manifest import standard_preprocess as default_preprocess

# interpolation name -> Pillow's resampling constant, as torchvision maps its InterpolationMode
# (torchvision v0.29.1, transforms/functional.py, pil_modes_mapping).
PIL_FILTERS = {"nearest": 0, "lanczos": 1, "bilinear": 2, "bicubic": 3, "box": 4, "hamming": 5}
COLORS = ("RGB", "BGR")
INSTALL = "pip install 'edgeprof[accuracy]'"
_STREAM = re.compile(r"<_io\.BytesIO object at 0x[0-9a-fA-F]+>")


def import_pil():
    """Pillow's ``Image`` module, or :class:`MissingDependency` with the install line."""
    return require("PIL.Image", "edgeprof accuracy (reading images)", INSTALL)


def _size(value, what, count):
    """An int or a list of ``count`` ints (an int stands for all of them), each >= 1."""
    values = [value] if isinstance(value, (int, float)) else list(value or ())
    if len(values) == 1:
        values = values * count
    if len(values) != count or any(isinstance(v, bool) or not isinstance(v, (int, float)) or v < 1
                                   or not float(v).is_integer() for v in values):
        raise UsageError("preprocess %s must be a positive integer or a list of %d, got %r" % (what, count, value))
    return [int(v) for v in values]


def normalize(preprocess):
    """A preprocessing mapping with every field present and checked (missing ones: torchvision's defaults).

    Raises:
        UsageError: a field that preprocessing cannot use (names it).
    """
    if not isinstance(preprocess, dict) or "crop" not in preprocess:
        raise UsageError("a preprocessing needs at least 'crop', got %r" % (preprocess,))
    crop = _size(preprocess["crop"], "crop", 2)
    resize = preprocess.get("resize")
    resize = int(round(min(crop) / CROP_FRACTION)) if resize is None else _size(resize, "resize", 1)[0]
    out = {"resize": resize, "crop": crop, "color": str(preprocess.get("color") or "RGB").upper(),
           "interpolation": str(preprocess.get("interpolation") or "bilinear").lower(),
           "scale": float(preprocess.get("scale") or 255)}
    for key, default in (("mean", IMAGENET_MEAN), ("std", IMAGENET_STD)):
        values = preprocess.get(key)
        values = list(default) if values is None else list(values)
        if len(values) != 3:
            raise UsageError("preprocess %s must have 3 values (one per colour channel), got %r" % (key, values))
        out[key] = [float(v) for v in values]
    if any(v == 0 for v in out["std"]):
        raise UsageError("preprocess std has a zero: %r" % (out["std"],))
    if out["color"] not in COLORS:
        raise UsageError("preprocess color %r: edgeprof feeds RGB or BGR images" % out["color"])
    if out["interpolation"] not in PIL_FILTERS:
        raise UsageError("preprocess interpolation %r: choose one of %s"
                         % (out["interpolation"], ", ".join(sorted(PIL_FILTERS))))
    return out


def read_bytes(path, what="image"):
    """The bytes of the file ``path``; :class:`InputFileError` naming it (as ``what``) when missing,
    unreadable or empty."""
    data = None
    try:
        with open(path, "rb") as f:
            data = f.read()
    except (IOError, OSError) as exc:
        reason = exc.strerror or exc
    else:
        reason = None if data else "the file is empty"
    if reason:
        raise InputFileError("cannot read %s %s: %s" % (what, path, reason))
    return data


def _decode_rgb(Image, data, path):
    """The image in ``data`` decoded and converted to RGB, as torchvision's ``pil_loader`` does."""
    try:
        image = Image.open(io.BytesIO(data))
        image = image.convert("RGB")
    # what Pillow raises on a bad or truncated file, and on one too large to decode (DecompressionBombError)
    except (IOError, OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise InputFileError("cannot read image %s: %s" % (path, _reason(exc)))
    if image.size[0] < 1 or image.size[1] < 1:
        raise InputFileError("cannot read image %s: it has no pixels" % path)
    return image


def _reason(exc):
    """Pillow's message without the ``<_io.BytesIO object at 0x...>`` it names the stream by."""
    # PIL.UnidentifiedImageError (Pillow 7+) says "cannot identify image file <stream>"
    if type(exc).__name__ == "UnidentifiedImageError":
        return "not an image file Pillow can identify (unknown format, or not an image)"
    return _STREAM.sub("the file", str(exc)) or type(exc).__name__


def resized_size(width, height, resize):
    """(width, height) after torchvision's Resize(resize) of the shorter side."""
    short, long_side = (width, height) if width <= height else (height, width)
    new_short, new_long = resize, int(resize * long_side / short)
    return (new_short, new_long) if width <= height else (new_long, new_short)


def center_crop(array, crop_h, crop_w):
    """torchvision's CenterCrop of an HxWxC array: zero padding where it is smaller, then the centre."""
    height, width = array.shape[:2]
    if crop_h > height or crop_w > width:
        top_pad, left_pad = max(crop_h - height, 0) // 2, max(crop_w - width, 0) // 2
        padded = np.zeros((max(height, crop_h), max(width, crop_w)) + array.shape[2:], dtype=array.dtype)
        padded[top_pad:top_pad + height, left_pad:left_pad + width] = array
        array = padded
        height, width = array.shape[:2]
    top = int(round((height - crop_h) / 2.0))
    left = int(round((width - crop_w) / 2.0))
    return array[top:top + crop_h, left:left + crop_w]


def load_image(path, preprocess):
    """The image file at ``path`` as the model's input: a (3, H, W) float32 array.

    Args:
        path (str): an image file Pillow can read.
        preprocess (dict): a preprocessing mapping (see the module docstring; checked by :func:`normalize`).

    Raises:
        InputFileError: the file is empty, missing or not an image Pillow can decode (names it).
        MissingDependency: Pillow is not installed.
    """
    import_pil()  # a missing Pillow is said before anything else
    return image_from_bytes(read_bytes(path), path, preprocess)


def image_from_bytes(data, path, preprocess):
    """:func:`load_image` of a file already read (``path`` names it in errors)."""
    Image = import_pil()
    spec = normalize(preprocess)
    image = _decode_rgb(Image, data, path)
    size = resized_size(image.size[0], image.size[1], spec["resize"])
    if size != image.size:
        image = image.resize(size, PIL_FILTERS[spec["interpolation"]])
    pixels = center_crop(np.asarray(image, dtype=np.uint8), spec["crop"][0], spec["crop"][1])
    if spec["color"] == "BGR":
        pixels = pixels[:, :, ::-1]
    scaled = pixels.astype(np.float32) / np.float32(spec["scale"])
    mean = np.asarray(spec["mean"], dtype=np.float32)
    std = np.asarray(spec["std"], dtype=np.float32)
    return np.ascontiguousarray(((scaled - mean) / std).transpose(2, 0, 1), dtype=np.float32)


def for_model(input_shape, recorded, source):
    """The preprocessing to feed a model with, and where it came from (``manifest`` or ``default``).

    Args:
        input_shape (list): the model's input axes after the batch; None where an axis is dynamic.
        recorded (dict or None): the manifest entry's ``preprocess`` mapping.
        source (str): the model file, named in errors.

    Returns:
        (dict, str): the checked mapping (:func:`normalize`; a recorded ``source`` note kept) and
        ``manifest``, or ``default`` when it is the ImageNet default for the input size (no mapping
        recorded, or one the export itself marked ``source: default``).

    Raises:
        InputFileError: an input size that preprocessing cannot produce.
    """
    shape = list(input_shape or ())
    if len(shape) != 3:
        raise InputFileError("%s takes inputs of shape %s after the batch axis; edgeprof accuracy feeds images "
                             "as (batch, 3, height, width)" % (source, shape))
    channels, height, width = shape
    if channels != 3:
        raise InputFileError("%s takes %s colour channels; edgeprof accuracy's preprocessing makes 3-channel "
                             "(RGB) images" % (source, "a dynamic number of" if channels is None else channels))
    if recorded is None:
        if height is None or width is None:
            raise InputFileError("%s has a dynamic height/width and no recorded preprocessing, so the image size "
                                 "is unknown; export it with `edgeprof export` (the manifest records it)" % source)
        return default_preprocess(height, width), "default"
    try:
        spec = normalize(recorded)
    except UsageError as exc:
        raise InputFileError("%s: the manifest's preprocess is unusable: %s" % (source, exc))
    for axis, wanted, made in (("height", height, spec["crop"][0]), ("width", width, spec["crop"][1])):
        if wanted is not None and wanted != made:
            raise InputFileError("%s takes images of %s %d but its preprocess crops to %dx%d; fix the manifest's "
                                 "preprocess" % (source, axis, wanted, spec["crop"][0], spec["crop"][1]))
    if recorded.get("source"):
        spec["source"] = str(recorded["source"])
    return spec, "default" if recorded.get("source") == "default" else "manifest"
