#!/usr/bin/env bash
# make test's test runs, on a build made with --build-tests:
#   1. the tests that compute for minutes (COMPUTING, a --filter pattern), in a test process of
#      their own, beside
#   2. every other test but the system tests, in parallel, then
#   3. the system tests (SYSTEM), one at a time.
# Swift Testing runs a process's tests on one cooperative pool (one thread per core) in the order
# they became ready: a test that computes for minutes holds a thread all that time, and every
# test that waits on a service (a relay, Postgres, a daemon) gets its next step only when a
# thread is free, minutes late. In a process of their own, the computing tests take their turns
# with the rest at the operating system's time slices (nice 10, below the services' processes).
# Usage: scripts/run-tests.sh CONFIG COMPUTING SYSTEM
set -uo pipefail
config=$1 computing=$2 system=$3
tests=".build/$config/HealthHelperPackageTests.xctest"
log=$(mktemp /tmp/hh-computing-tests.XXXXXX)
trap 'rm -f "$log"' EXIT

nice -n 10 "$tests" --testing-library swift-testing --parallel --filter "$computing" > "$log" 2>&1 &
computing_pid=$!
"${SWIFT:-swift}" test -c "$config" --skip-build --parallel --skip "$system|$computing"
others=$?
wait "$computing_pid"
computed=$?
echo "=== the computing tests ($computing), run beside the others ==="
cat "$log"
[ "$others" -eq 0 ] && [ "$computed" -eq 0 ] || exit 1
"${SWIFT:-swift}" test -c "$config" --skip-build --no-parallel --filter "$system"
