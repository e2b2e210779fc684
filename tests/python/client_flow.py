"""The whole flow with the generated Python client, against a running server.

Usage: PYTHONPATH=clients/python python3 tests/python/client_flow.py http://127.0.0.1:PORT
Sign-up, an API token, create (with an Idempotency-Key, retried), generate, follow (SSE and
long polling), cancel, read, export. Any mismatch stops it with a message and exit code 1.
"""

import json
import pathlib
import sys
import uuid

from quizmaster_client import AuthenticatedClient, Client
from quizmaster_client.api.accounts import create_api_token, get_current_user, sign_up
from quizmaster_client.api.blueprints import (
    cancel_generation,
    export_blueprint,
    generate_blueprint,
    get_blueprint,
)
from quizmaster_client.api.topics import create_topic, list_topics
from quizmaster_client.models import (
    BlueprintDocument,
    CreatedToken,
    CreateTokenRequest,
    CreateTopicRequest,
    GenerateRequest,
    SignupRequest,
    StatusView,
    Topic,
    User,
)
from quizmaster_follow import follow

# The lecture the Rust tests use: rich enough for the offline generator's 30 objectives.
SOURCE = (pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "lecture.md").read_text()


def check(condition, message):
    if not condition:
        print(f"python client flow FAILED: {message}", file=sys.stderr)
        sys.exit(1)


def status_of(view):
    return getattr(view.status, "value", view.status)


def main(base_url):
    # Sign-up starts a session (a cookie the client keeps); the session creates an API token.
    browser = Client(base_url=base_url, timeout=30.0)
    email = f"py-{uuid.uuid4().hex[:8]}@example.org"
    user = sign_up.sync(client=browser, body=SignupRequest(email=email, password="a long passphrase"))
    check(isinstance(user, User) and user.email == email, f"sign-up: {user!r}")
    token = create_api_token.sync(client=browser, body=CreateTokenRequest(name="python client"))
    check(isinstance(token, CreatedToken) and token.token, f"API token: {token!r}")

    api = AuthenticatedClient(base_url=base_url, token=token.token, timeout=30.0)
    me = get_current_user.sync(client=api)
    check(isinstance(me, User) and me.email == email, f"me with the token: {me!r}")

    # Create, retried with the same Idempotency-Key: one topic, the first answer replayed.
    request = CreateTopicRequest(title="Cells", description="Biology basics", source_text=SOURCE)
    first = create_topic.sync_detailed(client=api, body=request, idempotency_key="create-cells")
    check(int(first.status_code) == 201 and isinstance(first.parsed, Topic), f"create: {first.content!r}")
    retry = create_topic.sync_detailed(client=api, body=request, idempotency_key="create-cells")
    check(int(retry.status_code) == 201, f"retried create: {retry.status_code}")
    check(retry.headers.get("idempotent-replayed") == "true", "the retry is a replay")
    check(retry.parsed.id == first.parsed.id, "the retry names the same topic")
    reused = create_topic.sync_detailed(
        client=api, body=CreateTopicRequest(title="Other"), idempotency_key="create-cells"
    )
    check(int(reused.status_code) == 422, f"another body with the key: {reused.status_code}")
    check(reused.parsed.error.code == "idempotency_key_reused", f"{reused.content!r}")
    topics = list_topics.sync(client=api)
    check(len(topics.items) == 1, f"one topic, not {len(topics.items)}")
    topic_id = str(first.parsed.id)

    # Generate and follow over SSE.
    started = generate_blueprint.sync_detailed(
        topic_id, client=api, body=GenerateRequest(target_terminal_objectives=3), idempotency_key="gen-1"
    )
    check(int(started.status_code) == 202 and isinstance(started.parsed, StatusView), f"generate: {started.content!r}")
    check(started.headers.get("location", "").endswith("/status"), "Location is the status URL")
    blueprint_id = str(started.parsed.id)
    seen, fallbacks = [], []
    done = follow(
        api, topic_id, blueprint_id, on_status=seen.append, timeout=60, on_fallback=fallbacks.append
    )
    check(not fallbacks, f"the event stream worked: {fallbacks!r}")
    check(status_of(done) == "completed", f"followed to {status_of(done)}: {done.error}")
    check(done.terminal_objectives_count == 3, f"3 terminal objectives, not {done.terminal_objectives_count}")
    check(len(seen) >= 1 and all(isinstance(v, StatusView) for v in seen), "states were seen")

    document = get_blueprint.sync(topic_id, blueprint_id, client=api)
    check(isinstance(document, BlueprintDocument), f"get blueprint: {document!r}")
    check(len(document.terminal_objectives) == 3, "the document holds the objectives")
    markdown = export_blueprint.sync(topic_id, blueprint_id, client=api, format_="markdown")
    check(isinstance(markdown, str) and document.terminal_objectives[0].text in markdown, "Markdown export")
    exported = export_blueprint.sync_detailed(topic_id, blueprint_id, client=api, format_="json")
    check(int(exported.status_code) == 200, f"JSON export: {exported.status_code}")
    check(len(json.loads(exported.content)["terminal_objectives"]) == 3, "JSON export objectives")

    # Follow by long polling alone (what the helper falls back to when a stream breaks).
    again = generate_blueprint.sync(topic_id, client=api, body=GenerateRequest(target_terminal_objectives=2))
    check(isinstance(again, StatusView), f"second generate: {again!r}")
    polled = follow(api, topic_id, str(again.id), stream=False, timeout=60)
    check(status_of(polled) == "completed", f"long-polled to {status_of(polled)}")
    check(polled.terminal_objectives_count == 2, "2 terminal objectives")

    # Cancel a long generation and follow it to `cancelled`.
    slow = generate_blueprint.sync(topic_id, client=api, body=GenerateRequest(target_terminal_objectives=30))
    check(isinstance(slow, StatusView), f"slow generate: {slow!r}")
    cancelled = cancel_generation.sync(topic_id, str(slow.id), client=api)
    check(isinstance(cancelled, StatusView), f"cancel: {cancelled!r}")
    check(status_of(cancelled) == "cancelled", f"cancel answered {status_of(cancelled)}")
    ended = follow(api, topic_id, str(slow.id), timeout=60, on_fallback=fallbacks.append)
    check(not fallbacks, f"the event stream worked: {fallbacks!r}")
    check(status_of(ended) == "cancelled", f"followed the cancelled one to {status_of(ended)}")
    print("python client flow passed: sign-up, token, create (idempotent), generate, follow (SSE, long poll), cancel, export")


if __name__ == "__main__":
    main(sys.argv[1])
