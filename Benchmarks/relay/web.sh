#!/usr/bin/env bash
# The clinician web UI's server time on Postgres with 100,000 visits: the first page of the
# visits list, a page deep in the list (keyset), and a visit with a 30-minute heart-rate
# series, beside the same server's trivial route as the reference. Run through
# scripts/with-postgres.sh (make bench does).
# Usage: Benchmarks/relay/web.sh BIN_DIR [VISITS] [RUNS]
set -euo pipefail
bin=${1:-.build/release}
visits=${2:-100000}
runs=${3:-5}
here=$(cd "$(dirname "$0")" && pwd)
: "${HH_TEST_POSTGRES_URL:?run through scripts/with-postgres.sh}"
database="relay_web_bench_$$"
psql "$HH_TEST_POSTGRES_URL" -qc "CREATE DATABASE $database"
export HH_RELAY_DATABASE_URL=${HH_TEST_POSTGRES_URL/\/postgres\?//$database?}
export HH_RELAY_DATA_DIR=$(mktemp -d "${TMPDIR:-/tmp}/relay-web-bench.XXXXXX")
export HH_RELAY_LOG_LEVEL=warning HH_RELAY_COOKIE_SECURE=false
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
clinic=$("$bin/hh-relay" admin add-clinic Bench | tail -1)
token=$("$bin/hh-relay" admin add-device --clinic "$clinic" --name "Front desk" | tail -1)
"$bin/hh-relay" admin add-device --clinic "$clinic" --name "Upstairs" > /dev/null
echo "bench password 1234" | "$bin/hh-relay" admin add-user --clinic "$clinic" --email bench@example.org > /dev/null
echo "seeding $visits visits (a tenth with a voice turn, one turn in a hundred escalated)"
psql "$HH_RELAY_DATABASE_URL" -q <<SQL
INSERT INTO sessions (id, clinic_id, device_id, started_at, ended_at, digest, document, heart_rate_median_bpm)
SELECT md5(i::text)::uuid::text, '$clinic', d.id, now() - make_interval(mins => i * 3), now() - make_interval(mins => i * 3) + interval '4 min',
       md5(i::text), jsonb_build_object('summary', jsonb_build_object('snr_median_db', 2 + i % 7), 'metadata', jsonb_build_object('software_version', '0.5.0')),
       60 + i % 35
FROM generate_series(1, $visits) AS i
JOIN LATERAL (SELECT id FROM devices WHERE clinic_id = '$clinic' ORDER BY id OFFSET (i % 2) LIMIT 1) d ON true;
INSERT INTO turns (id, session_id, clinic_id, device_id, audio_digest, answered_at, started_at, transcript, reply_text, escalation_reason, response)
SELECT md5('turn' || id)::uuid::text, id, clinic_id, device_id, 'x', now(), started_at, 'what is my heart rate', 'About seventy.',
       CASE WHEN hashtext(id) % 100 = 0 THEN 'chest_pain' END, '{}'
FROM sessions WHERE hashtext(id) % 10 = 0;
ANALYZE;
SQL
"$bin/hh-relay" serve --port "$port" > /dev/null &
relay=$!
trap 'kill $relay 2>/dev/null || true; rm -rf "$HH_RELAY_DATA_DIR"' EXIT
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/health/live" > /dev/null && break; sleep 0.1; done
python3 "$here/web_bench.py" "http://127.0.0.1:$port" "$token" bench@example.org "bench password 1234" "$runs"
