"""Microsoft.RecoveryServices (Azure Backup) over HTTP: backup status, protected items, on-demand backups and
their operations, recovery points, jobs.

Bodies are shaped like the official examples (arm-reference §d.3); the state is :mod:`azuresim.state.backup`.
"""

from __future__ import annotations

import math
import uuid
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web

from azuresim.errors import ArmError, resource_not_found
from azuresim.http import RG, SUB, Call, json_response, parse_filter, retry_after, route
from azuresim.state import backup as bk
from azuresim.state.backup import (
    FABRIC,
    SNAPSHOT_FRACTION,
    BackupJob,
    BackupOperation,
    ProtectedItem,
    RecoveryPoint,
    numeric_id,
)
from azuresim.state.world import SimState

BACKUP_API = ("2026-10-01",)
ITEM_TYPE = "Microsoft.RecoveryServices/vaults/backupFabrics/protectionContainers/protectedItems"
_RSV = RG + r"/providers/Microsoft\.RecoveryServices/vaults/(?P<rsv>[^/]+)"
_ITEM = (
    _RSV + r"/backupFabrics/(?P<fabric>[^/]+)/protectionContainers/(?P<container>[^/]+)/protectedItems/(?P<item>[^/]+)"
)


def _item(state: SimState, call: Call) -> ProtectedItem:
    if call["fabric"].lower() != FABRIC.lower():
        raise ArmError(404, "ResourceNotFound", f"The backup fabric '{call['fabric']}' was not found.")
    return state.protected_item(call["sub"], call["rg"], call["rsv"], call["container"], call["item"])


def backup_status(state: SimState, call: Call) -> web.Response:
    resource_id = call.body.get("resourceId")
    if not isinstance(resource_id, str) or not resource_id:
        raise ArmError(400, "InvalidRequestContent", "The request content is missing 'resourceId'.")
    item = state.protection_of(resource_id)
    if item is None or item.vm.deleted(call.now):
        return json_response({"protectionStatus": "NotProtected"})
    return json_response(
        {
            "protectionStatus": "Protected",
            "vaultId": item.vault.id,
            "fabricName": FABRIC,
            "containerName": item.container,
            "protectedItemName": item.name,
            "policyName": item.policy,
        }
    )


def list_items(state: SimState, call: Call) -> web.Response:
    vault = state.recovery_vault(call["sub"], call["rg"], call["rsv"])
    where = parse_filter(call.request.query.get("$filter"))
    items = []
    for item in vault.items.values():
        if item.vm.deleted(call.now):
            continue
        if where.get("backupmanagementtype", "AzureIaasVM").lower() != "azureiaasvm":
            continue
        if where.get("itemtype", "VM").lower() != "vm":
            continue
        if "policyname" in where and where["policyname"].lower() != item.policy.lower():
            continue
        items.append(render_protected_item(item, call.now))
    return json_response({"value": items})


def get_item(state: SimState, call: Call) -> web.Response:
    return json_response(render_protected_item(_item(state, call), call.now))


def _backup_urls(state: SimState, call: Call, item: ProtectedItem, op: BackupOperation) -> dict[str, str]:
    base = f"https://{call.request.host}{item.id}"
    query = f"?api-version={call.api_version}"
    headers = {
        "Azure-AsyncOperation": f"{base}/operationsStatus/{op.id}{query}",
        "Location": f"{base}/operationResults/{op.id}{query}",
    }
    remaining = (op.done_at - call.now).total_seconds()
    headers["Retry-After"] = str(retry_after(max(remaining, 0.0), state.clock.scale))
    return headers


def trigger_backup(state: SimState, call: Call) -> web.Response:
    item = _item(state, call)
    op = bk.trigger_backup(state, item, call.body, call.now)
    return web.Response(status=202, headers=_backup_urls(state, call, item, op))


