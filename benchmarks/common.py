"""What the benchmarks share: the model they time, and the flags that choose it."""
import os
import tempfile


def add_model_arguments(parser):
    parser.add_argument("--model", help="ONNX file (default: resnet18 with random weights, exported to a temp file)")
    parser.add_argument("--batch", type=int, default=1)


def model_path(given):
    """``given``, or a random-weight torchvision resnet18 exported as ONNX opset 13 with a dynamic batch axis."""
    if given:
        return given
    import torch
    import torchvision
    path = os.path.join(tempfile.mkdtemp(), "resnet18.onnx")
    model = torchvision.models.resnet18(weights=None).eval()
    torch.onnx.export(model, (torch.randn(1, 3, 224, 224),), path, input_names=["input"], output_names=["logits"],
                      opset_version=13, dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}}, dynamo=False)
    return path
