"""RemoveExtensionWorkflow: delete the ADE extension (R-DIS-5), never silently leaving disks encrypted (R-DIS-2).

Phases: preflight, remove.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.extension import ExtensionActivities
    from activities.inventory import InventoryActivities
    from adeflow.domain import rules
    from adeflow.domain.model import Outcome, Phase, RemoveExtensionInput, RemoveExtensionResult, VmRef
    from workflows.steps import call
    from workflows.vm_run import VmRunWorkflow, vm_workflow_id


def remove_extension_workflow_id(vm: VmRef) -> str:
    """``remove-extension/<vm>/<rg>/<subscription>`` (lower case): one removal per VM at a time."""
    return vm_workflow_id("remove-extension", vm)


@workflow.defn
class RemoveExtensionWorkflow(VmRunWorkflow[RemoveExtensionResult]):
    def __init__(self) -> None:
        super().__init__(RemoveExtensionResult(vm=VmRef("", "", ""), outcome=Outcome.FAILED))

    @workflow.run
    async def run(self, request: RemoveExtensionInput) -> RemoveExtensionResult:
        reading = f"reading {request.vm.name} before removing the ADE extension"
        return await self.execute(request.vm, "", reading, lambda: self._runbook(request))

    async def _runbook(self, request: RemoveExtensionInput) -> RemoveExtensionResult:
        vm = request.vm
        facts = await call(InventoryActivities.read_vm_facts, vm, timedelta(minutes=5))
        refusals = rules.check_remove_extension(facts, request.leave_encrypted)
        if refusals:
            return self.refuse(refusals)
        self.enter(Phase.REMOVE, "removing the ADE extension")
        sent = await call(ExtensionActivities.remove_encryption_extension, vm, timedelta(minutes=30))
        message = f"{vm.name}: ADE extension {'removed' if sent else 'was already absent'}"
        if rules.os_volume_encrypted(facts) or rules.data_volumes_encrypted(facts):
            message += "; volumes remain ENCRYPTED with no extension managing them (R-DIS-2)"
        return self.finish(replace(self.done, outcome=Outcome.EXTENSION_REMOVED, message=message))
