#!/usr/bin/env bash
# One command for one board: install what is missing, check disk and memory, prepare the board,
# run `edgeprof sweep`, and restore the board whatever happens. See --help.
#
# Exit status: the sweep's own status when it ran; 0 done; 1 a step failed (preflight, prepare,
# restore); 2 bad usage or missing packages (install.sh names them); 4 the power mode needs a
# reboot (prepare.sh's 4: reboot, then run the same command again).
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=common.sh
. "$HERE/common.sh"

usage() {
    cat <<EOF
Usage: deploy/jetson/sweep.sh [options] [-- EDGEPROF SWEEP ARGUMENTS]

On the board, as your user (it asks sudo for apt, the power mode and the clocks):
  1. install: deploy/jetson/install.sh into the venv, only what is missing; a board without
     CUDA or TensorRT stops here, naming the packages to install,
  2. preflight: free disk where the profiles and the TensorRT engines go, and available
     memory (MemAvailable), before any engine is built,
  3. prepare: deploy/jetson/prepare.sh (power mode by number or by name from the board's
     /etc/nvpmodel.conf, clocks locked at their maximum, fan at full speed, page cache dropped),
     with a guard started first (a transient systemd unit, systemd-run --unit) that restores
     the board when this script ends in any way, an SSH drop or a kill -9 included,
  4. sweep: VENV/bin/edgeprof sweep with the arguments after --; meanwhile sudo's cached
     password is renewed every minute (sudo -n -v, never asking), so the restore after a
     sweep of hours needs no password,
  5. restore: prepare.sh --restore, on exit, on Ctrl-C, on SIGTERM and on SIGHUP (after a
     SIGHUP the terminal is gone: the rest of the output goes to
     \${TMPDIR:-/tmp}/edgeprof-sweep-<pid>.log),
then prints where the profiles are.

Options:
  --mode N|NAME        power mode for the sweep (prepare.sh --mode; see prepare.sh --list-modes),
                       checked against /etc/nvpmodel.conf before anything is installed;
                       default: keep the board's
  --no-fan             leave the fan on its own profile (default: full speed, jetson_clocks --fan)
  --no-clocks          do not lock the clocks (prepare.sh --no-clocks)
  --no-prepare         do not touch the power mode, clocks or fan at all (no restore needed)
  --venv DIR           edgeprof's venv (default: \$HOME/edgeprof-venv)
  --no-install         do not run install.sh; the venv must have edgeprof already
  --install-arg ARG    pass ARG to install.sh (repeat it), e.g. --install-arg --with-jtop
  --min-free-disk-mb N free disk needed where profiles and engines go (default: 2048, or
                       \$EDGEPROF_MIN_FREE_DISK_MB)
  --min-free-mem-mb N  MemAvailable needed before engines are built (default: 1024, or
                       \$EDGEPROF_MIN_FREE_MEM_MB); on a Nano lower --batch or add swap instead
  --state-dir DIR      prepare.sh's record (default: /var/lib/edgeprof/prepare)
  --no-guard           no systemd guard: only the trap restores (not on kill -9)
  --dry-run            print every step and command, change nothing
  -h, --help           this text

Example:
  deploy/jetson/sweep.sh --mode MAXN -- --models models --batch 1,2,4,8 --out profiles

The guard's log: journalctl -u edgeprof-guard-<pid>. The machine is read under EDGEPROF_ROOT
(default /), like the edgeprof agent.
EOF
}

MODE=
FAN=1
CLOCKS=1
PREPARE=1
VENV=${HOME:-/root}/edgeprof-venv
VENV_GIVEN=0
INSTALL=1
INSTALL_ARGS=()
MIN_DISK_MB=${EDGEPROF_MIN_FREE_DISK_MB:-2048}
MIN_MEM_MB=${EDGEPROF_MIN_FREE_MEM_MB:-1024}
STATE_DIR=/var/lib/edgeprof/prepare
GUARD=1
SWEEP_ARGS=()

