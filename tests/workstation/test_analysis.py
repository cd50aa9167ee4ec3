"""edgeprof.costs and ``edgeprof inspect``: counting rules on small hand-built graphs, exact
agreement with torchvision on exported models, and clear errors for bad files.

The full zoo (VGG, ResNet-34..152, Inception-v3) and one classifier of each modern family run
with EDGEPROF_SLOW=1; ``make check-analysis`` (tools/check_analysis.py) checks every torchvision
classifier, and the table it produced is in docs/analysis-conventions.md.
"""
import json
import os
import struct

import pytest

from conftest import check_analysis_tool
from edgeprof import costs
from edgeprof.errors import InputFileError, UsageError

onnx = pytest.importorskip("onnx")
helper, TensorProto = onnx.helper, onnx.TensorProto

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SLOW = pytest.mark.skipif(not os.environ.get("EDGEPROF_SLOW"), reason="exports big models; set EDGEPROF_SLOW=1")


def _check_tool():
    return check_analysis_tool()


def _weight(name, *dims):
    """A float32 initializer stored as raw bytes (as exporters write them)."""
    values = struct.pack("<%df" % _count(dims), *([0.5] * _count(dims)))
    return helper.make_tensor(name, TensorProto.FLOAT, dims, values, raw=True)


def _count(dims):
    total = 1
    for dim in dims:
        total *= dim
    return total


def _save(tmp_path, nodes, input_dims, initializers=(), batch="N", name="m.onnx"):
    """Write a one-input model; the output shapes are left to shape inference."""
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch] + list(input_dims))],
        [helper.make_tensor_value_info(nodes[-1].output[0], TensorProto.FLOAT, None)],
        initializer=list(initializers))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    path = str(tmp_path / name)
    onnx.save(model, path)
    return path


def _one_layer(tmp_path, node, input_dims, initializers=()):
    result = costs.analyze(_save(tmp_path, [node], input_dims, initializers))
    return result, result.layers[0]


# ---- counting rules, one op at a time -------------------------------------------------------

def test_conv_macs_are_output_elements_times_kernel_times_input_channels_per_group(tmp_path):
    node = helper.make_node("Conv", ["x", "w"], ["y"], group=2, strides=[2, 2], pads=[1, 1, 1, 1])
    _, layer = _one_layer(tmp_path, node, [4, 8, 8], [_weight("w", 6, 2, 3, 3)])
    assert layer["output_shape"] == [1, 6, 4, 4]
    assert layer["macs"] == 6 * 4 * 4 * (2 * 3 * 3)


def test_conv_paper_ops_are_two_per_mac_plus_one_per_bias_element(tmp_path):
    node = helper.make_node("Conv", ["x", "w", "b"], ["y"], pads=[1, 1, 1, 1])
    _, layer = _one_layer(tmp_path, node, [3, 5, 5], [_weight("w", 4, 3, 3, 3), _weight("b", 4)])
    assert layer["paper_ops"] == 2 * layer["macs"] + 4 * 5 * 5


def test_dilated_conv_with_auto_pad_uses_the_inferred_output_size(tmp_path):
    node = helper.make_node("Conv", ["x", "w"], ["y"], dilations=[2, 2], auto_pad="SAME_UPPER")
    _, layer = _one_layer(tmp_path, node, [2, 9, 9], [_weight("w", 3, 2, 3, 3)])
    assert layer["output_shape"] == [1, 3, 9, 9]
    assert layer["macs"] == 3 * 9 * 9 * 2 * 9


def test_conv_transpose_spreads_each_input_element_over_the_kernel(tmp_path):
    node = helper.make_node("ConvTranspose", ["x", "w"], ["y"], strides=[2, 2])
    _, layer = _one_layer(tmp_path, node, [4, 3, 3], [_weight("w", 4, 5, 2, 2)])
    assert layer["output_shape"] == [1, 5, 6, 6]
    assert layer["macs"] == 4 * 3 * 3 * (5 * 2 * 2)


def test_gemm_with_transposed_weight_is_a_fully_connected_layer(tmp_path):
    node = helper.make_node("Gemm", ["x", "w", "b"], ["y"], transB=1)
    result, layer = _one_layer(tmp_path, node, [10], [_weight("w", 7, 10), _weight("b", 7)])
    assert (layer["macs"], layer["paper_ops"], layer["params"]) == (70, 2 * 70 + 7, 77)
    assert (result.fc_params, result.fc_macs) == (77, 70)


