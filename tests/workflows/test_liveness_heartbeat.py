"""The worker's liveness heartbeat: an activity that never heartbeats itself still beats, so the workflow can set a
short heartbeat timeout on every ARM call and a SIGKILLed worker's activity is retried in seconds, not hours."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest
from temporalio import activity, workflow
from temporalio.client import WorkflowFailureError
from temporalio.common import RetryPolicy
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from worker.interceptors import LivenessHeartbeatInterceptor


@activity.defn
async def quiet_for(seconds: float) -> str:
    """Stands in for an ARM read that takes a while (429s honoured by the SDK) and never heartbeats itself."""
    activity.heartbeat("own detail")
    await asyncio.sleep(seconds)
    return "done"


@workflow.defn(sandboxed=False)
class QuietWorkflow:
    @workflow.run
    async def run(self, seconds: float) -> str:
        return await workflow.execute_activity(
            quiet_for,
            seconds,
            start_to_close_timeout=timedelta(minutes=1),
            heartbeat_timeout=timedelta(seconds=1),
            retry_policy=RetryPolicy(maximum_attempts=1),
        )


async def _run(interceptors: list[LivenessHeartbeatInterceptor]) -> str:
    env = await WorkflowEnvironment.start_local(dev_server_existing_path=_temporal())
    try:
        queue = f"liveness-{uuid.uuid4()}"
        async with Worker(
            env.client, task_queue=queue, workflows=[QuietWorkflow], activities=[quiet_for], interceptors=interceptors
        ):
            return await env.client.execute_workflow(QuietWorkflow.run, 3.0, id=queue, task_queue=queue)
    finally:
        await env.shutdown()


def _temporal() -> str:
    from adeflow.cli.devserver import temporal_cli

    return str(temporal_cli())


async def test_an_activity_that_does_not_heartbeat_itself_stays_alive_with_the_interceptor() -> None:
    assert await _run([LivenessHeartbeatInterceptor(every_s=0.2)]) == "done"


async def test_without_it_the_heartbeat_timeout_ends_the_attempt() -> None:
    with pytest.raises(WorkflowFailureError):
        await _run([])
