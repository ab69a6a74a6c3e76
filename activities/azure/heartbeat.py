"""Keep an activity visibly alive while it awaits an Azure long-running operation."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, TypeVar

from temporalio import activity

T = TypeVar("T")


async def await_with_heartbeat(awaitable: Awaitable[T], detail: str, *more: Any, every_s: float = 10.0) -> T:
    """Await ``awaitable`` while heartbeating ``detail`` so the UI shows what the activity waits for.

    ``more`` follow ``detail`` in the heartbeat details, for the next attempt to resume from (``details[1:]``).
    A cancelled activity (timed out, worker shutting down) cancels the awaited call too, so no SDK call
    outlives its attempt on a client that may be closed by then.
    """
    task = asyncio.ensure_future(awaitable)
    try:
        while True:
            activity.heartbeat(detail, *more)
            done, _ = await asyncio.wait({task}, timeout=every_s)
            if done:
                return task.result()
    finally:
        if not task.done():
            task.cancel()
            task.add_done_callback(_retrieve)


def _retrieve(task: asyncio.Future[Any]) -> None:
    """Mark a cancelled call's outcome as seen (a cancelled ``gather`` ends with an exception, else logged)."""
    if not task.cancelled():
        task.exception()
