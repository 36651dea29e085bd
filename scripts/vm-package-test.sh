#!/usr/bin/env bash
# The kiosk package on a real system: boots Debian 12 with systemd as PID 1 under QEMU
# (scripts/vm-rootfs.sh, cached), with an hh-relay running here and reached through QEMU's user
# network, and runs scripts/vm-package-guest.sh inside: install the previous build, devices
# plugged in late, a wrong relay URL, enrolment, a session delivered, a spoken conversation
# through the loopback card (ten questions answered aloud, then a barge-in), the sandbox's
# exposure, the watchdog, upgrade to this build, remove, purge. Prints the VM's console (the checks read
# the lines starting with "HH-VM") and, from the relay's side, whether each session delivered
# in the VM is stored there ("HH-VM relay has …").
# Usage: scripts/vm-package-test.sh BIN_DIR PACKAGE.deb [CACHE_DIR]
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
bin=$(cd "$1" && pwd)
deb=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
cache=${3:-${HH_VM_CACHE:-/var/cache/health-helper-vm}}
image=$("$repo/scripts/vm-rootfs.sh" "$cache" "$deb")
work=$(mktemp -d /tmp/hh-vm-package.XXXXXX)
relay_pid=
cleanup() { [ -n "$relay_pid" ] && kill "$relay_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

# The relay, on a free port of this host (10.0.2.2 in the VM).
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export HH_RELAY_DATA_DIR="$work/relay"
clinic=$("$bin/hh-relay" admin add-clinic "VM Clinic" | tail -1)
token=$("$bin/hh-relay" admin add-device --clinic "$clinic" --name "VM kiosk" | tail -1)
"$bin/hh-relay" serve --port "$port" > "$work/relay.log" 2>&1 &
relay_pid=$!

# The payload disk: the guest's script, both builds, the token, the relay's address, speech.
payload="$work/payload"
mkdir -p "$payload"
cp "$repo/scripts/vm-package-guest.sh" "$payload/run.sh"
cp "$deb" "$payload/current.deb"
# "The previous build": this one under a lower version, so that the upgrade path runs.
dpkg-deb -R "$deb" "$work/previous"
version=$(dpkg-deb -f "$deb" Version)
sed -i "s/^Version: .*/Version: ${version}~previous/" "$work/previous/DEBIAN/control"
dpkg-deb --root-owner-group -Zgzip -z1 --build "$work/previous" "$payload/previous.deb" > /dev/null
printf '%s\n' "$token" > "$payload/token"
printf 'RELAY_URL=http://10.0.2.2:%s\nWRONG_RELAY_URL=http://10.0.2.2:9\n' "$port" > "$payload/relay.env"
espeak-ng -v en-us -s 150 -w "$payload/speech.wav" "Hello. I have a question about my appointment today. Can you tell me where to wait?"
# The conversation: ten questions, each answered aloud, then one the patient talks over.
mkdir -p "$payload/questions"
n=0
for question in "What are your opening hours?" "Where is the pharmacy?" "How long does the visit take?" \
    "Where is the waiting room?" "Is there parking?" "How does this work?" "Where is the bathroom?" \
    "What happens next?" "Where is the reception?" "Can I book an appointment?" "How accurate is this?"; do
    n=$((n + 1))
    espeak-ng -v en-gb -s 150 -w "$payload/questions/$(printf '%02d' $n).wav" "$question"
done
espeak-ng -v en-us+f3 -s 160 -w "$payload/interruption.wav" "Sorry, where is the exit?"
# The room: seven minutes of noise at -60 dBFS RMS, played under the conversation.
python3 - "$payload/room.wav" <<'PY'
import random, struct, sys, wave
random.seed(7)
with wave.open(sys.argv[1], "wb") as out:
    out.setnchannels(1); out.setsampwidth(2); out.setframerate(16000)
    out.writeframes(b"".join(struct.pack("<h", int(random.gauss(0, 32.8))) for _ in range(420 * 16000)))
PY
mkfs.ext4 -q -F -L hh-payload -d "$payload" "$work/payload.img" 256M >&2

timeout 1500 qemu-system-x86_64 -accel tcg -smp 2 -m 2048 -nographic -no-reboot \
    -kernel "$image/vmlinuz" -initrd "$image/initrd.img" \
    -append "root=/dev/vda rw console=ttyS0 quiet systemd.show_status=false panic=-1" \
    -drive "file=$image/root.img,format=raw,if=virtio,snapshot=on" \
    -drive "file=$work/payload.img,format=raw,if=virtio,readonly=on" \
    -nic user,model=virtio-net-pci < /dev/null | tee "$work/console.log" || true

# The relay's side: every session the kiosk says it delivered is stored, its hash checked.
sessions=$(grep -a "HH-VM sessions: " "$work/console.log" | tail -1 | sed 's/^.*HH-VM sessions: //' || true)
for id in $(printf '%s' "$sessions" | python3 -c 'import json, sys
try: listing = json.loads(sys.stdin.read())
except ValueError: listing = []
print(" ".join(s["id"] for s in listing if s.get("state") == "delivered"))'); do
    if "$bin/hh-relay" admin export-session "$id" > /dev/null 2>&1; then echo "HH-VM relay has $id"; else echo "HH-VM relay lacks $id"; fi
done
