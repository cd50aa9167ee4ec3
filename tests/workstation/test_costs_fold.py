"""Shapes computed by the graph are folded, and what still cannot be costed is said loudly: small
hand-built graphs in the shapes torchvision's Swin, ViT and MaxViT exports take.
"""
import json

import pytest

from edgeprof import costs
from edgeprof.costs import fold

onnx = pytest.importorskip("onnx")
numpy = pytest.importorskip("numpy")
helper, numpy_helper, TensorProto = onnx.helper, onnx.numpy_helper, onnx.TensorProto


def _const(name, values, dtype=numpy.int64):
    return helper.make_node("Constant", [], [name], value=numpy_helper.from_array(numpy.array(values, dtype=dtype), name))


def _save(tmp_path, nodes, input_dims, initializers=(), opsets=(("", 17),), name="m.onnx"):
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N"] + list(input_dims))],
        [helper.make_tensor_value_info(nodes[-1].output[0], TensorProto.FLOAT, None)],
        initializer=list(initializers))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid(d, v) for d, v in opsets])
    path = str(tmp_path / name)
    onnx.save(model, path)
    return path


def _weight(name, *dims):
    return numpy_helper.from_array(numpy.full(dims, 0.5, dtype=numpy.float32), name)


def _layer(result, op_type, index=0):
    return [layer for layer in result.layers if layer["op_type"] == op_type][index]


def _padded_windows(window=4):
    """Swin's padding: pad W up to a multiple of the window, amount ``(window - W % window) % window``
    computed from Shape, then Reshape into windows of ``window`` and a MatMul per window."""
    return [
        helper.make_node("Shape", ["x"], ["s"]), _const("i2", [2]), _const("win", [window]),
        _const("zeros", [0, 0, 0, 0, 0, 0]), _const("last", [0]),
        helper.make_node("Gather", ["s", "i2"], ["w"]),
        helper.make_node("Mod", ["w", "win"], ["rem"]),
        helper.make_node("Sub", ["win", "rem"], ["gap"]),
        helper.make_node("Mod", ["gap", "win"], ["pad_w"]),
        helper.make_node("Concat", ["zeros", "pad_w", "last"], ["pads"], axis=0),  # end of axis 2 (W)
        helper.make_node("Pad", ["x", "pads"], ["padded"]),
        _const("windows", [-1, window, 3]),
        helper.make_node("Reshape", ["padded", "windows"], ["win_x"]),
        helper.make_node("MatMul", ["win_x", "qkv"], ["y"]),
    ]


