"""fp16 and int8 ONNX files derived from a model's fp32 file, each its own manifest variant.

- fp16: onnxconverter-common's ``float16.convert_float_to_float16(model, keep_io_types=True)``
  (onnxconverter-common v1.16.0, ``onnxconverter_common/float16.py``): weights and activations in
  fp16, the graph's input and output stay fp32 (Cast nodes at both ends), so a sweep feeds it the
  same fp32 batch. The converter clamps weights to the fp16 range it trusts (magnitudes under 1e-7
  become ±1e-7, over 1e4 become ±1e4) and warns once per tensor; edgeprof counts the clamped
  values itself and logs one line instead.
- int8: ONNX Runtime's static quantization, ``quantize_static`` in QDQ format with per-channel
  weights, int8 activations and weights (S8S8, which ONNX Runtime's quantization guide calls the
  default and first choice on CPU), MinMax calibration on a :class:`~edgeprof.workstation.calibration.CalibrationSet`.
  The fp32 file first goes through ``quant_pre_process`` (symbolic and ONNX shape inference and
  ONNX Runtime's graph optimisation, which the guide recommends before quantizing). Per-channel
  QDQ needs ``DequantizeLinear`` with an axis: opset 13 or later.

ONNX Runtime 1.10 (JetPack 4.6) refuses a model that imports an operator-set domain at a version it
does not know, and the optimised model written by a current ONNX Runtime imports every domain it
knows (``ai.onnx.ml`` 5, ``com.microsoft``, ...) although no node uses them: imports no node
uses are dropped before the file is saved. Both variants are then run by ONNX Runtime next to the
fp32 file on the same batch and the difference is recorded (not a pass/fail check: int8 logits of
a random-weight network differ by design).

onnx, onnxruntime and onnxconverter-common are imported inside the functions.
"""
import contextlib
import logging
import os
import shutil
import tempfile
import time

from edgeprof.errors import ExportError, MissingDependency, UsageError
from edgeprof.records.files import sha256_file
from edgeprof.records.profile import now_iso

log = logging.getLogger("edgeprof")

PRECISIONS = ("fp32", "fp16", "int8")
VARIANTS = ("fp16", "int8")
INT8_MIN_OPSET = 13
# fp16 limits onnxconverter-common applies by default (convert_float_to_float16's min_positive_val
# and max_finite_val), used here only to count the values it clamps.
FP16_MIN_POSITIVE = 1e-7
FP16_MAX_FINITE = 1e4
CHECK_BATCH = 2
PROGRESS_SECONDS = 10.0


def check_int8_tools():
    """Raise :class:`MissingDependency` unless this onnxruntime has ``quant_pre_process`` (1.13 and later)."""
    try:
        from onnxruntime.quantization.shape_inference import quant_pre_process  # noqa: F401
    except ImportError as exc:
        raise MissingDependency("--precision int8 needs onnxruntime 1.13 or later on the workstation "
                                "(onnxruntime.quantization.shape_inference.quant_pre_process: %s); "
                                "pip install -U onnxruntime" % exc)


def variant_file(name, precision):
    """``<name>.<precision>.onnx``: the variant's file next to the fp32 ``<name>.onnx``."""
    return "%s.%s.onnx" % (name, precision)


def _input_name(model):
    initializers = set(t.name for t in model.graph.initializer)
    names = [i.name for i in model.graph.input if i.name not in initializers]
    if len(names) != 1:
        raise ExportError("int8 calibration feeds one image input; this graph has %d (%s)"
                          % (len(names), ", ".join(names)))
    return names[0]


def drop_unused_domains(model):
    """Remove operator-set imports of domains no node uses (the default domain always stays)."""
    used = set(node.domain or "" for node in model.graph.node)
    for function in getattr(model, "functions", ()):
        used.update(node.domain or "" for node in function.node)
    keep = [o for o in model.opset_import if (o.domain or "") in used or o.domain in ("", "ai.onnx")]
    del model.opset_import[:]
    model.opset_import.extend(keep)
    return model


def count_fp16_clamped(model):
    """How many weight values onnxconverter-common's fp16 conversion changes: (tiny, huge)."""
    import numpy as np
    import onnx
    from onnx import numpy_helper
    tiny = huge = 0
    for tensor in model.graph.initializer:
        if tensor.data_type != onnx.TensorProto.FLOAT:
            continue
        values = np.abs(numpy_helper.to_array(tensor))
        tiny += int(np.count_nonzero((values > 0) & (values < FP16_MIN_POSITIVE)))
        huge += int(np.count_nonzero(values > FP16_MAX_FINITE))
    return tiny, huge


