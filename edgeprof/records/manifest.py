"""``models/manifest.yaml``: the exported models and their static costs; read, validate, save.

Schema ``edgeprof/manifest/v1``. ``edgeprof export`` writes it on a workstation; the sweep reads
it on the board (Python 3.6, stdlib and PyYAML only: this module must not need torch or onnx).
Each entry names one ONNX file (relative to the manifest's folder), its sha256, and what the
board cannot compute by itself: parameter and operation counts, published accuracy. The field
list is in docs/models.md. Validation names the first wrong field, like :mod:`edgeprof.records.profile`.
"""
import os

from edgeprof import __version__
from edgeprof.errors import InputFileError
from edgeprof.records.files import sha256_file, write_atomic
from edgeprof.records.profile import dump_yaml, now_iso, read_yaml
from edgeprof.records.schema import NUMBER as _NUMBER
from edgeprof.records.schema import check_fields, check_version, type_ok

SCHEMA = "edgeprof/manifest/v1"
FILE_NAME = "manifest.yaml"
WEIGHTS_KINDS = ("none", "default", "user")

TOP_FIELDS = {"schema": (str, True), "edgeprof_version": (str, True), "models": (list, True)}
# field -> (type, required). Static counts are null when unknown (e.g. analysis failed).
ENTRY_FIELDS = {
    "name": (str, True), "family": (str, False), "file": (str, True), "sha256": (str, True),
    "input_shape": (list, True), "opset": (int, False), "params": (int, False),
    "graph_params": (int, False), "macs": (int, False), "paper_ops": (int, False),
    "weight_bytes": (int, False), "fc_params": (int, False), "fc_macs": (int, False),
    "file_bytes": (int, False), "top1": (_NUMBER, False), "top5": (_NUMBER, False),
    "accuracy_source": (str, False), "weights": (str, True), "numeric_check": (dict, False),
    "exported": (str, False), "export_seconds": (_NUMBER, False), "preprocess": (dict, False),
    "variants": (dict, False),
}
# The ImageNet evaluation of torchvision: the shorter side resized to crop / 0.875 (224 -> 256, 299 -> 342),
# the centre crop, torchvision's ImageNet mean and std. A manifest entry's ``preprocess`` when the
# model's weights say nothing else; edgeprof accuracy's default for an entry without one.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CROP_FRACTION = 0.875


def standard_preprocess(height, width):
    """The standard ImageNet evaluation for an input of ``height`` x ``width`` pixels (a ``preprocess`` mapping)."""
    return {"resize": int(round(min(height, width) / CROP_FRACTION)), "crop": [int(height), int(width)],
            "mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD), "color": "RGB",
            "interpolation": "bilinear", "scale": 255}


NUMERIC_CHECK_FIELDS = {"max_abs_diff": (_NUMBER, True), "tolerance": (_NUMBER, True)}
# The evaluation preprocessing (docs/models.md): resize the shorter side, centre crop [h, w], /scale,
# (x - mean) / std per channel.
PREPROCESS_FIELDS = {
    "resize": (int, True), "crop": (list, True), "mean": (list, True), "std": (list, True),
    "color": (str, True), "interpolation": (str, True), "scale": (_NUMBER, True), "source": (str, False),
}
COLORS = ("RGB", "BGR")
INTERPOLATIONS = ("nearest", "bilinear", "bicubic", "box", "hamming", "lanczos")
# variants: precision -> a file derived from the entry's fp32 file.
VARIANT_PRECISIONS = ("fp16", "int8")
VARIANT_FIELDS = {
    "file": (str, True), "sha256": (str, True), "file_bytes": (int, False), "made_by": (str, True),
    "from_sha256": (str, False), "calibration": (dict, False), "check": (dict, False),
    "clamped_values": (int, False), "exported": (str, False), "export_seconds": (_NUMBER, False),
    "weight_bytes": (int, False),
}
CALIBRATION_FIELDS = {"dir": (str, False), "images": (int, True), "fingerprint": (str, False),
                      "random": (bool, True), "seed": (int, False)}


def _check_entry(entry, index, source, seen):
    where = "models[%d]" % index
    if not isinstance(entry, dict):
        raise InputFileError("%s: field %r must be a mapping, got %s"
                             % (source, where, type(entry).__name__))
    check_fields(entry, ENTRY_FIELDS, where, source, InputFileError)
    if entry["name"] in seen:
        raise InputFileError("%s: field '%s.name' repeats the model name %r; names must be unique"
                             % (source, where, entry["name"]))
    seen.add(entry["name"])
    if entry["weights"] not in WEIGHTS_KINDS:
        raise InputFileError("%s: field '%s.weights' must be one of %s, got %r"
                             % (source, where, ", ".join(WEIGHTS_KINDS), entry["weights"]))
    if os.path.isabs(entry["file"]):
        raise InputFileError("%s: field '%s.file' must be relative to the manifest's folder, got %r"
                             % (source, where, entry["file"]))
    if not all(type_ok(d, int) and d > 0 for d in entry["input_shape"]):
        raise InputFileError("%s: field '%s.input_shape' must list positive integers (no batch axis), "
                             "got %r" % (source, where, entry["input_shape"]))
    if entry.get("numeric_check") is not None:
        check_fields(entry["numeric_check"], NUMERIC_CHECK_FIELDS, where + ".numeric_check", source, InputFileError)
    if entry.get("preprocess") is not None:
        _check_preprocess(entry["preprocess"], where + ".preprocess", source)
    for precision, variant in sorted((entry.get("variants") or {}).items()):
        _check_variant(variant, precision, "%s.variants.%s" % (where, precision), source)


