"""Measured accuracy: a sibling record of a profile, ``<profile stem>.accuracy.json``.

``edgeprof accuracy`` writes it next to the profile of the same board/model/backend/precision
(``<out>/<board slug>/<model>__<backend>__<precision>.accuracy.json``), atomically, and never
touches the profile itself: a sweep writing that profile at the same time loses nothing, and the
profile stays what the sweep measured. :func:`edgeprof.records.profile.load` attaches the record
as the profile's ``accuracy`` mapping, so every reader (compare, report, table) sees it.

The file is JSON, not YAML, so that profile finders (``*.yaml``) never take it for a profile.
Schema ``edgeprof/accuracy/v1``; the field list is in docs/accuracy.md.
"""
import json
import os

from edgeprof.errors import InputFileError
from edgeprof.records.files import write_atomic
from edgeprof.records.schema import NUMBER as _NUMBER
from edgeprof.records.schema import check_fields, check_version

SCHEMA = "edgeprof/accuracy/v1"
SUFFIX = ".accuracy.json"
# field -> (type, required); top1/top5 in percent over ``images`` images, with the counts they come from.
FIELDS = {"schema": (str, True), "top1": (_NUMBER, True), "top5": (_NUMBER, False),
          "images": (int, True), "measured": (str, True),
          "top1_correct": (int, False), "top5_correct": (int, False), "classes": (int, False),
          "model": (str, False), "model_file": (str, False), "model_sha256": (str, False),
          "backend": (str, False), "backend_version": (str, False), "precision": (str, False),
          "options": (dict, False), "batch": (int, False), "board": (str, False),
          "set": (dict, False), "preprocess": (dict, False), "preprocess_source": (str, False),
          "agreement": (dict, False), "seconds": (_NUMBER, False), "edgeprof_version": (str, False)}
# ``set``: where the images came from; the fingerprint is the sha256 over path, label and file sha256.
SET_FIELDS = {"path": (str, True), "kind": (str, True), "fingerprint": (str, True), "limit": (int, False),
              "per_class": (int, False), "class_folders": (int, False)}
# ``agreement`` with the fp32 model: share of identical top-1 (percent) and the largest |logit difference|.
AGREEMENT_FIELDS = {"reference_sha256": (str, True), "reference_file": (str, False),
                    "top1_agreement": (_NUMBER, True), "top1_agreeing": (int, False),
                    "max_abs_logit_diff": (_NUMBER, True)}
PREPROCESS_SOURCES = ("manifest", "default")


def sibling_path(profile_path):
    """The accuracy record that belongs to ``profile_path`` (which need not exist yet)."""
    stem, ext = os.path.splitext(profile_path)
    if ext not in (".yaml", ".yml"):
        stem = profile_path
    return stem + SUFFIX


def validate(record, source="<accuracy>"):
    """Check a loaded record; raise :class:`InputFileError` naming the first wrong field."""
    if not isinstance(record, dict):
        raise InputFileError("%s: an accuracy record must be a JSON object, got %s"
                             % (source, type(record).__name__))
    check_version(record, source, SCHEMA, "accuracy record", InputFileError)
    check_fields(record, FIELDS, "", source, InputFileError)
    for field, table in (("set", SET_FIELDS), ("agreement", AGREEMENT_FIELDS)):
        if record.get(field) is not None:
            check_fields(record[field], table, field, source, InputFileError)
    if record.get("preprocess_source") not in (None,) + PREPROCESS_SOURCES:
        raise InputFileError("%s: field 'preprocess_source' must be one of %s, got %r"
                             % (source, ", ".join(PREPROCESS_SOURCES), record["preprocess_source"]))
    return record


def read(path):
    """The validated record at ``path``, or None when there is none."""
    try:
        with open(path, "rb") as f:
            text = f.read()
    except (IOError, OSError) as exc:
        if not os.path.exists(path):
            return None
        raise InputFileError("cannot read %s: %s" % (path, exc.strerror or exc))
    try:
        record = json.loads(text.decode("utf-8"))
    except ValueError as exc:
        raise InputFileError("%s is not valid JSON: %s" % (path, exc))
    return validate(record, source=path)


def write(path, record):
    """Validate and atomically write ``record`` to ``path``."""
    validate(record, source=path)
    write_atomic(path, json.dumps(record, indent=2, sort_keys=True) + "\n")


def attach(data, profile_path):
    """Set ``data['accuracy']`` from the sibling record of ``profile_path`` when there is one."""
    record = read(sibling_path(profile_path))
    if record is not None:
        data["accuracy"] = record
    return data
