"""Capacity: ``--capacity-vms`` VMs with ARM unthrottled and encryption instant: VM runs per second and
worker + server CPU per VM run, against a bare Temporal skeleton (:mod:`benchmarks.skeleton`) of the same size.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
from datetime import datetime
from pathlib import Path
from typing import Any

from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy

from adeflow.cli.devserver import DevServer
from adeflow.client.rollouts import start_rollout, vm_results
from adeflow.domain.fleet import RolloutPolicy, VmSettings
from adeflow.domain.model import Outcome, VmRef, VolumeType
from adeflow.domain.rollout import build_rollout_input
from azuresim.clock import SimClock
from azuresim.throttling import ThrottlingSpec
from benchmarks import profiler
from benchmarks.metrics import history_lengths, sustained_rate
from benchmarks.processes import Meter, Proc, sample_rss, simulator, worker_env, worker_process
from benchmarks.skeleton import SkeletonInput, SkeletonParent
from benchmarks.workload import SUB, fleet_spec, varied_vms, vault_id


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
