"""Compute's async operations (the ``Azure-AsyncOperation`` targets) and the outcome of a write.

An operation's outcome is fixed when it starts; whether it has finished is a function of ``now``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass
class AsyncOperation:
    """A Compute async operation; ``error`` (code, message) is what it ends with, if it fails."""

    id: str
    subscription_id: str
    location: str
    started_at: datetime
    done_at: datetime
    error: tuple[str, str] | None = None
    output: dict[str, Any] | None = None
    """What a finished operation returns (``properties.output``), e.g. a disk grant's ``accessSAS``."""

    def finished(self, now: datetime) -> bool:
        return now >= self.done_at

    def status(self, now: datetime) -> str:
        if not self.finished(now):
            return "InProgress"
        return "Failed" if self.error else "Succeeded"

    def remaining_seconds(self, now: datetime) -> float:
        return max(0.0, (self.done_at - now).total_seconds())


@dataclass(frozen=True)
class WriteResult:
    """The outcome of a write: HTTP status and the LRO to advertise (if any)."""

    status: int
    operation: AsyncOperation | None = None
