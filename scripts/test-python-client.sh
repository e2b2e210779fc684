#!/usr/bin/env bash
# The Python client in clients/python:
#  (a) regenerated from the live OpenAPI document (a running server's /api/openapi.json) into a
#      temporary directory, it must be identical to the committed quizmaster_client package —
#      any drift fails (run with UPDATE=1 to rewrite the package from the document instead);
#  (b) the whole flow runs with it against that real `quizmaster serve` (debug binary, a
#      temporary SQLite database, a free port): sign-up, API token, create (idempotent),
#      generate, follow (SSE and long polling), cancel, export.
# Needs: pip install openapi-python-client==0.29.1 (it brings httpx, attrs, python-dateutil
# and ruff, which the client and its formatting need) and a built target/debug/quizmaster.
set -euo pipefail
. "$(dirname "$0")/lib/serve.sh"
cd "$(dirname "$0")/.."

generator_version=0.29.1
if ! command -v openapi-python-client >/dev/null 2>&1; then
    if [ "${CI:-}" = "true" ]; then
        echo "openapi-python-client is missing and CI=true: pip install openapi-python-client==$generator_version" >&2
        exit 1
    fi
    echo "SKIPPED: openapi-python-client is not installed (pip install openapi-python-client==$generator_version)"
    exit 0
fi
installed=$(openapi-python-client --version | grep -o '[0-9][0-9.]*' | head -n1)
if [ "$installed" != "$generator_version" ]; then
    echo "openapi-python-client $installed is installed; the committed client is made by $generator_version" >&2
    exit 1
fi

workdir=$(mktemp -d)
# Accounts on (the flow signs up and uses an API token); the offline generator paced so that a
# 30-objective generation is still running when the flow cancels it.
start_server "$workdir" QUIZMASTER_OFFLINE_PACE_MS=100

echo "-- regenerating the client from $address/api/openapi.json"
python3 -c 'import sys, urllib.request; sys.stdout.buffer.write(urllib.request.urlopen(sys.argv[1], timeout=10).read())' \
    "$address/api/openapi.json" >"$workdir/openapi.json"
config="$PWD/clients/python/openapi-python-client.yaml"
(cd "$workdir" && openapi-python-client generate --path openapi.json --config "$config" \
    --meta none --output-path generated >"$workdir/generate.log" 2>&1) || {
    cat "$workdir/generate.log" >&2
    exit 1
}
if grep -qi "warning" "$workdir/generate.log"; then
    echo "openapi-python-client warned about the document:" >&2
    cat "$workdir/generate.log" >&2
    exit 1
fi
rm -rf "$workdir/generated/.ruff_cache"
if [ "${UPDATE:-}" = "1" ]; then
    rm -rf clients/python/quizmaster_client
    cp -r "$workdir/generated" clients/python/quizmaster_client
    echo "clients/python/quizmaster_client rewritten from the document"
fi
if ! diff -r --exclude=__pycache__ "$workdir/generated" clients/python/quizmaster_client; then
    echo "clients/python/quizmaster_client differs from what the live document generates:" >&2
    echo "run UPDATE=1 ./scripts/test-python-client.sh and commit the result" >&2
    exit 1
fi

echo "-- the whole flow with the client"
PYTHONPATH=clients/python PYTHONDONTWRITEBYTECODE=1 timeout 120 \
    python3 tests/python/client_flow.py "$address"
