#!/usr/bin/env bash
# QuizMaster's benchmark: builds release binaries, starts QuizMaster (SQLite and PostgreSQL),
# measures on loopback and prints a table (Markdown) on stdout; progress goes to stderr.
# Usage: ./bench/run.sh [--quick] [--only polls,gens,notice,sse,recovery] [--pg URL]
# Needs: wrk (apt-get install wrk); PostgreSQL at $QM_BENCH_PG or
# postgres://postgres@127.0.0.1:5432/test for the PostgreSQL rows (skipped if unreachable).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { echo "wrk not found: apt-get install wrk" >&2; exit 2; }
# 10,000 SSE streams and 1,024 wrk connections need file descriptors on both ends.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
cargo build --release --quiet -p quizmaster -p qm-bench
exec ./target/release/qm-bench bench --bin ./target/release/quizmaster "$@"
