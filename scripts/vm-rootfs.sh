#!/usr/bin/env bash
# Makes, once, a Debian 12 system for the package's VM test: a root file system from Debian's
# own packages (debootstrap: systemd as PID 1, udev, Debian's kernel and initramfs, and the
# libraries the kiosk package depends on, so that `apt install ./health-helper-kiosk_*.deb`
# needs no network), as an ext4 image beside the kernel and initramfs to boot it with. Cached
# in CACHE_DIR under a key of what went into it: a clean clone on the same machine reuses it.
# The image runs the test that the VM test puts on a second disk (hh-vm-test.service).
# Usage: scripts/vm-rootfs.sh CACHE_DIR PACKAGE.deb   (prints the directory with the image)
set -euo pipefail
cache=$1
deb=$2
mirror=${HH_DEBIAN_MIRROR:-http://deb.debian.org/debian}
"$(dirname "$0")/install-deps.sh" debootstrap e2fsprogs qemu-system-x86 >&2

# What the package needs from Debian, without versions; the rootfs has bookworm's.
depends=$(dpkg-deb -f "$deb" Depends | tr ',' '\n' | sed 's/(.*)//; s/|.*//; s/[[:space:]]//g' | grep -v '^$' | sort -u | paste -sd, -)
include="systemd,systemd-sysv,udev,kmod,linux-image-amd64,initramfs-tools,alsa-utils,v4l-utils,$depends"
key=$( { echo "$include"; cat "$0"; } | sha256sum | cut -c1-12)
dir="$cache/bookworm-$key"
if [ -f "$dir/ready" ]; then echo "$dir"; exit 0; fi

echo "Making a Debian 12 root file system in $dir (once; a few minutes)" >&2
rm -rf "$dir" "$dir.tmp"
mkdir -p "$dir.tmp"
root="$dir.tmp/root"
debootstrap --variant=minbase --include="$include" bookworm "$root" "$mirror" >&2

echo hh-kiosk > "$root/etc/hostname"
printf '/dev/vda / ext4 rw,errors=remount-ro 0 1\n' > "$root/etc/fstab"
# QEMU's user network: the host is 10.0.2.2.
mkdir -p "$root/etc/systemd/network"
printf '[Match]\nName=en* eth*\n\n[Network]\nAddress=10.0.2.15/24\nGateway=10.0.2.2\n' > "$root/etc/systemd/network/20-wired.network"
# The test: mounts the second disk and runs its run.sh as root, its output on the serial console.
cat > "$root/etc/systemd/system/hh-vm-test.service" <<'UNIT'
[Unit]
Description=Health Helper package test (from the second disk)
After=multi-user.target systemd-networkd.service
Wants=systemd-networkd.service

[Service]
Type=oneshot
ExecStart=/bin/sh -c 'mkdir -p /mnt/payload && mount -o ro /dev/vdb /mnt/payload && exec /bin/bash /mnt/payload/run.sh'
StandardOutput=tty
StandardError=tty
TTYPath=/dev/ttyS0
TimeoutStartSec=1200

[Install]
WantedBy=multi-user.target
UNIT
chroot "$root" systemctl enable systemd-networkd.service hh-vm-test.service >&2
chroot "$root" systemctl mask serial-getty@ttyS0.service getty@tty1.service apt-daily.timer apt-daily-upgrade.timer >&2
# No module is loaded by hand at boot: the test plugs the camera and the sound card in itself.
rm -rf "$root/var/cache/apt/archives"/*.deb "$root/var/lib/apt/lists"/*_Packages

cp "$root"/boot/vmlinuz-* "$dir.tmp/vmlinuz"
cp "$root"/boot/initrd.img-* "$dir.tmp/initrd.img"
# mkfs.ext4 says on standard output that it creates the image file, even with -q: the caller
# reads only the directory from there.
mkfs.ext4 -q -F -L hh-root -d "$root" "$dir.tmp/root.img" 3G >&2
rm -rf "$root"
mv "$dir.tmp" "$dir"
touch "$dir/ready"
echo "$dir"
