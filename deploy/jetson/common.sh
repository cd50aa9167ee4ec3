# shellcheck shell=bash
# Helpers shared by install.sh, prepare.sh and the container scripts (sourced, not run).
#
# Every read of the machine goes through machine_path, under EDGEPROF_ROOT (default /), the
# same variable the Python agent uses, so tests can point the scripts at fixture trees.
# Every command that changes something goes through `run`: it echoes the command and, under
# --dry-run (DRY_RUN=1), does not execute it.

DRY_RUN=${DRY_RUN:-0}

say() { printf '==> %s\n' "$*"; }
note() { printf '    %s\n' "$*"; }
warn() { printf 'warning: %s\n' "$*" >&2; }
die() {
    printf 'error: %s\n' "$*" >&2
    exit 2
}

# The arguments as one line a user could paste into a shell: plain words as they are, others in ''.
quote_args() {
    local arg line=
    for arg in "$@"; do
        if [[ "$arg" =~ ^[A-Za-z0-9_./=:,@+%-]+$ ]]; then
            line="$line $arg"
        else
            line="$line '${arg//\'/\'\\\'\'}'"
        fi
    done
    printf '%s\n' "${line# }"
}

# Print a command the way a user could paste it, then run it unless this is a dry run.
run() {
    printf '+ %s\n' "$(quote_args "$@")"
    if [ "$DRY_RUN" = 1 ]; then
        return 0
    fi
    "$@"
}

# Run a command as root: directly when we are root, else through sudo.
run_as_root() {
    if [ "$(id -u)" = 0 ]; then
        run "$@"
    else
        run sudo "$@"
    fi
}

# machine_path /etc/nv_tegra_release -> $EDGEPROF_ROOT/etc/nv_tegra_release
machine_path() {
    local root=${EDGEPROF_ROOT:-/}
    root=${root%/}
    printf '%s/%s' "$root" "${1#/}"
}

# The text of a machine file without NUL bytes (device-tree strings end in one); fails when missing.
read_machine_file() {
    local file
    file=$(machine_path "$1")
    [ -r "$file" ] || return 1
    tr -d '\000' <"$file"
}

# L4T release as 32.7.1 from /etc/nv_tegra_release ("# R32 (release), REVISION: 7.1, ..."); empty off a Jetson.
l4t_release() {
    local text major revision
    text=$(read_machine_file /etc/nv_tegra_release 2>/dev/null | head -n 1) || return 0
    major=$(printf '%s\n' "$text" | sed -n 's/^# R\([0-9][0-9]*\) (release).*/\1/p')
    revision=$(printf '%s\n' "$text" | sed -n 's/.*REVISION: *\([0-9.][0-9.]*\).*/\1/p')
    [ -n "$major" ] && [ -n "$revision" ] || return 0
    revision=${revision%.}
    case "$revision" in
        *.*) printf '%s.%s\n' "$major" "$revision" ;;
        *) printf '%s.%s.0\n' "$major" "$revision" ;;
    esac
}

# The board's device-tree model, e.g. "NVIDIA Jetson TX2"; empty when unknown.
board_model() {
    read_machine_file /proc/device-tree/model 2>/dev/null ||
        read_machine_file /sys/firmware/devicetree/base/model 2>/dev/null || true
}

# JetPack family of an L4T major release, as data: "jetpack python ubuntu".
jetpack_family() {
    case "$1" in
        32) echo "4 python3.6 18.04" ;;
        34 | 35) echo "5 python3.8 20.04" ;;
        36) echo "6 python3.10 22.04" ;;
        *) return 1 ;;
    esac
}

# True when a Debian package is installed, read from the dpkg status file under the root.
dpkg_installed() {
    local status
    status=$(machine_path /var/lib/dpkg/status)
    [ -r "$status" ] || return 1
    awk -v want="$1" '
        /^Package: / { name = $2 }
        /^Status: / { if (name == want && $0 ~ / installed$/) found = 1 }
        END { exit found ? 0 : 1 }
    ' "$status"
}

# Exit 1: something failed on the machine (as opposed to die's 2, bad usage or not this machine).
fail() {
    printf 'error: %s\n' "$*" >&2
    exit 1
}

# The kernel's id of the running boot (changes at every boot); empty when unreadable.
boot_id() {
    read_machine_file /proc/sys/kernel/random/boot_id 2>/dev/null | tr -d '[:space:]' || true
}

# The power modes of the board's own /etc/nvpmodel.conf, one "ID NAME" a line. NVIDIA's files
# declare them as "< POWER_MODEL ID=0 NAME=MAXN >" (jetson-stats reads the same names through
# `nvpmodel -p --verbose`: jtop/core/nvpmodel.py, POWER_MODEL_RE). Fails when there is no file.
nvpmodel_modes() {
    local conf
    conf=$(read_machine_file /etc/nvpmodel.conf 2>/dev/null) || return 1
    printf '%s\n' "$conf" | sed -n 's/^<[[:space:]]*POWER_MODEL[[:space:]][[:space:]]*ID=\([0-9][0-9]*\)[[:space:]][[:space:]]*NAME=\([^[:space:]>]*\).*/\1 \2/p'
}

# The "ID NAME" line of /etc/nvpmodel.conf that a mode number or name (in any case) stands for;
# fails when the board has no such mode, or no nvpmodel.conf.
nvpmodel_lookup() {
    local modes
    modes=$(nvpmodel_modes) || return 1
    printf '%s\n' "$modes" | awk -v want="$1" '
        BEGIN { want = toupper(want) }
        NF == 2 && ($1 == want || toupper($2) == want) { print; found = 1; exit }
        END { exit found ? 0 : 1 }
    '
}

# The default mode id of /etc/nvpmodel.conf ("< PM_CONFIG DEFAULT=2 >"); empty when not stated.
nvpmodel_default() {
    read_machine_file /etc/nvpmodel.conf 2>/dev/null |
        sed -n 's/^<[[:space:]]*PM_CONFIG[[:space:]][[:space:]]*DEFAULT=\([0-9][0-9]*\).*/\1/p' | head -n 1
}

# The version of the jetson-stats that serves /run/jtop.sock, from its pip metadata under
# /usr/local/lib/python3*/dist-packages (sudo pip's target on Ubuntu); empty when not found.
# install.sh prints it, build.sh checks a container's client against it.
jtop_host_version() {
    local found
    # find fails on a missing folder; pipefail would then hide what it found in the other.
    found=$({ find "$(machine_path /usr/local/lib)" "$(machine_path /usr/lib)" -maxdepth 3 \
        \( -name 'jetson_stats-*.dist-info' -o -name 'jetson_stats-*.egg-info' \) 2>/dev/null || true; } | head -n 1)
    [ -n "$found" ] || return 0
    found=${found##*/jetson_stats-}
    printf '%s\n' "${found%.*-info}" | sed 's/-py[0-9.]*$//'
}
