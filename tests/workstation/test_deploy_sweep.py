"""deploy/jetson/sweep.sh: one command for one board, and the board is restored whatever happens.

Review ../shared/reviews/deploy.md findings 9 (one command, trap and systemd guard) and 23 (disk
and memory preflight). The board is a fixture root with the stand-ins of
tests/fixtures/deploy/bin (nvpmodel, jetson_clocks, systemd-run, systemctl, sudo, id); edgeprof is
a stand-in in a venv that records the board's state while it "measures".
"""
import os
import signal
import subprocess

import pytest

from deploy_board import JETPACKS, SWEEP, Board, commands


def _default_signals():
    # bash cannot trap a signal that was ignored when it started (bash(1), SIGNALS: "Signals ignored upon
    # entry to the shell cannot be trapped or reset"), and a test runner started under nohup, or as a
    # background job of a script, ignores SIGHUP or SIGINT. A login shell over SSH has them at default.
    for sig in (signal.SIGHUP, signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_DFL)


def _popen(args, **kwargs):
    """sweep.sh started as from a terminal: the signals the tests send at their default disposition."""
    return subprocess.Popen(args, preexec_fn=_default_signals, **kwargs)

FAKE_EDGEPROF = """#!/bin/sh
# Stand-in for VENV/bin/edgeprof sweep: records the board's state, writes one profile into --out.
echo "$*" > "$FAKE_BOARD/sweep_args"
echo "mode=$(cat "$FAKE_BOARD/nvpmodel_status") clocks=$(cat "$FAKE_BOARD/clocks") fan=$(cat "$FAKE_BOARD/fan" 2>/dev/null)" > "$FAKE_BOARD/during_sweep"
out=profiles
while [ $# -gt 0 ]; do [ "$1" = --out ] && out=$2; shift; done
mkdir -p "$out/board" && echo "model: tiny" > "$out/board/tiny.yaml"
[ -n "$FAKE_SWEEP_SLEEP" ] && exec sleep "$FAKE_SWEEP_SLEEP"
exit "${FAKE_SWEEP_RC:-0}"
"""


@pytest.fixture
def venv(tmp_path):
    path = tmp_path / "venv"
    (path / "bin").mkdir(parents=True)
    (path / "bin" / "edgeprof").write_text(FAKE_EDGEPROF)
    (path / "bin" / "edgeprof").chmod(0o755)
    return str(path)


def sweep(board, venv, *args, env=None, timeout=60):
    return board.run(SWEEP, "--venv", venv, "--no-install", "--state-dir", board.state, *args, env=env,
                     timeout=timeout)


def steps(output):
    return [line.split(":")[0][4:] for line in output.splitlines() if line.startswith("==> step ")]


@pytest.mark.parametrize("jetpack", JETPACKS)
def test_dry_run_shows_install_preflight_prepare_sweep_and_restore_in_that_order(tmp_path, jetpack):
    board = Board(tmp_path, jetpack, mode=1)
    out = str(tmp_path / "profiles")
    result = board.run(SWEEP, "--dry-run", "--venv", "/opt/ep-venv", "--mode", "0", "--", "--models", "models",
                       "--out", out)
    assert result.returncode == 0, result.stderr
    assert steps(result.stdout) == ["step 1", "step 2", "step 3", "step 4", "step 5"]
    cmds = commands(result.stdout)
    order = [next(i for i, c in enumerate(cmds) if want(c)) for want in (
        lambda c: " -m venv " in c or "pip install" in c,                           # install
        lambda c: c.startswith("systemd-run --unit=edgeprof-guard-"),               # guard first
        lambda c: c.startswith("nvpmodel -m 0"),                                    # prepare
        lambda c: c == f"/opt/ep-venv/bin/edgeprof sweep --models models --out {out}",  # sweep
        lambda c: "jetson_clocks --restore" in c)]                                  # restore
    assert order == sorted(order)
    assert f"the profiles would be in {out}/" in result.stdout
    assert board.mode() == 1 and board.clocks() == "default" and not os.path.exists(out)


