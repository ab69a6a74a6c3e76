"""The migration run's state and the steps both paths share: endings, the durable waits for people, the disk copy,
the new VM and its check, the rollback before cutover and the approved cleanup.

``MigrateToHostEncryptionWorkflow`` (``workflows/migrate_vm.py``) holds the runbooks and the operators' updates; this
base holds what they call, so each module stays readable. Deterministic: decisions come from
``adeflow.domain.migration``, every Azure call is an activity.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.migration_disks import MigrationDiskActivities
    from activities.migration_vm import MigrationVmActivities
    from adeflow.domain import migration
    from adeflow.domain.migration import (
        Approval,
        ApprovalKind,
        DiskMapping,
        MigrationInput,
        MigrationOutcome,
        MigrationPath,
        MigrationPhase,
        MigrationPhaseTiming,
        MigrationResult,
        SourceVmDefinition,
    )
    from adeflow.domain.migration.arm_read import source_recreate_body
    from adeflow.domain.model import BackupMethod, Refusal, VmRef
    from adeflow.domain.vocabulary import Reason
    from workflows.steps import PhaseTracker, StepFailed, call
    from workflows.vm_run import RunShell

READ = timedelta(minutes=5)
WRITE = timedelta(minutes=30)
"""A VM or NIC PUT, a deallocation, a start, a delete: minutes on Azure."""
FEATURE_WAIT = timedelta(hours=4)
"""M-5: Azure says minutes; a subscription under review can take hours."""
COPY = timedelta(hours=48)
"""One disk's copy (resumable from its heartbeat: a retry continues where the last attempt stopped)."""


