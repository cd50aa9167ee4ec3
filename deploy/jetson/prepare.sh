#!/usr/bin/env bash
# Put a Jetson in a fixed, fast state before a sweep, and back afterwards. See --help.
#
# Interface (stable: deploy/jetson/sweep.sh and deploy/ansible call it; keep it compatible):
#   prepare.sh [--mode N|NAME] [--fan] [--no-clocks] [--no-drop-caches] [--state-dir DIR] [--dry-run]
#   prepare.sh --restore [--state-dir DIR] [--dry-run]
#   prepare.sh --forget [--state-dir DIR]
#   prepare.sh --list-modes
# Exit status:
#   0  done (or nothing to do)
#   1  failed on the machine: a tool failed, the power mode did not take, a record from another
#      boot is in the way (run --forget or --restore)
#   2  bad usage, or not a Jetson (nvpmodel/jetson_clocks missing, no root)
#   4  the power mode needs a reboot: nvpmodel asked to reboot; nothing was answered for you.
#      On prepare, nothing was changed and no record is kept: reboot, then run again. On
#      --restore, the clocks are back and the record is gone; the mode comes back after a reboot.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=common.sh
. "$HERE/common.sh"

EXIT_REBOOT=4

usage() {
    cat <<EOF
Usage: sudo deploy/jetson/prepare.sh [--mode N|NAME] [--fan] [options]
       sudo deploy/jetson/prepare.sh --restore [options]
       deploy/jetson/prepare.sh --list-modes

Before measuring (the steps NVIDIA's jetson_benchmarks takes, made reversible):
  1. records the power mode (nvpmodel -q), the clocks and the fan (jetson_clocks --store FILE)
     and the id of this boot,
  2. sets the power mode with nvpmodel -m (only with --mode), then reads it back with
     nvpmodel -q and stops if it did not take,
  3. runs jetson_clocks: CPU, GPU and memory clocks locked at their maximum; the fan only
     with --fan (jetson_clocks --fan: full speed; without it the fan keeps its own profile),
  4. drops the page cache (sync; echo 3 > /proc/sys/vm/drop_caches).
--restore puts back the recorded power mode, clocks and fan, then deletes the record.
Running it again in the same boot keeps the first record, so --restore returns to the state
before the first run. A record from an earlier boot is never restored (the clocks and fan
were reset by that reboot): prepare.sh stops on it, --restore and --forget delete it.

Options:
  --mode N|NAME     power mode to set, by number or by its name in /etc/nvpmodel.conf
                    (e.g. MAXN, MAXN_SUPER, MODE_15W); see --list-modes; default: keep it
  --fan             also run the fan at full speed (jetson_clocks --fan)
  --no-clocks       do not run jetson_clocks
  --no-drop-caches  do not drop the page cache
  --restore         put back the recorded state
  --forget          delete the record without restoring anything
  --list-modes      print the board's power modes (id, name) from /etc/nvpmodel.conf
  --state-dir DIR   where the record lives (default: /var/lib/edgeprof/prepare)
  --dry-run         print every step and command, change nothing (no root needed)
  -h, --help        this text

Exit status: 0 done; 1 failed (the mode did not take, a tool failed, a record from another
boot); 2 bad usage or not a Jetson; 4 the power mode needs a reboot (on Orin some changes
do: nvpmodel asks, prepare.sh answers nothing, changes nothing else and stops; reboot, then
run it again).
EOF
}

MODE=
FAN=0
CLOCKS=1
DROP_CACHES=1
ACTION=prepare
STATE_DIR=/var/lib/edgeprof/prepare

parse_args() {
    while [ $# -gt 0 ]; do
        case "$1" in
            --mode) MODE=${2:?--mode needs a mode number or name}; shift ;;
            --fan) FAN=1 ;;
            --no-clocks) CLOCKS=0 ;;
            --no-drop-caches) DROP_CACHES=0 ;;
            --restore) ACTION=restore ;;
            --forget) ACTION=forget ;;
            --list-modes) ACTION=list ;;
            --state-dir) STATE_DIR=${2:?--state-dir needs a folder}; shift ;;
            --dry-run) DRY_RUN=1 ;;
            -h | --help) usage; exit 0 ;;
            *) die "unknown option '$1' (see deploy/jetson/prepare.sh --help)" ;;
        esac
        shift
    done
    if [ -n "$MODE" ] && ! [[ "$MODE" =~ ^[A-Za-z0-9_]+$ ]]; then
        die "--mode takes a mode number or name such as 0 or MAXN, got '$MODE' (list them: $0 --list-modes)"
    fi
}

