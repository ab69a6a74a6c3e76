"""await_with_heartbeat: the wait an ARM activity spends on a long-running operation."""

from __future__ import annotations

import asyncio

import pytest
from temporalio import activity
from temporalio.testing import ActivityEnvironment

from activities.azure.heartbeat import await_with_heartbeat


async def test_a_cancelled_activity_cancels_the_call_it_was_waiting_for() -> None:
    """The call used to run on after its attempt ended (a timeout, a worker shutting down), on clients that were
    being closed: "Session is closed" errors from an attempt nobody waited for any more."""
    started, cancelled = asyncio.Event(), asyncio.Event()

    async def azure_call() -> None:
        started.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    @activity.defn
    async def waits() -> None:
        await await_with_heartbeat(azure_call(), "waiting for Azure")

    env = ActivityEnvironment()
    beats: list[tuple[object, ...]] = []
    env.on_heartbeat = lambda *details: beats.append(details)
    running = asyncio.ensure_future(env.run(waits))
    await started.wait()
    env.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    await asyncio.wait_for(cancelled.wait(), 1)
    assert beats == [("waiting for Azure",)]


async def test_details_after_the_text_are_heartbeated_for_the_next_attempt() -> None:
    async def done() -> str:
        return "ok"

    @activity.defn
    async def waits() -> str:
        return await await_with_heartbeat(done(), "enabling ADE on web-01", "resume-token")

    env = ActivityEnvironment()
    beats: list[tuple[object, ...]] = []
    env.on_heartbeat = lambda *details: beats.append(details)
    assert await env.run(waits) == "ok"
    assert beats == [("enabling ADE on web-01", "resume-token")]
