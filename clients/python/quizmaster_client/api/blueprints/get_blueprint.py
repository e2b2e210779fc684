from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.blueprint_document import BlueprintDocument
from ...models.error_body import ErrorBody
from ...types import Response


def _get_kwargs(
    topic_id: str,
    blueprint_id: str,
) -> dict[str, Any]:

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/api/topics/{topic_id}/blueprints/{blueprint_id}".format(
            topic_id=quote(str(topic_id), safe=""),
            blueprint_id=quote(str(blueprint_id), safe=""),
        ),
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> BlueprintDocument | ErrorBody | None:
    if response.status_code == 200:
        response_200 = BlueprintDocument.from_dict(response.json())

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

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[BlueprintDocument | ErrorBody]:
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
) -> Response[BlueprintDocument | ErrorBody]:
    """Get a whole blueprint with its objectives

    Args:
        topic_id (str):
        blueprint_id (str):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[BlueprintDocument | ErrorBody]
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
) -> BlueprintDocument | ErrorBody | None:
    """Get a whole blueprint with its objectives

    Args:
        topic_id (str):
        blueprint_id (str):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        BlueprintDocument | ErrorBody
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
) -> Response[BlueprintDocument | ErrorBody]:
    """Get a whole blueprint with its objectives

    Args:
        topic_id (str):
        blueprint_id (str):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[BlueprintDocument | ErrorBody]
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
) -> BlueprintDocument | ErrorBody | None:
    """Get a whole blueprint with its objectives

    Args:
        topic_id (str):
        blueprint_id (str):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        BlueprintDocument | ErrorBody
    """

    return (
        await asyncio_detailed(
            topic_id=topic_id,
            blueprint_id=blueprint_id,
            client=client,
        )
    ).parsed
