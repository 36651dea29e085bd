#!/usr/bin/env bash
# Runs a command with a private S3-compatible server (moto, from PyPI) on a free loopback port
# that checks SigV4 signatures and IAM policies like S3. Exports for the tests:
#   HH_TEST_S3_ENDPOINT                     the server's URL
#   HH_TEST_S3_BUCKET                       an empty bucket
#   HH_TEST_S3_ACCESS_KEY_ID / _SECRET_ACCESS_KEY   a user with exactly the relay's policy (docs/DEPLOY.md)
#   HH_TEST_S3_READONLY_ACCESS_KEY_ID / _SECRET_ACCESS_KEY   a user that may only read
# Usage: scripts/with-s3.sh COMMAND [ARGS…]
set -euo pipefail
here=$(dirname "$0")
"$here/install-deps.sh" --pip "moto[server]"
dir=$(mktemp -d /tmp/hh-s3.XXXXXX)
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# The first calls (creating the IAM users and their keys) pass unauthenticated; every call
# after them must be signed by a known key and allowed by the user's policy.
INITIAL_NO_AUTH_ACTION_COUNT=9 python3 "$here/moto-server.py" 127.0.0.1 "$port" > "$dir/moto.log" 2>&1 &
pid=$!
stop() {
    kill "$pid" 2> /dev/null || true
    wait "$pid" 2> /dev/null || true
    rm -rf "$dir"
}
trap stop EXIT
python3 - "$port" <<'PY'
import socket, sys, time
deadline = time.time() + 30
while True:
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1).close()
        break
    except OSError:
        if time.time() > deadline:
            sys.exit("moto_server did not start")
        time.sleep(0.2)
PY
python3 "$here/s3-test-setup.py" "http://127.0.0.1:$port" > "$dir/env"
# shellcheck disable=SC1091
source "$dir/env"
echo "S3 (moto, signatures checked) for the tests at $HH_TEST_S3_ENDPOINT, bucket $HH_TEST_S3_BUCKET" >&2
"$@"
