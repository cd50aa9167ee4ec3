# shellcheck shell=bash
# Docker checks that build.sh and run.sh make before anything else (sourced after
# deploy/jetson/common.sh). Each failed check is one line saying what to do; under --dry-run
# (DRY_RUN=1) it is printed as a warning, and the commands are still shown.
#
# What the checks read, and from where:
#   - `docker info --format` runs the Go template on the daemon's answer (docs.docker.com,
#     reference/cli/docker/system/info); .DefaultRuntime and .Runtimes (name -> .Path) are fields of
#     the Engine API's /info (docs.docker.com, reference/api/engine, schema SystemInfo and Runtime).
#     The docker CLI 28.2.2 checks the field names even without a daemon, and exits 1 with
#     "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon
#     running?" or "permission denied while trying to connect to the Docker daemon socket at ..."
#     (both seen from that CLI here; the second is what a user outside the docker group gets).
#   - the nvidia runtime: NVIDIA's container-only setup for JetPack 5 is "sudo apt install
#     nvidia-container; sudo systemctl restart docker; sudo usermod -aG docker $USER; newgrp docker"
#     (nvidia-ai-iot.github.io/jetson-min-disk/jp5_container-only.html); JetPack 4 images ship it as
#     nvidia-docker2 / nvidia-container-runtime.

# Set to 1 by a failed check under --dry-run; build.sh and run.sh read it.
# shellcheck disable=SC2034
PREFLIGHT_FAILED=0

# A failed check: stop, or under --dry-run say what a real run would stop on.
preflight_fail() {
    if [ "$DRY_RUN" = 1 ]; then
        warn "$* (a real run stops here)"
        # shellcheck disable=SC2034
        PREFLIGHT_FAILED=1
        return 0
    fi
    die "$@"
}

DOCKER_DEFAULT_RUNTIME=
DOCKER_NVIDIA_RUNTIME=