require_tools() {
    local tool
    for tool in nvpmodel jetson_clocks; do
        command -v "$tool" >/dev/null 2>&1 ||
            die "$tool is not on PATH: prepare.sh runs on a Jetson with L4T's nvidia-l4t-tools installed"
    done
    if [ "$DRY_RUN" = 0 ] && [ "$(id -u)" != 0 ]; then
        die "prepare.sh changes the power mode and clocks: run it with sudo (or try --dry-run)"
    fi
}

# Files of the record. jetson_clocks on JetPack 5/6 also writes ${HOME}/.jetsonclocks_fan.txt
# on --store and reads it on --restore (NVIDIA's jetson_clocks 2015-2023, FAN_STATUS_FILE), so
# it runs with HOME=$STATE_DIR: that file lives in the record too, whoever's HOME sudo keeps.
RECORD=
CLOCKS_FILE=
set_paths() {
    RECORD=$STATE_DIR/record
    CLOCKS_FILE=$STATE_DIR/jetson_clocks.conf
}

jetson_clocks_in_state() {
    run env HOME="$STATE_DIR" jetson_clocks "$@" </dev/null
}

# Set by query_mode: the power mode now. `nvpmodel -q` prints "NV Power Mode: NAME" and the id on
# the next line, and as non-root it may add "NVPM ERROR" lines after them (NVIDIA-AI-IOT/jetbot#49),
# so the id is the line after "NV Power Mode:", as jetson-stats reads it (jtop/core/nvpmodel.py,
# nvpmodel_query, commit f41d5cad).
NOW_ID=
NOW_NAME=
query_mode() {
    local out
    out=$(nvpmodel -q 2>/dev/null </dev/null) || true
    NOW_NAME=$(printf '%s\n' "$out" | sed -n 's/^NV Power Mode: *\([^[:space:]]*\).*/\1/p' | head -n 1)
    # [ \t\r], not [[:space:]]: Ubuntu 18.04's awk is mawk 1.3.3, which knows no POSIX classes.
    NOW_ID=$(printf '%s\n' "$out" | awk '/^NV Power Mode:/ { getline; gsub(/[ \t\r]/, ""); print; exit }')
    if ! [[ "$NOW_ID" =~ ^[0-9]+$ ]]; then
        NOW_ID=
        return 1
    fi
}

read_mode_or_fail() {
    query_mode || fail "could not read the power mode from 'nvpmodel -q' (no id after 'NV Power Mode:')"
}

