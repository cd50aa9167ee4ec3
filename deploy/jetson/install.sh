#!/usr/bin/env bash
# Install the edgeprof agent on a Jetson (JetPack 4.6, 5.x, 6.x) or on a plain Linux machine.
# See --help, and docs/deploy.md for a walk-through.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=common.sh
. "$HERE/common.sh"
# shellcheck source=manifest.sh
. "$HERE/manifest.sh"

CUDA_HOME=/usr/local/cuda

usage() {
    cat <<EOF
Usage: deploy/jetson/install.sh [options]
       deploy/jetson/install.sh --uninstall [--dry-run] [--manifest-dir DIR]

Install the edgeprof agent. On a Jetson it reads the L4T release (/etc/nv_tegra_release) and
then installs, only where missing:
  1. system packages with apt (python3-pip, python3-venv, python3-dev, build-essential,
     TensorRT's python3-libnvinfer; python3-numpy and python3-yaml where apt's are new enough;
     with --with-cuda also JetPack's cuda-toolkit-X-Y when the board has no CUDA),
  2. jetson-stats system-wide (only with --with-jtop), at a version pinned per JetPack,
  3. a virtual environment with --system-site-packages, so TensorRT stays importable,
  4. pip<22 first on Python 3.6 when the venv's pip is older than 21 (its bundled pip cannot
     see manylinux2014 wheels),
  5. edgeprof itself, then pycuda built against the board's CUDA (CUDA_ROOT, PATH, CPATH,
     LIBRARY_PATH set to /usr/local/cuda).
Off a Jetson it installs edgeprof with the ONNX Runtime extra. Safe to run again.
It never pipes a download into a shell. A board without CUDA (an L4T BSP flashed without
JetPack) stops at step 1 with the packages to install (or pass --with-cuda, or --no-pycuda).
What it installs is listed in a manifest, and --uninstall removes exactly that.

Options:
  --dry-run          print every step and command, change nothing
  --venv DIR         virtual environment to create or reuse (default: \$HOME/edgeprof-venv;
                     as root, an explicit --venv is required)
  --user             install with pip --user into the system Python instead of a venv
  --python PYTHON    interpreter to use (default: python3.6 on JetPack 4, python3.8 on
                     JetPack 5, python3.10 on JetPack 6, python3 off a Jetson)
  --source SRC       what pip installs: a source folder (default: this repository) or a
                     pip requirement such as git+https://.../edgeprof.git
  --extras LIST      edgeprof extras, e.g. ort (default: none on a Jetson, ort elsewhere
                     and with --no-pycuda)
  --with-jtop        also install jetson-stats system-wide (jtop power readings)
  --jetson-stats SPEC  the jetson-stats to install (default: jetson-stats==4.3.2 on
                     JetPack 4's Python 3.6, jetson-stats==7.2.2 on JetPack 5 and 6)
  --with-cuda        on a board without CUDA, also apt-install JetPack's cuda-toolkit-X-Y
  --no-apt           do not install system packages; only list the missing ones
  --system-only      only the system steps (1 and 2); for running once as root, e.g. from Ansible
  --no-pycuda        skip pycuda: no TensorRT backend; installs the ort extra (ONNX Runtime
                     on the CPU) unless --extras says otherwise
  --offline          pip uses only what is already on the machine (--no-index, no build isolation)
  --wheelhouse DIR   pip also looks in DIR for wheels (--find-links): build pycuda once with
                     'pip wheel', copy DIR to the other boards; with --offline, only DIR
  --manifest-dir DIR where the manifests of what was installed live (default: system part
                     /var/lib/edgeprof/install, user part \${XDG_STATE_HOME:-~/.local/state}/edgeprof)
  --uninstall        remove what the manifests list (apt packages it installed, jetson-stats
                     and its service, the venv it created, pip --user packages), nothing else
  -h, --help         this text

The machine is read under EDGEPROF_ROOT (default /), like the edgeprof agent.
EOF
}

VENV=${HOME:-/root}/edgeprof-venv
USER_INSTALL=0
PYTHON=
SOURCE=$(cd "$HERE/../.." && pwd)
EXTRAS=auto
WITH_JTOP=0
APT=1
SYSTEM_ONLY=0
PYCUDA=1
OFFLINE=0
VENV_GIVEN=0
WITH_CUDA=0
JETSON_STATS=
WHEELHOUSE=
MANIFEST_DIR=
UNINSTALL=0
VENV_EXISTED=0

