"""The model zoo: the paper's 14 models, torchvision names, published accuracy, project-defined models.

Builds models with random weights only; nothing is downloaded.
"""
import pytest
import torch

from edgeprof.workstation import zoo
from edgeprof.errors import UsageError


def test_the_paper_zoo_has_the_14_models_of_the_papers_figure():
    assert len(zoo.PAPER_MODELS) == 14
    assert set(m.display for m in zoo.PAPER_MODELS) == set(zoo.paper_figures())


def test_inception_models_take_299_pixels_and_the_others_224():
    sizes = dict((m.name, m.input_size) for m in zoo.PAPER_MODELS)
    assert sizes.pop("inception_v3") == 299 and sizes.pop("inception_v4") == 299
    assert set(sizes.values()) == {224}


def test_paper_figures_are_read_from_the_packaged_csv():
    figures = zoo.paper_figures()
    assert figures["BN-NIN"] == {"top1_pct": 62.62, "g_ops": 2.52, "params_m": 8.64}
    assert zoo.PAPER_CSV.endswith("edgeprof/data/paper_fig2.csv")


def test_resolve_paper_gives_the_whole_zoo_in_order():
    assert zoo.resolve("paper") == list(zoo.PAPER_MODELS)


def test_resolve_accepts_any_torchvision_classifier_with_its_crop_size():
    mobilenet, efficientnet = zoo.resolve(None, ["mobilenet_v2", "efficientnet_b3"])
    assert (mobilenet.family, mobilenet.input_size, mobilenet.builder) == ("MobileNet", 224, "torchvision")
    assert efficientnet.input_size == 300


def test_resolve_drops_repeats():
    assert [m.name for m in zoo.resolve("paper", ["resnet18"])] == [m.name for m in zoo.PAPER_MODELS]


def test_resolve_names_the_unknown_models_and_the_flag():
    with pytest.raises(UsageError, match="--models: unknown model resnet19, fasterrcnn_resnet50_fpn"):
        zoo.resolve(None, ["resnet18", "resnet19", "fasterrcnn_resnet50_fpn"])


def test_family_uses_the_longest_matching_prefix():
    assert zoo.family_of("wide_resnet50_2") == "WideResNet"
    assert zoo.family_of("resnext50_32x4d") == "ResNeXt"
    assert zoo.family_of("something_new") == "Other"


def test_torchvision_accuracy_comes_from_the_weights_metadata():
    accuracy = zoo.published_accuracy(zoo.paper_model("resnet18"))
    assert (accuracy["top1"], accuracy["top5"]) == (69.758, 89.078)
    assert accuracy["accuracy_source"] == "torchvision ResNet18_Weights.IMAGENET1K_V1 (weights.meta)"
    assert accuracy["paper"]["top1_pct"] == 69.57


def test_project_defined_models_take_top1_from_the_paper_and_no_top5():
    accuracy = zoo.published_accuracy(zoo.paper_model("inception_v4"))
    assert (accuracy["top1"], accuracy["top5"]) == (80.10, None)
    assert accuracy["accuracy_source"].startswith("paper Fig. 2")


def test_torchvision_num_params_counts_the_aux_heads_the_export_leaves_out():
    model = zoo.paper_model("inception_v3")
    module = zoo.build(model, "none")
    own = sum(p.numel() for p in module.parameters())
    assert own == 23834568
    assert zoo.published_accuracy(model)["torchvision_num_params"] == 27161264


def test_googlenet_is_built_without_aux_heads():
    module = zoo.build(zoo.paper_model("googlenet"), "none")
    assert module.aux1 is None and module.aux2 is None


@pytest.mark.parametrize("name, params", [("inception_v3", 23834568), ("googlenet", 6624904)])
def test_published_weights_are_loaded_without_aux_heads(monkeypatch, name, params):
    from torchvision import models
    from torchvision.models import _api

    def random_state_dict(weights, *args, **kwargs):  # what the download would hold: aux heads too
        return models.get_model(name, weights=None, aux_logits=True, init_weights=False).state_dict()
    monkeypatch.setattr(_api.WeightsEnum, "get_state_dict", random_state_dict)
    module = zoo.build(zoo.paper_model(name), "default")
    assert sum(p.numel() for p in module.parameters()) == params


def test_project_defined_models_have_no_published_weights():
    with pytest.raises(UsageError, match="bn_alexnet is defined by edgeprof .* --weights none"):
        zoo.build(zoo.paper_model("bn_alexnet"), "default")


@pytest.mark.parametrize("name, params", [
    ("bn_alexnet", 61119528),   # torchvision AlexNet's 61,100,840 + 18,688 BatchNorm parameters
    ("bn_nin", 8655336),        # the paper's Fig. 2: 8.64 M
    ("enet", 466519),
    ("inception_v4", 42679816),  # as the common Inception-v4 implementations
])
def test_project_defined_models_have_their_parameter_count_and_give_1000_logits(name, params):
    model = zoo.paper_model(name)
    module = zoo.build(model, "none")
    assert sum(p.numel() for p in module.parameters()) == params
    with torch.no_grad():
        logits = module(torch.zeros(1, 3, model.input_size, model.input_size))
    assert tuple(logits.shape) == (1, 1000)