def test_matmul_with_a_weight_and_its_bias_add_count_as_one_fully_connected_layer(tmp_path):
    nodes = [helper.make_node("MatMul", ["x", "w"], ["h"]), helper.make_node("Add", ["h", "b"], ["y"])]
    result = costs.analyze(_save(tmp_path, nodes, [5, 8], [_weight("w", 8, 3), _weight("b", 3)]))
    assert result.layers[0]["macs"] == 5 * 3 * 8
    assert (result.fc_params, result.fc_macs) == (8 * 3 + 3, 5 * 3 * 8)


def test_matmul_of_two_activations_costs_macs_but_holds_no_params(tmp_path):
    nodes = [helper.make_node("Transpose", ["x"], ["t"], perm=[0, 2, 1]),
             helper.make_node("MatMul", ["x", "t"], ["y"])]
    result = costs.analyze(_save(tmp_path, nodes, [4, 6]))
    assert result.layers[1]["macs"] == 4 * 4 * 6
    assert (result.params, result.fc_macs) == (0, 0)


def test_pooling_costs_kernel_area_per_output_element(tmp_path):
    node = helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[3, 3], strides=[2, 2])
    _, layer = _one_layer(tmp_path, node, [2, 9, 9], [])
    assert layer["output_shape"] == [1, 2, 4, 4]
    assert (layer["macs"], layer["paper_ops"]) == (0, 2 * 4 * 4 * 9)


def test_global_average_pool_costs_one_op_per_input_element(tmp_path):
    _, layer = _one_layer(tmp_path, helper.make_node("GlobalAveragePool", ["x"], ["y"]), [3, 7, 7])
    assert layer["paper_ops"] == 3 * 7 * 7


def test_residual_add_costs_two_ops_per_element_and_relu_one(tmp_path):
    nodes = [helper.make_node("Relu", ["x"], ["r"]), helper.make_node("Add", ["x", "r"], ["y"])]
    result = costs.analyze(_save(tmp_path, nodes, [4, 5]))
    assert [layer["paper_ops"] for layer in result.layers] == [20, 40]


def test_adding_a_constant_costs_one_op_per_element(tmp_path):
    _, layer = _one_layer(tmp_path, helper.make_node("Add", ["x", "c"], ["y"]), [4, 5], [_weight("c", 5)])
    assert layer["paper_ops"] == 20


def test_batchnorm_costs_nothing_and_its_running_statistics_are_not_params(tmp_path):
    node = helper.make_node("BatchNormalization", ["x", "s", "b", "m", "v"], ["y"])
    stats = [_weight(name, 3) for name in ("s", "b", "m", "v")]
    result, layer = _one_layer(tmp_path, node, [3, 4, 4], stats)
    assert (layer["macs"], layer["paper_ops"], result.params) == (0, 0, 6)
    assert result.weight_bytes == 4 * 3 * 4


def test_lrn_costs_its_window_size_per_element(tmp_path):
    _, layer = _one_layer(tmp_path, helper.make_node("LRN", ["x"], ["y"], size=5), [8, 3, 3])
    assert layer["paper_ops"] == 8 * 3 * 3 * 5


def test_resize_with_scales_costs_one_op_per_output_element(tmp_path):
    scales = helper.make_tensor("scales", TensorProto.FLOAT, [4], [1, 1, 2, 2])
    node = helper.make_node("Resize", ["x", "", "scales"], ["y"], mode="nearest")
    result, layer = _one_layer(tmp_path, node, [3, 4, 4], [scales])
    assert layer["output_shape"] == [1, 3, 8, 8]
    assert (layer["paper_ops"], result.params) == (3 * 8 * 8, 0)


def test_shape_ops_with_a_constant_node_cost_nothing_and_are_not_layers(tmp_path):
    shape = helper.make_tensor("shape", TensorProto.INT64, [2], [0, -1])
    nodes = [helper.make_node("Constant", [], ["s"], value=shape),
             helper.make_node("Reshape", ["x", "s"], ["r"]),
             helper.make_node("Concat", ["r", "r"], ["c"], axis=1),
             helper.make_node("Dropout", ["c"], ["y"])]
    result = costs.analyze(_save(tmp_path, nodes, [2, 3, 3]))
    assert [layer["op_type"] for layer in result.layers] == ["Reshape", "Concat", "Dropout"]
    assert result.layers[1]["output_shape"] == [1, 36]
    assert (result.paper_ops, result.unsupported_ops) == (0, [])


