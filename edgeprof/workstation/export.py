"""torch -> ONNX for the zoo, a numeric check against ONNX Runtime, and the manifest entries.

Each model is exported with input ``input`` (dynamic batch axis), output ``logits`` and opset 13
by default (TensorRT 8.x on JetPack 4.6 parses it) to ``<out>/<name>.onnx``. Before the file
replaces an older one, ONNX Runtime runs it on a random batch of :data:`CHECK_BATCH` images and its
logits are compared with the PyTorch module's; a difference above the tolerance is an error.
The manifest is saved atomically after every model, so a failure loses nothing already done.

torch, torchvision, onnx and onnxruntime are imported inside the functions that need them.
"""
import logging
import os
import re
import shutil
import time

from edgeprof.records import manifest
from edgeprof.workstation import calibration as calibration_sets
from edgeprof.workstation import precision as variants
from edgeprof.workstation import preprocessing, zoo
from edgeprof.errors import ExportError, InputFileError, UsageError
from edgeprof.records.files import sha256_file
from edgeprof.records.profile import now_iso

log = logging.getLogger("edgeprof")

DEFAULT_OPSET = 13
# The opsets torch's TorchScript-based exporter (dynamo=False) can write.
MIN_OPSET = 7
MAX_OPSET = 20
INPUT_NAME = "input"
OUTPUT_NAME = "logits"
CHECK_BATCH = 2
# fp32 ONNX Runtime vs PyTorch: the largest |difference| of the logits allowed is
# TOLERANCE_REL * max |logit| + TOLERANCE_ABS. Both runtimes round in fp32 and sum in different
# orders; deep random-weight networks amplify that: measured over the paper's zoo, ONNX Runtime
# differs from PyTorch by 5e-7 (AlexNet) to 3.5e-4 (ResNet-152, Inception-v4) of the logits'
# scale, and fp32 PyTorch itself differs from float64 by 3e-4 on ResNet-152. A wrong export (a
# missing layer, wrong padding or weights) differs by a good part of the scale. TOLERANCE_ABS only
# keeps logits that are all near 0 from failing.
TOLERANCE_REL = 1e-2
TOLERANCE_ABS = 1e-6
SEED = 0
_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def check_opset(opset):
    """Raise :class:`UsageError` unless ``opset`` is one the exporter can write."""
    if not MIN_OPSET <= opset <= MAX_OPSET:
        raise UsageError("--opset %d is not supported: use %d to %d (13, the default, is what "
                         "TensorRT 8.x on JetPack 4.6 parses)" % (opset, MIN_OPSET, MAX_OPSET))


def check_name(name):
    """Raise :class:`UsageError` unless ``name`` can be a model and file name."""
    if not _NAME_PATTERN.match(name or ""):
        raise UsageError("--name %r is not usable as a model name: use letters, digits, '_', '-' "
                         "and '.', starting with a letter or digit" % name)


def randomise_constant_init(module, calibration):
    """Replace the constant initial values of BatchNorm and PReLU layers by representative ones.

    Fresh BatchNorm layers all hold weight 1, bias 0, mean 0, var 1, and fresh PReLU slopes are all
    0.25: the exporter de-duplicates equal tensors (and folds BatchNorm into the convolution), so
    the graph would not be representative and the numeric check would not test these layers.
    BatchNorm scales become random in [0.5, 1.5] and shifts about 0.1; running statistics are
    measured on ``calibration`` (a random batch), so activations keep a sane scale through deep
    networks as in a trained one; PReLU slopes become random in [0.1, 0.4].

    Args:
        module: the model, in eval mode (it is left in eval mode).
        calibration: an input batch (torch tensor) of at least 2 images.
    """
    import torch
    generator = torch.Generator().manual_seed(SEED)
    norms = [m for m in module.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    momenta = [layer.momentum for layer in norms]
    with torch.no_grad():
        for layer in module.modules():
            if isinstance(layer, torch.nn.PReLU):
                layer.weight.copy_(0.1 + 0.3 * torch.rand(layer.weight.shape, generator=generator))
        for layer in norms:
            if layer.affine:
                layer.weight.copy_(0.5 + torch.rand(layer.num_features, generator=generator))
                layer.bias.copy_(0.1 * torch.randn(layer.num_features, generator=generator))
            layer.reset_running_stats()
            layer.momentum = None  # cumulative average: the stats of the calibration batch
        if norms:
            module.train()
            module(calibration)
    module.eval()
    for layer, momentum in zip(norms, momenta):
        layer.momentum = momentum


def count_params(module):
    """The module's own parameter count (sum of ``numel`` of its parameters)."""
    return int(sum(p.numel() for p in module.parameters()))


def to_onnx(module, example, path, opset):
    """Export ``module`` with the legacy (TorchScript) exporter: dynamic batch, input/logits."""
    import warnings

    import torch
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (example,), path, input_names=[INPUT_NAME],
                          output_names=[OUTPUT_NAME], opset_version=opset, do_constant_folding=True,
                          dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}},
                          dynamo=False)


