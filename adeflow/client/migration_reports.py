"""The migrations' evidence read from Temporal for ``adeflow migrate report`` and the demo (issue 16).

A rollout's migrations are the ``MigrateToHostEncryptionWorkflow`` runs tagged with its ``AdeRolloutId`` (the run
tags it at its start, ``RunShell.start``); a single VM's is its run ``migrate/<vm>/<rg>/<sub>``. A completed run
gives its ``MigrationResult``; a run still open is listed with its ``AdePhase`` (from visibility: no worker needed)
and, when a worker answers in time, what it is doing or waiting for; it is never awaited. A run that ended without
a result (terminated, timed out) is reported failed, saying so.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

from temporalio.client import Client, WorkflowExecution, WorkflowExecutionStatus, WorkflowQueryFailedError
from temporalio.common import SearchAttributeKey
from temporalio.service import RPCError, RPCStatusCode

from adeflow.client.connect import worker_polls
from adeflow.client.errors import OperationFailed
from adeflow.client.migration_runs import migration_handle
from adeflow.domain import vocabulary
from adeflow.domain.migration import MigrationOutcome, MigrationProgress, MigrationResult
from adeflow.domain.model import VmRef
from adeflow.reports.migration_report import FORMATS, MigrationReport, OpenMigration
from workflows.migrate_vm import MigrateToHostEncryptionWorkflow

WORKFLOW_TYPE = "MigrateToHostEncryptionWorkflow"
OPEN = (WorkflowExecutionStatus.RUNNING, WorkflowExecutionStatus.CONTINUED_AS_NEW)
PHASE_KEY = SearchAttributeKey.for_keyword(vocabulary.PHASE)
VM_KEY = SearchAttributeKey.for_keyword(vocabulary.VM_NAME)
RESOURCE_GROUP_KEY = SearchAttributeKey.for_keyword(vocabulary.RESOURCE_GROUP)
SUBSCRIPTION_KEY = SearchAttributeKey.for_keyword(vocabulary.SUBSCRIPTION)
QUERY_TIMEOUT = timedelta(seconds=5)
"""An open run's detail is a nicety: a worker that does not answer quickly leaves it out, the phase stays."""


class NoMigrations(OperationFailed):
    """Nothing to report for what the operator named (exit 1, in words)."""


def _vm_of(execution: WorkflowExecution) -> VmRef | None:
    attributes = execution.typed_search_attributes
    parts = (attributes.get(SUBSCRIPTION_KEY), attributes.get(RESOURCE_GROUP_KEY), attributes.get(VM_KEY))
    return VmRef(parts[0], parts[1], parts[2]) if parts[0] and parts[1] and parts[2] else None


async def _detail(client: Client, execution: WorkflowExecution) -> str:
    """What the open run is doing or waiting for, if a worker answers within QUERY_TIMEOUT; else why not, or empty
    (a server that cannot say whether a worker polls). The phase from visibility is the report's fact."""
    try:
        if not await worker_polls(client, execution.task_queue):
            return "no worker is polling its task queue"
    except RPCError:
        pass  # try the query anyway: it answers or times out
    try:
        handle = client.get_workflow_handle(execution.id, run_id=execution.run_id)
        progress: MigrationProgress = await handle.query(
            MigrateToHostEncryptionWorkflow.progress, rpc_timeout=QUERY_TIMEOUT
        )
    except (RPCError, WorkflowQueryFailedError):
        return ""
    return progress.detail


async def _entry(client: Client, execution: WorkflowExecution, vm: VmRef) -> MigrationResult | OpenMigration:
    if execution.status is WorkflowExecutionStatus.COMPLETED:
        handle = client.get_workflow_handle(execution.id, run_id=execution.run_id, result_type=MigrationResult)
        result: MigrationResult = await handle.result()
        return result
    if execution.status in OPEN:
        phase = execution.typed_search_attributes.get(PHASE_KEY) or "starting"
        return OpenMigration(vm, phase, await _detail(client, execution))
    state = execution.status.name.lower().replace("_", "-") if execution.status else "unknown"
    return MigrationResult(
        vm,
        MigrationOutcome.FAILED,
        reason=f"run-{state}",
        message=f"{vm.name}: the migration run ended {state} without a result (workflow {execution.id})",
    )


def _report(scope: str, entries: list[MigrationResult | OpenMigration]) -> MigrationReport:
    key = lambda e: (e.vm.subscription_id, e.vm.resource_group.lower(), e.vm.name.lower())  # noqa: E731
    results = sorted((e for e in entries if isinstance(e, MigrationResult)), key=key)
    running = sorted((e for e in entries if isinstance(e, OpenMigration)), key=key)
    return MigrationReport(scope, results, running)


async def rollout_migrations(client: Client, rollout_id: str) -> MigrationReport:
    """The migrations tagged with ``rollout_id``: the latest run per VM (a retried VM has several; newest first)."""
    query = f'{vocabulary.ROLLOUT_ID}="{rollout_id}" AND WorkflowType="{WORKFLOW_TYPE}"'
    latest: dict[str, tuple[WorkflowExecution, VmRef]] = {}
    async for execution in client.list_workflows(query):
        vm = _vm_of(execution)
        if vm is not None:
            latest.setdefault(vm.key.lower(), (execution, vm))
    if not latest:
        raise NoMigrations(
            f"no migration runs tagged {vocabulary.ROLLOUT_ID}={rollout_id!r} (a VM: <subscription>/<group>/<name> "
            "or its resource id)"
        )
    entries = await asyncio.gather(*(_entry(client, execution, vm) for execution, vm in latest.values()))
    return _report(rollout_id, list(entries))


async def vm_migration(client: Client, vm: VmRef) -> MigrationReport:
    """The VM's latest migration run."""
    handle = migration_handle(client, vm)
    try:
        description = await handle.describe()
    except RPCError as err:
        if err.status is RPCStatusCode.NOT_FOUND:
            raise NoMigrations(f"{vm.name}: no migration run (workflow {handle.id})") from None
        raise
    return _report(vm.key, [await _entry(client, description, vm)])


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file beside it and a rename: a reader (or a crash) never sees
    half a report, and an old report is replaced whole."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    try:
        partial.write_text(text, encoding="utf-8")
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)


def render(report: MigrationReport, fmt: str) -> str:
    return FORMATS[fmt](report)
