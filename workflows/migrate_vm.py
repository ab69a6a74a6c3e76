"""MigrateToHostEncryptionWorkflow: one VM off ADE onto encryption at host, as the runbook reads
(docs/ade-migration.md, M-1 .. M-8).

Preflight reads only and refuses with the rule and the fix, writing nothing. The data-only path (M-3): backup gate,
disable ADE on the data volumes and wait until decrypted, remove the extension, the downtime approval (or window),
deallocate, an Upload disk and a sparse copy per disk (in parallel), the new VM with encryption at host from the new
disks, its check, the owner's confirmation, and the cleanup only with a recorded approval. The OS-encrypted path
(M-4): a new VM from the manifest's image, the owner's "data moved" confirmation, the check, the same cleanup.
Until the new VM is verified the source can always come back (rollback); nothing of it is deleted before the
cleanup approval. Every wait for a person is durable and visible (phase, current details, reminders).
"""

from __future__ import annotations

from dataclasses import replace

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.extension import ExtensionActivities
    from activities.migration_vm import MigrationVmActivities
    from adeflow.domain import migration, rules
    from adeflow.domain.migration import (
        ApprovalKind,
        DowntimeStatus,
        FeatureAction,
        MigrationFacts,
        MigrationInput,
        MigrationOutcome,
        MigrationPath,
        MigrationPhase,
        MigrationProgress,
        MigrationResult,
        NicPolicy,
        PowerAction,
    )
    from adeflow.domain.migration.fleet_rollout import finished_report
    from adeflow.domain.model import ExtensionRequest, ProgressRequest, VmRef, VolumeType
    from adeflow.domain.vocabulary import Reason
    from workflows.migration_run import READ, WRITE, MigrationRun
    from workflows.steps import StepFailed, await_extension, backup_gate, call
    from workflows.vm_run import vm_workflow_id


def migrate_workflow_id(vm: VmRef) -> str:
    """``migrate/<vm>/<rg>/<subscription>`` (lower case): one migration per VM at a time."""
    return vm_workflow_id("migrate", vm)


