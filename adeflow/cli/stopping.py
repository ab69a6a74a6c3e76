"""SIGTERM stops a long-running command as cleanly as Ctrl-C.

``asyncio.run`` turns Ctrl-C into a cancellation of the main task, so its ``finally`` blocks stop what it started;
SIGTERM (``kill``, ``timeout``, an orchestrator) killed the process outright instead, leaving the demo's dev server
running and its temporary directory behind. :func:`run_until_signal` treats both alike: the first signal cancels
the command's task (a second one while it cleans up is ignored, so the clean-up is not cut short), and a task that
ended because of a signal raises :class:`Stopped`.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")
SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Stopped(Exception):
    """The command was stopped by a signal before it finished; what it started has been stopped."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(f"stopped by {signal.Signals(signum).name}")


async def _until_signal(work: Coroutine[Any, Any, T]) -> T:
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    received: list[int] = []

    def stop(signum: int) -> None:
        if not received and task is not None:
            received.append(signum)
            task.cancel()

    for signum in SIGNALS:
        loop.add_signal_handler(signum, stop, signum)
    try:
        return await work
    except asyncio.CancelledError:
        if received:
            raise Stopped(received[0]) from None
        raise
    finally:
        for signum in SIGNALS:
            loop.remove_signal_handler(signum)


def run_until_signal(work: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(work)``; SIGINT or SIGTERM cancels ``work`` (its clean-up runs) and raises :class:`Stopped`,
    unless ``work`` treats the cancellation as its normal end (``adeflow demo --keep-running``) and returns."""
    return asyncio.run(_until_signal(work))
