"""Check edgeprof.costs against torchvision's metadata and the paper's Fig. 2, model by model.

Exports every torchvision classifier (``torchvision.models.list_models(module=torchvision.models)``)
with random weights (BatchNorm randomised and kept unfolded, see docs/analysis-conventions.md) at
the input size of its default weights, analyses it, and prints a Markdown table of the agreements:
MACs within 1% of torchvision's ``_ops`` (its GFLOPS are multiply-accumulates), every layer
costed, and for the paper's models the parameters and Fig. 2 operations. Needs torch, torchvision
and onnx; downloads nothing.

    PYTHONPATH=. python tools/check_analysis.py [--only M,M] [--skip M,M] [--paper] [--cache DIR] [MODEL ...]

Exports go into a temporary folder and are removed after each model, unless ``--cache DIR`` keeps
them there (and reuses them on the next run: a full run writes about 20 GB, vit_h_14 and
regnet_y_128gf alone 5 GB).
"""
import argparse
import csv
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from edgeprof import costs  # noqa: E402  (the repository root is put on the path first)

PAPER_FIG2 = os.environ.get("EDGEPROF_PAPER_FIG2", "/work/shared/data/paper_fig2.csv")
OPSET = 17
TOLERANCE = 0.01
# torchvision publishes GFLOPS with 3 decimals: 0.040 for shufflenet_v2_x0_5 stands for anything
# in [0.0395, 0.0405], which is wider than 1% for its smallest models.
ROUNDING_G = 0.0005

# torchvision name -> name in the paper's Fig. 2 (the models the paper measured).
PAPER_NAMES = {
    "alexnet": None, "vgg16": "VGG-16", "vgg19": "VGG-19", "googlenet": "GoogLeNet",
    "inception_v3": "Inception-v3", "resnet18": "ResNet-18", "resnet34": "ResNet-34",
    "resnet50": "ResNet-50", "resnet101": "ResNet-101", "resnet152": "ResNet-152",
}
MODELS = {name: (299 if name == "inception_v3" else 224, paper) for name, paper in PAPER_NAMES.items()}

# Why the graph's parameter count legitimately differs from torchvision's num_params, per cause
# (not per model): see docs/analysis-conventions.md.
AUX_HEADS_IN_META = {"inception_v3": "AuxLogits"}


def classifiers():
    """Every torchvision classification model, in torchvision's order."""
    import torchvision
    return list(torchvision.models.list_models(module=torchvision.models))


def input_side(name):
    """The crop size of the model's default weights (what torchvision's ``_ops`` were counted at)."""
    import torchvision
    weights = torchvision.models.get_model_weights(name).DEFAULT
    crop = weights.transforms.keywords.get("crop_size", 224)
    return int(crop[0] if isinstance(crop, (list, tuple)) else crop)


def build(name):
    """The eval-mode torchvision model with random weights, biases and BatchNorm statistics.

    torchvision initialises biases to 0, norms to 1/0, layer scales to a constant, and the
    exporter merges equal initializers, so without this a VGG-16 graph would hold 7,360 fewer
    parameters. Every floating parameter whose elements are all equal is therefore redrawn.
    """
    import inspect
    import torch
    import torchvision
    kwargs = {"aux_logits": False, "init_weights": False} if name in ("googlenet", "inception_v3") else {}
    model = torchvision.models.get_model(name, weights=None, **kwargs).eval()
    side = input_side(name)
    if "image_size" in inspect.signature(type(model).__init__).parameters and getattr(model, "image_size", side) != side:
        # The builder sets image_size from the weights it is given (torchvision's ViT builders do,
        # vit_h_14's default weights are at 518): without weights, do the same.
        del model
        model = torchvision.models.get_model(name, weights=None, image_size=side, **kwargs).eval()
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                module.running_mean.normal_()
                module.running_var.uniform_(0.5, 1.5)
            if getattr(module, "bias", None) is not None and isinstance(module.bias, torch.Tensor):
                module.bias.normal_()
        for parameter in model.parameters():
            if parameter.is_floating_point() and parameter.numel() > 1 and bool(parameter.min() == parameter.max()):
                parameter.uniform_(0.5, 1.5)
    return model


def export(model, side, path, fold_batchnorm=False, opset=OPSET):
    """Export with a dynamic batch axis; BatchNorm stays a node unless ``fold_batchnorm``.

    Models over 2 GB get their weights in external data files next to ``path`` (the exporter's
    own choice), so give each model a folder of its own.
    """
    import torch
    mode = torch.onnx.TrainingMode.EVAL if fold_batchnorm else torch.onnx.TrainingMode.PRESERVE
    torch.onnx.export(model, torch.randn(1, 3, side, side), path, dynamo=False, opset_version=opset,
                      training=mode, do_constant_folding=fold_batchnorm,
                      input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})


