"""``edgeprof export``: models to ONNX in a models folder, with ``manifest.yaml`` (workstation side)."""
import argparse

from edgeprof.argtypes import name_list, positive_int
from edgeprof.errors import ExportError, MissingDependency, UsageError

PRECISIONS = ("fp32", "fp16", "int8")
DEFAULT_CALIB_COUNT = 100

HELP = ("export the paper's zoo or torchvision classifiers to ONNX (or add your own ONNX file) and "
        "record their static costs in <out>/manifest.yaml")


def configure(parser):
    what = parser.add_argument_group("what to export (one or more)")
    what.add_argument("--zoo", choices=("paper",),
                      help="every model of the paper's zoo (14 ImageNet classifiers)")
    what.add_argument("--models", type=name_list, default=[], metavar="NAMES",
                      help="comma-separated names: the paper's (alexnet, bn_alexnet, bn_nin, enet, "
                           "googlenet, resnet18..resnet152, vgg16, vgg19, inception_v3, "
                           "inception_v4) or any torchvision classification model")
    what.add_argument("--onnx", metavar="PATH", help="add your own single-file ONNX model (needs --name)")
    parser.add_argument("--out", default="models", metavar="DIR",
                        help="models folder; the manifest is DIR/manifest.yaml (default: models)")
    parser.add_argument("--weights", choices=("none", "default"), default="none",
                        help="none: random weights (default); default: the published ones "
                             "(torchvision downloads them)")
    parser.add_argument("--opset", type=int, default=13, help="ONNX opset (default 13, for TensorRT 8.x)")
    parser.add_argument("--force", action="store_true", help="export again models the manifest has")
    variants = parser.add_argument_group("precision variants (for onnxruntime; TensorRT builds its own from fp32)")
    variants.add_argument("--precision", type=precision_list, default=["fp32"], metavar="LIST",
                          help="comma-separated: fp32 (always made), fp16 (onnxconverter-common, fp32 IO), "
                               "int8 (ONNX Runtime static QDQ quantization); e.g. fp32,fp16,int8")
    variants.add_argument("--calib-dir", metavar="DIR",
                          help="int8: calibrate on the .jpg/.png images under DIR (recursively, sorted), "
                               "preprocessed as the model's evaluation; without it, random data (a warning)")
    variants.add_argument("--calib-count", type=positive_int, default=DEFAULT_CALIB_COUNT, metavar="N",
                          help="int8: calibrate on the first N images (default %d)" % DEFAULT_CALIB_COUNT)
    own = parser.add_argument_group("with --onnx")
    own.add_argument("--name", help="the model's name in the manifest")
    own.add_argument("--family", default="custom", help="family for figure colours (default: custom)")
    own.add_argument("--link", action="store_true", help="symlink the file into DIR instead of copying")
    own.add_argument("--top1", type=float, help="the model's top-1 accuracy in percent, if known")
    own.add_argument("--top5", type=float, help="the model's top-5 accuracy in percent, if known")


def precision_list(text):
    """``fp16,int8`` -> ``["fp32", "fp16", "int8"]``: fp32 first (variants derive from it), no repeats."""
    names = [n.strip().lower() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in PRECISIONS]
    if unknown or not names:
        raise argparse.ArgumentTypeError("%r: give precisions from %s, comma-separated" % (text, ", ".join(PRECISIONS)))
    return [p for p in PRECISIONS if p == "fp32" or p in names]


def _calibration(args):
    """The int8 calibration set: the --calib-dir images, checked now, or random data."""
    from edgeprof.workstation import calibration
    if "int8" not in args.precision:
        if args.calib_dir:
            raise UsageError("--calib-dir is for int8: add --precision int8")
        return calibration.random_set(args.calib_count)
    if not args.calib_dir:
        return calibration.random_set(args.calib_count)
    from edgeprof.agent.accuracy.preprocess import import_pil, load_image
    import_pil()
    return calibration.open_set(args.calib_dir, args.calib_count, load_image)


def _require(names):
    """Raise a one-line error naming the missing libraries, with the install command."""
    import importlib
    missing = []
    for name in names:
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    if missing:
        raise MissingDependency("edgeprof export needs %s, missing here; install them on a workstation with "
                            "pip install 'edgeprof[export]'" % ", ".join(missing))


def run(args):
    from edgeprof.workstation import export, precision, zoo
    if not (args.zoo or args.models or args.onnx):
        raise UsageError("nothing to export: give --zoo paper, --models NAMES or --onnx PATH --name NAME")
    if not args.onnx:
        given = [flag for flag, value in (("--name", args.name), ("--link", args.link), ("--top1", args.top1),
                                          ("--top5", args.top5), ("--family", args.family != "custom" or None))
                 if value]
        if given:
            raise UsageError("%s: only for a model given with --onnx PATH" % ", ".join(given))
    export.check_opset(args.opset)
    if "int8" in args.precision and args.opset < 13 and (args.zoo or args.models):
        raise UsageError("--precision int8 needs --opset 13 or later (per-channel QDQ quantization)")
    needed = ["onnx"] if args.onnx and not (args.zoo or args.models) else ["torch", "torchvision", "onnx"]
    needed += ["onnxruntime"] if args.zoo or args.models or len(args.precision) > 1 else []
    needed += ["onnxconverter_common"] if "fp16" in args.precision else []
    _require(needed)
    if "int8" in args.precision:
        precision.check_int8_tools()
    if args.onnx and not args.name:
        raise UsageError("--onnx %s needs --name NAME for the manifest" % args.onnx)
    calibration = _calibration(args)
    if args.onnx:
        export.add_onnx(args.onnx, args.name, args.out, family=args.family, link=args.link,
                        top1=args.top1, top5=args.top5, force=args.force, precisions=args.precision,
                        calibration=calibration)
    if args.zoo or args.models:
        models = zoo.resolve(args.zoo, args.models)
        failed = export.export_models(models, args.out, weights=args.weights, opset=args.opset,
                                      force=args.force, precisions=args.precision, calibration=calibration)
        if failed:
            raise ExportError("%d of %d models failed (%s); the others are in %s/manifest.yaml; "
                                "see the messages above" % (len(failed), len(models),
                                                            ", ".join(n for n, _ in failed), args.out))
    return 0
