#!/usr/bin/env bash
# Put a Jetson in a fixed, fast state before a sweep, and back afterwards. See --help.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=common.sh
. "$HERE/common.sh"

usage() {
    cat <<EOF
Usage: sudo deploy/jetson/prepare.sh [--mode N] [options]
       sudo deploy/jetson/prepare.sh --restore [options]

Before measuring (the steps NVIDIA's jetson_benchmarks takes, made reversible):
  1. records the power mode (nvpmodel -q) and the clocks (jetson_clocks --store FILE),
  2. sets the power mode with nvpmodel -m N (only with --mode),
  3. runs jetson_clocks (CPU, GPU and memory clocks at their maximum, fan at full speed),
  4. drops the page cache (sync; echo 3 > /proc/sys/vm/drop_caches).
--restore puts back the recorded power mode and clocks and forgets the record.
Running it twice keeps the first record, so --restore always returns to the state before
the first run.

Options:
  --mode N          nvpmodel power mode to set (see: nvpmodel -p --verbose); default: keep it
  --no-clocks       do not run jetson_clocks
  --no-drop-caches  do not drop the page cache
  --restore         put back the recorded state
  --state-dir DIR   where the record lives (default: /var/lib/edgeprof/prepare)
  --dry-run         print every step and command, change nothing (no root needed)
  -h, --help        this text

On Orin boards some mode changes need a reboot; nvpmodel then asks, and prepare.sh stops.
EOF
}

MODE=
CLOCKS=1
DROP_CACHES=1
RESTORE=0
STATE_DIR=/var/lib/edgeprof/prepare

parse_args() {
    while [ $# -gt 0 ]; do
        case "$1" in
            --mode) MODE=${2:?--mode needs a number}; shift ;;
            --no-clocks) CLOCKS=0 ;;
            --no-drop-caches) DROP_CACHES=0 ;;
            --restore) RESTORE=1 ;;
            --state-dir) STATE_DIR=${2:?--state-dir needs a folder}; shift ;;
            --dry-run) DRY_RUN=1 ;;
            -h | --help) usage; exit 0 ;;
            *) die "unknown option '$1' (see deploy/jetson/prepare.sh --help)" ;;
        esac
        shift
    done
    if [ -n "$MODE" ] && ! [[ "$MODE" =~ ^[0-9]+$ ]]; then
        die "--mode must be an nvpmodel mode number such as 0, got '$MODE' (list them: nvpmodel -p --verbose)"
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

# The current nvpmodel mode number: `nvpmodel -q` prints "NV Power Mode: MAXN" then "0".
current_mode() {
    local mode
    mode=$(nvpmodel -q 2>/dev/null | tail -n 1 | tr -d '[:space:]')
    [[ "$mode" =~ ^[0-9]+$ ]] || die "could not read the power mode from 'nvpmodel -q' (got '$mode')"
    echo "$mode"
}

record_state() {
    local mode_file=$STATE_DIR/nvpmodel.mode clocks_file=$STATE_DIR/jetson_clocks.conf mode
    say "step 1: record the state to put back (in $STATE_DIR)"
    if [ -e "$mode_file" ]; then
        note "a record from an earlier run exists (power mode $(cat "$mode_file")); keeping it"
        return 0
    fi
    mode=$(current_mode)
    note "power mode now: $mode"
    run mkdir -p "$STATE_DIR"
    run jetson_clocks --store "$clocks_file"
    printf '+ echo %s > %s\n' "$mode" "$mode_file"
    if [ "$DRY_RUN" = 0 ]; then
        echo "$mode" >"$mode_file"
    fi
}

set_mode() {
    say "step 2: power mode"
    if [ -z "$MODE" ]; then
        note "kept as it is (pass --mode N to set one)"
        return 0
    fi
    if [ "$(current_mode)" = "$MODE" ]; then
        note "already mode $MODE"
        return 0
    fi
    run nvpmodel -m "$MODE"
}

max_clocks() {
    say "step 3: clocks"
    if [ "$CLOCKS" = 0 ]; then
        note "kept as they are (--no-clocks)"
        return 0
    fi
    run jetson_clocks
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
    local mode_file=$STATE_DIR/nvpmodel.mode clocks_file=$STATE_DIR/jetson_clocks.conf mode
    say "restore the state recorded in $STATE_DIR"
    if [ ! -e "$mode_file" ]; then
        note "nothing recorded: nothing to restore"
        return 0
    fi
    mode=$(cat "$mode_file")
    if [ "$(current_mode)" = "$mode" ]; then
        note "power mode is already $mode"
    else
        run nvpmodel -m "$mode"
    fi
    if [ -e "$clocks_file" ]; then
        run jetson_clocks --restore "$clocks_file"
    else
        warn "no clocks record at $clocks_file; clocks stay as they are"
    fi
    run rm -f "$mode_file" "$clocks_file"
    say "done: power mode $mode and the recorded clocks are back"
}

main() {
    parse_args "$@"
    [ "$DRY_RUN" = 1 ] && say "dry run: nothing will be changed"
    require_tools
    if [ "$RESTORE" = 1 ]; then
        restore
        return 0
    fi
    record_state
    set_mode
    max_clocks
    drop_caches
    say "done: measure now, then run: sudo $0 --restore"
}

main "$@"
