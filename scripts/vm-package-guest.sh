#!/bin/bash
# Runs inside the package test's VM (Debian 12, systemd as PID 1), as root, from the payload
# disk that scripts/vm-package-test.sh makes: installs the kiosk package as a technician would,
# and prints what the test checks on lines starting with "HH-VM". No camera and no sound card
# at boot: they are plugged in (vivid, snd-aloop) after hhd has started.
set -u
payload=/mnt/payload
. "$payload/relay.env"   # RELAY_URL, WRONG_RELAY_URL
say() { echo "HH-VM $*"; }
one_line() { tr '\n' ' ' | tr -s ' '; }
# Waits up to $1 seconds for the command after it to succeed.
wait_for() { local limit=$1; shift; for _ in $(seq "$limit"); do "$@" && return 0; sleep 1; done; return 1; }
status_has() { hhctl status --json 2>/dev/null | one_line | grep -Eq "$1"; }
main_pid() { systemctl show -p MainPID --value hhd; }
export DEBIAN_FRONTEND=noninteractive

say "begin $(uname -r), $(systemctl --version | head -1), system $(systemctl is-system-running)"
useradd --create-home tech
useradd --create-home stranger
cp "$payload"/*.deb /root/

# Install (the previous build first, to upgrade from later), as the README says.
(cd /root && apt install -y -q ./previous.deb) > /root/install.log 2>&1
say "install exit $? $(tail -1 /root/install.log)"
usermod -aG health-helper tech
say "enabled $(systemctl is-enabled hhd) active $(systemctl is-active hhd)"
wait_for 60 status_has '"state" ?: ?"(missing|running|failed)"'
say "status before enrolment (tech): $(runuser -u tech -- hhctl status 2>&1 | one_line)"
stranger=$(runuser -u stranger -- hhctl status 2>&1); code=$?
say "status as a stranger: exit $code $(echo "$stranger" | one_line)"

# The microphone and the speaker on the loopback card: what is played to device 0 is heard on
# device 1. A local change to the conffile, which the upgrade must keep.
sed -i '/^\[microphone\]/,/^\[/ s|^device = .*|device = "hw:Loopback,1,0"|; /^\[speaker\]/,/^\[/ s|^device = .*|device = ""|' /etc/health-helper/hhd.toml
systemctl restart hhd
wait_for 60 status_has '"microphone" ?: ?\{[^}]*"state" ?: ?"missing"'
say "status json before plug: $(runuser -u tech -- hhctl status --json | one_line)"
# The devices appear after the daemon (a USB camera plugged in late).
modprobe vivid n_devs=1 node_types=0x1
modprobe snd-aloop index=0 pcm_substreams=2
say "devices plugged: $(ls /dev/video* /dev/snd | one_line)"
wait_for 90 status_has '"camera" ?: ?\{[^}]*"state" ?: ?"running"'
wait_for 60 status_has '"microphone" ?: ?\{[^}]*"state" ?: ?"running"'
say "status json after plug: $(runuser -u tech -- hhctl status --json | one_line)"

# A wrong relay URL first, as a technician might type it.
hhctl enroll --relay "$WRONG_RELAY_URL" --token-file "$payload/token" > /root/enroll.log 2>&1
say "enrol wrong url exit $? $(one_line < /root/enroll.log)"
wait_for 60 status_has '"reachable" ?: ?false'
say "status wrong relay: $(hhctl status 2>&1 | one_line)"
hhctl enroll --relay "$RELAY_URL" --token-file "$payload/token" > /root/enroll.log 2>&1
say "enrol exit $? $(one_line < /root/enroll.log)"
say "credential mode $(stat -c '%a %U' /etc/health-helper/enrollment.json)"

# A patient speaks: a session opens, closes when nobody is there, and goes to the relay.
wait_for 60 status_has '"microphone" ?: ?\{[^}]*"state" ?: ?"running"'
aplay -q -D plughw:Loopback,0,0 "$payload/speech.wav"
say "spoke; sessions: $(hhctl sessions --json | one_line)"
wait_for 120 sh -c 'hhctl sessions --json | tr -d "\n" | grep -Eq "\"state\" ?: ?\"delivered\""'
say "sessions: $(hhctl sessions --json | one_line)"
say "status enrolled: $(hhctl status 2>&1 | one_line)"

# The kiosk talks through real devices. Its speaker is the loopback card's first playback
# substream; the patient (aplay, over a room's noise) plays into the second. The microphone
# sums both capture substreams: it hears the patient and the replies, these as an echo carried
# by a cable rather than a room, lined up by the devices' own stamps. (With the speaker a dmix
# the patient plays into too, the kiosk heard itself over and over: docs/CONVERSATION.md.)
cat > /etc/asound.conf <<'ASOUND'
pcm.kiosk_microphone {
    type route
    slave.pcm {
        type multi
        slaves.speaker { pcm "hw:Loopback,1,0" channels 1 }
        slaves.patient { pcm "hw:Loopback,1,1" channels 1 }
        bindings.0 { slave speaker channel 0 }
        bindings.1 { slave patient channel 0 }
    }
    ttable.0.0 1
    ttable.0.1 1
}
pcm.patient {
    type plug
    slave.pcm { type dmix ipc_key 4711 slave { pcm "hw:Loopback,0,1" format S16_LE rate 16000 channels 1 } }
}
ASOUND
sed -i '/^\[speaker\]/,/^\[/ s|^device = .*|device = "hw:Loopback,0,0"|' /etc/health-helper/hhd.toml
sed -i '/^\[microphone\]/,/^\[/ s|^device = .*|device = "kiosk_microphone"|' /etc/health-helper/hhd.toml
systemctl restart hhd
wait_for 60 status_has '"microphone" ?: ?\{[^}]*"state" ?: ?"running"'
conversation_state() { hhctl status --json | one_line | grep -Eo '"conversation" ?: ?\{[^}]*' | grep -Eo '"state" ?: ?"[a-z]+"' | grep -Eo '[a-z]+"$' | tr -d '"'; }
# Waits (up to $1 seconds, and not past the conversation's deadline) for the conversation to be
# in state $2; says which wait failed.
conversation_deadline=$((SECONDS + 300))
wait_state() {
    local until=$((SECONDS + $1)); [ "$until" -gt "$conversation_deadline" ] && until=$conversation_deadline
    while [ "$SECONDS" -lt "$until" ]; do [ "$(conversation_state)" = "$2" ] && return 0; sleep 0.1; done
    say "conversation wait for $2 failed (state $(conversation_state))"; return 1
}
aplay -q -D patient "$payload/room.wav" &
room=$!
sleep 2
for question in "$payload"/questions/0[0-9].wav "$payload"/questions/10.wav; do
    aplay -q -D patient "$question"
    # Answered (thinking, then speaking) and done: listening again, the reply's echo gone.
    wait_state 15 speaking && wait_state 30 listening || break
    sleep 1.5
done
say "conversation after ten replies: $(hhctl status --json | one_line)"
# Barge-in: the patient talks over the eleventh reply.
aplay -q -D patient "$payload/questions/11.wav"
if wait_state 15 speaking; then
    sleep 0.5
    aplay -q -D patient "$payload/interruption.wav"
    wait_state 30 listening && say "conversation phase: done"
fi
sleep 3
say "conversation after a barge-in: $(hhctl status --json | one_line)"
say "room noise: $(kill -0 $room 2>/dev/null && echo playing || echo ended)"
kill $room
say "turns: $(hhctl sessions --json | one_line)"
say "conversation log: $(journalctl -u hhd -o cat --since '-5min' | grep -Ei 'barge|turn|echo|speaker' | tail -80 | one_line | cut -c1-16000)"
# Back to the microphone alone, as the technician configured it above.
sed -i '/^\[microphone\]/,/^\[/ s|^device = .*|device = "hw:Loopback,1,0"|; /^\[speaker\]/,/^\[/ s|^device = .*|device = ""|' /etc/health-helper/hhd.toml
systemctl restart hhd
wait_for 60 status_has '"microphone" ?: ?\{[^}]*"state" ?: ?"running"'

say "security: $(systemd-analyze security hhd 2>&1 | grep 'Overall exposure level' | one_line)"

# The watchdog: a hung daemon (stopped, so it neither works nor pings) is killed and restarted.
before=$(main_pid); restarts=$(systemctl show -p NRestarts --value hhd)
kill -STOP "$before"
wait_for 90 sh -c "[ \"\$(systemctl show -p MainPID --value hhd)\" != $before ] && [ \"\$(systemctl is-active hhd)\" = active ]"
say "watchdog: pid $before -> $(main_pid), restarts $restarts -> $(systemctl show -p NRestarts --value hhd), $(systemctl is-active hhd), result $(journalctl -u hhd -o cat | grep -m1 -i 'watchdog timeout' | one_line)"

# Upgrade to this build: configuration, state, outbox and enrolment kept; the daemon restarted.
wait_for 60 status_has '"state" ?: ?"running"'
sessions_before=$(hhctl sessions --json | grep -o '"id"' | wc -l)
before=$(main_pid)
(cd /root && apt install -y -q ./current.deb) > /root/install.log 2>&1
say "upgrade exit $? $(tail -1 /root/install.log)"
wait_for 60 status_has '"version"'
say "after upgrade: pid $before -> $(main_pid), $(systemctl is-active hhd), version $(hhctl --version), package $(dpkg-query -W -f='${Version}' health-helper-kiosk), sessions $sessions_before -> $(hhctl sessions --json | grep -o '"id"' | wc -l), config $(grep -c 'hw:Loopback,1,0' /etc/health-helper/hhd.toml) local change, relay $(hhctl status --json | one_line | grep -Eo '"url" ?: ?"[^"]*"')"

# Remove keeps the data; purge deletes it.
apt-get remove -y -q health-helper-kiosk > /root/remove.log 2>&1
say "remove exit $?: hhd $(systemctl is-active hhd), state $(test -e /var/lib/private/health-helper/hhd.sqlite && echo kept || echo gone), enrolment $(test -s /etc/health-helper/enrollment.json && echo kept || echo gone), config $(test -e /etc/health-helper/hhd.toml && echo kept || echo gone)"
apt-get purge -y -q health-helper-kiosk > /root/remove.log 2>&1
say "purge exit $?: state $(test -e /var/lib/private/health-helper && echo kept || echo gone), enrolment $(test -e /etc/health-helper/enrollment.json && echo kept || echo gone), config $(test -e /etc/health-helper && echo kept || echo gone)"
say "journal: $(journalctl -u hhd -o cat -n 12 | one_line | cut -c1-1500)"
say "end"
sync
systemctl poweroff --force --force
