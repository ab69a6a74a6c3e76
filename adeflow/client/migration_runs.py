"""One VM's migration off ADE (``MigrateToHostEncryptionWorkflow``) as the CLI and the demo start and steer it.

A migration runs on the create task queue: only the create worker, whose identity may write VMs and disks, serves
it. Like the other per-VM runs, a second start attaches to the run in flight. The people's decisions (M-7 downtime,
the owner's confirmations, M-8 cleanup) are updates: the workflow validates each one (a decision that does not fit
the run's phase is refused with why) and records who gave it and when.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode

from adeflow.client.errors import OperationFailed
from adeflow.client.failures import failure_reason
from adeflow.client.vm_runs import VmRun, start_run
from adeflow.domain import run_labels
from adeflow.domain.migration import ApprovalKind, MigrationInput, MigrationProgress, MigrationResult
from adeflow.domain.model import VmRef
from adeflow.inputs.settings import Settings
from workflows.migrate_vm import MigrateToHostEncryptionWorkflow, migrate_workflow_id

__all__ = [
    "DECISIONS",
    "Decision",
    "DecisionRefused",
    "decide",
    "migration_handle",
    "migration_progress",
    "migration_result",
    "start_migration",
]


class DecisionRefused(OperationFailed):
    """The run refused a decision (wrong phase, no operator, already given): the message says why."""


@dataclass(frozen=True)
class Decision:
    """A person's decision and the update that carries it to the run."""

    kind: ApprovalKind | None
    """What the run records (``None``: declining the cleanup, recorded as the source kept)."""
    update: str
    """The workflow's update handler by name."""
    words: str


DECISIONS: dict[str, Decision] = {
    "downtime": Decision(ApprovalKind.DOWNTIME, "approve_downtime", "approve downtime"),
    "new-vm-works": Decision(ApprovalKind.NEW_VM_WORKS, "confirm_new_vm", "confirm the new VM works"),
    "data-moved": Decision(ApprovalKind.DATA_MOVED, "confirm_data_moved", "confirm the data moved"),
    "cleanup": Decision(ApprovalKind.CLEANUP, "approve_cleanup", "approve the cleanup"),
    "keep-source": Decision(None, "keep_source", "keep the source (no cleanup)"),
}
"""By the name the CLI uses (``adeflow migrate approve|confirm``)."""


async def start_migration(client: Client, settings: Settings, request: MigrationInput) -> VmRun:
    return await start_run(
        client,
        settings,
        MigrateToHostEncryptionWorkflow.run,
        request,
        migrate_workflow_id(request.vm),
        run_labels.migrate_summary(request),
        run_labels.migrate_details(request),
        settings.temporal.create_queue,
    )


def migration_handle(client: Client, vm: VmRef) -> WorkflowHandle[Any, MigrationResult]:
    """Typed by the run method, so ``result()`` converts the payload back into a :class:`MigrationResult` (an
    untyped handle hands back a plain dict)."""
    return client.get_workflow_handle_for(MigrateToHostEncryptionWorkflow.run, migrate_workflow_id(vm))


async def decide(client: Client, vm: VmRef, decision: str, operator: str) -> str:
    """Send one decision to the VM's migration run; its answer (what was recorded, for whom, when)."""
    chosen = DECISIONS[decision]
    try:
        answer: str = await migration_handle(client, vm).execute_update(chosen.update, operator, result_type=str)
    except WorkflowUpdateFailedError as err:
        raise DecisionRefused(f"{vm.name}: cannot {chosen.words}: {failure_reason(err.cause or err)}") from None
    except RPCError as err:
        if err.status is RPCStatusCode.NOT_FOUND:
            raise DecisionRefused(f"{vm.name}: no migration is running for this VM") from None
        raise
    return answer


async def migration_progress(client: Client, vm: VmRef) -> MigrationProgress:
    progress: MigrationProgress = await migration_handle(client, vm).query(MigrateToHostEncryptionWorkflow.progress)
    return progress


async def migration_result(client: Client, vm: VmRef) -> MigrationResult:
    return await migration_handle(client, vm).result()
