"""Steps shared by the per-VM workflows: activity calls, phase tracking, the backup gate, the extension wait.

The run's own shape (result, refuse/fail/finish, progress query, workflow id) is ``workflows.vm_run``.

Plain functions and a small class that run inside a workflow's context (deterministic; no I/O of their own).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Generic, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeKey
from temporalio.exceptions import ActivityError, ApplicationError, RetryState, TimeoutError

from workflows import metrics

with workflow.unsafe.imports_passed_through():
    from activities.azure_backup import AzureBackupActivities
    from activities.backup import BackupActivities
    from activities.status import StatusActivities
    from adeflow.domain import rules, vocabulary
    from adeflow.domain.model import (
        AzureBackupRequest,
        BackupMethod,
        BackupPolicy,
        BackupWaiver,
        DiskFacts,
        EncryptionStatus,
        Phase,
        PhaseTiming,
        ProgressRequest,
        ProtectionQuery,
        Refusal,
        SnapshotRequest,
        VmRef,
    )
    from adeflow.domain.snapshot_names import run_tag as snapshot_run_tag
    from adeflow.domain.vocabulary import Reason

ArgT = TypeVar("ArgT")
ResultT = TypeVar("ResultT")
PhaseT = TypeVar("PhaseT", bound=StrEnum)
TimingT = TypeVar("TimingT", bound=metrics.Timed)

PHASE_KEY = SearchAttributeKey.for_keyword(vocabulary.PHASE)
VM_KEY = SearchAttributeKey.for_keyword(vocabulary.VM_NAME)
RESOURCE_GROUP_KEY = SearchAttributeKey.for_keyword(vocabulary.RESOURCE_GROUP)
SUBSCRIPTION_KEY = SearchAttributeKey.for_keyword(vocabulary.SUBSCRIPTION)
OUTCOME_KEY = SearchAttributeKey.for_keyword(vocabulary.OUTCOME)
ROLLOUT_KEY = SearchAttributeKey.for_keyword(vocabulary.ROLLOUT_ID)
VOLUME_TYPE_KEY = SearchAttributeKey.for_keyword(vocabulary.VOLUME_TYPE)
RULE_KEY = SearchAttributeKey.for_keyword(vocabulary.RULE)

ARM_CALL = RetryPolicy(initial_interval=timedelta(seconds=2), maximum_interval=timedelta(minutes=1))
"""ARM reads and writes: the SDK already retried throttling; these retries cover worker or network loss."""
ARM_OUTAGE_BUDGET = timedelta(hours=2)
"""How long one ARM step keeps retrying through an outage (connection refused, 5xx, a dead worker) before the
run fails with ``arm-outage-budget-exceeded``: long enough for a regional blip or a worker redeploy, short enough
that a fleet does not sit silently for days."""
ARM_HEARTBEAT_TIMEOUT = timedelta(seconds=20)
"""A worker that stops heartbeating this long is taken for dead and its ARM activity retried elsewhere; the
worker beats every 5 s (``worker.interceptors.LivenessHeartbeatInterceptor``), the SDK sends at most every 16 s."""


class StepFailed(Exception):
    """A step ended the run: ``reason`` is a stable code, ``message`` names the VM and what to do."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def _failure(err: ActivityError, during: str) -> StepFailed:
    cause = err.cause
    if err.retry_state is RetryState.TIMEOUT:  # retried through the whole outage budget (call's schedule-to-close)
        last = cause.cause if isinstance(cause, TimeoutError) and cause.cause is not None else cause
        return StepFailed(
            Reason.ARM_OUTAGE_BUDGET_EXCEEDED,
            f"{during}: Azure Resource Manager kept failing for longer than the outage budget "
            f"({ARM_OUTAGE_BUDGET}); the step was retried all along and nothing after it was done (last error: "
            f"{getattr(last, 'message', None) or last or 'no answer'}). Fix: restore the worker's access to ARM "
            "(network, credentials), then run the VM again: "
            "every step is idempotent and resumes where it stopped.",
        )
    if isinstance(cause, ApplicationError):
        return StepFailed(cause.type or Reason.ACTIVITY_FAILED, cause.message)
    return StepFailed(Reason.ACTIVITY_FAILED, f"{during} failed: {cause or err}")


async def call(
    method: Callable[[Any, ArgT], Awaitable[ResultT]], arg: ArgT, timeout: timedelta, during: str = ""
) -> ResultT:
    """Run one ARM activity with the standard retry policy; a final failure becomes :class:`StepFailed`."""
    try:
        return await workflow.execute_activity_method(
            method,
            arg,
            start_to_close_timeout=timeout,
            schedule_to_close_timeout=timeout + ARM_OUTAGE_BUDGET,
            heartbeat_timeout=ARM_HEARTBEAT_TIMEOUT,
            retry_policy=ARM_CALL,
        )
    except ActivityError as err:
        raise _failure(err, during or getattr(method, "__name__", "activity")) from err


