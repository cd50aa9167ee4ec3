#!/usr/bin/env bash
# Build the edgeprof agent image for the board's L4T release. See --help.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
# shellcheck source=../jetson/common.sh
. "$HERE/../jetson/common.sh"
# shellcheck source=images.sh
. "$HERE/images.sh"
# shellcheck source=preflight.sh
. "$HERE/preflight.sh"

usage() {
    cat <<USAGE
Usage: deploy/container/build.sh [--l4t RELEASE | --jetpack V] [--base-image IMAGE] [--tag NAME] [--force] [--dry-run]

Build the edgeprof agent image on NVIDIA's L4T images for the board's L4T release, read from
/etc/nv_tegra_release (or the nvidia-l4t-core package). One image per release line:
$(printf '%s\n' "$IMAGE_TABLE" | awk 'NF { printf "  L4T %-9s JetPack %-11s TensorRT %-6s Python %-4s %s\n", ($1 == $2 ? $1 : $1 "-" $2), $3, $4, $5, $7 }')
Run it on the board itself (the images are arm64). The build context is staged in
build/container-context (only edgeprof's sources and the Dockerfile). Docker, its daemon and
NVIDIA's runtime are checked first, and docker's default runtime must be nvidia (the classic
builder's RUN steps then get the host's libraries, which 'import tensorrt' needs).

Options:
  --l4t RELEASE       build for this L4T release, e.g. 35.3.1 (default: the board's)
  --jetpack V         build for the newest L4T line of JetPack V: 4.6, 5, 5.0, 5.1, 6, 6.0, 6.1, 6.2
  --base-image IMAGE  run on IMAGE instead of the table's (a release the table lacks needs it)
  --build-image IMAGE build the wheels on IMAGE (default: the table's, or --base-image)
  --tag NAME          image name (default: edgeprof:rMAJOR.MINOR, e.g. edgeprof:r35.4)
  --context DIR       stage the build context in DIR, emptied first (default: build/container-context)
  --jetson-stats SPEC also install the jtop client, e.g. jetson-stats==4.3.2: match the host's
                      jtop service version (build.sh reads it and says it), as the protocol must agree
  --force             build even when docker's default runtime is not nvidia (TensorRT's import is
                      then not checked; on JetPack 4 pycuda cannot build)
  --dry-run           print the checks and commands, change nothing
  -h, --help          this text
USAGE
}

L4T=
JETPACK=
BASE_IMAGE=
BUILD_IMAGE=
TAG=
JETSON_STATS_SPEC=
FORCE=0
CONTEXT=$REPO/build/container-context

parse_args() {
    while [ $# -gt 0 ]; do
        case "$1" in
            --l4t) L4T=${2:?--l4t needs a release such as 35.4.1}; shift ;;
            --jetpack) JETPACK=${2:?--jetpack needs a JetPack version such as 5}; shift ;;
            --base-image) BASE_IMAGE=${2:?--base-image needs an image}; shift ;;
            --build-image) BUILD_IMAGE=${2:?--build-image needs an image}; shift ;;
            --tag) TAG=${2:?--tag needs a name}; shift ;;
            --context) CONTEXT=${2:?--context needs a folder}; shift ;;
            --jetson-stats) JETSON_STATS_SPEC=${2:?--jetson-stats needs a pip requirement}; shift ;;
            --force) FORCE=1 ;;
            --dry-run) DRY_RUN=1 ;;
            -h | --help) usage; exit 0 ;;
            *) die "unknown option '$1' (see deploy/container/build.sh --help)" ;;
        esac
        shift
    done
    [ -z "$L4T" ] || [ -z "$JETPACK" ] || die "--l4t and --jetpack both name a release: pass one"
}

# The release to build for: --l4t, --jetpack, or the board's; warns when it is not the board's line.
ROW=
choose_release() {
    local board
    board=$(board_l4t)
    if [ -n "$JETPACK" ]; then
        L4T=$(jetpack_line "$JETPACK") ||
            die "--jetpack $JETPACK is not one of 4.6, 5, 5.0, 5.1, 6, 6.0, 6.1, 6.2 (or pass --l4t RELEASE)"
    fi
    if [ -z "$L4T" ]; then
        L4T=$board
        [ -n "$L4T" ] || die "not a Jetson (no /etc/nv_tegra_release, no nvidia-l4t-core package): pass --l4t RELEASE or --jetpack V"
    fi
    [ -n "$(release_line "$L4T")" ] || die "--l4t $L4T is not a release such as 35.4.1"
    ROW=$(image_row "$L4T") || ROW=
    if [ -z "$ROW" ] && [ -z "$BASE_IMAGE" ]; then
        die "no image known for L4T $L4T; known: $(known_releases); pass --base-image IMAGE (an NGC l4t-tensorrt or l4t-jetpack tag for this release) to build on it"
    fi
    if [ -n "$board" ] && [ "$(release_line "$board")" != "$(release_line "$L4T")" ] &&
        [ "$(image_row "$board" || true)" != "$ROW" ]; then
        warn "building for L4T $L4T on a board with L4T $board: the image's CUDA and TensorRT will not match this board"
    fi
}

