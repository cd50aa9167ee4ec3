"""The layers a stand-in engine has, as the profiler reports them and the engine inspector describes them (S2).

Shaped after real engines (TRT release/10.13 ``tools/experimental/trt-engine-explorer/examples/pytorch/
resnet/{A100,RTX-3090}/*/resnet*.graph.json``, review finding 9): ``LayerType`` is the kernel kind
(``CaskConvolution``, ``CaskPooling``, ``CudaSoftMax``, ``NoOp``, ``Reformat``...), never the network's
"FullyConnected"; a ``ParameterType`` says what the layer computes; the FC layer ``Gemm_48`` runs as a
``CaskConvolution`` with ``"ParameterType": "Convolution"`` between ``reshape_before_Gemm_48`` /
``reshape_after_Gemm_48`` (NoOp) and "Reformatting CopyNode for Input Tensor 0 to reshape_after_Gemm_48"
(Reformat), which only move data and whose names hold "Gemm". ``Metadata`` holds the ONNX nodes a layer
came from (``[ONNX Layer: Gemm_48]``, joined by U+001E); only the 10.x stand-in writes it (the review
cites it from the 10.13 examples only, so the 8.2 stand-in leaves it out, which asks more of the code).
Q/DQ layers are fused into their neighbours and have no engine layer of their own.
"""
import json

# network layer type -> (inspector LayerType, ParameterType). MatrixMultiply's kernel name is not in
# the review's examples: "CaskGemmMatrixMultiply" is a stand-in name; its ParameterType is as cited.
KERNELS = {
    "Convolution": ("CaskConvolution", "Convolution"),
    "Pooling": ("CaskPooling", "Pooling"),
    "SoftMax": ("CudaSoftMax", "SoftMax"),
    "MatrixMultiply": ("CaskGemmMatrixMultiply", "MatrixMultiply"),
    "Activation": ("PointWiseV2", "PointWise"),
    "Shuffle": ("NoOp", None),
}
REFORMAT_MS = 0.05  # what the profiler reports for the reformat copy after an FC layer
FUSED = ("Quantize", "Dequantize")


def _layer(name, kind, parameter_type, nodes, ms):
    return {"Name": name, "LayerType": kind, "ParameterType": parameter_type, "onnx": list(nodes), "ms": ms}


def engine_layers(model_layers):
    """``[{"Name", "LayerType", "ParameterType", "onnx", "ms"}]`` of an engine built from the model's layers.

    A model layer is ``[name, network type, ms]``, or with a 4th item, the ONNX node names it came from
    (default: its name split at " + ", as TensorRT names fused layers).
    """
    layers = []
    for entry in model_layers:
        name, kind, ms = entry[:3]
        nodes = entry[3] if len(entry) > 3 else [part.strip() for part in name.split(" + ")]
        if kind in FUSED:
            continue
        if kind == "FullyConnected":
            layers.append(_layer("reshape_before_" + name, "NoOp", None, nodes, 0.0))
            layers.append(_layer(name, "CaskConvolution", "Convolution", nodes, ms))
            layers.append(_layer("Reformatting CopyNode for Input Tensor 0 to reshape_after_" + name, "Reformat",
                                 "Reformat", [], REFORMAT_MS))
            layers.append(_layer("reshape_after_" + name, "NoOp", None, nodes, 0.0))
        else:
            kernel, parameter_type = KERNELS.get(kind, (kind, kind))
            layers.append(_layer(name, kernel, parameter_type, nodes, ms))
    return layers


def inspector_json(spec, metadata):
    """``get_engine_information(JSON)`` of an engine: layer names only unless built with detailed verbosity."""
    layers = engine_layers(spec["model"]["layers"])
    bindings = [n for n, _, _ in spec["model"]["inputs"] + spec["model"]["outputs"]]
    if not spec.get("detailed"):
        return json.dumps({"Layers": [layer["Name"] for layer in layers], "Bindings": bindings})
    entries = []
    for layer in layers:
        entry = {"Name": layer["Name"], "LayerType": layer["LayerType"], "Inputs": [], "Outputs": [],
                 "TacticValue": "0x0000000000000000"}
        if layer["ParameterType"] is not None:
            entry["ParameterType"] = layer["ParameterType"]
        if metadata and layer["onnx"]:
            entry["Metadata"] = "\x1e".join("[ONNX Layer: %s]" % node for node in layer["onnx"])
        entries.append(entry)
    return json.dumps({"Layers": entries, "Bindings": bindings})
