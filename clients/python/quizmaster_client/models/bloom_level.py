from enum import StrEnum


class BloomLevel(StrEnum):
    ANALYZE = "analyze"
    APPLY = "apply"
    CREATE = "create"
    EVALUATE = "evaluate"
    REMEMBER = "remember"
    UNDERSTAND = "understand"

    def __str__(self) -> str:
        return str(self.value)
