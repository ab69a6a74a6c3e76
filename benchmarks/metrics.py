"""Figures computed from a run: ARM requests by kind, sustained completion rate, when encryption really ended,
sizes of workflow histories."""

from __future__ import annotations

import statistics
from datetime import UTC, datetime, timedelta
from typing import Any

from temporalio.client import Client

from adeflow.domain.model import EncryptVmResult, Phase
from azuresim.clock import SimClock
from azuresim.requestlog import RequestRecord
from azuresim.server import SimServer
from azuresim.state import encryption as enc
from benchmarks.workload import SUB


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
