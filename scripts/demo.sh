#!/usr/bin/env bash
# The demo: a simulated patient (known heart rate, head motion, talking, a flickering lamp)
# analysed by `hhctl analyze video`, its heart-rate timeline printed next to the truth; then a
# patient speaking over ventilation noise, analysed by `hhctl analyze audio`, the detected
# speech printed next to the truth; then the kiosk daemon hhd on a simulated visit, with
# hhctl status while it runs, delivering its session to the relay hh-relay.
# Usage: scripts/demo.sh BIN_DIR OUT_DIR VOICE_CORPUS_DIR
set -euo pipefail
bin=${1:-.build/release}
out=${2:-out/demo}
voices=${3:-out/voice-corpus/eval}
mkdir -p "$out"

echo "== Simulating a 60 s patient: 640x480, 30 fps, heart rate 68 → 104 bpm, moving and talking, lamp flicker at 1 Hz"
"$bin/hh-simulate" --out "$out/patient.y4m" --width 640 --height 480 --duration 60 \
    --hr 68 --hr-end 104 --motion --talking --flicker 0.05 --flicker-hz 1 --seed 2026

echo
echo "== hhctl analyze video $out/patient.y4m"
"$bin/hhctl" analyze video "$out/patient.y4m" --format table

echo
echo "== Timeline against the truth (hhctl --format csv)"
"$bin/hhctl" analyze video "$out/patient.y4m" --format csv > "$out/estimates.csv"
python3 - "$out/estimates.csv" "$out/patient.truth.csv" <<'PY'
import csv, sys
est = list(csv.DictReader(open(sys.argv[1])))
truth = {float(r["t_s"]): r["hr_bpm"] for r in csv.DictReader(open(sys.argv[2]))}
print(f"{'t s':>6} {'measured':>9} {'true':>7} {'error':>6}  SNR dB")
errors = []
for r in est:
    t = float(r["t_s"]); hr = r["hr_bpm"]; tr = truth.get(round(t))
    err = f"{float(hr) - float(tr):+.1f}" if hr and tr else ""
    if err: errors.append(abs(float(hr) - float(tr)))
    print(f"{t:6.1f} {hr or '-':>9} {tr or '-':>7} {err:>6}  {r['snr_db']}")
if errors:
    print(f"mean absolute error {sum(errors)/len(errors):.2f} bpm over {len(errors)} of {len(est)} seconds")
PY

clip="$voices/ventilation-10db"
echo
echo "== hhctl analyze audio $clip.wav (espeak-ng speech over ventilation noise at 10 dB SNR)"
"$bin/hhctl" analyze audio "$clip.wav" --format table

echo
echo "== Detected speech against the truth (hhctl --format csv, 10 ms frames)"
"$bin/hhctl" analyze audio "$clip.wav" --format csv > "$out/speech.csv"
python3 - "$out/speech.csv" "$clip.labels" <<'PY'
import csv, itertools, sys
truth = [c == "1" for c in open(sys.argv[2]).read().strip()]
decided = [False] * len(truth)
for r in csv.DictReader(open(sys.argv[1])):
    for i in range(round(float(r["start_s"]) * 100), min(len(truth), round(float(r["end_s"]) * 100))):
        decided[i] = True
def runs(frames):
    out, t = [], 0
    for value, group in itertools.groupby(frames):
        n = len(list(group))
        if value: out.append((t / 100, (t + n) / 100))
        t += n
    return out
print("true speech:     " + "  ".join(f"{a:.2f}-{b:.2f}" for a, b in runs(truth)))
print("detected speech: " + "  ".join(f"{a:.2f}-{b:.2f}" for a, b in runs(decided)))
hits = sum(a and b for a, b in zip(truth, decided))
print(f"frame F1 {2 * hits / (sum(truth) + sum(decided)):.3f}")
PY

echo
echo "== The kiosk daemon: hhd on a simulated visit (video and microphone from files, in real time)"
"$bin/hh-simulate" --out "$out/visit.y4m" --width 640 --height 480 --duration 40 --hr 76 --talking \
    --absent 26-40 --seed 77 > /dev/null
python3 "$(dirname "$0")/demo_speech.py" "$out/visit.wav" 40
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
relay_dir="$out/relay"
state="$out/kiosk-state"
rm -rf "$relay_dir" "$state"
export HH_RELAY_DATA_DIR="$relay_dir"
echo "\$ hh-relay admin add-clinic \"North Clinic\"; hh-relay admin add-device --clinic … --name Lobby"
clinic=$("$bin/hh-relay" admin add-clinic "North Clinic" | tail -1)
token=$("$bin/hh-relay" admin add-device --clinic "$clinic" --name Lobby | tail -1)
demo_password="north clinic demo $(python3 -c 'import secrets; print(secrets.token_hex(3))')"
echo "\$ hh-relay admin add-user --clinic … --email clinician@north.example --role admin   (password from standard input)"
echo "$demo_password" | "$bin/hh-relay" admin add-user --clinic "$clinic" --email clinician@north.example --role admin
echo "\$ hh-relay serve --port $port &      (embedded SQLite in $relay_dir; turn audio kept 1 day; the web UI on plain-HTTP localhost)"
HH_RELAY_AUDIO_RETENTION_DAYS=1 HH_RELAY_COOKIE_SECURE=false \
    HH_RELAY_CLINIC_KNOWLEDGE_DIR="$(dirname "$0")/../configs/clinic-knowledge" "$bin/hh-relay" serve --port "$port" > "$out/relay.log" &
