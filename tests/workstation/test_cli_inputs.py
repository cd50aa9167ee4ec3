"""Workstation-side bad input at the CLI: one line, exit 2."""
import os

import onnx

from conftest import TINY_ONNX


def test_onnx_only_flags_without_onnx_are_refused(cli, tmp_path):
    result = cli(["export", "--models", "resnet18", "--top1", "70", "--out", str(tmp_path)])
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "--top1: only for a model given with --onnx PATH" in result.stderr
    assert not os.listdir(str(tmp_path))


def test_sweeping_a_bare_onnx_with_a_fixed_batch_says_to_export_it_again(cli, tmp_path, empty_root):
    model = onnx.load(TINY_ONNX)
    for value_info in list(model.graph.input) + list(model.graph.output):
        value_info.type.tensor_type.shape.dim[0].dim_value = 4
    path = str(tmp_path / "fixed4.onnx")
    onnx.save(model, path)
    result = cli(["sweep", "--models", path, "--out", str(tmp_path / "out"), "--batch", "4", "--power", "none"])
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].endswith("needs a dynamic batch axis: export the model again with one")
