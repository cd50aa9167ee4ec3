"""One model's accuracy measurement: runners, preprocessing, evaluation, and its record next to the profile.

The record goes to the sibling of the profile that ``edgeprof sweep`` writes for the same board,
model, backend and precision (:func:`edgeprof.agent.sweep.profile_path` under ``<out>/<board
slug>``), so that ``profile.load`` attaches it whether the sweep ran before or runs after.
"""
import logging
import os
import time

from edgeprof import __version__
from edgeprof.agent import board
from edgeprof.agent.accuracy import evaluate, preprocess, runners
from edgeprof.agent.sweep import profile_path
from edgeprof.records import accuracy as accuracy_record
from edgeprof.errors import InputFileError
from edgeprof.records.files import sha256_file
from edgeprof.records.profile import now_iso

log = logging.getLogger("edgeprof")


class AccuracyConfig(object):
    """Everything a measurement needs, as plain values (built by ``edgeprof.commands.accuracy``)."""

    def __init__(self, *, labelled, backend, precision, out_dir, batch, options=None, runtime_options=None,
                 board_name=None, limit=None, per_class=None, workers=None):
        self.labelled = labelled
        self.backend = backend
        self.precision = precision
        self.out_dir = out_dir
        self.batch = batch
        self.options = options or {}
        self.runtime_options = runtime_options or {}
        self.board_name = board_name
        self.limit = limit
        self.per_class = per_class
        self.workers = workers


def board_folder(out_dir, board_name=None):
    """``<out>/<board slug>``: the folder ``edgeprof sweep`` writes this board's profiles to."""
    slug = board.slugify(board_name) if board_name else board.identity()["slug"]
    return os.path.join(out_dir, slug), slug


def _input_shape(runner, model):
    """The model's input axes after the batch: the graph's, a dynamic axis filled from the manifest."""
    recorded = list(model.get("input_shape") or ())
    graph = list(runner.input_shape or ())
    if not graph:
        return recorded or None
    return [g if g is not None else (recorded[i] if i < len(recorded) else None) for i, g in enumerate(graph)]


def _open(config, model_path, precision, model, sha256=None):
    """A runner of ``model_path``; ``sha256`` is that file's (a backend keys its engine cache by it: the
    reference must not be given the measured model's)."""
    options = dict(config.options, model_sha256=sha256 or model.get("sha256"), **config.runtime_options)
    return runners.open_runner(config.backend, model_path, config.batch, precision, options,
                               model.get("input_shape"))


def _set_section(config, counts):
    labelled = config.labelled
    found = {"path": os.path.abspath(labelled.path), "kind": labelled.kind, "fingerprint": counts.fingerprint}
    for key in ("limit", "per_class"):
        if getattr(config, key) is not None:
            found[key] = getattr(config, key)
    if labelled.classes is not None:
        found["class_folders"] = len(labelled.classes)
    return found


def measure_model(config, model, reference=None):
    """Measure ``model`` (a :func:`edgeprof.agent.selection.resolve` entry) and write its record.

    Args:
        reference (dict or None): the fp32 model to agree with: ``path`` and ``sha256``.

    Returns:
        (dict, str): the record and the path it was written to.
    """
    started = time.monotonic()
    with _open(config, model["path"], config.precision, model) as runner:
        spec, source = preprocess.for_model(_input_shape(runner, model), model.get("preprocess"), model["path"])
        if source == "default":
            log.info("%s: no preprocessing recorded for it; using the ImageNet default for its input size "
                     "(resize %d, crop %dx%d, ImageNet mean/std)", model["name"], spec["resize"], *spec["crop"])
        batch = runner.fixed_batch or config.batch
        if batch != config.batch:
            log.info("%s: the model's batch axis is fixed at %d; --batch %d does not apply", model["name"], batch,
                     config.batch)
        if reference is None:
            counts = evaluate.evaluate(runner, config.labelled, spec, batch, model["name"], workers=config.workers)
        else:
            with _open(config, reference["path"], "fp32", model, reference["sha256"]) as reference_runner:
                counts = evaluate.evaluate(runner, config.labelled, spec, batch, model["name"],
                                           reference=reference_runner, workers=config.workers)
    folder, slug = board_folder(config.out_dir, config.board_name)
    record = dict(counts.as_record(), schema=accuracy_record.SCHEMA, measured=now_iso(), model=model["name"],
                  model_file=model.get("file") or os.path.basename(model["path"]),
                  model_sha256=model.get("sha256") or sha256_file(model["path"]), backend=config.backend.name,
                  backend_version=config.backend.version(), precision=config.precision,
                  options=dict(config.options), batch=batch, board=slug, set=_set_section(config, counts),
                  preprocess=spec, preprocess_source=source, seconds=round(time.monotonic() - started, 3),
                  edgeprof_version=__version__)
    if reference is not None:
        record["agreement"] = dict(counts.agreement(reference["sha256"]),
                                   reference_file=os.path.basename(reference["path"]))
    path = accuracy_record.sibling_path(profile_path(folder, model["name"], config.backend.name, config.precision))
    _replace_note(path, record)
    accuracy_record.write(path, record)
    return record, path


def _replace_note(path, record):
    """Say what an earlier record at ``path`` held before it is replaced (the newest measurement wins)."""
    try:
        old = accuracy_record.read(path)
    except InputFileError:  # an unreadable old record is replaced all the same
        old = None
    if old is not None and (old.get("set") or {}).get("fingerprint") != record["set"]["fingerprint"]:
        log.info("%s: replacing the record of %s (top-1 %.2f%% on %d images of another set)",
                 path, old.get("measured"), old["top1"], old["images"])
