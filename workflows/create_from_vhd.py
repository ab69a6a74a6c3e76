"""CreateVmFromEncryptedVhdWorkflow: a new VM around a customer-encrypted OS disk and its key references (R-VHD-1).

Check everything the input and ARM can show before the one write (a refused request changes nothing,
docs/original-design.md §5.5), PUT the VM once (a retried attempt recognises its own VM), then verify the OS disk
reports encrypted with exactly those references. Decisions and the request body come from ``adeflow.domain.vhd``.
Phases: preflight, create, verify.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.vm_create import VmCreateActivities
    from adeflow.domain import vhd
    from adeflow.domain.model import CreateFromVhdInput, CreateFromVhdResult, Outcome, Phase, VmRef
    from adeflow.domain.vocabulary import Reason
    from workflows.steps import StepFailed, call
    from workflows.vm_run import VmRunWorkflow, vm_workflow_id


def create_from_vhd_workflow_id(vm: VmRef) -> str:
    """``create-from-vhd/<vm>/<rg>/<subscription>`` (lower case): two creations of one VM cannot overlap."""
    return vm_workflow_id("create-from-vhd", vm)


@workflow.defn
class CreateVmFromEncryptedVhdWorkflow(VmRunWorkflow[CreateFromVhdResult]):
    def __init__(self) -> None:
        super().__init__(CreateFromVhdResult(vm=VmRef("", "", ""), outcome=Outcome.FAILED))

    @workflow.run
    async def run(self, request: CreateFromVhdInput) -> CreateFromVhdResult:
        reading = f"checking the disk and key references for {request.vm.name}"
        return await self.execute(request.vm, request.rollout_id, reading, lambda: self._runbook(request))

    async def _runbook(self, request: CreateFromVhdInput) -> CreateFromVhdResult:
        vm = request.vm
        refusals = vhd.check_request(request)
        if refusals:
            return self.refuse(refusals)
        facts = await call(VmCreateActivities.read_vhd_create_facts, request, timedelta(minutes=5))
        refusals = vhd.check_facts(request, facts)
        if refusals:
            return self.refuse(refusals)
        location = vhd.vm_location(request, facts)
        self.done = replace(self.done, location=location, notes=vhd.notes(request, facts))

        adopting = facts.existing_vm.exists  # same references, else check_facts refused: an earlier attempt's VM
        what = "found from an earlier attempt, waiting for it" if adopting else "creating it (attach, encrypted)"
        self.enter(Phase.CREATE, f"{vm.name} in {location}: {what}")
        await call(
            VmCreateActivities.create_vm_from_vhd,
            vhd.VmCreateRequest(vm, vhd.key_refs(request), vhd.build_vm_body(request, location)),
            timedelta(minutes=30),
        )
        self.done = replace(self.done, created=not adopting)

        self.enter(Phase.VERIFY, "checking the OS disk reports encrypted with these references")
        observed = await call(VmCreateActivities.read_created_vm, vm, timedelta(minutes=5))
        verdict = vhd.verify_created(request, observed)
        if not verdict.ok:
            raise StepFailed(Reason.VERIFICATION_FAILED, verdict.message)
        return self.finish(
            replace(self.done, outcome=Outcome.ENCRYPTED, message=verdict.message, os_disk_encrypted=True)
        )