def test_padding_computed_with_mod_is_folded_so_the_windows_are_costed(tmp_path):
    path = _save(tmp_path, _padded_windows(), [2, 5, 3], [_weight("qkv", 3, 9)])
    result = costs.analyze(path, batch=2)
    assert result.complete and result.uncosted_layers == []
    matmul = _layer(result, "MatMul")
    assert matmul["output_shape"] == [2 * 2 * 8 // 4, 4, 9]
    assert matmul["macs"] == (2 * 2 * 8) * 9 * 3


def _attention_with_mask(tokens=6):
    """Scores of x against itself plus an additive mask built from the input's sizes only:
    zeros -> ScatterND a region id -> Equal -> Where(-100, 0), the way Swin masks shifted windows."""
    mask_region = numpy.array([[i] for i in range(tokens // 2, tokens)], dtype=numpy.int64)
    return [
        helper.make_node("Shape", ["x"], ["s"]), _const("i1", [1]),
        helper.make_node("Gather", ["s", "i1"], ["t"]),
        helper.make_node("Concat", ["t", "t"], ["square"], axis=0),
        helper.make_node("ConstantOfShape", ["t"], ["ids"], value=numpy_helper.from_array(numpy.zeros(1, numpy.float32))),
        helper.make_node("Constant", [], ["where"], value=numpy_helper.from_array(mask_region, "where")),
        _const("one", [1.0] * (tokens - tokens // 2), numpy.float32),
        helper.make_node("ScatterND", ["ids", "where", "one"], ["region"]),
        _const("row", [-1, 1]), _const("col", [1, -1]),
        helper.make_node("Reshape", ["region", "row"], ["r1"]),
        helper.make_node("Reshape", ["region", "col"], ["r2"]),
        helper.make_node("Equal", ["r1", "r2"], ["same"]),
        _const("minus", [-100.0], numpy.float32), _const("zero", [0.0], numpy.float32),
        helper.make_node("Where", ["same", "zero", "minus"], ["mask"]),
        helper.make_node("Transpose", ["x"], ["xt"], perm=[0, 2, 1]),
        helper.make_node("MatMul", ["x", "xt"], ["scores"]),
        helper.make_node("Add", ["scores", "mask"], ["masked"]),
        helper.make_node("Softmax", ["masked"], ["y"], axis=-1),
    ]


def test_a_mask_built_from_sizes_is_folded_and_costs_nothing(tmp_path):
    result = costs.analyze(_save(tmp_path, _attention_with_mask(), [6, 8]))
    assert result.complete
    for op_type in ("ConstantOfShape", "ScatterND", "Equal", "Where"):
        assert _layer(result, op_type)["paper_ops"] == 0, op_type
    assert _layer(result, "MatMul")["macs"] == 6 * 6 * 8
    assert _layer(result, "Add")["paper_ops"] == 6 * 6  # one activation input: the mask is a constant
    assert _layer(result, "Softmax")["paper_ops"] == 3 * 6 * 6


def test_the_folded_mask_has_the_values_onnx_semantics_give(tmp_path):
    nodes = _attention_with_mask()
    shapes, values = {"x": [1, 6, 8]}, fold.known_values(helper.make_graph(nodes, "g", [], []))
    graph = helper.make_graph(nodes, "g", [], [])
    fold.fold(graph, shapes, values)
    region = numpy.array([0, 0, 0, 1, 1, 1], dtype=numpy.float32)
    expected = numpy.where(region[:, None] == region[None, :], 0.0, -100.0)
    assert numpy.array_equal(values["mask"], expected)


def test_values_that_depend_on_the_input_are_never_folded(tmp_path):
    nodes = [_const("one", [1.0], numpy.float32), helper.make_node("Add", ["x", "one"], ["y"])]
    result = costs.analyze(_save(tmp_path, nodes, [4]))
    assert _layer(result, "Add")["paper_ops"] == 4


def test_range_trilu_expand_and_tile_fold_into_a_causal_mask(tmp_path):
    nodes = [helper.make_node("Shape", ["x"], ["s"]), _const("i1", [1]),
             helper.make_node("Gather", ["s", "i1"], ["t"]), _const("zero", 0), _const("step", 1),
             helper.make_node("Squeeze", ["t"], ["n"]),
             helper.make_node("Range", ["zero", "n", "step"], ["positions"]),
             helper.make_node("Concat", ["t", "t"], ["square"], axis=0),
             helper.make_node("Expand", ["positions", "square"], ["grid"]),
             helper.make_node("Trilu", ["grid"], ["upper"], upper=1),
             _const("reps", [1, 1]), helper.make_node("Tile", ["upper", "reps"], ["tiled"]),
             helper.make_node("Cast", ["tiled"], ["mask"], to=TensorProto.FLOAT),
             helper.make_node("Transpose", ["x"], ["xt"], perm=[0, 2, 1]),
             helper.make_node("MatMul", ["x", "xt"], ["scores"]),
             helper.make_node("Add", ["scores", "mask"], ["y"])]
    result = costs.analyze(_save(tmp_path, nodes, [5, 3]))
    assert result.complete
    add = _layer(result, "Add")
    assert add["output_shape"] == [1, 5, 5]
    assert add["paper_ops"] == 25  # one per element: the folded mask is a constant, not an activation


def test_a_value_too_large_to_fold_is_not_computed_but_its_shape_still_counts(tmp_path, monkeypatch):
    monkeypatch.setattr(fold, "MAX_ELEMENTS", 10)
    nodes = [helper.make_node("Shape", ["x"], ["s"]),
             helper.make_node("ConstantOfShape", ["s"], ["ones"],
                              value=numpy_helper.from_array(numpy.ones(1, numpy.float32))),
             helper.make_node("Mul", ["x", "ones"], ["y"])]
    result = costs.analyze(_save(tmp_path, nodes, [4, 4]))
    assert _layer(result, "ConstantOfShape")["paper_ops"] == 0  # a data-movement op in any case
    assert _layer(result, "Mul")["paper_ops"] == 16 and result.complete


def test_einsum_of_two_operands_costs_like_the_matmul_it_is(tmp_path):
    nodes = [helper.make_node("Reshape", ["x", "heads"], ["q"]),
             helper.make_node("Einsum", ["q", "q"], ["y"], equation="bhid,bhjd->bhij")]
    result = costs.analyze(_save(tmp_path, nodes, [6, 8], [numpy_helper.from_array(
        numpy.array([1, 2, 6, 4], dtype=numpy.int64), "heads")]))
    assert _layer(result, "Einsum")["macs"] == 2 * 6 * 6 * 4


def test_einsum_with_an_ellipsis_counts_the_broadcast_axes(tmp_path):
    nodes = [helper.make_node("Einsum", ["x", "w"], ["y"], equation="...ij,jk->...ik")]
    result = costs.analyze(_save(tmp_path, nodes, [3, 5, 4], [_weight("w", 4, 7)]))
    assert _layer(result, "Einsum")["macs"] == 3 * 5 * 7 * 4


# ---- unsupported vs uncosted ---------------------------------------------------------------------

def _custom_then_matmul(tmp_path):
    nodes = [helper.make_node("Relu", ["x"], ["r"]),
             helper.make_node("FancyOp", ["r"], ["f"], domain="my.ops"),
             helper.make_node("MatMul", ["f", "w"], ["y"])]
    return _save(tmp_path, nodes, [4], [_weight("w", 4, 3)], opsets=(("", 17), ("my.ops", 1)))


def test_an_op_without_a_rule_is_unsupported_and_what_follows_it_uncosted(tmp_path):
    result = costs.analyze(_custom_then_matmul(tmp_path))
    fancy, matmul = result.layers[1], result.layers[2]
    assert (fancy["costed"], matmul["costed"]) == (False, False)
    assert fancy["reason"] == "unsupported: edgeprof has no rule for FancyOp (domain my.ops)"
    assert matmul["reason"].startswith("uncosted: shape of 'f'")
    assert (result.unsupported_ops, result.uncosted_ops) == (["FancyOp"], ["MatMul"])
    assert result.uncosted_layers == [fancy["name"], matmul["name"]]


def test_totals_with_a_layer_not_costed_are_lower_bounds(tmp_path):
    result = costs.analyze(_custom_then_matmul(tmp_path))
    summary = result.summary()
    assert (summary["complete"], summary["lower_bound"], summary["paper_ops"]) == (False, True, 4)
    assert any("lower bounds" in note for note in result.notes)


def test_a_complete_model_says_so(tmp_path):
    result = costs.analyze(_save(tmp_path, [helper.make_node("Relu", ["x"], ["y"])], [4]))
    assert (result.complete, result.summary()["lower_bound"], result.layers[0]["costed"]) == (True, False, True)
    assert result.layers[0]["reason"] is None


def test_inspect_names_the_layers_it_could_not_cost_and_says_at_least(cli, tmp_path):
    done = cli(["inspect", _custom_then_matmul(tmp_path)])
    assert done.returncode == 0, done.stderr
    assert "MACs (multiply-accumulates, torchvision's GFLOPS):  at least 0 " in done.stdout
    assert "unsupported ops:" in done.stdout and "FancyOp" in done.stdout
    assert "not costed: " in done.stdout and "2 layers, totals are lower bounds" in done.stdout
    assert "(MatMul)" in done.stdout


def test_inspect_json_marks_each_layer_and_the_totals(cli, tmp_path):
    data = json.loads(cli(["inspect", _custom_then_matmul(tmp_path), "--json", "--layers"]).stdout)
    assert (data["complete"], data["lower_bound"], data["unsupported_ops"]) == (False, True, ["FancyOp"])
    assert [layer["costed"] for layer in data["layers"]] == [True, False, False]
    assert data["layers"][2]["reason"].startswith("uncosted")


def test_inspect_layers_tells_unsupported_from_shapeless(cli, tmp_path):
    lines = cli(["inspect", _custom_then_matmul(tmp_path), "--layers"]).stdout.splitlines()
    assert "unsupported" in next(line for line in lines if " FancyOp " in line)
    assert "no shape" in next(line for line in lines if " MatMul " in line)


def test_a_matmul_reading_a_transposed_weight_is_a_fully_connected_layer_holding_it(tmp_path):
    # nn.Linear on a rank-3 input, exported without constant folding: MatMul(x, Transpose(W)) + b
    nodes = [helper.make_node("Transpose", ["w"], ["wt"], perm=[1, 0]),
             helper.make_node("MatMul", ["x", "wt"], ["h"]), helper.make_node("Add", ["h", "b"], ["y"])]
    result = costs.analyze(_save(tmp_path, nodes, [5, 8], [_weight("w", 3, 8), _weight("b", 3)]))
    assert [layer["params"] for layer in result.layers] == [0, 24, 3]
    assert (result.fc_params, result.fc_macs) == (27, 5 * 3 * 8)
