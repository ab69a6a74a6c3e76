"""Simulated time.

ADE runs for hours; tests and demos cannot wait that long. The clock runs ``scale`` simulated seconds per
real second and can also be pushed forward by hand, so every timeline in the simulator is a pure function
of ``clock.now()``.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta


class SimClock:
    """A thread-safe clock: ``start + real elapsed × scale + manual offset`` (UTC)."""

    def __init__(self, scale: float = 1.0, start: datetime | None = None, status_read_tick: float = 0.0) -> None:
        if scale <= 0:
            raise ValueError("scale must be positive")
        base = start if start is not None else datetime.now(UTC).replace(microsecond=0)
        if base.tzinfo is None:
            base = base.replace(tzinfo=UTC)
        self._lock = threading.Lock()
        self._anchor_sim = base.astimezone(UTC)
        self._anchor_real = time.monotonic()
        self._scale = float(scale)
        self.status_read_tick = status_read_tick
        """Simulated seconds added by each encryption-status read. Under Temporal's time-skipping test server
        the workflow's poll interval passes in no real time, so the simulator cannot see it otherwise: with the
        tick set to the poll interval, simulated time follows the workflow's clock (docs/original-design.md §4)."""

    def _now_locked(self) -> datetime:
        elapsed = time.monotonic() - self._anchor_real
        return self._anchor_sim + timedelta(seconds=elapsed * self._scale)

    def now(self) -> datetime:
        """The current simulated time."""
        with self._lock:
            return self._now_locked()

    def advance(self, seconds: float) -> datetime:
        """Jump forward by ``seconds`` of simulated time; returns the new now."""
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        with self._lock:
            self._anchor_sim += timedelta(seconds=seconds)
            return self._now_locked()

    def on_status_read(self) -> None:
        if self.status_read_tick > 0:
            self.advance(self.status_read_tick)

    @property
    def scale(self) -> float:
        """Simulated seconds per real second."""
        with self._lock:
            return self._scale

    @scale.setter
    def scale(self, value: float) -> None:
        if value <= 0:
            raise ValueError("scale must be positive")
        with self._lock:
            # Re-anchor so that changing the rate never makes time jump.
            self._anchor_sim = self._now_locked()
            self._anchor_real = time.monotonic()
            self._scale = float(value)

    def real_seconds(self, sim_seconds: float) -> float:
        """How many real seconds ``sim_seconds`` of simulated time take at the current scale."""
        return sim_seconds / self.scale
