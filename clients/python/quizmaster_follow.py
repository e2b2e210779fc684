"""Follow a QuizMaster generation until it ends.

Hand-written, beside the generated ``quizmaster_client`` package (regenerating it never touches
this file). It reads the job's server-sent events (``GET .../events``: the current state
first, then every change, ending after a terminal one) and falls back to long polling
(``GET .../status?wait=30`` with ``If-None-Match``) when the stream cannot be opened or
breaks, so a proxy that buffers or cuts streams only makes following slower, never wrong.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator

import httpx

from quizmaster_client import AuthenticatedClient, Client
from quizmaster_client.api.blueprints import get_generation_status
from quizmaster_client.models import StatusView

#: The statuses a generation ends in.
TERMINAL = frozenset({"completed", "error", "cancelled"})

#: The longest long poll the server allows, in seconds.
LONG_POLL_SECONDS = 30


class StreamUnavailable(Exception):
    """The event stream could not be opened or broke off before a terminal status."""


def follow(
    client: AuthenticatedClient | Client,
    topic_id: str,
    blueprint_id: str,
    on_status: Callable[[StatusView], None] | None = None,
    timeout: float = 600.0,
    stream: bool = True,
    on_fallback: Callable[[Exception], None] | None = None,
) -> StatusView:
    """Waits until the generation ends and returns its last status view.

    ``on_status`` is called with every state seen (the first one included). ``stream=False``
    skips the event stream and long-polls from the start; ``on_fallback`` hears why the stream
    was given up for long polling (to log it, say). Raises ``TimeoutError`` when the
    generation has not ended after ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    seen = on_status or (lambda _view: None)
    if stream:
        try:
            for view in _events(client, topic_id, blueprint_id, deadline):
                seen(view)
                if _status(view) in TERMINAL:
                    return view
        except (StreamUnavailable, httpx.HTTPError, ValueError, KeyError) as broken:
            # Long polling below picks up from the current state.
            if on_fallback is not None:
                on_fallback(broken)
    return _long_poll(client, topic_id, blueprint_id, seen, deadline)


def _status(view: StatusView) -> str:
    status = view.status
    return getattr(status, "value", status)


def _events(
    client: AuthenticatedClient | Client, topic_id: str, blueprint_id: str, deadline: float
) -> Iterator[StatusView]:
    url = f"/api/topics/{topic_id}/blueprints/{blueprint_id}/events"
    # The server sends a keep-alive comment well within a minute; a longer silence is a break.
    timeout = httpx.Timeout(30.0, read=60.0)
    http = client.get_httpx_client()
    with http.stream("GET", url, headers={"Accept": "text/event-stream"}, timeout=timeout) as response:
        if response.status_code != 200:
            raise StreamUnavailable(f"the event stream answered {response.status_code}")
        event, data = "message", []
        for line in response.iter_lines():
            if time.monotonic() > deadline:
                raise TimeoutError("the generation did not end in time")
            if line == "":
                if event == "status" and data:
                    yield StatusView.from_dict(json.loads("\n".join(data)))
                event, data = "message", []
            elif line.startswith(":"):
                continue  # a keep-alive comment
            else:
                field, _, value = line.partition(":")
                value = value[1:] if value.startswith(" ") else value
                if field == "event":
                    event = value
                elif field == "data":
                    data.append(value)
    raise StreamUnavailable("the event stream ended before a terminal status")


def _long_poll(
    client: AuthenticatedClient | Client,
    topic_id: str,
    blueprint_id: str,
    seen: Callable[[StatusView], None],
    deadline: float,
) -> StatusView:
    etag: str | None = None
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("the generation did not end in time")
        wait = max(0, min(LONG_POLL_SECONDS, int(remaining)))
        kwargs = {"client": client, "wait": wait}
        if etag is not None:
            kwargs["if_none_match"] = etag
        response = get_generation_status.sync_detailed(topic_id, blueprint_id, **kwargs)
        code = int(response.status_code)
        if code == 200 and isinstance(response.parsed, StatusView):
            etag = response.headers.get("etag", etag)
            seen(response.parsed)
            if _status(response.parsed) in TERMINAL:
                return response.parsed
        elif code == 304:
            continue  # unchanged after `wait` seconds: ask again
        elif code in (429, 503):
            time.sleep(min(float(response.headers.get("retry-after", "1")), max(remaining, 0)))
        else:
            raise RuntimeError(f"following the generation failed: {code} {response.content!r}")
