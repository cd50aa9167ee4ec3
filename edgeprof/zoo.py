"""The model zoo: the paper's 14 ImageNet classifiers, any torchvision classifier, published accuracy.

The paper (Canziani, Paszke, Culurciello 2016) compares 14 models. Ten come from torchvision;
four (BN-AlexNet, BN-NIN, ENet, Inception-v4) are defined in :mod:`edgeprof.zoo_models` from their
architecture descriptions. Any other torchvision classification model can be exported by its
torchvision name. Published accuracy comes from torchvision's weight metadata, or for the four
project-defined models from the paper's Fig. 2 (``edgeprof/data/paper_fig2.csv``).

torch and torchvision are imported inside the functions that need them; the table and the paper's
figures can be read without them.
"""
import collections
import csv
import os

from edgeprof.errors import UsageError

PAPER_CSV = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "paper_fig2.csv")
PAPER_SOURCE = ("paper Fig. 2 (Canziani et al. 2016, arXiv:1605.07678), decoded from its SVG; "
                "top-5 not given")

# name: edgeprof's name; display: the paper's name (as in paper_fig2.csv); family: for figure
# colours; input_size: square input side in pixels; builder: "torchvision" or a class of
# edgeprof.zoo_models.
ZooModel = collections.namedtuple("ZooModel", "name display family input_size builder")

PAPER_MODELS = (
    ZooModel("alexnet", "AlexNet", "AlexNet", 224, "torchvision"),
    ZooModel("bn_alexnet", "BN-AlexNet", "AlexNet", 224, "BNAlexNet"),
    ZooModel("bn_nin", "BN-NIN", "NIN", 224, "BNNIN"),
    ZooModel("enet", "ENet", "ENet", 224, "ENetClassifier"),
    ZooModel("googlenet", "GoogLeNet", "GoogLeNet", 224, "torchvision"),
    ZooModel("resnet18", "ResNet-18", "ResNet", 224, "torchvision"),
    ZooModel("resnet34", "ResNet-34", "ResNet", 224, "torchvision"),
    ZooModel("resnet50", "ResNet-50", "ResNet", 224, "torchvision"),
    ZooModel("resnet101", "ResNet-101", "ResNet", 224, "torchvision"),
    ZooModel("resnet152", "ResNet-152", "ResNet", 224, "torchvision"),
    ZooModel("vgg16", "VGG-16", "VGG", 224, "torchvision"),
    ZooModel("vgg19", "VGG-19", "VGG", 224, "torchvision"),
    ZooModel("inception_v3", "Inception-v3", "Inception", 299, "torchvision"),
    ZooModel("inception_v4", "Inception-v4", "Inception", 299, "InceptionV4"),
)

# Longest matching prefix of a torchvision name -> family, for models outside the paper's zoo.
_FAMILY_PREFIXES = (
    ("alexnet", "AlexNet"), ("convnext", "ConvNeXt"), ("densenet", "DenseNet"),
    ("efficientnet", "EfficientNet"), ("googlenet", "GoogLeNet"), ("inception", "Inception"),
    ("maxvit", "MaxViT"), ("mnasnet", "MNASNet"), ("mobilenet", "MobileNet"), ("regnet", "RegNet"),
    ("resnet", "ResNet"), ("resnext", "ResNeXt"), ("shufflenet", "ShuffleNet"),
    ("squeezenet", "SqueezeNet"), ("swin", "Swin"), ("vgg", "VGG"), ("vit", "ViT"),
    ("wide_resnet", "WideResNet"),
)
# torchvision builds these with auxiliary heads unless told not to; edgeprof exports without them.
_AUX_HEAD_MODELS = ("googlenet", "inception_v3")


def paper_model(name):
    """The paper's zoo entry called ``name``, or ``None``."""
    for model in PAPER_MODELS:
        if model.name == name:
            return model
    return None


def paper_figures():
    """The paper's Fig. 2/Fig. 10 values per model, read from ``edgeprof/data/paper_fig2.csv``.

    Returns:
        dict display name -> {"top1_pct", "g_ops", "params_m"} (floats).
    """
    with open(PAPER_CSV, "r") as f:
        rows = csv.DictReader(line for line in f if not line.startswith("#"))
        return {row["model"]: {"top1_pct": float(row["top1_pct"]), "g_ops": float(row["G_Ops"]),
                               "params_m": float(row["params_M"])} for row in rows}


