from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="GenerateRequest")


@_attrs_define
class GenerateRequest:
    """`POST .../blueprints/generate` (the body is optional).

    Attributes:
        target_terminal_objectives (int | None | Unset): How many terminal objectives to aim for (default 10).
    """

    target_terminal_objectives: int | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        target_terminal_objectives: int | None | Unset
        if isinstance(self.target_terminal_objectives, Unset):
            target_terminal_objectives = UNSET
        else:
            target_terminal_objectives = self.target_terminal_objectives

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({})
        if target_terminal_objectives is not UNSET:
            field_dict["target_terminal_objectives"] = target_terminal_objectives

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)

        def _parse_target_terminal_objectives(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        target_terminal_objectives = _parse_target_terminal_objectives(
            d.pop("target_terminal_objectives", UNSET)
        )

        generate_request = cls(
            target_terminal_objectives=target_terminal_objectives,
        )

        generate_request.additional_properties = d
        return generate_request

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
