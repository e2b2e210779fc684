from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.error_body import ErrorBody
from ...models.status_view import StatusView
from ...types import Response


def _get_kwargs(
    topic_id: str,
    blueprint_id: str,
) -> dict[str, Any]:

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/api/topics/{topic_id}/blueprints/{blueprint_id}/cancel".format(
            topic_id=quote(str(topic_id), safe=""),
            blueprint_id=quote(str(blueprint_id), safe=""),
        ),
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> ErrorBody | StatusView | None:
    if response.status_code == 200:
        response_200 = StatusView.from_dict(response.json())

        return response_200

    if response.status_code == 400:
        response_400 = ErrorBody.from_dict(response.json())

        return response_400

    if response.status_code == 401:
        response_401 = ErrorBody.from_dict(response.json())

        return response_401

    if response.status_code == 403:
        response_403 = ErrorBody.from_dict(response.json())

        return response_403

    if response.status_code == 404:
        response_404 = ErrorBody.from_dict(response.json())

        return response_404

    if response.status_code == 409:
        response_409 = ErrorBody.from_dict(response.json())

        return response_409

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[ErrorBody | StatusView]:
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
) -> Response[ErrorBody | StatusView]:
    """Cancel a queued or running generation

     Ends a queued or running generation in `cancelled`; the worker running it stops.

    Args:
        topic_id (str):
        blueprint_id (str):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | StatusView]
    """

    kwargs = _get_kwargs(
        topic_id=topic_id,
        blueprint_id=blueprint_id,
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
) -> ErrorBody | StatusView | None:
    """Cancel a queued or running generation

     Ends a queued or running generation in `cancelled`; the worker running it stops.

    Args:
        topic_id (str):
        blueprint_id (str):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | StatusView
    """

    return sync_detailed(
        topic_id=topic_id,
        blueprint_id=blueprint_id,
        client=client,
    ).parsed


async def asyncio_detailed(
    topic_id: str,
    blueprint_id: str,
    *,
    client: AuthenticatedClient | Client,
) -> Response[ErrorBody | StatusView]:
    """Cancel a queued or running generation

     Ends a queued or running generation in `cancelled`; the worker running it stops.

    Args:
        topic_id (str):
        blueprint_id (str):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | StatusView]
    """

    kwargs = _get_kwargs(
        topic_id=topic_id,
        blueprint_id=blueprint_id,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    topic_id: str,
    blueprint_id: str,
    *,
    client: AuthenticatedClient | Client,
) -> ErrorBody | StatusView | None:
    """Cancel a queued or running generation

     Ends a queued or running generation in `cancelled`; the worker running it stops.

    Args:
        topic_id (str):
        blueprint_id (str):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | StatusView
    """

    return (
        await asyncio_detailed(
            topic_id=topic_id,
            blueprint_id=blueprint_id,
            client=client,
        )
    ).parsed
