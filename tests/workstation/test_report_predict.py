"""edgeprof predict on the command line, from synthetic profiles whose time is exactly linear in ops."""
import json
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import profilegen


@pytest.fixture
def board(tmp_path):
    return profilegen.write_set(tmp_path / "profiles")


def _predict(cli, args):
    result = cli(["predict"] + args + ["--json"])
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_a_measured_model_is_left_out_and_predicted_from_the_others(cli, board):
    doc = _predict(cli, ["--profiles", board, "resnet50"])
    latency = doc["predictions"]["per_image_ms"]
    assert doc["fitted_on"] == 4
    assert latency["value"] == pytest.approx(doc["measured"]["per_image_ms"])
    assert latency["value"] == pytest.approx(profilegen.per_image_ms(2 * profilegen.MODELS[3][3]))


def test_energy_is_predicted_where_profiles_have_power(cli, board):
    doc = _predict(cli, ["--profiles", board, "resnet50"])
    energy = doc["predictions"]["energy_per_image_mj"]
    assert energy["value"] == pytest.approx(doc["measured"]["energy_per_image_mj"])


def test_an_onnx_file_is_counted_and_predicted(cli, board, tiny_onnx):
    pytest.importorskip("onnx")
    doc = _predict(cli, ["--profiles", board, tiny_onnx, "--batch", "4"])
    assert doc["model"]["name"] == "tiny"
    assert doc["fitted_on"] == 5
    expected = profilegen.per_image_ms(doc["model"]["paper_ops"])
    assert doc["predictions"]["per_image_ms"]["value"] == pytest.approx(expected)


def test_text_output_names_the_out_of_sample_scores_of_both_predictors(cli, board):
    result = cli(["predict", "--profiles", board, "vgg16"])
    assert result.returncode == 0, result.stderr
    assert "leave-one-out" in result.stdout and "leave-one-family-out" in result.stdout
    assert "ops    leave-one-out" in result.stdout
    assert "split  leave-one-out" in result.stdout
    assert "nested leave-one-family-out" in result.stdout


def test_profiles_without_power_say_energy_is_not_predicted(cli, tmp_path):
    board = profilegen.write_set(tmp_path / "p", power=False)
    doc = _predict(cli, ["--profiles", board, "alexnet"])
    assert doc["predictions"]["energy_per_image_mj"]["status"] == "absent"


def test_an_unknown_name_is_a_one_line_error(cli, board):
    result = cli(["predict", "--profiles", board, "nosuchnet"])
    assert result.returncode == 2
    assert "'nosuchnet' is not in the profiles" in result.stderr


def test_two_boards_in_the_profiles_are_refused(cli, tmp_path):
    profilegen.write_set(tmp_path / "p", board="board-a")
    profilegen.write_set(tmp_path / "p", board="board-b")
    result = cli(["predict", "--profiles", str(tmp_path / "p"), "alexnet"])
    assert result.returncode == 2
    assert "several setups" in result.stderr


def test_a_batch_without_runs_is_refused(cli, board):
    result = cli(["predict", "--profiles", board, "alexnet", "--batch", "64"])
    assert result.returncode == 2
    assert "--batch" in result.stderr


def test_the_error_estimate_is_the_nested_leave_one_out_of_the_chosen_predictor(cli, tmp_path):
    board = profilegen.write_set(tmp_path / "p", models=profilegen.MODELS + profilegen.EXTRA_MODELS)
    result = cli(["predict", "--profiles", board, "resnet50"])
    assert result.returncode == 0, result.stderr
    assert "(nested leave-one-out RMSPE)" in result.stdout