parse_args() {
    while [ $# -gt 0 ]; do
        case "$1" in
            --mode) MODE=${2:?--mode needs a mode number or name}; shift ;;
            --no-fan) FAN=0 ;;
            --no-clocks) CLOCKS=0 ;;
            --no-prepare) PREPARE=0 ;;
            --venv) VENV=${2:?--venv needs a folder}; VENV_GIVEN=1; shift ;;
            --no-install) INSTALL=0 ;;
            --install-arg) INSTALL_ARGS+=("${2:?--install-arg needs an argument}"); shift ;;
            --min-free-disk-mb) MIN_DISK_MB=${2:?--min-free-disk-mb needs a number}; shift ;;
            --min-free-mem-mb) MIN_MEM_MB=${2:?--min-free-mem-mb needs a number}; shift ;;
            --state-dir) STATE_DIR=${2:?--state-dir needs a folder}; shift ;;
            --no-guard) GUARD=0 ;;
            --dry-run) DRY_RUN=1 ;;
            -h | --help) usage; exit 0 ;;
            --) shift; SWEEP_ARGS=("$@"); break ;;
            *) die "unknown option '$1' (see deploy/jetson/sweep.sh --help; edgeprof sweep's own flags go after --)" ;;
        esac
        shift
    done
    local number
    for number in "$MIN_DISK_MB" "$MIN_MEM_MB"; do
        [[ "$number" =~ ^[0-9]+$ ]] || die "--min-free-disk-mb and --min-free-mem-mb take a number of MiB, got '$number'"
    done
    if [ "$(id -u)" = 0 ] && [ "$VENV_GIVEN" = 0 ]; then
        die "running as root: run sweep.sh as your user (it asks sudo where it needs root), or pass --venv DIR"
    fi
}

