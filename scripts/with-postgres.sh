#!/usr/bin/env bash
# Runs a command with a private, throwaway PostgreSQL server (Debian's postgresql) on a free
# loopback port, its URL in HH_TEST_POSTGRES_URL (TLS on offer, its self-signed certificate in
# HH_TEST_POSTGRES_CA); stops and deletes the server afterwards.
# Usage: scripts/with-postgres.sh COMMAND [ARGS…]
set -euo pipefail
"$(dirname "$0")/install-deps.sh" postgresql postgresql-client openssl
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
dir=$(mktemp -d /tmp/hh-postgres.XXXXXX)
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
as_postgres=()
if [ "$(id -u)" -eq 0 ]; then
    chown postgres "$dir"
    as_postgres=(su postgres -s /bin/bash -c)
else
    as_postgres=(bash -c)
fi
# A self-signed certificate for 127.0.0.1, so the tests can use TLS (sslmode=require, verify-full).
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=localhost" \
    -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" -keyout "$dir/server.key" -out "$dir/server.crt" 2> /dev/null
chmod 600 "$dir/server.key"
[ "$(id -u)" -eq 0 ] && chown postgres "$dir/server.key" "$dir/server.crt"
"${as_postgres[@]}" "$bin/initdb -D $dir/data -U test --auth=trust -E UTF8 --no-sync > $dir/initdb.log"
"${as_postgres[@]}" "$bin/pg_ctl -D $dir/data -l $dir/server.log -w -t 30 -o '-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200 -c ssl=on -c ssl_cert_file=$dir/server.crt -c ssl_key_file=$dir/server.key' start > /dev/null"
stop() {
    "${as_postgres[@]}" "$bin/pg_ctl -D $dir/data -m fast -w stop > /dev/null" || true
    rm -rf "$dir"
}
trap stop EXIT
export HH_TEST_POSTGRES_URL="postgres://test@127.0.0.1:$port/postgres?sslmode=disable"
export HH_TEST_POSTGRES_CA="$dir/server.crt"
echo "PostgreSQL for the tests at $HH_TEST_POSTGRES_URL" >&2
"$@"
