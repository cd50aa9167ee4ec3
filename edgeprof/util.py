"""Small helpers every side of edgeprof uses: one-line error text, slugs, geometric means, families.

Standard library only, so the agent, the records, the workstation and the reading side can all
import it (``tests/agent/test_layout.py``).
"""
import logging
import math
import re

# Longest matching prefix of a model name -> family (figure colours, the fc_share and density
# groupings). The paper's zoo and torchvision's classifiers; other names get their stem.
FAMILY_PREFIXES = (
    ("alexnet", "AlexNet"), ("bn_alexnet", "AlexNet"), ("bn_nin", "NIN"), ("convnext", "ConvNeXt"),
    ("densenet", "DenseNet"), ("efficientnet", "EfficientNet"), ("enet", "ENet"),
    ("googlenet", "GoogLeNet"), ("inception", "Inception"), ("maxvit", "MaxViT"),
    ("mnasnet", "MNASNet"), ("mobilenet", "MobileNet"), ("regnet", "RegNet"), ("resnet", "ResNet"),
    ("resnext", "ResNeXt"), ("shufflenet", "ShuffleNet"), ("squeezenet", "SqueezeNet"),
    ("swin", "Swin"), ("vgg", "VGG"), ("vit", "ViT"), ("wide_resnet", "WideResNet"),
)
_BY_LENGTH = sorted(FAMILY_PREFIXES, key=lambda item: -len(item[0]))
_STEM = re.compile(r"[a-z_]*?[a-z]+(?=\d|_v\d|-v\d|$)")


def one_line(exc, limit=400):
    """An exception's message on one line (its type when it has none), cut at ``limit`` characters."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[:limit - 3] + "..."


def slug(text, fallback="unknown"):
    """``Jetson Nano (4GB)`` -> ``jetson-nano-4gb``: lower case, runs of other characters as one ``-``."""
    return re.sub(r"[^a-z0-9]+", "-", str(text or "").lower()).strip("-") or fallback


def geomean(values):
    """The geometric mean of the positive values (``None`` and non-positive ones left out), or ``None``."""
    values = [v for v in values if v is not None and v > 0]
    if not values:
        return None
    return math.exp(sum(math.log(v) for v in values) / len(values))


def family_of(name, unknown=None):
    """A model's family from its name: ``resnet18`` -> ``ResNet``, ``wide_resnet50_2`` -> ``WideResNet``.

    A name no prefix matches gets ``unknown`` when given, else its stem (``mynet_v2`` -> ``mynet``).
    """
    lowered = (name or "").lower()
    for prefix, family in _BY_LENGTH:
        if lowered.startswith(prefix):
            return family
    if unknown is not None:
        return unknown
    match = _STEM.match(lowered)
    return match.group(0).strip("_-") if match else lowered


def text_of(value):
    """A library's bytes-or-str value as text (C strings cut at their first NUL)."""
    if isinstance(value, bytes):
        return value.split(b"\0", 1)[0].decode("utf-8", "replace")
    return str(value)


class Closeable(object):
    """``close()`` runs the subclass's ``close_impl()`` once, best effort; ``with thing:`` closes it.

    A failure in ``close_impl`` is logged as a warning, never raised: releasing a runtime or a
    sensor must not end a sweep, nor hide the error that ended a run. Used by backend sessions,
    power sensors and power monitors.
    """

    _closed = False

    def close(self):
        """Release what this holds: once, best effort (a failure is logged, never raised)."""
        if self._closed:
            return
        self._closed = True
        try:
            self.close_impl()
        except Exception as exc:  # noqa: BLE001 - a failed release must not end the sweep or hide its error
            log = logging.getLogger("edgeprof")
            log.warning("closing %s failed: %s", self.closing_label(), one_line(exc))
            log.debug("close failed", exc_info=True)

    def close_impl(self):
        """Release what the object holds (called once by :meth:`close`)."""

    def closing_label(self):
        """What the close warning calls this object."""
        return "the %s" % type(self).__name__

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()
        return False
