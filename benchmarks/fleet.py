"""Fleet-scale benchmarks (issue 9): is Azure the bottleneck, never the orchestrator?

Starts Temporal dev servers (WAL pragmas, as the product does), the ARM simulator and adeflow workers (each its own
process, so their CPU and memory are measured apart), runs rollouts and prints a table; writes
``bench-results.json``. Every figure is measured in the same run as its comparison::

    .venv/bin/python -m benchmarks.fleet [--vms 100] [--capacity-vms 300] [--out bench-results.json]

1. rollout: ``--vms`` VMs (1 OS + 2 data disks, sizes varied) in one subscription against the simulator's
   documented ARM budgets, encryption on a scaled clock; measured time over the ideal schedule that
   :func:`azuresim.ideal.ideal_rollout` computes from the simulator's model. ARM requests per VM, 429s and the
   detection latency come from the same run.
2. capacity: ``--capacity-vms`` VMs with ARM unthrottled and encryption instant: VM runs per second and worker +
   server CPU per VM run, against a bare Temporal skeleton (benchmarks/skeleton.py) of the same size.
3. history: single VMs whose encryption takes 1 h, 3 h and 24 h (simulated): history events and bytes, ARM
   requests of each.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy

from adeflow.devserver import DevServer
from adeflow.manifest import RolloutPolicy, VmSettings
from adeflow.model import EncryptVmResult, Outcome, Phase, VmRef, VolumeType
from adeflow.rollout import build_rollout_input
from adeflow.rollout_client import start_rollout, vm_results
from azuresim.clock import SimClock
from azuresim.fleet import FleetSpec
from azuresim.ideal import ideal_rollout, vm_work
from azuresim.requestlog import RequestRecord
from azuresim.server import SimServer
from azuresim.state import encryption as enc
from azuresim.throttling import ThrottlingSpec
from benchmarks import profiler
from benchmarks.plain_script import PlainTarget, encrypt_fleet
from benchmarks.procstat import cpu_seconds, machine, peak_rss_mb, rss_mb
from benchmarks.skeleton import SkeletonInput, SkeletonParent
from workflows.encrypt_vm import EncryptVmWorkflow, encrypt_vm_workflow_id

SUB = "6f1c3a52-8d11-4c4e-9a7e-000000000009"
LOCATION = "eastus"
VAULT = "kv-ade-bench"
POLL_SIM_S = 480.0
"""Status poll interval, simulated seconds (8 min): detection <= 10 min and a 3 h VM <= 60 requests together."""
ROOT = Path(__file__).resolve().parent.parent


def vault_id(rg: str) -> str:
    return f"/subscriptions/{SUB}/resourceGroups/{rg}/providers/Microsoft.KeyVault/vaults/{VAULT}"


# ---------------------------------------------------------------------------------------------- fleets


def fleet_spec(rg: str, vms: list[dict[str, Any]], sim: dict[str, Any]) -> FleetSpec:
    return FleetSpec.model_validate(
        {
            "sim": sim,
            "subscriptions": [
                {
                    "id": SUB,
                    "resource_groups": [
                        {
                            "name": rg,
                            "location": LOCATION,
                            "key_vaults": [{"name": VAULT, "enabled_for_disk_encryption": True}],
                            "vms": vms,
                        }
                    ],
                }
            ],
        }
    )


def varied_vms(count: int, seed: int = 9) -> list[dict[str, Any]]:
    """1 OS + 2 data disks per VM; OS 30-64 GB, data 8-64 GB each (deterministic)."""
    rng = random.Random(seed)
    return [
        {
            "name": f"vm-{i:05d}",
            "os_disk": {"size_gb": rng.choice([30, 32, 48, 64])},
            "data_disks": [{"lun": lun, "size_gb": rng.choice([8, 16, 32, 64])} for lun in (0, 1)],
        }
        for i in range(count)
    ]


# ---------------------------------------------------------------------------------------------- processes


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


def sim_time_of(clock: SimClock) -> Any:
    """Map a wall-clock instant (workflow time on this machine's dev server) to simulated time."""
    wall0 = datetime.now(UTC)
    sim0 = clock.now()
    scale = clock.scale

    def convert(wall: datetime) -> datetime:
        return sim0 + (wall - wall0) * scale

    return convert


def sustained_rate(finish_times: list[datetime]) -> float:
    """Completions per second between the 10th and 90th percentile completion (ramp-up and tail left out)."""
    times = sorted(finish_times)
    if len(times) < 10:
        span = (times[-1] - times[0]).total_seconds() if len(times) > 1 else 0.0
        return (len(times) - 1) / span if span > 0 else 0.0
    lo, hi = int(len(times) * 0.1), int(len(times) * 0.9)
    span = (times[hi] - times[lo]).total_seconds()
    return (hi - lo) / span if span > 0 else 0.0


def request_kinds(records: list[RequestRecord]) -> dict[str, int]:
    lro = sum(1 for r in records if r.method == "GET" and "operation" in r.operation.lower())
    status = sum(1 for r in records if r.operation == "VirtualMachineExtensions_Get")
    reads = sum(1 for r in records if r.method == "GET")
    return {
        "total": len(records),
        "reads": reads,
        "writes": sum(1 for r in records if r.method in ("PUT", "POST", "PATCH")),
        "deletes": sum(1 for r in records if r.method == "DELETE"),
        "lro_polls": lro,
        "extension_reads": status,
        "other_reads": reads - lro - status,
        "throttled_429": sum(1 for r in records if r.status == 429),
    }


def encrypting_end(result: EncryptVmResult) -> datetime | None:
    return next((t.finished_at for t in result.timings if t.phase is Phase.ENCRYPTING), None)


def encryption_finished_at(sim: SimServer, rg: str, name: str) -> datetime | None:
    ade = sim.state.vm(SUB, rg, name).ade
    if ade.run is None:
        return None
    return ade.run.started_at + timedelta(seconds=enc.plan(ade.run, ade.volumes, ade.rates).end)


# ---------------------------------------------------------------------------------------------- 1. rollout


ROLLOUT_SIM = {"gb_per_hour": 30.0}
KILL_AT_SHARE = 0.4
"""The worker-kill run kills the worker this far into the uninterrupted run's time: mid-wave, VMs in every phase."""


@asynccontextmanager
async def kill_and_replace_worker(
    client: Client, worker: Proc, env: dict[str, str], task_queue: str, log: Path, after_s: float
) -> AsyncIterator[Proc]:
    """SIGKILL ``worker`` ``after_s`` into the run and start a fresh one at once (what a crashed pod gets)."""
    await asyncio.sleep(after_s)
    os.kill(worker.pid, signal.SIGKILL)
    print(f"      worker {worker.pid} killed at {after_s:.0f} s; starting another", flush=True)
    async with worker_process(client, ["-m", "worker"], env, task_queue, log) as replacement:
        yield replacement


async def bench_rollout(
    client: Client,
    server: DevServer,
    work: Path,
    vms: int,
    concurrency: int,
    scale: float,
    kill_after_s: float | None = None,
) -> dict[str, Any]:
    rg = "rg-bench"
    fleet = fleet_spec(rg, varied_vms(vms), ROLLOUT_SIM)
    task_queue = f"bench-rollout-{uuid.uuid4().hex[:6]}"
    clock = SimClock(scale=scale)
    label = "rollout-killed" if kill_after_s else "rollout"
    with simulator(fleet, clock, work / f"sim-{label}-{task_queue}") as sim:
        env = worker_env(server.address, task_queue, sim, unlimited=False)
        log = work / f"worker-{label}.log"
        async with worker_process(client, ["-m", "worker"], env, task_queue, log) as worker:
            policy = RolloutPolicy(
                name="bench",
                concurrency=concurrency,
                per_subscription_concurrency=concurrency,
                canary=1,
                waves=(vms,),
                poll_interval_s=POLL_SIM_S / scale,
            )
            settings = VmSettings(key_vault_id=vault_id(rg), volume_type=VolumeType.ALL)
            names = [v.name for v in fleet.subscriptions[0].resource_groups[0].vms]
            request = build_rollout_input(
                f"bench-{uuid.uuid4().hex[:6]}", policy, [(VmRef(SUB, rg, n), settings) for n in names]
            )
            meter = Meter(worker, Proc(server.process.pid))
            handle = await start_rollout(client, request, task_queue)
            if kill_after_s is None:
                outcome = await handle.result()
            else:
                async with kill_and_replace_worker(client, worker, env, task_queue, log, kill_after_s):
                    outcome = await handle.result()
            measured = meter.read()
            to_sim = sim_time_of(clock)
            results = await vm_results(client, request.rollout_id)
        peak = worker.final_peak_rss_mb
        records = sim.requests()
        latencies: list[float] = []
        for r in results:
            seen, done = encrypting_end(r), encryption_finished_at(sim, rg, r.vm.name)
            if seen is not None and done is not None:
                latencies.append((to_sim(seen) - done).total_seconds() / 60)
    throttling = fleet.sim.throttling
    ideal = ideal_rollout(
        # backup policy auto: one Backup status POST per VM before its snapshots (ARM counts a POST as a write)
        [vm_work(v, fleet.sim, other_writes=1) for v in fleet.subscriptions[0].resource_groups[0].vms],
        concurrency=concurrency,
        canary=1,
        scale=scale,
        writes=throttling.writes,
        vm_updates_subscription=throttling.vm_updates_subscription,
    )
    kinds = request_kinds(records)
    encrypted = outcome.counts.get(Outcome.ENCRYPTED.value, 0)
    by_op = Counter(r.operation for r in records)
    return {
        "vms": vms,
        "encrypted": encrypted,
        "rollout_runs": outcome.runs,
        "concurrency": concurrency,
        "clock_scale": scale,
        "poll_interval_sim_s": POLL_SIM_S,
        "poll_interval_real_s": POLL_SIM_S / scale,
        "measured_s": measured["wall_s"],
        "ideal_s": ideal.seconds,
        "ideal_unthrottled_s": ideal.unthrottled_seconds,
        "measured_over_ideal": measured["wall_s"] / ideal.seconds,
        "arm": kinds,
        "arm_per_vm": {k: v / vms for k, v in kinds.items()},
        "arm_by_operation_per_vm": {k: round(v / vms, 2) for k, v in sorted(by_op.items())},
        "read_rate_per_s": kinds["reads"] / measured["wall_s"],
        "read_budget_floor_s": max(0.0, kinds["reads"] - throttling.reads.capacity) / throttling.reads.rate,
        "write_budget_floor_s": max(0.0, kinds["writes"] - throttling.writes.capacity) / throttling.writes.rate,
        "detect_latency_sim_minutes": {
            "mean": statistics.fmean(latencies) if latencies else None,
            "p95": sorted(latencies)[int(len(latencies) * 0.95) - 1] if latencies else None,
            "max": max(latencies) if latencies else None,
        },
        "worker_peak_rss_mb": peak,
        "extension_puts": by_op.get("VirtualMachineExtensions_CreateOrUpdate", 0),
        "killed_worker_after_s": kill_after_s,
        "cpu": measured,
    }


async def bench_plain_script(work: Path, vms: int, concurrency: int, scale: float) -> dict[str, Any]:
    """The plain-script baseline (benchmarks/plain_script.py) on the same fleet, clock and ARM budgets."""
    rg = "rg-bench"
    fleet = fleet_spec(rg, varied_vms(vms), ROLLOUT_SIM)
    with simulator(fleet, SimClock(scale=scale), work / "sim-plain") as sim:
        target = PlainTarget(sim.base_url, str(sim.ca_path), SUB, rg, vault_id(rg), f"https://{VAULT}.vault.azure.net/")
        names = [v.name for v in fleet.subscriptions[0].resource_groups[0].vms]
        result = await encrypt_fleet(target, names, concurrency, POLL_SIM_S / scale)
        records = sim.requests()
    kinds = request_kinds(records)
    return {
        "vms": vms,
        "encrypted": result.encrypted,
        "failed": result.failed[:5],
        "measured_s": result.wall_s,
        "arm": kinds,
        "arm_per_vm": {k: v / vms for k, v in kinds.items()},
    }


# ---------------------------------------------------------------------------------------------- 2. capacity


async def history_lengths(client: Client, fleet_workflow_id: str, rollout_id: str) -> dict[str, Any]:
    """Events of every fleet-workflow run (continue-as-new keeps each small) and of the VM runs, from visibility."""
    fleet_runs = [e.history_length async for e in client.list_workflows(f'WorkflowId="{fleet_workflow_id}"')]
    query = f'AdeRolloutId="{rollout_id}" AND WorkflowType="EncryptVmWorkflow"'
    vm_runs = [e.history_length async for e in client.list_workflows(query)]
    return {
        "fleet_runs": len(fleet_runs),
        "fleet_run_events_max": max(fleet_runs, default=0),
        "vm_run_events_mean": statistics.fmean(vm_runs) if vm_runs else 0.0,
        "vm_run_events_max": max(vm_runs, default=0),
    }


async def sample_rss(pid: int, into: list[tuple[float, float]], every_s: float = 2.0) -> None:
    """Append (seconds since start, RSS MB) of ``pid`` until cancelled: shows growth versus a plateau."""
    started = time.monotonic()
    while True:
        into.append((round(time.monotonic() - started, 1), round(rss_mb(pid), 1)))
        await asyncio.sleep(every_s)


async def bench_capacity_adeflow(
    work: Path, vms: int, window: int, profile: Path | None = None, worker_settings: dict[str, str] | None = None
) -> dict[str, Any]:
    """``worker_settings``: extra ``ADEFLOW_*`` variables for the worker (tuning runs)."""
    rg = "rg-cap"
    instant = {
        "gb_per_hour": 1e9,
        "stamp_seconds": 0,
        "snapshot_seconds": 0,
        "stripdown_seconds": 0,
        "throttling": ThrottlingSpec(enabled=False).model_dump(exclude_none=True),
    }
    fleet = fleet_spec(rg, varied_vms(vms), instant)
    work.mkdir(parents=True, exist_ok=True)
    spy: subprocess.Popen[bytes] | None = None
    server = await DevServer.start(work / "temporal-cap-adeflow", ui=False)
    try:
        client = await Client.connect(server.address)
        task_queue = "bench-capacity"
        with simulator(fleet, SimClock(scale=1.0), work / "sim-capacity") as sim:
            env = worker_env(server.address, task_queue, sim, unlimited=True) | (worker_settings or {})
            log = work / "worker-capacity.log"
            async with worker_process(client, ["-m", "worker"], env, task_queue, log) as worker:
                policy = RolloutPolicy(
                    name="capacity",
                    concurrency=window,
                    per_subscription_concurrency=window,
                    canary=1,
                    waves=(vms,),
                    poll_interval_s=1.0,
                )
                settings = VmSettings(key_vault_id=vault_id(rg), volume_type=VolumeType.ALL)
                names = [v.name for v in fleet.subscriptions[0].resource_groups[0].vms]
                request = build_rollout_input("capacity", policy, [(VmRef(SUB, rg, n), settings) for n in names])
                spy = profiler.start(worker.pid, profile / "worker.txt") if profile else None
                rss: list[tuple[float, float]] = []
                sampler = asyncio.create_task(sample_rss(worker.pid, rss))
                meter = Meter(worker, Proc(server.process.pid))
                handle = await start_rollout(client, request, task_queue)
                outcome = await handle.result()
                measured = meter.read()
                sampler.cancel()
                results = await vm_results(client, request.rollout_id)
                events = await history_lengths(client, handle.id, request.rollout_id)
            peak = worker.final_peak_rss_mb
            records = sim.requests()
    finally:
        server.stop()
    hot_spots = None
    if spy is not None and profile is not None:
        spy.wait(timeout=60)
        hot_spots = profiler.summarize(profile / "worker.txt")
        print(profiler.render(hot_spots), flush=True)
    finished = [r.timings[-1].finished_at for r in results if r.timings]
    return {
        "vms": vms,
        "window": window,
        # from the rollout's own book: visibility (vm_results) can lag a few runs behind right at the end
        "encrypted": outcome.counts.get(Outcome.ENCRYPTED.value, 0),
        "outcomes": outcome.counts,
        "failures": [str(f) for f in outcome.failures[:5]],
        "vm_results_listed": len(results),
        "rollout_runs": outcome.runs,
        "vm_runs_per_s_overall": vms / measured["wall_s"],
        "vm_runs_per_s_sustained": sustained_rate(finished),
        "cpu_s_per_vm_run": (measured["worker_cpu_s"] + measured["server_cpu_s"]) / vms,
        "worker_cpu_s_per_vm_run": measured["worker_cpu_s"] / vms,
        "server_cpu_s_per_vm_run": measured["server_cpu_s"] / vms,
        "arm_requests_per_vm": len(records) / vms,
        "worker_peak_rss_mb": peak,
        "worker_rss_mb_series": rss[:: max(1, len(rss) // 40)],
        **events,
        "cpu": measured,
        "profile": None
        if hot_spots is None
        else {"samples": hot_spots.samples, "self": hot_spots.self_top, "inclusive": hot_spots.inclusive_top},
    }


async def bench_capacity_skeleton(work: Path, children: int, window: int) -> dict[str, Any]:
    server = await DevServer.start(work / "temporal-cap-skeleton", ui=False)
    try:
        client = await Client.connect(server.address)
        task_queue = "bench-skeleton"
        args = ["-m", "benchmarks.skeleton", "--address", server.address, "--task-queue", task_queue]
        env = {k: v for k, v in os.environ.items() if not k.startswith("ADEFLOW_")}
        async with worker_process(client, args, env, task_queue, work / "worker-skeleton.log") as worker:
            meter = Meter(worker, Proc(server.process.pid))
            finished = await client.execute_workflow(
                SkeletonParent.run,
                SkeletonInput(children, window),
                id="skeleton",
                task_queue=task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            )
            measured = meter.read()
        peak = worker.final_peak_rss_mb
    finally:
        server.stop()
    times = [datetime.fromisoformat(t) for t in finished]
    return {
        "children": children,
        "window": window,
        "vm_runs_per_s_overall": children / measured["wall_s"],
        "vm_runs_per_s_sustained": sustained_rate(times),
        "cpu_s_per_vm_run": (measured["worker_cpu_s"] + measured["server_cpu_s"]) / children,
        "worker_cpu_s_per_vm_run": measured["worker_cpu_s"] / children,
        "server_cpu_s_per_vm_run": measured["server_cpu_s"] / children,
        "worker_peak_rss_mb": peak,
        "cpu": measured,
    }


SCALE_FIELDS = (
    "encrypted",
    "vm_runs_per_s_sustained",
    "cpu_s_per_vm_run",
    "worker_cpu_s_per_vm_run",
    "server_cpu_s_per_vm_run",
    "arm_requests_per_vm",
    "fleet_runs",
    "fleet_run_events_max",
    "vm_run_events_mean",
    "vm_run_events_max",
    "worker_peak_rss_mb",
)


async def bench_scale(work: Path, sizes: list[int], window: int) -> dict[str, Any]:
    """One rollout per size on the capacity set-up: per-VM costs should stay flat as the fleet grows."""
    rows: dict[str, Any] = {}
    for size in sizes:
        print(f"      scale: {size} VMs", flush=True)
        result = await bench_capacity_adeflow(work / f"scale-{size}", size, window)
        rows[str(size)] = {k: result[k] for k in SCALE_FIELDS} | {"wall_s": result["cpu"]["wall_s"]}
        print(f"      {json.dumps(rows[str(size)])}", flush=True)
    return rows


# ---------------------------------------------------------------------------------------------- 3. history


HISTORY_VMS = {
    # name: (os GB, data GB each) at 10 GB/h -> encryption hours (plus 2 min stamping)
    "h1": (4, 3),
    "h3": (10, 10),
    "h24": (64, 88),
}


async def bench_history(client: Client, server: DevServer, work: Path, scale: float) -> dict[str, Any]:
    rg = "rg-hist"
    vms = [
        {
            "name": name,
            "os_disk": {"size_gb": os_gb},
            "data_disks": [{"lun": 0, "size_gb": d}, {"lun": 1, "size_gb": d}],
        }
        for name, (os_gb, d) in HISTORY_VMS.items()
    ]
    fleet = fleet_spec(rg, vms, {"gb_per_hour": 10.0})
    task_queue = f"bench-history-{uuid.uuid4().hex[:6]}"
    out: dict[str, Any] = {"clock_scale": scale, "poll_interval_sim_s": POLL_SIM_S}
    with simulator(fleet, SimClock(scale=scale), work / "sim-history") as sim:
        env = worker_env(server.address, task_queue, sim, unlimited=False)
        async with worker_process(client, ["-m", "worker"], env, task_queue, work / "worker-history.log"):
            policy = RolloutPolicy(poll_interval_s=POLL_SIM_S / scale)
            settings = VmSettings(key_vault_id=vault_id(rg), volume_type=VolumeType.ALL)
            for name in HISTORY_VMS:
                ref = VmRef(SUB, rg, name)
                first = len(sim.requests())
                workflow_id = encrypt_vm_workflow_id(ref)
                result = await client.execute_workflow(
                    EncryptVmWorkflow.run,
                    settings.to_encrypt_input(ref, policy),
                    id=workflow_id,
                    task_queue=task_queue,
                )
                history = await client.get_workflow_handle(workflow_id).fetch_history()
                (work / f"history-{name}.json").write_text(history.to_json())
                records = sim.requests()[first:]
                done = encryption_finished_at(sim, rg, name)
                started = sim.state.vm(SUB, rg, name).ade.run
                hours = (done - started.started_at).total_seconds() / 3600 if done and started else None
                out[name] = {
                    "outcome": result.outcome.value,
                    "encryption_sim_hours": hours,
                    "history_events": len(history.events),
                    "history_bytes": sum(e.ByteSize() for e in history.events),
                    "arm": request_kinds(records),
                }
    return out


# ---------------------------------------------------------------------------------------------- main


def admission_rate(writes_per_vm: float, spec: ThrottlingSpec) -> float:
    """VMs per second one subscription's ARM write budget admits once its burst is spent."""
    return spec.writes.rate / writes_per_vm if writes_per_vm else float("inf")


async def run(args: argparse.Namespace) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="adeflow-bench-"))
    report: dict[str, Any] = {"machine": machine(), "started": datetime.now(UTC).isoformat(timespec="seconds")}
    report["machine"]["load_avg_at_start"] = os.getloadavg()
    print(f"work dir {work}; load average {os.getloadavg()[0]:.2f}", flush=True)
    try:
        server = await DevServer.start(work / "temporal-main", ui=False)
        try:
            client = await Client.connect(server.address)
            print(
                f"[1/7] rollout of {args.vms} VMs (concurrency {args.concurrency}, clock x{args.scale:.0f})", flush=True
            )
            rollout = await bench_rollout(client, server, work, args.vms, args.concurrency, args.scale)
            print(f"      {rollout['measured_s']:.0f} s measured, {rollout['ideal_s']:.0f} s ideal", flush=True)
            print(f"[2/7] plain-script baseline, same {args.vms} VMs", flush=True)
            plain = await bench_plain_script(work, args.vms, args.concurrency, args.scale)
            print(f"      {plain['measured_s']:.0f} s, {plain['encrypted']} encrypted", flush=True)
            kill_at = round(rollout["measured_s"] * KILL_AT_SHARE)
            print(f"[3/7] rollout again, worker SIGKILLed at {kill_at} s", flush=True)
            killed = await bench_rollout(
                client, server, work, args.vms, args.concurrency, args.scale, kill_after_s=kill_at
            )
            print(f"      {killed['measured_s']:.0f} s, {killed['encrypted']} encrypted", flush=True)
            print("[4/7] history of 1 h, 3 h and 24 h encryptions", flush=True)
            history = await bench_history(client, server, work, args.history_scale)
        finally:
            server.stop()
        print(f"[5/7] capacity: adeflow, {args.capacity_vms} VMs, window {args.window}", flush=True)
        adeflow = await bench_capacity_adeflow(work, args.capacity_vms, args.window)
        print(f"      {adeflow['vm_runs_per_s_sustained']:.2f} VM runs/s", flush=True)
        print(f"[6/7] capacity: bare Temporal skeleton, {args.capacity_vms} children", flush=True)
        skeleton = await bench_capacity_skeleton(work, args.capacity_vms, args.window)
        print(f"      {skeleton['vm_runs_per_s_sustained']:.2f} children/s", flush=True)
        print(f"[7/7] scale: {args.scale_sizes} VMs, window {args.window}", flush=True)
        scale = await bench_scale(work, args.scale_sizes, args.window)
        scale[str(args.capacity_vms)] = {k: adeflow[k] for k in SCALE_FIELDS} | {"wall_s": adeflow["cpu"]["wall_s"]}
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    spec = ThrottlingSpec()
    writes_per_vm = rollout["arm_per_vm"]["writes"]
    admission = admission_rate(writes_per_vm, spec)
    capacity = adeflow["vm_runs_per_s_sustained"]
    report.update(
        {
            "vms": args.vms,
            "measured_over_ideal": rollout["measured_over_ideal"],
            "adeflow_over_baseline": rollout["measured_s"] / plain["measured_s"],
            "killed_worker_over_uninterrupted": killed["measured_s"] / rollout["measured_s"],
            "capacity_over_skeleton": capacity / skeleton["vm_runs_per_s_sustained"],
            "capacity_vm_runs_per_s": capacity,
            "capacity_over_write_admission": capacity / admission,
            "write_admission_vm_per_s": admission,
            "cpu_s_per_vm_run": adeflow["cpu_s_per_vm_run"],
            "baseline_cpu_s_per_vm_run": skeleton["cpu_s_per_vm_run"],
            "arm_requests_per_vm": rollout["arm_per_vm"]["total"],
            "throttled_429": rollout["arm"]["throttled_429"],
            "detect_latency_sim_minutes": rollout["detect_latency_sim_minutes"]["max"],
            "history_events_1h": history["h1"]["history_events"],
            "history_events_3h": history["h3"]["history_events"],
            "history_events_24h": history["h24"]["history_events"],
            "arm_requests_3h_vm": history["h3"]["arm"]["total"],
            "worker_peak_rss_mb": max(
                [rollout["worker_peak_rss_mb"], adeflow["worker_peak_rss_mb"]]
                + [row["worker_peak_rss_mb"] for row in scale.values()]
            ),
            "rollout": rollout,
            "plain_script": plain,
            "rollout_worker_killed": killed,
            "history": history,
            "capacity": {"adeflow": adeflow, "skeleton": skeleton},
            "scale": dict(sorted(scale.items(), key=lambda kv: int(kv[0]))),
            "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        }
    )
    report["machine"]["load_avg_at_end"] = os.getloadavg()
    return report


async def rollout_only(args: argparse.Namespace) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="adeflow-bench-"))
    started_load = os.getloadavg()[0]
    try:
        server = await DevServer.start(work / "temporal-main", ui=False)
        try:
            client = await Client.connect(server.address)
            rollout = await bench_rollout(client, server, work, args.vms, args.concurrency, args.scale)
        finally:
            server.stop()
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return {"machine": machine(), "load_avg_at_start": started_load, **rollout}


