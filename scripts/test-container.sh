#!/usr/bin/env bash
# Builds the container image from ./Dockerfile and runs the flow against it, with no image
# registry: the base image is made from Debian packages (mmdebstrap | podman import), and the
# image packages the debug binary the tests build (BINARY_SOURCE=prebuilt) instead of compiling
# a release build inside the container (10-16 minutes on 2 cores).
# Checks: the image builds; the container runs as the unprivileged user; HEALTHCHECK (/readyz)
# reports healthy; create a topic, generate, follow the SSE stream, export; the data survives
# a restart in the volume.
# Needs root, podman and mmdebstrap (apt-get install podman mmdebstrap runc) and the Debian
# mirror. Not part of scripts/test.sh: it downloads a Debian base system (minutes, network).
# Usage: ./scripts/test-container.sh
set -euo pipefail
cd "$(dirname "$0")/.."

skip() {
    if [ -n "${CI:-}" ]; then echo "FAILED: $1" >&2; exit 1; fi
    echo "SKIPPED: $1"; exit 0
}
[ "$(id -u)" = 0 ] || skip "the container test needs root"
command -v podman >/dev/null || skip "podman is not installed (apt-get install podman)"
command -v mmdebstrap >/dev/null || skip "mmdebstrap is not installed (apt-get install mmdebstrap)"

work=$(mktemp -d)
name="qm-test-$$"
cleanup() {
    podman rm -f "$name" "$name-worker" >/dev/null 2>&1 || true
    podman volume rm -f "$name-data" >/dev/null 2>&1 || true
    podman rmi -f "localhost/quizmaster:$name" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

base=localhost/quizmaster-base:bookworm
if ! podman image exists "$base"; then
    echo "== building the base image from Debian packages (mmdebstrap)"
    mmdebstrap --quiet --variant=minbase --include=ca-certificates bookworm "$work/rootfs.tar"
    podman import "$work/rootfs.tar" "$base" >/dev/null
    rm -f "$work/rootfs.tar"
fi

# Sandboxes (and some CI machines) run containers only with runc, cgroupfs and limits no
# higher than the ones the sandbox has: crun fails with "setrlimit RLIMIT_NOFILE: Operation
# not permitted" and "cgroups in hybrid mode not supported". Use those settings only when the
# defaults cannot start a container.
if ! podman run --rm "$base" true >/dev/null 2>"$work/default.err"; then
    echo "== the default runtime cannot start a container here: $(tail -n1 "$work/default.err")"
    echo "   retrying with runc, cgroupfs and lower ulimits"
    cat > "$work/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1000:1000"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
CONF
    export CONTAINERS_CONF="$work/containers.conf"
    podman run --rm "$base" true || skip "podman cannot run a container on this machine"
fi

echo "== building the image"
cargo build
mkdir -p "$work/context/prebuilt"
cp Dockerfile .dockerignore "$work/context/"
cp target/debug/quizmaster "$work/context/prebuilt/quizmaster"
strip --strip-debug "$work/context/prebuilt/quizmaster"
podman build --quiet --format docker \
    --build-arg BUILD_IMAGE="$base" --build-arg RUNTIME_IMAGE="$base" \
    --build-arg BINARY_SOURCE=prebuilt \
    -t "localhost/quizmaster:$name" "$work/context" >/dev/null

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# Without systemd podman cannot schedule the periodic health checks and logs an error at every
# start and removal; `podman healthcheck run` below runs the image's HEALTHCHECK itself, so
# those messages are kept in a file and shown only when podman fails.
run() {
    podman run -d --name "$name" -p "127.0.0.1:$port:8080" -v "$name-data:/var/lib/quizmaster" \
        -e QUIZMASTER_AUTH=off -e QUIZMASTER_OFFLINE_PACE_MS=50 "localhost/quizmaster:$name" \
        >/dev/null 2>"$work/podman.err" || { cat "$work/podman.err"; exit 1; }
}
echo "== starting the container"
run
base_url="http://127.0.0.1:$port"
wait_healthy() {
    local container=${1:-$name}
    for _ in $(seq 1 100); do
        if podman healthcheck run "$container" >/dev/null 2>&1; then return 0; fi
        sleep 0.2
    done
    podman logs "$container" | tail -n 20
    echo "FAILED: the HEALTHCHECK never passed" >&2
    exit 1
}
wait_healthy
[ "$(podman exec "$name" id -u)" = 10001 ] || { echo "FAILED: the server does not run as uid 10001" >&2; exit 1; }
curl -fsS "$base_url/readyz" >/dev/null || { echo "FAILED: /readyz through the published port" >&2; exit 1; }

json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
topic=$(python3 -c 'import json; print(json.dumps({"title": "Hash tables", "source_text": open("examples/notes/hash-tables.md").read()}))' \
    | curl -fsS -H 'content-type: application/json' --data-binary @- "$base_url/api/topics" | json '["id"]')
blueprint=$(curl -fsS -H 'content-type: application/json' -d '{"target_terminal_objectives": 3}' \
    "$base_url/api/topics/$topic/blueprints/generate" | json '["id"]')
events=$(curl -fsSN --max-time 60 "$base_url/api/topics/$topic/blueprints/$blueprint/events")
echo "$events" | grep -q '"status":"completed"' || { echo "$events"; echo "FAILED: no completed event" >&2; exit 1; }
count=$(curl -fsS "$base_url/api/topics/$topic/blueprints/$blueprint/export?format=json" | json '["terminal_objectives"].__len__()')
[ "$count" = 3 ] || { echo "FAILED: $count objectives exported" >&2; exit 1; }

echo "== restarting: the data stays in the volume"
podman rm -f "$name" >/dev/null 2>&1
run
wait_healthy
topics=$(curl -fsS "$base_url/api/topics" | json '["items"].__len__()')
[ "$topics" = 1 ] || { echo "FAILED: $topics topics after the restart" >&2; exit 1; }
echo "== a worker container: its HEALTHCHECK follows QUIZMASTER_HEALTH_BIND"
podman run -d --name "$name-worker" -v "$name-data:/var/lib/quizmaster" \
    -e QUIZMASTER_HEALTH_BIND=0.0.0.0:9090 "localhost/quizmaster:$name" worker \
    >/dev/null 2>"$work/podman.err" || { cat "$work/podman.err"; exit 1; }
wait_healthy "$name-worker"
echo "== container test passed"
