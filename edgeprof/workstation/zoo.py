"""The model zoo: the paper's 14 ImageNet classifiers, any torchvision classifier, published accuracy.

The paper (Canziani, Paszke, Culurciello 2016) compares 14 models. Ten come from torchvision;
four (BN-AlexNet, BN-NIN, ENet, Inception-v4) are defined in :mod:`edgeprof.workstation.zoo_torch` from their
architecture descriptions. Any other torchvision classification model can be exported by its
torchvision name. Published accuracy comes from torchvision's weight metadata, or for the four
project-defined models from the paper's Fig. 2 (``edgeprof/data/paper_fig2.csv``, read by :mod:`edgeprof.records.paper`).

torch and torchvision are imported inside the functions that need them; the table and the paper's
figures can be read without them.
"""
from edgeprof.errors import UsageError
from edgeprof.records.paper import PAPER_CSV, PAPER_MODELS, PAPER_SOURCE, ZooModel, paper_figures, paper_model
from edgeprof.util import family_of as _family_of

__all__ = ["PAPER_CSV", "PAPER_MODELS", "PAPER_SOURCE", "ZooModel", "build", "family_of", "paper_figures",
           "paper_model", "published_accuracy", "resolve", "torchvision_names"]


def family_of(name):
    """The family of a torchvision model name, for figure colours (``Other`` when unknown)."""
    return _family_of(name, unknown="Other")


# torchvision builds these with auxiliary heads unless told not to; edgeprof exports without them.
_AUX_HEAD_MODELS = ("googlenet", "inception_v3")


def torchvision_names():
    """The names of torchvision's classification models (imports torchvision)."""
    from torchvision import models
    return sorted(models.list_models(module=models))


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
        from edgeprof.workstation import zoo_torch
        return getattr(zoo_torch, model.builder)().eval()
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
