"""EncryptVmWorkflow: one VM's ADE run, phase by phase (DESIGN §4).

Thin and deterministic: every decision is a pure function of ``adeflow.rules``, every Azure call an activity.
A refusal changes nothing on the VM; enable happens only after the backup gate (R-BAK-2); the sequence
version is drawn once from the workflow's deterministic RNG and reused by every retry (R-NEW-4).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeKey
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.azure_backup import AzureBackupActivities
    from activities.backup import BackupActivities
    from activities.extension import ExtensionActivities
    from activities.inventory import InventoryActivities
    from activities.keyvault import KeyVaultActivities
    from activities.policy import PolicyActivities
    from activities.power import PowerActivities
    from activities.status import StatusActivities
    from adeflow import rules
    from adeflow.model import (
        AzureBackupRequest,
        BackupMethod,
        BackupPolicy,
        EncryptionStatus,
        EncryptVmInput,
        EncryptVmResult,
        ExtensionRequest,
        Outcome,
        Phase,
        PhaseTiming,
        ProgressRequest,
        ProtectionQuery,
        Refusal,
        RestartPolicy,
        SnapshotRequest,
        VmFacts,
        VmRef,
        VolumeType,
    )

ArgT = TypeVar("ArgT")
ResultT = TypeVar("ResultT")

PHASE_KEY = SearchAttributeKey.for_keyword("AdePhase")
VM_KEY = SearchAttributeKey.for_keyword("AdeVm")
SUBSCRIPTION_KEY = SearchAttributeKey.for_keyword("AdeSubscription")
OUTCOME_KEY = SearchAttributeKey.for_keyword("AdeOutcome")
ROLLOUT_KEY = SearchAttributeKey.for_keyword("AdeRollout")

ARM_CALL = RetryPolicy(initial_interval=timedelta(seconds=2), maximum_interval=timedelta(minutes=1))
"""ARM reads and writes: the SDK already retried throttling; these retries cover worker or network loss."""


def encrypt_vm_workflow_id(subscription_id: str, resource_group: str, vm_name: str) -> str:
    """``ade-encrypt/<sub>/<rg>/<vm>``: one id per VM, so two runs for one VM cannot overlap."""
    return f"ade-encrypt/{subscription_id}/{resource_group}/{vm_name}"


@dataclass(frozen=True)
class EncryptVmProgress:
    """Answer of the ``progress`` query: the phase and a plain-words line for operators."""

    phase: Phase
    detail: str


class _Failed(Exception):
    """Internal: end the run as failed with a reason code."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@workflow.defn