def test_a_sweep_runs_prepared_and_the_board_is_restored_after_it(tmp_path, venv):
    board = Board(tmp_path, "jp5", uid=1000, mode=2)
    out = str(tmp_path / "profiles")
    result = sweep(board, venv, "--mode", "MAXN", "--", "--batch", "1", "--out", out)
    assert result.returncode == 0, result.stderr
    assert (board.dir / "during_sweep").read_text().split() == ["mode=pmode:0000", "clocks=max", "fan=max"]
    assert (board.dir / "sweep_args").read_text().split() == ["sweep", "--batch", "1", "--out", out]
    assert (board.mode(), board.clocks(), board.fan()) == (2, "default", "auto")
    assert f"profiles: {out}/ (1 profile files)" in result.stdout
    assert any(line.startswith("systemctl stop edgeprof-guard-") for line in board.log())


def test_a_failed_sweep_still_restores_and_returns_the_sweeps_status(tmp_path, venv):
    board = Board(tmp_path, "jp6", mode=0)
    result = sweep(board, venv, "--mode", "MAXN_SUPER", "--", "--out", str(tmp_path / "p"),
                   env={"FAKE_SWEEP_RC": "3"})
    assert result.returncode == 3
    assert (board.mode(), board.clocks()) == (0, "default")
    assert "profiles:" in result.stdout


