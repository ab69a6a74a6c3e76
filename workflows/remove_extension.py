"""RemoveExtensionWorkflow: delete the ADE extension (R-DIS-5), never silently leaving disks encrypted (R-DIS-2)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.extension import ExtensionActivities
    from activities.inventory import InventoryActivities
    from adeflow.domain import rules
    from adeflow.domain.model import Outcome, Phase, VmRef
    from workflows import metrics
    from workflows.steps import OUTCOME_KEY, PhaseTracker, StepFailed, call, tag_vm


def remove_extension_workflow_id(vm: VmRef) -> str:
    return f"remove-extension/{vm.name}/{vm.resource_group}/{vm.subscription_id}"


@dataclass(frozen=True)
class RemoveExtensionInput:
    vm: VmRef
    leave_encrypted: bool = False
    """Remove even though volumes stay encrypted: they then stay encrypted with no extension to manage them."""


@dataclass(frozen=True)
class RemoveExtensionResult:
    vm: VmRef
    outcome: Outcome
    rule: str = ""
    reason: str = ""
    message: str = ""


@workflow.defn
class RemoveExtensionWorkflow:
    def __init__(self) -> None:
        self._tracker = PhaseTracker()

    @workflow.run
    async def run(self, request: RemoveExtensionInput) -> RemoveExtensionResult:
        vm = request.vm
        tag_vm(vm, "")
        self._tracker.enter(Phase.PREFLIGHT, f"reading {vm.name} before removing the ADE extension")
        try:
            facts = await call(InventoryActivities.read_vm_facts, vm, timedelta(minutes=5))
            refusals = rules.check_remove_extension(facts, request.leave_encrypted)
            if refusals:
                first = refusals[0]
                return self._finish(
                    RemoveExtensionResult(vm, Outcome.REFUSED, first.rule, first.reason, first.render(vm)),
                    Phase.REFUSED,
                )
            self._tracker.enter(Phase.ENABLE, "removing the ADE extension")
            sent = await call(ExtensionActivities.remove_encryption_extension, vm, timedelta(minutes=30))
        except StepFailed as failure:
            return self._finish(
                RemoveExtensionResult(vm, Outcome.FAILED, reason=failure.reason, message=failure.message), Phase.FAILED
            )
        still = rules.os_volume_encrypted(facts) or rules.data_volumes_encrypted(facts)
        message = f"{vm.name}: ADE extension {'removed' if sent else 'was already absent'}"
        if still:
            message += "; volumes remain ENCRYPTED with no extension managing them (R-DIS-2)"
        return self._finish(RemoveExtensionResult(vm, Outcome.EXTENSION_REMOVED, message=message), Phase.DONE)

    def _finish(self, result: RemoveExtensionResult, phase: Phase) -> RemoveExtensionResult:
        self._tracker.enter(phase, result.message)
        workflow.upsert_search_attributes([OUTCOME_KEY.value_set(result.outcome.value)])
        metrics.vm_finished(result.outcome.value, self._tracker.timings)
        workflow.logger.info("%s: %s", result.vm.name, result.outcome.value, extra={"vm": result.vm.name})
        return result
