from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast
from uuid import UUID

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.bloom_level import BloomLevel
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.objective import Objective


T = TypeVar("T", bound="TerminalObjective")


@_attrs_define
class TerminalObjective:
    """A stored terminal objective with its enabling objectives.

    Attributes:
        bloom_level (BloomLevel): Bloom's revised taxonomy, lowest to highest.
        id (UUID):
        position (int):
        text (str):
        verb (str):
        enabling_objectives (list[Objective]):
        condition (None | str | Unset):
        criterion (None | str | Unset):
        evidence (None | str | Unset): The passage of the topic's source text the objective rests on (at most 300
            characters, quoted as written); null when the topic has no source text.
    """

    bloom_level: BloomLevel
    id: UUID
    position: int
    text: str
    verb: str
    enabling_objectives: list[Objective]
    condition: None | str | Unset = UNSET
    criterion: None | str | Unset = UNSET
    evidence: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        bloom_level = self.bloom_level.value

        id = str(self.id)

        position = self.position

        text = self.text

        verb = self.verb

        enabling_objectives = []
        for enabling_objectives_item_data in self.enabling_objectives:
            enabling_objectives_item = enabling_objectives_item_data.to_dict()
            enabling_objectives.append(enabling_objectives_item)

        condition: None | str | Unset
        if isinstance(self.condition, Unset):
            condition = UNSET
        else:
            condition = self.condition

        criterion: None | str | Unset
        if isinstance(self.criterion, Unset):
            criterion = UNSET
        else:
            criterion = self.criterion

        evidence: None | str | Unset
        if isinstance(self.evidence, Unset):
            evidence = UNSET
        else:
            evidence = self.evidence

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "bloom_level": bloom_level,
                "id": id,
                "position": position,
                "text": text,
                "verb": verb,
                "enabling_objectives": enabling_objectives,
            }
        )
        if condition is not UNSET:
            field_dict["condition"] = condition
        if criterion is not UNSET:
            field_dict["criterion"] = criterion
        if evidence is not UNSET:
            field_dict["evidence"] = evidence

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.objective import Objective

        d = dict(src_dict)
        bloom_level = BloomLevel(d.pop("bloom_level"))

        id = UUID(d.pop("id"))

        position = d.pop("position")

        text = d.pop("text")

        verb = d.pop("verb")

        enabling_objectives = []
        _enabling_objectives = d.pop("enabling_objectives")
        for enabling_objectives_item_data in _enabling_objectives:
            enabling_objectives_item = Objective.from_dict(
                enabling_objectives_item_data
            )

            enabling_objectives.append(enabling_objectives_item)

        def _parse_condition(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        condition = _parse_condition(d.pop("condition", UNSET))

        def _parse_criterion(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        criterion = _parse_criterion(d.pop("criterion", UNSET))

        def _parse_evidence(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        evidence = _parse_evidence(d.pop("evidence", UNSET))

        terminal_objective = cls(
            bloom_level=bloom_level,
            id=id,
            position=position,
            text=text,
            verb=verb,
            enabling_objectives=enabling_objectives,
            condition=condition,
            criterion=criterion,
            evidence=evidence,
        )

        terminal_objective.additional_properties = d
        return terminal_objective

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
