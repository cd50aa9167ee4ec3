"""compare for many setups: a summary that fits the terminal, --baseline by folder, --metric top1, formats."""
import json
import os
import sys

import pytest
import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import profilegen

from edgeprof.reading import compare
from edgeprof.records import accuracy, profile


def loaded_setups(count, models=profilegen.MODELS[:3]):
    """``count`` boards of ``models`` as compare.Loaded, made in memory (no files: cheap for thousands)."""
    out = []
    for number in range(count):
        board = "lab-board-%04d-with-a-long-name" % number
        for model in models:
            data = profilegen.make_profile(model, batches=(1,), board=board)
            scale = 1.0 + (number % 17) / 10.0
            data["runs"][0]["latency_ms"]["median"] *= scale
            out.append(compare.Loaded("%s/%s.yaml" % (board, model[0]), data, 0, "lab"))
    return out


def body(text):
    """The summary's lines of setups: after the header's rule, before the note."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("---")) + 1
    return [line for line in lines[start:] if line.startswith("lab-board")]


def test_three_thousand_setups_print_a_summary_that_fits_the_terminal():
    table = compare.build(loaded_setups(3000))
    assert len(table.columns) == 3000
    text = compare.render_text(table, width=80)
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert len(lines) <= compare.DEFAULT_TOP + 10
    assert "2,980 more not shown (--top N shows more)" in text.replace("\n", " ")
    assert "--format csv, json or markdown" in text.replace("\n", " ")
    assert len(body(text)) == compare.DEFAULT_TOP and "(baseline)" in body(text)[0]


def test_top_n_lists_the_n_best_setups_by_geometric_mean_first():
    table = compare.build(loaded_setups(40))
    rows = body(compare.render_text(table, width=200, top=5))
    assert len(rows) == 5 and "(baseline)" in rows[0]
    geomeans = [float(r.split()[2].lstrip("x")) for r in rows[1:]]
    assert geomeans == sorted(geomeans) == [1.0, 1.0, 1.1, 1.1]  # latency: lower is better, first


def test_a_table_that_fits_is_printed_whole():
    table = compare.build(loaded_setups(2))
    text = compare.render_text(table, width=200)
    assert "geomean ratio" in text and "best model" not in text


def write_board(root, board, scale=1.0, models=profilegen.MODELS[:2]):
    folder = os.path.join(str(root), board)
    for model in models:
        data = profilegen.make_profile(model, batches=(1,), board=board)
        data["runs"][0]["latency_ms"]["median"] *= scale
        path = os.path.join(folder, "%s__onnxruntime__fp32.yaml" % model[0])
        profile.save(path, data)
    return folder


@pytest.fixture
def two_folders(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGEPROF_INDEX", str(tmp_path / "index.sqlite"))
    monkeypatch.chdir(tmp_path)
    write_board(tmp_path / "runs" / "before", "tx2")
    write_board(tmp_path / "runs" / "after", "tx2", scale=2.0)
    return tmp_path


@pytest.mark.parametrize("written", ["runs/after", "runs/after/", "./runs/after", "runs//after"])
def test_baseline_is_one_of_the_given_folders_as_the_user_writes_it(cli, two_folders, written):
    result = cli(["compare", "runs/before", "runs/after", "--baseline", written, "--format", "json"])
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["baseline"].endswith("(runs/after)")
    assert data["rows"][0]["ratios"][data["columns"][0]] == pytest.approx(0.5)


def test_a_baseline_folder_with_several_setups_is_refused_naming_them(cli, two_folders):
    write_board(two_folders / "runs" / "after", "orin")
    result = cli(["compare", "runs/before", "runs/after", "--baseline", "runs/after"])
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "holds 2 setups" in result.stderr and "orin/onnxruntime/fp32" in result.stderr


def test_top1_is_measured_where_recorded_and_published_marked_otherwise(cli, two_folders):
    measured = os.path.join("runs", "after", "tx2", "alexnet__onnxruntime__fp32.yaml")
    accuracy.write(accuracy.sibling_path(measured), {"schema": accuracy.SCHEMA, "top1": 55.0, "images": 200,
                                                     "measured": "2026-12-01T17:00:00Z"})
    text = cli(["compare", "runs/before", "runs/after", "--metric", "top1"]).stdout
    alexnet = next(line for line in text.splitlines() if line.startswith("alexnet"))
    assert "56.50*" in alexnet and "55.00 (x0.97)" in alexnet
    assert "* published accuracy" in text
    data = json.loads(cli(["compare", "runs/before", "runs/after", "--metric", "top1", "--json"]).stdout)
    assert sorted(data["rows"][0]["sources"].values()) == ["measured", "published"]
    csv_text = cli(["compare", "runs/before", "runs/after", "--metric", "top1", "--format", "csv"]).stdout
    assert "source:" in csv_text.splitlines()[0] and ",published,measured" in csv_text


def test_the_command_summarises_when_the_terminal_is_narrow(cli, two_folders):
    for number in range(12):
        write_board(two_folders / "lab", "board-%02d" % number, scale=1.0 + number / 10.0)
    result = cli(["compare", "lab"], env={"COLUMNS": "60"})
    assert result.returncode == 0
    assert "best model" in result.stdout and max(len(x) for x in result.stdout.splitlines()) <= 60
    assert "board-11" in cli(["compare", "lab", "--format", "markdown"]).stdout


def test_format_and_an_old_flag_that_disagree_are_refused(cli, two_folders):
    result = cli(["compare", "runs/before", "--csv", "--format", "json"])
    assert result.returncode == 2 and "--csv and --format json disagree" in result.stderr


def test_the_c_and_pure_python_loaders_read_generated_profiles_alike(tmp_path):
    if not getattr(yaml, "__with_libyaml__", False):
        pytest.skip("PyYAML without libyaml here")
    folder = profilegen.write_set(tmp_path, models=profilegen.MODELS + profilegen.EXTRA_MODELS, oom_from=8)
    for path in profile.iter_profile_files([folder]):
        assert profile.read_yaml(path, yaml.CSafeLoader) == profile.read_yaml(path, yaml.SafeLoader)


def test_the_benchmark_runs_and_its_second_compare_parses_no_file(tmp_path):
    """benchmarks/compare_scale.py on a few clones (no figure is asserted: only what it counts)."""
    import subprocess
    from conftest import REPO
    source = profilegen.write_set(tmp_path, models=profilegen.MODELS[:2])
    result = subprocess.run([sys.executable, os.path.join(REPO, "benchmarks", "compare_scale.py"), "--n", "30",
                             "--per-board", "5", "--from", source, "--repeat", "1"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, universal_newlines=True, timeout=600)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("30 profiles (2 sources")
    assert next(x for x in lines if x.startswith("B ")).endswith("30 files parsed")
    assert next(x for x in lines if x.startswith("C ")).endswith("0 files parsed")
