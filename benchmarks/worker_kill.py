"""Worker kill: the rollout of :mod:`benchmarks.rollout` again, its worker SIGKILLed mid-run and replaced at once
(what a crashed pod gets). It must complete with one extension PUT per VM; its wall time is reported over the
uninterrupted run's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from temporalio.client import Client

from adeflow.cli.devserver import DevServer
from benchmarks.rollout import bench_rollout

KILL_AT_SHARE = 0.4
"""The worker-kill run kills the worker this far into the uninterrupted run's time: mid-wave, VMs in every phase."""


def kill_time(uninterrupted_s: float) -> int:
    """Seconds into the run at which the worker is killed."""
    return round(uninterrupted_s * KILL_AT_SHARE)


async def bench_worker_kill(
    client: Client, server: DevServer, work: Path, vms: int, concurrency: int, scale: float, kill_after_s: float
) -> dict[str, Any]:
    return await bench_rollout(client, server, work, vms, concurrency, scale, kill_after_s=kill_after_s)
