"""A bare Temporal skeleton of a fleet rollout: the orchestration baseline of ``benchmarks/fleet.py``.

A parent starts N children through a sliding window; each child runs 12 no-op activities and one retry-as-poll
activity that fails 4 times before it succeeds (5 polls), then returns its finish time. No Azure, no
simulator: what Temporal itself costs on this machine (docs/perf-baseline.md's skeleton). The worker runs in its own
process so its CPU and memory can be measured::

    .venv/bin/python -m benchmarks.skeleton --address 127.0.0.1:7233 --task-queue skeleton
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from dataclasses import dataclass
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory
from temporalio.worker import Worker

NOOP_ACTIVITIES = 12
POLLS = 5


@dataclass(frozen=True)
class SkeletonInput:
    children: int
    window: int
    poll_interval_s: float = 1.0


@activity.defn
async def noop(step: int) -> int:
    return step


@activity.defn
async def poll() -> str:
    if activity.info().attempt < POLLS:
        raise ApplicationError("still working", type="Still", category=ApplicationErrorCategory.BENIGN)
    return "done"


@workflow.defn
class SkeletonChild:
    @workflow.run
    async def run(self, poll_interval_s: float) -> str:
        for step in range(NOOP_ACTIVITIES):
            await workflow.execute_activity(noop, step, start_to_close_timeout=timedelta(seconds=30))
        interval = timedelta(seconds=poll_interval_s)
        await workflow.execute_activity(
            poll,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RetryPolicy(initial_interval=interval, backoff_coefficient=1.0, maximum_interval=interval),
        )
        return workflow.now().isoformat()


@workflow.defn
class SkeletonParent:
    @workflow.run
    async def run(self, request: SkeletonInput) -> list[str]:
        window = asyncio.Semaphore(request.window)
        prefix = workflow.info().workflow_id

        async def one(index: int) -> str:
            async with window:
                return await workflow.execute_child_workflow(
                    SkeletonChild.run, request.poll_interval_s, id=f"{prefix}/child-{index}"
                )

        return list(await asyncio.gather(*(one(i) for i in range(request.children))))


async def serve(address: str, task_queue: str) -> None:
    client = await Client.connect(address)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[SkeletonParent, SkeletonChild],
        activities=[noop, poll],
        max_cached_workflows=2000,
        graceful_shutdown_timeout=timedelta(seconds=5),
    ):
        await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--address", required=True)
    parser.add_argument("--task-queue", required=True)
    args = parser.parse_args()
    asyncio.run(serve(args.address, args.task_queue))


if __name__ == "__main__":
    main()
