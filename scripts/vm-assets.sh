#!/usr/bin/env bash
# Fetches what the virtual-machine device tests need, once: QEMU, a static busybox and
# v4l2-ctl (Debian packages) and a Debian 6.1 kernel with its modules (vivid, snd-aloop), unpacked into OUT.
# Usage: scripts/vm-assets.sh OUT_DIR
set -euo pipefail
out=${1:-out/vm}
"$(dirname "$0")/install-deps.sh" qemu-system-x86 busybox-static v4l-utils
if [ -f "$out/kernel/ready" ]; then exit 0; fi
mkdir -p "$out"
package=$(apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-amd64$' | awk '{print $1}' | sort -V | tail -1)
if [ -z "$package" ]; then
    sudo_cmd=(); [ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)
    "${sudo_cmd[@]}" apt-get update -qq
    package=$(apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-amd64$' | awk '{print $1}' | sort -V | tail -1)
fi
echo "Fetching $package (about 70 MB) for the device tests in a VM" >&2
rm -rf "$out/kernel" "$out"/*.deb
(cd "$out" && apt-get download -q "$package" >&2)
dpkg-deb -x "$out"/linux-image-*.deb "$out/kernel"
rm -f "$out"/*.deb
touch "$out/kernel/ready"