# Set by resolve_mode: the id and name --mode means on this board.
WANT_ID=
WANT_NAME=
resolve_mode() {
    local modes line id name
    modes=$(nvpmodel_modes) || modes=
    if [[ "$MODE" =~ ^[0-9]+$ ]]; then
        WANT_ID=$MODE
        WANT_NAME=
        [ -z "$modes" ] && return 0
        while read -r id name; do
            [ "$id" = "$MODE" ] && WANT_NAME=$name
        done <<<"$modes"
        [ -n "$WANT_NAME" ] ||
            die "power mode $MODE is not in this board's /etc/nvpmodel.conf: $(printf '%s\n' "$modes" | tr '\n' ',' | sed 's/,$//; s/,/, /g')"
        return 0
    fi
    [ -n "$modes" ] || die "--mode $MODE: no /etc/nvpmodel.conf to look the name up in; pass the mode number"
    while read -r line; do
        id=${line%% *}
        name=${line#* }
        if [ "${name^^}" = "${MODE^^}" ]; then
            WANT_ID=$id
            WANT_NAME=$name
            return 0
        fi
    done <<<"$modes"
    die "this board has no power mode named '$MODE'; its modes: $(printf '%s\n' "$modes" | tr '\n' ',' | sed 's/,$//; s/,/, /g')"
}

list_modes() {
    local modes default id name
    modes=$(nvpmodel_modes) || die "no /etc/nvpmodel.conf under ${EDGEPROF_ROOT:-/}: not a Jetson, or use 'nvpmodel -p --verbose'"
    default=$(nvpmodel_default)
    while read -r id name; do
        if [ "$id" = "$default" ]; then
            printf '%s %s (default)\n' "$id" "$name"
        else
            printf '%s %s\n' "$id" "$name"
        fi
    done <<<"$modes"
}

# Set by load_record.
REC_BOOT=
REC_MODE=
REC_NAME=
REC_TAKEN=
load_record() {
    local key value
    REC_BOOT='' REC_MODE='' REC_NAME='' REC_TAKEN=''
    while IFS='=' read -r key value; do
        case "$key" in
            boot_id) REC_BOOT=$value ;;
            mode) REC_MODE=$value ;;
            mode_name) REC_NAME=$value ;;
            taken_at) REC_TAKEN=$value ;;
        esac
    done <"$RECORD"
    [[ "$REC_MODE" =~ ^[0-9]+$ ]] || fail "the record $RECORD has no power mode: delete it with $0 --forget"
}

# A record written by prepare.sh before boot ids were kept (nvpmodel.mode alone) counts as one
# from an unknown boot.
legacy_record() {
    [ ! -e "$RECORD" ] && [ -e "$STATE_DIR/nvpmodel.mode" ]
}

record_is_this_boot() {
    local now
    now=$(boot_id)
    [ -n "$now" ] && [ "$REC_BOOT" = "$now" ]
}

forget_record() {
    run rm -f "$RECORD" "$CLOCKS_FILE" "$STATE_DIR/.jetsonclocks_fan.txt" "$STATE_DIR/nvpmodel.mode"
    if [ -d "$STATE_DIR" ] || [ "$DRY_RUN" = 1 ]; then
        run rmdir --ignore-fail-on-non-empty "$STATE_DIR"
    fi
}

# Where the next step stands when the record is already there (same boot: keep it).
check_existing_record() {
    if legacy_record; then
        fail "a record without a boot id (from an older prepare.sh) is in $STATE_DIR: run $0 --forget, or --restore to put back its power mode"
    fi
    [ -e "$RECORD" ] || return 1
    load_record
    if record_is_this_boot; then
        note "a record from earlier in this boot exists (power mode $REC_MODE ${REC_NAME:+($REC_NAME) }taken $REC_TAKEN); keeping it"
        return 0
    fi
    fail "the record in $STATE_DIR is from another boot (taken $REC_TAKEN, power mode $REC_MODE${REC_NAME:+ $REC_NAME}): the reboot already reset the clocks. Run $0 --forget to delete it (or --restore, which deletes it too), then run this again"
}

TOOK_RECORD=0
record_state() {
    local now_boot taken tmp
    say "step 1: record the state to put back (in $STATE_DIR)"
    if check_existing_record; then
        return 0
    fi
    read_mode_or_fail
    now_boot=$(boot_id)
    [ -n "$now_boot" ] || fail "cannot read /proc/sys/kernel/random/boot_id: the record could not be tied to this boot"
    taken=$(date -u +%Y-%m-%dT%H:%M:%SZ)
    note "power mode now: $NOW_ID${NOW_NAME:+ ($NOW_NAME)}; boot $now_boot"
    run mkdir -p "$STATE_DIR"
    # jetson_clocks --store asks "File ... already exists. Can I overwrite it? Y/N" and reads
    # stdin when its file exists (main(), every NVIDIA version since 2015): start from no file.
    run rm -f "$CLOCKS_FILE" "$STATE_DIR/.jetsonclocks_fan.txt"
    if ! jetson_clocks_in_state --store "$CLOCKS_FILE"; then
        forget_record
        fail "jetson_clocks --store failed: nothing was changed"
    fi
    printf '+ write %s (boot_id, taken_at, mode, mode_name)\n' "$RECORD"
    TOOK_RECORD=1
    [ "$DRY_RUN" = 1 ] && return 0
    tmp=$RECORD.tmp.$$
    printf 'boot_id=%s\ntaken_at=%s\nmode=%s\nmode_name=%s\n' "$now_boot" "$taken" "$NOW_ID" "$NOW_NAME" >"$tmp"
    mv -f "$tmp" "$RECORD"
}

