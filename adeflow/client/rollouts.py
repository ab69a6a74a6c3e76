"""Client-side rollout operations shared by the CLI and the demo: start, watch, collect results.

Reading a rollout needs a worker only while it runs: a query is answered by a worker, so a closed rollout is read
from its result and the memo it leaves (``RolloutMemo``), and a running one without a worker is a clear
``RolloutUnavailable`` ("no worker is polling task queue ..."), never a long wait or a traceback.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import quote

from temporalio.client import (
    Client,
    WorkflowExecutionDescription,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
)
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError, RPCStatusCode

from adeflow.client.connect import no_worker, worker_polls
from adeflow.client.errors import OperationFailed
from adeflow.client.labels import start_labels
from adeflow.domain.model import EncryptVmResult
from adeflow.domain.rollout import RolloutInput, RolloutProgress, RolloutResult
from adeflow.domain.run_labels import rollout_labels
from adeflow.reports.rollout_live import LiveDisplay, PlainDisplay, RolloutDisplay
from adeflow.reports.rollout_report import PHASES, ReportRow, report_csv, report_json, report_markdown
from workflows.encrypt_vm import EncryptVmWorkflow
from workflows.fleet_rollout import MEMO_KEY, FleetRolloutWorkflow, RolloutMemo, rollout_workflow_id

RolloutHandle = WorkflowHandle[FleetRolloutWorkflow, RolloutResult]

QUERY_TIMEOUT = timedelta(seconds=15)
"""A worker answers a query in milliseconds; one that stopped a moment ago (the server still lists it as a poller)
would otherwise hold the command for the SDK's 30 s and then fail it."""
OPEN = (WorkflowExecutionStatus.RUNNING, WorkflowExecutionStatus.CONTINUED_AS_NEW)


class RolloutUnavailable(OperationFailed):
    """A rollout that cannot be read or steered now, in words for the operator (the CLI exits 1)."""


class RolloutNotReady(RolloutUnavailable):
    """A running rollout that is still finding its selectors' VMs: no progress yet, but it goes on."""


FINDING = "finding the VMs"
"""How the rollout's ``progress`` query says it has no book yet (``FleetRolloutWorkflow.book``)."""


@dataclass(frozen=True)
class RolloutView:
    """What a rollout looks like now, and whether its workflow is still open."""

    progress: RolloutProgress
    status: WorkflowExecutionStatus | None

    @property
    def closed(self) -> bool:
        return self.status not in OPEN


def status_name(status: WorkflowExecutionStatus | None) -> str:
    return status.name.lower().replace("_", "-") if status else "unknown"


def ui_link(ui_base: str, namespace: str, workflow_id: str) -> str:
    """A run's page in the UI at ``ui_base`` (``TemporalSettings.ui_url``, the server actually used); empty: none."""
    return f"{ui_base.rstrip('/')}/namespaces/{namespace}/workflows/{quote(workflow_id, safe='')}" if ui_base else ""


async def start_rollout(client: Client, request: RolloutInput, task_queue: str) -> RolloutHandle:
    """Start, or attach to the rollout already running under this id (a repeated trigger never duplicates)."""
    return await client.start_workflow(
        FleetRolloutWorkflow.run,
        request,
        id=rollout_workflow_id(request.rollout_id),
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        **start_labels(client, *rollout_labels(request)),
    )


def rollout_handle(client: Client, rollout_id: str) -> RolloutHandle:
    return client.get_workflow_handle_for(FleetRolloutWorkflow.run, rollout_workflow_id(rollout_id))


def rollout_ui_link(ui_base: str, namespace: str, rollout_id: str) -> str:
    return ui_link(ui_base, namespace, rollout_workflow_id(rollout_id))


STEERING = {
    "pause": FleetRolloutWorkflow.pause,
    "resume": FleetRolloutWorkflow.resume,
    "cancel": FleetRolloutWorkflow.cancel,
    "retry-failed": FleetRolloutWorkflow.retry_failed,
}
"""Operator commands that take only the operator's name."""