parse_args() {
    while [ $# -gt 0 ]; do
        case "$1" in
            --dry-run) DRY_RUN=1 ;;
            --venv) VENV=${2:?--venv needs a folder}; VENV_GIVEN=1; shift ;;
            --user) USER_INSTALL=1 ;;
            --python) PYTHON=${2:?--python needs an interpreter}; shift ;;
            --source) SOURCE=${2:?--source needs a folder or a pip requirement}; shift ;;
            --extras) EXTRAS=${2?--extras needs a list}; shift ;;
            --with-jtop) WITH_JTOP=1 ;;
            --no-apt) APT=0 ;;
            --system-only) SYSTEM_ONLY=1 ;;
            --no-pycuda) PYCUDA=0 ;;
            --offline) OFFLINE=1 ;;
            --with-cuda) WITH_CUDA=1 ;;
            --jetson-stats) JETSON_STATS=${2:?--jetson-stats needs a pip requirement}; shift ;;
            --wheelhouse) WHEELHOUSE=${2:?--wheelhouse needs a folder}; shift ;;
            --manifest-dir) MANIFEST_DIR=${2:?--manifest-dir needs a folder}; shift ;;
            --uninstall) UNINSTALL=1 ;;
            -h | --help) usage; exit 0 ;;
            *) die "unknown option '$1' (see deploy/jetson/install.sh --help)" ;;
        esac
        shift
    done
}

# Facts about the machine, set by detect_machine.
L4T=
JETPACK=
UBUNTU=
DEFAULT_PYTHON=python3
CUDA_VERSION=

cuda_version() {
    local json text
    json=$(read_machine_file "$CUDA_HOME/version.json" 2>/dev/null) || json=
    if [ -n "$json" ]; then
        printf '%s\n' "$json" | sed -n 's/.*"version" *: *"\([0-9.]*\)".*/\1/p' | head -n 1
        return 0
    fi
    text=$(read_machine_file "$CUDA_HOME/version.txt" 2>/dev/null) || return 0
    printf '%s\n' "$text" | sed -n 's/^CUDA Version \([0-9.]*\).*/\1/p' | head -n 1
}

detect_machine() {
    local family model
    say "reading the machine under ${EDGEPROF_ROOT:-/}"
    L4T=$(l4t_release)
    model=$(board_model)
    if [ -z "$L4T" ]; then
        note "not a Jetson (no /etc/nv_tegra_release): edgeprof with ONNX Runtime, no apt, no pycuda"
        APT=0
        PYCUDA=0
        WITH_JTOP=0
        return 0
    fi
    family=$(jetpack_family "${L4T%%.*}") ||
        die "L4T $L4T is not in install.sh's table (JetPack 4, 5, 6); follow docs/deploy.md by hand"
    read -r JETPACK DEFAULT_PYTHON UBUNTU <<<"$family"
    CUDA_VERSION=$(cuda_version)
    note "board: ${model:-unknown model}"
    note "L4T $L4T: JetPack $JETPACK family, Ubuntu $UBUNTU, $DEFAULT_PYTHON"
    note "CUDA: ${CUDA_VERSION:-not found} at $CUDA_HOME"
}

# JetPack's CUDA release per L4T release, as apt names it (cuda-toolkit-X-Y): L4T 32 (JetPack
# 4.x) CUDA 10.2, L4T 34/35 (JetPack 5.x) 11.4, L4T 36.0-36.3 (JetPack 6.0) 12.2, L4T 36.4 and
# later (JetPack 6.1/6.2) 12.6 (NVIDIA's JetPack release notes).
jetpack_cuda() {
    case "$L4T" in
        32.*) echo 10.2 ;;
        34.* | 35.*) echo 11.4 ;;
        36.[0-3].*) echo 12.2 ;;
        36.*) echo 12.6 ;;
        *) return 1 ;;
    esac
}

# Set by check_cuda: the apt package that brings nvcc, when it is missing.
CUDA_PACKAGE=

