# Sourced by the test scripts that need a running debug `quizmaster serve` on a free port.
# start_server WORKDIR [VAR=value ...]: starts it on a fresh SQLite file in WORKDIR with the
# given settings, removes WORKDIR and stops the server on exit, and sets $address to its
# http://host:port once the log names it (about 10 s at most), or exits 1 with the log.
start_server() {
    local workdir=$1
    shift
    local log="$workdir/serve.log"
    env QUIZMASTER_DATABASE_URL="sqlite://$workdir/serve.db" QUIZMASTER_BIND=127.0.0.1:0 NO_COLOR=1 \
        "$@" ./target/debug/quizmaster serve >"$log" 2>&1 &
    server=$!
    trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -rf "'"$workdir"'"' EXIT
    address=""
    for _ in $(seq 1 100); do
        address=$(grep -o 'listening on http://[0-9.:]*' "$log" | head -n1 | sed 's|listening on ||' || true)
        [ -n "$address" ] && return 0
        sleep 0.1
    done
    echo "the server did not start:" >&2
    cat "$log" >&2
    exit 1
}
