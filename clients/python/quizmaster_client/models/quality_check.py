from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="QualityCheck")


@_attrs_define
class QualityCheck:
    """One check: its score, whether it reached its threshold, and what it found.

    Attributes:
        detail (str): What was found, in words; names the offending objectives when it failed.
        name (str): A stable snake_case name, e.g. `measurable_verb`.
        passed (bool):
        score (int): 0–100.
    """

    detail: str
    name: str
    passed: bool
    score: int
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        detail = self.detail

        name = self.name

        passed = self.passed

        score = self.score

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "detail": detail,
                "name": name,
                "passed": passed,
                "score": score,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        detail = d.pop("detail")

        name = d.pop("name")

        passed = d.pop("passed")

        score = d.pop("score")

        quality_check = cls(
            detail=detail,
            name=name,
            passed=passed,
            score=score,
        )

        quality_check.additional_properties = d
        return quality_check

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