async def steer(client: Client, rollout_id: str, command: str, operator: str, vm: str = "") -> str:
    """Send ``command`` (a key of STEERING, or ``skip`` with ``vm``) and return the rollout's answer; a refusal
    is ``OperationFailed`` with the rollout's reason (exit 1)."""
    handle = await steerable(client, rollout_id)
    try:
        if command == "skip":
            return await handle.execute_update(FleetRolloutWorkflow.skip, args=[vm, operator])
        return await handle.execute_update(STEERING[command], operator)
    except WorkflowUpdateFailedError as err:
        raise OperationFailed(f"{command} refused for rollout {rollout_id}: {err.cause}") from None


@dataclass(frozen=True)
class RolloutListing:
    rollout_id: str
    status: str
    started: datetime


async def list_rollouts(client: Client) -> list[RolloutListing]:
    """Rollouts known to Temporal, newest first, by the id the other verbs take (the workflow id is
    ``rollout/<id>``)."""
    prefix = rollout_workflow_id("")
    return [
        RolloutListing(execution.id.removeprefix(prefix), status_name(execution.status), execution.start_time)
        async for execution in client.list_workflows('WorkflowType="FleetRolloutWorkflow"')
    ]


async def running_by_phase(client: Client, rollout_id: str) -> dict[str, int]:
    """Running VM runs per phase, from visibility (AdePhase), so the rollout's own history stays small."""
    base = f'AdeRolloutId="{rollout_id}" AND WorkflowType="EncryptVmWorkflow" AND ExecutionStatus="Running"'
    counts = await asyncio.gather(*(client.count_workflows(f'{base} AND AdePhase="{p}"') for p in PHASES))
    return {phase: c.count for phase, c in zip(PHASES, counts, strict=True)}


@dataclass(frozen=True)
class RolloutSnapshot:
    """One poll of a watched rollout: how it looks and its running VMs per phase, or why it has no progress yet."""

    view: RolloutView | None
    running_by_phase: dict[str, int]
    waiting: str = ""


PhaseCounter = Callable[[Client, str], Awaitable[dict[str, int]]]
"""Running VM runs per phase of a rollout (``running_by_phase``; a migrate rollout counts its migrations' phases)."""


async def follow(
    client: Client, rollout_id: str, every_s: float = 2.0, counter: PhaseCounter | None = None
) -> AsyncIterator[RolloutSnapshot]:
    """A snapshot every ``every_s`` until the rollout's workflow closes (after its last VM run closed); the last
    one is the closed rollout. A rollout still finding its selectors' VMs is a snapshot with ``waiting`` set."""
    count = counter or running_by_phase
    while True:
        try:
            view = await read_rollout(client, rollout_id)
        except RolloutNotReady as early:  # the first queries of a rollout with selectors: keep waiting
            yield RolloutSnapshot(None, {}, str(early))
            await asyncio.sleep(every_s)
            continue
        yield RolloutSnapshot(view, {} if view.closed else await count(client, rollout_id))
        if view.closed:
            return
        await asyncio.sleep(every_s)


async def watch(
    client: Client,
    rollout_id: str,
    *,
    ui_url: str = "",
    every_s: float = 2.0,
    out: Callable[[str], None] = print,
    interactive: bool | None = None,
    display: RolloutDisplay | None = None,
) -> RolloutView:
    """Show the rollout until its workflow closes: the ``rich`` live view on a terminal, each change once as a
    plain line through ``out`` otherwise (a file, a pipe, CI). Ctrl-C only detaches (the rollout goes on)."""
    if display is None:
        interactive = sys.stdout.isatty() if interactive is None else interactive
        display = LiveDisplay() if interactive else PlainDisplay(out)
    last: RolloutView | None = None
    with display:
        async for snapshot in follow(client, rollout_id, every_s):
            if snapshot.view is None:
                display.waiting(snapshot.waiting)
                continue
            display.show(snapshot.view.progress, snapshot.running_by_phase, ui_url)
            last = snapshot.view
    if last is None:  # follow only ends on a closed rollout
        raise RolloutUnavailable(f"rollout {rollout_id}: the watch ended without reading it")
    return last


