"""``edgeprof accuracy``: top-1/top-5 of each model on a labelled image set, measured on this board.

Each model runs on the backend and precision given, fed with the set's images preprocessed as its
manifest entry records (torchvision's evaluation; the ImageNet default for the input size when
none is recorded). The result is written next to the profile of that board/model/backend/precision
(``<out>/<board>/<model>__<backend>__<precision>.accuracy.json``), where reports and compare find it.
"""
import logging
import os
import sys

from edgeprof.agent import backends, board
from edgeprof.agent.accuracy import datasets
from edgeprof.agent.accuracy.job import AccuracyConfig, measure_model
from edgeprof.agent.accuracy.preprocess import import_pil
from edgeprof.agent.selection import resolve
from edgeprof.commands import name_list, positive_int
from edgeprof.errors import InputFileError, UsageError
from edgeprof.records.files import sha256_file

HELP = "measure top-1/top-5 accuracy of models on a labelled image set on this board; write accuracy records"
DEFAULT_BATCH = 16
log = logging.getLogger("edgeprof")


def configure(parser):
    parser.add_argument("--models", default="models",
                        help="a folder with manifest.yaml (from edgeprof export), a manifest, or one .onnx file "
                             "(default: models)")
    parser.add_argument("--only", type=name_list, help="comma-separated model names from the manifest")
    parser.add_argument("--backend", default="auto", choices=("auto",) + backends.NAMES,
                        help="runtime: auto picks TensorRT on a Jetson where importable, else onnxruntime")
    parser.add_argument("--precision", default="fp32", choices=backends.precisions(),
                        help="precision to measure (default fp32): onnxruntime runs the manifest's file of it "
                             "(edgeprof export --precision), tensorrt builds its engine at it; fp16/int8 are "
                             "also compared with the fp32 model")
    parser.add_argument("--out", default="profiles", help="profiles folder (default: profiles)")
    parser.add_argument("--board-name", help="name of this board for the profile folder (default: from the board)")
    parser.add_argument("--batch", type=positive_int, default=DEFAULT_BATCH,
                        help="images per inference (default %d; the last batch may be partial)" % DEFAULT_BATCH)
    images = parser.add_argument_group("labelled images")
    source = images.add_mutually_exclusive_group(required=True)
    source.add_argument("--images", metavar="DIR",
                        help="a folder of class folders: classes are the sorted folder names, as torchvision's "
                             "ImageFolder (ImageNet val/<wnid>/ gives the standard class index)")
    source.add_argument("--labels", metavar="FILE",
                        help="a file of '<image path> <integer label>' lines, paths relative to its folder")
    images.add_argument("--limit", type=positive_int, metavar="N",
                        help="only the first N images in set order (class folders: the first classes only; "
                             "see --per-class)")
    images.add_argument("--per-class", type=positive_int, metavar="N",
                        help="only the first N images of each class (an even take across classes)")
    parser.add_argument("--reference", metavar="FILE",
                        help="the fp32 ONNX file to agree with (default: the manifest's fp32 file of the model "
                             "when --precision is not fp32)")
    parser.add_argument("--workers", type=positive_int,
                        help="threads reading and preprocessing images (default: CPU count, at most 8)")
    parser.set_defaults(layers=False)  # backends' options() read sweep's --layers
    for cls in sorted(backends.classes(), key=lambda c: c.name):  # each declares its own (backends/<name>.py)
        cls.add_arguments(parser.add_argument_group("%s backend" % cls.name))


def _fp32_files(args):
    """name -> the fp32 model of each selected manifest entry, when agreement with fp32 is wanted and at hand.

    Agreement is automatic when ``--precision`` is not fp32 and the models come from a manifest (a
    bare .onnx file has no fp32 sibling; give ``--reference``). ONNX Runtime's fp16/int8 variants
    are files of their own, so their reference is the entry's fp32 file; TensorRT builds fp16/int8
    from the fp32 file itself, which is then also the reference (run as an fp32 engine).
    """
    if args.reference or args.precision == "fp32" or args.models.endswith(".onnx"):
        return {}
    return dict((m["name"], m) for m in resolve(args.models, args.only))


def _reference(args, model, fp32_models):
    """The fp32 model ``model`` is compared with (``path`` and ``sha256``), or None."""
    if args.reference:
        if not os.path.isfile(args.reference):
            raise InputFileError("--reference %s: no such file" % args.reference)
        return {"path": os.path.abspath(args.reference), "sha256": sha256_file(args.reference)}
    found = fp32_models.get(model["name"])
    return {"path": found["path"], "sha256": found["sha256"]} if found else None


def _table(rows):
    header = ("model", "backend", "precision", "images", "top-1 %", "top-5 %", "top-1 agree %", "max |dlogit|")
    lines = [header]
    for record in rows:
        agreement = record.get("agreement") or {}
        lines.append((record["model"], record["backend"], record["precision"], str(record["images"]),
                      "%.2f" % record["top1"], "%.2f" % record["top5"] if record.get("top5") is not None else "-",
                      "%.2f" % agreement["top1_agreement"] if agreement else "-",
                      "%.4g" % agreement["max_abs_logit_diff"] if agreement else "-"))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    for line in lines:
        sys.stdout.write("  ".join(cell.ljust(widths[i]) if i < 3 else cell.rjust(widths[i])
                                   for i, cell in enumerate(line)).rstrip() + "\n")


def run(args):
    import_pil()  # before any model is opened: the images need it
    labelled = datasets.load(args.images, args.labels, args.limit, args.per_class)
    backend, note = backends.choose(args.backend, board.identity()["is_jetson"])
    backend.check_precision(args.precision)
    models = resolve(args.models, args.only, args.precision, backend.ONNX_PER_PRECISION)
    if args.reference and len(models) != 1:
        raise UsageError("--reference is the fp32 file of one model; select one with --only")
    fp32_models = _fp32_files(args)
    options, runtime_options = backend.options(args)
    log.info("accuracy: %d images from %s (%s), %d models, %s %s (%s)", len(labelled.samples), labelled.path,
             labelled.kind, len(models), backend.name, args.precision, note)
    config = AccuracyConfig(labelled=labelled, backend=backend, precision=args.precision, out_dir=args.out,
                            batch=args.batch, options=options, runtime_options=runtime_options,
                            board_name=args.board_name, limit=args.limit, per_class=args.per_class,
                            workers=args.workers)
    rows = []
    for model in models:
        record, path = measure_model(config, model, _reference(args, model, fp32_models))
        log.info("%s: top-1 %.2f%% on %d images -> %s", model["name"], record["top1"], record["images"], path)
        rows.append(record)
    _table(rows)
    return 0