def _backup_operation(state: SimState, call: Call) -> tuple[ProtectedItem, BackupOperation]:
    item = _item(state, call)
    op = item.vault.operations.get(call["op"])
    if op is None or op.job.item is not item:
        raise ArmError(404, "ResourceNotFound", f"The operation '{call['op']}' was not found.")
    return item, op


def backup_operation_status(state: SimState, call: Call) -> web.Response:
    _, op = _backup_operation(state, call)
    return json_response(render_operation_status(op, call.now))


def backup_operation_result(state: SimState, call: Call) -> web.Response:
    item, op = _backup_operation(state, call)
    if call.now < op.done_at:
        return web.Response(status=202, headers=_backup_urls(state, call, item, op))
    return web.Response(status=204)


def list_recovery_points(state: SimState, call: Call) -> web.Response:
    item = _item(state, call)
    return json_response({"value": [render_recovery_point(item, p) for p in item.points(call.now)]})


def get_job(state: SimState, call: Call) -> web.Response:
    vault = state.recovery_vault(call["sub"], call["rg"], call["rsv"])
    job = vault.jobs.get(call["job"].lower())
    if job is None:
        raise resource_not_found(
            "Microsoft.RecoveryServices/vaults", f"{vault.name}/backupJobs/{call['job']}", call["rg"]
        )
    return json_response(render_job(job, call.now))


def list_jobs(state: SimState, call: Call) -> web.Response:
    vault = state.recovery_vault(call["sub"], call["rg"], call["rsv"])
    where = parse_filter(call.request.query.get("$filter"))
    jobs = []
    for job in sorted(vault.jobs.values(), key=lambda j: j.started_at, reverse=True):
        body = render_job(job, call.now)
        props = body["properties"]
        if any(
            key in where and where[key].lower() != str(props[field]).lower()
            for key, field in (
                ("status", "status"),
                ("operation", "operation"),
                ("backupmanagementtype", "backupManagementType"),
            )
        ):
            continue
        jobs.append(body)
    return json_response({"value": jobs})


# --------------------------------------------------------------------------------------------- rendering


def _iso(ts: datetime) -> str:
    """A timestamp as Azure Backup writes it, UTC with a ``Z``."""
    return ts.isoformat().replace("+00:00", "Z")


def iso_duration(seconds: float) -> str:
    """ISO 8601 duration as Azure Backup writes it (``PT9.8782791S``)."""
    text = f"{max(seconds, 0.0):.7f}".rstrip("0").rstrip(".")
    return f"PT{text}S"


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
            "protectedItemDataId": numeric_id(item.vm.id),
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


ROUTES = (
    route(
        "POST",
        SUB + r"/providers/Microsoft\.RecoveryServices/locations/(?P<loc>[^/]+)/backupStatus",
        "BackupStatus_Get",
        BACKUP_API,
        backup_status,
    ),
    route("GET", _RSV + "/backupProtectedItems", "BackupProtectedItems_List", BACKUP_API, list_items),
    route("GET", _ITEM, "ProtectedItems_Get", BACKUP_API, get_item),
    route("POST", _ITEM + "/backup", "Backups_Trigger", BACKUP_API, trigger_backup),
    route(
        "GET",
        _ITEM + "/operationsStatus/(?P<op>[^/]+)",
        "ProtectedItemOperationStatuses_Get",
        BACKUP_API,
        backup_operation_status,
    ),
    route(
        "GET",
        _ITEM + "/operationResults/(?P<op>[^/]+)",
        "ProtectedItemOperationResults_Get",
        BACKUP_API,
        backup_operation_result,
    ),
    route("GET", _ITEM + "/recoveryPoints", "RecoveryPoints_List", BACKUP_API, list_recovery_points),
    route("GET", _RSV + "/backupJobs/(?P<job>[^/]+)", "JobDetails_Get", BACKUP_API, get_job),
    route("GET", _RSV + "/backupJobs", "BackupJobs_List", BACKUP_API, list_jobs),
)
