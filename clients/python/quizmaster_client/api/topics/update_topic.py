from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.error_body import ErrorBody
from ...models.topic import Topic
from ...models.update_topic_request import UpdateTopicRequest
from ...types import Response


def _get_kwargs(
    topic_id: str,
    *,
    body: UpdateTopicRequest,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    _kwargs: dict[str, Any] = {
        "method": "patch",
        "url": "/api/topics/{topic_id}".format(
            topic_id=quote(str(topic_id), safe=""),
        ),
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> ErrorBody | Topic | None:
    if response.status_code == 200:
        response_200 = Topic.from_dict(response.json())

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

    if response.status_code == 413:
        response_413 = ErrorBody.from_dict(response.json())

        return response_413

    if response.status_code == 415:
        response_415 = ErrorBody.from_dict(response.json())

        return response_415

    if response.status_code == 422:
        response_422 = ErrorBody.from_dict(response.json())

        return response_422

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[ErrorBody | Topic]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    topic_id: str,
    *,
    client: AuthenticatedClient | Client,
    body: UpdateTopicRequest,
) -> Response[ErrorBody | Topic]:
    """Change a topic's title, description or source text

    Args:
        topic_id (str):
        body (UpdateTopicRequest): `PATCH /api/topics/{topic_id}`: the fields to change; `null`
            clears an optional one.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | Topic]
    """

    kwargs = _get_kwargs(
        topic_id=topic_id,
        body=body,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    topic_id: str,
    *,
    client: AuthenticatedClient | Client,
    body: UpdateTopicRequest,
) -> ErrorBody | Topic | None:
    """Change a topic's title, description or source text

    Args:
        topic_id (str):
        body (UpdateTopicRequest): `PATCH /api/topics/{topic_id}`: the fields to change; `null`
            clears an optional one.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | Topic
    """

    return sync_detailed(
        topic_id=topic_id,
        client=client,
        body=body,
    ).parsed


async def asyncio_detailed(
    topic_id: str,
    *,
    client: AuthenticatedClient | Client,
    body: UpdateTopicRequest,
) -> Response[ErrorBody | Topic]:
    """Change a topic's title, description or source text

    Args:
        topic_id (str):
        body (UpdateTopicRequest): `PATCH /api/topics/{topic_id}`: the fields to change; `null`
            clears an optional one.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | Topic]
    """

    kwargs = _get_kwargs(
        topic_id=topic_id,
        body=body,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    topic_id: str,
    *,
    client: AuthenticatedClient | Client,
    body: UpdateTopicRequest,
) -> ErrorBody | Topic | None:
    """Change a topic's title, description or source text

    Args:
        topic_id (str):
        body (UpdateTopicRequest): `PATCH /api/topics/{topic_id}`: the fields to change; `null`
            clears an optional one.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | Topic
    """

    return (
        await asyncio_detailed(
            topic_id=topic_id,
            client=client,
            body=body,
        )
    ).parsed
