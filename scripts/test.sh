#!/usr/bin/env bash
# Runs every test QuizMaster has: formatting, lints, unit and integration tests.
# Usage: ./scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy"
cargo clippy --all-targets -- -D warnings

echo "== cargo clippy (bench)"
cargo clippy -p qm-bench --all-targets -- -D warnings

echo "== cargo test"
cargo test --all-targets
cargo test -p qm-bench

# The fault campaign's short form (about a minute): kill -9 of the server during a batch,
# 1,000 concurrent generate requests, slow and abandoned SSE clients, SQLite on a full disk,
# PostgreSQL restarted mid-batch. Needs root for the tmpfs mount and pg_ctlcluster (CI runs
# as root; with CI set, a check that cannot run is a failure, not a skip).
echo "== fault campaign (short)"
./bench/faults.sh --short --debug

echo "== all tests passed"
