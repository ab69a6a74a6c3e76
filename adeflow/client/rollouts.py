"""Client-side rollout operations shared by the CLI and the demo: start, watch, collect results."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy

from adeflow.domain.model import EncryptVmResult
from adeflow.domain.rollout import RolloutInput, RolloutProgress, RolloutResult, RolloutStage
from adeflow.reports.rollout_report import PHASES, ReportRow, render_progress, report_csv, report_json, report_markdown
from workflows.encrypt_vm import EncryptVmWorkflow
from workflows.fleet_rollout import FleetRolloutWorkflow, rollout_workflow_id

RolloutHandle = WorkflowHandle[FleetRolloutWorkflow, RolloutResult]


def ui_link(ui_base: str, namespace: str, workflow_id: str) -> str:
    return f"{ui_base.rstrip('/')}/namespaces/{namespace}/workflows/{quote(workflow_id, safe='')}" if ui_base else ""


async def start_rollout(client: Client, request: RolloutInput, task_queue: str) -> RolloutHandle:
    """Start, or attach to the rollout already running under this id (a repeated trigger never duplicates)."""
    vms = sum(len(t.names) for t in request.targets)
    return await client.start_workflow(
        FleetRolloutWorkflow.run,
        request,
        id=rollout_workflow_id(request.rollout_id),
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        static_summary=f"Rollout {request.rollout_id}: {vms} VMs",
    )


def rollout_handle(client: Client, rollout_id: str) -> RolloutHandle:
    return client.get_workflow_handle_for(FleetRolloutWorkflow.run, rollout_workflow_id(rollout_id))


async def running_by_phase(client: Client, rollout_id: str) -> dict[str, int]:
    """Running VM runs per phase, from visibility (AdePhase), so the rollout's own history stays small."""
    base = f'AdeRolloutId="{rollout_id}" AND WorkflowType="EncryptVmWorkflow" AND ExecutionStatus="Running"'
    counts = await asyncio.gather(*(client.count_workflows(f'{base} AND AdePhase="{p}"') for p in PHASES))
    return {phase: c.count for phase, c in zip(PHASES, counts, strict=True)}


async def watch(
    client: Client,
    rollout_id: str,
    *,
    ui_url: str = "",
    every_s: float = 2.0,
    out: Callable[[str], None] = print,
) -> RolloutProgress:
    """Redraw the live display until the rollout ends; Ctrl-C only detaches (the rollout goes on)."""
    handle = rollout_handle(client, rollout_id)
    last = ""
    interactive = sys.stdout.isatty()
    while True:
        progress = await handle.query(FleetRolloutWorkflow.progress)
        text = render_progress(progress, await running_by_phase(client, rollout_id), ui_url)
        if text != last:
            out(("\033[2J\033[H" if interactive else "") + text + ("" if interactive else "\n"))
            last = text
        if progress.stage in (RolloutStage.COMPLETED, RolloutStage.CANCELLED):
            return progress
        await asyncio.sleep(every_s)


async def final_progress(client: Client, rollout_id: str) -> RolloutProgress:
    """The progress of a rollout, running or ended (a query works on closed workflows too)."""
    return await rollout_handle(client, rollout_id).query(FleetRolloutWorkflow.progress)


async def vm_results(client: Client, rollout_id: str) -> list[EncryptVmResult]:
    """Results of the rollout's finished VM runs, found by the AdeRolloutId search attribute."""
    query = f'AdeRolloutId="{rollout_id}" AND WorkflowType="EncryptVmWorkflow"'
    handles = [
        client.get_workflow_handle_for(EncryptVmWorkflow.run, execution.id, run_id=execution.run_id)
        async for execution in client.list_workflows(query)
        if execution.status == WorkflowExecutionStatus.COMPLETED
    ]
    results = await asyncio.gather(*(h.result() for h in handles))
    latest: dict[str, EncryptVmResult] = {}
    for result in results:  # a retried VM has several runs; the list comes newest first
        latest.setdefault(result.vm.key, result)
    return sorted(latest.values(), key=lambda r: (r.vm.subscription_id, r.vm.resource_group, r.vm.name))


async def write_report(client: Client, rollout_id: str, out: Path) -> list[Path]:
    progress = await final_progress(client, rollout_id)
    rows = [ReportRow.from_result(r) for r in await vm_results(client, rollout_id)]
    out.mkdir(parents=True, exist_ok=True)
    stem = rollout_id.replace("/", "_")
    paths = [out / f"{stem}.json", out / f"{stem}.csv", out / f"{stem}.md"]
    paths[0].write_text(report_json(progress, rows))
    paths[1].write_text(report_csv(rows))
    paths[2].write_text(report_markdown(progress, rows))
    return paths
