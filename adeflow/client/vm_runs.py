"""Per-VM runs (encrypt, disable, remove the extension, create from a VHD) as the CLI starts and follows them.

One VM has at most one run of each kind in flight (the workflow id is derived from the VM): a second start attaches
to the run in flight instead of failing, as ``rollout start`` does, so repeating a command is always safe.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from temporalio.client import Client, WorkflowHandle
from temporalio.exceptions import WorkflowAlreadyStartedError

from adeflow.client.labels import start_labels
from adeflow.domain import run_labels
from adeflow.domain.model import CreateFromVhdInput, DisableInput, EncryptVmInput, Outcome, RemoveExtensionInput, VmRef
from adeflow.inputs.settings import Settings
from workflows.create_from_vhd import CreateVmFromEncryptedVhdWorkflow, create_from_vhd_workflow_id
from workflows.disable_encryption import DisableEncryptionWorkflow, disable_workflow_id
from workflows.encrypt_vm import EncryptVmWorkflow, encrypt_vm_workflow_id
from workflows.remove_extension import RemoveExtensionWorkflow, remove_extension_workflow_id

__all__ = [
    "DisableInput",
    "RemoveExtensionInput",
    "VmRun",
    "VmRunResult",
    "disable_deadline_s",
    "encrypt_deadline_s",
    "start_create_from_vhd",
    "start_disable",
    "start_encrypt",
    "start_remove_extension",
]

encrypt_deadline_s = EncryptVmInput.encryption_deadline_s
disable_deadline_s = DisableInput.deadline_s


@dataclass(frozen=True)
class VmRunResult:
    outcome: Outcome
    message: str

    @property
    def failed(self) -> bool:
        return self.outcome in (Outcome.FAILED, Outcome.REFUSED)


@dataclass(frozen=True)
class VmRun:
    """A started run, or the one already in flight for this VM (``attached``)."""

    handle: WorkflowHandle[Any, Any]
    attached: bool

    @property
    def workflow_id(self) -> str:
        return self.handle.id

    async def result(self) -> VmRunResult:
        result = await self.handle.result()
        return VmRunResult(result.outcome, result.message)


async def start_run(
    client: Client,
    settings: Settings,
    run: Any,
    request: object,
    workflow_id: str,
    summary: str,
    details: str,
    queue: str = "",
) -> VmRun:
    """Start a per-VM run under its VM-derived id (``queue``: empty means the settings' task queue)."""
    try:
        handle = await client.start_workflow(
            run,
            request,
            id=workflow_id,
            task_queue=queue or settings.temporal.task_queue,
            **start_labels(client, summary, details),
        )
    except WorkflowAlreadyStartedError:  # the run in flight for this VM: follow it, never a second one
        return VmRun(client.get_workflow_handle(workflow_id), attached=True)
    return VmRun(handle, attached=False)


async def start_encrypt(client: Client, settings: Settings, request: EncryptVmInput) -> VmRun:
    return await start_run(
        client,
        settings,
        EncryptVmWorkflow.run,
        request,
        encrypt_vm_workflow_id(request.vm),
        run_labels.encrypt_summary(request),
        run_labels.encrypt_details(request),
    )


async def start_disable(client: Client, settings: Settings, request: DisableInput) -> VmRun:
    return await start_run(
        client,
        settings,
        DisableEncryptionWorkflow.run,
        request,
        disable_workflow_id(request.vm),
        run_labels.disable_summary(request),
        run_labels.disable_details(request),
    )


async def start_remove_extension(client: Client, settings: Settings, vm: VmRef, leave_encrypted: bool) -> VmRun:
    request = RemoveExtensionInput(vm, leave_encrypted)
    return await start_run(
        client,
        settings,
        RemoveExtensionWorkflow.run,
        request,
        remove_extension_workflow_id(vm),
        run_labels.remove_extension_summary(request),
        run_labels.remove_extension_details(request),
    )


async def start_create_from_vhd(client: Client, settings: Settings, request: CreateFromVhdInput) -> VmRun:
    """On the create task queue: only the create worker, whose identity may write VMs, serves it."""
    return await start_run(
        client,
        settings,
        CreateVmFromEncryptedVhdWorkflow.run,
        request,
        create_from_vhd_workflow_id(request.vm),
        run_labels.create_from_vhd_summary(request),
        run_labels.create_from_vhd_details(request),
        settings.temporal.create_queue,
    )