def numeric_check(module, path, example):
    """Run the ONNX file in ONNX Runtime (CPU) and the module in PyTorch on ``example``.

    Returns:
        dict with ``max_abs_diff`` and ``tolerance`` (both in logit units), and ``batch``.

    Raises:
        ExportError: the difference is above the tolerance.
    """
    import numpy
    import onnxruntime
    import torch
    with torch.no_grad():
        expected = module(example).numpy()
    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    got = session.run([OUTPUT_NAME], {INPUT_NAME: example.numpy()})[0]
    if got.shape != expected.shape:
        raise ExportError("%s: ONNX Runtime gives logits of shape %s, PyTorch %s; the export is "
                            "wrong, try another --opset" % (path, got.shape, expected.shape))
    max_abs_diff = float(numpy.max(numpy.abs(got - expected)))
    tolerance = TOLERANCE_REL * float(numpy.max(numpy.abs(expected))) + TOLERANCE_ABS
    if not max_abs_diff <= tolerance:
        raise ExportError("%s: ONNX Runtime and PyTorch logits differ by %.3g (tolerance %.3g); "
                            "the export is wrong, try another --opset" % (path, max_abs_diff, tolerance))
    return {"max_abs_diff": max_abs_diff, "tolerance": tolerance, "batch": int(example.shape[0])}


def _static_costs(path):
    """The manifest's fields computed from the ONNX graph by :mod:`edgeprof.costs`."""
    from edgeprof.costs import analyze
    found = analyze(path, batch=1)
    return {"input_shape": list(found.input_shape), "opset": found.opset,
            "graph_params": found.params, "macs": found.macs, "paper_ops": found.paper_ops,
            "weight_bytes": found.weight_bytes, "fc_params": found.fc_params, "fc_macs": found.fc_macs}


def _definition(model, weights):
    if model.builder != "torchvision":
        return "edgeprof.workstation.zoo_torch.%s" % model.builder
    import torchvision
    return "torchvision %s models.%s (weights %s)" % (torchvision.__version__.split("+")[0],
                                                       model.name, weights)


def _remove_quietly(path):
    if os.path.exists(path):
        os.unlink(path)


def export_model(model, out_dir, weights="none", opset=DEFAULT_OPSET):
    """Export one zoo model to ``<out_dir>/<name>.onnx``, check it, and describe it.

    The file is written under a temporary name and replaces ``<name>.onnx`` only after the numeric
    check and the static analysis succeeded.

    Args:
        model: a :class:`edgeprof.workstation.zoo.ZooModel`.
        out_dir: the models folder (holds the manifest).
        weights: ``"none"`` (random, seeded) or ``"default"`` (published, downloaded by torchvision).
        opset: ONNX opset to write.

    Returns:
        The manifest entry (dict).
    """
    import torch
    started = time.time()
    torch.manual_seed(SEED)
    module = zoo.build(model, weights)
    size = model.input_size
    inputs = torch.randn(2 * CHECK_BATCH, 3, size, size, generator=torch.Generator().manual_seed(SEED))
    example = inputs[:CHECK_BATCH]
    if weights == "none":
        randomise_constant_init(module, calibration=inputs[CHECK_BATCH:])
    file_name = model.name + ".onnx"
    path = os.path.join(out_dir, file_name)
    tmp = os.path.join(out_dir, "." + file_name + ".tmp")
    try:
        to_onnx(module, example, tmp, opset)
        check = numeric_check(module, tmp, example)
        costs = _static_costs(tmp)
        os.rename(tmp, path)
    finally:
        _remove_quietly(tmp)
    entry = {"name": model.name, "display_name": model.display, "family": model.family,
             "file": file_name, "sha256": sha256_file(path),
             "file_bytes": os.path.getsize(path), "params": count_params(module)}
    entry.update(costs)
    entry.update({"top1": None, "top5": None, "accuracy_source": None})
    entry.update(zoo.published_accuracy(model))
    entry.update({"weights": weights, "definition": _definition(model, weights),
                  "preprocess": preprocessing.for_zoo(model), "numeric_check": check, "exported": now_iso(),
                  "export_seconds": round(time.time() - started, 2)})
    return entry


