"""The command line: info, version, the error convention (one line, exit 2)."""
import json

import pytest

import edgeprof


def make_tx2_root(root):
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "nv_tegra_release").write_text(
        "# R32 (release), REVISION: 7.1, GCID: 29818004, BOARD: t186ref, EABI: aarch64, "
        "DATE: Sat Feb 19 17:05:08 UTC 2022\n")
    (root / "proc" / "device-tree").mkdir(parents=True)
    (root / "proc" / "device-tree" / "model").write_bytes(b"NVIDIA Jetson TX2\x00")
    return root


def test_info_json_describes_this_machine(cli):
    result = cli(["info", "--json"])
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["edgeprof"] == edgeprof.__version__
    assert data["python"].count(".") == 2
    names = [b["name"] for b in data["backends"]]
    assert names == ["tensorrt", "onnxruntime"]
    assert all("usable" in b for b in data["backends"])


def test_info_reads_a_jetson_tx2_through_edgeprof_root(cli, tmp_path):
    root = make_tx2_root(tmp_path / "tx2")
    data = json.loads(cli(["info", "--json"], env={"EDGEPROF_ROOT": str(root)}).stdout)
    board = data["board"]
    assert board["model"] == "NVIDIA Jetson TX2"
    assert board["is_jetson"] is True
    assert board["l4t"] == "32.7.1"
    assert board["jetpack"] == "4.6.1"
    assert data["root"] == str(root)


def test_info_text_names_the_board_and_jetpack(cli, tmp_path):
    root = make_tx2_root(tmp_path / "tx2")
    result = cli(["info"], env={"EDGEPROF_ROOT": str(root)})
    assert "NVIDIA Jetson TX2  [Jetson]" in result.stdout
    assert "32.7.1  ->  JetPack 4.6.1" in result.stdout


def test_version_flag(cli):
    result = cli(["--version"])
    assert result.returncode == 0 and result.stdout.strip() == "edgeprof " + edgeprof.__version__


@pytest.mark.parametrize("args", [["info", "--bogus"], ["sweep", "--precision", "fp8"],
                                  ["sweep", "--min-seconds", "soon"], ["sweep", "--threads=-2"], ["compare"],
                                  ["nosuchcommand"]])
def test_bad_flags_get_one_line_and_exit_2(cli, args):
    result = cli(args)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "error:" in result.stderr and "--help" in result.stderr


def test_no_command_prints_help_and_exits_2(cli):
    result = cli([])
    assert result.returncode == 2 and "COMMAND" in result.stdout


def test_an_edgeprof_error_has_no_traceback_unless_verbose(cli, tmp_path):
    quiet = cli(["compare", str(tmp_path / "missing")])
    assert quiet.returncode == 2 and "Traceback" not in quiet.stderr
    assert quiet.stderr.strip() == "edgeprof compare: error: no such file or folder: %s" % (tmp_path / "missing")
    loud = cli(["-v", "compare", str(tmp_path / "missing")])
    assert loud.returncode == 2 and "Traceback" in loud.stderr


def test_python_dash_m_and_the_module_agree(cli):
    assert cli(["--help"]).returncode == 0


def test_output_into_a_closed_pipe_ends_quietly(monkeypatch):
    import os
    import sys
    from edgeprof import cli
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader (say, `head`) is gone: writing raises BrokenPipeError
    saved = os.dup(1)
    broken = os.fdopen(write_end, "w", buffering=1)  # line-buffered: the first line hits the pipe
    monkeypatch.setattr(sys, "stdout", broken)
    try:
        assert cli.main(["info", "--json"]) == 0
    finally:
        os.dup2(saved, 1)
        os.close(saved)
