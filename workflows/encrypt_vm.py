"""EncryptVmWorkflow: one VM's ADE run, phase by phase (docs/original-design.md §4).

Thin and deterministic: every decision is a pure function of ``adeflow.domain.rules``, every Azure call an activity.
A refusal changes nothing on the VM; enable happens only after the backup gate (R-BAK-2); the sequence
version is drawn once from the workflow's deterministic RNG and reused by every retry (R-NEW-4).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.extension import ExtensionActivities
    from activities.inventory import InventoryActivities
    from activities.keyvault import KeyVaultActivities
    from activities.policy import PolicyActivities
    from activities.power import PowerActivities
    from adeflow.domain import rules
    from adeflow.domain.model import (
        EncryptionStatus,
        EncryptVmInput,
        EncryptVmResult,
        ExtensionRequest,
        Outcome,
        Phase,
        ProgressRequest,
        Refusal,
        RestartPolicy,
        VmRef,
        VolumeType,
    )
    from adeflow.domain.rollout import VmFinished
    from workflows import metrics
    from workflows.steps import (
        OUTCOME_KEY,
        VOLUME_TYPE_KEY,
        PhaseTracker,
        StepFailed,
        await_extension,
        backup_gate,
        call,
        tag_vm,
    )


def encrypt_vm_workflow_id(vm: VmRef) -> str:
    """``encrypt/<vm>/<rg>/<subscription>``: the VM's name first (it is what operators scan for in the UI list),
    and one id per VM, so two encryption runs for one VM cannot overlap."""
    return f"encrypt/{vm.name}/{vm.resource_group}/{vm.subscription_id}"


@dataclass(frozen=True)
class VmRunProgress:
    """Answer of the ``progress`` query: the phase and a plain-words line for operators."""

    phase: Phase
    detail: str


@workflow.defn
class EncryptVmWorkflow:
    def __init__(self) -> None:
        self._tracker = PhaseTracker()
        # What has been done to the VM so far; a failed result must still say it (snapshot ids to restore from).
        self._done = EncryptVmResult(vm=VmRef("", "", ""), outcome=Outcome.FAILED)
        self._awaiting_restart_approval = False
        self._restart_approved_by = ""

    @workflow.query
    def progress(self) -> VmRunProgress:
        return VmRunProgress(self._tracker.phase, self._tracker.detail)

    @workflow.update
    def approve_restart(self, operator: str) -> str:
        """Operator's go-ahead for the restart ADE asks for (restart policy ``ask``, R-ENA-2)."""
        self._restart_approved_by = operator
        return f"restart of {self._done.vm.name} approved by {operator}"

    @approve_restart.validator
    def _validate_approve_restart(self, operator: str) -> None:
        if not self._awaiting_restart_approval:
            raise ValueError("this run is not waiting for a restart approval")
        if not operator.strip():
            raise ValueError("name the operator who approves the restart")

    @workflow.run
    async def run(self, request: EncryptVmInput) -> EncryptVmResult:
        self._done = replace(self._done, vm=request.vm)
        tag_vm(request.vm, request.rollout_id)
        self._tracker.enter(Phase.PREFLIGHT, f"reading {request.vm.name}, its disks and Key Vault")
        try:
            result = await self._run(request)
        except StepFailed as failure:
            result = self._finish(
                replace(self._done, outcome=Outcome.FAILED, reason=failure.reason, message=failure.message),
                Phase.FAILED,
            )
        if request.notify_workflow_id:
            await self._notify(request, result)
        return result

    async def _notify(self, request: EncryptVmInput, result: EncryptVmResult) -> None:
        """Report to the rollout; a rollout that has ended no longer listens, which is fine."""
        event = VmFinished(
            index=request.rollout_index,
            outcome=result.outcome.value,
            reason=result.reason,
            rule=result.rule,
            message=result.message[:500],
            seconds=sum(t.seconds for t in result.timings),
        )
        try:
            await workflow.get_external_workflow_handle(request.notify_workflow_id).signal("vm_finished", event)
        except ApplicationError as err:
            workflow.logger.warning("rollout %s did not take the report: %s", request.notify_workflow_id, err)

    async def _run(self, request: EncryptVmInput) -> EncryptVmResult:
        vm = request.vm
        facts = await call(InventoryActivities.read_vm_facts, vm, timedelta(minutes=5))
        lookup = await call(KeyVaultActivities.read_key_vault, request.key_vault_id, timedelta(minutes=2))
        if lookup.vault is None:
            return self._refuse([rules.key_vault_not_found(request.key_vault_id, lookup.problem, denied=lookup.denied)])
        findings = await call(PolicyActivities.find_blocking_policies, vm.subscription_id, timedelta(minutes=2))
        refusals = rules.preflight(request, facts, lookup.vault) + rules.check_policies(findings)
        if refusals:
            return self._refuse(refusals)
        volume_type = rules.decide_volume_type(request.volume_type, facts).volume_type
        assert volume_type is not None  # preflight refused otherwise
        workflow.upsert_search_attributes([VOLUME_TYPE_KEY.value_set(volume_type.value)])
        unconfirmed = [c.name for c in rules.unconfirmed_guest_checks(request.confirmations)]
        self._done = replace(self._done, unconfirmed_checks=unconfirmed, volume_type=volume_type)

        gate = await backup_gate(
            self._tracker, vm, facts.location, facts.disks, request.backup_policy, request.backup_waiver
        )
        if gate.refusal is not None:
            return self._refuse([gate.refusal])
        self._done = replace(
            self._done,
            backup=gate.method,
            backup_waiver=gate.waiver,
            snapshot_ids=gate.snapshot_ids,
            backup_job_id=gate.backup_job_id,
            recovery_point_id=gate.recovery_point_id,
        )

        self._tracker.enter(Phase.PLAN, f"planning volume type {volume_type.value}")
        sequence_version = str(workflow.uuid4())
        self._done = replace(self._done, sequence_version=sequence_version)
        settings = rules.plan_enable_settings(request, lookup.vault, volume_type, sequence_version)

        self._tracker.enter(
            Phase.ENABLE, f"enabling ADE ({settings.encryption_operation}, {volume_type.value}, {sequence_version})"
        )
        await call(
            ExtensionActivities.put_encryption_extension,
            ExtensionRequest(vm=vm, location=facts.location, settings=settings),
            timedelta(minutes=90),
        )

        self._tracker.enter(Phase.ENCRYPTING, f"encrypting {volume_type.value}; progress in the pending activity")
        status = await self._await_encryption(request, volume_type, sequence_version, settings.encryption_operation)

        self._tracker.enter(Phase.VERIFY, "checking the disks' encryption state")
        after = await call(InventoryActivities.read_vm_facts, vm, timedelta(minutes=5))
        verdict = rules.verify_encryption(after, volume_type)
        if not verdict.ok:
            raise StepFailed("verification-failed", f"{vm.name}: {verdict.message}")
        return self._finish(
            replace(
                self._done,
                outcome=Outcome.ENCRYPTED,
                message=verdict.message,
                status=status,
                encrypted_disks=verdict.encrypted_disks,
            ),
            Phase.DONE,
        )

    async def _await_encryption(
        self, request: EncryptVmInput, volume_type: VolumeType, sequence_version: str, operation: str
    ) -> EncryptionStatus:
        """Wait for the extension; on ``VMRestartPending`` restart by policy and keep waiting (R-ENA-2)."""
        poll = ProgressRequest(request.vm, volume_type, sequence_version, operation)
        while True:
            try:
                return await await_extension(poll, request.poll_interval_s, request.encryption_deadline_s)
            except StepFailed as failure:
                if failure.reason != "vm-restart-pending" or request.restart_policy is RestartPolicy.NEVER:
                    raise
            if request.restart_policy is RestartPolicy.ASK:
                self._awaiting_restart_approval = True
                self._tracker.enter(
                    Phase.ENCRYPTING,
                    "VMRestartPending: waiting for an operator to approve the restart (update approve_restart)",
                )
                await workflow.wait_condition(lambda: bool(self._restart_approved_by))
                self._awaiting_restart_approval = False
            self._tracker.enter(Phase.ENCRYPTING, f"restarting {request.vm.name} to finish the OS volume")
            await call(PowerActivities.restart_vm, request.vm, timedelta(minutes=30))
            self._tracker.enter(Phase.ENCRYPTING, f"encrypting {volume_type.value} after the restart")

    def _refuse(self, refusals: list[Refusal]) -> EncryptVmResult:
        first = refusals[0]
        message = " ".join(r.render(self._done.vm) for r in refusals)
        return self._finish(
            replace(self._done, outcome=Outcome.REFUSED, reason=first.reason, rule=first.rule, message=message),
            Phase.REFUSED,
        )

    def _finish(self, result: EncryptVmResult, phase: Phase) -> EncryptVmResult:
        self._tracker.enter(phase, result.message or result.outcome.value)
        workflow.upsert_search_attributes([OUTCOME_KEY.value_set(result.outcome.value)])
        metrics.vm_finished(result.outcome.value, self._tracker.timings, result.backup)
        workflow.logger.info("%s: %s", result.vm.name, result.outcome.value, extra={"vm": result.vm.name})
        return replace(result, timings=list(self._tracker.timings))
