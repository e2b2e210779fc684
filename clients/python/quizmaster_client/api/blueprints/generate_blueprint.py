from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.error_body import ErrorBody
from ...models.generate_request import GenerateRequest
from ...models.status_view import StatusView
from ...types import UNSET, Response, Unset


def _get_kwargs(
    topic_id: str,
    *,
    body: GenerateRequest | None | Unset = UNSET,
    idempotency_key: None | str | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(idempotency_key, Unset):
        headers["Idempotency-Key"] = idempotency_key

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/api/topics/{topic_id}/blueprints/generate".format(
            topic_id=quote(str(topic_id), safe=""),
        ),
    }

    if isinstance(body, GenerateRequest):
        _kwargs["json"] = body.to_dict()
    else:
        _kwargs["json"] = body

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> ErrorBody | StatusView | None:
    if response.status_code == 202:
        response_202 = StatusView.from_dict(response.json())

        return response_202

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

    if response.status_code == 413:
        response_413 = ErrorBody.from_dict(response.json())

        return response_413

    if response.status_code == 415:
        response_415 = ErrorBody.from_dict(response.json())

        return response_415

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
) -> Response[ErrorBody | StatusView]:
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
    body: GenerateRequest | None | Unset = UNSET,
    idempotency_key: None | str | Unset = UNSET,
) -> Response[ErrorBody | StatusView]:
    """Start generating a blueprint of a topic

     Stores the blueprint and its job in one transaction and answers 202 at once; a worker picks the job
    up. Follow it at the Location.

    Args:
        topic_id (str):
        idempotency_key (None | str | Unset):
        body (GenerateRequest | None | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | StatusView]
    """

    kwargs = _get_kwargs(
        topic_id=topic_id,
        body=body,
        idempotency_key=idempotency_key,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    topic_id: str,
    *,
    client: AuthenticatedClient | Client,
    body: GenerateRequest | None | Unset = UNSET,
    idempotency_key: None | str | Unset = UNSET,
) -> ErrorBody | StatusView | None:
    """Start generating a blueprint of a topic

     Stores the blueprint and its job in one transaction and answers 202 at once; a worker picks the job
    up. Follow it at the Location.

    Args:
        topic_id (str):
        idempotency_key (None | str | Unset):
        body (GenerateRequest | None | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | StatusView
    """

    return sync_detailed(
        topic_id=topic_id,
        client=client,
        body=body,
        idempotency_key=idempotency_key,
    ).parsed


async def asyncio_detailed(
    topic_id: str,
    *,
    client: AuthenticatedClient | Client,
    body: GenerateRequest | None | Unset = UNSET,
    idempotency_key: None | str | Unset = UNSET,
) -> Response[ErrorBody | StatusView]:
    """Start generating a blueprint of a topic

     Stores the blueprint and its job in one transaction and answers 202 at once; a worker picks the job
    up. Follow it at the Location.

    Args:
        topic_id (str):
        idempotency_key (None | str | Unset):
        body (GenerateRequest | None | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | StatusView]
    """

    kwargs = _get_kwargs(
        topic_id=topic_id,
        body=body,
        idempotency_key=idempotency_key,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    topic_id: str,
    *,
    client: AuthenticatedClient | Client,
    body: GenerateRequest | None | Unset = UNSET,
    idempotency_key: None | str | Unset = UNSET,
) -> ErrorBody | StatusView | None:
    """Start generating a blueprint of a topic

     Stores the blueprint and its job in one transaction and answers 202 at once; a worker picks the job
    up. Follow it at the Location.

    Args:
        topic_id (str):
        idempotency_key (None | str | Unset):
        body (GenerateRequest | None | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | StatusView
    """

    return (
        await asyncio_detailed(
            topic_id=topic_id,
            client=client,
            body=body,
            idempotency_key=idempotency_key,
        )
    ).parsed