async def scale_only(args: argparse.Namespace) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="adeflow-bench-"))
    try:
        rows = await bench_scale(work, args.scale_sizes, args.window)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return {"machine": machine(), "window": args.window, "scale": rows}


async def capacity_only(args: argparse.Namespace) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="adeflow-bench-"))
    try:
        return await bench_capacity_adeflow(work, args.capacity_vms, args.window, args.profile)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


def table(r: dict[str, Any]) -> str:
    ro, hi, ad, sk = r["rollout"], r["history"], r["capacity"]["adeflow"], r["capacity"]["skeleton"]
    kr = r["rollout_worker_killed"]
    lat = ro["detect_latency_sim_minutes"]
    per_vm = ro["arm_per_vm"]
    rows = [
        ("figure", "measured", "target"),
        (
            f"rollout {r['vms']} VMs: measured / ideal",
            f"{r['measured_over_ideal']:.3f} ({ro['measured_s']:.0f} s / {ro['ideal_s']:.0f} s)",
            "<= 1.10",
        ),
        (
            "adeflow / plain script, wall time",
            f"{r['adeflow_over_baseline']:.3f} ({ro['measured_s']:.0f} s / {r['plain_script']['measured_s']:.0f} s)",
            "<= 1.15",
        ),
        (
            "worker SIGKILLed mid-run: wall / uninterrupted",
            f"{r['killed_worker_over_uninterrupted']:.3f} ({kr['encrypted']}/{kr['vms']} encrypted, "
            f"{kr['extension_puts']} extension PUTs)",
            "completes, 1 PUT per VM",
        ),
        (
            "capacity, VM runs/s (adeflow / skeleton)",
            f"{ad['vm_runs_per_s_sustained']:.2f} / {sk['vm_runs_per_s_sustained']:.2f} = "
            f"{r['capacity_over_skeleton']:.2f}",
            "",
        ),
        (
            "capacity / ARM write admission",
            f"{r['capacity_over_write_admission']:.2f}x ({r['write_admission_vm_per_s']:.2f} VM/s)",
            ">= 2x",
        ),
        (
            "CPU s per VM run (worker+server)",
            f"{ad['cpu_s_per_vm_run']:.3f} (skeleton {sk['cpu_s_per_vm_run']:.3f})",
            "",
        ),
        (
            "ARM requests per VM (reads/writes/LRO polls)",
            f"{per_vm['total']:.1f} ({per_vm['reads']:.1f}/{per_vm['writes']:.1f}/{per_vm['lro_polls']:.1f})",
            "",
        ),
        ("ARM requests, 3 h encryption", f"{hi['h3']['arm']['total']}", "<= 60"),
        ("429 responses", f"{ro['arm']['throttled_429']}", "0"),
        (
            "detect latency, sim min (mean/max)",
            f"{lat['mean']:.1f} / {lat['max']:.1f}" if lat["max"] is not None else "n/a",
            "<= 10",
        ),
        (
            "history events 1 h / 3 h / 24 h",
            f"{hi['h1']['history_events']} / {hi['h3']['history_events']} / {hi['h24']['history_events']}",
            "equal, <= 150",
        ),
        (
            "history bytes 1 h / 24 h",
            f"{hi['h1']['history_bytes']} / {hi['h24']['history_bytes']}",
            "within 10%",
        ),
        ("worker peak RSS MB", f"{r['worker_peak_rss_mb']:.0f}", "<= 1024"),
    ]
    for size, row in r["scale"].items():
        rows.append(
            (
                f"scale {size} VMs: CPU-s / ARM req / events per VM",
                f"{row['cpu_s_per_vm_run']:.3f} / {row['arm_requests_per_vm']:.1f} / {row['vm_run_events_mean']:.0f}"
                f"; fleet runs {row['fleet_runs']} (max {row['fleet_run_events_max']} events); "
                f"RSS {row['worker_peak_rss_mb']:.0f} MB",
                "flat; < 10,000 events/run",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    m = r["machine"]
    lines.append(
        f"machine: {m['cpus']} CPUs {m['cpu_model']}, {m['memory_gb']} GB, {m['os']}, Python {m['python']}; "
        f"load avg at start {m['load_avg_at_start'][0]:.2f}, at end {m['load_avg_at_end'][0]:.2f}"
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vms", type=int, default=60, help="VMs in the rollout-vs-ideal fleet")
    parser.add_argument("--concurrency", type=int, default=10, help="rollout concurrency (one subscription)")
    parser.add_argument("--scale", type=float, default=400.0, help="simulated seconds per real second (rollout)")
    parser.add_argument("--capacity-vms", type=int, default=500, help="VM runs in the capacity measurement")
    parser.add_argument("--window", type=int, default=200, help="children in flight in the capacity measurement")
    parser.add_argument(
        "--history-scale", type=float, default=600.0, help="clock of the history runs: 1 h = 6 s, polls every 1 s"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "bench-results.json")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs, databases)")
    parser.add_argument(
        "--capacity-only", action="store_true", help="only the adeflow capacity run (for profiling and tuning)"
    )
    parser.add_argument(
        "--rollout-only", action="store_true", help="only the rollout-vs-ideal run (e.g. --vms 1000 in the background)"
    )
    parser.add_argument(
        "--scale-sizes",
        type=lambda text: [int(n) for n in text.split(",")],
        default=[100, 1000],
        help="fleet sizes of the per-VM cost curve, e.g. 100,1000,10000",
    )
    parser.add_argument("--scale-only", action="store_true", help="only the scale curve (10,000 VMs: background)")
    parser.add_argument("--profile", type=Path, help="sample the capacity worker with py-spy into this directory")
    args = parser.parse_args()
    if args.capacity_only:
        capacity = asyncio.run(capacity_only(args))
        print(json.dumps({k: v for k, v in capacity.items() if k != "profile"}, indent=2))
        return
    if args.scale_only:
        rows = asyncio.run(scale_only(args))
        args.out.write_text(json.dumps(rows, indent=2) + "\n")
        print(f"wrote {args.out}")
        return
    if args.rollout_only:
        rollout = asyncio.run(rollout_only(args))
        args.out.write_text(json.dumps(rollout, indent=2, default=str) + "\n")
        print(f"measured / ideal {rollout['measured_over_ideal']:.3f}; wrote {args.out}")
        return
    report = asyncio.run(run(args))
    args.out.write_text(json.dumps(report, indent=2, default=str) + "\n")
    print(table(report))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
