#!/usr/bin/env bash
# Run the edgeprof agent image on a Jetson with what it needs to see. See --help.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../jetson/common.sh
. "$HERE/../jetson/common.sh"
# shellcheck source=images.sh
. "$HERE/images.sh"
# shellcheck source=preflight.sh
. "$HERE/preflight.sh"

usage() {
    cat <<USAGE
Usage: deploy/container/run.sh [--image NAME] [--models DIR] [--profiles DIR] [--jtop] [--dry-run] [-- EDGEPROF ARGS]

Run edgeprof in its container (default command: info), with:
  - the nvidia runtime (GPU, CUDA and TensorRT from JetPack),
  - the caller's user id, plus the group that owns the GPU nodes (video) and render where it
    exists: without them a non-root container sees no CUDA device,
  - the models folder read-only at /work/models, the profiles folder at /work/profiles,
    the engine cache at /work/.cache/edgeprof (HOME is /work, writable by any user),
  - the host's /etc/nv_tegra_release and nvpmodel state read-only (board identity and mode).
The INA3221 power rails need no mount: a container sees the host's /sys read-only, so the
rails read as they do on the host for the same user ('-- info' shows what edgeprof finds).
Docker, its daemon, NVIDIA's runtime, the GPU group and the image are checked first.

Example:
  deploy/container/run.sh -- sweep --models /work/models --out /work/profiles --batch 1,2,4

Options:
  --image NAME     image (default: edgeprof:rMAJOR.MINOR of the board's L4T release, as build.sh names it)
  --models DIR     models folder (default: ./models)
  --profiles DIR   profiles folder (default: ./profiles)
  --cache DIR      TensorRT engine cache (default: \$HOME/.cache/edgeprof)
  --jtop           also mount the jtop socket /run/jtop.sock (power through jetson-stats). Not by
                   default: the socket is jtop's control channel too, so the container could change
                   the power mode, clocks and fan ('read-only' cannot be had: see docs/deploy.md)
  --dry-run        print the checks and the docker command, run nothing
  -h, --help       this text
USAGE
}

IMAGE=
MODELS=$PWD/models
PROFILES=$PWD/profiles
CACHE=${HOME:-/root}/.cache/edgeprof
JTOP=0
EDGEPROF_ARGS=(info)

parse_args() {
    while [ $# -gt 0 ]; do
        case "$1" in
            --image) IMAGE=${2:?--image needs a name}; shift ;;
            --models) MODELS=${2:?--models needs a folder}; shift ;;
            --profiles) PROFILES=${2:?--profiles needs a folder}; shift ;;
            --cache) CACHE=${2:?--cache needs a folder}; shift ;;
            --jtop) JTOP=1 ;;
            --dry-run) DRY_RUN=1 ;;
            -h | --help) usage; exit 0 ;;
            --) shift; [ $# -gt 0 ] && EDGEPROF_ARGS=("$@"); return 0 ;;
            *) die "unknown option '$1' (see deploy/container/run.sh --help; edgeprof's own flags go after --)" ;;
        esac
        shift
    done
}

# A folder as an absolute path: docker before 23.0 takes "-v ./models:..." for a volume name and
# refuses it ('"./models" includes invalid characters for a local volume name ... If you intended
# to pass a host directory, use absolute path': docker/docs#11399); Ubuntu 18.04's and 20.04's
# docker.io, on JetPack 4 and 5, are 20.10.
absolute_path() {
    case "$1" in
        /*) printf '%s\n' "$1" ;;
        *) printf '%s/%s\n' "$PWD" "${1#./}" ;;
    esac
}

default_image() {
    local l4t row
    l4t=$(board_l4t)
    [ -n "$l4t" ] || die "not a Jetson (no /etc/nv_tegra_release, no nvidia-l4t-core package): pass --image"
    row=$(image_row "$l4t") || die "no image known for L4T $l4t; known: $(known_releases); pass --image NAME (built with build.sh --base-image)"
    image_tag "$row"
}

# The image must be there: docker run would otherwise try to pull "edgeprof:..." from Docker Hub.
check_image() {
    [ "$PREFLIGHT_FAILED" = 0 ] || return 0
    command -v docker >/dev/null 2>&1 || return 0
    if ! docker image inspect "$IMAGE" >/dev/null 2>&1; then
        preflight_fail "no image $IMAGE here: build it with deploy/container/build.sh (or pass --image)"
    fi
}

DOCKER_ARGS=()
add_readonly_if_present() {
    if [ -e "$(machine_path "$1")" ]; then
        DOCKER_ARGS+=(-v "$1:$1:ro")
    fi
}

build_docker_args() {
    local gid jtop_gid
    DOCKER_ARGS=(--rm --runtime nvidia --user "$(id -u):$(id -g)")
    for gid in "${GPU_GROUPS[@]}"; do
        DOCKER_ARGS+=(--group-add "$gid")
    done
    DOCKER_ARGS+=(-v "$MODELS:/work/models:ro" -v "$PROFILES:/work/profiles" -v "$CACHE:/work/.cache/edgeprof")
    add_readonly_if_present /etc/nv_tegra_release
    add_readonly_if_present /etc/nvpmodel.conf
    add_readonly_if_present /var/lib/nvpmodel/status
    if [ "$JTOP" = 0 ]; then
        note "power from the INA3221 rails in /sys only (--jtop adds jetson-stats through its socket)"
        return 0
    fi
    [ -e "$(machine_path /run/jtop.sock)" ] ||
        preflight_fail "--jtop: no /run/jtop.sock (the jtop service is not running): 'sudo systemctl start jtop'"
    # No :ro here: a read-only bind mount does not stop connect() or writes on a socket, and jtop's
    # client must write to it (rbonghi/jetson_stats jtop/jtop.py, _get_configuration puts
    # {'interval': ...} on the control queue); that same queue takes 'nvp', 'jc', 'fan' and 'swap'
    # commands, which the root service carries out (jtop/service.py, the control loop).
    DOCKER_ARGS+=(-v /run/jtop.sock:/run/jtop.sock)
    jtop_gid=$(group_id jtop)
    [ -n "$jtop_gid" ] && DOCKER_ARGS+=(--group-add "$jtop_gid")
    warn "--jtop: the container can change this board's power mode, clocks and fan through jtop's socket"
}

# The folders the container writes to must be writable by the caller, whose id it runs under.
check_writable_folders() {
    local folder
    for folder in "$PROFILES" "$CACHE"; do
        if [ -d "$folder" ] && [ ! -w "$folder" ]; then
            preflight_fail "$folder is not writable by $(id -un 2>/dev/null || id -u), and the container runs as that user: fix its owner (sudo chown -R $(id -u):$(id -g) $folder)"
        fi
    done
}

main() {
    parse_args "$@"
    [ "$DRY_RUN" = 1 ] && say "dry run: nothing will be changed"
    IMAGE=${IMAGE:-$(default_image)}
    MODELS=$(absolute_path "$MODELS")
    PROFILES=$(absolute_path "$PROFILES")
    CACHE=$(absolute_path "$CACHE")
    say "checking docker and the GPU groups"
    check_docker
    check_gpu_groups
    check_image
    check_writable_folders
    build_docker_args
    [ "$PREFLIGHT_FAILED" = 0 ] && note "docker, the nvidia runtime, the GPU group and $IMAGE are ready"
    run mkdir -p "$PROFILES" "$CACHE"
    run docker run "${DOCKER_ARGS[@]}" "$IMAGE" "${EDGEPROF_ARGS[@]}"
}

main "$@"
