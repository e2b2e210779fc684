from http import HTTPStatus
from typing import Any, cast
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.error_body import ErrorBody
from ...models.status_view import StatusView
from ...types import UNSET, Response, Unset


def _get_kwargs(
    topic_id: str,
    blueprint_id: str,
    *,
    wait: int | Unset = UNSET,
    if_none_match: None | str | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(if_none_match, Unset):
        headers["If-None-Match"] = if_none_match

    params: dict[str, Any] = {}

    params["wait"] = wait

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/api/topics/{topic_id}/blueprints/{blueprint_id}/status".format(
            topic_id=quote(str(topic_id), safe=""),
            blueprint_id=quote(str(blueprint_id), safe=""),
        ),
        "params": params,
    }

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Any | ErrorBody | StatusView | None:
    if response.status_code == 200:
        response_200 = StatusView.from_dict(response.json())

        return response_200

    if response.status_code == 304:
        response_304 = cast(Any, None)
        return response_304

    if response.status_code == 400:
        response_400 = ErrorBody.from_dict(response.json())

        return response_400

    if response.status_code == 401:
        response_401 = ErrorBody.from_dict(response.json())

        return response_401

    if response.status_code == 404:
        response_404 = ErrorBody.from_dict(response.json())

        return response_404

    if response.status_code == 422:
        response_422 = ErrorBody.from_dict(response.json())

        return response_422

    if response.status_code == 429:
        response_429 = ErrorBody.from_dict(response.json())

        return response_429

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[Any | ErrorBody | StatusView]:
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
    wait: int | Unset = UNSET,
    if_none_match: None | str | Unset = UNSET,
) -> Response[Any | ErrorBody | StatusView]:
    """Get the status of a generation, or long-poll it

     The status view; with `wait`, a long poll that answers as soon as the state differs from `If-None-
    Match`, or after `wait` seconds.

    Args:
        topic_id (str):
        blueprint_id (str):
        wait (int | Unset):
        if_none_match (None | str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Any | ErrorBody | StatusView]
    """

    kwargs = _get_kwargs(
        topic_id=topic_id,
        blueprint_id=blueprint_id,
        wait=wait,
        if_none_match=if_none_match,
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
    wait: int | Unset = UNSET,
    if_none_match: None | str | Unset = UNSET,
) -> Any | ErrorBody | StatusView | None:
    """Get the status of a generation, or long-poll it

     The status view; with `wait`, a long poll that answers as soon as the state differs from `If-None-
    Match`, or after `wait` seconds.

    Args:
        topic_id (str):
        blueprint_id (str):
        wait (int | Unset):
        if_none_match (None | str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Any | ErrorBody | StatusView
    """

    return sync_detailed(
        topic_id=topic_id,
        blueprint_id=blueprint_id,
        client=client,
        wait=wait,
        if_none_match=if_none_match,
    ).parsed


async def asyncio_detailed(
    topic_id: str,
    blueprint_id: str,
    *,
    client: AuthenticatedClient | Client,
    wait: int | Unset = UNSET,
    if_none_match: None | str | Unset = UNSET,
) -> Response[Any | ErrorBody | StatusView]:
    """Get the status of a generation, or long-poll it

     The status view; with `wait`, a long poll that answers as soon as the state differs from `If-None-
    Match`, or after `wait` seconds.

    Args:
        topic_id (str):
        blueprint_id (str):
        wait (int | Unset):
        if_none_match (None | str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Any | ErrorBody | StatusView]
    """

    kwargs = _get_kwargs(
        topic_id=topic_id,
        blueprint_id=blueprint_id,
        wait=wait,
        if_none_match=if_none_match,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    topic_id: str,
    blueprint_id: str,
    *,
    client: AuthenticatedClient | Client,
    wait: int | Unset = UNSET,
    if_none_match: None | str | Unset = UNSET,
) -> Any | ErrorBody | StatusView | None:
    """Get the status of a generation, or long-poll it

     The status view; with `wait`, a long poll that answers as soon as the state differs from `If-None-
    Match`, or after `wait` seconds.

    Args:
        topic_id (str):
        blueprint_id (str):
        wait (int | Unset):
        if_none_match (None | str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Any | ErrorBody | StatusView
    """

    return (
        await asyncio_detailed(
            topic_id=topic_id,
            blueprint_id=blueprint_id,
            client=client,
            wait=wait,
            if_none_match=if_none_match,
        )
    ).parsed
