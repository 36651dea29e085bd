#!/usr/bin/env bash
# Boots a Debian kernel under QEMU (software emulation) with the kernel's virtual camera
# (vivid) and real-time ALSA loopback card (snd-aloop), and runs the kiosk's own capture code
# against them: `hhctl capture-test`, then `hhd` with `hhctl status --json`. Prints the VM's
# console; lines the checks read start with "HH-VM".
# Usage: scripts/vm-device-test.sh BIN_DIR VM_DIR   (VM_DIR prepared by scripts/vm-assets.sh)
set -euo pipefail
bin=$(cd "${1:-.build/release}" && pwd)
vm=${2:-out/vm}
kernel_root="$vm/kernel"
if [ ! -f "$kernel_root/ready" ]; then
    echo "no kernel in $vm: run scripts/vm-assets.sh $vm first" >&2
    exit 2
fi
release=$(ls "$kernel_root/lib/modules")
modules="$kernel_root/lib/modules/$release/kernel"
root="$vm/initramfs"
rm -rf "$root"
mkdir -p "$root"/{bin,dev,proc,sys,tmp,modules,usr/share}

cp /bin/busybox "$root/bin/busybox"
for name in rc-core cec mc videodev v4l2-dv-timings v4l2-tpg videobuf2-common videobuf2-memops \
    videobuf2-vmalloc videobuf2-dma-contig videobuf2-v4l2 vivid soundcore snd snd-timer snd-pcm snd-aloop; do
    file=$(find "$modules" -name "$name.ko" | head -1)
    [ -n "$file" ] || { echo "module $name not found in $modules" >&2; exit 2; }
    cp "$file" "$root/modules/"
done

# The programs under test and every shared library they load, at their own paths.
cp "$bin/hhd" "$bin/hhctl" /usr/bin/v4l2-ctl "$root/bin/"
for library in $(ldd "$bin/hhd" "$bin/hhctl" /usr/bin/v4l2-ctl | awk '/=>/ {print $3} /ld-linux/ {print $1}' | sort -u); do
    cp -L --parents "$library" "$root/"
done
cp -r /usr/share/alsa "$root/usr/share/"

cat > "$root/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp
for m in rc-core cec mc videodev v4l2-dv-timings v4l2-tpg videobuf2-common videobuf2-memops \
    videobuf2-vmalloc videobuf2-dma-contig videobuf2-v4l2; do insmod /modules/$m.ko; done
insmod /modules/vivid.ko n_devs=1 node_types=0x1
for m in soundcore snd snd-timer snd-pcm; do insmod /modules/$m.ko; done
insmod /modules/snd-aloop.ko index=0 pcm_substreams=1
echo "HH-VM devices: $(ls /dev/video* /dev/snd | tr '\n' ' ')"

echo "HH-VM begin capture-test"
hhctl speaker-test --device hw:Loopback,0,0 --audio '' --seconds 6 | sed 's/^/HH-VM /' &
sleep 1
hhctl capture-test --video /dev/video0 --audio hw:Loopback,1,0 --seconds 3 | sed 's/^/HH-VM /'
wait
printf '[camera]\nwidth = 1280\nheight = 720\nformat = "nv12"\n[microphone]\ndevice = ""\n' > /tmp/nv12.toml
hhctl capture-test --config /tmp/nv12.toml --seconds 2 | sed 's/^/HH-VM nv12 /'
# The echo path over the loopback cable, lined up by the devices' own time stamps as hhd's echo
# canceller lines up its reference: no room, so the echo should come when the stamps say.
hhctl speaker-test --device hw:Loopback,0,0 --audio hw:Loopback,1,0 --seconds 3 | sed 's/^/HH-VM echo /'

echo "HH-VM begin hhd"
hhd --state-dir /tmp/state --video /dev/video0 --audio hw:Loopback,1,0 > /tmp/hhd.log 2>&1 &
daemon=$!
hhctl speaker-test --device hw:Loopback,0,0 --audio '' --seconds 14 > /dev/null 2>&1 &
sleep 10
echo "HH-VM status: $(hhctl status --json --state-dir /tmp/state | tr -d '\n')"
# Unplug the camera while hhd streams (vivid's Disconnect control emulates a USB disconnect;
# the device comes back once every handle on it is closed) and see hhd pick it up again.
v4l2-ctl -d /dev/video0 --set-ctrl=disconnect=1 2>&1 | sed 's/^/HH-VM v4l2-ctl: /'
sleep 6
echo "HH-VM status after unplug: $(hhctl status --json --state-dir /tmp/state | tr -d '\n')"
kill -TERM $daemon
wait $daemon
echo "HH-VM hhd exit $?"
sed 's/^/HH-VM log: /' /tmp/hhd.log
wait
echo "HH-VM end"
poweroff -f
INIT
chmod +x "$root/init"

(cd "$root" && find . | /bin/busybox cpio -o -H newc 2>/dev/null | gzip -1 > ../initrd.gz)
timeout 600 qemu-system-x86_64 -accel tcg -m 1024 -smp 1 -nographic -no-reboot -net none \
    -kernel "$kernel_root/boot/vmlinuz-$release" -initrd "$vm/initrd.gz" \
    -append "console=ttyS0 panic=-1 quiet" | tee "$vm/console.log"