def is_current(entry, model, weights, opset, out_dir):
    """Whether ``entry`` already describes this model exported this way, with its file intact."""
    if entry is None or entry.get("weights") != weights or entry.get("opset") != opset:
        return False
    if entry.get("input_shape") != [3, model.input_size, model.input_size]:
        return False
    return _intact(entry, out_dir)


def _progress(entry, what):
    log.info("%-14s %-9s %6.1f s  %8.1f MB  max|diff| %s  -> %s", entry["name"], what,
             entry.get("export_seconds") or 0.0, entry["file_bytes"] / 1e6,
             "%.2g" % entry["numeric_check"]["max_abs_diff"] if entry.get("numeric_check") else "n/a",
             entry["file"])


def add_variants(data, manifest_path, entry, old, precisions, calibration=None, force=False):
    """Make the fp16/int8 variants asked for of one saved entry, then save the manifest again.

    Args:
        old: the entry before this export (its variants are kept while they match the fp32 file).
        calibration: a :class:`~edgeprof.workstation.calibration.CalibrationSet` (default: random).

    Returns:
        list of "precision: message" for the variants that failed.
    """
    calibration = calibration or calibration_sets.random_set()
    out_dir = os.path.dirname(os.path.abspath(manifest_path))
    done = variants.update_variants(entry, old, out_dir, precisions, calibration, force)
    if entry != old or any(what == "made" for _, what, _ in done):
        manifest.put(data, entry)
        manifest.save(manifest_path, data)
    return ["%s: %s" % (precision, message) for precision, what, message in done if what == "FAILED"]


def export_models(models, out_dir, weights="none", opset=DEFAULT_OPSET, force=False, precisions=("fp32",),
                  calibration=None):
    """Export several zoo models, updating ``<out_dir>/manifest.yaml`` after each one.

    A model already in the manifest with the same weights, opset and input shape, whose file is
    intact, is skipped unless ``force``; so is a variant made from that file (and, for int8, from the
    same calibration set). A model that fails is reported and the others go on.

    Args:
        precisions: ``fp32`` (always made) and the variants to make from it: ``fp16``, ``int8``.
        calibration: the int8 calibration set (default: random, with a warning).

    Returns:
        list of (name, message) for the models that failed (empty when all succeeded).
    """
    check_opset(opset)
    if not os.path.isdir(out_dir):
        os.makedirs(out_dir)
    manifest_path = os.path.join(out_dir, manifest.FILE_NAME)
    data = manifest.load_or_new(manifest_path)
    failed = []
    for model in models:
        old = manifest.find(data, model.name)
        if not force and is_current(old, model, weights, opset, out_dir):
            log.info("%-14s unchanged, not exported again (--force to redo)", model.name)
            entry = dict(old)
            entry.setdefault("preprocess", preprocessing.for_zoo(model))
        else:
            try:
                entry = export_model(model, out_dir, weights, opset)
            except Exception as exc:  # one model's failure must not lose the others
                message = " ".join(str(exc).split()) or type(exc).__name__
                log.debug("export of %s failed", model.name, exc_info=True)
                log.error("%-14s FAILED: %s", model.name, message)
                failed.append((model.name, message))
                continue
            manifest.put(data, entry)
            manifest.save(manifest_path, data)
            _progress(entry, "exported")
        bad = add_variants(data, manifest_path, entry, old, precisions, calibration, force)
        if bad:
            failed.append((model.name, "; ".join(bad)))
    return failed