class PhaseTracker(Generic[PhaseT, TimingT]):
    """Publishes the current phase (search attribute, current details) and records how long each took.

    Generic over the run's phase enum and timing record: the ADE runs use :class:`Phase` (:func:`vm_phases`), the
    migration its ``MigrationPhase``; both publish the same ``AdePhase`` attribute and metric."""

    def __init__(self, first: PhaseT, timing: Callable[[PhaseT, datetime, datetime], TimingT]) -> None:
        self.phase = first
        self.detail = "starting"
        self.timings: list[TimingT] = []
        self._timing = timing
        self._started: datetime | None = None

    def enter(self, phase: PhaseT, detail: str) -> None:
        now = workflow.now()
        if self._started is not None and phase is not self.phase:
            self.timings.append(self._timing(self.phase, self._started, now))
        if phase is not self.phase or self._started is None:
            self._started = now
            workflow.upsert_search_attributes([PHASE_KEY.value_set(phase.value)])
            metrics.phase_entered(phase)
        self.phase = phase
        self.detail = detail
        workflow.set_current_details(f"**{phase.value}**: {detail}")

    def enter_named(self, value: str, detail: str) -> None:
        """Enter the phase of this run's enum named ``value`` (a shared step, e.g. the backup gate)."""
        self.enter(type(self.phase)(value), detail)


def vm_phases() -> PhaseTracker[Phase, PhaseTiming]:
    """The tracker of the ADE runs (encrypt, disable, remove the extension, create from a VHD)."""
    return PhaseTracker(Phase.PREFLIGHT, PhaseTiming)


@dataclass(frozen=True)
class BackupGateResult:
    method: BackupMethod | None = None
    snapshot_ids: list[str] = field(default_factory=list)
    backup_job_id: str = ""
    recovery_point_id: str = ""
    waiver: BackupWaiver | None = None
    refusal: Refusal | None = None


async def backup_gate(
    tracker: PhaseTracker[Any, Any],
    vm: VmRef,
    location: str,
    disks: list[DiskFacts],
    policy: BackupPolicy,
    waiver: BackupWaiver | None,
) -> BackupGateResult:
    """R-BAK-2: a backup taken and verified here (Azure Backup or snapshots), or an operator's recorded waiver."""
    run_tag = snapshot_run_tag(workflow.info().run_id)  # unique per run, stable across its retries
    if policy is BackupPolicy.WAIVE:
        # A waiver without the operator's name and statement is refused here, whichever run asks (encrypt's
        # preflight refuses it earlier; disable has only this gate): never an assert (a stuck workflow task).
        if not rules.waiver_on_record(waiver):
            return BackupGateResult(refusal=rules.backup_waiver_missing())
        tracker.enter_named(Phase.BACKUP.value, f"backup waived by {waiver.operator}: {waiver.statement}")
        return BackupGateResult(method=BackupMethod.WAIVED, waiver=waiver)
    if policy in (BackupPolicy.AUTO, BackupPolicy.AZURE_BACKUP):
        tracker.enter_named(Phase.BACKUP.value, "looking for Azure Backup protection")
        protection = await call(
            AzureBackupActivities.find_backup_protection, ProtectionQuery(vm, location), timedelta(minutes=2)
        )
        if protection.protected:
            tracker.enter_named(
                Phase.BACKUP.value, f"on-demand Azure Backup to vault {protection.vault_id.rsplit('/', 1)[-1]}"
            )
            backup = await call(
                AzureBackupActivities.run_azure_backup,
                AzureBackupRequest(vm, protection, run_tag),
                timedelta(hours=24),
            )
            return BackupGateResult(
                method=BackupMethod.AZURE_BACKUP,
                backup_job_id=backup.job_id,
                recovery_point_id=backup.recovery_point_id,
            )
        if policy is BackupPolicy.AZURE_BACKUP:
            return BackupGateResult(
                refusal=Refusal(
                    "R-BAK-2",
                    "not-protected-by-azure-backup",
                    "backup policy azure-backup, but no Recovery Services vault protects the VM.",
                    "Protect the VM in a Recovery Services vault, or use backup policy auto or snapshot.",
                )
            )
    disk_ids = [d.managed_disk_id for d in disks if d.managed_disk_id]
    tracker.enter_named(Phase.BACKUP.value, f"snapshotting {len(disk_ids)} disk(s)")
    snapshots = await call(
        BackupActivities.snapshot_disks, SnapshotRequest(vm, location, disk_ids, run_tag), timedelta(hours=2)
    )
    return BackupGateResult(method=BackupMethod.SNAPSHOT, snapshot_ids=[s.snapshot_id for s in snapshots])


async def await_extension(request: ProgressRequest, poll_interval_s: float, deadline_s: float) -> EncryptionStatus:
    """Wait for the extension's operation; the activity's retry policy is the poll loop (flat history)."""
    interval = timedelta(seconds=poll_interval_s)
    try:
        return await workflow.execute_activity_method(
            StatusActivities.await_encryption,
            request,
            start_to_close_timeout=timedelta(minutes=2),
            schedule_to_close_timeout=timedelta(seconds=deadline_s),
            heartbeat_timeout=ARM_HEARTBEAT_TIMEOUT,
            retry_policy=RetryPolicy(initial_interval=interval, backoff_coefficient=1.0, maximum_interval=interval),
            summary=f"await {request.encryption_operation} on {request.vm.name} ({request.volume_type.value})",
        )
    except ActivityError as err:
        if err.retry_state is RetryState.TIMEOUT:
            verdict = rules.wait_deadline_verdict(request.encryption_operation, deadline_s, _last_seen(err))
            raise StepFailed(verdict.reason, f"{request.vm.name}: {verdict.message}") from err
        raise _failure(err, request.encryption_operation) from err


def _last_seen(err: BaseException) -> str:
    """The status the last poll saw (details[0] of its "still encrypting" error), wherever the server nests it."""
    cause = err.__cause__ or getattr(err, "cause", None)
    while cause is not None:
        if isinstance(cause, ApplicationError) and cause.type == Reason.STILL_WORKING and cause.details:
            return str(cause.details[0])
        cause = cause.__cause__ or getattr(cause, "cause", None)
    return ""
