#!/usr/bin/env bash
# Run the edgeprof agent image on a Jetson with what it needs to see. See --help.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../jetson/common.sh
. "$HERE/../jetson/common.sh"

usage() {
    cat <<USAGE
Usage: deploy/container/run.sh [--image NAME] [--models DIR] [--profiles DIR] [--dry-run] [-- EDGEPROF ARGS]

Run edgeprof in its container (default command: info), with:
  - the nvidia runtime (GPU, CUDA and TensorRT from JetPack),
  - the models folder read-only at /work/models, the profiles folder at /work/profiles,
    the engine cache at /work/.cache/edgeprof,
  - the host's /etc/nv_tegra_release and nvpmodel state read-only (board identity and mode),
  - the jtop socket /run/jtop.sock when the jtop service runs (power through jetson-stats),
  - the caller's user id, and the jtop group so the socket can be opened.
The INA3221 power rails need no mount: a container sees the host's /sys read-only, so the
rails read as they do on the host for the same user ('-- info' shows what edgeprof finds).

Example:
  deploy/container/run.sh -- sweep --models /work/models --out /work/profiles --batch 1,2,4

Options:
  --image NAME     image (default: edgeprof:jp4.6 or edgeprof:jp6, from the L4T release)
  --models DIR     models folder (default: ./models)
  --profiles DIR   profiles folder (default: ./profiles)
  --cache DIR      TensorRT engine cache (default: \$HOME/.cache/edgeprof)
  --dry-run        print the docker command, run nothing
  -h, --help       this text
USAGE
}

IMAGE=
MODELS=$PWD/models
PROFILES=$PWD/profiles
CACHE=${HOME:-/root}/.cache/edgeprof
EDGEPROF_ARGS=(info)

parse_args() {
    while [ $# -gt 0 ]; do
        case "$1" in
            --image) IMAGE=${2:?--image needs a name}; shift ;;
            --models) MODELS=${2:?--models needs a folder}; shift ;;
            --profiles) PROFILES=${2:?--profiles needs a folder}; shift ;;
            --cache) CACHE=${2:?--cache needs a folder}; shift ;;
            --dry-run) DRY_RUN=1 ;;
            -h | --help) usage; exit 0 ;;
            --) shift; [ $# -gt 0 ] && EDGEPROF_ARGS=("$@"); return 0 ;;
            *) die "unknown option '$1' (see deploy/container/run.sh --help; edgeprof's own flags go after --)" ;;
        esac
        shift
    done
}

default_image() {
    local l4t
    l4t=$(l4t_release)
    case "${l4t%%.*}" in
        32) echo edgeprof:jp4.6 ;;
        36) echo edgeprof:jp6 ;;
        *) die "no default image for L4T '${l4t:-none}': pass --image" ;;
    esac
}

# The numeric id of a group in the machine's /etc/group, or nothing.
group_id() {
    read_machine_file /etc/group 2>/dev/null | awk -F: -v name="$1" '$1 == name { print $3 }'
}

DOCKER_ARGS=()
add_readonly_if_present() {
    if [ -e "$(machine_path "$1")" ]; then
        DOCKER_ARGS+=(-v "$1:$1:ro")
    fi
}

build_docker_args() {
    local jtop_gid
    DOCKER_ARGS=(--rm --runtime nvidia --user "$(id -u):$(id -g)"
        -v "$MODELS:/work/models:ro" -v "$PROFILES:/work/profiles" -v "$CACHE:/work/.cache/edgeprof")
    add_readonly_if_present /etc/nv_tegra_release
    add_readonly_if_present /etc/nvpmodel.conf
    add_readonly_if_present /var/lib/nvpmodel/status
    if [ -e "$(machine_path /run/jtop.sock)" ]; then
        DOCKER_ARGS+=(-v /run/jtop.sock:/run/jtop.sock)
        jtop_gid=$(group_id jtop)
        [ -n "$jtop_gid" ] && DOCKER_ARGS+=(--group-add "$jtop_gid")
        note "jtop socket found: power through jetson-stats is available in the container"
    else
        note "no /run/jtop.sock (jtop service not running): power from the INA3221 rails in /sys only"
    fi
}

main() {
    parse_args "$@"
    IMAGE=${IMAGE:-$(default_image)}
    build_docker_args
    run mkdir -p "$PROFILES" "$CACHE"
    run docker run "${DOCKER_ARGS[@]}" "$IMAGE" "${EDGEPROF_ARGS[@]}"
}

main "$@"
