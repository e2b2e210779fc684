#!/usr/bin/env bash
# Runs compose.yaml as written (PostgreSQL, two API servers, one worker) with podman-compose and
# the flow across it: sign up and create a token on api-1, create a topic and start a generation
# there, follow it over SSE on api-2 while the worker runs it, export it from api-2; every
# QuizMaster container's HEALTHCHECK passes and runs as uid 10001.
# No image registry is reachable here, so both images are made locally: QuizMaster's from the
# Dockerfile around the debug binary (as scripts/test-container.sh does), and a stand-in for the
# official postgres image (Debian's postgresql-15 with an entrypoint that reads the same
# POSTGRES_USER / POSTGRES_PASSWORD / POSTGRES_DB). Uses ports 8081 and 8082, as compose.yaml does.
# Needs root, podman, podman-compose, mmdebstrap and the Debian mirror (about 500 MB the first
# time). Not part of scripts/test.sh.
# Usage: ./scripts/test-compose.sh
set -euo pipefail
cd "$(dirname "$0")/.."

skip() {
    if [ -n "${CI:-}" ]; then echo "FAILED: $1" >&2; exit 1; fi
    echo "SKIPPED: $1"; exit 0
}
[ "$(id -u)" = 0 ] || skip "the compose test needs root"
for tool in podman podman-compose mmdebstrap; do
    command -v "$tool" >/dev/null || skip "$tool is not installed (apt-get install $tool)"
done