relay=$!
trap 'kill $relay 2>/dev/null || true' EXIT
echo "\$ hhctl enroll --relay http://127.0.0.1:$port --token hh1.… --state-dir $state"
"$bin/hhctl" enroll --relay "http://127.0.0.1:$port" --token "$token" --state-dir "$state"
# The kiosk's speaker: ALSA's file plugin writes what is played to a WAV file (no sound card needed).
cat > "$out/asound.conf" <<ALSA
pcm.kioskspeaker { type file  slave.pcm "null"  file "$PWD/$out/kiosk-speaker.wav"  format "wav" }
ALSA
rm -f "$out/kiosk-speaker.wav"
echo "\$ hhd --state-dir $state --video $out/visit.y4m --audio $out/visit.wav --speaker kioskspeaker --pace realtime &"
echo "  (kioskspeaker: ALSA's file plugin, writing what the kiosk says to $out/kiosk-speaker.wav)"
ALSA_CONFIG_PATH="/usr/share/alsa/alsa.conf:$PWD/$out/asound.conf" "$bin/hhd" --state-dir "$state" --video "$out/visit.y4m" \
    --audio "$out/visit.wav" --speaker kioskspeaker --apology share/apology.wav --pace realtime > "$out/hhd.log" 2>&1 &
daemon=$!
for at in 12 24 36; do
    sleep $((at - ${previous:-0}))
    previous=$at
    echo
    echo "\$ hhctl status        (t = ${at} s)"
    "$bin/hhctl" status --state-dir "$state" || true
done
status=0
wait $daemon || status=$?
echo
echo "hhd reached the end of its input files, delivered the session and exited with status $status (log: $out/hhd.log)"
echo
echo "== What the relay logged (one JSON line per request) and stored"
grep '"route":"/v1/sessions"' "$out/relay.log" || true
python3 - "$relay_dir/relay.sqlite" <<'PY'
import json, sqlite3, sys
for session_id, median, document in sqlite3.connect(sys.argv[1]).execute(
        "SELECT id, heart_rate_median_bpm, document FROM sessions ORDER BY started_at"):
    doc = json.loads(document)
    print(f"stored session {session_id}: {doc['started_at']} → {doc['ended_at']} ({doc['end_reason']}), "
          f"median heart rate {median} bpm over {doc['summary']['seconds_with_estimate']} s "
          f"(simulated truth 76), {len(doc['voice_turns'])} voice turn(s)")
PY
for session_id in $(python3 -c 'import sqlite3, sys; print(" ".join(r[0] for r in sqlite3.connect(sys.argv[1]).execute("SELECT id FROM sessions")))' "$relay_dir/relay.sqlite"); do
    echo "\$ hh-relay admin export-session $session_id > session.json      (the document of record, hash checked)"
    "$bin/hh-relay" admin export-session "$session_id" > "$out/session-$session_id.json"
    echo "$(wc -c < "$out/session-$session_id.json") bytes, as the kiosk sent them: $(head -c 120 "$out/session-$session_id.json") …"
done

echo
echo "== The conversation the kiosk held, fully offline (PocketSphinx, the offline responder, eSpeak NG)"
grep -E 'turn (sent|answered)|escalation|apology|barge-in' "$out/hhd.log" | cut -c1-240 || true
python3 - "$relay_dir/relay.sqlite" "$out/kiosk-speaker.wav" <<'PY'
import sqlite3, sys, wave
for transcript, reply, escalation in sqlite3.connect(sys.argv[1]).execute(
        "SELECT transcript, reply_text, escalation_reason FROM turns ORDER BY started_at"):
    print(f'patient said (as the relay heard it): "{transcript}"')
    print(f'kiosk answered aloud:                 "{reply}"' + (f"   (ESCALATED: {escalation})" if escalation else ""))
try:
    with wave.open(sys.argv[2]) as w:
        print(f"the kiosk's last spoken reply, {w.getnframes() / w.getframerate():.1f} s, was played through ALSA's file plugin into {sys.argv[2]}")
except (OSError, EOFError, wave.Error) as error:
    print(f"no speaker output ({error})")
PY

echo
echo "== The visit's summary for the clinician (written in the background by the relay's summary workers)"
for session_id in $(python3 -c 'import sqlite3, sys; print(" ".join(r[0] for r in sqlite3.connect(sys.argv[1]).execute("SELECT id FROM sessions")))' "$relay_dir/relay.sqlite"); do
    echo "\$ hh-relay admin summary $session_id"
    for _ in $(seq 50); do
        "$bin/hh-relay" admin summary "$session_id" --json 2>/dev/null | grep -q '"state" : "done"' && break
        sleep 0.1
    done
    "$bin/hh-relay" admin summary "$session_id" || true
done

# The relay keeps running for the clinician: the visit above is in its web UI.
trap - EXIT
echo
echo "== The clinician web UI (hh-relay keeps running: stop it with kill $relay)"
echo "   open http://127.0.0.1:$port/ and sign in as clinician@north.example with the password: $demo_password"
