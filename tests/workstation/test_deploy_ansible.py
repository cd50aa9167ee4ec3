"""deploy/ansible/site.yml for real with ansible-core against localhost (connection local).

Two inventory hosts both live on this machine: board-a installs edgeprof from the working tree
into its own venv, sweeps the tiny model on the CPU and has its profile fetched into
<workstation>/profiles/board-a/; board-b has a Python interpreter that does not exist, the way an
unreachable or broken board fails. Nothing needs root and nothing is downloaded: board-a's venv is
made beforehand with a .pth file that plays the board's system packages (this interpreter's
numpy, PyYAML, onnxruntime, setuptools), so install.sh keeps the venv and installs with --offline.
"""
import glob
import json
import os
import shutil
import subprocess
import sys
import sysconfig

import pytest

from edgeprof.records import profile

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PLAYBOOK = os.path.join(REPO, "deploy", "ansible", "site.yml")
TINY_ONNX = os.path.join(REPO, "tests", "data", "tiny.onnx")


def ansible_playbook():
    beside_python = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    found = beside_python if os.path.exists(beside_python) else shutil.which("ansible-playbook")
    if not found:
        pytest.skip("ansible-playbook not installed (pip install ansible-core==2.16.19)")
    return found


def ansible_env(tmp_path):
    env = dict(os.environ)
    env.pop("EDGEPROF_ROOT", None)
    env.update({
        "ANSIBLE_CONFIG": os.path.join(REPO, "deploy", "ansible", "ansible.cfg"),
        "ANSIBLE_HOME": str(tmp_path / "ansible-home"),
        "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-local-tmp"),
        "ANSIBLE_REMOTE_TEMP": str(tmp_path / "ansible-remote-tmp"),
        "ANSIBLE_NOCOLOR": "1",
    })
    return env


def board_venv_with_system_packages(venv):
    """A venv whose 'system site packages' are this interpreter's (see the module docstring)."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site_packages = glob.glob(str(venv / "lib" / "python*" / "site-packages"))[0]
    paths = sorted({sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]})
    with open(os.path.join(site_packages, "board_system_packages.pth"), "w") as f:
        f.write("\n".join(paths) + "\n")


def write_inventory(tmp_path):
    hosts = {
        "board-a": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable},
        "board-b": {"ansible_connection": "local", "ansible_python_interpreter": "/nonexistent/python3"},
    }
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
    }
    inventory = {"all": {"children": {"jetsons": {"hosts": hosts, "vars": board_vars}}}}
    path = tmp_path / "inventory.yml"
    path.write_text(json.dumps(inventory))
    return path


@pytest.fixture(scope="module")
def fleet_run(tmp_path_factory):
    """One playbook run shared by the tests below: (CompletedProcess, workstation profiles dir)."""
    tmp_path = tmp_path_factory.mktemp("fleet")
    board_venv_with_system_packages(tmp_path / "boards" / "board-a" / "venv")
    fetch_dir = tmp_path / "workstation" / "profiles"
    command = [ansible_playbook(), "-i", str(write_inventory(tmp_path)), PLAYBOOK,
               "-e", "edgeprof_models=" + TINY_ONNX, "-e", "edgeprof_fetch_dir=" + str(fetch_dir)]
    result = subprocess.run(command, capture_output=True, text=True, env=ansible_env(tmp_path),
                            cwd=str(tmp_path), timeout=600, check=False)
    return result, fetch_dir


def test_playbook_passes_ansible_syntax_check(tmp_path):
    inventory = os.path.join(REPO, "deploy", "ansible", "inventory.example.yml")
    result = subprocess.run([ansible_playbook(), "-i", inventory, PLAYBOOK, "--syntax-check"],
                            capture_output=True, text=True, env=ansible_env(tmp_path), timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_fleet_run_fetches_the_healthy_boards_profile_into_profiles_host(fleet_run):
    result, fetch_dir = fleet_run
    fetched = sorted(os.listdir(str(fetch_dir / "board-a")))
    assert fetched == ["tiny__onnxruntime__fp32.yaml"], result.stdout[-4000:]


def test_fleet_run_profile_is_a_valid_profile_of_the_swept_batch(fleet_run):
    _, fetch_dir = fleet_run
    data = profile.load(str(fetch_dir / "board-a" / "tiny__onnxruntime__fp32.yaml"))
    assert data["backend"]["name"] == "onnxruntime"
    assert [(run["batch"], run["status"]) for run in data["runs"]] == [(1, "ok")]
    assert data["power"]["status"] == "unavailable"


def test_fleet_run_reports_the_failed_board_and_exits_non_zero(fleet_run):
    result, fetch_dir = fleet_run
    assert result.returncode != 0
    assert "failed: board-b" in result.stdout
    assert "edgeprof failed on: board-b" in result.stdout
    assert not (fetch_dir / "board-b").exists()
