#!/usr/bin/env bash
# Session uploads per second and latency of hh-relay on Postgres, from wrk on loopback, beside
# the same server's trivial route as the ceiling. Run through scripts/with-postgres.sh (make
# bench does): it provides the server in HH_TEST_POSTGRES_URL.
# Usage: Benchmarks/relay/run.sh BIN_DIR [RUNS] [SECONDS] [CONNECTIONS]
set -euo pipefail
bin=${1:-.build/release}
runs=${2:-3}
seconds=${3:-10}
connections=${4:-64}
here=$(cd "$(dirname "$0")" && pwd)
: "${HH_TEST_POSTGRES_URL:?run through scripts/with-postgres.sh}"
database="relay_bench_$$"
psql "$HH_TEST_POSTGRES_URL" -qc "CREATE DATABASE $database"
export HH_RELAY_DATABASE_URL=${HH_TEST_POSTGRES_URL/\/postgres\?//$database?}
# Objects (each session's document of record) in a local folder on this machine's disk, or
# where HH_BENCH_OBJECTS_DIR says (e.g. /dev/shm to leave the disk out); S3's network time
# is not this machine's to measure.
export HH_RELAY_DATA_DIR=$(mktemp -d "${HH_BENCH_OBJECTS_DIR:-${TMPDIR:-/tmp}}/relay-bench-data.XXXXXX")
export HH_RELAY_RATE_LIMIT=1000000 HH_RELAY_RATE_BURST=1000000 HH_RELAY_LOG_LEVEL=warning HH_RELAY_DB_POOL_SIZE=16
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
clinic=$("$bin/hh-relay" admin add-clinic Bench | tail -1)
export HH_TOKEN=$("$bin/hh-relay" admin add-device --clinic "$clinic" --name bench | tail -1)
"$bin/hh-relay" serve --port "$port" > /dev/null &
relay=$!
trap 'kill $relay 2>/dev/null || true; rm -rf "$HH_RELAY_DATA_DIR"' EXIT
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$port/health/live" > /dev/null && break; sleep 0.1; done

echo "wrk -t2 -c$connections -d${seconds}s, $runs runs each, hh-relay on Postgres (pool 16) with a local object folder, loopback"
printf '%-28s %10s %9s %9s %7s\n' run requests/s p50_ms p99_ms non2xx
for run in $(seq "$runs"); do
    for kind in upload ceiling; do
        line=$(wrk -t2 -c"$connections" -d"${seconds}s" -s "$here/$kind.lua" "http://127.0.0.1:$port$([ $kind = ceiling ] && echo /health/live || echo /v1/sessions)" | grep '^RESULT')
        read -r _ rps p50 p99 errors <<< "$line"
        printf '%-28s %10s %9s %9s %7s\n' "$kind #$run" "$rps" "$p50" "$p99" "$errors"
        echo "$kind $rps $p50 $p99" >> "/tmp/relay-bench-$$.txt"
    done
done
python3 - "/tmp/relay-bench-$$.txt" <<'PY'
import statistics, sys
rows = [line.split() for line in open(sys.argv[1])]
for kind in ("upload", "ceiling"):
    values = [[float(v) for v in r[1:]] for r in rows if r[0] == kind]
    rps, p50, p99 = (statistics.median(c) for c in zip(*values))
    print(f"median {kind:9s} {rps:10.0f}/s  p50 {p50:6.2f} ms  p99 {p99:6.2f} ms")
up = statistics.median(float(r[1]) for r in rows if r[0] == "upload")
ceil = statistics.median(float(r[1]) for r in rows if r[0] == "ceiling")
print(f"uploads reach {up / ceil:.0%} of the trivial route's throughput")
PY
rm -f "/tmp/relay-bench-$$.txt"
echo "stored sessions: $(psql "$HH_RELAY_DATABASE_URL" -tAc 'SELECT COUNT(*) FROM sessions'), documents of record: $(find "$HH_RELAY_DATA_DIR/objects/sessions" -name '*.json' | wc -l)"
