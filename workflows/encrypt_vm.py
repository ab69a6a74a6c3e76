"""EncryptVmWorkflow: one VM's ADE run, phase by phase (docs/original-design.md §4).

Thin and deterministic: every decision is a pure function of ``adeflow.domain.rules``, every Azure call an activity.
A refusal changes nothing on the VM; enable happens only after the backup gate (R-BAK-2); the sequence
version is drawn once from the workflow's deterministic RNG and reused by every retry (R-NEW-4).
"""

from __future__ import annotations

from dataclasses import replace
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
        RestartPolicy,
        VmFacts,
        VmRef,
        VolumeType,
    )
    from adeflow.domain.rollout import VmFinished
    from adeflow.domain.vocabulary import Reason
    from workflows.steps import VOLUME_TYPE_KEY, StepFailed, await_extension, backup_gate, call
    from workflows.vm_run import VmRunWorkflow, vm_workflow_id


def encrypt_vm_workflow_id(vm: VmRef) -> str:
    """``encrypt/<vm>/<rg>/<subscription>`` (lower case): two encryption runs for one VM cannot overlap."""
    return vm_workflow_id("encrypt", vm)


@workflow.defn
class EncryptVmWorkflow(VmRunWorkflow[EncryptVmResult]):
    def __init__(self) -> None:
        super().__init__(EncryptVmResult(vm=VmRef("", "", ""), outcome=Outcome.FAILED))
        self._awaiting_restart_approval = False
        self._restart_approved_by = ""

    @workflow.update(description="Approve the restart ADE asks for (restart policy ask, R-ENA-2). Argument: operator.")
    def approve_restart(self, operator: str) -> str:
        """Operator's go-ahead for the restart ADE asks for (restart policy ``ask``, R-ENA-2)."""
        self._restart_approved_by = operator
        return f"restart of {self.done.vm.name} approved by {operator}"

    @approve_restart.validator
    def _validate_approve_restart(self, operator: str) -> None:
        if not self._awaiting_restart_approval:
            raise ValueError("this run is not waiting for a restart approval")
        if not operator.strip():
            raise ValueError("name the operator who approves the restart")

    @workflow.run
    async def run(self, request: EncryptVmInput) -> EncryptVmResult:
        reading = f"reading {request.vm.name}, its disks and Key Vault"
        result = await self.execute(request.vm, request.rollout_id, reading, lambda: self._runbook(request))
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

    async def _runbook(self, request: EncryptVmInput) -> EncryptVmResult:
        """Preflight, backup gate (R-BAK-2), plan, enable, wait for encryption, verify."""
        vm = request.vm
        facts = await call(InventoryActivities.read_vm_facts, vm, timedelta(minutes=5))
        lookup = await call(KeyVaultActivities.read_key_vault, request.key_vault_id, timedelta(minutes=2))
        if lookup.vault is None:
            return self.refuse([rules.key_vault_not_found(request.key_vault_id, lookup.problem, denied=lookup.denied)])
        findings = await call(PolicyActivities.find_blocking_policies, vm.subscription_id, timedelta(minutes=2))
        refusals = rules.preflight(request, facts, lookup.vault) + rules.check_policies(findings)
        if refusals:
            return self.refuse(refusals)
        volume_type = rules.decide_volume_type(request.volume_type, facts).volume_type
        if volume_type is None:  # preflight refuses every request it cannot decide a volume type for
            raise StepFailed(Reason.PRECONDITION_BROKEN, f"{vm.name}: preflight passed without a volume type")
        workflow.upsert_search_attributes([VOLUME_TYPE_KEY.value_set(volume_type.value)])
        unconfirmed = [c.name for c in rules.unconfirmed_guest_checks(request.confirmations)]
        self.done = replace(self.done, unconfirmed_checks=unconfirmed, volume_type=volume_type)

        gate = await backup_gate(
            self.tracker, vm, facts.location, facts.disks, request.backup_policy, request.backup_waiver
        )
        if gate.refusal is not None:
            return self.refuse([gate.refusal])
        self.done = replace(
            self.done,
            backup=gate.method,
            backup_waiver=gate.waiver,
            snapshot_ids=gate.snapshot_ids,
            backup_job_id=gate.backup_job_id,
            recovery_point_id=gate.recovery_point_id,
        )

        self.enter(Phase.PLAN, f"planning volume type {volume_type.value}")
        sequence_version = str(workflow.uuid4())
        self.done = replace(self.done, sequence_version=sequence_version)
        settings = rules.plan_enable_settings(request, lookup.vault, volume_type, sequence_version)

        self.enter(
            Phase.ENABLE, f"enabling ADE ({settings.encryption_operation}, {volume_type.value}, {sequence_version})"
        )
        await call(
            ExtensionActivities.put_encryption_extension,
            ExtensionRequest(vm=vm, location=facts.location, settings=settings),
            timedelta(minutes=90),
        )

        self.enter(Phase.ENCRYPTING, f"encrypting {volume_type.value}; progress in the pending activity")
        status = await self._await_encryption(
            request, facts, volume_type, sequence_version, settings.encryption_operation
        )

        self.enter(Phase.VERIFY, "checking the disks' encryption state")
        after = await call(InventoryActivities.read_vm_facts, vm, timedelta(minutes=5))
        verdict = rules.verify_encryption(after, volume_type)
        if not verdict.ok:
            raise StepFailed(Reason.VERIFICATION_FAILED, f"{vm.name}: {verdict.message}")
        return self.finish(
            replace(
                self.done,
                outcome=Outcome.ENCRYPTED,
                message=verdict.message,
                status=status,
                encrypted_disks=verdict.encrypted_disks,
            )
        )

    async def _await_encryption(
        self, request: EncryptVmInput, facts: VmFacts, volume_type: VolumeType, sequence_version: str, operation: str
    ) -> EncryptionStatus:
        """Wait for the extension; on ``VMRestartPending`` restart by policy and keep waiting (R-ENA-2).

        The poll schedule (``adeflow.domain.polling``) gets the volume sizes: data volumes in LUN order, as the
        extension encrypts them, then the OS volume."""
        poll = ProgressRequest(
            request.vm,
            volume_type,
            sequence_version,
            operation,
            max_latency_s=request.poll_interval_s if request.adaptive_polling else 0.0,
            os_gb=facts.os_disk.size_gb,
            data_gb=[d.size_gb for d in sorted(facts.data_disks, key=lambda d: d.lun or 0)],
            fast_gb_per_hour=request.encryption_gb_per_hour,
        )
        while True:
            try:
                return await await_extension(poll, request.poll_interval_s, request.encryption_deadline_s)
            except StepFailed as failure:
                if failure.reason != Reason.VM_RESTART_PENDING or request.restart_policy is RestartPolicy.NEVER:
                    raise
            if request.restart_policy is RestartPolicy.ASK:
                self._awaiting_restart_approval = True
                self.enter(
                    Phase.ENCRYPTING,
                    "VMRestartPending: waiting for an operator to approve the restart (update approve_restart)",
                )
                await workflow.wait_condition(lambda: bool(self._restart_approved_by))
                self._awaiting_restart_approval = False
            self.enter(Phase.ENCRYPTING, f"restarting {request.vm.name} to finish the OS volume")
            await call(PowerActivities.restart_vm, request.vm, timedelta(minutes=30))
            self.enter(Phase.ENCRYPTING, f"encrypting {volume_type.value} after the restart")
            # the volumes are done but the last step: the sizes no longer say when (the first read comes at once)
            poll = replace(poll, fast_gb_per_hour=0.0)