# docker installed, daemon reachable by this user, nvidia runtime registered with an existing binary.
check_docker() {
    local answer status=0 errors me
    me=$(id -un 2>/dev/null || id -u)
    errors=$(mktemp)
    if ! command -v docker >/dev/null 2>&1; then
        rm -f "$errors"
        preflight_fail "docker is not installed: on JetPack 5/6 'sudo apt-get install nvidia-container' brings it with NVIDIA's runtime (JetPack 4: 'sudo apt-get install nvidia-docker2'), then 'sudo systemctl restart docker'"
        return 0
    fi
    answer=$(docker info --format '{{.DefaultRuntime}} {{(index .Runtimes "nvidia").Path}}' 2>"$errors") || status=$?
    if [ "$status" != 0 ]; then
        if grep -q 'permission denied' "$errors"; then
            rm -f "$errors"
            preflight_fail "$me may not use docker (permission denied on its socket): 'sudo usermod -aG docker $me', then log out and in again (or 'newgrp docker')"
            return 0
        fi
        answer=$(head -n 1 "$errors")
        rm -f "$errors"
        preflight_fail "the docker daemon does not answer (${answer:-docker info failed}): 'sudo systemctl start docker'"
        return 0
    fi
    rm -f "$errors"
    DOCKER_DEFAULT_RUNTIME=${answer%% *}
    DOCKER_NVIDIA_RUNTIME=${answer#* }
    [ "$DOCKER_NVIDIA_RUNTIME" = "$answer" ] && DOCKER_NVIDIA_RUNTIME=
    if [ -z "$DOCKER_NVIDIA_RUNTIME" ]; then
        preflight_fail "docker has no 'nvidia' runtime, so a container gets no GPU: 'sudo apt-get install nvidia-container' (JetPack 4: nvidia-docker2), then 'sudo systemctl restart docker'"
    elif ! command -v "$DOCKER_NVIDIA_RUNTIME" >/dev/null 2>&1; then
        preflight_fail "docker's 'nvidia' runtime is $DOCKER_NVIDIA_RUNTIME, which is not installed: 'sudo apt-get install nvidia-container-toolkit' (JetPack 4: nvidia-container-runtime)"
    fi
}

# Builds need "default-runtime": "nvidia": only then do the RUN steps of the classic builder get
# the host's libraries: on JetPack 4 CUDA, nvcc and TensorRT themselves, on every JetPack the driver
# libraries that `import tensorrt` loads (jetson-containers docs/setup.md: "you need to set Docker's
# default-runtime to nvidia, so that the NVCC compiler and GPU are available during docker build
# operations"; BuildKit's RUN steps never get a runtime other than runc).
# When the daemon did not answer (a dry run), /etc/docker/daemon.json under the root says instead.
DEFAULT_RUNTIME_NVIDIA=0
check_default_runtime() {
    local force=$1 daemon_json snippet='{ "runtimes": { "nvidia": { "path": "nvidia-container-runtime", "runtimeArgs": [] } }, "default-runtime": "nvidia" }'
    if [ -z "$DOCKER_DEFAULT_RUNTIME" ]; then
        daemon_json=$(read_machine_file /etc/docker/daemon.json 2>/dev/null) || daemon_json=
        if printf '%s' "$daemon_json" | grep -q '"default-runtime" *: *"nvidia"'; then
            DOCKER_DEFAULT_RUNTIME=nvidia
        else
            DOCKER_DEFAULT_RUNTIME="not nvidia in /etc/docker/daemon.json"
        fi
    fi
    if [ "$DOCKER_DEFAULT_RUNTIME" = nvidia ]; then
        # shellcheck disable=SC2034
        DEFAULT_RUNTIME_NVIDIA=1
        return 0
    fi
    if [ "$force" = 1 ]; then
        warn "docker's default runtime is $DOCKER_DEFAULT_RUNTIME, not nvidia: building anyway (--force); TensorRT's import is not checked, and on JetPack 4 pycuda's build will not find nvcc"
        return 0
    fi
    preflight_fail "docker's default runtime is $DOCKER_DEFAULT_RUNTIME: the build's RUN steps need the host's libraries (CUDA on JetPack 4, the driver for 'import tensorrt' on all); put $snippet in /etc/docker/daemon.json, 'sudo systemctl restart docker', and build again (--force builds anyway)"
}

# The groups the container user needs for the GPU, as numeric ids in GPU_GROUPS. L4T's GPU nodes
# (/dev/nvhost-*, /dev/nvmap, /dev/nvgpu/*) are root:video 0660 (L4T's udev rules: KERNEL=="nvmap",
# GROUP="video", MODE="0660"), and `docker run --user uid:gid` keeps only that primary group, so
# without --group-add the process gets "no CUDA-capable device is detected" (NVIDIA/nvidia-docker#1449;
# rapidsai/node#87 adds the video group for the same reason). The group is the one that owns
# /dev/nvmap when the node is there, else "video" in /etc/group; "render" is added where it exists.
GPU_GROUPS=()
check_gpu_groups() {
    local gid render
    GPU_GROUPS=()
    if [ -e "$(machine_path /dev/nvmap)" ]; then
        gid=$(stat -c %g "$(machine_path /dev/nvmap)")
    else
        gid=$(group_id video)
    fi
    if [ -z "$gid" ]; then
        preflight_fail "no 'video' group in /etc/group and no /dev/nvmap: the container could not open the GPU; is this a Jetson with L4T's udev rules?"
        return 0
    fi
    GPU_GROUPS=("$gid")
    render=$(group_id render)
    if [ -n "$render" ] && [ "$render" != "$gid" ]; then
        GPU_GROUPS+=("$render")
    fi
}

# The numeric id of a group in the machine's /etc/group, or nothing.
group_id() {
    { read_machine_file /etc/group 2>/dev/null || true; } | awk -F: -v name="$1" '$1 == name { print $3; exit }'
}