class EncryptVmWorkflow:
    def __init__(self) -> None:
        self._phase = Phase.PREFLIGHT
        self._phase_started: datetime | None = None
        self._detail = "starting"
        self._timings: list[PhaseTiming] = []
        # What has been done to the VM so far; a failed result must still say it (snapshot ids to restore from).
        self._done = EncryptVmResult(vm=VmRef("", "", ""), outcome=Outcome.FAILED)
        self._awaiting_restart_approval = False
        self._restart_approved_by = ""

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

    @workflow.query
    def progress(self) -> EncryptVmProgress:
        return EncryptVmProgress(self._phase, self._detail)

    @workflow.run
    async def run(self, request: EncryptVmInput) -> EncryptVmResult:
        vm = request.vm
        self._done = replace(self._done, vm=vm)
        attributes = [
            VM_KEY.value_set(vm.name),
            SUBSCRIPTION_KEY.value_set(vm.subscription_id),
        ]
        if request.rollout_id:
            attributes.append(ROLLOUT_KEY.value_set(request.rollout_id))
        workflow.upsert_search_attributes(attributes)
        self._enter(Phase.PREFLIGHT, f"reading {vm.name}, its disks and Key Vault")
        try:
            return await self._run(request)
        except _Failed as failure:
            return self._finish(
                replace(self._done, outcome=Outcome.FAILED, reason=failure.reason, message=failure.message),
                Phase.FAILED,
            )

    async def _run(self, request: EncryptVmInput) -> EncryptVmResult:
        vm = request.vm
        facts = await self._activity(InventoryActivities.read_vm_facts, vm, timedelta(minutes=5))
        lookup = await self._activity(KeyVaultActivities.read_key_vault, request.key_vault_id, timedelta(minutes=2))
        if lookup.vault is None:
            return self._refuse(request, [rules.key_vault_not_found(request.key_vault_id, lookup.problem)])
        findings = await self._activity(
            PolicyActivities.find_blocking_policies, vm.subscription_id, timedelta(minutes=2)
        )
        refusals = rules.preflight(request, facts, lookup.vault) + rules.check_policies(findings)
        if refusals:
            return self._refuse(request, refusals)
        volume_type = rules.decide_volume_type(request.volume_type, facts).volume_type
        assert volume_type is not None  # preflight refused otherwise
        unconfirmed = [c.name for c in rules.unconfirmed_guest_checks(request.confirmations)]
        self._done = replace(self._done, unconfirmed_checks=unconfirmed)

        refusal = await self._backup_gate(request, facts)
        if refusal is not None:
            return self._refuse(request, [refusal])

        self._enter(Phase.PLAN, f"planning volume type {volume_type.value}")
        sequence_version = str(workflow.uuid4())
        self._done = replace(self._done, volume_type=volume_type, sequence_version=sequence_version)
        settings = rules.plan_enable_settings(request, lookup.vault, volume_type, sequence_version)

        self._enter(Phase.ENABLE, f"enabling ADE ({volume_type.value}, sequence {sequence_version})")
        await self._activity(
            ExtensionActivities.put_encryption_extension,
            ExtensionRequest(vm=vm, location=facts.location, settings=settings),
            timedelta(minutes=90),
        )

        self._enter(Phase.ENCRYPTING, f"encrypting {volume_type.value}; progress in the pending activity")
        status = await self._await_encryption(request, volume_type, sequence_version)

        self._enter(Phase.VERIFY, "checking the disks' encryption state")
        after = await self._activity(InventoryActivities.read_vm_facts, vm, timedelta(minutes=5))
        verdict = rules.verify_encryption(after, volume_type)
        if not verdict.ok:
            raise _Failed("verification-failed", f"{vm.name}: {verdict.message}")
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

    async def _backup_gate(self, request: EncryptVmInput, facts: VmFacts) -> Refusal | None:
        """R-BAK-2: a backup taken and verified here (Azure Backup or snapshots), or the operator's recorded waiver."""
        policy = request.backup_policy
        if policy is BackupPolicy.WAIVE:
            waiver = request.backup_waiver
            assert waiver is not None  # preflight refused otherwise
            self._enter(Phase.BACKUP, f"backup waived by {waiver.operator}: {waiver.statement}")
            self._done = replace(self._done, backup=BackupMethod.WAIVED, backup_waiver=waiver)
            return None
        if policy in (BackupPolicy.AUTO, BackupPolicy.AZURE_BACKUP):
            self._enter(Phase.BACKUP, "looking for Azure Backup protection")
            protection = await self._activity(
                AzureBackupActivities.find_backup_protection,
                ProtectionQuery(request.vm, facts.location),
                timedelta(minutes=2),
            )
            if protection.protected:
                self._enter(Phase.BACKUP, f"on-demand Azure Backup to {protection.vault_id.rsplit('/', 1)[-1]}")
                backup = await self._activity(
                    AzureBackupActivities.run_azure_backup,
                    AzureBackupRequest(request.vm, protection, workflow.info().run_id[:8]),
                    timedelta(hours=24),
                )
                self._done = replace(
                    self._done,
                    backup=BackupMethod.AZURE_BACKUP,
                    backup_job_id=backup.job_id,
                    recovery_point_id=backup.recovery_point_id,
                )
                return None
            if policy is BackupPolicy.AZURE_BACKUP:
                return Refusal(
                    "R-BAK-2",
                    "not-protected-by-azure-backup",
                    "backup policy azure-backup, but no Recovery Services vault protects the VM.",
                    "Protect the VM in a Recovery Services vault, or use backup policy auto or snapshot.",
                )
        disk_ids = [d.managed_disk_id for d in facts.disks if d.managed_disk_id]
        self._enter(Phase.BACKUP, f"snapshotting {len(disk_ids)} disk(s)")
        snapshots = await self._activity(
            BackupActivities.snapshot_disks,
            SnapshotRequest(
                vm=request.vm,
                location=facts.location,
                disk_ids=disk_ids,
                run_tag=workflow.info().run_id[:8],
            ),
            timedelta(hours=2),
        )
        self._done = replace(self._done, backup=BackupMethod.SNAPSHOT, snapshot_ids=[s.snapshot_id for s in snapshots])
        return None

    async def _await_encryption(
        self, request: EncryptVmInput, volume_type: VolumeType, sequence_version: str
    ) -> EncryptionStatus:
        """Wait for the extension; on ``VMRestartPending`` restart by policy and keep waiting (R-ENA-2)."""
        while True:
            try:
                return await self._poll_encryption(request, volume_type, sequence_version)
            except _Failed as failure:
                if failure.reason != "vm-restart-pending" or request.restart_policy is RestartPolicy.NEVER:
                    raise
            if request.restart_policy is RestartPolicy.ASK:
                self._awaiting_restart_approval = True
                self._enter(
                    Phase.ENCRYPTING,
                    "VMRestartPending: waiting for an operator to approve the restart (update approve_restart)",
                )
                await workflow.wait_condition(lambda: bool(self._restart_approved_by))
                self._awaiting_restart_approval = False
            self._enter(Phase.ENCRYPTING, f"restarting {request.vm.name} to finish the OS volume")
            await self._activity(PowerActivities.restart_vm, request.vm, timedelta(minutes=30))
            self._enter(Phase.ENCRYPTING, f"encrypting {volume_type.value} after the restart")

    async def _poll_encryption(
        self, request: EncryptVmInput, volume_type: VolumeType, sequence_version: str
    ) -> EncryptionStatus:
        interval = timedelta(seconds=request.poll_interval_s)
        try:
            return await workflow.execute_activity_method(
                StatusActivities.await_encryption,
                ProgressRequest(vm=request.vm, volume_type=volume_type, sequence_version=sequence_version),
                start_to_close_timeout=timedelta(minutes=2),
                schedule_to_close_timeout=timedelta(seconds=request.encryption_deadline_s),
                retry_policy=RetryPolicy(initial_interval=interval, backoff_coefficient=1.0, maximum_interval=interval),
                summary=f"await encryption of {request.vm.name} ({volume_type.value})",
            )
        except ActivityError as err:
            raise self._failure(err, "encryption") from err

    async def _activity(
        self, method: Callable[[Any, ArgT], Awaitable[ResultT]], arg: ArgT, timeout: timedelta
    ) -> ResultT:
        try:
            return await workflow.execute_activity_method(
                method, arg, start_to_close_timeout=timeout, retry_policy=ARM_CALL
            )
        except ActivityError as err:
            raise self._failure(err, self._phase.value) from err

    def _failure(self, err: ActivityError, during: str) -> _Failed:
        cause = err.cause
        if isinstance(cause, ApplicationError):
            return _Failed(cause.type or "activity-failed", cause.message)
        return _Failed("activity-failed", f"{during} failed: {cause or err}")

    def _refuse(self, request: EncryptVmInput, refusals: list[Refusal]) -> EncryptVmResult:
        first = refusals[0]
        message = " ".join(r.render(request.vm) for r in refusals)
        return self._finish(
            EncryptVmResult(
                vm=request.vm, outcome=Outcome.REFUSED, reason=first.reason, rule=first.rule, message=message
            ),
            Phase.REFUSED,
        )

    def _enter(self, phase: Phase, detail: str) -> None:
        now = workflow.now()
        if self._phase_started is not None and phase is not self._phase:
            self._timings.append(PhaseTiming(self._phase, self._phase_started, now))
        if phase is not self._phase or self._phase_started is None:
            self._phase_started = now
        self._phase = phase
        self._detail = detail
        workflow.upsert_search_attributes([PHASE_KEY.value_set(phase.value)])
        workflow.set_current_details(f"**{phase.value}**: {detail}")

    def _finish(self, result: EncryptVmResult, phase: Phase) -> EncryptVmResult:
        self._enter(phase, result.message or result.outcome.value)
        workflow.upsert_search_attributes([OUTCOME_KEY.value_set(result.outcome.value)])
        return replace(result, timings=list(self._timings))
