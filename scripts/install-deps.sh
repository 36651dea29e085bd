#!/usr/bin/env bash
# Installs what the build, the demo and the tests need, when any of it is missing: Debian
# packages through apt-get, Python modules through pip.
# Usage: scripts/install-deps.sh [--pip module …] [extra-debian-package …]
set -euo pipefail

python_modules=(numpy scipy)
packages=(libv4l-dev libasound2-dev libsqlite3-dev libssl-dev libturbojpeg0-dev libspeexdsp-dev pkg-config espeak-ng python3 python3-pip systemd
          libpocketsphinx-dev pocketsphinx-en-us libespeak-ng-dev)
while [ $# -gt 0 ]; do
    case "$1" in
        --pip) python_modules+=("$2"); shift 2 ;;
        *) packages+=("$1"); shift ;;
    esac
done

missing=()
for p in "${packages[@]}"; do
    # A python3 and pip already on PATH (pyenv, say) will do.
    case "$p" in
        python3) command -v python3 >/dev/null && continue ;;
        python3-pip) python3 -m pip --version >/dev/null 2>&1 && continue ;;
    esac
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "Installing Debian packages: ${missing[*]}" >&2
    sudo_cmd=()
    [ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)
    export DEBIAN_FRONTEND=noninteractive
    "${sudo_cmd[@]}" apt-get update -qq
    "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

missing_modules=()
for m in "${python_modules[@]}"; do
    import_name=${m//-/_}
    import_name=${import_name%%[*}
    import_name=${import_name%%==*}
    case "$m" in webrtcvad-wheels) import_name=webrtcvad ;; "moto[server]") import_name=moto.server ;; esac
    python3 -c "import $import_name" 2>/dev/null || missing_modules+=("$m")
done
# pip_install ARGS…: pip install, also where the system Python is marked externally managed.
pip_install() {
    python3 -m pip install -q "$@" 2>/dev/null || python3 -m pip install -q --break-system-packages "$@"
}
# A PyTorch CPU build (torch==…+cpu) is on PyTorch's own index, not on PyPI: it is installed on
# its own, from the configured indexes first (a local wheel mirror, say), then from PyTorch's,
# so a failure there cannot take the other modules down with it.
other_modules=()
for m in "${missing_modules[@]}"; do
    case "$m" in
        torch==*+cpu)
            echo "Installing Python module: $m" >&2
            pip_install "$m" || pip_install --extra-index-url https://download.pytorch.org/whl/cpu "$m" ;;
        *) other_modules+=("$m") ;;
    esac
done
if [ ${#other_modules[@]} -gt 0 ]; then
    echo "Installing Python modules: ${other_modules[*]}" >&2
    pip_install "${other_modules[@]}"
fi