# Run `nvpmodel -m ID` with stdin from /dev/null, so a reboot prompt reads end of input and is
# never answered for the user. Orin prints "NVPM WARN: Reboot required for changing to this
# power mode: N" and "NVPM WARN: DO YOU WANT TO REBOOT NOW? enter YES/yes to confirm:" (NVIDIA's
# nvpmodel on JetPack 5/6); jetson-stats answers YES only when forced and treats "NVPM ERROR" as
# a failure (jtop/core/nvpmodel.py, set_nvpmodel_level, commit f41d5cad).
# Returns 0 when the mode took, EXIT_REBOOT when a reboot is needed, 1 otherwise; says why.
switch_mode() {
    local id=$1 out rc=0
    printf '+ %s </dev/null\n' "$(quote_args nvpmodel -m "$id")"
    if [ "$DRY_RUN" = 1 ]; then
        note "(dry run: then reads the mode back with nvpmodel -q)"
        return 0
    fi
    out=$(nvpmodel -m "$id" </dev/null 2>&1) || rc=$?
    [ -n "$out" ] && printf '%s\n' "$out" | sed 's/^/    nvpmodel: /'
    if printf '%s\n' "$out" | grep -qi 'reboot required'; then
        return "$EXIT_REBOOT"
    fi
    if [ "$rc" != 0 ] || printf '%s\n' "$out" | grep -q 'NVPM ERROR'; then
        warn "nvpmodel -m $id failed (exit status $rc)"
        return 1
    fi
    read_mode_or_fail
    if [ "$NOW_ID" != "$id" ]; then
        warn "nvpmodel -m $id exited 0 but 'nvpmodel -q' still says mode $NOW_ID${NOW_NAME:+ ($NOW_NAME)}"
        return 1
    fi
    note "power mode is now $NOW_ID${NOW_NAME:+ ($NOW_NAME)} (read back with nvpmodel -q)"
}

set_mode() {
    local rc=0
    say "step 2: power mode"
    if [ -z "$MODE" ]; then
        note "kept as it is (pass --mode N or --mode NAME to set one)"
        return 0
    fi
    read_mode_or_fail
    if [ "$NOW_ID" = "$WANT_ID" ]; then
        note "already mode $WANT_ID${WANT_NAME:+ ($WANT_NAME)}"
        return 0
    fi
    switch_mode "$WANT_ID" || rc=$?
    [ "$rc" = 0 ] && return 0
    if [ "$rc" = "$EXIT_REBOOT" ]; then
        # Nothing else has changed yet; a record taken now would belong to this boot only.
        query_mode || true
        if [ "$TOOK_RECORD" = 1 ]; then
            forget_record
        fi
        printf 'error: power mode %s%s needs a reboot on this board; nvpmodel asked, and prepare.sh answered nothing.\n' \
            "$WANT_ID" "${WANT_NAME:+ ($WANT_NAME)}" >&2
        printf '       The mode is still %s%s and nothing else was changed. Reboot (sudo reboot), then run this again.\n' \
            "$NOW_ID" "${NOW_NAME:+ ($NOW_NAME)}" >&2
        printf '       After that reboot --restore returns to the mode the board booted in; to go back to %s later: sudo nvpmodel -m %s\n' \
            "$NOW_ID" "$NOW_ID" >&2
        exit "$EXIT_REBOOT"
    fi
    fail "power mode $WANT_ID did not take; run $0 --restore to put the clocks back"
}