def test_shapes_computed_from_sizes_are_folded_so_later_layers_are_costed(tmp_path):
    def const(name, values):
        return helper.make_node("Constant", [], [name], value=helper.make_tensor(
            name, TensorProto.INT64, [len(values)], values))
    nodes = [helper.make_node("Shape", ["x"], ["s"]), const("i0", [0]), const("i1", [1]), const("two", [2]),
             const("nine", [9]), helper.make_node("Gather", ["s", "i0"], ["n"]),
             helper.make_node("Gather", ["s", "i1"], ["c"]), helper.make_node("Div", ["c", "two"], ["half"]),
             helper.make_node("Concat", ["n", "two", "half", "nine"], ["shape"], axis=0),
             helper.make_node("Reshape", ["x", "shape"], ["r"]), helper.make_node("Relu", ["r"], ["y"])]
    result = costs.analyze(_save(tmp_path, nodes, [4, 3, 3]), batch=2)
    assert result.layers[-1]["output_shape"] == [2, 2, 2, 9]
    assert (result.paper_ops, result.unsupported_ops) == (2 * 36, [])


def test_unknown_op_is_listed_as_not_costed_and_left_out_of_the_totals(tmp_path):
    nodes = [helper.make_node("Relu", ["x"], ["r"]), helper.make_node("FancyOp", ["r"], ["y"], domain="my.ops")]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid("my.ops", 1)])
    path = str(tmp_path / "custom.onnx")
    onnx.save(model, path)
    result = costs.analyze(path)
    assert result.unsupported_ops == ["FancyOp"]
    assert result.layers[1]["macs"] is None and result.paper_ops == 4


def test_an_initializer_read_by_two_layers_is_counted_once(tmp_path):
    nodes = [helper.make_node("MatMul", ["x", "w"], ["h"]), helper.make_node("MatMul", ["h", "w"], ["y"])]
    result = costs.analyze(_save(tmp_path, nodes, [4], [_weight("w", 4, 4)]))
    assert [layer["params"] for layer in result.layers] == [16, 0]


# ---- batch, memory, external data ------------------------------------------------------------

def test_batch_multiplies_macs_ops_and_activations_of_a_dynamic_batch_model(tmp_path):
    path = _save(tmp_path, [helper.make_node("Gemm", ["x", "w"], ["y"], transB=1)], [10], [_weight("w", 7, 10)])
    one, eight = costs.analyze(path), costs.analyze(path, batch=8)
    assert (eight.macs, eight.paper_ops, eight.activation_bytes) == (8 * one.macs, 8 * one.paper_ops,
                                                                     8 * one.activation_bytes)
    assert (eight.params, eight.layers[0]["output_shape"]) == (one.params, [8, 7])


def test_a_batch_fixed_at_one_is_scaled_with_a_note(tmp_path):
    path = _save(tmp_path, [helper.make_node("Relu", ["x"], ["y"])], [10], batch=1)
    result = costs.analyze(path, batch=4)
    assert result.paper_ops == 40
    assert "scaled by 4" in result.notes[0]


def test_a_batch_fixed_at_another_size_is_a_usage_error_naming_the_flag(tmp_path):
    path = _save(tmp_path, [helper.make_node("Relu", ["x"], ["y"])], [10], batch=2)
    with pytest.raises(UsageError, match="--batch 2"):
        costs.analyze(path, batch=4)


