"""DisableEncryptionWorkflow: take ADE off a VM's data volumes, then (optionally) remove the extension.

R-DIS-1..5 and R-LIM-3 in order: refuse while the OS volume is encrypted (whatever the caller asks); back up;
disable Data with a new sequence version; wait until data reports not encrypted; only then remove the
extension. An extension that was removed while disks stayed encrypted is re-added by the disable PUT itself
(R-DIS-2), and removed again at the end.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.extension import ExtensionActivities
    from activities.inventory import InventoryActivities
    from adeflow.domain import rules
    from adeflow.domain.model import (
        BackupMethod,
        BackupPolicy,
        BackupWaiver,
        ExtensionRequest,
        Outcome,
        Phase,
        PhaseTiming,
        ProgressRequest,
        Refusal,
        VmRef,
        VolumeType,
    )
    from workflows import metrics
    from workflows.encrypt_vm import VmRunProgress
    from workflows.steps import OUTCOME_KEY, PhaseTracker, StepFailed, await_extension, backup_gate, call, tag_vm


def disable_workflow_id(vm: VmRef) -> str:
    return f"disable/{vm.name}/{vm.resource_group}/{vm.subscription_id}"


@dataclass(frozen=True)
class DisableInput:
    vm: VmRef
    remove_extension: bool = True
    backup_policy: BackupPolicy = BackupPolicy.AUTO
    backup_waiver: BackupWaiver | None = None
    poll_interval_s: float = 300.0
    deadline_s: float = 72 * 3600.0
    rollout_id: str = ""


@dataclass(frozen=True)
class DisableResult:
    vm: VmRef
    outcome: Outcome
    reason: str = ""
    rule: str = ""
    message: str = ""
    reinstalled_extension: bool = False
    """The extension had been removed while disks stayed encrypted; the disable PUT re-added it (R-DIS-2)."""
    extension_removed: bool = False
    sequence_version: str = ""
    backup: BackupMethod | None = None
    snapshot_ids: list[str] = field(default_factory=list)
    timings: list[PhaseTiming] = field(default_factory=list)


@workflow.defn
class DisableEncryptionWorkflow:
    def __init__(self) -> None:
        self._tracker = PhaseTracker()
        self._done = DisableResult(vm=VmRef("", "", ""), outcome=Outcome.FAILED)

    @workflow.query
    def progress(self) -> VmRunProgress:
        return VmRunProgress(self._tracker.phase, self._tracker.detail)

    @workflow.run
    async def run(self, request: DisableInput) -> DisableResult:
        self._done = replace(self._done, vm=request.vm)
        tag_vm(request.vm, request.rollout_id)
        self._tracker.enter(Phase.PREFLIGHT, f"reading {request.vm.name} before disabling ADE")
        try:
            return await self._run(request)
        except StepFailed as failure:
            return self._finish(
                replace(self._done, outcome=Outcome.FAILED, reason=failure.reason, message=failure.message),
                Phase.FAILED,
            )

    async def _run(self, request: DisableInput) -> DisableResult:
        vm = request.vm
        facts = await call(InventoryActivities.read_vm_facts, vm, timedelta(minutes=5))
        refusals = rules.check_disable(facts)
        if refusals:
            return self._refuse(refusals)
        reinstall = facts.ade_extension is None
        self._done = replace(self._done, reinstalled_extension=reinstall)

        gate = await backup_gate(
            self._tracker, vm, facts.location, facts.disks, request.backup_policy, request.backup_waiver
        )
        if gate.refusal is not None:
            return self._refuse([gate.refusal])
        self._done = replace(self._done, backup=gate.method, snapshot_ids=gate.snapshot_ids)

        sequence_version = str(workflow.uuid4())
        self._done = replace(self._done, sequence_version=sequence_version)
        what = "re-adding the extension to disable (it was removed while disks stayed encrypted, R-DIS-2)"
        self._tracker.enter(Phase.ENABLE, what if reinstall else f"disabling Data (sequence {sequence_version})")
        await call(
            ExtensionActivities.put_encryption_extension,
            ExtensionRequest(vm, facts.location, rules.plan_disable_settings(sequence_version)),
            timedelta(minutes=90),
        )
        self._tracker.enter(Phase.ENCRYPTING, "decrypting data volumes; progress in the pending activity")
        await await_extension(
            ProgressRequest(vm, VolumeType.DATA, sequence_version, "DisableEncryption"),
            request.poll_interval_s,
            request.deadline_s,
        )
        removed = False
        if request.remove_extension:
            # R-DIS-2: only now, with decryption finished, may the extension go.
            self._tracker.enter(Phase.VERIFY, "removing the ADE extension (disable completed)")
            await call(ExtensionActivities.remove_encryption_extension, vm, timedelta(minutes=30))
            removed = True
        return self._finish(
            replace(
                self._done,
                outcome=Outcome.DISABLED,
                extension_removed=removed,
                message=f"{vm.name}: data volumes decrypted" + ("; extension removed" if removed else ""),
            ),
            Phase.DONE,
        )

    def _refuse(self, refusals: list[Refusal]) -> DisableResult:
        first = refusals[0]
        message = " ".join(r.render(self._done.vm) for r in refusals)
        return self._finish(
            replace(self._done, outcome=Outcome.REFUSED, reason=first.reason, rule=first.rule, message=message),
            Phase.REFUSED,
        )

    def _finish(self, result: DisableResult, phase: Phase) -> DisableResult:
        self._tracker.enter(phase, result.message or result.outcome.value)
        workflow.upsert_search_attributes([OUTCOME_KEY.value_set(result.outcome.value)])
        metrics.vm_finished(result.outcome.value, self._tracker.timings, result.backup)
        workflow.logger.info("%s: %s", result.vm.name, result.outcome.value, extra={"vm": result.vm.name})
        return replace(result, timings=list(self._tracker.timings))