class MigrationRun(RunShell[MigrationPhase, MigrationPhaseTiming]):
    def __init__(self) -> None:
        super().__init__(PhaseTracker(MigrationPhase.PREFLIGHT, MigrationPhaseTiming))
        self.result = MigrationResult(vm=VmRef("", "", ""), outcome=MigrationOutcome.FAILED)
        """What has been done so far; a failed or rolled-back result still says it."""
        self.approvals: list[Approval] = []
        self.path = MigrationPath.NONE
        self.finished = False
        self.deallocated = False
        self.source_object_deleted = False
        self.new_vm_verified = False
        self.new_vm: VmRef | None = None
        self.kept_by = ""
        """Who declined the cleanup (the source stays; the run ends migrated)."""
        self.backup: BackupMethod | None = None
        self.waiting_since: datetime | None = None

    # -- approvals and waits -----------------------------------------------------------------------------------------

    def on_record(self, kind: ApprovalKind) -> Approval | None:
        return migration.approval_on_record(self.approvals, kind)

    def record(self, kind: ApprovalKind, operator: str, note: str = "") -> str:
        approval = Approval(kind, operator.strip(), workflow.now(), note)
        self.approvals.append(approval)
        self.result = replace(self.result, approvals=list(self.approvals))
        workflow.logger.info("%s: %s by %s", self.result.vm.name, kind.value, approval.by)
        return f"{self.result.vm.name}: {kind.value} recorded for {approval.by} at {approval.at.isoformat()}"

    async def wait_for(
        self, phase: MigrationPhase, what: str, done: Callable[[], bool], every_s: float, until: datetime | None = None
    ) -> bool:
        """Wait durably for a person (or until ``until``), saying so in the current details and, every ``every_s``,
        again with how long it has been: the run never times out silently. False: ``until`` came first."""
        since = workflow.now()
        self.waiting_since = since
        self.enter(phase, f"waiting for {what} (since {since:%Y-%m-%d %H:%M} UTC)")
        reminders = 0
        try:
            while not done():
                step = timedelta(seconds=every_s)
                if until is not None:
                    if workflow.now() >= until:
                        return False
                    step = min(step, until - workflow.now())
                try:
                    await workflow.wait_condition(done, timeout=step, timeout_summary=f"reminder: {what}")
                except TimeoutError:
                    if until is None or workflow.now() < until:
                        reminders += 1
                        hours = (workflow.now() - since).total_seconds() / 3600
                        self.enter(phase, f"still waiting for {what}: {hours:.1f} h so far (reminder {reminders})")
                        workflow.logger.warning("%s: still waiting for %s", self.result.vm.name, what)
            return True
        finally:
            self.waiting_since = None

    # -- endings ---------------------------------------------------------------------------------------------------

    def conclude(self, result: MigrationResult, phase: MigrationPhase) -> MigrationResult:
        """The run's last phase and ``AdeOutcome`` (with ``AdeRule`` unless it migrated), metric and log line."""
        self.finished = True
        why = "" if result.outcome is MigrationOutcome.MIGRATED else result.rule or result.reason
        self.end(result.vm, phase, result.outcome.value, result.message or result.outcome.value, self.backup, why)
        self.result = replace(result, timings=list(self.tracker.timings), approvals=list(self.approvals))
        return self.result

    def refuse(self, refusals: list[Refusal], path: MigrationPath = MigrationPath.NONE) -> MigrationResult:
        first = refusals[0]
        message = " ".join(r.render(self.result.vm) for r in refusals)
        result = replace(
            self.result,
            outcome=MigrationOutcome.REFUSED,
            path=path,
            reason=first.reason,
            rule=first.rule,
            message=message,
            refusals=list(refusals),
        )
        return self.conclude(result, MigrationPhase.REFUSED)

    def fail(self, reason: str, message: str) -> MigrationResult:
        return self.conclude(
            replace(self.result, outcome=MigrationOutcome.FAILED, reason=reason, message=message),
            MigrationPhase.FAILED,
        )

    def note(self, text: str) -> None:
        self.result = replace(self.result, notes=[*self.result.notes, text])

    # -- steps -----------------------------------------------------------------------------------------------------

    async def register_feature(self, vm: VmRef) -> None:
        """M-5 with ``--register-feature``: register and wait (a Registering feature is only waited for)."""
        self.enter(MigrationPhase.REGISTER_FEATURE, "registering Microsoft.Compute/EncryptionAtHost and waiting")
        await call(MigrationVmActivities.register_host_encryption, vm.subscription_id, FEATURE_WAIT)
        self.note(
            "M-5: registered Microsoft.Compute/EncryptionAtHost in the subscription and re-registered the provider"
        )

    async def power(self, vm: VmRef, action: migration.PowerAction) -> str:
        return await call(MigrationVmActivities.set_vm_power, migration.PowerRequest(vm, action), WRITE)

    async def copy_disks(self, request: MigrationInput, source: SourceVmDefinition) -> list[str]:
        """M-1/M-2/M-3: an Upload disk per source disk, then the sparse copies in parallel; returns the new disk ids."""
        plans = migration.plan_disks(request, source)
        self.enter(MigrationPhase.CREATE_DISKS, f"creating {len(plans)} Upload disk(s)")
        for plan in plans:
            refusals = migration.check_new_disk_body(plan.target_name, migration.upload_disk_body(plan, source))
            if refusals:  # never: the domain builds Upload bodies; a bug is a failed run, not a marked disk
                raise StepFailed(refusals[0].reason, refusals[0].render(request.vm))
        await asyncio.gather(
            *(
                call(
                    MigrationDiskActivities.create_upload_disk,
                    migration.upload_disk_request(request.vm, plan, source),
                    WRITE,
                )
                for plan in plans
            )
        )
        self.enter(MigrationPhase.COPYING, f"copying the written ranges of {len(plans)} disk(s) in parallel")
        copies = [
            migration.DiskCopyRequest(
                plan.source.disk_id,
                plan.target_id,
                plan.source.size_bytes,
                request.sas_duration_s,
                request.copy_parallelism,
                request.checkpoint_bytes,
            )
            for plan in plans
        ]
        results = await asyncio.gather(*(call(MigrationDiskActivities.copy_disk, c, COPY) for c in copies))
        self.enter(MigrationPhase.VERIFY_COPY, "checking every copy covered its source's written ranges")
        mappings = [
            DiskMapping(
                plan.source.disk_id,
                plan.target_id,
                plan.source.lun,
                plan.source.size_bytes,
                done.allocated_bytes,
                done.copied_bytes,
                done.resumed_from_bytes,
                verified=True,
            )
            for plan, done in zip(plans, results, strict=True)
        ]
        windows = [w for done in results for w in done.sas_windows]
        self.result = replace(self.result, disks=mappings, sas_windows=windows)
        compared = sum(done.checksums_compared for done in results)
        self.note(f"copies verified: {sum(d.ranges for d in results)} range(s), {compared} checksum(s) compared")
        return [plan.target_id for plan in plans]

    async def create_new_vm(self, vm: VmRef, body: dict[str, object], source: SourceVmDefinition) -> None:
        self.new_vm = vm
        self.enter(MigrationPhase.CREATE_VM, f"creating {vm.name} with encryption at host")
        created = await call(
            MigrationVmActivities.create_migrated_vm,
            migration.NewVmRequest(vm, dict(body), migrated_from=source.resource_id),
            WRITE,
        )
        self.result = replace(self.result, new_vm_id=created.resource_id)

    async def verify_new_vm(self, source: SourceVmDefinition, disk_ids: list[str] | None) -> None:
        """Encryption at host on, running, the disks attached, the link to the source: else a StepFailed."""
        if self.new_vm is None:
            raise StepFailed(Reason.PRECONDITION_BROKEN, f"{source.vm.name}: no new VM to verify")
        self.enter(MigrationPhase.VERIFY_VM, f"checking {self.new_vm.name}: encryption at host, power, disks")
        facts = await call(MigrationVmActivities.read_migrated_vm, self.new_vm, READ)
        verdict = migration.verify_new_vm(self.new_vm.name, source, facts, disk_ids)
        if not verdict.ok:
            raise StepFailed(Reason.NEW_VM_NOT_VERIFIED, verdict.message)
        self.new_vm_verified = True
        self.result = replace(self.result, new_vm_id=facts.resource_id, message=verdict.message)

    async def roll_back(self, source: SourceVmDefinition, failure: StepFailed) -> MigrationResult:
        """Before cutover: the source runs again (started, or re-created from its recorded definition when its VM
        object was deleted for NIC reuse), the unverified new VM is stopped (never deleted: evidence), nothing of the
        source is deleted. A rollback that itself fails says both."""
        vm = source.vm
        self.enter(MigrationPhase.ROLLBACK, f"{failure.message} Bringing {vm.name} back.")
        done: list[str] = []
        try:
            if self.new_vm is not None:
                created = await call(MigrationVmActivities.read_migrated_vm, self.new_vm, READ)
                if created.exists and self.source_object_deleted:
                    reason = "rollback: free the source's NICs"
                    await call(
                        MigrationVmActivities.delete_vm_object, migration.DeleteVmRequest(self.new_vm, reason), WRITE
                    )
                    done.append(f"deleted the VM object {self.new_vm.name} (its disks kept) to free the NICs")
                elif created.exists:
                    await self.power(self.new_vm, migration.PowerAction.DEALLOCATE)
                    done.append(f"stopped {self.new_vm.name} (kept for inspection)")
            if self.source_object_deleted:
                body = source_recreate_body(source)
                await call(MigrationVmActivities.create_migrated_vm, migration.NewVmRequest(vm, body), WRITE)
                done.append(f"re-created {vm.name} from its recorded definition and disks")
                self.source_object_deleted = False
            state = await self.power(vm, migration.PowerAction.START)
            done.append(f"{vm.name} is {state or 'started'}")
        except StepFailed as again:
            return self.fail(
                Reason.ROLLBACK_FAILED,
                f"{failure.message} The rollback failed too: {again.message} Done so far: "
                f"{'; '.join(done) or 'nothing'}. Fix: start {vm.name} by hand (its disks are untouched).",
            )
        message = f"{vm.name}: rolled back ({failure.reason}): {failure.message} {'; '.join(done)}."
        result = replace(self.result, outcome=MigrationOutcome.ROLLED_BACK, reason=failure.reason, message=message)
        return self.conclude(result, MigrationPhase.ROLLBACK)

    async def clean_up(self, request: MigrationInput, source: SourceVmDefinition, vault_id: str) -> None:
        """M-8 with the recorded approval; a vault still serving other ADE VMs keeps its setting (noted)."""
        nics = [] if self.new_vm is None else migration.nic_ids(request, source)
        users: list[str] = []
        if request.cleanup.reset_vault_disk_encryption and vault_id:
            query = migration.VaultUsersQuery(vault_id, source.resource_id)
            users = await call(MigrationVmActivities.find_vault_users, query, WRITE)
        plan = migration.plan_cleanup(
            request, source, self.approvals, self.new_vm_verified, nics, vault_id, [u for u in users if u]
        )
        if plan.refusals and all(r.reason == Reason.VAULT_STILL_USED for r in plan.refusals):
            self.note(plan.refusals[0].render(request.vm))
            plan = migration.plan_cleanup(request, source, self.approvals, self.new_vm_verified, nics)
        if plan.refusals:
            raise StepFailed(plan.refusals[0].reason, plan.refusals[0].render(request.vm))
        count = len(plan.vm_ids) + len(plan.nic_ids) + len(plan.disk_ids)
        self.enter(MigrationPhase.CLEANUP, f"deleting {count} resource(s) of {source.vm.name} (approved)")
        cleanup = migration.CleanupRequest(request.vm, plan.vm_ids, plan.nic_ids, plan.disk_ids, plan.vault_id)
        done = await call(MigrationVmActivities.cleanup_source, cleanup, WRITE)
        self.result = replace(self.result, deleted=done.deleted, vault_reset=done.vault_reset)
