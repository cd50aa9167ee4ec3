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
    "exported": (str, False), "export_seconds": (_NUMBER, False),
}
NUMERIC_CHECK_FIELDS = {"max_abs_diff": (_NUMBER, True), "tolerance": (_NUMBER, True)}


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


def verify_file(entry, manifest_dir):
    """Check that an entry's file exists and has the sha256 the manifest records.

    Args:
        entry: one entry of :func:`entries`.
        manifest_dir: the folder that holds the manifest (entry files are relative to it).

    Returns:
        The absolute path of the model file.
    """
    path = model_path(entry, manifest_dir)
    manifest_file = os.path.join(manifest_dir, FILE_NAME)
    if not os.path.isfile(path):
        raise InputFileError("%s (model %s) is missing; run edgeprof export again or fix %s"
                             % (path, entry["name"], manifest_file))
    if sha256_file(path) != entry["sha256"]:
        raise InputFileError("%s (model %s) differs from the manifest; re-export with edgeprof export "
                             "--force or fix %s" % (path, entry["name"], manifest_file))
    return path