# Stops, naming the packages, on a Jetson without CUDA: an L4T BSP flashed without JetPack has
# no /usr/local/cuda (NVIDIA's AGX Orin guide: "the base L4T BSP flashed ... sudo apt install
# nvidia-jetpack" for CUDA, cuDNN and TensorRT). Runs in the main shell, so its die ends the script.
check_cuda() {
    local cuda package
    CUDA_PACKAGE=
    [ "$PYCUDA" = 1 ] || return 0
    [ -e "$(machine_path "$CUDA_HOME/bin/nvcc")" ] && return 0
    if [ -n "$CUDA_VERSION" ]; then
        CUDA_PACKAGE=cuda-toolkit-$(printf '%s\n' "$CUDA_VERSION" | awk -F. '{print $1 "-" $2}')
        return 0
    fi
    cuda=$(jetpack_cuda) || die "no CUDA under $CUDA_HOME and no CUDA release known for L4T $L4T: install JetPack's CUDA by hand"
    package=cuda-toolkit-${cuda/./-}
    if [ "$WITH_CUDA" = 1 ]; then
        CUDA_PACKAGE=$package
        CUDA_VERSION=$cuda
        note "no CUDA under $CUDA_HOME: --with-cuda installs $package (JetPack $JETPACK's CUDA $cuda)"
        return 0
    fi
    {
        printf 'error: no CUDA under %s (no nvcc, no version.json or version.txt): this board has L4T %s without JetPack'"'"'s CUDA and TensorRT.\n' "$CUDA_HOME" "$L4T"
        printf '  Missing: %s (CUDA %s, nvcc for pycuda) and python3-libnvinfer (TensorRT'"'"'s Python bindings).\n' "$package" "$cuda"
        if [ ! -e "$(machine_path /etc/apt/sources.list.d/nvidia-l4t-apt-source.list)" ]; then
            printf '  NVIDIA'"'"'s apt repository is not configured either (/etc/apt/sources.list.d/nvidia-l4t-apt-source.list).\n'
        fi
        printf '  Get them, then run this again, with one of:\n'
        printf '    sudo apt-get update && sudo apt-get install nvidia-jetpack    (all of JetPack %s)\n' "$JETPACK"
        printf '    sudo apt-get update && sudo apt-get install %s python3-libnvinfer    (what edgeprof needs; or pass --with-cuda)\n' "$package"
        printf '  or install without the TensorRT backend: --no-pycuda (ONNX Runtime on the CPU).\n'
    } >&2
    exit 2
}

# apt packages edgeprof needs on this JetPack. numpy and PyYAML come from apt only where the
# release's packages meet edgeprof's floors (numpy>=1.19, PyYAML>=5.1): Ubuntu 22.04 has 1.21.5
# and 5.4.1; 20.04 has numpy 1.17.4; 18.04 has numpy 1.13.3 and PyYAML 3.12. Elsewhere pip
# installs them into the venv. Prints them; check_cuda has run before.
wanted_packages() {
    local packages="python3-pip python3-venv python3-dev build-essential python3-libnvinfer"
    case "$JETPACK" in
        5) packages="$packages python3-yaml" ;;
        6) packages="$packages python3-numpy python3-yaml" ;;
    esac
    [ -n "$CUDA_PACKAGE" ] && packages="$packages $CUDA_PACKAGE"
    echo "$packages"
}