max_clocks() {
    say "step 3: clocks"
    if [ "$CLOCKS" = 0 ]; then
        note "kept as they are (--no-clocks)"
        return 0
    fi
    local args=()
    if [ "$FAN" = 1 ]; then
        note "CPU, GPU and memory clocks at their maximum, fan at full speed (--fan)"
        args=(--fan)
    else
        note "CPU, GPU and memory clocks at their maximum; the fan keeps its own profile (pass --fan for full speed: long sweeps may throttle)"
    fi
    jetson_clocks_in_state "${args[@]}" || fail "jetson_clocks failed; run $0 --restore to put back what it changed"
}

drop_caches() {
    say "step 4: page cache"
    if [ "$DROP_CACHES" = 0 ]; then
        note "kept (--no-drop-caches)"
        return 0
    fi
    run sync
    run sh -c 'echo 3 > /proc/sys/vm/drop_caches'
}

restore() {
    local rc=0
    say "restore the state recorded in $STATE_DIR"
    if legacy_record; then
        warn "a record without a boot id (from an older prepare.sh) is in $STATE_DIR: not restoring it, deleting it"
        forget_record
        return 0
    fi
    if [ ! -e "$RECORD" ] && [ "$DRY_RUN" = 1 ]; then
        read_mode_or_fail
        note "nothing recorded yet (dry run); after a real prepare, --restore runs:"
        note "(nvpmodel -m only when the recorded mode differs from the mode then)"
        switch_mode "$NOW_ID"
        jetson_clocks_in_state --restore "$CLOCKS_FILE"
        forget_record
        return 0
    fi
    if [ ! -e "$RECORD" ]; then
        note "nothing recorded: nothing to restore"
        return 0
    fi
    load_record
    if ! record_is_this_boot; then
        warn "the record is from another boot (taken $REC_TAKEN, power mode $REC_MODE${REC_NAME:+ $REC_NAME}): that reboot reset the clocks and fan; not restoring it, deleting it"
        forget_record
        return 0
    fi
    read_mode_or_fail
    if [ "$NOW_ID" = "$REC_MODE" ]; then
        note "power mode is already $REC_MODE${REC_NAME:+ ($REC_NAME)}"
    else
        switch_mode "$REC_MODE" || rc=$?
    fi
    if [ -e "$CLOCKS_FILE" ] || [ "$DRY_RUN" = 1 ]; then
        jetson_clocks_in_state --restore "$CLOCKS_FILE" ||
            fail "jetson_clocks --restore failed; the record stays in $STATE_DIR: run $0 --restore again"
    else
        warn "no clocks record at $CLOCKS_FILE; clocks stay as they are"
    fi
    forget_record
    case "$rc" in
        0) say "done: power mode $REC_MODE${REC_NAME:+ ($REC_NAME)}, the recorded clocks and fan are back" ;;
        "$EXIT_REBOOT")
            printf 'error: clocks and fan are back, but power mode %s needs a reboot to come back (nvpmodel asked; nothing was answered). Reboot: sudo reboot\n' "$REC_MODE" >&2
            exit "$EXIT_REBOOT" ;;
        *) fail "clocks and fan are back, but power mode $REC_MODE did not: set it with sudo nvpmodel -m $REC_MODE" ;;
    esac
}

main() {
    parse_args "$@"
    set_paths
    if [ "$ACTION" = list ]; then
        list_modes
        return 0
    fi
    [ "$DRY_RUN" = 1 ] && say "dry run: nothing will be changed"
    case "$ACTION" in
        forget)
            say "forget the record in $STATE_DIR (nothing is restored)"
            forget_record
            return 0 ;;
        restore)
            require_tools
            restore
            return 0 ;;
    esac
    require_tools
    [ -n "$MODE" ] && resolve_mode
    record_state
    set_mode
    max_clocks
    drop_caches
    local again=
    [ "$STATE_DIR" != /var/lib/edgeprof/prepare ] && again=" --state-dir $STATE_DIR"
    say "done: measure now, then run: sudo $0 --restore$again"
}

main "$@"
