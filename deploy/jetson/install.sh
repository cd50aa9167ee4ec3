#!/usr/bin/env bash
# Install the edgeprof agent on a Jetson (JetPack 4.6, 5.x, 6.x) or on a plain Linux machine.
# See --help, and docs/deploy.md for a walk-through.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=common.sh
. "$HERE/common.sh"

CUDA_HOME=/usr/local/cuda

usage() {
    cat <<EOF
Usage: deploy/jetson/install.sh [options]

Install the edgeprof agent. On a Jetson it reads the L4T release (/etc/nv_tegra_release) and
then installs, only where missing:
  1. system packages with apt (python3-pip, python3-venv, python3-dev, build-essential,
     TensorRT's python3-libnvinfer; python3-numpy and python3-yaml where apt's are new enough),
  2. jetson-stats system-wide (only with --with-jtop),
  3. a virtual environment with --system-site-packages, so TensorRT stays importable,
  4. pip<22 first on Python 3.6 (its bundled pip cannot see manylinux2014 wheels),
  5. edgeprof itself, then pycuda built against the board's CUDA (CUDA_ROOT, PATH, CPATH,
     LIBRARY_PATH set to /usr/local/cuda).
Off a Jetson it installs edgeprof with the ONNX Runtime extra. Safe to run again.
It never pipes a download into a shell.

Options:
  --dry-run          print every step and command, change nothing
  --venv DIR         virtual environment to create or reuse (default: \$HOME/edgeprof-venv)
  --user             install with pip --user into the system Python instead of a venv
  --python PYTHON    interpreter to use (default: python3.6 on JetPack 4, python3.8 on
                     JetPack 5, python3.10 on JetPack 6, python3 off a Jetson)
  --source SRC       what pip installs: a source folder (default: this repository) or a
                     pip requirement such as git+https://.../edgeprof.git
  --extras LIST      edgeprof extras, e.g. ort (default: none on a Jetson, ort elsewhere)
  --with-jtop        also install jetson-stats system-wide (jtop power readings)
  --no-apt           do not install system packages; only list the missing ones
  --system-only      only the system steps (1 and 2); for running once as root, e.g. from Ansible
  --no-pycuda        skip pycuda (ONNX Runtime only)
  --offline          pip uses only what is already on the machine (--no-index, no build isolation)
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

parse_args() {
    while [ $# -gt 0 ]; do
        case "$1" in
            --dry-run) DRY_RUN=1 ;;
            --venv) VENV=${2:?--venv needs a folder}; shift ;;
            --user) USER_INSTALL=1 ;;
            --python) PYTHON=${2:?--python needs an interpreter}; shift ;;
            --source) SOURCE=${2:?--source needs a folder or a pip requirement}; shift ;;
            --extras) EXTRAS=${2?--extras needs a list}; shift ;;
            --with-jtop) WITH_JTOP=1 ;;
            --no-apt) APT=0 ;;
            --system-only) SYSTEM_ONLY=1 ;;
            --no-pycuda) PYCUDA=0 ;;
            --offline) OFFLINE=1 ;;
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

# apt packages edgeprof needs on this JetPack. numpy and PyYAML come from apt only where the
# release's packages meet edgeprof's floors (numpy>=1.19, PyYAML>=5.1): Ubuntu 22.04 has 1.21.5
# and 5.4.1; 20.04 has numpy 1.17.4; 18.04 has numpy 1.13.3 and PyYAML 3.12. Elsewhere pip
# installs them into the venv.
wanted_packages() {
    local packages="python3-pip python3-venv python3-dev build-essential python3-libnvinfer"
    case "$JETPACK" in
        5) packages="$packages python3-yaml" ;;
        6) packages="$packages python3-numpy python3-yaml" ;;
    esac
    if [ "$PYCUDA" = 1 ] && [ ! -e "$(machine_path "$CUDA_HOME/bin/nvcc")" ]; then
        [ -n "$CUDA_VERSION" ] ||
            die "no CUDA under $CUDA_HOME (no version.json or version.txt): install JetPack's CUDA with 'sudo apt-get install nvidia-jetpack', or pass --no-pycuda"
        local major_minor
        major_minor=$(printf '%s\n' "$CUDA_VERSION" | awk -F. '{print $1 "-" $2}')
        packages="$packages cuda-toolkit-$major_minor"
    fi
    echo "$packages"
}

install_system_packages() {
    local package missing=()
    say "step 1: system packages (apt)"
    for package in $(wanted_packages); do
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
}

jtop_service_present() {
    [ -e "$(machine_path /etc/systemd/system/jtop.service)" ] ||
        [ -e "$(machine_path /lib/systemd/system/jtop.service)" ]
}

install_jtop() {
    say "step 2: jetson-stats (jtop service, for power readings through /run/jtop.sock)"
    if [ "$WITH_JTOP" = 0 ]; then
        note "skipped (pass --with-jtop to install it)"
        return 0
    fi
    if jtop_service_present; then
        note "the jtop service is installed"
        return 0
    fi
    note "jetson-stats installs system-wide: its service runs as root and serves /run/jtop.sock"
    run_as_root python3 -m pip install -U jetson-stats
    note "start the service (or reboot): sudo systemctl restart jtop.service"
}

# Set by prepare_python: the interpreter pip runs under, and pip's extra flags.
PY=
PIP_FLAGS=()

prepare_python() {
    local python=${PYTHON:-$DEFAULT_PYTHON}
    if [ "$DRY_RUN" = 0 ] && ! command -v "$python" >/dev/null 2>&1; then
        die "$python is not on PATH: install it (sudo apt-get install ${python##*/}) or pass --python"
    fi
    [ "$OFFLINE" = 1 ] && PIP_FLAGS+=(--no-index --no-build-isolation)
    if [ "$USER_INSTALL" = 1 ]; then
        say "step 3: user install with $python (pip --user, no virtual environment)"
        PY=$python
        PIP_FLAGS+=(--user)
        return 0
    fi
    say "step 3: virtual environment $VENV (with system site packages, so apt's TensorRT stays visible)"
    PY=$VENV/bin/python
    if [ -x "$PY" ]; then
        note "exists, keeping it"
        return 0
    fi
    run "$python" -m venv --system-site-packages "$VENV"
}

python_is_36() {
    case "${PYTHON:-$DEFAULT_PYTHON}" in
        *3.6) return 0 ;;
    esac
    [ "$DRY_RUN" = 0 ] && "$PY" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 6) else 1)' 2>/dev/null
}

upgrade_pip() {
    say "step 4: pip"
    if ! python_is_36; then
        note "the interpreter's pip can install edgeprof's wheels; keeping it"
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
        if [ -n "$L4T" ]; then extras=; else extras=ort; fi
    fi
    if [ -d "$SOURCE" ] && [ -n "$extras" ]; then
        target="${SOURCE}[$extras]"
    fi
    run "$PY" -m pip install "${PIP_FLAGS[@]}" "$target"
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