# The value of an edgeprof sweep flag in SWEEP_ARGS (--out DIR or --out=DIR); the default otherwise.
sweep_flag() {
    local flag=$1 value=$2 i
    for ((i = 0; i < ${#SWEEP_ARGS[@]}; i++)); do
        case "${SWEEP_ARGS[$i]}" in
            "$flag") value=${SWEEP_ARGS[$((i + 1))]:-$value} ;;
            "$flag"=*) value=${SWEEP_ARGS[$i]#"$flag"=} ;;
        esac
    done
    printf '%s\n' "$value"
}

step_install() {
    say "step 1: install (deploy/jetson/install.sh, only what is missing)"
    if [ "$INSTALL" = 0 ]; then
        note "skipped (--no-install)"
        if [ "$DRY_RUN" = 0 ] && [ ! -x "$VENV/bin/edgeprof" ]; then
            die "--no-install, but $VENV/bin/edgeprof is missing: run without --no-install, or pass --venv"
        fi
        return 0
    fi
    local args=(--venv "$VENV")
    [ "$DRY_RUN" = 1 ] && args+=(--dry-run)
    # install.sh dies with status 2 and the missing packages' names; set -e passes that on.
    bash "$HERE/install.sh" "${args[@]}" "${INSTALL_ARGS[@]}" | sed 's/^/    | /'
}

# Free MiB on the filesystem holding DIR (or its nearest existing parent), from df -P.
free_disk_mb() {
    local dir=$1
    while [ ! -e "$dir" ] && [ "$dir" != / ] && [ "$dir" != . ]; do
        dir=$(dirname "$dir")
    done
    df -Pk "$dir" 2>/dev/null | awk 'NR == 2 { print int($4 / 1024) }'
}

# Compares a measured figure in MiB with its floor; a shortfall goes to PROBLEMS.
PROBLEMS=()
check_floor() {
    local what=$1 have=$2 need=$3 flag=$4 word=$5 hint=${6:-}
    if [ -z "$have" ]; then
        warn "$what: could not be read, not checked"
    elif [ "$have" -lt "$need" ]; then
        PROBLEMS+=("$what: $have MiB $word, below $flag $need${hint:+ ($hint)}")
    else
        note "$what: $have MiB $word (need $need)"
    fi
}

# jetson-stats serves /run/jtop.sock as 0660 root:jtop and adds the installing user to group jtop
# (jtop/service.py, tag 7.2.0): a session started before that is not in the group until a new
# login, and edgeprof then reads power from the rails only.
check_jtop_group() {
    [ -S "$(machine_path /run/jtop.sock)" ] || return 0
    [ "$(id -u)" = 0 ] && return 0
    if id -nG 2>/dev/null | tr ' ' '\n' | grep -qx jtop; then
        note "jtop: this session is in group jtop, so edgeprof can read power through /run/jtop.sock"
    else
        warn "this session is not in group jtop yet (jetson-stats added you at install): log out and in again, or run 'newgrp jtop', else edgeprof reads power from the rails only"
    fi
}

step_preflight() {
    local out cache dir mem problem
    say "step 2: preflight (free disk and memory before engines are built)"
    out=$(sweep_flag --out profiles)
    cache=$(sweep_flag --engine-cache "${HOME:-/root}/.cache/edgeprof/engines")
    cache=${cache/#\~/${HOME:-/root}}
    for dir in "$out" "$cache"; do
        check_floor "$dir" "$(free_disk_mb "$dir")" "$MIN_DISK_MB" --min-free-disk-mb free
    done
    mem=$(read_machine_file /proc/meminfo 2>/dev/null | awk '/^MemAvailable:/ { print int($2 / 1024) }') || mem=
    check_floor memory "$mem" "$MIN_MEM_MB" --min-free-mem-mb available "close programs, add swap, or lower --batch"
    check_jtop_group
    [ ${#PROBLEMS[@]} -eq 0 ] && return 0
    for problem in "${PROBLEMS[@]}"; do
        printf 'error: %s\n' "$problem" >&2
    done
    fail "preflight failed before anything was changed on the board (thresholds: --min-free-disk-mb, --min-free-mem-mb)"
}

# A --mode the board does not have is refused before anything is installed (install.sh may build
# pycuda for many minutes first). prepare.sh resolves the mode again and stays the judge; this is
# only the early word, from the same /etc/nvpmodel.conf (common.sh nvpmodel_lookup).
check_mode() {
    local modes
    [ -n "$MODE" ] && [ "$PREPARE" = 1 ] || return 0
    modes=$(nvpmodel_modes) || return 0  # no nvpmodel.conf to read here: prepare.sh says what it finds
    [ -n "$modes" ] || return 0
    nvpmodel_lookup "$MODE" >/dev/null ||
        die "this board has no power mode '$MODE'; its modes: $(printf '%s\n' "$modes" | tr '\n' ',' | sed 's/,$//; s/,/, /g') (deploy/jetson/prepare.sh --list-modes)"
}

# Root's commands: directly as root, else through sudo. The trap's calls use sudo -n: after an
# SSH drop nobody can type a password, and the guard restores instead.
as_root() {
    if [ "$(id -u)" = 0 ]; then run "$@"; else run sudo "$@"; fi
}
as_root_now() {
    if [ "$(id -u)" = 0 ]; then run "$@"; else run sudo -n "$@"; fi
}

PREPARE_CMD=()
set_prepare_cmd() {
    PREPARE_CMD=(bash "$HERE/prepare.sh" --state-dir "$STATE_DIR")
}

GUARD_UNIT=
RUN_DIR=
SWEEP_PID=
start_guard() {
    local envs=()
    [ "$GUARD" = 1 ] || { note "no guard (--no-guard): only this script's trap restores the board"; return 0; }
    if ! command -v systemd-run >/dev/null 2>&1; then
        warn "no systemd-run here: only this script's trap restores the board (not after a kill -9)"
        return 0
    fi
    GUARD_UNIT=edgeprof-guard-$$
    # The guard waits while this script or its sweep lives (tail --pid cannot watch two), then
    # restores; systemd runs it outside this SSH session, so a dropped connection or a kill -9
    # of this script still ends in prepare.sh --restore (systemd-run(1): transient service).
    [ -n "${EDGEPROF_ROOT:-}" ] && envs+=("--setenv=EDGEPROF_ROOT=$EDGEPROF_ROOT")
    # shellcheck disable=SC2016  # the guard's shell expands these, not this one
    as_root systemd-run --unit="$GUARD_UNIT" --description="edgeprof: restore the board after sweep.sh $$" \
        --collect --quiet "${envs[@]}" -- /bin/bash -c \
        'while kill -0 "$1" 2>/dev/null || { [ -s "$2" ] && kill -0 "$(cat "$2")" 2>/dev/null; }; do sleep 2; done; rm -rf "${2%/*}"; shift 2; exec "$@" --restore' \
        edgeprof-guard "$$" "$RUN_DIR/sweep.pid" "${PREPARE_CMD[@]}" || {
        warn "systemd-run failed: only this script's trap restores the board (not after a kill -9)"
        GUARD_UNIT=
    }
}

PREPARED=0
RESTORED=0
step_prepare() {
    local args=() rc=0
    say "step 3: prepare (deploy/jetson/prepare.sh)"
    if [ "$PREPARE" = 0 ]; then
        note "skipped (--no-prepare): power mode, clocks and fan as they are"
        return 0
    fi
    [ -n "$MODE" ] && args+=(--mode "$MODE")
    [ "$FAN" = 1 ] && args+=(--fan)
    [ "$CLOCKS" = 0 ] && args+=(--no-clocks)
    [ "$DRY_RUN" = 1 ] && args+=(--dry-run)
    start_guard
    PREPARED=1
    if [ "$DRY_RUN" = 1 ]; then
        printf '+ %s\n' "$(quote_args "${PREPARE_CMD[@]}" "${args[@]}")"
        "${PREPARE_CMD[@]}" "${args[@]}" | sed 's/^/    | /'
        return 0
    fi
    as_root "${PREPARE_CMD[@]}" "${args[@]}" || rc=$?
    case "$rc" in
        0) ;;
        4)
            printf 'error: the power mode needs a reboot (see above): reboot, then run the same command again\n' >&2
            exit 4 ;;
        *) fail "prepare.sh failed (exit status $rc): nothing was measured" ;;
    esac
}

# sudo keeps a password for timestamp_timeout minutes, 15 unless sudoers says otherwise
# (sudoers(5)); a sweep lasts hours, so the trap's `sudo -n` at its end would find it gone and
# leave the restore to the guard. While the sweep runs, `sudo -n -v` renews it every minute
# without ever asking (sudo(8): -v updates the cached credentials, -n never prompts); it stops
# when renewing fails (no cached password left, or a session that lost its terminal).
KEEPALIVE_PID=
start_sudo_keepalive() {
    [ "$DRY_RUN" = 0 ] && [ "$PREPARED" = 1 ] && [ "$(id -u)" != 0 ] || return 0
    (
        while kill -0 "$$" 2>/dev/null && sudo -n -v 2>/dev/null; do
            sleep 60
        done
    ) >/dev/null 2>&1 </dev/null &
    KEEPALIVE_PID=$!
}

stop_sudo_keepalive() {
    [ -n "$KEEPALIVE_PID" ] || return 0
    kill "$KEEPALIVE_PID" 2>/dev/null || true
    KEEPALIVE_PID=
}

SWEEP_RC=
step_sweep() {
    local edgeprof=$VENV/bin/edgeprof
    say "step 4: sweep"
    printf '+ %s\n' "$(quote_args "$edgeprof" sweep "${SWEEP_ARGS[@]}")"
    if [ "$DRY_RUN" = 1 ]; then
        SWEEP_RC=0
        return 0
    fi
    start_sudo_keepalive
    # In the background and waited for, so that a signal reaches this script's trap at once.
    "$edgeprof" sweep "${SWEEP_ARGS[@]}" &
    SWEEP_PID=$!
    echo "$SWEEP_PID" >"$RUN_DIR/sweep.pid"
    SWEEP_RC=0
    wait "$SWEEP_PID" || SWEEP_RC=$?
    SWEEP_PID=
}

step_restore() {
    local rc=0
    [ "$RESTORED" = 1 ] && return 0
    RESTORED=1
    say "step 5: restore (deploy/jetson/prepare.sh --restore)"
    if [ "$PREPARED" = 0 ]; then
        note "nothing was prepared"
        return 0
    fi
    if [ "$DRY_RUN" = 1 ]; then
        printf '+ %s\n' "$(quote_args "${PREPARE_CMD[@]}" --restore --dry-run)"
        "${PREPARE_CMD[@]}" --restore --dry-run | sed 's/^/    | /'
        return 0
    fi
    as_root_now "${PREPARE_CMD[@]}" --restore || rc=$?
    if [ "$rc" != 0 ]; then
        if [ -n "$GUARD_UNIT" ]; then
            # Left running, the guard restores as root once this script has exited.
            warn "prepare.sh --restore failed here (exit status $rc); the guard $GUARD_UNIT tries again as root once this script ends: journalctl -u $GUARD_UNIT"
        else
            warn "prepare.sh --restore failed (exit status $rc): run sudo ${PREPARE_CMD[*]} --restore"
        fi
        return "$rc"
    fi
    if [ -n "$GUARD_UNIT" ]; then
        as_root_now systemctl stop "$GUARD_UNIT" >/dev/null 2>&1 || true
    fi
}

report() {
    local out count
    out=$(sweep_flag --out profiles)
    [ "$DRY_RUN" = 1 ] && { say "done (dry run): the profiles would be in $out/"; return 0; }
    count=$(find "$out" -name '*.yaml' 2>/dev/null | wc -l | tr -d ' ')
    say "profiles: $(cd "$out" 2>/dev/null && pwd || echo "$out")/ ($count profile files)"
}

on_exit() {
    local rc=$? restore_rc=0
    trap - EXIT INT TERM HUP
    if [ -n "$SWEEP_PID" ] && kill -0 "$SWEEP_PID" 2>/dev/null; then
        note "stopping the sweep (pid $SWEEP_PID)"
        kill -TERM "$SWEEP_PID" 2>/dev/null || true
        wait "$SWEEP_PID" 2>/dev/null || true
    fi
    step_restore || restore_rc=$?
    stop_sudo_keepalive
    [ -n "$RUN_DIR" ] && rm -rf "$RUN_DIR"
    if [ -n "$SWEEP_RC" ]; then
        report
        [ "$rc" = 0 ] && rc=$SWEEP_RC
    fi
    if [ "$rc" = 0 ] && [ "$restore_rc" != 0 ]; then
        rc=1
    fi
    exit "$rc"
}

# After SIGHUP the terminal is gone: a write to it fails (EIO on a hung-up tty; SIGPIPE, which
# kills the writer, on a closed pipe), and prepare.sh --restore, under set -e, would stop at its
# first line of output with the board still prepared. So the one line to the terminal is tried
# with SIGPIPE ignored, and everything after it, the restore included, goes to a log file.
HANGUP_LOG=
on_signal() {
    if [ "$1" = HUP ]; then
        HANGUP_LOG=${TMPDIR:-/tmp}/edgeprof-sweep-$$.log
        trap '' PIPE
        warn "got SIGHUP: stopping, then restoring the board; the rest is in $HANGUP_LOG" || true
        exec >>"$HANGUP_LOG" 2>&1
        trap - PIPE
    fi
    warn "got SIG$1: stopping, then restoring the board"
    case "$1" in
        INT) exit 130 ;;
        TERM) exit 143 ;;
        HUP) exit 129 ;;
    esac
}

main() {
    parse_args "$@"
    [ "$DRY_RUN" = 1 ] && say "dry run: nothing will be changed"
    check_mode
    set_prepare_cmd
    RUN_DIR=$(mktemp -d "${TMPDIR:-/tmp}/edgeprof-sweep.XXXXXX")
    chmod 755 "$RUN_DIR"
    trap on_exit EXIT
    trap 'on_signal INT' INT
    trap 'on_signal TERM' TERM
    trap 'on_signal HUP' HUP
    step_install
    step_preflight
    step_prepare
    step_sweep
}

main "$@"