def to_fp16(source, dest, name="model"):
    """Write the fp16 variant of ``source`` to ``dest``; returns the ``made_by`` string and notes."""
    import warnings

    import onnx
    import onnxconverter_common
    from onnxconverter_common import float16
    model = onnx.load(source)
    tiny, huge = count_fp16_clamped(model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # one warning per clamped tensor: counted above instead
        converted = float16.convert_float_to_float16(model, keep_io_types=True)
    onnx.save(drop_unused_domains(converted), dest)
    if tiny or huge:
        log.info("%-14s fp16: %d weight values under %g in magnitude raised to it, %d over %g lowered to it "
                 "(onnxconverter-common's fp16 limits)", name, tiny, FP16_MIN_POSITIVE, huge, FP16_MAX_FINITE)
    made_by = "onnxconverter-common %s float16 keep_io_types" % onnxconverter_common.__version__
    return made_by, {"clamped_values": tiny + huge}


@contextlib.contextmanager
def _quiet_quantizer():
    """Hide ONNX Runtime's per-tensor info lines (``logging.info`` on the root logger, and its own logger)."""
    root = logging.getLogger()
    ort = logging.getLogger("onnxruntime")

    def below_warning(record):
        return record.levelno >= logging.WARNING

    old_level = ort.level
    root.addFilter(below_warning)
    ort.setLevel(logging.WARNING)
    try:
        yield
    finally:
        root.removeFilter(below_warning)
        ort.setLevel(old_level)


def _reader(calibration, preprocess, input_name, name):
    from onnxruntime.quantization import CalibrationDataReader

    class Reader(CalibrationDataReader):
        """Feeds the calibration set one image at a time (MinMax keeps only per-tensor ranges)."""

        def __init__(self):
            self._inputs = calibration.inputs(preprocess, input_name)
            self._fed = 0
            self._said = time.time()

        def get_next(self):
            if time.time() - self._said >= PROGRESS_SECONDS:
                log.info("%-14s int8 calibration: %d of %d images", name, self._fed, calibration.count)
                self._said = time.time()
            self._fed += 1
            return next(self._inputs, None)

    return Reader()


def to_int8(source, dest, calibration, preprocess, name="model"):
    """Write the int8 (QDQ, per-channel, MinMax) variant of ``source`` to ``dest``.

    Returns:
        (made_by, extra fields for the manifest: ``calibration``).
    """
    import onnx
    import onnxruntime
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process
    model = onnx.load(source, load_external_data=False)
    opset = max([o.version for o in model.opset_import if o.domain in ("", "ai.onnx")] or [0])
    if opset < INT8_MIN_OPSET:
        raise UsageError("int8 needs opset %d or later (per-channel QDQ), %s has %d: export it with --opset %d"
                         % (INT8_MIN_OPSET, source, opset, INT8_MIN_OPSET))
    input_name = _input_name(model)
    work = tempfile.mkdtemp(prefix="edgeprof-int8-", dir=os.path.dirname(os.path.abspath(dest)))
    try:
        prepared = os.path.join(work, "prepared.onnx")
        quantized = os.path.join(work, "quantized.onnx")
        with _quiet_quantizer():
            quant_pre_process(source, prepared)
            quantize_static(prepared, quantized, _reader(calibration, preprocess, input_name, name),
                            quant_format=QuantFormat.QDQ, per_channel=True, activation_type=QuantType.QInt8,
                            weight_type=QuantType.QInt8, calibrate_method=CalibrationMethod.MinMax)
        onnx.save(drop_unused_domains(onnx.load(quantized)), dest)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    version = onnxruntime.__version__
    return ("onnxruntime %s quantize_static QDQ per-channel MinMax" % version,
            {"calibration": calibration.describe()})


def compare_with_fp32(fp32_path, variant_path, preprocess, calibration):
    """Run both files in ONNX Runtime (CPU) on the same batch: the logits' largest difference."""
    import numpy as np
    import onnxruntime
    sessions = [onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
                for path in (fp32_path, variant_path)]
    name = sessions[0].get_inputs()[0].name
    feeds = []
    for feed in calibration.inputs(preprocess, name):
        feeds.append(feed[name])
        if len(feeds) == CHECK_BATCH:
            break
    batch = np.concatenate(feeds)
    expected, got = [np.asarray(session.run(None, {name: batch})[0], dtype=np.float64) for session in sessions]
    if got.shape != expected.shape:
        raise ExportError("%s gives logits of shape %s, the fp32 file %s" % (variant_path, got.shape, expected.shape))
    return {"max_abs_diff": float(np.max(np.abs(got - expected))), "fp32_max_abs": float(np.max(np.abs(expected))),
            "top1_agreement": float(np.mean(got.argmax(axis=1) == expected.argmax(axis=1))),
            "batch": int(batch.shape[0]), "onnxruntime": onnxruntime.__version__}


def make_variant(entry, out_dir, precision, calibration):
    """Make one variant of a manifest entry's fp32 file; returns its ``variants[precision]`` mapping.

    The file is written under a temporary name and replaces ``<name>.<precision>.onnx`` only once it
    has run next to the fp32 file.
    """
    started = time.time()
    source = os.path.join(out_dir, entry["file"])
    file_name = variant_file(entry["name"], precision)
    path = os.path.join(out_dir, file_name)
    tmp = os.path.join(out_dir, "." + file_name + ".tmp")
    preprocess = entry["preprocess"]
    try:
        if precision == "fp16":
            made_by, extra = to_fp16(source, tmp, entry["name"])
        elif precision == "int8":
            made_by, extra = to_int8(source, tmp, calibration, preprocess, entry["name"])
        else:
            raise UsageError("--precision %s: variants are %s" % (precision, ", ".join(VARIANTS)))
        check = compare_with_fp32(source, tmp, preprocess, calibration)
        os.rename(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    variant = {"file": file_name, "sha256": sha256_file(path), "file_bytes": os.path.getsize(path),
               "made_by": made_by, "from_sha256": entry["sha256"], "check": check, "exported": now_iso(),
               "export_seconds": round(time.time() - started, 2)}
    # params, MACs and the FC share are the fp32 model's (docs/analysis-conventions.md, precision variants);
    # the bytes the weights take are the variant's own: about 1/2 for fp16, 1/4 for int8
    from edgeprof import costs
    variant["weight_bytes"] = costs.analyze(path).weight_bytes
    variant.update(extra)
    return variant


def is_current(variant, entry, out_dir, precision, calibration, force):
    """Whether an existing variant can stay: made from this fp32 file, intact, and (int8) from this set.

    Without ``--calib-dir`` an int8 variant calibrated on images is kept (a random set would only
    make it worse), and a random one only if it was made from as many random images; ``--force``
    makes every asked variant again.
    """
    if force or not variant or variant.get("from_sha256") != entry.get("sha256"):
        return False
    path = os.path.join(out_dir, variant.get("file") or "")
    if not os.path.isfile(path) or sha256_file(path) != variant.get("sha256"):
        return False
    if precision == "int8":
        recorded = variant.get("calibration") or {}
        return calibration.same_as(recorded) or (calibration.random and not recorded.get("random", True))
    return True


def update_variants(entry, old, out_dir, precisions, calibration, force=False):
    """Fill ``entry["variants"]``: keep the old entry's current ones, make those asked for and missing.

    Args:
        entry: the model's manifest entry (its fp32 file in place); changed in place.
        old: the entry the manifest had before (or None), whose variants may be kept.
        precisions: the precisions asked for (fp32 is always the entry itself).
        calibration: a :class:`~edgeprof.workstation.calibration.CalibrationSet` for int8.

    Returns:
        list of (precision, "unchanged" | "made" | "FAILED", message or None), one per variant asked.
    """
    kept = {}
    for precision, variant in sorted(((old or {}).get("variants") or {}).items()):
        if variant.get("from_sha256") == entry["sha256"]:
            kept[precision] = variant
        else:
            log.warning("%-14s %s variant dropped: it was made from an older fp32 file (export with "
                        "--precision %s to make it again)", entry["name"], precision, precision)
    if kept:
        entry["variants"] = kept
    else:
        entry.pop("variants", None)
    done = []
    for precision in precisions:
        if precision == "fp32":
            continue
        if is_current(kept.get(precision), entry, out_dir, precision, calibration, force):
            done.append((precision, "unchanged", None))
            _progress(entry["name"], precision, "kept", kept[precision])
            continue
        if precision == "int8" and calibration.random:
            log.warning("%-14s int8 CALIBRATED ON RANDOM DATA (no --calib-dir): its timing is real, its accuracy "
                        "means nothing; give --calib-dir with images of the model's task", entry["name"])
        try:
            kept[precision] = make_variant(entry, out_dir, precision, calibration)
        except Exception as exc:  # one variant's failure must not lose the others
            message = " ".join(str(exc).split()) or type(exc).__name__
            log.debug("%s variant of %s failed", precision, entry["name"], exc_info=True)
            log.error("%-14s %s FAILED: %s", entry["name"], precision, message)
            done.append((precision, "FAILED", message))
            continue
        entry["variants"] = kept
        done.append((precision, "made", None))
        _progress(entry["name"], precision, "made", kept[precision])
    return done


def _progress(name, precision, what, variant):
    check = variant.get("check") or {}
    log.info("%-14s %-9s %6.1f s  %8.1f MB  max|diff| vs fp32 %s  -> %s", name, "%s %s" % (precision, what),
             variant.get("export_seconds") or 0.0, (variant.get("file_bytes") or 0) / 1e6,
             "%.2g" % check["max_abs_diff"] if "max_abs_diff" in check else "n/a", variant["file"])