async def read_rollout(client: Client, rollout_id: str) -> RolloutView:
    """A completed rollout from its result and memo (no worker needed); an open one, or one that ended without a
    result (terminated, failed), from its ``progress`` query, which needs a worker."""
    handle = rollout_handle(client, rollout_id)
    description = await _describe(handle, rollout_id)
    if description.status is WorkflowExecutionStatus.COMPLETED:
        memo = await description.memo_value(MEMO_KEY, None, type_hint=RolloutMemo)
        return RolloutView(closed_progress(await handle.result(), memo), description.status)
    return RolloutView(await _query_progress(client, handle, description, rollout_id), description.status)


async def final_progress(client: Client, rollout_id: str) -> RolloutProgress:
    """The progress of a rollout, running or ended."""
    return (await read_rollout(client, rollout_id)).progress


def closed_progress(result: RolloutResult, memo: RolloutMemo | None) -> RolloutProgress:
    """A completed rollout's progress from its result, with the memo's wave, log and selector lines (a rollout
    that completed before adeflow wrote the memo has none of those)."""
    memo = memo or RolloutMemo()
    return RolloutProgress(
        rollout_id=result.rollout_id,
        stage=result.stage,
        halted="",
        wave=memo.wave,
        total=result.total,
        counts=dict(result.counts),
        running_per_subscription={},
        failures=list(result.failures),
        refusals=list(result.refusals),
        eta_seconds=0.0,
        log=[*memo.log, *(f"VM run still open at completion: {name}" for name in memo.still_open)],
        run=result.runs,
        selected=list(memo.selected),
    )


async def steerable(client: Client, rollout_id: str) -> RolloutHandle:
    """A running rollout with a worker to take an update (pause, skip, ...); else ``RolloutUnavailable`` and
    nothing is sent (an update nobody takes would hang the command)."""
    handle = rollout_handle(client, rollout_id)
    description = await _describe(handle, rollout_id)
    if description.status not in OPEN:
        raise RolloutUnavailable(
            f"rollout {rollout_id} has ended ({status_name(description.status)}): it takes no more commands"
        )
    if not await worker_polls(client, description.task_queue):
        raise RolloutUnavailable(f"{no_worker(description.task_queue)}; nothing was sent to rollout {rollout_id}")
    return handle


async def _describe(handle: RolloutHandle, rollout_id: str) -> WorkflowExecutionDescription:
    try:
        return await handle.describe()
    except RPCError as exc:
        if exc.status is RPCStatusCode.NOT_FOUND:
            known = "adeflow rollout list shows the known ones"
            raise RolloutUnavailable(f"no rollout {rollout_id} (no workflow {handle.id}; {known})") from None
        raise


async def _query_progress(
    client: Client, handle: RolloutHandle, description: WorkflowExecutionDescription, rollout_id: str
) -> RolloutProgress:
    queue = description.task_queue
    state = "running" if description.status in OPEN else f"{status_name(description.status)} without a result"
    if not await worker_polls(client, queue):
        raise RolloutUnavailable(f"rollout {rollout_id} is {state}; reading it needs a worker: {no_worker(queue)}")
    try:
        return await handle.query(FleetRolloutWorkflow.progress, rpc_timeout=QUERY_TIMEOUT)
    except WorkflowQueryFailedError as exc:
        if FINDING in str(exc):  # a rollout with selectors, before its first book: not an error, just early
            raise RolloutNotReady(f"rollout {rollout_id}: {FINDING} its selectors name") from None
        raise RolloutUnavailable(f"rollout {rollout_id}: {exc}") from None
    except RPCError as exc:
        if exc.status in (RPCStatusCode.CANCELLED, RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.FAILED_PRECONDITION):
            raise RolloutUnavailable(
                f"rollout {rollout_id} is {state}; no worker answered within {QUERY_TIMEOUT.seconds} s "
                f"(stopped?): {no_worker(queue)}"
            ) from None
        raise


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