install_system_packages() {
    local package missing=() wanted
    say "step 1: system packages (apt)"
    check_cuda
    wanted=$(wanted_packages)
    for package in $wanted; do
        if dpkg_installed "$package"; then
            note "$package: installed"
        else
            note "$package: missing"
            missing+=("$package")
        fi
    done
    if [ ${#missing[@]} -eq 0 ]; then
        note "all system packages are present"
        return 0
    fi
    if [ "$APT" = 0 ]; then
        warn "--no-apt: not installing ${missing[*]}; install them with: sudo apt-get install ${missing[*]}"
        return 0
    fi
    run_as_root apt-get update
    run_as_root apt-get install -y --no-install-recommends "${missing[@]}"
    for package in "${missing[@]}"; do
        manifest_add system apt "$package"
    done
}

jtop_service_present() {
    [ -e "$(machine_path /etc/systemd/system/jtop.service)" ] ||
        [ -e "$(machine_path /lib/systemd/system/jtop.service)" ]
}

# jetson-stats pinned per JetPack: 7.x needs Python 3.7 (pyproject.toml requires-python ">=3.7",
# tag 7.2.0), so JetPack 4's Python 3.6 gets the last 4.x (4.3.x: python_requires '>=2.7').
jetson_stats_spec() {
    if [ -n "$JETSON_STATS" ]; then
        echo "$JETSON_STATS"
    elif [ "$JETPACK" = 4 ]; then
        echo "jetson-stats==4.3.2"
    else
        echo "jetson-stats==7.2.2"
    fi
}

install_jtop() {
    local version spec who
    say "step 2: jetson-stats (jtop service, for power readings through /run/jtop.sock)"
    if [ "$WITH_JTOP" = 0 ]; then
        note "skipped (pass --with-jtop to install it)"
        return 0
    fi
    if jtop_service_present; then
        version=$(jtop_host_version)
        note "the jtop service is installed (jetson-stats ${version:-of unknown version})"
        [ -n "$version" ] && note "a container's jtop client must match it: deploy/container/build.sh --jetson-stats jetson-stats==$version"
        return 0
    fi
    spec=$(jetson_stats_spec)
    note "jetson-stats installs system-wide: its service runs as root and serves /run/jtop.sock (0660 root:jtop)"
    if ! grep -q '^jtop:' "$(machine_path /etc/group)" 2>/dev/null; then
        manifest_add system group jtop
    fi
    run_as_root python3 -m pip install "$spec"
    manifest_add system jetson-stats "$spec"
    who=${SUDO_USER:-${USER:-$(id -un 2>/dev/null || echo root)}}
    # jetson-stats' installer enables and starts jtop.service and adds $SUDO_USER to group jtop
    # (setup.py _run_service_install; jtop/service.py set_service_permission): a shell started
    # before that is not in the group and cannot open the socket.
    note "the service is started; $who was added to group jtop: log out and in again (or run: newgrp jtop)"
    note "before measuring, else edgeprof cannot open /run/jtop.sock and reads power from the rails only"
}

# Set by prepare_python: the interpreter pip runs under, and pip's extra flags.
PY=
PIP_FLAGS=()

prepare_python() {
    local python=${PYTHON:-$DEFAULT_PYTHON}
    if [ "$DRY_RUN" = 0 ] && ! command -v "$python" >/dev/null 2>&1; then
        die "$python is not on PATH: install it (sudo apt-get install ${python##*/}) or pass --python"
    fi
    # As root, $HOME/edgeprof-venv is root's venv in the user's home (sudo keeps HOME on Ubuntu
    # 18.04) or a venv under /root (it resets HOME from 19.10 on): neither is the user's.
    if [ "$(id -u)" = 0 ] && [ "$VENV_GIVEN" = 0 ]; then
        if [ "$USER_INSTALL" = 1 ]; then
            die "running as root: pip --user would install into root's home, not yours. Run install.sh as your user (it asks sudo for apt), or --system-only for the system steps"
        fi
        die "running as root: the venv would be root's (${VENV}). Run install.sh as your user (it asks sudo for apt), or pass --venv DIR, or --system-only for the system steps"
    fi
    [ "$OFFLINE" = 1 ] && PIP_FLAGS+=(--no-index --no-build-isolation)
    [ -n "$WHEELHOUSE" ] && PIP_FLAGS+=(--find-links "$WHEELHOUSE")
    if [ "$USER_INSTALL" = 1 ]; then
        say "step 3: user install with $python (pip --user, no virtual environment)"
        PY=$python
        PIP_FLAGS+=(--user)
        return 0
    fi
    say "step 3: virtual environment $VENV (with system site packages, so apt's TensorRT stays visible)"
    PY=$VENV/bin/python
    VENV_EXISTED=0
    [ -e "$VENV" ] && VENV_EXISTED=1
    if [ -x "$PY" ]; then
        note "exists, keeping it"
        return 0
    fi
    run "$python" -m venv --system-site-packages "$VENV"
    # Only a folder this run made is ours to delete on --uninstall.
    if [ "$VENV_EXISTED" = 1 ]; then
        note "$VENV existed before: not listed for --uninstall"
    else
        manifest_add user venv "$VENV"
    fi
}

python_is_36() {
    case "${PYTHON:-$DEFAULT_PYTHON}" in
        *3.6) return 0 ;;
    esac
    [ "$DRY_RUN" = 0 ] && "$PY" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 6) else 1)' 2>/dev/null
}

# The major version of the interpreter's pip ("pip 21.3.1 from ..."); empty when unknown.
pip_major() {
    [ "$DRY_RUN" = 1 ] && [ ! -x "$PY" ] && return 0
    "$PY" -m pip --version 2>/dev/null | sed -n 's/^pip \([0-9][0-9]*\)\..*/\1/p' || true
}

upgrade_pip() {
    local major
    say "step 4: pip"
    if ! python_is_36; then
        note "the interpreter's pip can install edgeprof's wheels; keeping it"
        return 0
    fi
    major=$(pip_major)
    if [ -n "$major" ] && [ "$major" -ge 21 ]; then
        note "pip $major is new enough for manylinux2014 wheels; keeping it"
        return 0
    fi
    if [ "$OFFLINE" = 1 ]; then
        note "--offline: keeping the installed pip (Python 3.6 needs pip<22 to see manylinux2014 wheels)"
        return 0
    fi
    note "Python 3.6's bundled pip cannot see manylinux2014 wheels: upgrading to the last pip for 3.6"
    run "$PY" -m pip install "${PIP_FLAGS[@]}" --upgrade 'pip<22'
}