def torchvision_meta(name):
    """(GMACs, num_params, params of the auxiliary head in num_params that the eval graph drops)."""
    import torchvision
    meta = torchvision.models.get_model_weights(name).DEFAULT.meta
    aux = 0
    if name in AUX_HEADS_IN_META:
        with_aux = torchvision.models.get_model(name, weights=None, aux_logits=True, init_weights=False)
        aux = sum(p.numel() for p in getattr(with_aux, AUX_HEADS_IN_META[name]).parameters())
    return meta["_ops"], meta["num_params"], aux


def paper_gops():
    if not os.path.isfile(PAPER_FIG2):
        return {}
    with open(PAPER_FIG2) as handle:
        rows = csv.DictReader(line for line in handle if not line.startswith("#"))
        return {row["model"]: float(row["G_Ops"]) for row in rows}


def exported_path(name, folder):
    """Export ``name`` into ``folder/name/name.onnx`` unless a finished export is already there."""
    model_dir = os.path.join(folder, name)
    path = os.path.join(model_dir, name + ".onnx")
    if os.path.isfile(path):
        return path
    os.makedirs(model_dir, exist_ok=True)
    partial = os.path.join(model_dir, "partial.onnx")
    export(build(name), input_side(name), partial)
    os.replace(partial, path)
    return path


def check(name, folder, paper, keep=True):
    """Export (or reuse) and analyse one model; the row of the table, with the failure if any."""
    started = time.time()
    path = exported_path(name, folder)
    export_s = time.time() - started
    started = time.time()
    try:
        result = costs.analyze(path)
    except Exception as exc:  # noqa: BLE001  (the table reports what went wrong and goes on)
        result, error = None, "%s: %s" % (type(exc).__name__, exc)
    else:
        error = None
    seconds = time.time() - started
    gmacs, num_params, aux = torchvision_meta(name)
    row = {"model": name, "side": input_side(name), "seconds": seconds, "export_s": export_s,
           "tv_params": num_params - aux, "aux": aux, "tv_gmacs": gmacs, "error": error,
           "paper_gops": paper.get(PAPER_NAMES.get(name))}
    if result is not None:
        row.update(params=result.params, macs=result.macs, paper_ops=result.paper_ops,
                   complete=result.complete, uncosted=len(result.uncosted_layers),
                   unsupported=result.unsupported_ops,
                   fc_params_pct=100.0 * result.fc_params / max(result.params, 1),
                   fc_macs_pct=100.0 * result.fc_macs / max(result.macs, 1))
    if result is not None:
        row["shapes_by"] = result.shapes_by
        row["same_as_onnx"] = same_as_onnx_inference(path, result) if result.shapes_by == "edgeprof" else None
    if result is not None and result.params != row["tv_params"]:
        row["buffer_params"] = float_buffer_elements(name)
    if not keep:
        shutil.rmtree(os.path.dirname(path), ignore_errors=True)
    return row


def same_as_onnx_inference(path, result):
    """Whether the counts from edgeprof's own shape inference are those ONNX's shape inference gives,
    layer by layer (the second analysis skips edgeprof's pass)."""
    from edgeprof.costs import infer

    def refuse(model):
        raise infer.NotInferred("skipped by check_analysis")
    own = infer.pure_shapes
    infer.pure_shapes = refuse
    try:
        other = costs.analyze(path)
    finally:
        infer.pure_shapes = own
    return (result.summary(), result.layers, result.notes) == (other.summary(), other.layers, other.notes)


def float_buffer_elements(name):
    """Elements of the model's floating-point buffers other than BatchNorm statistics: constants
    (Swin V2's ``relative_coords_table``) that the graph holds as initializers and reads in a weight
    slot, so that they count as parameters there but not in torchvision's ``num_params``. Equal
    buffers count once, as the exporter merges equal initializers."""
    import torch
    model = build(name)
    statistics = {id(buffer) for module in model.modules() if isinstance(module, torch.nn.modules.batchnorm._BatchNorm)
                  for buffer in (module.running_mean, module.running_var)}
    distinct = {(tuple(buffer.shape), buffer.numpy().tobytes()) for buffer in model.buffers()
                if buffer.is_floating_point() and id(buffer) not in statistics}
    return sum(torch.Size(shape).numel() for shape, _ in distinct)


def macs_diff(row):
    return row["macs"] / 1e9 / row["tv_gmacs"] - 1


def macs_agree(row):
    """Within 1% of torchvision's figure, or within the rounding of its 3 published decimals."""
    return abs(row["macs"] / 1e9 - row["tv_gmacs"]) <= max(TOLERANCE * row["tv_gmacs"], ROUNDING_G)


