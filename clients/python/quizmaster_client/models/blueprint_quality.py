from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.quality_check import QualityCheck


T = TypeVar("T", bound="BlueprintQuality")


@_attrs_define
class BlueprintQuality:
    """A blueprint's quality: an overall score and every check behind it.

    Attributes:
        checks (list[QualityCheck]):
        failed (list[str]): The names of the checks that did not pass, in check order.
        notes (list[str]): What a teacher should read about this blueprint (e.g. that the objectives are in
            English for a German source, or that a thin source gave fewer objectives).
        passed (bool): Every check passed its threshold.
        score (int): 0–100: the weighted mean of the checks' scores.
        language (None | str | Unset): The ISO 639-1 code of the topic's source text as detected (e.g. `de`); null when
            there
            is no source text or it could not be told. Absent from quality stored before it existed.
    """

    checks: list[QualityCheck]
    failed: list[str]
    notes: list[str]
    passed: bool
    score: int
    language: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        checks = []
        for checks_item_data in self.checks:
            checks_item = checks_item_data.to_dict()
            checks.append(checks_item)

        failed = self.failed

        notes = self.notes

        passed = self.passed

        score = self.score

        language: None | str | Unset
        if isinstance(self.language, Unset):
            language = UNSET
        else:
            language = self.language

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "checks": checks,
                "failed": failed,
                "notes": notes,
                "passed": passed,
                "score": score,
            }
        )
        if language is not UNSET:
            field_dict["language"] = language

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.quality_check import QualityCheck

        d = dict(src_dict)
        checks = []
        _checks = d.pop("checks")
        for checks_item_data in _checks:
            checks_item = QualityCheck.from_dict(checks_item_data)

            checks.append(checks_item)

        failed = cast(list[str], d.pop("failed"))

        notes = cast(list[str], d.pop("notes"))

        passed = d.pop("passed")

        score = d.pop("score")

        def _parse_language(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        language = _parse_language(d.pop("language", UNSET))

        blueprint_quality = cls(
            checks=checks,
            failed=failed,
            notes=notes,
            passed=passed,
            score=score,
            language=language,
        )

        blueprint_quality.additional_properties = d
        return blueprint_quality

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
