"""Rollout vs ideal: ``--vms`` VMs (1 OS + 2 data disks, sizes varied) in one subscription against the
simulator's documented ARM budgets, encryption on a scaled clock; the measured time over the ideal schedule that
:func:`azuresim.ideal.ideal_rollout` computes from the simulator's model. ARM requests per VM, 429s and the
detection latency come from the same run. With ``kill_after_s`` the worker is SIGKILLed mid-run
(:mod:`benchmarks.worker_kill`).
"""

from __future__ import annotations

import statistics
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from temporalio.client import Client

from adeflow.cli.devserver import DevServer
from adeflow.client.rollouts import start_rollout, vm_results
from adeflow.domain.fleet import RolloutPolicy, VmSettings
from adeflow.domain.model import Outcome, VmRef, VolumeType
from adeflow.domain.rollout import build_rollout_input
from azuresim.clock import SimClock
from azuresim.ideal import ideal_rollout, vm_work
from azuresim.requestlog import RequestRecord
from azuresim.state import encryption as enc
from benchmarks.metrics import encrypting_end, encryption_finished_at, request_kinds, sim_time_of
from benchmarks.processes import Meter, Proc, kill_and_replace_worker, simulator, worker_env, worker_process
from benchmarks.workload import POLL_SIM_S, ROLLOUT_SIM, SUB, fleet_spec, varied_vms, vault_id


@dataclass(frozen=True)
class FleetShape:
    """A benchmark fleet: its VMs (``workload`` dicts), what is encrypted, the simulator's settings and the poll
    schedule's inputs (the maximum detection latency and the fastest expected rate, both in simulated time)."""

    vms: list[dict[str, Any]]
    volume_type: VolumeType = VolumeType.ALL
    sim: dict[str, Any] = field(default_factory=lambda: dict(ROLLOUT_SIM))
    poll_sim_s: float = POLL_SIM_S
    fast_gb_per_hour: float = 0.0


STATUS_READ = "VirtualMachineExtensions_Get"
PUT_EXTENSION = "VirtualMachineExtensions_CreateOrUpdate"


def status_polls(records: list[RequestRecord], names: list[str]) -> dict[str, int]:
    """Status polls per VM: extension reads after its PUT and before the final check's VM read, less the one that
    ends the PUT's long-running operation (the SDK reads the resource when it is done)."""
    polls: dict[str, int] = {}
    for name in names:
        mine = [r for r in records if f"/virtualmachines/{name}/".lower() in r.path.lower() + "/"]
        put = next((i for i, r in enumerate(mine) if r.operation == PUT_EXTENSION), None)
        last_vm_read = max((i for i, r in enumerate(mine) if r.operation == "VirtualMachines_Get"), default=None)
        if put is None or last_vm_read is None:
            continue
        polls[name] = sum(1 for r in mine[put:last_vm_read] if r.operation == STATUS_READ) - 1
    return polls


async def bench_rollout(
    client: Client,
    server: DevServer,
    work: Path,
    vms: int,
    concurrency: int,
    scale: float,
    kill_after_s: float | None = None,
    shape: FleetShape | None = None,
) -> dict[str, Any]:
    """``shape``: the fleet's VMs, volume type, clock settings and poll schedule (default: the rollout fleet)."""
    shape = shape or FleetShape(varied_vms(vms))
    rg = "rg-bench"
    fleet = fleet_spec(rg, shape.vms, shape.sim)
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
                poll_interval_s=shape.poll_sim_s / scale,
                encryption_gb_per_hour=shape.fast_gb_per_hour * scale,  # GB per hour of the worker's clock
            )
            settings = VmSettings(key_vault_id=vault_id(rg), volume_type=shape.volume_type)
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
        [
            vm_work(v, fleet.sim, enc.VolumeType(shape.volume_type.value), other_writes=1)
            for v in fleet.subscriptions[0].resource_groups[0].vms
        ],
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
        "poll_interval_sim_s": shape.poll_sim_s,
        "poll_interval_real_s": shape.poll_sim_s / scale,
        "fast_gb_per_hour_sim": shape.fast_gb_per_hour,
        "status_polls": status_polls(records, names),
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