def test_a_second_input_fixed_at_one_does_not_scale_a_dynamic_batch_model(tmp_path):
    graph = helper.make_graph(
        [helper.make_node("Add", ["x", "c"], ["y"])], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4]),
         helper.make_tensor_value_info("c", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    path = str(tmp_path / "two.onnx")
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
    result = costs.analyze(path, batch=3)
    assert (result.paper_ops, result.layers[0]["output_shape"], result.notes) == (3 * 4 * 2, [3, 4], [])


def test_a_dynamic_size_besides_the_batch_is_an_error(tmp_path):
    path = _save(tmp_path, [helper.make_node("Relu", ["x"], ["y"])], ["H", 10])
    with pytest.raises(InputFileError, match="fixed input size"):
        costs.analyze(path)


def test_peak_activation_frees_each_tensor_after_its_last_reader(tmp_path):
    nodes = [helper.make_node("Relu", ["x"], ["a"]), helper.make_node("Relu", ["a"], ["b"]),
             helper.make_node("Relu", ["b"], ["y"])]
    result = costs.analyze(_save(tmp_path, nodes, [100]))
    assert result.peak_activation_bytes == 2 * 100 * 4
    assert result.activation_bytes == 3 * 100 * 4


def test_weights_in_external_data_are_counted_from_their_dims(tmp_path):
    path = _save(tmp_path, [helper.make_node("MatMul", ["x", "w"], ["y"])], [64], [_weight("w", 64, 64)])
    model = onnx.load(path)
    onnx.save(model, path, save_as_external_data=True, location="m.onnx.data", size_threshold=0)
    result = costs.analyze(path)
    assert (result.params, result.weight_bytes) == (64 * 64, 64 * 64 * 4)


def test_missing_external_data_is_an_error_naming_the_data_file(tmp_path):
    path = _save(tmp_path, [helper.make_node("MatMul", ["x", "w"], ["y"])], [64], [_weight("w", 64, 64)])
    onnx.save(onnx.load(path), path, save_as_external_data=True, location="m.onnx.data", size_threshold=0)
    os.remove(str(tmp_path / "m.onnx.data"))
    with pytest.raises(InputFileError, match="m.onnx.data"):
        costs.analyze(path)


# ---- bad files ---------------------------------------------------------------------------------

@pytest.fixture
def small_model(tmp_path):
    return _save(tmp_path, [helper.make_node("Gemm", ["x", "w"], ["y"], transB=1)], [10], [_weight("w", 7, 10)])


def test_a_missing_file_is_an_input_file_error_naming_it(tmp_path):
    with pytest.raises(InputFileError, match="nothere.onnx"):
        costs.analyze(str(tmp_path / "nothere.onnx"))


def test_a_text_file_is_not_a_readable_onnx_model(tmp_path):
    path = tmp_path / "notes.onnx"
    path.write_text("these are not the weights you are looking for\n")
    with pytest.raises(InputFileError, match="notes.onnx"):
        costs.analyze(str(path))


def test_an_empty_file_is_not_a_whole_model(tmp_path):
    path = tmp_path / "empty.onnx"
    path.write_bytes(b"")
    with pytest.raises(InputFileError, match="empty.onnx is empty or not a whole ONNX model"):
        costs.analyze(str(path))


def test_a_file_cut_inside_its_weights_is_an_input_file_error(small_model):
    with open(small_model, "rb") as handle:
        data = handle.read()
    with open(small_model, "wb") as handle:
        handle.write(data[:len(data) // 2])
    with pytest.raises(InputFileError, match="not a readable ONNX model"):
        costs.analyze(small_model)


def test_a_file_cut_before_its_opset_import_is_an_input_file_error(small_model):
    model = onnx.load(small_model)
    data = model.SerializeToString()
    opset_bytes = onnx.ModelProto(opset_import=model.opset_import).SerializeToString()
    assert data.endswith(opset_bytes)
    with open(small_model, "wb") as handle:
        handle.write(data[:-len(opset_bytes)])
    with pytest.raises(InputFileError, match="no opset import"):
        costs.analyze(small_model)


# ---- the command ---------------------------------------------------------------------------------

def test_inspect_names_both_conventions(cli, small_model):
    done = cli(["inspect", small_model])
    assert done.returncode == 0, done.stderr
    assert "MACs (multiply-accumulates, torchvision's GFLOPS):  70 " in done.stdout
    assert "paper ops (Canziani et al. 2016 convention):        140 " in done.stdout


def test_inspect_layers_prints_a_table_with_share_columns(cli, small_model):
    done = cli(["inspect", small_model, "--layers"])
    header = next(line for line in done.stdout.splitlines() if line.startswith("layer "))
    assert header.split() == ["layer", "op", "output", "params", "%", "MACs", "%", "paper", "ops", "%", "act", "bytes"]
    assert "100.00" in done.stdout.splitlines()[-1]


def test_inspect_json_holds_the_summary_and_the_layers(cli, small_model):
    data = json.loads(cli(["inspect", small_model, "--json", "--layers", "--batch", "3"]).stdout)
    assert (data["macs"], data["params"], data["batch"], data["input_shape"]) == (210, 70, 3, [10])
    assert data["layers"][0]["output_shape"] == [3, 7]


def test_inspect_exits_2_with_one_line_for_a_file_that_is_not_onnx(cli, tmp_path):
    path = tmp_path / "x.onnx"
    path.write_text("nope")
    done = cli(["inspect", str(path)])
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "x.onnx" in done.stderr


def test_inspect_rejects_a_batch_of_zero(cli, small_model):
    assert cli(["inspect", small_model, "--batch", "0"]).returncode == 2


# ---- torchvision models with random weights --------------------------------------------------------

@pytest.fixture(scope="session")
def exported(tmp_path_factory):
    """Export a torchvision model once per session: name, fold_batchnorm -> path."""
    pytest.importorskip("torchvision")
    tool = _check_tool()
    folder = tmp_path_factory.mktemp("models")
    paths = {}

    def get(name, fold_batchnorm=False):
        key = (name, fold_batchnorm)
        if key not in paths:
            paths[key] = str(folder / ("%s_%s.onnx" % (name, "folded" if fold_batchnorm else "bn")))
            side = tool.MODELS[name][0] if name in tool.MODELS else 224
            tool.export(tool.build(name), side, paths[key], fold_batchnorm=fold_batchnorm)
        return paths[key]
    return get


def _agreement(name, path):
    tool = _check_tool()
    result = costs.analyze(path)
    gmacs, num_params, aux = tool.torchvision_meta(name)
    paper = tool.paper_gops().get(tool.MODELS.get(name, (224, None))[1])
    return result, gmacs, num_params - aux, paper


# shufflenet's export computes its channel-shuffle shapes with Shape, Gather, Div and Concat.
@pytest.mark.parametrize("name", ["resnet18", "googlenet", "alexnet", "shufflenet_v2_x1_0"])
def test_params_equal_and_macs_agree_with_torchvision(exported, name):
    result, gmacs, num_params, paper = _agreement(name, exported(name))
    assert result.params == num_params
    assert result.macs / 1e9 == pytest.approx(gmacs, rel=0.01)
    assert result.complete and result.unsupported_ops == []
    if paper:
        assert result.paper_ops / 1e9 == pytest.approx(paper, rel=0.03)


def test_a_folded_batchnorm_graph_holds_one_param_per_channel_less(exported):
    import torch
    tool = _check_tool()
    channels = sum(m.num_features for m in tool.build("resnet18").modules() if isinstance(m, torch.nn.BatchNorm2d))
    result, _, num_params, _ = _agreement("resnet18", exported("resnet18", fold_batchnorm=True))
    assert result.params == num_params - channels


def test_alexnet_fully_connected_layers_hold_most_params_but_few_macs(exported):
    result = costs.analyze(exported("alexnet"))
    assert result.fc_params > 0.9 * result.params
    assert result.fc_macs < 0.1 * result.macs


@SLOW
@pytest.mark.parametrize("name", ["vgg16", "vgg19", "resnet34", "resnet50", "resnet101", "resnet152", "inception_v3"])
def test_big_models_agree_with_torchvision_and_the_paper(exported, name):
    result, gmacs, num_params, paper = _agreement(name, exported(name))
    assert result.params == num_params
    assert result.macs / 1e9 == pytest.approx(gmacs, rel=0.01)
    assert result.paper_ops / 1e9 == pytest.approx(paper, rel=0.03)


# Classifiers whose exports compute shapes in the graph (Swin's shifted windows and masks, ViT's
# class token, MaxViT's Einsum, SE blocks, grouped convolutions), one of each family.
MODERN = ["swin_t", "swin_v2_t", "maxvit_t", "vit_b_32", "convnext_tiny", "regnet_y_400mf",
          "efficientnet_b0", "efficientnet_v2_s", "mobilenet_v3_small", "mnasnet0_5", "shufflenet_v2_x0_5"]


@SLOW
@pytest.mark.parametrize("name", MODERN)
def test_modern_classifiers_are_costed_completely_and_agree_with_torchvision(tmp_path_factory, name):
    pytest.importorskip("torchvision")
    tool = _check_tool()
    path = tool.exported_path(name, str(tmp_path_factory.mktemp(name)))
    result = costs.analyze(path)
    gmacs, _, _ = tool.torchvision_meta(name)
    assert result.complete, result.uncosted_layers[:5]
    assert tool.macs_agree({"macs": result.macs, "tv_gmacs": gmacs})
