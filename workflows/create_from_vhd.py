"""CreateVmFromEncryptedVhdWorkflow: a new VM around a customer-encrypted OS disk and its key references (R-VHD-1).

Check everything the input and ARM can show before the one write (a refused request changes nothing,
docs/original-design.md §5.5), PUT the VM once (a retried attempt recognises its own VM), then verify the OS disk
reports encrypted with exactly those references. Decisions and the request body come from ``adeflow.domain.vhd``.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.vm_create import VmCreateActivities
    from adeflow.domain import vhd
    from adeflow.domain.model import CreateFromVhdInput, CreateFromVhdResult, Outcome, Phase, Refusal, VmRef
    from workflows.encrypt_vm import VmRunProgress
    from workflows.steps import OUTCOME_KEY, PhaseTracker, StepFailed, call, tag_vm


def create_from_vhd_workflow_id(vm: VmRef) -> str:
    """One run per VM name: two creations of one VM cannot overlap."""
    return f"create-from-vhd/{vm.name}/{vm.resource_group}/{vm.subscription_id}"


@workflow.defn
class CreateVmFromEncryptedVhdWorkflow:
    def __init__(self) -> None:
        self._tracker = PhaseTracker()
        self._done = CreateFromVhdResult(vm=VmRef("", "", ""), outcome=Outcome.FAILED)

    @workflow.query
    def progress(self) -> VmRunProgress:
        return VmRunProgress(self._tracker.phase, self._tracker.detail)

    @workflow.run
    async def run(self, request: CreateFromVhdInput) -> CreateFromVhdResult:
        self._done = replace(self._done, vm=request.vm)
        tag_vm(request.vm, request.rollout_id)
        self._tracker.enter(Phase.PREFLIGHT, f"checking the disk and key references for {request.vm.name}")
        try:
            return await self._run(request)
        except StepFailed as failure:
            return self._finish(
                replace(self._done, outcome=Outcome.FAILED, reason=failure.reason, message=failure.message),
                Phase.FAILED,
            )

    async def _run(self, request: CreateFromVhdInput) -> CreateFromVhdResult:
        vm = request.vm
        refusals = vhd.check_request(request)
        if refusals:
            return self._refuse(refusals)
        facts = await call(VmCreateActivities.read_vhd_create_facts, request, timedelta(minutes=5))
        refusals = vhd.check_facts(request, facts)
        if refusals:
            return self._refuse(refusals)
        location = vhd.vm_location(request, facts)
        self._done = replace(self._done, location=location, notes=vhd.notes(request, facts))

        adopting = facts.existing_vm.exists  # same references, else check_facts refused: an earlier attempt's VM
        what = "found from an earlier attempt, waiting for it" if adopting else "creating it (attach, encrypted)"
        self._tracker.enter(Phase.ENABLE, f"{vm.name} in {location}: {what}")
        await call(
            VmCreateActivities.create_vm_from_vhd,
            vhd.VmCreateRequest(vm, vhd.key_refs(request), vhd.build_vm_body(request, location)),
            timedelta(minutes=30),
        )
        self._done = replace(self._done, created=not adopting)

        self._tracker.enter(Phase.VERIFY, "checking the OS disk reports encrypted with these references")
        observed = await call(VmCreateActivities.read_created_vm, vm, timedelta(minutes=5))
        verdict = vhd.verify_created(request, observed)
        if not verdict.ok:
            raise StepFailed("verification-failed", verdict.message)
        return self._finish(
            replace(self._done, outcome=Outcome.ENCRYPTED, message=verdict.message, os_disk_encrypted=True),
            Phase.DONE,
        )

    def _refuse(self, refusals: list[Refusal]) -> CreateFromVhdResult:
        first = refusals[0]
        message = " ".join(r.render(self._done.vm) for r in refusals)
        return self._finish(
            replace(self._done, outcome=Outcome.REFUSED, reason=first.reason, rule=first.rule, message=message),
            Phase.REFUSED,
        )

    def _finish(self, result: CreateFromVhdResult, phase: Phase) -> CreateFromVhdResult:
        self._tracker.enter(phase, result.message or result.outcome.value)
        workflow.upsert_search_attributes([OUTCOME_KEY.value_set(result.outcome.value)])
        return replace(result, timings=list(self._tracker.timings))
