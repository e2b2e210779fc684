from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.error_body import ErrorBody
from ...types import UNSET, Response, Unset


def _get_kwargs(
    topic_id: str,
    blueprint_id: str,
    *,
    last_event_id: None | str | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(last_event_id, Unset):
        headers["Last-Event-ID"] = last_event_id

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/api/topics/{topic_id}/blueprints/{blueprint_id}/events".format(
            topic_id=quote(str(topic_id), safe=""),
            blueprint_id=quote(str(blueprint_id), safe=""),
        ),
    }

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> ErrorBody | str | None:
    if response.status_code == 200:
        response_200 = response.text
        return response_200

    if response.status_code == 400:
        response_400 = ErrorBody.from_dict(response.json())

        return response_400

    if response.status_code == 401:
        response_401 = ErrorBody.from_dict(response.json())

        return response_401

    if response.status_code == 404:
        response_404 = ErrorBody.from_dict(response.json())

        return response_404

    if response.status_code == 429:
        response_429 = ErrorBody.from_dict(response.json())

        return response_429

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[ErrorBody | str]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    topic_id: str,
    blueprint_id: str,
    *,
    client: AuthenticatedClient | Client,
    last_event_id: None | str | Unset = UNSET,
) -> Response[ErrorBody | str]:
    """Follow a generation as a stream of server-sent events

     An SSE stream of `status` events, the current state first and then every change; it ends after a
    terminal one. A reconnect (with or without `Last-Event-ID`) starts again from the current state, so
    a client never misses where the job is.

    Args:
        topic_id (str):
        blueprint_id (str):
        last_event_id (None | str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | str]
    """

    kwargs = _get_kwargs(
        topic_id=topic_id,
        blueprint_id=blueprint_id,
        last_event_id=last_event_id,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    topic_id: str,
    blueprint_id: str,
    *,
    client: AuthenticatedClient | Client,
    last_event_id: None | str | Unset = UNSET,
) -> ErrorBody | str | None:
    """Follow a generation as a stream of server-sent events

     An SSE stream of `status` events, the current state first and then every change; it ends after a
    terminal one. A reconnect (with or without `Last-Event-ID`) starts again from the current state, so
    a client never misses where the job is.

    Args:
        topic_id (str):
        blueprint_id (str):
        last_event_id (None | str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | str
    """

    return sync_detailed(
        topic_id=topic_id,
        blueprint_id=blueprint_id,
        client=client,
        last_event_id=last_event_id,
    ).parsed


async def asyncio_detailed(
    topic_id: str,
    blueprint_id: str,
    *,
    client: AuthenticatedClient | Client,
    last_event_id: None | str | Unset = UNSET,
) -> Response[ErrorBody | str]:
    """Follow a generation as a stream of server-sent events

     An SSE stream of `status` events, the current state first and then every change; it ends after a
    terminal one. A reconnect (with or without `Last-Event-ID`) starts again from the current state, so
    a client never misses where the job is.

    Args:
        topic_id (str):
        blueprint_id (str):
        last_event_id (None | str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | str]
    """

    kwargs = _get_kwargs(
        topic_id=topic_id,
        blueprint_id=blueprint_id,
        last_event_id=last_event_id,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    topic_id: str,
    blueprint_id: str,
    *,
    client: AuthenticatedClient | Client,
    last_event_id: None | str | Unset = UNSET,
) -> ErrorBody | str | None:
    """Follow a generation as a stream of server-sent events

     An SSE stream of `status` events, the current state first and then every change; it ends after a
    terminal one. A reconnect (with or without `Last-Event-ID`) starts again from the current state, so
    a client never misses where the job is.

    Args:
        topic_id (str):
        blueprint_id (str):
        last_event_id (None | str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | str
    """

    return (
        await asyncio_detailed(
            topic_id=topic_id,
            blueprint_id=blueprint_id,
            client=client,
            last_event_id=last_event_id,
        )
    ).parsed
