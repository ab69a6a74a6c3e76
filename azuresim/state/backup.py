"""Microsoft.RecoveryServices (Azure Backup) state: vaults, protected VMs, on-demand backups, jobs, recovery points.

Shapes follow the official examples (arm-reference §d.3): protected items are
``VM;iaasvmcontainerv2;<rg>;<vm>`` in container ``IaasVMContainer;iaasvmcontainerv2;<rg>;<vm>`` of fabric
``Azure``. An on-demand backup (Backups_Trigger) starts a job at once; its operation (operationsStatus /
operationResults) ends after :data:`TRIGGER_SECONDS` with the job id, and the job runs for ``backup_seconds``
(simulated) through "Take Snapshot" then "Transfer data to vault", after which the new recovery point exists.
Everything is evaluated against ``now`` at read time; :mod:`azuresim.providers.backup` renders the bodies.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from azuresim.errors import ArmError
from azuresim.state.compute import VirtualMachine

if TYPE_CHECKING:
    from azuresim.state.world import SimState

TRIGGER_SECONDS = 30.0
SNAPSHOT_FRACTION = 0.1
FABRIC = "Azure"
DEFAULT_JOB_ERROR = (
    400001,
    "UserErrorVmNotInDesirableState",
    "VM is not in a state that allows backups.",
)


def container_name(rg: str, vm: str) -> str:
    return f"IaasVMContainer;iaasvmcontainerv2;{rg.lower()};{vm.lower()}"


def item_name(rg: str, vm: str) -> str:
    return f"VM;iaasvmcontainerv2;{rg.lower()};{vm.lower()}"


def numeric_id(seed: str) -> str:
    """A stable 18-digit id, as Azure Backup names recovery points and protected-item data."""
    return str(uuid.uuid5(uuid.NAMESPACE_OID, seed).int % 10**18)


@dataclass
class RecoveryPoint:
    name: str
    time: datetime
    type: str
    encrypted: bool


@dataclass
class BackupJob:
    id: str
    item: ProtectedItem
    started_at: datetime
    done_at: datetime
    duration_s: float
    recovery_point: RecoveryPoint | None
    error: tuple[int, str, str] | None = None

    def status(self, now: datetime) -> str:
        if now < self.done_at:
            return "InProgress"
        return "Failed" if self.error else "Completed"


@dataclass
class BackupOperation:
    """The async operation behind Backups_Trigger (operationsStatus / operationResults)."""

    id: str
    job: BackupJob
    started_at: datetime
    done_at: datetime


@dataclass
class ProtectedItem:
    vault: RecoveryVault
    vm: VirtualMachine
    policy: str
    initial_point: RecoveryPoint
    jobs: list[BackupJob] = field(default_factory=list)

    @property
    def container(self) -> str:
        return container_name(self.vm.resource_group, self.vm.name)

    @property
    def name(self) -> str:
        return item_name(self.vm.resource_group, self.vm.name)

    @property
    def id(self) -> str:
        return (
            f"{self.vault.id}/backupFabrics/{FABRIC}/protectionContainers/{self.container}/protectedItems/{self.name}"
        )

    def points(self, now: datetime) -> list[RecoveryPoint]:
        """Newest first."""
        made = [j.recovery_point for j in self.jobs if j.recovery_point and j.status(now) == "Completed"]
        return sorted([self.initial_point, *made], key=lambda p: p.time, reverse=True)

    def last_job(self, now: datetime) -> BackupJob | None:
        finished = [j for j in self.jobs if j.status(now) != "InProgress"]
        return finished[-1] if finished else None


@dataclass
class RecoveryVault:
    subscription_id: str
    resource_group: str
    name: str
    location: str
    items: dict[str, ProtectedItem] = field(default_factory=dict)
    jobs: dict[str, BackupJob] = field(default_factory=dict)
    operations: dict[str, BackupOperation] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return (
            f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
            f"/providers/Microsoft.RecoveryServices/vaults/{self.name}"
        )

    def protect(self, vm: VirtualMachine, policy: str, now: datetime) -> ProtectedItem:
        point_time = (now - timedelta(hours=20)).replace(microsecond=0)
        point = RecoveryPoint(numeric_id(f"{vm.id}/initial"), point_time, "AppConsistent", bool(vm.ade.stamps))
        item = ProtectedItem(self, vm, policy, point)
        self.items[item.name.lower()] = item
        return item

    def item(self, container: str, name: str) -> ProtectedItem | None:
        found = self.items.get(name.lower())
        if found is None:
            return None
        allowed = {found.container.lower(), found.container.lower().split(";", 1)[1]}
        return found if container.lower() in allowed else None

    def trigger(
        self, item: ProtectedItem, now: datetime, seconds: float, error: tuple[int, str, str] | None
    ) -> BackupOperation:
        job_id = str(uuid.uuid4())
        snapshot_done = now + timedelta(seconds=seconds * SNAPSHOT_FRACTION)
        done = snapshot_done if error else now + timedelta(seconds=seconds)
        point = None
        if error is None:
            kind = "CrashConsistent" if item.vm.deallocated(now) else "AppConsistent"
            encrypted = bool(item.vm.ade.stamps_at(now))
            point = RecoveryPoint(numeric_id(job_id), snapshot_done.replace(microsecond=0), kind, encrypted)
        job = BackupJob(job_id, item, now, done, seconds, point, error)
        item.jobs.append(job)
        self.jobs[job_id] = job
        op = BackupOperation(str(uuid.uuid4()), job, now, now + timedelta(seconds=TRIGGER_SECONDS))
        self.operations[op.id] = op
        return op


def trigger_backup(state: SimState, item: ProtectedItem, body: dict[str, Any], now: datetime) -> BackupOperation:
    """Backups_Trigger: one on-demand backup unless another is running; a ``backup_job_failure`` fault fails its job."""
    props = body.get("properties")
    if not isinstance(props, dict) or props.get("objectType") != "IaasVMBackupRequest":
        raise ArmError(
            400,
            "InvalidRequestContent",
            "The request content must have properties.objectType 'IaasVMBackupRequest'.",
        )
    if any(job.status(now) == "InProgress" for job in item.jobs):
        raise ArmError(
            409,
            "UserErrorBackupOperationInProgress",
            "Backup cannot be triggered because another backup operation is in progress for this item.",
        )
    injected = state.faults.take("backup_job_failure", item.vm.name)
    error = None
    if injected is not None:
        code, title, message = DEFAULT_JOB_ERROR
        error = (code, injected.fault.code or title, injected.fault.message or message)
    return item.vault.trigger(item, now, state.backup_seconds, error)
