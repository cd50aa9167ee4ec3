"""Check edgeprof.costs against torchvision's metadata and the paper's Fig. 2, model by model.

Exports each torchvision classifier with random weights (BatchNorm randomised and kept unfolded,
see docs/analysis-conventions.md) into a temporary folder, analyses it, and prints a Markdown
table of the agreements. Needs torch, torchvision and onnx; downloads nothing.

    PYTHONPATH=. python tools/check_analysis.py [MODEL ...]
"""
import csv
import os
import sys
import tempfile
import time

from edgeprof import costs

PAPER_FIG2 = os.environ.get("EDGEPROF_PAPER_FIG2", "/work/shared/data/paper_fig2.csv")

# torchvision name -> (input side in pixels, name in the paper's Fig. 2 or None)
MODELS = {
    "alexnet": (224, None), "vgg16": (224, "VGG-16"), "vgg19": (224, "VGG-19"),
    "googlenet": (224, "GoogLeNet"), "inception_v3": (299, "Inception-v3"),
    "resnet18": (224, "ResNet-18"), "resnet34": (224, "ResNet-34"), "resnet50": (224, "ResNet-50"),
    "resnet101": (224, "ResNet-101"), "resnet152": (224, "ResNet-152"),
}


def build(name):
    """The eval-mode torchvision model with random weights, biases and BatchNorm statistics.

    torchvision initialises biases to 0 and BatchNorm to 1/0, and the exporter merges equal
    initializers, so without this a VGG-16 graph would hold 7,360 fewer parameters.
    """
    import torch
    import torchvision
    kwargs = {"aux_logits": False, "init_weights": False} if name in ("googlenet", "inception_v3") else {}
    model = torchvision.models.get_model(name, weights=None, **kwargs).eval()
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.weight.uniform_(0.5, 1.5)
                module.running_mean.normal_()
                module.running_var.uniform_(0.5, 1.5)
            if getattr(module, "bias", None) is not None:
                module.bias.normal_()
    return model


def export(model, side, path, fold_batchnorm=False):
    """Export with a dynamic batch axis; BatchNorm stays a node unless ``fold_batchnorm``."""
    import torch
    mode = torch.onnx.TrainingMode.EVAL if fold_batchnorm else torch.onnx.TrainingMode.PRESERVE
    torch.onnx.export(model, torch.randn(1, 3, side, side), path, dynamo=False, opset_version=13,
                      training=mode, do_constant_folding=fold_batchnorm,
                      input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})


# torchvision's inception_v3 keeps its auxiliary head (AuxLogits) and counts it in num_params;
# googlenet's builder drops aux1/aux2 and does not. The eval-mode graph never has them.
AUX_HEADS_IN_META = {"inception_v3": "AuxLogits"}


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
    with open(PAPER_FIG2) as handle:
        rows = csv.DictReader(line for line in handle if not line.startswith("#"))
        return {row["model"]: float(row["G_Ops"]) for row in rows}


def check(name, folder, paper):
    side, paper_name = MODELS[name]
    path = os.path.join(folder, name + ".onnx")
    export(build(name), side, path)
    started = time.time()
    result = costs.analyze(path)
    seconds = time.time() - started
    gmacs, num_params, aux = torchvision_meta(name)
    row = {"model": name, "side": side, "seconds": seconds, "params": result.params,
           "tv_params": num_params - aux, "aux": aux, "macs": result.macs, "tv_gmacs": gmacs,
           "paper_ops": result.paper_ops, "paper_gops": paper.get(paper_name),
           "fc_params_pct": 100.0 * result.fc_params / result.params,
           "fc_macs_pct": 100.0 * result.fc_macs / result.macs, "unsupported": result.unsupported_ops}
    os.remove(path)
    return row


def markdown(rows):
    lines = [("| model | input | params (graph) | torchvision num_params | MACs (G) | torchvision GFLOPS | "
             "MACs diff | paper ops (G) | paper Fig. 2 G-Ops | ops diff | FC params | FC MACs | analyse s |"),
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        tv_params = "{:,}".format(r["tv_params"]) + (" (+{:,} aux)".format(r["aux"]) if r["aux"] else "")
        ops_diff = "%+.2f%%" % (100.0 * (r["paper_ops"] / 1e9 / r["paper_gops"] - 1)) if r["paper_gops"] else "-"
        lines.append("| %s | %d | {:,} | %s | %.3f | %.3f | %+.2f%% | %.2f | %s | %s | %.1f%% | %.2f%% | %.2f |".format(
            r["params"]) % (
            r["model"], r["side"], tv_params, r["macs"] / 1e9, r["tv_gmacs"],
            100.0 * (r["macs"] / 1e9 / r["tv_gmacs"] - 1), r["paper_ops"] / 1e9,
            "%.2f" % r["paper_gops"] if r["paper_gops"] else "-", ops_diff, r["fc_params_pct"],
            r["fc_macs_pct"], r["seconds"]))
    return "\n".join(lines)


def main(names):
    paper = paper_gops()
    folder = tempfile.mkdtemp(prefix="edgeprof-check-")
    rows = [check(name, folder, paper) for name in (names or list(MODELS))]
    os.rmdir(folder)
    print(markdown(rows))
    bad = [r["model"] for r in rows if r["params"] != r["tv_params"] or abs(r["macs"] / 1e9 / r["tv_gmacs"] - 1) > 0.01
           or (r["paper_gops"] and abs(r["paper_ops"] / 1e9 / r["paper_gops"] - 1) > 0.03) or r["unsupported"]]
    if bad:
        print("outside the tolerances: %s" % ", ".join(bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
