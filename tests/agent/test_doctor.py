"""``edgeprof doctor`` and ``--capture``: a capture of each fixture tree is that tree again, for ``info``."""
import json
import os
import stat
import subprocess
import sys
import tarfile

import pytest

from boards import BOARDS, FIXTURES
from conftest import REPO
from edgeprof.agent import capture
TOOL = os.path.join(REPO, "tools", "fixture-from-capture")


def info_json(cli, root):
    result = cli(["info", "--json"], env={"EDGEPROF_ROOT": str(root)})
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    del data["root"]   # the one thing that differs: where the machine files are
    return data


def unpack(archive_path, target):
    with tarfile.open(str(archive_path), "r:gz") as archive:
        archive.extractall(str(target), members=capture.safe_members(archive))
    return target


@pytest.mark.parametrize("board", BOARDS)
def test_a_capture_of_each_fixture_tree_gives_the_same_info(board, cli, tmp_path):
    archive = tmp_path / (board + ".tar.gz")
    result = cli(["doctor", "--capture", str(archive)], env={"EDGEPROF_ROOT": os.path.join(FIXTURES, board)})
    assert result.returncode == 0, result.stderr
    assert "wrote %s" % archive in result.stderr
    unpacked = unpack(archive, tmp_path / "unpacked")
    assert info_json(cli, unpacked) == info_json(cli, os.path.join(FIXTURES, board))
    manifest = json.loads((unpacked / "edgeprof-capture" / "manifest.json").read_text())
    assert manifest["commands"] == {} and manifest["errors"] == [] and manifest["files"] > 20


def test_the_capture_holds_what_telemetry_and_board_state_read(cli, tmp_path):
    archive = tmp_path / "orin.tar.gz"
    cli(["doctor", "--capture", str(archive)], env={"EDGEPROF_ROOT": os.path.join(FIXTURES, "agx-orin")})
    with tarfile.open(str(archive), "r:gz") as opened:
        names = set(opened.getnames())
    for name in ("sys/class/hwmon/hwmon5/oc3_event_cnt", "sys/class/devfreq/17000000.ga10b/device/load",
                 "sys/kernel/debug/bpmp/debug/clk/emc/rate", "sys/class/hwmon/hwmon1/pwm1", "proc/meminfo",
                 "sys/bus/i2c/drivers/ina3221/1-0040/hwmon/hwmon3/curr1_crit_alarm",
                 "sys/class/power_supply/ucsi-source-psy-1-00081/type"):
        assert name in names, name


def test_fixture_from_capture_makes_a_fixture_and_notes_it(cli, tmp_path):
    archive = tmp_path / "nano.tar.gz"
    cli(["doctor", "--capture", str(archive)], env={"EDGEPROF_ROOT": os.path.join(FIXTURES, "nano")})
    fixtures = tmp_path / "fixtures"
    fixtures.mkdir()
    (fixtures / "README.md").write_text("# Fixture trees\n\nsome text\n")
    result = subprocess.run([sys.executable, TOOL, str(archive), "nano-captured", "--fixtures", str(fixtures)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    assert result.returncode == 0, result.stderr
    assert info_json(cli, fixtures / "nano-captured") == info_json(cli, os.path.join(FIXTURES, "nano"))
    readme = (fixtures / "README.md").read_text()
    assert "## Captured trees" in readme and "`nano-captured`: captured by `edgeprof doctor --capture`" in readme
    again = subprocess.run([sys.executable, TOOL, str(archive), "nano-captured", "--fixtures", str(fixtures)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    assert again.returncode == 2 and "--force" in again.stderr


def test_a_capture_member_that_is_a_link_or_leaves_the_root_is_refused(tmp_path):
    for name, kind in (("../etc/passwd", tarfile.REGTYPE), ("sys/link", tarfile.SYMTYPE), ("/etc/x", tarfile.REGTYPE)):
        path = tmp_path / "bad.tar.gz"
        with tarfile.open(str(path), "w:gz") as archive:
            info = tarfile.TarInfo(name)
            info.type = kind
            archive.addfile(info)
        with tarfile.open(str(path), "r:gz") as archive:
            with pytest.raises(ValueError, match="not a plain file"):
                capture.safe_members(archive)


@pytest.mark.parametrize("path, text, expected", [
    ("/proc/cpuinfo", "processor\t: 0\nSerial\t\t: 0x0421319118000\n", "processor\t: 0\nSerial\t\t: REDACTED\n"),
    ("/sys/class/net/eth0/address", "48:b0:2d:4e:0c:11\n", "xx:xx:xx:xx:xx:xx\n"),
    ("/proc/device-tree/serial-number", "1421319118000\0", "REDACTED\n"),
    ("/etc/nv_tegra_release", "# R36 (release)\n", "# R36 (release)\n")])
def test_serial_numbers_and_mac_addresses_are_redacted(path, text, expected):
    data, changed = capture.redact(path, text.encode("utf-8"))
    assert data.decode("utf-8") == expected and changed == (text != expected)


def test_a_capture_of_the_real_machine_runs_the_board_tools(tmp_path, monkeypatch):
    # A stand-in for NVIDIA's nvpmodel: "-q" prints the mode name and id (the format board.nvpmodel parses,
    # "NV Power Mode: MAXN" then "0"); anything else is refused with the usage, as the real tool does.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    tool = bin_dir / "nvpmodel"
    tool.write_text('#!/bin/sh\nif [ "$1" = "-q" ]; then echo "NV Power Mode: MAXN"; echo 0; exit 0; fi\n'
                    'echo "Usage: nvpmodel [-m <x>] [-q]" >&2; exit 1\n')
    tool.chmod(tool.stat().st_mode | stat.S_IXUSR)
    monkeypatch.delenv("EDGEPROF_ROOT", raising=False)
    monkeypatch.setenv("PATH", str(bin_dir) + os.pathsep + os.environ.get("PATH", ""))
    monkeypatch.setitem(sys.modules, "jtop", None)
    commands = capture.run_commands()
    assert commands["nvpmodel-q"]["output"] == "NV Power Mode: MAXN\n0\n" and commands["nvpmodel-q"]["rc"] == 0
    assert "jetson-stats is not installed" in commands["jtop-power"]["output"]
    manifest = capture.write(str(tmp_path / "c.tar.gz"), set(), commands=commands)
    assert manifest["commands"]["nvpmodel-q"]["file"] == "edgeprof-capture/commands/nvpmodel-q.txt"


def test_doctor_json_says_what_works_and_the_fix_for_what_does_not(cli):
    result = cli(["doctor", "--json"], env={"EDGEPROF_ROOT": os.path.join(FIXTURES, "agx-orin")})
    assert result.returncode == 0, result.stderr
    rows = {r["check"]: r for r in json.loads(result.stdout)["checks"]}
    assert rows["power: ina3221"]["ok"] is True and "sum_of_rails" in rows["power: ina3221"]["detail"]
    assert rows["power: jtop"]["ok"] is None            # a fallback that is not needed here is not a failure
    assert rows["telemetry: over-current counters"]["ok"] is True
    hardware = rows["telemetry: hardware CPU clock"]
    assert hardware["ok"] is False and "root" in hardware["fix"]


def test_doctor_capture_needs_a_tar_gz_name(cli, tmp_path):
    result = cli(["doctor", "--capture", str(tmp_path / "board.zip")])
    assert result.returncode == 2 and "must end in .tar.gz" in result.stderr
