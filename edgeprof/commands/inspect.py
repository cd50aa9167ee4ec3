"""``edgeprof inspect``: static costs of an ONNX model, from the graph alone (onnx needed only for
models whose nodes edgeprof's own shape inference does not cover: see edgeprof.costs.infer)."""
from edgeprof.commands import positive_int, print_json

HELP = "count an ONNX model's parameters, MACs, paper-style operations and memory, from the graph alone"

MACS_LABEL = "MACs (multiply-accumulates, torchvision's GFLOPS)"
PAPER_LABEL = "paper ops (Canziani et al. 2016 convention)"
_NAME_WIDTH = 44


def configure(parser):
    parser.add_argument("model", metavar="MODEL.onnx", help="the ONNX file to analyse")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    parser.add_argument("--layers", action="store_true",
                        help="add the per-layer table: op type, output shape, params, MACs, ops, shares")
    parser.add_argument("--batch", type=positive_int, default=1, metavar="N",
                        help="images per inference for MACs, ops and activation memory (default 1)")


def _share(part, total):
    return 100.0 * part / total if total else 0.0


def _si(value, unit):
    """``1814073344, "MACs"`` -> ``1.814 G MACs``."""
    for factor, prefix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= factor:
            return "%.3f %s%s" % (value / factor, prefix, unit)
    return "%d %s" % (value, unit)


_LISTED_LAYERS = 20  # not-costed layers named in the text summary (all of them with --layers / --json)


def _lower_bound(analysis, text):
    return text if analysis.complete else "at least " + text


def _not_costed_rows(analysis):
    """Rows naming what was not costed: op types without a rule, layers whose shapes were not found."""
    rows = []
    if analysis.unsupported_ops:
        rows.append(("unsupported ops", "%s (edgeprof has no rule for them; not in the totals)"
                     % ", ".join(analysis.unsupported_ops)))
    missing = [layer for layer in analysis.layers if not layer["costed"]]
    if missing:
        named = ", ".join("%s (%s)" % (layer["name"], layer["op_type"]) for layer in missing[:_LISTED_LAYERS])
        more = len(missing) - _LISTED_LAYERS
        rows.append(("not costed", "%d layers, totals are lower bounds: %s%s" % (
            len(missing), named, " and %d more (see --layers)" % more if more > 0 else "")))
    return rows


def _summary_lines(analysis):
    s = analysis.summary()
    rows = [
        ("model", analysis.path),
        ("input", "%r %s, batch %d, opset %d" % (
            s["input_name"], "x".join(str(d) for d in s["input_shape"]), analysis.batch, s["opset"])),
        ("parameters", "{:,}  ({:.1f}% in fully connected layers)".format(
            s["params"], _share(s["fc_params"], s["params"]))),
        (MACS_LABEL, _lower_bound(analysis, "{:,}  ({})  ({:.1f}% in fully connected layers)".format(
            s["macs"], _si(s["macs"], "MACs"), _share(s["fc_macs"], s["macs"])))),
        (PAPER_LABEL, _lower_bound(analysis, "{:,}  ({})".format(s["paper_ops"], _si(s["paper_ops"], "-Ops")))),
        ("weights", _si(s["weight_bytes"], "B")),
        ("activations", "%s at the peak, %s summed over layers" % (
            _si(s["peak_activation_bytes"], "B"), _si(analysis.activation_bytes, "B"))),
    ]
    rows.extend(_not_costed_rows(analysis))
    rows.append(("shapes", "edgeprof's own shape inference" if analysis.shapes_by == "edgeprof"
                 else "ONNX's shape inference: " + analysis.shapes_by.split("(", 1)[-1].rstrip(")")))
    rows.extend(("note", note) for note in analysis.notes)
    width = max(len(label) for label, _ in rows)
    return ["%-*s  %s" % (width + 1, label + ":", value) for label, value in rows]


def _short(name):
    return name if len(name) <= _NAME_WIDTH else "..." + name[-(_NAME_WIDTH - 3):]


def _layer_lines(analysis):
    header = "%-*s %-18s %-18s %12s %6s %15s %6s %15s %6s %12s" % (
        _NAME_WIDTH, "layer", "op", "output", "params", "%", "MACs", "%", "paper ops", "%", "act bytes")
    lines = [header, "-" * len(header)]
    for layer in analysis.layers:
        shape = layer["output_shape"]
        shape_text = "x".join("?" if d is None else str(d) for d in shape) if shape is not None else "?"
        if not layer["costed"]:
            why = "unsupported" if layer["reason"].startswith("unsupported") else "no shape"
            costs = "%15s %6s %15s %6s" % (why, "", why, "")
        else:
            costs = "%15s %6.2f %15s %6.2f" % (
                "{:,}".format(layer["macs"]), _share(layer["macs"], analysis.macs),
                "{:,}".format(layer["paper_ops"]), _share(layer["paper_ops"], analysis.paper_ops))
        lines.append("%-*s %-18s %-18s %12s %6.2f %s %12s" % (
            _NAME_WIDTH, _short(layer["name"]), layer["op_type"][:18], shape_text[:18],
            "{:,}".format(layer["params"]), _share(layer["params"], analysis.params), costs,
            "{:,}".format(layer["activation_bytes"])))
    return lines


def run(args):
    from edgeprof import costs
    result = costs.analyze(args.model, batch=args.batch)
    if args.json:
        data = dict(result.summary(), file=result.path, batch=result.batch,
                    activation_bytes=result.activation_bytes, notes=result.notes, shapes_by=result.shapes_by)
        if args.layers:
            data["layers"] = result.layers
        print_json(data)
        return 0
    lines = _summary_lines(result)
    if args.layers:
        lines.append("")
        lines.extend(_layer_lines(result))
    print("\n".join(lines))
    return 0
