#!/usr/bin/env bash
# Build the edgeprof agent image for the board's JetPack. See --help.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
# shellcheck source=../jetson/common.sh
. "$HERE/../jetson/common.sh"

usage() {
    cat <<USAGE
Usage: deploy/container/build.sh [--jetpack 4.6|6] [--tag NAME] [--jetson-stats SPEC] [--dry-run]

Build the edgeprof agent image on NVIDIA's L4T TensorRT base images:
  JetPack 4.6 (L4T R32.7): nvcr.io/nvidia/l4t-tensorrt:r8.2.1-runtime, Python 3.6
  JetPack 6   (L4T R36):   nvcr.io/nvidia/l4t-tensorrt:r10.3.0-devel to build,
                           nvcr.io/nvidia/l4t-tensorrt:r10.3.0-runtime to run, Python 3.10
Run it on the board itself (the images are arm64). The build context is staged in
build/container-context (only edgeprof's sources and the Dockerfile).

Options:
  --jetpack V         4.6 or 6 (default: from /etc/nv_tegra_release under EDGEPROF_ROOT)
  --tag NAME          image name (default: edgeprof:jp4.6 or edgeprof:jp6)
  --jetson-stats SPEC also install the jtop client, e.g. jetson-stats==4.3.1: match the host's
                      jtop service version (jtop --version), as the socket protocol must agree
  --dry-run           print the commands, change nothing
  -h, --help          this text
USAGE
}

JETPACK=
TAG=
JETSON_STATS_SPEC=
CONTEXT=$REPO/build/container-context

parse_args() {
    while [ $# -gt 0 ]; do
        case "$1" in
            --jetpack) JETPACK=${2:?--jetpack needs 4.6 or 6}; shift ;;
            --tag) TAG=${2:?--tag needs a name}; shift ;;
            --jetson-stats) JETSON_STATS_SPEC=${2:?--jetson-stats needs a pip requirement}; shift ;;
            --dry-run) DRY_RUN=1 ;;
            -h | --help) usage; exit 0 ;;
            *) die "unknown option '$1' (see deploy/container/build.sh --help)" ;;
        esac
        shift
    done
}

detect_jetpack() {
    local l4t
    [ -n "$JETPACK" ] && return 0
    l4t=$(l4t_release)
    case "${l4t%%.*}" in
        32) JETPACK=4.6 ;;
        36) JETPACK=6 ;;
        "") die "not a Jetson (no /etc/nv_tegra_release): pass --jetpack 4.6 or --jetpack 6" ;;
        *) die "L4T $l4t has no recipe here (JetPack 4.6 and 6 only): pass --jetpack to try one" ;;
    esac
    note "L4T $l4t: JetPack $JETPACK recipe"
}

# Build arguments per JetPack, as data. JetPack 4.6: Ubuntu 18.04's numpy (1.13) and PyYAML (3.12)
# are older than edgeprof needs, so pip brings them; see install.sh for the numpy and pycuda pins.
BUILD_ARGS=()
set_build_args() {
    case "$JETPACK" in
        4.6)
            BUILD_ARGS=(
                --build-arg BUILD_IMAGE=nvcr.io/nvidia/l4t-tensorrt:r8.2.1-runtime
                --build-arg RUNTIME_IMAGE=nvcr.io/nvidia/l4t-tensorrt:r8.2.1-runtime
                --build-arg "BUILD_APT_PACKAGES=python3-pip python3-dev build-essential"
                --build-arg "RUNTIME_APT_PACKAGES=python3-pip"
                --build-arg "PIP_SPEC=pip<22"
                --build-arg "PIN_SPECS=numpy==1.19.4"
                --build-arg "PYCUDA_SPEC=pycuda<2021.1"
            )
            ;;
        6)
            BUILD_ARGS=(
                --build-arg BUILD_IMAGE=nvcr.io/nvidia/l4t-tensorrt:r10.3.0-devel
                --build-arg RUNTIME_IMAGE=nvcr.io/nvidia/l4t-tensorrt:r10.3.0-runtime
            )
            ;;
        *) die "--jetpack must be 4.6 or 6, got '$JETPACK'" ;;
    esac
    if [ -n "$JETSON_STATS_SPEC" ]; then
        BUILD_ARGS+=(--build-arg "JETSON_STATS_SPEC=$JETSON_STATS_SPEC")
    fi
}

check_default_runtime() {
    local daemon_json
    [ "$JETPACK" = 4.6 ] || return 0
    daemon_json=$(read_machine_file /etc/docker/daemon.json 2>/dev/null) || daemon_json=
    if ! printf '%s' "$daemon_json" | grep -q '"default-runtime" *: *"nvidia"'; then
        warn "JetPack 4 mounts CUDA from the host only through the nvidia runtime: set \"default-runtime\": \"nvidia\" in /etc/docker/daemon.json and restart docker, or pycuda's build cannot find nvcc"
    fi
}

stage_context() {
    say "staging the build context in $CONTEXT"
    run rm -rf "$CONTEXT"
    run mkdir -p "$CONTEXT/edgeprof-src"
    run cp "$HERE/Dockerfile" "$CONTEXT/Dockerfile"
    run cp -R "$REPO/edgeprof" "$REPO/setup.cfg" "$REPO/setup.py" "$REPO/README.md" "$CONTEXT/edgeprof-src/"
}

main() {
    parse_args "$@"
    [ "$DRY_RUN" = 1 ] && say "dry run: nothing will be changed"
    detect_jetpack
    set_build_args
    TAG=${TAG:-edgeprof:jp$JETPACK}
    check_default_runtime
    stage_context
    say "building $TAG for JetPack $JETPACK"
    if [ "$JETPACK" = 4.6 ]; then
        note "classic builder: only its RUN steps get the nvidia runtime, and with it the host's CUDA"
        run env DOCKER_BUILDKIT=0 docker build -t "$TAG" "${BUILD_ARGS[@]}" "$CONTEXT"
    else
        run docker build -t "$TAG" "${BUILD_ARGS[@]}" "$CONTEXT"
    fi
    say "done: deploy/container/run.sh --image $TAG -- info"
}

main "$@"
