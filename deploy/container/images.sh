# shellcheck shell=bash
# Which NVIDIA base images the edgeprof container is built on, per L4T release (sourced by build.sh
# and run.sh after deploy/jetson/common.sh).
#
# A container's CUDA, cuDNN and TensorRT must match the board's L4T release: on R32 they come from
# the host through the nvidia runtime, from R34 on they are inside the image, so the image has to
# be the one made for that release (dusty-nv/jetson-containers#77: "The version of TensorRT/CUDA/
# cuDNN needs to match what's in your version of JetPack-L4T"). Releases of one row run each
# other's containers, as jetson-containers' l4t_version_compatible() allows: any R32.7.x, any
# R35.x, R36.2-36.3 apart from R36.4 (jetson-containers, jetson_containers/l4t_version.py at
# dd206bfe).
#
# Where each tag is known from (none was pulled here):
#   l4t-jetpack:r35.1.0, r35.2.1, r35.3.1, r35.4.1 -- jetson-containers get_l4t_base() (same file:
#     r35.x below 35.4.1 take their own tag, 35.4.1 and later all take r35.4.1)
#   l4t-tensorrt:r8.0.1-runtime (JetPack 4.6), r8.2.1-runtime (4.6.1+), r8.4.1-runtime (5.0.2),
#     r8.5.2-runtime (5.1.x), r8.6.2-devel/-runtime (6.0), r10.3.0-devel/-runtime (6.1/6.2) --
#     NGC's l4t-tensorrt tags as public Dockerfiles pull them (e.g. a Triton image built
#     "FROM nvcr.io/nvidia/l4t-tensorrt:r8.4.1-runtime" with "ARG tag=r35.1.0 / jetpack=5.0.2");
#     the TensorRT version per release is jetson-containers' packages/tensorrt/config.py (8.2 on
#     R32, 8.5 on R34/R35, 8.6 on R36 with CUDA 12.2, 10.x with CUDA 12.6).

# One row per L4T release line: first and last major.minor it covers, JetPack, TensorRT, Python,
# the image that builds the wheels (nvcc and CUDA headers) and the image the agent runs on.
IMAGE_TABLE="
32.6 32.6 4.6         8.0.1  3.6  nvcr.io/nvidia/l4t-tensorrt:r8.0.1-runtime nvcr.io/nvidia/l4t-tensorrt:r8.0.1-runtime
32.7 32.7 4.6.1-4.6.6 8.2.1  3.6  nvcr.io/nvidia/l4t-tensorrt:r8.2.1-runtime nvcr.io/nvidia/l4t-tensorrt:r8.2.1-runtime
35.1 35.1 5.0.2       8.4.1  3.8  nvcr.io/nvidia/l4t-jetpack:r35.1.0         nvcr.io/nvidia/l4t-tensorrt:r8.4.1-runtime
35.2 35.2 5.1         8.5.2  3.8  nvcr.io/nvidia/l4t-jetpack:r35.2.1         nvcr.io/nvidia/l4t-tensorrt:r8.5.2-runtime
35.3 35.3 5.1.1       8.5.2  3.8  nvcr.io/nvidia/l4t-jetpack:r35.3.1         nvcr.io/nvidia/l4t-tensorrt:r8.5.2-runtime
35.4 35.6 5.1.2-5.1.5 8.5.2  3.8  nvcr.io/nvidia/l4t-jetpack:r35.4.1         nvcr.io/nvidia/l4t-tensorrt:r8.5.2-runtime
36.2 36.3 6.0         8.6.2  3.10 nvcr.io/nvidia/l4t-tensorrt:r8.6.2-devel   nvcr.io/nvidia/l4t-tensorrt:r8.6.2-runtime
36.4 36.4 6.1-6.2.x   10.3.0 3.10 nvcr.io/nvidia/l4t-tensorrt:r10.3.0-devel  nvcr.io/nvidia/l4t-tensorrt:r10.3.0-runtime
"

# What --jetpack V stands for when there is no board to read: the newest L4T line of that JetPack.
JETPACK_TABLE="
4.6 32.7
5 35.4
5.0 35.1
5.1 35.4
6 36.4
6.0 36.2
6.1 36.4
6.2 36.4
"

# The L4T release of the machine as 35.4.1: /etc/nv_tegra_release, else the version of the
# nvidia-l4t-core package (e.g. "35.4.1-20230801124926") in the dpkg status file; empty when neither.
board_l4t() {
    local release status
    release=$(l4t_release)
    if [ -z "$release" ]; then
        status=$(machine_path /var/lib/dpkg/status)
        [ -r "$status" ] || return 0
        release=$(awk '
            /^Package: / { name = $2 }
            /^Version: / && name == "nvidia-l4t-core" { sub(/-.*/, "", $2); print $2; exit }
        ' "$status")
    fi
    printf '%s\n' "$release"
}

# major.minor of a release: 35.4.1 -> 35.4.
release_line() {
    printf '%s\n' "$1" | sed -n 's/^\([0-9][0-9]*\)\.\([0-9][0-9]*\).*/\1.\2/p'
}

# The IMAGE_TABLE row covering an L4T release (35.4.1 or 35.4), or fail.
image_row() {
    local line major minor
    line=$(release_line "$1")
    [ -n "$line" ] || return 1
    major=${line%.*}
    minor=${line#*.}
    printf '%s\n' "$IMAGE_TABLE" | awk -v major="$major" -v minor="$minor" '
        NF {
            split($1, first, "."); split($2, last, ".")
            if (first[1] == major && minor >= first[2] + 0 && minor <= last[2] + 0) { print; found = 1; exit }
        }
        END { exit found ? 0 : 1 }
    '
}

# The L4T line a --jetpack value stands for, or fail.
jetpack_line() {
    # ("" ...) compares as strings: awk would take "5.0" == "5" as numbers.
    printf '%s\n' "$JETPACK_TABLE" | awk -v want="$1" '($1 "") == (want "") { print $2; found = 1; exit } END { exit found ? 0 : 1 }'
}

# "32.6 (JetPack 4.6), 32.7 (JetPack 4.6.1-4.6.6), ...": the releases there is an image for.
known_releases() {
    printf '%s\n' "$IMAGE_TABLE" | awk '
        NF { range = ($1 == $2) ? $1 : $1 "-" $2; out = out sep range " (JetPack " $3 ")"; sep = ", " }
        END { print out }
    '
}

# The image name build.sh gives and run.sh expects for a row: edgeprof:r35.4.
image_tag() {
    printf 'edgeprof:r%s\n' "$(printf '%s\n' "$1" | awk '{ print $1 }')"
}