# Build arguments per L4T major, as data. R32 (Python 3.6): Ubuntu 18.04's numpy (1.13) and PyYAML
# (3.12) are older than edgeprof needs, so pip brings them; see install.sh for the numpy and pycuda
# pins. R34/R35 (Python 3.8): 20.04's numpy is 1.17.4, below edgeprof's 1.19, and pycuda builds in
# isolation against numpy>=1.24 (inducer/pycuda pyproject.toml, v2025.1+) without requiring it at
# run time, so the image gets numpy 1.24.4, the last release for Python 3.8.
BUILD_ARGS=()
set_build_args() {
    local build runtime major=${L4T%%.*}
    build=$(printf '%s\n' "$ROW" | awk '{ print $6 }')
    runtime=$(printf '%s\n' "$ROW" | awk '{ print $7 }')
    runtime=${BASE_IMAGE:-$runtime}
    build=${BUILD_IMAGE:-${BASE_IMAGE:-$build}}
    BUILD_ARGS=(--build-arg "BUILD_IMAGE=$build" --build-arg "RUNTIME_IMAGE=$runtime")
    case "$major" in
        32)
            BUILD_ARGS+=(
                --build-arg "BUILD_APT_PACKAGES=python3-pip python3-dev build-essential"
                --build-arg "RUNTIME_APT_PACKAGES=python3-pip"
                --build-arg "PIP_SPEC=pip<22"
                --build-arg "PIN_SPECS=numpy==1.19.4"
                --build-arg "PYCUDA_SPEC=pycuda<2021.1"
            )
            ;;
        34 | 35)
            BUILD_ARGS+=(
                --build-arg "BUILD_APT_PACKAGES=python3-pip python3-dev build-essential"
                --build-arg "RUNTIME_APT_PACKAGES=python3-pip"
                --build-arg "PIN_SPECS=numpy==1.24.4"
            )
            ;;
        36) ;;
        *) note "L4T $L4T: no build arguments known for R$major, building with the Dockerfile's defaults" ;;
    esac
    if [ -n "$JETSON_STATS_SPEC" ]; then
        BUILD_ARGS+=(--build-arg "JETSON_STATS_SPEC=$JETSON_STATS_SPEC")
    fi
}

# jtop's client and service must be the same jetson-stats (the socket protocol changes between
# releases), so the host's version, read where install.sh reads it, is said or checked.
check_jtop_client() {
    local host
    host=$(jtop_host_version)
    [ -n "$host" ] || return 0
    if [ -z "$JETSON_STATS_SPEC" ]; then
        note "this board's jtop service is jetson-stats $host: for power through it in the container (run.sh --jtop), build with --jetson-stats jetson-stats==$host"
    elif [ "$JETSON_STATS_SPEC" != "jetson-stats==$host" ]; then
        warn "--jetson-stats $JETSON_STATS_SPEC, but this board's jtop service is jetson-stats $host: the container's jtop client would not talk to it (pass --jetson-stats jetson-stats==$host)"
    fi
}

describe_choice() {
    if [ -n "$ROW" ]; then
        printf '%s\n' "$ROW" | awk -v l4t="$L4T" '{ printf "==> L4T %s: JetPack %s, TensorRT %s, Python %s\n", l4t, $3, $4, $5 }'
    else
        say "L4T $L4T: no table entry, building on --base-image $BASE_IMAGE"
    fi
    note "build stage: ${BUILD_ARGS[1]#BUILD_IMAGE=}"
    note "runtime:     ${BUILD_ARGS[3]#RUNTIME_IMAGE=}"
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
    choose_release
    set_build_args
    describe_choice
    check_jtop_client
    if [ -n "$ROW" ]; then
        TAG=${TAG:-$(image_tag "$ROW")}
    else
        TAG=${TAG:-edgeprof:r$(release_line "$L4T")}
    fi
    say "checking docker"
    check_docker
    check_default_runtime "$FORCE"
    [ "$PREFLIGHT_FAILED" = 0 ] && note "docker, its daemon and the nvidia runtime are ready"
    if [ "$DEFAULT_RUNTIME_NVIDIA" = 1 ] || [ "$DRY_RUN" = 1 ]; then
        BUILD_ARGS+=(--build-arg TENSORRT_CHECK=import)
    else
        BUILD_ARGS+=(--build-arg TENSORRT_CHECK=present)
    fi
    stage_context
    say "building $TAG"
    note "classic builder: only its RUN steps get the nvidia runtime, and with it the host's libraries"
    run env DOCKER_BUILDKIT=0 docker build -t "$TAG" "${BUILD_ARGS[@]}" "$CONTEXT"
    if [ "$PREFLIGHT_FAILED" = 1 ]; then
        say "dry run: a real run would stop at the warnings above"
        return 0
    fi
    say "done: deploy/container/run.sh --image $TAG -- info"
}

main "$@"