def _reject_external_data(path):
    import onnx
    model = onnx.load(path, load_external_data=False)
    if any(t.data_location == onnx.TensorProto.EXTERNAL for t in model.graph.initializer):
        raise UsageError("%s keeps weights in external data files; --onnx takes a single-file model: "
                         "save it with onnx.save(model, path, save_as_external_data=False)" % path)


def _place(source, dest, link):
    """Copy (or symlink, with ``link``) ``source`` to ``dest``, atomically replacing ``dest``."""
    if os.path.exists(dest) and os.path.samefile(source, dest):
        return
    tmp = os.path.join(os.path.dirname(dest), "." + os.path.basename(dest) + ".tmp")
    _remove_quietly(tmp)
    try:
        if link:
            os.symlink(os.path.abspath(source), tmp)
        else:
            shutil.copyfile(source, tmp)
        os.rename(tmp, dest)
    finally:
        if os.path.lexists(tmp):
            os.unlink(tmp)


def add_onnx(source, name, out_dir, family="custom", link=False, top1=None, top5=None, force=False,
             precisions=("fp32",), calibration=None):
    """Bring a user's ONNX file into the models folder and the manifest, with its static costs.

    Args:
        source: the .onnx file (single file, weights inside it).
        name: the model's name in the manifest (the file becomes ``<out_dir>/<name>.onnx``).
        link: symlink the file instead of copying it.
        top1, top5: the model's accuracy in percent, when the user knows it.
        precisions, calibration: the variants to make, as for :func:`export_models`.

    Returns:
        The manifest entry (dict).
    """
    check_name(name)
    if not os.path.isfile(source):
        raise InputFileError("--onnx %s: no such file" % source)
    started = time.time()
    try:
        costs = _static_costs(source)
    except UsageError:  # analysis's only one: a batch fixed at a size other than 1 (it names --batch)
        raise UsageError("--onnx %s has a fixed batch size other than 1, and a sweep runs several; "
                         "export it with a dynamic batch axis" % source)
    _reject_external_data(source)
    if not os.path.isdir(out_dir):
        os.makedirs(out_dir)
    manifest_path = os.path.join(out_dir, manifest.FILE_NAME)
    data = manifest.load_or_new(manifest_path)
    digest = sha256_file(source)
    old = manifest.find(data, name)
    if not force and old is not None and old.get("sha256") == digest and _intact(old, out_dir):
        log.info("%-14s unchanged, not added again (--force to redo)", name)
        entry = dict(old)
        entry.setdefault("preprocess", preprocessing.for_user_model(old["input_shape"]))
        return _user_variants(data, manifest_path, entry, old, precisions, calibration, force)
    file_name = name + ".onnx"
    _place(source, os.path.join(out_dir, file_name), link)
    entry = {"name": name, "display_name": name, "family": family, "file": file_name,
             "sha256": digest, "file_bytes": os.path.getsize(source), "params": costs["graph_params"]}
    entry.update(costs)
    given = top1 is not None or top5 is not None
    entry.update({"top1": top1, "top5": top5,
                  "accuracy_source": "given by the user (--top1/--top5)" if given else None,
                  "weights": "user", "definition": "user file %s" % os.path.abspath(source),
                  "preprocess": preprocessing.for_user_model(costs["input_shape"]), "numeric_check": None, "exported": now_iso(),
                  "export_seconds": round(time.time() - started, 2)})
    manifest.put(data, entry)
    manifest.save(manifest_path, data)
    _progress(entry, "added")
    return _user_variants(data, manifest_path, entry, old, precisions, calibration, force)


def _intact(entry, out_dir):
    try:
        manifest.verify_file(entry, out_dir)
    except InputFileError:
        return False
    return True


def _user_variants(data, manifest_path, entry, old, precisions, calibration, force):
    failed = add_variants(data, manifest_path, entry, old, precisions, calibration, force)
    if failed:
        raise ExportError("%s: %s; the fp32 file is in %s" % (entry["name"], "; ".join(failed), manifest_path))
    return entry
