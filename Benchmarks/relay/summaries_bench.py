"""Summary queue throughput: one hh-relay instance on Postgres with N summary workers, a fake
Bedrock (scripts/voice-fakes.py) answering each Converse call after 500 ms. Jobs are queued
in one burst while the relay runs; the figure is jobs per second from the burst to the last
summary stored, beside the ideal N / 0.5 s. The database's cost per job is read from the
relay's own metrics (the mean of its claim and complete operations).

Usage: summaries_bench.py BIN_DIR POSTGRES_URL RUNS WORKERS...   (run through scripts/with-postgres.sh)"""
import os
import re
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
import uuid

bin_dir, server, runs, worker_counts = sys.argv[1], sys.argv[2], int(sys.argv[3]), [int(n) for n in sys.argv[4:]]
here = os.path.dirname(os.path.abspath(__file__))
root = os.path.dirname(os.path.dirname(here))
ACCESS, SECRET = "AKIDBENCH0000000001", "bench-secret"
JOBS_PER_WORKER = 25


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def psql(url, sql):
    return subprocess.run(["psql", url, "-tAqc", sql], check=True, capture_output=True, text=True).stdout.strip()


def wait_for(port):
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"nothing listens on {port}")


fake_port = free_port()
fake = subprocess.Popen([sys.executable, os.path.join(root, "scripts/voice-fakes.py"), str(fake_port), ACCESS, SECRET, "k"], stdout=subprocess.DEVNULL)
wait_for(fake_port)
request = urllib.request.Request(f"http://127.0.0.1:{fake_port}/_fake/behaviour", data=b'{"service": "summary", "mode": "slow", "delay_ms": 500}',
                                 headers={"Content-Type": "application/json"})
urllib.request.urlopen(request).read()

results = {}
try:
    for workers in worker_counts:
        for run in range(runs):
            database = f"summary_bench_{uuid.uuid4().hex[:8]}"
            psql(server, f"CREATE DATABASE {database}")
            url = server.replace("/postgres?", f"/{database}?")
            port = free_port()
            environment = dict(os.environ, HH_RELAY_DATABASE_URL=url, HH_RELAY_DATA_DIR=f"/tmp/{database}", HH_RELAY_LOG_LEVEL="error",
                               HH_RELAY_SUMMARISER="bedrock", HH_RELAY_BEDROCK_ENDPOINT=f"http://127.0.0.1:{fake_port}",
                               AWS_ACCESS_KEY_ID=ACCESS, AWS_SECRET_ACCESS_KEY=SECRET, HH_RELAY_SUMMARY_WORKERS=str(workers),
                               HH_RELAY_DB_POOL_SIZE=str(max(10, workers + 4)))
            clinic = subprocess.run([f"{bin_dir}/hh-relay", "admin", "add-clinic", "Bench"], env=environment, check=True,
                                    capture_output=True, text=True).stdout.split()[-1]
            token = subprocess.run([f"{bin_dir}/hh-relay", "admin", "add-device", "--clinic", clinic, "--name", "Lobby"], env=environment,
                                   check=True, capture_output=True, text=True).stdout.split()[-1]
            device = token.split(".")[1]
            relay = subprocess.Popen([f"{bin_dir}/hh-relay", "serve", "--port", str(port)], env=environment, stdout=subprocess.DEVNULL)
            try:
                wait_for(port)
                jobs = JOBS_PER_WORKER * workers
                # The sessions and their jobs in one burst (as storing sessions queues them).
                psql(url, f"""
                    WITH s AS (
                        INSERT INTO sessions (id, clinic_id, device_id, started_at, ended_at, digest, document, heart_rate_median_bpm)
                        SELECT gen_random_uuid()::text, '{clinic}', '{device}', now(), now() + interval '1 min', 'd',
                               jsonb_build_object('schema_version', 1, 'id', gen_random_uuid()::text,
                                   'started_at', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                                   'ended_at', to_char((now() + interval '1 min') AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                                   'end_reason', 'absence', 'heart_rate', '[]'::jsonb, 'voice_turns', '[]'::jsonb,
                                   'summary', jsonb_build_object('seconds_with_estimate', 0),
                                   'metadata', jsonb_build_object('software_version', '0.5.0', 'pulse_method', 'pos')), NULL
                        FROM generate_series(1, {jobs})
                        RETURNING id, clinic_id)
                    INSERT INTO summary_jobs (session_id, clinic_id, state) SELECT id, clinic_id, 'queued' FROM s""")
                start = time.perf_counter()
                while int(psql(url, "SELECT COUNT(*) FROM summary_jobs WHERE state = 'done'")) < jobs:
                    failed = int(psql(url, "SELECT COUNT(*) FROM summary_jobs WHERE state = 'failed'"))
                    if failed or time.perf_counter() - start > 600:
                        raise SystemExit(f"{failed} jobs failed: {psql(url, 'SELECT last_error FROM summary_jobs WHERE last_error IS NOT NULL LIMIT 1')}")
                    time.sleep(0.05)
                elapsed = time.perf_counter() - start
                metrics = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics").read().decode()

                def mean_ms(operation):
                    total = float(re.search(r'hh_relay_db_operation_duration_sum\{operation="%s"\} ([0-9.e+-]+)' % operation, metrics).group(1))
                    count = float(re.search(r'hh_relay_db_operation_duration_count\{operation="%s"\} ([0-9.e+-]+)' % operation, metrics).group(1))
                    return total / count * 1000, count

                claim, claims = mean_ms("claim_summary_jobs")
                complete, _ = mean_ms("complete_summary_job")
                results.setdefault(workers, []).append((jobs / elapsed, claim, complete, claims))
                print(f"workers {workers:2d} run {run + 1}: {jobs} jobs in {elapsed:5.2f} s = {jobs / elapsed:6.2f} jobs/s "
                      f"(ideal {workers / 0.5:.1f}); claim {claim:.2f} ms, complete {complete:.2f} ms", flush=True)
            finally:
                relay.terminate()
                relay.wait()
                psql(server, f"DROP DATABASE {database} WITH (FORCE)")
finally:
    fake.kill()

print()
print("| workers | jobs/s (median) | ideal (N / 0.5 s) | share of ideal | claim ms | complete ms |")
print("| ---: | ---: | ---: | ---: | ---: | ---: |")
for workers, rows in results.items():
    rate = statistics.median(r[0] for r in rows)
    print(f"| {workers} | {rate:.2f} | {workers / 0.5:.1f} | {rate / (workers / 0.5):.0%} | "
          f"{statistics.median(r[1] for r in rows):.2f} | {statistics.median(r[2] for r in rows):.2f} |")
