"""The paper's zoo and its published figures, as data (read by export and by report).

Canziani, Paszke, Culurciello 2016 (arXiv:1605.07678) compare 14 ImageNet classifiers. Their
top-1 accuracy, G-Ops and parameters, as plotted in the paper's Fig. 2 and Fig. 10, are in
``edgeprof/data/paper_fig2.csv``; the models and how edgeprof builds them are in
:data:`PAPER_MODELS`. Standard library only.
"""
import collections
import csv
import os

PAPER_CSV = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "paper_fig2.csv")
PAPER_SOURCE = ("paper Fig. 2 (Canziani et al. 2016, arXiv:1605.07678), decoded from its SVG; "
                "top-5 not given")

# name: edgeprof's name; display: the paper's name (as in paper_fig2.csv); family: for figure
# colours; input_size: square input side in pixels; builder: "torchvision" or a class of
# edgeprof.workstation.zoo_torch.
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


def paper_model(name):
    """The paper's zoo entry called ``name``, or ``None``."""
    for model in PAPER_MODELS:
        if model.name == name:
            return model
    return None


def rows():
    """The rows of ``paper_fig2.csv`` as dicts of strings (its ``#`` comment lines left out)."""
    with open(PAPER_CSV, "r") as f:
        return list(csv.DictReader([line for line in f if not line.startswith("#")]))


def paper_figures():
    """The paper's Fig. 2/Fig. 10 values per model.

    Returns:
        dict display name -> {"top1_pct", "g_ops", "params_m"} (floats).
    """
    return {row["model"]: {"top1_pct": float(row["top1_pct"]), "g_ops": float(row["G_Ops"]),
                           "params_m": float(row["params_M"])} for row in rows()}
