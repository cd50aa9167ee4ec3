"""edgeprof table: one row per run, as CSV and JSON Lines always, as Parquet where pyarrow is installed."""
import csv
import io
import json
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import profilegen

from edgeprof.reading import table
from edgeprof.records import accuracy

BATCHES = (1, 2, 4, 8)


@pytest.fixture
def lab(tmp_path, monkeypatch):
    """Two boards: five models at four batch sizes; three on the other, vgg16 out of memory from batch 4."""
    monkeypatch.setenv("EDGEPROF_INDEX", str(tmp_path / "index.sqlite"))
    root = tmp_path / "profiles"
    profilegen.write_set(root, board="board-a", batches=BATCHES)
    profilegen.write_set(root, models=profilegen.MODELS[2:4], board="board-b", batches=BATCHES)
    profilegen.write_set(root, models=profilegen.MODELS[4:], board="board-b", batches=BATCHES, oom_from=4)
    measured = os.path.join(str(root), "board-a", "resnet18__onnxruntime__fp32.yaml")
    accuracy.write(accuracy.sibling_path(measured), {"schema": accuracy.SCHEMA, "top1": 68.25, "top5": 88.5,
                                                     "images": 500, "measured": "2026-12-01T17:00:00Z"})
    return str(root)


RUNS = (len(profilegen.MODELS) + len(profilegen.MODELS[2:])) * len(BATCHES)


def test_csv_has_one_row_per_run_with_every_column(cli, lab):
    result = cli(["table", lab])
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == RUNS
    assert tuple(rows[0]) == table.COLUMNS
    assert sum(1 for r in rows if r["status"] == "oom") == 2  # vgg16 on board-b at 4 and 8
    ok = next(r for r in rows if r["board_slug"] == "board-a" and r["model"] == "alexnet" and r["batch"] == "2")
    assert float(ok["per_image_ms"]) == pytest.approx(profilegen.per_image_ms(2 * profilegen.MODELS[0][3]))
    assert float(ok["power_net_w"]) == pytest.approx(profilegen.POWER_W - profilegen.IDLE_W)


def test_accuracy_is_measured_where_a_record_exists_else_published(cli, lab):
    rows = [json.loads(line) for line in cli(["table", lab, "--format", "jsonl"]).stdout.splitlines()]
    assert len(rows) == RUNS
    measured = [r for r in rows if r["top1_source"] == "measured"]
    assert len(measured) == len(BATCHES) and {r["top1"] for r in measured} == {68.25}
    assert {r["accuracy_images"] for r in measured} == {500}
    published = next(r for r in rows if r["model"] == "vgg16")
    assert (published["top1"], published["top1_source"], published["accuracy_images"]) == (71.6, "published", None)


def test_out_writes_the_file_and_says_how_many_rows(cli, lab, tmp_path):
    out = tmp_path / "runs.jsonl"
    result = cli(["table", lab, "--out", str(out)])
    assert result.returncode == 0 and result.stdout == ""
    assert len(out.read_text().splitlines()) == RUNS
    assert "%d rows" % RUNS in result.stderr


def test_parquet_keeps_the_rows_and_their_types(cli, lab, tmp_path):
    parquet = pytest.importorskip("pyarrow.parquet")
    out = tmp_path / "runs.parquet"
    assert cli(["table", lab, "--out", str(out)]).returncode == 0
    read = parquet.read_table(str(out))
    assert read.num_rows == RUNS and read.column_names == list(table.COLUMNS)
    assert str(read.schema.field("batch").type) == "int64" and str(read.schema.field("top1").type) == "double"
    assert sorted(set(read.column("board_slug").to_pylist())) == ["board-a", "board-b"]


def test_parquet_without_pyarrow_is_refused_in_one_line(cli, lab, tmp_path):
    blocker = tmp_path / "no-pyarrow"
    (blocker / "pyarrow").mkdir(parents=True)
    (blocker / "pyarrow" / "__init__.py").write_text("raise ImportError('No module named pyarrow')\n")
    result = cli(["table", lab, "--format", "parquet", "--out", str(tmp_path / "x.parquet")],
                 env={"PYTHONPATH": str(blocker) + os.pathsep + os.environ.get("PYTHONPATH", "")})
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "pip install 'edgeprof[parquet]'" in result.stderr and not (tmp_path / "x.parquet").exists()


def test_a_folder_without_profiles_is_a_one_line_error(cli, tmp_path):
    result = cli(["table", str(tmp_path)])
    assert result.returncode == 2 and "no profiles" in result.stderr
