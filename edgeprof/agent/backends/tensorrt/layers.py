"""Per-layer facts: what the engine inspector says of each layer, and which layers count as fully connected.

Real inspector JSON (TRT release/10.13, ``tools/experimental/trt-engine-explorer/examples/pytorch/resnet/
*/*.graph.json``) names kernels in ``LayerType`` (``CaskConvolution``, ``CublasConvolution``, ``NoOp``,
``Reformat``, ``CaskPooling``, ``CudaSoftMax``...), never the network's "FullyConnected". The FC layer
``Gemm_48`` of those engines is a ``CaskConvolution`` with ``"ParameterType": "Convolution"``, next to
``reshape_after_Gemm_48`` and "Reformatting CopyNode for Input Tensor 0 to reshape_after_Gemm_48", which
only move data. ``Metadata`` (where present) holds the ONNX nodes a layer came from, as
``[ONNX Layer: /fc/Gemm]``. So :func:`is_fc_layer` decides by, in order: a ``ParameterType`` (or
``LayerType``) of FullyConnected / MatrixMultiply; never for layers that only move data; else the ONNX
nodes in ``Metadata`` or, without it, in the layer's name (TensorRT joins fused nodes with " + "): FC when
one is a Gemm or MatMul and none a Conv (a Myelin ``{ForeignNode[...]}`` mixing both counts as not FC).
"""
import json
import logging
import re

log = logging.getLogger("edgeprof.tensorrt")

FC_RULE = ("ParameterType FullyConnected/MatrixMultiply; else the layer's ONNX nodes (inspector Metadata, else "
           "its name) include a Gemm/MatMul and no Conv; reformat, no-op and shuffle layers never")
_FC_KINDS = ("FullyConnected", "MatrixMultiply")
_DATA_MOVEMENT_KINDS = ("Reformat", "NoOp", "Shuffle")
_DATA_MOVEMENT_NAME_RE = re.compile(r"^Reformatting CopyNode|^(reshape|shuffle)_(before|after|between)_",
                                    re.IGNORECASE)
_FC_NODE_RE = re.compile(r"gemm|matmul|(^|[^a-z])fc", re.IGNORECASE)
_CONV_NODE_RE = re.compile(r"(^|[^a-z])conv", re.IGNORECASE)
_ONNX_NODE_RE = re.compile(r"\[ONNX Layer: ([^\]]*)\]")


def onnx_nodes(name, metadata):
    """The ONNX node names a layer came from: from the inspector's ``Metadata``, else from its name."""
    nodes = _ONNX_NODE_RE.findall(metadata or "")
    return nodes or [part.strip() for part in (name or "").split(" + ")]


def is_fc_layer(name, info=None):
    """Whether layer ``name`` counts as fully connected for ``fc_share`` (``info``: its inspector entry)."""
    info = info or {}
    kinds = (info.get("ParameterType"), info.get("LayerType"))
    if any(kind in _FC_KINDS for kind in kinds):
        return True
    if any(kind in _DATA_MOVEMENT_KINDS for kind in kinds) or _DATA_MOVEMENT_NAME_RE.search(name or ""):
        return False
    nodes = onnx_nodes(name, info.get("Metadata"))
    return any(_FC_NODE_RE.search(n) for n in nodes) and not any(_CONV_NODE_RE.search(n) for n in nodes)


def inspector_layers(trt, engine):
    """``{layer name: inspector entry (dict)}`` from the engine inspector (8.2+, detailed verbosity), else {}."""
    if not hasattr(engine, "create_engine_inspector"):
        return {}
    try:
        inspector = engine.create_engine_inspector()
        info = json.loads(inspector.get_engine_information(trt.LayerInformationFormat.JSON))
    except (AttributeError, RuntimeError, TypeError, ValueError) as exc:  # layer times still stand
        log.debug("engine inspector unavailable: %s", exc)
        return {}
    return {layer["Name"]: layer for layer in info.get("Layers", []) if isinstance(layer, dict) and "Name" in layer}


def layer_rows(timed, entries):
    """``layer_times_ms`` rows from ``[(name, mean ms)]`` and :func:`inspector_layers`."""
    rows = []
    for name, ms in timed:
        entry = entries.get(name, {})
        rows.append({"name": name, "type": entry.get("LayerType"), "parameter_type": entry.get("ParameterType"),
                     "mean_ms": round(ms, 6), "fc": is_fc_layer(name, entry)})
    return rows


def fc_share(rows):
    """The share of the summed layer time spent in FC layers (None when nothing was timed)."""
    total = sum(row["mean_ms"] for row in rows)
    fc = sum(row["mean_ms"] for row in rows if row["fc"])
    return round(fc / total, 4) if total > 0 else None
