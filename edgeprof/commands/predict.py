"""``edgeprof predict``: latency and energy per image of a model from the board's time-vs-operations fit."""
import os

from edgeprof.reading import predict
from edgeprof.commands import positive_int, print_json
from edgeprof.errors import InputFileError, UsageError
from edgeprof.records import store

HELP = ("predict latency and energy per image of a model never run on a board, from that board's "
        "profiles (fit on operations, error from nested leave-one-out and leave-one-family-out)")
TARGETS = (("per_image_ms", "latency per image", "ms"), ("energy_per_image_mj", "energy per image", "mJ"))


def configure(parser):
    parser.add_argument("model", metavar="MODEL.onnx|NAME",
                        help="an ONNX file (its costs counted here) or a model name in --manifest or the profiles")
    parser.add_argument("--profiles", required=True, action="append", metavar="PATH",
                        help="the board's profiles: a folder such as profiles/<board>, or a file (repeatable)")
    parser.add_argument("--batch", type=positive_int, default=1, metavar="N",
                        help="batch size to predict for (the profiles must have runs at it; default 1)")
    parser.add_argument("--manifest", metavar="FILE", help="models/manifest.yaml to look NAME up in")
    parser.add_argument("--backend", help="use only profiles of this backend (when the folder has several)")
    parser.add_argument("--precision", help="use only profiles of this precision (when the folder has several)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    parser.add_argument("--no-index", action="store_true", help=store.NO_INDEX_HELP)


def counts_from_onnx(path):
    """paper_ops, macs, fc_macs and params of an ONNX file (at batch 1)."""
    try:
        from edgeprof import costs
        result = costs.analyze(path, batch=1)
    except ImportError as exc:  # numpy missing (onnx, where a model needs it, is MissingDependency)
        raise UsageError(f"counting {path} needs {exc.name or exc}; install it or give a model NAME with --manifest")
    return {"name": os.path.splitext(os.path.basename(path))[0], "paper_ops": result.paper_ops,
            "macs": result.macs, "fc_macs": result.fc_macs, "params": result.params}


def counts_from_name(name, manifest_path, dataset):
    """Counts of a model NAME from the manifest when given, else from the profiles."""
    if manifest_path:
        from edgeprof.records import manifest
        for entry in manifest.load(manifest_path)["models"]:
            if entry["name"] == name:
                return dict(entry)
    if name in dataset.models:
        return dict(dataset.models[name])
    where = f"{manifest_path} or the profiles" if manifest_path else "the profiles (give --manifest)"
    raise UsageError(f"model {name!r} is not in {where}; give its ONNX file instead")


def pick_setup(dataset, backend, precision):
    """The one (board, backend, precision) to fit on; refuses a mix."""
    setups = [s for s in dataset.setups if (backend is None or s.backend == backend)
              and (precision is None or s.precision == precision)]
    if not setups:
        raise UsageError(f"no profiles match --backend {backend} --precision {precision}; the profiles hold: "
                         + "; ".join(s.label for s in dataset.setups))
    if len(setups) > 1:
        raise UsageError("the profiles hold several setups (" + "; ".join(s.label for s in setups)
                         + "); pick one with --backend/--precision or give one board's folder")
    return setups[0]


def predict_all(samples, model):
    """Predictions of both targets; a target the profiles cannot predict says why."""
    out = {}
    for target, _, _ in TARGETS:
        try:
            out[target] = predict.predict_model(samples, target, model)
        except UsageError as exc:
            out[target] = {"status": "absent", "reason": str(exc)}
        else:
            out[target]["status"] = "ok"
    return out


def _score_line(cv):
    if cv["status"] != "ok":
        return f"    {cv['predictor']:6s} {cv['folds']}: {cv['reason']}"
    s = cv["score"]
    low, high = s["within_10pct_ci"]
    rho = "n/a" if s["spearman_rho"] is None else f"{s['spearman_rho']:.2f}"
    return (f"    {cv['predictor']:6s} {cv['folds']}: {100 * s['within_10pct_share']:.0f}% within +-10% "
            f"(95% CI {100 * low:.0f}-{100 * high:.0f}%), RMSPE {s['rmspe_pct']:.1f}%, "
            f"mean abs. error {s['mape_pct']:.1f}%, Spearman rho {rho}, {s['n']} models")


def _text(result):
    model, batch = result["model"], result["batch"]
    head = (f"{model['name']} on {result['setup']} at batch {batch} "
            f"({model['paper_ops'] / 1e9:.3f} G-Ops per image), fitted on {result['fitted_on']} models:")
    lines = [head]
    for target, label, unit in TARGETS:
        p = result["predictions"][target]
        if p["status"] != "ok":
            lines.append(f"  {label}: not predicted: {p['reason']}")
            continue
        error = "no error estimate (too few models to score out of sample)" if p["error_pct"] is None \
            else f"+-{p['error_pct']:.1f}% (nested leave-one-out RMSPE)"
        if p["error_family_pct"] is not None:
            error += f", +-{p['error_family_pct']:.1f}% for a new family (leave-one-family-out)"
        lines.append(f"  {label}: {p['value']:.3f} {unit}  {error}; "
                     f"predictor: {predict.PREDICTOR_LABELS[p['predictor']]}")
        lines.append("    out-of-sample scores (fits in relative error, 2 residual degrees of freedom each):")
        lines.extend(_score_line(cv) for cv in p["scores"])
    if result.get("measured"):
        lines.append("  measured on this board (left out of the fit): "
                     + ", ".join(f"{k} {v:.3f}" for k, v in sorted(result["measured"].items()) if v is not None))
    print("\n".join(lines))


def run(args):
    from edgeprof.reading.report import data, findings
    dataset = data.load(args.profiles, use_index=not args.no_index)
    setup = pick_setup(dataset, args.backend, args.precision)
    if args.model.endswith(".onnx"):
        if not os.path.isfile(args.model):
            raise InputFileError(f"no such model file: {args.model}")
        model = counts_from_onnx(args.model)
    else:
        model = counts_from_name(args.model, args.manifest, dataset)
    if model.get("paper_ops") is None:
        raise UsageError(f"model {model['name']!r} has no paper_ops count; give its ONNX file or a --manifest "
                         "that has its counts")
    all_samples = findings.samples(dataset, setup, args.batch)
    if not all_samples:
        raise UsageError(f"no profile of {setup.label} has an ok run at batch {args.batch}; choose another --batch")
    samples = [s for s in all_samples if s["name"] != model["name"]]
    left_out = [s for s in all_samples if s["name"] == model["name"]]
    result = {"model": {k: model.get(k) for k in ("name", "paper_ops", "macs", "fc_macs", "params")},
              "setup": setup.label, "batch": args.batch, "fitted_on": len(samples),
              "predictions": predict_all(samples, model)}
    if left_out:
        result["measured"] = {t: left_out[0].get(t) for t, _, _ in TARGETS}
    if args.json:
        print_json(result)
    else:
        _text(result)
    return 0
