#!/usr/bin/env bash
# QuizMaster's fault campaign: kill -9 of the server during a batch, 1,000 concurrent generate
# requests on one topic, slow and abandoned SSE clients, a connection-exhaustion attack and
# log-in and sign-up bursts (issue 16), SQLite on a full disk (a tmpfs: needs
# root, skipped loudly otherwise and an error when CI is set), PostgreSQL restarted mid-batch
# (needs root for pg_ctlcluster). Exits non-zero if anything is found.
# Usage: ./bench/faults.sh [--short] [--debug] [--pg URL]
#   --short  the CI form: fewer kills, smaller batches (under ~3 minutes)
#   --debug  use debug builds (what `cargo test` already built) instead of release
set -euo pipefail
cd "$(dirname "$0")/.."
profile=release
args=()
for a in "$@"; do
  if [ "$a" = "--debug" ]; then profile=debug; else args+=("$a"); fi
done
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
if [ "$profile" = release ]; then
  cargo build --release --quiet -p quizmaster -p qm-bench
else
  cargo build --quiet -p quizmaster -p qm-bench
fi
exec "./target/$profile/qm-bench" faults --bin "./target/$profile/quizmaster" "${args[@]}"
