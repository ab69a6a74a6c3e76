"""The measured processes of a benchmark: workers in their own processes, the simulator in a thread of this one,
CPU and memory read by pid (:mod:`benchmarks.procstat`); the dev servers are :class:`adeflow.cli.devserver.DevServer`.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

from azuresim.clock import SimClock
from azuresim.fleet import FleetSpec
from azuresim.server import SimServer
from benchmarks.procstat import cpu_seconds, peak_rss_mb, rss_mb

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Proc:
    """A measured process: CPU seconds and peak RSS by pid."""

    pid: int
    final_peak_rss_mb: float = 0.0
    """VmHWM read just before the process was stopped (the kernel forgets it with the process)."""

    def cpu(self) -> float:
        return cpu_seconds(self.pid)

    def peak_rss_mb(self) -> float:
        return peak_rss_mb(self.pid)


def worker_env(address: str, task_queue: str, sim: SimServer, *, unlimited: bool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ADEFLOW_")}
    env.update(
        ADEFLOW_TEMPORAL_ADDRESS=address,
        ADEFLOW_TASK_QUEUE=task_queue,
        ADEFLOW_ARM_ENDPOINT=sim.base_url,
        ADEFLOW_ARM_CA_FILE=str(sim.ca_path),
        ADEFLOW_ARM_STATIC_TOKEN="sim-token",
        ADEFLOW_LRO_POLL_SECONDS="1",
        ADEFLOW_LOG_LEVEL="WARNING",
        ADEFLOW_LOG_FORMAT="json",
    )
    if unlimited:
        for name in ("READS", "WRITES", "DELETES"):
            env[f"ADEFLOW_ARM_{name}_PER_S"] = "0"
        env["ADEFLOW_ARM_VM_UPDATES_PER_MIN"] = "0"
    return env


async def wait_for_poller(client: Client, task_queue: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    request = DescribeTaskQueueRequest(
        namespace=client.namespace,
        task_queue=TaskQueue(name=task_queue),
        task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
    )
    while time.monotonic() < deadline:
        if (await client.workflow_service.describe_task_queue(request)).pollers:
            return
        await asyncio.sleep(0.3)
    raise RuntimeError(f"no worker polls task queue {task_queue}")


@asynccontextmanager
async def worker_process(client: Client, args: list[str], env: dict[str, str], task_queue: str, log: Path) -> Any:
    """A worker subprocess, ready (polling) on entry; SIGTERM (graceful shutdown) on exit."""
    with log.open("ab") as out:
        process = subprocess.Popen([sys.executable, *args], env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
    proc = Proc(process.pid)
    try:
        await wait_for_poller(client, task_queue)
        yield proc
    finally:
        proc_peak = proc.peak_rss_mb()
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        proc.pid = -1
        proc.final_peak_rss_mb = proc_peak


@asynccontextmanager
async def kill_and_replace_worker(
    client: Client,
    worker: Proc,
    env: dict[str, str],
    task_queue: str,
    log: Path,
    after_s: float | Callable[[], Awaitable[object]],
) -> AsyncIterator[Proc]:
    """SIGKILL ``worker`` ``after_s`` into the run (or once ``after_s()`` returns: a moment of the run, e.g. mid-copy)
    and start a fresh one at once (what a crashed pod gets)."""
    started = time.monotonic()
    if callable(after_s):
        await after_s()
    else:
        await asyncio.sleep(after_s)
    os.kill(worker.pid, signal.SIGKILL)
    print(f"      worker {worker.pid} killed at {time.monotonic() - started:.0f} s; starting another", flush=True)
    async with worker_process(client, ["-m", "worker"], env, task_queue, log) as replacement:
        yield replacement


@contextmanager
def simulator(fleet: FleetSpec, clock: SimClock, state_dir: Path) -> Iterator[SimServer]:
    sim = SimServer(fleet, clock=clock, state_dir=state_dir)
    sim.start_in_thread()
    try:
        yield sim
    finally:
        sim.stop()


@dataclass
class Meter:
    """CPU of the worker, the dev server and this process (the simulator) over one measured span."""

    worker: Proc
    server: Proc
    start_worker: float = 0.0
    start_server: float = 0.0
    start_self: float = 0.0
    started: float = 0.0
    load_before: float = 0.0

    def __post_init__(self) -> None:
        self.start_worker = self.worker.cpu()
        self.start_server = self.server.cpu()
        self.start_self = time.process_time()
        self.started = time.monotonic()
        self.load_before = os.getloadavg()[0]

    def read(self) -> dict[str, float]:
        return {
            "wall_s": time.monotonic() - self.started,
            "worker_cpu_s": self.worker.cpu() - self.start_worker,
            "server_cpu_s": self.server.cpu() - self.start_server,
            "simulator_and_bench_cpu_s": time.process_time() - self.start_self,
            "load_before": self.load_before,
            "load_after": os.getloadavg()[0],
        }


async def sample_rss(pid: int, into: list[tuple[float, float]], every_s: float = 2.0) -> None:
    """Append (seconds since start, RSS MB) of ``pid`` until cancelled: shows growth versus a plateau."""
    started = time.monotonic()
    while True:
        into.append((round(time.monotonic() - started, 1), round(rss_mb(pid), 1)))
        await asyncio.sleep(every_s)
