# shellcheck shell=bash
# install.sh's manifests and its --uninstall (sourced by install.sh, not run).
#
# A manifest lists what install.sh installed, one "KIND WHAT" a line: "apt PACKAGE",
# "jetson-stats SPEC", "group jtop" in the system part (root's, /var/lib/edgeprof/install), "venv
# DIR" and "pip-user PACKAGE" in the user part. --uninstall removes exactly those. Uses install.sh's
# MANIFEST_DIR, PYTHON and DRY_RUN, and common.sh's run, run_as_root, say, note, warn.

# Where a part's manifest lives.
manifest_file() {
    if [ -n "$MANIFEST_DIR" ]; then
        echo "$MANIFEST_DIR/$1.manifest"
    elif [ "$1" = system ]; then
        echo /var/lib/edgeprof/install/system.manifest
    else
        echo "${XDG_STATE_HOME:-${HOME:-/root}/.local/state}/edgeprof/user.manifest"
    fi
}

manifest_add() {
    local file line
    file=$(manifest_file "$1")
    line="$2 $3"
    note "manifest $file += $line"
    [ "$DRY_RUN" = 1 ] && return 0
    if [ -e "$file" ] && grep -qxF "$line" "$file"; then
        return 0
    fi
    if [ "$1" = system ] && [ "$(id -u)" != 0 ]; then
        sudo mkdir -p "${file%/*}"
        printf '%s\n' "$line" | sudo tee -a "$file" >/dev/null
    else
        mkdir -p "${file%/*}"
        printf '%s\n' "$line" >>"$file"
    fi
}

# Lines "KIND WHAT" of one manifest; nothing when it does not exist.
manifest_lines() {
    local file
    file=$(manifest_file "$1")
    [ -r "$file" ] && cat "$file"
    return 0
}

# apt-get -s remove prints "Remv PACKAGE [VERSION]" for each package it would remove, the asked
# ones and those that depend on them (apt-get(8), --simulate). Prints the packages beyond $@.
apt_removes_more_than() {
    local out extra
    out=$(apt-get -s remove "$@" 2>/dev/null) || return 0
    extra=$(printf '%s\n' "$out" | awk '/^Remv / { print $2 }' | while read -r package; do
        case " $* " in *" $package "*) ;; *) printf '%s ' "$package" ;; esac
    done)
    printf '%s\n' "${extra% }"
}

uninstall_user() {
    local kind what python line lines=()
    say "uninstall: what install.sh put in your account ($(manifest_file user))"
    mapfile -t lines < <(manifest_lines user)
    if [ ${#lines[@]} -eq 0 ]; then
        note "nothing recorded"
        return 0
    fi
    python=${PYTHON:-python3}
    for line in "${lines[@]}"; do
        read -r kind what <<<"$line"
        case "$kind" in
            venv)
                if [ -e "$what/pyvenv.cfg" ]; then
                    run rm -rf "$what"
                else
                    warn "$what is not a virtual environment any more (no pyvenv.cfg): leaving it"
                fi ;;
            pip-user) run "$python" -m pip uninstall -y "$what" ;;
        esac
    done
    run rm -f "$(manifest_file user)"
}

uninstall_system() {
    local kind what apt_packages=() extra jtop=0 group=0 line lines=()
    say "uninstall: what install.sh installed system-wide ($(manifest_file system))"
    mapfile -t lines < <(manifest_lines system)
    if [ ${#lines[@]} -eq 0 ]; then
        note "nothing recorded"
        return 0
    fi
    for line in "${lines[@]}"; do
        read -r kind what <<<"$line"
        case "$kind" in
            apt) apt_packages+=("$what") ;;
            jetson-stats) jtop=1 ;;
            group) group=1 ;;
        esac
    done
    if [ "$jtop" = 1 ]; then
        # jetson-stats' own uninstall steps (docs/jtop/jtop.rst, "Uninstall", tag 7.2.0). Each may
        # find its part gone already (an earlier --uninstall stopped half-way, or a hand removal):
        # systemctl stop then exits 5 ("Unit jtop.service not loaded."), disable 1, groupdel 6
        # (groupdel(8), EXIT VALUES). That is said and the rest goes on, so --uninstall can be
        # run again until the manifest is gone.
        note "jetson-stats and its jtop service"
        run_as_root systemctl stop jtop.service || warn "jtop.service did not stop (not loaded?); going on"
        run_as_root systemctl disable jtop.service || warn "jtop.service was not disabled (no unit file?); going on"
        run_as_root rm -f "$(machine_path /etc/systemd/system/jtop.service)"
        run_as_root systemctl daemon-reload || warn "systemctl daemon-reload failed; going on"
        run_as_root rm -f "$(machine_path /run/jtop.sock)" "$(machine_path /etc/profile.d/jtop_env.sh)"
        run_as_root python3 -m pip uninstall -y jetson-stats || warn "pip could not uninstall jetson-stats; going on"
        if [ "$group" = 1 ]; then
            run_as_root groupdel jtop || warn "group jtop was not deleted (gone already?); going on"
        fi
    fi
    if [ ${#apt_packages[@]} -gt 0 ]; then
        extra=$(apt_removes_more_than "${apt_packages[@]}")
        if [ -n "$extra" ]; then
            warn "apt would also remove $extra (installed later, and needing ${apt_packages[*]}): keeping ${apt_packages[*]}; remove them by hand if you mean to"
        else
            run_as_root apt-get remove -y "${apt_packages[@]}"
        fi
    fi
    run_as_root rm -f "$(manifest_file system)"
}

uninstall() {
    [ "$DRY_RUN" = 1 ] && say "dry run: nothing will be changed"
    uninstall_user
    uninstall_system
    say "done: removed what the manifests listed"
}

