#!/usr/bin/env bash
# Runs every test QuizMaster has: formatting, lints, Rust unit and integration tests, the
# JavaScript unit tests of the web UI (node --test) and the browser end-to-end tests
# (Playwright in Chromium against a real `quizmaster serve`).
# Needs: a Rust toolchain, Node.js 20+ with npm, and Chromium at /usr/bin/chromium
# (with CI=true a missing Chromium fails the run; otherwise the browser tests are skipped).
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

echo "== cargo build (the binary the browser tests start)"
cargo build

echo "== deployment files (Dockerfile, compose.yaml, systemd units)"
python3 scripts/check-deploy-files.py

# About 15 seconds: the .deb from the debug binary, dpkg -i, the flow, dpkg --purge. Needs root
# (CI runs as root on a throwaway machine; elsewhere it says SKIPPED).
echo "== Debian package"
./scripts/test-deb.sh

if [ ! -d node_modules/playwright-core ]; then
  echo "== npm ci"
  npm ci --no-audit --no-fund
fi

echo "== API fuzzing (schemathesis against the OpenAPI document)"
./scripts/fuzz-api.sh

echo "== Python client (regenerated from the live document: no drift; the whole flow with it)"
./scripts/test-python-client.sh

echo "== web UI unit tests (node --test)"
node --test tests/js/

echo "== web UI end-to-end tests (Playwright + Chromium)"
node --test --test-concurrency=1 --test-timeout=180000 e2e/

echo "== all tests passed"
