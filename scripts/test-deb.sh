#!/usr/bin/env bash
# Builds the Debian package from the debug binary, installs it with dpkg -i on this machine,
# starts /usr/bin/quizmaster serve the way quizmaster.service does (its Environment= lines,
# then /etc/default/quizmaster, an unprivileged user, the state directory as working
# directory), runs the flow with curl (sign up, token, topic, generate, follow the SSE
# stream, export) and purges the package. Needs root (dpkg -i): CI runs on a throwaway machine.
# Usage: ./scripts/test-deb.sh [--release]   (default: target/debug/quizmaster, built if missing)
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
    if [ -n "${CI:-}" ]; then echo "FAILED: the package test needs root" >&2; exit 1; fi
    echo "SKIPPED: the package test needs root (dpkg -i)"; exit 0
fi
if dpkg-query -W -f='${Status}' quizmaster 2>/dev/null | grep -q installed; then
    echo "FAILED: a quizmaster package is already installed here; not touching it" >&2
    exit 1
fi

build=--debug
[ "${1:-}" = --release ] && build=
if [ -z "$build" ]; then cargo build --release; else cargo build; fi
deb=$(packaging/build-deb.sh $build --fast --out target/debian)
echo "== built $deb ($(du -h "$deb" | cut -f1))"
dpkg-deb --info "$deb" | sed -n 's/^ //p' | grep -E '^(Package|Version|Depends):'

state=$(mktemp -d)
server_pid=
cleanup() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
    dpkg --purge quizmaster >/dev/null 2>&1 || true
    rm -rf "$state"
}
trap cleanup EXIT

dpkg -i "$deb"
for file in /usr/bin/quizmaster /lib/systemd/system/quizmaster.service \
    /lib/systemd/system/quizmaster-worker.service /etc/default/quizmaster \
    /usr/share/man/man1/quizmaster.1.gz /usr/share/bash-completion/completions/quizmaster; do
    [ -e "$file" ] || { echo "FAILED: $file is not installed" >&2; exit 1; }
done
if command -v systemd-analyze >/dev/null; then
    # Catches unknown or misspelt directives in the units as installed.
    # (Without man-db the Documentation= check complains; that is not the units' fault.)
    verify=$(systemd-analyze verify /lib/systemd/system/quizmaster.service \
        /lib/systemd/system/quizmaster-worker.service 2>&1 | grep -v "man quizmaster" || true)
    [ -z "$verify" ] || { echo "$verify"; echo "FAILED: systemd-analyze verify" >&2; exit 1; }
fi
/usr/bin/quizmaster --version

# The unit's environment: its Environment= lines, then the env file (which may override them),
# the state directory as working directory, a user that is neither root nor anything else
# (DynamicUser). QUIZMASTER_BIND goes on a free port instead of 8080.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
unit=/lib/systemd/system/quizmaster.service
mapfile -t unit_env < <(sed -n 's/^Environment=//p' "$unit")
mapfile -t file_env < <(grep -E '^[A-Z_]+=' /etc/default/quizmaster || true)
exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
chown nobody:nogroup "$state"
db_url="sqlite://$state/quizmaster.db"
(
    cd "$state"
    exec env -i PATH=/usr/bin:/bin "${unit_env[@]}" "${file_env[@]}" \
        QUIZMASTER_DATABASE_URL="$db_url" QUIZMASTER_BIND="127.0.0.1:$port" \
        QUIZMASTER_OFFLINE_PACE_MS=50 \
        setpriv --reuid=nobody --regid=nogroup --clear-groups --no-new-privs $exec_start
) > "$state/server.log" 2>&1 &
server_pid=$!
base="http://127.0.0.1:$port"
for _ in $(seq 1 100); do
    curl -fsS "$base/readyz" >/dev/null 2>&1 && break
    kill -0 "$server_pid" 2>/dev/null || { cat "$state/server.log"; echo "FAILED: the server exited" >&2; exit 1; }
    sleep 0.1
done
curl -fsS "$base/readyz" >/dev/null || { cat "$state/server.log"; echo "FAILED: not ready" >&2; exit 1; }
[ "$(stat -c %U "$state/quizmaster.db")" = nobody ] || { echo "FAILED: the database is not the service user's" >&2; exit 1; }

json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
curl -fsS -c "$state/jar" -H 'content-type: application/json' \
    -d '{"email": "deb@example.org", "password": "a long passphrase"}' "$base/api/auth/signup" >/dev/null
token=$(curl -fsS -b "$state/jar" -H 'content-type: application/json' -d '{"name": "deb test"}' \
    "$base/api/auth/tokens" | json '["token"]')
auth=(-H "Authorization: Bearer $token")
topic=$(python3 -c 'import json; print(json.dumps({"title": "Volcanoes", "source_text": open("examples/notes/volcanoes.md").read()}))' \
    | curl -fsS "${auth[@]}" -H 'content-type: application/json' --data-binary @- "$base/api/topics" | json '["id"]')
blueprint=$(curl -fsS "${auth[@]}" -H 'content-type: application/json' -d '{"target_terminal_objectives": 3}' \
    "$base/api/topics/$topic/blueprints/generate" | json '["id"]')
# The SSE stream ends after the terminal event.
events=$(curl -fsSN --max-time 60 "${auth[@]}" "$base/api/topics/$topic/blueprints/$blueprint/events")
echo "$events" | grep -q '"status":"completed"' || { echo "$events"; echo "FAILED: no completed event" >&2; exit 1; }
export=$(curl -fsS "${auth[@]}" "$base/api/topics/$topic/blueprints/$blueprint/export?format=json")
count=$(echo "$export" | json '["terminal_objectives"].__len__()')
[ "$count" = 3 ] || { echo "FAILED: $count terminal objectives exported" >&2; exit 1; }
echo "== the installed package served the whole flow (3 objectives exported)"

kill "$server_pid"; wait "$server_pid" || true; server_pid=
dpkg --purge quizmaster >/dev/null
[ ! -e /usr/bin/quizmaster ] && [ ! -e /etc/default/quizmaster ] \
    || { echo "FAILED: files left after purge" >&2; exit 1; }
echo "== package test passed"