work=$(mktemp -d)
project="qm-compose-$$"
export QUIZMASTER_IMAGE="localhost/quizmaster:$project" POSTGRES_IMAGE=localhost/quizmaster-test-postgres:15
cleanup() {
    podman-compose -p "$project" down -v >/dev/null 2>&1 || true
    podman volume rm -f "${project}_postgres-data" >/dev/null 2>&1 || true
    podman rmi -f "$QUIZMASTER_IMAGE" >/dev/null 2>&1 || true
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
# See scripts/test-container.sh: runc, cgroupfs and lower limits where crun cannot run here.
if ! podman run --rm "$base" true >/dev/null 2>&1; then
    printf '[containers]\ndefault_ulimits = ["nofile=1024:1024", "nproc=1000:1000"]\n[engine]\nruntime = "runc"\ncgroup_manager = "cgroupfs"\n' \
        > "$work/containers.conf"
    export CONTAINERS_CONF="$work/containers.conf"
    podman run --rm "$base" true || skip "podman cannot run a container on this machine"
fi

if ! podman image exists "$POSTGRES_IMAGE"; then
    echo "== building a stand-in for the postgres image (Debian's postgresql-15)"
    mkdir -p "$work/postgres"
    mmdebstrap --quiet --variant=minbase --include=postgresql-15 bookworm "$work/postgres/rootfs.tar"
    podman import "$work/postgres/rootfs.tar" localhost/quizmaster-test-postgres-base:bookworm >/dev/null
    rm -f "$work/postgres/rootfs.tar"
    cat > "$work/postgres/entrypoint.sh" <<'EOF'
#!/bin/bash
set -euo pipefail
PGDATA=/var/lib/postgresql/data
mkdir -p "$PGDATA" /var/run/postgresql
chown postgres:postgres "$PGDATA" /var/run/postgresql
chmod 700 "$PGDATA"
as_postgres() { su postgres -s /bin/bash -c "PATH=$PATH; $1"; }
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    printf '%s\n' "$POSTGRES_PASSWORD" > /tmp/pw && chown postgres /tmp/pw
    as_postgres "initdb -D $PGDATA -U $POSTGRES_USER --pwfile=/tmp/pw --auth-host=scram-sha-256 --auth-local=trust" >/dev/null
    rm -f /tmp/pw
    echo "host all all 0.0.0.0/0 scram-sha-256" >> "$PGDATA/pg_hba.conf"
    as_postgres "pg_ctl -D $PGDATA -o '-c listen_addresses=' -w start" >/dev/null
    as_postgres "psql -h /var/run/postgresql -U $POSTGRES_USER -d postgres -c 'CREATE DATABASE $POSTGRES_DB'" >/dev/null
    as_postgres "pg_ctl -D $PGDATA -m fast -w stop" >/dev/null
fi
exec su postgres -s /bin/bash -c "exec /usr/lib/postgresql/15/bin/postgres -D $PGDATA -c listen_addresses='*'"
EOF
    chmod +x "$work/postgres/entrypoint.sh"
    printf 'FROM localhost/quizmaster-test-postgres-base:bookworm\nENV PATH=/usr/lib/postgresql/15/bin:/usr/sbin:/usr/bin:/sbin:/bin\nCOPY entrypoint.sh /entrypoint.sh\nENTRYPOINT ["/entrypoint.sh"]\n' \
        > "$work/postgres/Containerfile"
    podman build --quiet --format docker -t "$POSTGRES_IMAGE" "$work/postgres" >/dev/null
fi

echo "== building the QuizMaster image"
cargo build
mkdir -p "$work/context/prebuilt"
cp Dockerfile .dockerignore "$work/context/"
cp target/debug/quizmaster "$work/context/prebuilt/quizmaster"
strip --strip-debug "$work/context/prebuilt/quizmaster"
podman build --quiet --format docker --build-arg BUILD_IMAGE="$base" --build-arg RUNTIME_IMAGE="$base" \
    --build-arg BINARY_SOURCE=prebuilt -t "$QUIZMASTER_IMAGE" "$work/context" >/dev/null

echo "== podman-compose up"
# podman-compose 1.0 starts services in order but does not wait for PostgreSQL's health;
# the servers exit until it answers and `restart: unless-stopped` brings them back.
podman-compose -p "$project" up -d >"$work/compose.log" 2>&1 || { cat "$work/compose.log"; exit 1; }
a=http://127.0.0.1:8081
b=http://127.0.0.1:8082
ready() { curl -fsS "$1/readyz" >/dev/null 2>&1; }
for _ in $(seq 1 120); do
    ready "$a" && ready "$b" && break
    sleep 0.5
done
ready "$a" && ready "$b" || { podman-compose -p "$project" logs 2>&1 | tail -n 30; echo "FAILED: the API servers never got ready" >&2; exit 1; }

json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
curl -fsS -c "$work/jar" -H 'content-type: application/json' \
    -d '{"email": "compose@example.org", "password": "a long passphrase"}' "$a/api/auth/signup" >/dev/null
token=$(curl -fsS -b "$work/jar" -H 'content-type: application/json' -d '{"name": "compose"}' "$a/api/auth/tokens" | json '["token"]')
auth=(-H "Authorization: Bearer $token")
topic=$(python3 -c 'import json; print(json.dumps({"title": "Volcanoes", "source_text": open("examples/notes/volcanoes.md").read()}))' \
    | curl -fsS "${auth[@]}" -H 'content-type: application/json' --data-binary @- "$a/api/topics" | json '["id"]')
blueprint=$(curl -fsS "${auth[@]}" -H 'content-type: application/json' -d '{"target_terminal_objectives": 4}' \
    "$a/api/topics/$topic/blueprints/generate" | json '["id"]')
events=$(curl -fsSN --max-time 60 "${auth[@]}" "$b/api/topics/$topic/blueprints/$blueprint/events")
echo "$events" | grep -q '"status":"completed"' || { echo "$events"; echo "FAILED: api-2 saw no completed event" >&2; exit 1; }
count=$(curl -fsS "${auth[@]}" "$b/api/topics/$topic/blueprints/$blueprint/export?format=json" | json '["terminal_objectives"].__len__()')
[ "$count" = 4 ] || { echo "FAILED: $count objectives exported" >&2; exit 1; }
for service in api-1 api-2 worker; do
    container="${project}_${service}_1"
    podman healthcheck run "$container" >/dev/null || { echo "FAILED: $container is not healthy" >&2; exit 1; }
    [ "$(podman exec "$container" id -u)" = 10001 ] || { echo "FAILED: $container does not run as uid 10001" >&2; exit 1; }
done
echo "== compose test passed: started on api-1, run by the worker, followed and exported on api-2"