def failures(row):
    """What is outside the tolerances for this row (empty when it passes)."""
    if row["error"]:
        return [row["error"]]
    found = []
    if not macs_agree(row):
        found.append("MACs %+.2f%%" % (100 * macs_diff(row)))
    if not row["complete"]:
        found.append("%d layers not costed" % row["uncosted"])
    if row["model"] in PAPER_NAMES and row["params"] != row["tv_params"] or "unexplained" in why(row):
        found.append("params %d != %d" % (row["params"], row["tv_params"]))
    if row["paper_gops"] and abs(row["paper_ops"] / 1e9 / row["paper_gops"] - 1) > 0.03:
        found.append("paper ops")
    if row["same_as_onnx"] is False:
        found.append("edgeprof's own shapes count differently from ONNX's shape inference")
    return found


def why(row):
    """Why the graph and torchvision legitimately differ on this row (empty when they do not)."""
    reasons = []
    if row["aux"]:
        reasons.append("auxiliary head: in num_params, not in the eval graph")
    extra = row["params"] - row["tv_params"]
    if extra and extra == row.get("buffer_params"):
        reasons.append("graph params include {:,} elements of float buffers read as weights".format(extra))
    elif extra:
        reasons.append("params differ by {:,} (unexplained)".format(extra))
    if abs(macs_diff(row)) > TOLERANCE and macs_agree(row):
        reasons.append("MACs within torchvision's 3-decimal rounding (+-%.2f%%)" % (100 * ROUNDING_G / row["tv_gmacs"]))
    return "; ".join(reasons)


def markdown(rows):
    lines = ["| model | input | params (graph) | torchvision num_params | MACs (G) | torchvision GFLOPS | "
             "MACs diff | paper ops (G) | paper Fig. 2 G-Ops | ops diff | complete | FC params | FC MACs | analyse s | "
             "shapes by | why they differ |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if r["error"]:
            lines.append("| %s | %d | - | {:,} | - | %.3f | - | - | - | - | error: %s | - | - | - | - | - |".format(
                r["tv_params"]) % (r["model"], r["side"], r["tv_gmacs"], r["error"][:80]))
            continue
        tv_params = "{:,}".format(r["tv_params"]) + (" (+{:,} aux)".format(r["aux"]) if r["aux"] else "")
        ops_diff = "%+.2f%%" % (100.0 * (r["paper_ops"] / 1e9 / r["paper_gops"] - 1)) if r["paper_gops"] else "-"
        lines.append("| %s | %d | {:,} | %s | %.3f | %.3f | %+.2f%% | %.2f | %s | %s | %s | %.1f%% | %.2f%% | %.2f | %s | %s |".format(
            r["params"]) % (
            r["model"], r["side"], tv_params, r["macs"] / 1e9, r["tv_gmacs"], 100.0 * macs_diff(r),
            r["paper_ops"] / 1e9, "%.2f" % r["paper_gops"] if r["paper_gops"] else "-", ops_diff,
            "yes" if r["complete"] else "no (%d layers)" % r["uncosted"], r["fc_params_pct"],
            r["fc_macs_pct"], r["seconds"], shapes_by(r), why(r) or "-"))
    return "\n".join(lines)


def shapes_by(row):
    """edgeprof (and whether ONNX's inference counts the same) or onnx, with the node that needed it."""
    if row["shapes_by"] == "edgeprof":
        return "edgeprof (same as onnx)" if row["same_as_onnx"] else "edgeprof (DIFFERS from onnx)"
    return row["shapes_by"].replace("|", "/")


def _names(text):
    return [name for name in (text or "").split(",") if name]


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="*", metavar="MODEL", help="models to check (default: every classifier)")
    parser.add_argument("--only", help="comma-separated models to check")
    parser.add_argument("--skip", help="comma-separated models to leave out (e.g. vit_h_14,regnet_y_128gf)")
    parser.add_argument("--paper", action="store_true", help="only the paper's models (Fig. 2)")
    parser.add_argument("--cache", metavar="DIR", help="keep the exports in DIR and reuse them")
    return parser.parse_args(argv)


def main(argv):
    args = parse_args(argv)
    everything = classifiers()
    names = args.models + _names(args.only) or (list(PAPER_NAMES) if args.paper else everything)
    unknown = [name for name in names if name not in everything]
    if unknown:
        print("not a torchvision classifier: %s" % ", ".join(unknown), file=sys.stderr)
        return 2
    names = [name for name in names if name not in _names(args.skip)]
    folder = args.cache or tempfile.mkdtemp(prefix="edgeprof-check-")
    os.makedirs(folder, exist_ok=True)
    paper = paper_gops()
    rows = []
    for index, name in enumerate(names):
        print("[%d/%d] %s" % (index + 1, len(names), name), file=sys.stderr, flush=True)
        rows.append(check(name, folder, paper, keep=bool(args.cache)))
        bad = failures(rows[-1])
        print("    %s" % ("; ".join(bad) if bad else "ok"), file=sys.stderr, flush=True)
    if not args.cache:
        shutil.rmtree(folder, ignore_errors=True)
    print(markdown(rows))
    bad = [r["model"] for r in rows if failures(r)]
    if bad:
        print("outside the tolerances: %s" % ", ".join(bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
