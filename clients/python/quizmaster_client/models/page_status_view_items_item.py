from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast
from uuid import UUID

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.blueprint_status import BlueprintStatus
from ..models.error_code import ErrorCode
from ..types import UNSET, Unset

T = TypeVar("T", bound="PageStatusViewItemsItem")


@_attrs_define
class PageStatusViewItemsItem:
    """The status view of the contract.

    Attributes:
        attempt (int):
        created_at (datetime.datetime):
        enabling_objectives_count (int):
        id (UUID):
        progress (int): Percent done, 0–100, computed by the server.
        status (BlueprintStatus): `queued` → `generating` → one of `completed`, `error`, `cancelled`.
        target_terminal_objectives (int):
        terminal_objectives_count (int):
        topic_id (UUID):
        description (None | str | Unset):
        error (None | str | Unset):
        error_code (ErrorCode | None | Unset):
        finished_at (datetime.datetime | None | Unset):
        generation_started_at (datetime.datetime | None | Unset):
        title (None | str | Unset):
    """

    attempt: int
    created_at: datetime.datetime
    enabling_objectives_count: int
    id: UUID
    progress: int
    status: BlueprintStatus
    target_terminal_objectives: int
    terminal_objectives_count: int
    topic_id: UUID
    description: None | str | Unset = UNSET
    error: None | str | Unset = UNSET
    error_code: ErrorCode | None | Unset = UNSET
    finished_at: datetime.datetime | None | Unset = UNSET
    generation_started_at: datetime.datetime | None | Unset = UNSET
    title: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        attempt = self.attempt

        created_at = self.created_at.isoformat()

        enabling_objectives_count = self.enabling_objectives_count

        id = str(self.id)

        progress = self.progress

        status = self.status.value

        target_terminal_objectives = self.target_terminal_objectives

        terminal_objectives_count = self.terminal_objectives_count

        topic_id = str(self.topic_id)

        description: None | str | Unset
        if isinstance(self.description, Unset):
            description = UNSET
        else:
            description = self.description

        error: None | str | Unset
        if isinstance(self.error, Unset):
            error = UNSET
        else:
            error = self.error

        error_code: None | str | Unset
        if isinstance(self.error_code, Unset):
            error_code = UNSET
        elif isinstance(self.error_code, ErrorCode):
            error_code = self.error_code.value
        else:
            error_code = self.error_code

        finished_at: None | str | Unset
        if isinstance(self.finished_at, Unset):
            finished_at = UNSET
        elif isinstance(self.finished_at, datetime.datetime):
            finished_at = self.finished_at.isoformat()
        else:
            finished_at = self.finished_at

        generation_started_at: None | str | Unset
        if isinstance(self.generation_started_at, Unset):
            generation_started_at = UNSET
        elif isinstance(self.generation_started_at, datetime.datetime):
            generation_started_at = self.generation_started_at.isoformat()
        else:
            generation_started_at = self.generation_started_at

        title: None | str | Unset
        if isinstance(self.title, Unset):
            title = UNSET
        else:
            title = self.title

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "attempt": attempt,
                "created_at": created_at,
                "enabling_objectives_count": enabling_objectives_count,
                "id": id,
                "progress": progress,
                "status": status,
                "target_terminal_objectives": target_terminal_objectives,
                "terminal_objectives_count": terminal_objectives_count,
                "topic_id": topic_id,
            }
        )
        if description is not UNSET:
            field_dict["description"] = description
        if error is not UNSET:
            field_dict["error"] = error
        if error_code is not UNSET:
            field_dict["error_code"] = error_code
        if finished_at is not UNSET:
            field_dict["finished_at"] = finished_at
        if generation_started_at is not UNSET:
            field_dict["generation_started_at"] = generation_started_at
        if title is not UNSET:
            field_dict["title"] = title

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        attempt = d.pop("attempt")

        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))

        enabling_objectives_count = d.pop("enabling_objectives_count")

        id = UUID(d.pop("id"))

        progress = d.pop("progress")

        status = BlueprintStatus(d.pop("status"))

        target_terminal_objectives = d.pop("target_terminal_objectives")

        terminal_objectives_count = d.pop("terminal_objectives_count")

        topic_id = UUID(d.pop("topic_id"))

        def _parse_description(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        description = _parse_description(d.pop("description", UNSET))

        def _parse_error(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        error = _parse_error(d.pop("error", UNSET))

        def _parse_error_code(data: object) -> ErrorCode | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                error_code_type_1 = ErrorCode(data)

                return error_code_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(ErrorCode | None | Unset, data)

        error_code = _parse_error_code(d.pop("error_code", UNSET))

        def _parse_finished_at(data: object) -> datetime.datetime | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                finished_at_type_0 = datetime.datetime.fromisoformat(data)

                return finished_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None | Unset, data)

        finished_at = _parse_finished_at(d.pop("finished_at", UNSET))

        def _parse_generation_started_at(
            data: object,
        ) -> datetime.datetime | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                generation_started_at_type_0 = datetime.datetime.fromisoformat(data)

                return generation_started_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None | Unset, data)

        generation_started_at = _parse_generation_started_at(
            d.pop("generation_started_at", UNSET)
        )

        def _parse_title(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        title = _parse_title(d.pop("title", UNSET))

        page_status_view_items_item = cls(
            attempt=attempt,
            created_at=created_at,
            enabling_objectives_count=enabling_objectives_count,
            id=id,
            progress=progress,
            status=status,
            target_terminal_objectives=target_terminal_objectives,
            terminal_objectives_count=terminal_objectives_count,
            topic_id=topic_id,
            description=description,
            error=error,
            error_code=error_code,
            finished_at=finished_at,
            generation_started_at=generation_started_at,
            title=title,
        )

        page_status_view_items_item.additional_properties = d
        return page_status_view_items_item

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())

    def __getitem__(self, key: str) -> Any:
        return self.additional_properties[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.additional_properties[key] = value

    def __delitem__(self, key: str) -> None:
        del self.additional_properties[key]

    def __contains__(self, key: str) -> bool:
        return key in self.additional_properties
