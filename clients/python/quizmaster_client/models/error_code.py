from enum import StrEnum


class ErrorCode(StrEnum):
    CANCELLED = "cancelled"
    GENERATOR_FAILED = "generator_failed"
    TIMEOUT = "timeout"
    WORKER_LOST = "worker_lost"

    def __str__(self) -> str:
        return str(self.value)