def torchvision_names():
    """The names of torchvision's classification models (imports torchvision)."""
    from torchvision import models
    return sorted(models.list_models(module=models))


def family_of(name):
    """The family of a torchvision model name, for figure colours (``Other`` when unknown)."""
    for prefix, family in sorted(_FAMILY_PREFIXES, key=lambda item: -len(item[0])):
        if name.startswith(prefix):
            return family
    return "Other"


def resolve(zoo=None, names=()):
    """The models to export for ``--zoo`` and ``--models``, in order, without repeats.

    Args:
        zoo: ``"paper"`` or ``None``.
        names: edgeprof names of the paper's zoo or torchvision classification model names.

    Returns:
        list of :class:`ZooModel`.
    """
    chosen = list(PAPER_MODELS) if zoo == "paper" else []
    unknown = []
    known_torchvision = None
    for name in names:
        model = paper_model(name)
        if model is None:
            if known_torchvision is None:
                known_torchvision = set(torchvision_names())
            if name not in known_torchvision:
                unknown.append(name)
                continue
            model = ZooModel(name, name, family_of(name), _torchvision_input_size(name), "torchvision")
        if model not in chosen:
            chosen.append(model)
    if unknown:
        raise UsageError("--models: unknown model %s; use a name of the paper's zoo (%s) or a "
                         "torchvision classification model (torchvision.models.list_models())"
                         % (", ".join(unknown), ", ".join(m.name for m in PAPER_MODELS)))
    return chosen


def _weights_enum(name):
    from torchvision import models
    return models.get_model_weights(name).DEFAULT


def _torchvision_input_size(name):
    """The crop size of the model's published weights' preprocessing (224 for most)."""
    return int(_weights_enum(name).transforms().crop_size[0])


def build(model, weights):
    """Build the model as a torch module in eval mode (imports torch).

    Args:
        model: a :class:`ZooModel`.
        weights: ``"none"`` for random weights (call ``torch.manual_seed`` first for repeatable
            ones), ``"default"`` for the published ones (torchvision downloads them).

    Returns:
        torch.nn.Module in eval mode, without auxiliary heads.
    """
    if model.builder != "torchvision":
        if weights != "none":
            raise UsageError("%s is defined by edgeprof from its paper and has no published weights; "
                             "export it with --weights none" % model.name)
        from edgeprof import zoo_models
        return getattr(zoo_models, model.builder)().eval()
    from torchvision import models
    if weights == "default":
        # torchvision refuses aux_logits=False with weights; it loads the aux heads' weights, then
        # drops them for GoogLeNet but keeps Inception-v3's (3.3 M parameters the graph lacks).
        module = models.get_model(model.name, weights=_weights_enum(model.name))
        if model.name == "inception_v3":
            module.aux_logits, module.AuxLogits = False, None
        return module.eval()
    kwargs = {}
    if model.name in _AUX_HEAD_MODELS:
        kwargs = {"aux_logits": False, "init_weights": False}
    return models.get_model(model.name, weights=None, **kwargs).eval()


def published_accuracy(model):
    """Published ImageNet-1K accuracy of a model and where it comes from.

    Returns:
        dict with ``top1``, ``top5`` (percent or ``None``), ``accuracy_source``, and for the paper's
        models ``paper`` (its Fig. 2 values: ``top1_pct``, ``g_ops``, ``params_m``); for torchvision
        models also ``torchvision_num_params`` (which counts the auxiliary heads of GoogLeNet and
        Inception-v3).
    """
    figures = paper_figures()
    result = {}
    if model.builder == "torchvision":
        enum = _weights_enum(model.name)
        metrics = enum.meta["_metrics"]["ImageNet-1K"]
        result.update(top1=metrics["acc@1"], top5=metrics["acc@5"],
                      accuracy_source="torchvision %s (weights.meta)" % enum,
                      torchvision_num_params=enum.meta["num_params"])
    elif model.display in figures:
        result.update(top1=figures[model.display]["top1_pct"], top5=None, accuracy_source=PAPER_SOURCE)
    if paper_model(model.name) is not None and model.display in figures:
        result["paper"] = dict(figures[model.display])
    return result
