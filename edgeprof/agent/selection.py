"""Which models a sweep runs: entries of models/manifest.yaml, or one bare ONNX file.

A backend that runs fp16 and int8 from their own ONNX files (ONNX Runtime) gets, for
``--precision fp16|int8``, the entry's variant made by ``edgeprof export --precision``: its file and
sha256 replace the fp32 ones, and ``precision``, ``made_by`` and ``calibration`` say what it is. A
backend that builds the precision itself from the fp32 file (TensorRT) keeps the fp32 file. A bare
.onnx file is run as it is.

This is agent code (Python 3.6, no torch/onnx needed): a bare ONNX file gets its static costs
from ``edgeprof.costs``, which reads the graph and infers its shapes without onnx for the ops its
rules cover; a model with other nodes needs onnx for ONNX's shape inference, and without it is
swept with those fields left empty and a note saying why.
"""
import logging
import os

from edgeprof.errors import InputFileError, MissingDependency, UsageError
from edgeprof.records.files import sha256_file

log = logging.getLogger("edgeprof")
MANIFEST_NAME = "manifest.yaml"

# Static fields a profile copies from the manifest, so that it stands on its own.
STATIC_FIELDS = ("name", "family", "file", "sha256", "input_shape", "opset", "params", "graph_params",
                 "macs", "paper_ops", "weight_bytes", "fc_params", "fc_macs", "top1", "top5",
                 "accuracy_source", "weights", "preprocess", "precision", "made_by", "calibration")
# What a variant (manifest ``variants.<precision>``) puts in place of, or next to, the fp32 fields.
VARIANT_FIELDS = ("file", "sha256", "made_by", "calibration", "weight_bytes")


def _variant(entry, precision, manifest_path):
    """The entry as its ``precision`` variant, or :class:`InputFileError` saying how to make one."""
    variant = (entry.get("variants") or {}).get(precision)
    if variant is None:
        folder = os.path.dirname(manifest_path) or "."
        how = ("--onnx FILE --name %s" % entry["name"] if entry.get("weights") == "user"
               else "--models %s" % entry["name"])
        raise InputFileError("%s: model %s has no %s file; make it on a workstation with `edgeprof export %s "
                             "--precision %s --out %s`" % (manifest_path, entry["name"], precision, how,
                                                           precision, folder))
    found = dict(entry)
    found.update((k, variant[k]) for k in VARIANT_FIELDS if variant.get(k) is not None)
    found["precision"] = precision
    return found


def _from_manifest(manifest_path, only, precision="fp32", per_precision_files=False):
    from edgeprof.records import manifest
    data = manifest.load(manifest_path)
    folder = os.path.dirname(os.path.abspath(manifest_path))
    entries = list(manifest.entries(data))
    if only:
        known = set(e["name"] for e in entries)
        unknown = [name for name in only if name not in known]
        if unknown:
            raise UsageError("--only names %s not in %s (it has: %s)"
                             % (", ".join(unknown), manifest_path, ", ".join(sorted(known))))
        entries = [e for e in entries if e["name"] in only]
    models = []
    variant_of = per_precision_files and precision != "fp32"
    for entry in entries:
        if variant_of:
            variant = _variant(entry, precision, manifest_path)
            manifest.verify_file(entry, folder, precision)
            entry = variant
        else:
            manifest.verify_file(entry, folder)
        model = dict((k, entry.get(k)) for k in STATIC_FIELDS if entry.get(k) is not None)
        model["path"] = os.path.join(folder, entry["file"])
        models.append(model)
    return models


def _from_onnx(path):
    if not os.path.isfile(path):
        raise InputFileError("no such model file: %s" % path)
    model = {"name": os.path.splitext(os.path.basename(path))[0], "file": os.path.basename(path),
             "sha256": sha256_file(path), "path": os.path.abspath(path)}
    from edgeprof import costs
    try:
        summary = costs.analyze(path).summary()
    except MissingDependency as exc:  # a node edgeprof's own shape rules do not cover, and no onnx here
        model["static_note"] = ("static costs not computed: %s; or export with `edgeprof export --onnx` on a "
                                "workstation to get them in a manifest" % exc)
        log.info("%s: %s", path, model["static_note"])
        return [model]
    except UsageError:  # a batch axis fixed above 1: the sweep sets the batch itself
        raise InputFileError("%s has a fixed batch size; edgeprof sweep needs a dynamic batch axis: "
                             "export the model again with one" % path)
    for key in ("params", "macs", "paper_ops", "weight_bytes", "opset", "input_shape", "fc_params", "fc_macs"):
        if summary.get(key) is not None:
            model[key] = summary[key]
    return [model]


def resolve(models_arg, only=None, precision="fp32", per_precision_files=False):
    """The models to sweep for ``--models`` (a folder with a manifest, a manifest file or an ONNX file).

    Every model file is checked (present, sha256 as in the manifest) before anything runs.

    Args:
        precision: the sweep's ``--precision``.
        per_precision_files: the backend runs fp16/int8 from their own files (``Backend.ONNX_PER_PRECISION``):
            take each entry's ``variants[precision]`` instead of its fp32 file.

    Returns:
        list of dicts: the static fields of each model plus ``path`` (absolute path of the ONNX file).
    """
    if os.path.isdir(models_arg):
        manifest_path = os.path.join(models_arg, MANIFEST_NAME)
        if not os.path.isfile(manifest_path):
            raise InputFileError("%s has no %s; run `edgeprof export --out %s` first, or pass an .onnx file"
                                 % (models_arg, MANIFEST_NAME, models_arg))
        return _from_manifest(manifest_path, only, precision, per_precision_files)
    if not os.path.exists(models_arg):
        raise InputFileError("no such file or folder: %s" % models_arg)
    if models_arg.endswith((".yaml", ".yml")):
        return _from_manifest(models_arg, only, precision, per_precision_files)
    if models_arg.endswith(".onnx"):
        if only:
            raise UsageError("--only selects models of a manifest; %s is a single ONNX file" % models_arg)
        return _from_onnx(models_arg)
    raise InputFileError("%s is neither a models folder, a manifest (.yaml) nor an .onnx file" % models_arg)
