from enum import StrEnum


class BlueprintStatus(StrEnum):
    CANCELLED = "cancelled"
    COMPLETED = "completed"
    ERROR = "error"
    GENERATING = "generating"
    QUEUED = "queued"

    def __str__(self) -> str:
        return str(self.value)