pip_pins() {
    # numpy 1.19.5's aarch64 wheel dies with "Illegal instruction" on Jetson CPUs (numpy#18131);
    # 1.19.4 is the newest 3.6 release that imports there.
    if [ "$JETPACK" = 4 ]; then
        echo "numpy==1.19.4"
    fi
}

install_edgeprof() {
    local target=$SOURCE extras=$EXTRAS pins
    say "step 5: edgeprof from $SOURCE"
    pins=$(pip_pins)
    if [ -n "$pins" ]; then
        note "pinned first: $pins"
        # shellcheck disable=SC2086
        run "$PY" -m pip install "${PIP_FLAGS[@]}" $pins
    fi
    if [ "$extras" = auto ]; then
        if [ -z "$L4T" ]; then
            extras=ort
        elif [ "$PYCUDA" = 0 ]; then
            # Without pycuda nothing drives TensorRT here; ONNX Runtime on the CPU still runs
            # (PyPI's onnxruntime has no Jetson GPU build: jetson-containers builds its own).
            extras=ort
            note "--no-pycuda: no TensorRT backend; installing the ort extra (ONNX Runtime on the CPU) so a backend can run"
        else
            extras=
        fi
    fi
    if [ -d "$SOURCE" ] && [ -n "$extras" ]; then
        target="${SOURCE}[$extras]"
    fi
    run "$PY" -m pip install "${PIP_FLAGS[@]}" "$target"
    [ "$USER_INSTALL" = 1 ] && manifest_add user pip-user edgeprof
    return 0
}

pycuda_spec() {
    # On Python 3.6: pycuda 2021.1 to 2022.1 ship a pyproject.toml whose build isolation wants
    # numpy==1.12.1 (no aarch64 wheel, a long source build); 2022.2 needs Python 3.8. pycuda 2020.1
    # builds against the numpy already installed.
    if python_is_36; then echo "pycuda<2021.1"; else echo "pycuda"; fi
}

install_pycuda() {
    local spec
    say "step 6: pycuda (TensorRT backend's CUDA calls)"
    if [ "$PYCUDA" = 0 ]; then
        note "skipped"
        return 0
    fi
    if [ "$DRY_RUN" = 0 ] && "$PY" -c 'import pycuda.driver' 2>/dev/null; then
        note "importable, keeping it"
        return 0
    fi
    spec=$(pycuda_spec)
    note "building $spec against CUDA ${CUDA_VERSION:-?} at $CUDA_HOME"
    # shellcheck disable=SC2016  # $PATH is printed as written, for the user to read
    printf '+ CUDA_ROOT=%s PATH=%s/bin:$PATH CPATH=%s/include LIBRARY_PATH=%s/lib64 %s\n' \
        "$CUDA_HOME" "$CUDA_HOME" "$CUDA_HOME" "$CUDA_HOME" "$(quote_args "$PY" -m pip install "${PIP_FLAGS[@]}" "$spec")"
    [ "$DRY_RUN" = 1 ] && return 0
    CUDA_ROOT=$CUDA_HOME PATH="$CUDA_HOME/bin:$PATH" \
        CPATH="$CUDA_HOME/include${CPATH:+:$CPATH}" LIBRARY_PATH="$CUDA_HOME/lib64${LIBRARY_PATH:+:$LIBRARY_PATH}" \
        "$PY" -m pip install "${PIP_FLAGS[@]}" "$spec"
    [ "$USER_INSTALL" = 1 ] && manifest_add user pip-user pycuda
    return 0
}

edgeprof_command() {
    if [ "$USER_INSTALL" = 1 ]; then echo "$PY -m edgeprof"; else echo "$VENV/bin/edgeprof"; fi
}

verify() {
    say "step 7: check"
    run "$PY" -m edgeprof info
    if [ -n "$L4T" ] && [ "$DRY_RUN" = 0 ] && ! "$PY" -c 'import tensorrt' 2>/dev/null; then
        warn "TensorRT's Python bindings are not importable from $PY: install python3-libnvinfer (apt) and keep --system-site-packages"
    fi
    say "done: run $(edgeprof_command) sweep --help"
}

main() {
    parse_args "$@"
    if [ "$UNINSTALL" = 1 ]; then
        uninstall
        return 0
    fi
    [ "$DRY_RUN" = 1 ] && say "dry run: nothing will be changed"
    detect_machine
    if [ -n "$L4T" ]; then
        install_system_packages
        install_jtop
    fi
    if [ "$SYSTEM_ONLY" = 1 ]; then
        say "done: system steps only (--system-only)"
        return 0
    fi
    prepare_python
    upgrade_pip
    install_edgeprof
    install_pycuda
    verify
}

main "$@"
