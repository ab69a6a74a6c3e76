"""The request log: every ARM request the simulator answered, for assertions and rehearsal reports."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class RequestRecord:
    seq: int
    method: str
    path: str
    operation: str
    status: int
    api_version: str | None
    sim_time: datetime
    real_time: datetime
    detail: str = ""
    """What a write asked for where it matters for safety checks, e.g. ``EnableEncryption All seq=…``."""
    connection: str = ""
    """The client's address and port: requests sharing it came over one (kept-alive) TLS connection."""

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "method": self.method,
            "path": self.path,
            "operation": self.operation,
            "status": self.status,
            "api_version": self.api_version,
            "sim_time": self.sim_time.isoformat(),
            "real_time": self.real_time.isoformat(),
            "detail": self.detail,
            "connection": self.connection,
        }


class RequestLog:
    """Append-only, thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: list[RequestRecord] = []

    def add(
        self,
        *,
        method: str,
        path: str,
        operation: str,
        status: int,
        api_version: str | None,
        sim_time: datetime,
        real_time: datetime,
        detail: str = "",
        connection: str = "",
    ) -> RequestRecord:
        with self._lock:
            record = RequestRecord(
                len(self._records) + 1,
                method,
                path,
                operation,
                status,
                api_version,
                sim_time,
                real_time,
                detail,
                connection,
            )
            self._records.append(record)
            return record

    def records(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._records)

    def summary(self) -> dict[str, Any]:
        records = self.records()
        return {
            "total": len(records),
            "by_operation": dict(Counter(r.operation for r in records)),
            "records": [r.to_json() for r in records],
        }