@pytest.mark.parametrize("sig, status", [(signal.SIGHUP, 129), (signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_hangup_or_kill_restores_through_the_trap(tmp_path, venv, sig, status):
    board = Board(tmp_path, "jp5", mode=2)
    env = dict(os.environ, **board.env, FAKE_SWEEP_SLEEP="60")
    args = ["bash", SWEEP, "--venv", venv, "--no-install", "--state-dir", board.state, "--mode", "0", "--no-guard",
            "--", "--out", str(tmp_path / "p")]
    proc = _popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert board.wait_for(lambda: (board.dir / "during_sweep").exists())
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == status, err
    assert (board.mode(), board.clocks()) == (2, "default")
    assert f"got SIG{sig.name[3:]}" in err


def test_the_guard_unit_restores_the_board_after_a_kill_9(tmp_path, venv):
    board = Board(tmp_path, "jp5", mode=2)
    env = dict(os.environ, **board.env, FAKE_SWEEP_SLEEP="2")
    args = ["bash", SWEEP, "--venv", venv, "--no-install", "--state-dir", board.state, "--mode", "0",
            "--", "--out", str(tmp_path / "p")]
    proc = _popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert board.wait_for(lambda: (board.dir / "during_sweep").exists())
        proc.kill()  # SIGKILL: no trap runs; the sweep itself goes on for a moment
        proc.wait(timeout=30)
        assert board.clocks() == "max"
        assert board.wait_for(lambda: not os.path.exists(board.state))
    finally:
        proc.kill()
    assert (board.clocks(), board.mode()) == ("default", 2)
    guard = [line for line in board.log() if line.startswith("systemd-run edgeprof-guard-")]
    assert len(guard) == 1
    run_dir = guard[0].split()[-5]
    assert run_dir.endswith("/sweep.pid")
    assert board.wait_for(lambda: not os.path.exists(os.path.dirname(run_dir)))


def test_a_needed_reboot_stops_before_the_sweep_with_status_4(tmp_path, venv):
    board = Board(tmp_path, "jp5", mode=2)
    result = sweep(board, venv, "--mode", "MAXN", "--", "--out", str(tmp_path / "p"),
                   env={"FAKE_NVPMODEL_REBOOT": "0"})
    assert result.returncode == 4
    assert "reboot, then run the same command again" in result.stderr
    assert not (board.dir / "sweep_args").exists()
    assert (board.mode(), board.clocks()) == (2, "default")


def test_preflight_stops_before_the_board_is_touched_when_disk_is_short(tmp_path, venv):
    board = Board(tmp_path, "jp46", mode=3)
    result = sweep(board, venv, "--mode", "0", "--min-free-disk-mb", str(10 ** 12), "--", "--out",
                   str(tmp_path / "p"))
    assert result.returncode == 1
    assert "below --min-free-disk-mb 1000000000000" in result.stderr
    assert not (board.dir / "sweep_args").exists()
    assert not [line for line in board.log() if line.startswith(("nvpmodel -m", "jetson_clocks"))]


def test_preflight_reads_memavailable_and_stops_on_a_short_board(tmp_path, venv):
    board = Board(tmp_path, "jp46", mode=3)
    with open(os.path.join(board.root, "proc", "meminfo"), "w") as f:
        f.write("MemTotal:        1984000 kB\nMemFree:          190000 kB\nMemAvailable:     412000 kB\n")
    result = sweep(board, venv, "--", "--out", str(tmp_path / "p"))
    assert result.returncode == 1
    assert "memory: 402 MiB available, below --min-free-mem-mb 1024" in result.stderr
    lowered = sweep(board, venv, "--min-free-mem-mb", "256", "--", "--out", str(tmp_path / "p"))
    assert lowered.returncode == 0, lowered.stderr
    assert "memory: 402 MiB available (need 256)" in lowered.stdout


def test_thresholds_can_come_from_the_environment(tmp_path, venv):
    board = Board(tmp_path, "jp6", mode=0)
    result = sweep(board, venv, "--no-prepare", "--", "--out", str(tmp_path / "p"),
                   env={"EDGEPROF_MIN_FREE_MEM_MB": "999999"})
    assert result.returncode == 1
    assert "below --min-free-mem-mb 999999" in result.stderr


def test_install_failure_stops_everything_and_names_the_missing_packages(tmp_path):
    board = Board(tmp_path, "jp46", mode=3)
    import shutil
    shutil.rmtree(os.path.join(board.root, "usr", "local", "cuda"))
    result = board.run(SWEEP, "--dry-run", "--venv", "/opt/ep-venv", "--", "--out", str(tmp_path / "p"))
    assert result.returncode == 2
    assert "sudo apt-get install cuda-toolkit-10-2 python3-libnvinfer" in result.stderr
    assert "step 2" not in result.stdout and "step 4" not in result.stdout


def test_no_install_without_edgeprof_in_the_venv_says_so(tmp_path):
    board = Board(tmp_path, "jp5")
    result = board.run(SWEEP, "--no-install", "--venv", str(tmp_path / "none"))
    assert result.returncode == 2
    assert "--no-install, but" in result.stderr


def test_as_root_without_venv_it_refuses(tmp_path):
    board = Board(tmp_path, "jp5", uid=0)
    result = board.run(SWEEP, "--dry-run")
    assert result.returncode == 2
    assert "running as root" in result.stderr


def test_when_sudo_can_no_longer_ask_the_guard_restores_instead(tmp_path, venv):
    # A long sweep outlives sudo's cached credentials; after an SSH drop nobody can type one.
    board = Board(tmp_path, "jp5", uid=1000, mode=2)
    logs = tmp_path / "logs"
    logs.mkdir()
    env = dict(os.environ, **board.env, FAKE_SWEEP_SLEEP="60", TMPDIR=str(logs))
    args = ["bash", SWEEP, "--venv", venv, "--no-install", "--state-dir", board.state, "--mode", "0",
            "--", "--out", str(tmp_path / "p")]
    proc = _popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert board.wait_for(lambda: (board.dir / "during_sweep").exists())
        (board.dir / "sudo_expired").write_text("")  # from now on, sudo -n fails
        proc.send_signal(signal.SIGHUP)
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 129
    log = logs / f"edgeprof-sweep-{proc.pid}.log"
    assert "the rest is in " + str(log) in err  # after a hangup the output goes to that log
    assert "the guard edgeprof-guard-" in log.read_text() and "tries again as root" in log.read_text()
    assert board.wait_for(lambda: not os.path.exists(board.state))
    assert (board.mode(), board.clocks()) == (2, "default")


def test_a_session_not_yet_in_group_jtop_is_told_to_log_in_again(tmp_path, venv):
    import socket
    board = Board(tmp_path, "jp6", uid=1000, mode=2)
    os.makedirs(os.path.join(board.root, "run"))
    server = socket.socket(socket.AF_UNIX)
    try:
        try:
            server.bind(os.path.join(board.root, "run", "jtop.sock"))
        except OSError as error:  # AF_UNIX paths are limited to 107 bytes
            pytest.skip(f"cannot make a socket under {board.root}: {error}")
        result = sweep(board, venv, "--no-prepare", "--", "--out", str(tmp_path / "p"))
    finally:
        server.close()
    assert result.returncode == 0, result.stderr
    groups = subprocess.run(["id", "-nG"], capture_output=True, text=True, check=True).stdout.split()
    if "jtop" in groups:
        assert "this session is in group jtop" in result.stdout
    else:
        assert "not in group jtop yet" in result.stderr and "newgrp jtop" in result.stderr


def test_a_mode_the_board_lacks_is_refused_before_anything_is_installed(tmp_path):
    # install.sh may build pycuda for many minutes; a mistyped mode must not wait for that.
    board = Board(tmp_path, "jp6", uid=1000, mode=0)
    result = board.run(SWEEP, "--dry-run", "--venv", "/opt/ep-venv", "--mode", "MAXN", "--", "--out", "p")
    assert result.returncode == 2
    assert "no power mode 'MAXN'" in result.stderr and "2 MAXN_SUPER" in result.stderr
    assert "step 1" not in result.stdout and not commands(result.stdout)
    result = board.run(SWEEP, "--dry-run", "--venv", "/opt/ep-venv", "--mode", "maxn_super", "--", "--out", "p")
    assert result.returncode == 0, result.stderr
    assert any(c.startswith("nvpmodel -m 2 ") for c in commands(result.stdout))


def test_sudo_is_renewed_during_the_sweep_so_the_trap_restores_without_the_guard(tmp_path, venv):
    # sudo forgets the password after 15 minutes (sudoers(5) timestamp_timeout); sweeps last hours.
    board = Board(tmp_path, "jp5", uid=1000, mode=2)
    env = dict(os.environ, **board.env, FAKE_SWEEP_SLEEP="60")
    args = ["bash", SWEEP, "--venv", venv, "--no-install", "--state-dir", board.state, "--mode", "0",
            "--", "--out", str(tmp_path / "p")]
    proc = _popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert board.wait_for(lambda: "sudo -n -v" in board.log())
        assert (board.dir / "during_sweep").exists() or board.wait_for(lambda: (board.dir / "during_sweep").exists())
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 143, err
    assert "tries again as root" not in err
    assert (board.mode(), board.clocks()) == (2, "default")
    assert any(line.startswith("systemctl stop edgeprof-guard-") for line in board.log())


def test_no_sudo_renewal_as_root_or_without_prepare(tmp_path, venv):
    board = Board(tmp_path, "jp5", uid=1000, mode=2)
    result = sweep(board, venv, "--no-prepare", "--", "--out", str(tmp_path / "p"), env={"FAKE_SWEEP_SLEEP": "1"})
    assert result.returncode == 0, result.stderr
    assert "sudo -n -v" not in board.log()


def test_after_a_hangup_with_the_terminal_gone_the_trap_still_restores_and_logs_it(tmp_path, venv):
    # An SSH drop closes the terminal: writing there kills the writer (SIGPIPE) or fails (EIO),
    # which would stop prepare.sh --restore at its first line. No guard here: only the trap restores.
    board = Board(tmp_path, "jp5", mode=2)
    logs = tmp_path / "logs"
    logs.mkdir()
    env = dict(os.environ, **board.env, FAKE_SWEEP_SLEEP="60", TMPDIR=str(logs))
    args = ["bash", SWEEP, "--venv", venv, "--no-install", "--state-dir", board.state, "--mode", "0", "--no-guard",
            "--", "--out", str(tmp_path / "p")]
    proc = _popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert board.wait_for(lambda: (board.dir / "during_sweep").exists())
        proc.stdout.close()
        proc.stderr.close()
        proc.send_signal(signal.SIGHUP)
        proc.wait(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 129
    assert (board.mode(), board.clocks()) == (2, "default")
    log = (logs / f"edgeprof-sweep-{proc.pid}.log").read_text()
    assert "got SIGHUP" in log and "step 5: restore" in log and "done: power mode 2" in log
