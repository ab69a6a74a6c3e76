"""Microsoft.RecoveryServices (Azure Backup) state: vaults, protected VMs, on-demand backups, jobs, recovery points.

Shapes follow the official examples (docs/arm-reference.md §d.3): protected items are
``VM;iaasvmcontainerv2;<rg>;<vm>`` in container ``IaasVMContainer;iaasvmcontainerv2;<rg>;<vm>`` of fabric
``Azure``. An on-demand backup (Backups_Trigger) starts a job at once; its operation (operationsStatus /
operationResults) ends after :data:`TRIGGER_SECONDS` with the job id, and the job runs for ``backup_seconds``
(simulated) through "Take Snapshot" then "Transfer data to vault", after which the new recovery point exists.
Everything is evaluated against ``now`` at read time.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from azuresim.compute import VirtualMachine

TRIGGER_SECONDS = 30.0
SNAPSHOT_FRACTION = 0.1
FABRIC = "Azure"
ITEM_TYPE = "Microsoft.RecoveryServices/vaults/backupFabrics/protectionContainers/protectedItems"
DEFAULT_JOB_ERROR = (
    400001,
    "UserErrorVmNotInDesirableState",
    "VM is not in a state that allows backups.",
)


def _iso(ts: datetime) -> str:
    return ts.isoformat().replace("+00:00", "Z")


def iso_duration(seconds: float) -> str:
    """ISO 8601 duration as Azure Backup writes it (``PT9.8782791S``)."""
    text = f"{max(seconds, 0.0):.7f}".rstrip("0").rstrip(".")
    return f"PT{text}S"


def container_name(rg: str, vm: str) -> str:
    return f"IaasVMContainer;iaasvmcontainerv2;{rg.lower()};{vm.lower()}"


def item_name(rg: str, vm: str) -> str:
    return f"VM;iaasvmcontainerv2;{rg.lower()};{vm.lower()}"


def _numeric_id(seed: str) -> str:
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
        point = RecoveryPoint(_numeric_id(f"{vm.id}/initial"), point_time, "AppConsistent", bool(vm.ade.stamps))
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
            point = RecoveryPoint(_numeric_id(job_id), snapshot_done.replace(microsecond=0), kind, encrypted)
        job = BackupJob(job_id, item, now, done, seconds, point, error)
        item.jobs.append(job)
        self.jobs[job_id] = job
        op = BackupOperation(str(uuid.uuid4()), job, now, now + timedelta(seconds=TRIGGER_SECONDS))
        self.operations[op.id] = op
        return op


# --------------------------------------------------------------------------------------------- rendering


def render_protected_item(item: ProtectedItem, now: datetime) -> dict[str, Any]:
    """Shaped like Compute_ProtectedItem_Get.json / BackupProtectedItems_List.json."""
    vault = item.vault
    points = item.points(now)
    last = item.last_job(now)
    last_time = last.started_at if last else points[-1].time
    last_status = "Completed" if last is None or last.error is None else "Failed"
    healthy = last_status == "Completed"
    return {
        "id": item.id,
        "name": item.name,
        "type": ITEM_TYPE,
        "properties": {
            "friendlyName": item.vm.name,
            "virtualMachineId": item.vm.id,
            "protectionStatus": "Healthy" if healthy else "Unhealthy",
            "protectionState": "Protected",
            "healthStatus": "Passed" if healthy else "ActionRequired",
            "lastBackupStatus": last_status,
            "lastBackupTime": _iso(last_time),
            "protectedItemDataId": _numeric_id(item.vm.id),
            "protectedItemType": "Microsoft.Compute/virtualMachines",
            "backupManagementType": "AzureIaasVM",
            "workloadType": "VM",
            "containerName": item.container.split(";", 1)[1],
            "sourceResourceId": item.vm.id,
            "policyId": f"{vault.id}/backupPolicies/{item.policy}",
            "lastRecoveryPoint": _iso(points[0].time),
        },
    }


def render_recovery_point(item: ProtectedItem, point: RecoveryPoint) -> dict[str, Any]:
    return {
        "id": f"{item.id}/recoveryPoints/{point.name}",
        "name": point.name,
        "type": f"{ITEM_TYPE}/recoveryPoints",
        "properties": {
            "objectType": "IaasVMRecoveryPoint",
            "recoveryPointType": point.type,
            "recoveryPointTime": _iso(point.time),
            "sourceVMStorageType": "NormalStorage",
            "isSourceVMEncrypted": point.encrypted,
            "isManagedVirtualMachine": True,
            "virtualMachineSize": item.vm.spec.size,
            "osType": item.vm.spec.os_type,
        },
    }


def _task(name: str, start: datetime, end: datetime, now: datetime, failed: bool) -> dict[str, Any]:
    if now < start:
        return {"taskId": name, "duration": "PT0S", "status": "NotStarted"}
    if now < end:
        return {"taskId": name, "duration": iso_duration((now - start).total_seconds()), "status": "InProgress"}
    return {
        "taskId": name,
        "duration": iso_duration((end - start).total_seconds()),
        "status": "Failed" if failed else "Completed",
    }


def render_job(job: BackupJob, now: datetime) -> dict[str, Any]:
    """Shaped like GetJobDetails.json (AzureIaaSVMJob), plus progressPercentage/endTime/errorDetails."""
    vault = job.item.vault
    status = job.status(now)
    end = min(now, job.done_at)
    snapshot_end = job.started_at + timedelta(seconds=job.duration_s * SNAPSHOT_FRACTION)
    full_end = job.started_at + timedelta(seconds=job.duration_s)
    failed = job.error is not None
    tasks = [_task("Take Snapshot", job.started_at, snapshot_end, now, failed)]
    if failed and now >= job.done_at:
        tasks.append({"taskId": "Transfer data to vault", "duration": "PT0S", "status": "Cancelled"})
    else:
        tasks.append(_task("Transfer data to vault", snapshot_end, full_end, now, False))
    elapsed = (end - job.started_at).total_seconds()
    pct = 100.0 if status == "Completed" else math.floor(elapsed / max(job.duration_s, 1e-9) * 1000) / 10
    props: dict[str, Any] = {
        "jobType": "AzureIaaSVMJob",
        "duration": iso_duration(elapsed),
        "virtualMachineVersion": "Compute",
        "extendedInfo": {
            "tasksList": tasks,
            "propertyBag": {"VM Name": job.item.vm.name, "Backup Size": "0 MB"},
            "progressPercentage": min(pct, 100.0),
        },
        "entityFriendlyName": job.item.vm.name,
        "backupManagementType": "AzureIaasVM",
        "operation": "Backup",
        "status": status,
        "startTime": _iso(job.started_at),
        "activityId": str(uuid.uuid5(uuid.NAMESPACE_OID, job.id)),
    }
    if status != "InProgress":
        props["endTime"] = _iso(job.done_at)
    if status == "Failed" and job.error is not None:
        code, title, message = job.error
        props["errorDetails"] = [
            {
                "errorCode": code,
                "errorTitle": title,
                "errorString": message,
                "recommendations": ["Retry the backup operation; if it keeps failing, contact Microsoft support."],
            }
        ]
    return {
        "id": f"{vault.id}/backupJobs/{job.id}",
        "name": job.id,
        "type": "Microsoft.RecoveryServices/vaults/backupJobs",
        "properties": props,
    }


def render_operation_status(op: BackupOperation, now: datetime) -> dict[str, Any]:
    """Shaped like ProtectedItemOperationStatus.json."""
    body: dict[str, Any] = {"id": op.id, "name": op.id, "status": "InProgress", "startTime": _iso(op.started_at)}
    if now >= op.done_at:
        body["status"] = "Succeeded"
        body["endTime"] = _iso(op.done_at)
        body["properties"] = {"objectType": "OperationStatusJobExtendedInfo", "jobId": op.job.id}
    return body


def parse_filter(text: str | None) -> dict[str, str]:
    """``a eq 'x' and b eq 'y'`` → ``{"a": "x", "b": "y"}`` (keys lower-cased; other operators ignored)."""
    result: dict[str, str] = {}
    if not text:
        return result
    for clause in text.replace(" AND ", " and ").split(" and "):
        parts = clause.strip().split(None, 2)
        if len(parts) == 3 and parts[1].lower() == "eq":
            result[parts[0].lower()] = parts[2].strip().strip("'\"")
    return result