def _bad(source, name, what, value):
    return InputFileError("%s: field '%s' must be %s, got %r" % (source, name, what, value))


def _check_preprocess(pre, where, source):
    check_fields(pre, PREPROCESS_FIELDS, where, source, InputFileError)
    if pre["resize"] < 1:
        raise _bad(source, where + ".resize", "a positive integer", pre["resize"])
    if len(pre["crop"]) != 2 or not all(type_ok(v, int) and v > 0 for v in pre["crop"]):
        raise _bad(source, where + ".crop", "[height, width] in pixels", pre["crop"])
    for key in ("mean", "std"):
        if len(pre[key]) != 3 or not all(type_ok(v, _NUMBER) for v in pre[key]):
            raise _bad(source, "%s.%s" % (where, key), "3 numbers (R, G, B)", pre[key])
    if any(v == 0 for v in pre["std"]) or pre["scale"] == 0:
        raise _bad(source, where + ".std", "non-zero, with a non-zero scale", pre["std"])
    if pre["color"] not in COLORS:
        raise _bad(source, where + ".color", "one of %s" % ", ".join(COLORS), pre["color"])
    if pre["interpolation"] not in INTERPOLATIONS:
        raise _bad(source, where + ".interpolation", "one of %s" % ", ".join(INTERPOLATIONS), pre["interpolation"])


def _check_variant(variant, precision, where, source):
    if precision not in VARIANT_PRECISIONS:
        raise InputFileError("%s: field '%s' is not a variant precision (they are %s)"
                             % (source, where, ", ".join(VARIANT_PRECISIONS)))
    if not isinstance(variant, dict):
        raise _bad(source, where, "a mapping", variant)
    check_fields(variant, VARIANT_FIELDS, where, source, InputFileError)
    if os.path.isabs(variant["file"]):
        raise _bad(source, where + ".file", "relative to the manifest's folder", variant["file"])
    calibration = variant.get("calibration")
    if precision == "int8" and calibration is None:
        raise InputFileError("%s: field '%s.calibration' is missing (an int8 file says what it was calibrated on)"
                             % (source, where))
    if calibration is not None:
        check_fields(calibration, CALIBRATION_FIELDS, where + ".calibration", source, InputFileError)
        if not calibration["random"] and not (calibration.get("dir") and calibration.get("fingerprint")):
            raise InputFileError("%s: field '%s.calibration' names no dir and fingerprint but is not random"
                                 % (source, where))


def validate(data, source="<manifest>"):
    """Check a loaded manifest; raise :class:`InputFileError` naming the first wrong field.

    Returns:
        ``data``, unchanged.
    """
    if not isinstance(data, dict):
        raise InputFileError("%s: a manifest must be a YAML mapping, got %s"
                             % (source, type(data).__name__))
    check_version(data, source, SCHEMA, "manifest", InputFileError)
    check_fields(data, TOP_FIELDS, "", source, InputFileError)
    seen = set()
    for index, entry in enumerate(data["models"]):
        _check_entry(entry, index, source, seen)
    return data


def new():
    """An empty manifest of this edgeprof version."""
    return {"schema": SCHEMA, "edgeprof_version": __version__, "updated": now_iso(), "models": []}


def load(path):
    """Load and validate a manifest file."""
    return validate(read_yaml(path), source=path)


def load_or_new(path):
    """The manifest at ``path``, or an empty one when the file does not exist yet."""
    if not os.path.exists(path):
        return new()
    return load(path)


def save(path, data):
    """Validate and atomically save a manifest; stamps ``edgeprof_version`` and ``updated``."""
    data["edgeprof_version"] = __version__
    data["updated"] = now_iso()
    validate(data, source=path)
    write_atomic(path, dump_yaml(data))


def entries(data):
    """The model entries of a loaded manifest, in file order."""
    return list(data.get("models") or [])


def find(data, name):
    """The entry named ``name``, or ``None``."""
    for entry in entries(data):
        if entry.get("name") == name:
            return entry
    return None


def put(data, entry):
    """Insert ``entry``, or replace the entry of the same name in place."""
    models = entries(data)
    for index, old in enumerate(models):
        if old.get("name") == entry["name"]:
            models[index] = entry
            break
    else:
        models.append(entry)
    data["models"] = models


def model_path(entry, manifest_dir):
    """The absolute path of an entry's model file."""
    return os.path.join(os.path.abspath(manifest_dir), entry["file"])


def verify_file(entry, manifest_dir, precision=None):
    """Check that an entry's file exists and has the sha256 the manifest records.

    Args:
        entry: one entry of :func:`entries`.
        manifest_dir: the folder that holds the manifest (entry files are relative to it).
        precision: ``None`` for the entry's own (fp32) file, else a key of its ``variants``.

    Returns:
        The absolute path of the model file.
    """
    record = entry if precision is None else entry["variants"][precision]
    what = entry["name"] if precision is None else "%s %s" % (entry["name"], precision)
    redo = "" if precision is None else " --precision %s" % precision
    path = model_path(record, manifest_dir)
    manifest_file = os.path.join(manifest_dir, FILE_NAME)
    if not os.path.isfile(path):
        raise InputFileError("%s (model %s) is missing; run edgeprof export%s again or fix %s"
                             % (path, what, redo, manifest_file))
    if sha256_file(path) != record["sha256"]:
        raise InputFileError("%s (model %s) differs from the manifest; re-export with edgeprof export%s "
                             "--force or fix %s" % (path, what, redo, manifest_file))
    return path