@workflow.defn
class MigrateToHostEncryptionWorkflow(MigrationRun):
    @workflow.query
    def progress(self) -> MigrationProgress:
        """Phase, words for operators, bytes copied so far (known per finished disk) and since when a person is
        awaited."""
        return MigrationProgress(
            self.tracker.phase,
            self.tracker.detail,
            self.result.bytes_copied,
            self.result.bytes_allocated,
            self.waiting_since,
        )

    # -- operators and owners --------------------------------------------------------------------------------------

    @workflow.update
    def approve_downtime(self, operator: str) -> str:
        """M-7: the source may be deallocated (and, with NIC reuse, its VM object deleted)."""
        return self.record(ApprovalKind.DOWNTIME, operator)

    @approve_downtime.validator
    def _check_downtime(self, operator: str) -> None:
        self._open(operator)
        if self.path is MigrationPath.REBUILD:
            raise ValueError("the rebuild path (M-4) never stops the source: no downtime to approve")
        if self.deallocated:
            raise ValueError("the source is already deallocated")

    @workflow.update
    def confirm_new_vm(self, operator: str) -> str:
        """The owner says the new VM works (M-8: the first condition of any cleanup)."""
        return self.record(ApprovalKind.NEW_VM_WORKS, operator)

    @confirm_new_vm.validator
    def _check_new_vm(self, operator: str) -> None:
        self._open(operator)
        if not self.new_vm_verified:
            raise ValueError("the new VM is not verified yet; confirm it once the run waits for the owner")
        if self.path is MigrationPath.REBUILD and self.on_record(ApprovalKind.DATA_MOVED) is None:
            raise ValueError("the data is not confirmed moved yet (M-4): confirm_data_moved first")

    @workflow.update
    def confirm_data_moved(self, operator: str) -> str:
        """M-4: the owner moved the application data to the new VM (adeflow cannot)."""
        return self.record(ApprovalKind.DATA_MOVED, operator)

    @confirm_data_moved.validator
    def _check_data_moved(self, operator: str) -> None:
        self._open(operator)
        if self.path is not MigrationPath.REBUILD:
            raise ValueError("only the rebuild path (M-4) waits for the data to be moved")
        if not self.new_vm_verified:
            raise ValueError("the new VM is not verified yet")

    @workflow.update
    def approve_cleanup(self, operator: str) -> str:
        """M-8: the source VM, its disks and NICs may be deleted (as the cleanup policy says)."""
        return self.record(ApprovalKind.CLEANUP, operator)

    @approve_cleanup.validator
    def _check_cleanup(self, operator: str) -> None:
        self._open(operator)
        if self.on_record(ApprovalKind.NEW_VM_WORKS) is None:
            raise ValueError("the owner has not confirmed the new VM yet (M-8): confirm_new_vm first")

    @workflow.update
    def keep_source(self, operator: str) -> str:
        """Decline the cleanup: the run ends migrated and the source stays (deleting it later is the operator's)."""
        self.kept_by = operator.strip()
        return f"{self.result.vm.name}: the source is kept, as {self.kept_by} decided"

    @keep_source.validator
    def _check_keep(self, operator: str) -> None:
        self._check_cleanup(operator)

    def _open(self, operator: str) -> None:
        if not operator.strip():
            raise ValueError("name the person who decides")
        if self.finished:
            raise ValueError(f"the run has ended ({self.result.outcome.value})")

    # -- the run ---------------------------------------------------------------------------------------------------

    @workflow.run
    async def run(self, request: MigrationInput) -> MigrationResult:
        self.result = replace(self.result, vm=request.vm)
        self.start(request.vm, request.rollout_id, f"reading {request.vm.name}, its disks, NICs and the subscription")
        try:
            result = await self._runbook(request)
        except StepFailed as failure:
            result = self.fail(failure.reason, failure.message)
        if request.notify_workflow_id:
            await self._notify(request, result)
        return result

    async def _notify(self, request: MigrationInput, result: MigrationResult) -> None:
        """Report to the rollout that started this run (its waves, canary and failure budget count on it); a rollout
        that has ended no longer listens, which is fine."""
        event = finished_report(request.rollout_index, result)
        try:
            await workflow.get_external_workflow_handle(request.notify_workflow_id).signal("vm_finished", event)
        except ApplicationError as err:
            workflow.logger.warning("rollout %s did not take the report: %s", request.notify_workflow_id, err)

    async def _runbook(self, request: MigrationInput) -> MigrationResult:
        facts = await call(MigrationVmActivities.read_migration_facts, request, READ)
        checked = migration.preflight(request, facts)
        decision = checked.decision
        refusals = list(checked.refusals)
        if not refusals and decision.disable_first:
            refusals += rules.check_disable(facts.vm)
        if refusals:
            return self.refuse(refusals, decision.path if decision.refusal is None else MigrationPath.NONE)
        self.path = decision.path
        self.result = replace(self.result, path=decision.path, notes=list(checked.notes))
        if checked.feature in (FeatureAction.REGISTER, FeatureAction.WAIT):
            await self.register_feature(request.vm)
        if decision.path is MigrationPath.REBUILD:
            return await self._rebuild(request, facts)
        return await self._copy_path(request, facts, decision.disable_first, decision.remove_extension)

    async def _copy_path(
        self, request: MigrationInput, facts: MigrationFacts, disable_first: bool, remove_extension: bool
    ) -> MigrationResult:
        vm, source = request.vm, facts.source
        if disable_first:
            gate = await backup_gate(
                self.tracker, vm, source.location, facts.vm.disks, request.backup_policy, request.backup_waiver
            )
            if gate.refusal is not None:
                return self.refuse([gate.refusal], MigrationPath.COPY_DISKS)
            self.backup = gate.method
            if gate.snapshot_ids:
                self.note(f"R-BAK-2: snapshots {', '.join(s.rsplit('/', 1)[-1] for s in gate.snapshot_ids)}")
            sequence_version = str(workflow.uuid4())
            self.enter(MigrationPhase.DISABLE, f"M-3: disabling ADE on the data volumes (sequence {sequence_version})")
            settings = rules.plan_disable_settings(sequence_version)
            await call(
                ExtensionActivities.put_encryption_extension, ExtensionRequest(vm, source.location, settings), WRITE * 3
            )
            self.enter(MigrationPhase.DECRYPTING, "decrypting the data volumes; progress in the pending activity")
            await await_extension(
                ProgressRequest(vm, VolumeType.DATA, sequence_version, "DisableEncryption"),
                request.poll_interval_s,
                request.deadline_s,
            )
        if disable_first or remove_extension:
            self.enter(MigrationPhase.REMOVE, "removing the ADE extension (the data volumes are decrypted, R-DIS-2)")
            await call(ExtensionActivities.remove_encryption_extension, vm, WRITE)
        await self._await_downtime(request)

        try:  # from the deallocation on, any failure brings the source back
            self.enter(MigrationPhase.DEALLOCATE, f"M-7: deallocating {vm.name} for the copy")
            state = await self.power(vm, PowerAction.DEALLOCATE)
            self.deallocated = True
            await self._cut_over(request, facts, state)
        except StepFailed as failure:
            return await self.roll_back(source, failure)
        return await self._after_cutover(request, facts)

    async def _await_downtime(self, request: MigrationInput) -> None:
        """M-7: an operator's recorded approval, or the manifest's window (a missed window waits for an approval)."""
        while True:
            gate = migration.downtime_gate(request, self.approvals, workflow.now())
            if gate.status is DowntimeStatus.ALLOWED:
                self.note(f"M-7: {gate.detail}")
                return
            approved = lambda: self.on_record(ApprovalKind.DOWNTIME) is not None  # noqa: E731
            what = f"the downtime of {request.vm.name}: {gate.detail} (update approve_downtime)"
            await self.wait_for(
                MigrationPhase.AWAIT_DOWNTIME, what, approved, request.reminder_interval_s, gate.wait_until
            )

    async def _cut_over(self, request: MigrationInput, facts: MigrationFacts, power_state: str) -> None:
        """Deallocated source → new disks → new VM → checked; a StepFailed here rolls back to the source."""
        vm, source = request.vm, facts.source
        for disk in source.disks:
            refusals = migration.check_copy_source(disk.name, power_state)
            if refusals:
                raise StepFailed(refusals[0].reason, refusals[0].render(vm))
        disk_ids = await self.copy_disks(request, source)
        plans = migration.plan_disks(request, source)
        new_vm = VmRef(vm.subscription_id, vm.resource_group, request.targets.vm(vm))
        self.new_vm = new_vm
        if request.nic_policy is NicPolicy.REUSE:
            refusals = migration.check_delete_source_vm_object(request, self.approvals, source, power_state)
            if refusals:
                raise StepFailed(refusals[0].reason, refusals[0].render(vm))
            self.enter(MigrationPhase.CREATE_VM, f"M-7: deleting the VM object {vm.name} to reuse its NIC(s)")
            self.source_object_deleted = True
            await call(
                MigrationVmActivities.delete_vm_object, migration.DeleteVmRequest(vm, "reuse the NIC (M-7)"), WRITE
            )
        else:
            await self._new_nics(request, facts)
        body = migration.attached_vm_body(source, plans, migration.nic_ids(request, source))
        await self.create_new_vm(new_vm, body, source)
        await self.verify_new_vm(source, disk_ids)

    async def _new_nics(self, request: MigrationInput, facts: MigrationFacts) -> None:
        bodies = migration.new_nic_bodies(request, facts.source)
        self.enter(MigrationPhase.CREATE_VM, f"creating {len(bodies)} NIC(s) in the source's subnet(s)")
        nics = migration.NicsRequest(request.vm, facts.source.resource_id, bodies)
        await call(MigrationVmActivities.create_migration_nics, nics, WRITE)

    async def _rebuild(self, request: MigrationInput, facts: MigrationFacts) -> MigrationResult:
        """M-4: the source keeps running; a new VM from the image, the owner moves the data, then the check."""
        vm, source, spec = request.vm, facts.source, request.rebuild
        if spec is None:  # preflight refuses a rebuild without an image
            raise StepFailed(Reason.PRECONDITION_BROKEN, f"{vm.name}: rebuild without an image passed preflight")
        new_vm = VmRef(vm.subscription_id, vm.resource_group, request.targets.vm(vm))
        self.new_vm = new_vm
        try:
            await self._new_nics(request, facts)
            body = migration.rebuilt_vm_body(request, source, spec, migration.nic_ids(request, source))
            await self.create_new_vm(new_vm, body, source)
            await self.verify_new_vm(source, None)
        except StepFailed as failure:
            return await self.roll_back(source, failure)
        moved = lambda: self.on_record(ApprovalKind.DATA_MOVED) is not None  # noqa: E731
        what = f"the owner to move the data to {new_vm.name} (update confirm_data_moved). "
        what += migration.SOFTWARE_CANNOT_MOVE_DATA
        await self.wait_for(MigrationPhase.AWAIT_DATA_MOVED, what, moved, request.reminder_interval_s)
        await self.verify_new_vm(source, None)
        return await self._after_cutover(request, facts)

    async def _after_cutover(self, request: MigrationInput, facts: MigrationFacts) -> MigrationResult:
        """The owner's confirmation, then the cleanup only with a recorded approval (M-8), or the source kept."""
        name = self.new_vm.name if self.new_vm else request.targets.vm(request.vm)
        works = lambda: self.on_record(ApprovalKind.NEW_VM_WORKS) is not None  # noqa: E731
        what = f"the owner to confirm {name} works (update confirm_new_vm)"
        await self.wait_for(MigrationPhase.AWAIT_OWNER, what, works, request.reminder_interval_s)
        decided = lambda: self.on_record(ApprovalKind.CLEANUP) is not None or bool(self.kept_by)  # noqa: E731
        what = f"the cleanup approval of {request.vm.name} (update approve_cleanup, or keep_source)"
        await self.wait_for(MigrationPhase.AWAIT_CLEANUP, what, decided, request.reminder_interval_s)
        if self.on_record(ApprovalKind.CLEANUP) is not None:
            await self.clean_up(request, facts.source, facts.vault_id)
            ending = f"cleanup done ({len(self.result.deleted)} resource(s) deleted)"
        else:
            ending = f"the source is kept, as {self.kept_by} decided"
        message = f"{request.vm.name} migrated to {name} with encryption at host; {ending}."
        return self.conclude(
            replace(self.result, outcome=MigrationOutcome.MIGRATED, message=message), MigrationPhase.DONE
        )
