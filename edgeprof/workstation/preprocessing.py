"""The evaluation preprocessing each exported model expects, recorded in its manifest entry.

``edgeprof accuracy`` and int8 calibration feed images exactly as the published accuracy was
measured, so the manifest keeps how: resize the shorter side to ``resize``, centre-crop to ``crop``
(height, width), scale pixels by 1/``scale``, subtract ``mean`` and divide by ``std`` per RGB
channel, channels first. The functions that apply it are in :mod:`edgeprof.agent.accuracy.preprocess`.

Sources, in order: the torchvision weights' own ``transforms()`` (``ImageClassification`` in
torchvision v0.29.1 ``transforms/_presets.py`` keeps ``resize_size``, ``crop_size``, ``mean``,
``std`` and ``interpolation``), which for Inception-v3 is 342 -> 299 and for the 2021 ResNet-50
recipe 232 -> 224; for the models edgeprof defines, the standard ImageNet evaluation (resize to
crop / 0.875, torchvision's ImageNet mean and std, bilinear); for a user's ``--onnx`` file the same
standard derived from its input size, marked ``source: default`` so a reader knows it was not given.

torchvision is imported inside :func:`for_zoo`, for torchvision models only.
"""

from edgeprof.records.manifest import standard_preprocess

STANDARD_SOURCE = "ImageNet evaluation standard (resize crop/0.875, torchvision's ImageNet mean/std)"
DEFAULT_SOURCE = "default"


def standard(height, width, source=STANDARD_SOURCE):
    """The standard ImageNet evaluation for an input of ``height`` x ``width`` pixels, with its ``source``."""
    return dict(standard_preprocess(height, width), source=source)


def for_zoo(model):
    """The preprocessing of a zoo model (:class:`edgeprof.workstation.zoo.ZooModel`)."""
    if model.builder != "torchvision":
        return standard(model.input_size, model.input_size)
    from torchvision import models
    weights = models.get_model_weights(model.name).DEFAULT
    preset = weights.transforms()
    crop = list(preset.crop_size)
    crop = crop * 2 if len(crop) == 1 else crop
    return {"resize": int(preset.resize_size[0]), "crop": [int(c) for c in crop],
            "mean": [float(v) for v in preset.mean], "std": [float(v) for v in preset.std], "color": "RGB",
            "interpolation": str(getattr(preset.interpolation, "value", preset.interpolation)).lower(),
            "scale": 255, "source": "torchvision %s transforms()" % weights}


def for_user_model(input_shape):
    """The standard preprocessing for a user's model whose input is ``[3, H, W]`` (``source: default``)."""
    return standard(input_shape[-2], input_shape[-1], source=DEFAULT_SOURCE)
