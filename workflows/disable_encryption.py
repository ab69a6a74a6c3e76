"""DisableEncryptionWorkflow: take ADE off a VM's data volumes, then (optionally) remove the extension.

R-DIS-1..5 and R-LIM-3 in order: refuse while the OS volume is encrypted (whatever the caller asks); back up;
disable Data with a new sequence version; wait until data reports not encrypted; only then remove the
extension. An extension that was removed while disks stayed encrypted is re-added by the disable PUT itself
(R-DIS-2), and removed again at the end. Phases: preflight, backup, disable, decrypting, remove.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.extension import ExtensionActivities
    from activities.inventory import InventoryActivities
    from adeflow.domain import rules
    from adeflow.domain.model import (
        DisableInput,
        DisableResult,
        ExtensionRequest,
        Outcome,
        Phase,
        ProgressRequest,
        VmRef,
        VolumeType,
    )
    from workflows.steps import await_extension, backup_gate, call
    from workflows.vm_run import VmRunWorkflow, vm_workflow_id


def disable_workflow_id(vm: VmRef) -> str:
    """``disable/<vm>/<rg>/<subscription>`` (lower case): two disable runs for one VM cannot overlap."""
    return vm_workflow_id("disable", vm)


@workflow.defn
class DisableEncryptionWorkflow(VmRunWorkflow[DisableResult]):
    def __init__(self) -> None:
        super().__init__(DisableResult(vm=VmRef("", "", ""), outcome=Outcome.FAILED))

    @workflow.run
    async def run(self, request: DisableInput) -> DisableResult:
        reading = f"reading {request.vm.name} before disabling ADE"
        return await self.execute(request.vm, request.rollout_id, reading, lambda: self._runbook(request))

    async def _runbook(self, request: DisableInput) -> DisableResult:
        vm = request.vm
        facts = await call(InventoryActivities.read_vm_facts, vm, timedelta(minutes=5))
        refusals = rules.check_disable(facts)
        if refusals:
            return self.refuse(refusals)
        reinstall = facts.ade_extension is None
        self.done = replace(self.done, reinstalled_extension=reinstall)

        gate = await backup_gate(
            self.tracker, vm, facts.location, facts.disks, request.backup_policy, request.backup_waiver
        )
        if gate.refusal is not None:
            return self.refuse([gate.refusal])
        self.done = replace(self.done, backup=gate.method, snapshot_ids=gate.snapshot_ids)

        sequence_version = str(workflow.uuid4())
        self.done = replace(self.done, sequence_version=sequence_version)
        what = "re-adding the extension to disable (it was removed while disks stayed encrypted, R-DIS-2)"
        self.enter(Phase.DISABLE, what if reinstall else f"disabling Data (sequence {sequence_version})")
        await call(
            ExtensionActivities.put_encryption_extension,
            ExtensionRequest(vm, facts.location, rules.plan_disable_settings(sequence_version)),
            timedelta(minutes=90),
        )
        self.enter(Phase.DECRYPTING, "decrypting data volumes; progress in the pending activity")
        await await_extension(
            ProgressRequest(vm, VolumeType.DATA, sequence_version, "DisableEncryption"),
            request.poll_interval_s,
            request.deadline_s,
        )
        removed = False
        if request.remove_extension:
            # R-DIS-2: only now, with decryption finished, may the extension go.
            self.enter(Phase.REMOVE, "removing the ADE extension (disable completed)")
            await call(ExtensionActivities.remove_encryption_extension, vm, timedelta(minutes=30))
            removed = True
        return self.finish(
            replace(
                self.done,
                outcome=Outcome.DISABLED,
                extension_removed=removed,
                message=f"{vm.name}: data volumes decrypted" + ("; extension removed" if removed else ""),
            )
        )
