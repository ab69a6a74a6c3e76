"""Keep an activity visibly alive while it awaits an Azure long-running operation."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

from temporalio import activity

T = TypeVar("T")


async def await_with_heartbeat(awaitable: Awaitable[T], detail: str, every_s: float = 10.0) -> T:
    """Await ``awaitable`` while heartbeating ``detail`` so the UI shows what the activity waits for."""
    task = asyncio.ensure_future(awaitable)
    while True:
        activity.heartbeat(detail)
        done, _ = await asyncio.wait({task}, timeout=every_s)
        if done:
            return task.result()
