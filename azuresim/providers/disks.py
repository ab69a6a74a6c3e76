"""Managed disks and snapshots over HTTP, shaped like the official examples.

Disks_Get, Disks_CreateOrUpdate (createOption ``Upload``, ``Copy``, ``Empty``), Disks_Delete, Disks_GrantAccess
(``POST …/disks/{disk}/beginGetAccess``) and Disks_RevokeAccess (``POST …/endGetAccess``), and the snapshots. The
disk LROs answer ``Azure-AsyncOperation`` and ``Location`` on ``…/locations/{loc}/DiskOperations/{id}`` as the disk
resource provider does: the status carries ``properties.output`` and, for a grant, the ``Location`` (monitor) URL
answers the ``{"accessSAS": …}`` the SDK returns. The rules are :mod:`azuresim.state.disks`; the SAS URLs lead to
the page-blob data plane (:mod:`azuresim.providers.blob`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from aiohttp import web

from azuresim.http import COMPUTE, SUB, Call, iso, json_response, lro_headers, offset_page, retry_after, route
from azuresim.state import disks, snapshots
from azuresim.state.ade import DiskStamp
from azuresim.state.compute import ManagedDisk, Snapshot
from azuresim.state.operations import AsyncOperation
from azuresim.state.world import SimState

DISK_API = ("2026-03-02",)
SNAPSHOT_PAGE = 100
GIB = 1024**3
DISK_OPERATIONS = "DiskOperations"


def get_disk(state: SimState, call: Call) -> web.Response:
    return json_response(render_disk(state.disk(call["sub"], call["rg"], call["disk"]), call.now))


def put_disk(state: SimState, call: Call) -> web.Response:
    result, disk = disks.put_disk(state, call["sub"], call["rg"], call["disk"], call.body, call.now)
    headers = {}
    if result.operation is not None:
        _output_when_done(result.operation, lambda done: render_disk(disk, done))
        headers = lro_headers(call, result.operation, state.clock.scale, location=True, collection=DISK_OPERATIONS)
    return json_response(render_disk(disk, call.now), result.status, headers)


def delete_disk(state: SimState, call: Call) -> web.Response:
    result = disks.delete_disk(state, call["sub"], call["rg"], call["disk"], call.now)
    headers = {}
    if result.operation is not None:
        headers = lro_headers(call, result.operation, state.clock.scale, location=True, collection=DISK_OPERATIONS)
    return web.Response(status=result.status, headers=headers)


def grant_access(state: SimState, call: Call) -> web.Response:
    base_url = f"https://{call.request.host}"
    result = disks.grant_access(state, call["sub"], call["rg"], call["disk"], call.body, call.now, base_url)
    return _accepted(state, call, result.operation)


def revoke_access(state: SimState, call: Call) -> web.Response:
    result = disks.revoke_access(state, call["sub"], call["rg"], call["disk"], call.now)
    return _accepted(state, call, result.operation)


def _output_when_done(op: AsyncOperation, render: Callable[[datetime], dict[str, Any]]) -> None:
    """A create's DiskOperations status carries the resource in ``properties.output`` once done, as the disk RP
    answers (real traffic, tests/fixtures/azure-cli-recordings); rendered as of the operation's end."""
    if op.output is None:
        op.output = render(op.done_at)


def _accepted(state: SimState, call: Call, op: AsyncOperation | None) -> web.Response:
    if op is None:
        return web.Response(status=200)
    headers = lro_headers(call, op, state.clock.scale, location=True, collection=DISK_OPERATIONS)
    return web.Response(status=202, headers=headers)


def get_disk_operation(state: SimState, call: Call) -> web.Response:
    """A DiskOperations status; with ``monitor=true`` (the ``Location`` URL) the operation's output once done."""
    op = state.operation(call["sub"], call["op"])
    remaining = op.remaining_seconds(call.now)
    headers = {"Retry-After": str(retry_after(remaining, state.clock.scale))} if remaining > 0 else {}
    if call.request.query.get("monitor", "").lower() == "true":
        if remaining > 0:
            return web.Response(status=202, headers={**headers, "Location": str(call.request.url)})
        if op.error:
            return json_response({"error": {"code": op.error[0], "message": op.error[1]}}, 400)
        return json_response(op.output or {}, 200)
    body: dict[str, Any] = {"name": op.id, "status": op.status(call.now), "startTime": iso(op.started_at)}
    if op.finished(call.now):
        body["endTime"] = iso(op.done_at)
        if op.error:
            body["error"] = {"code": op.error[0], "message": op.error[1]}
        elif op.output is not None:
            body["properties"] = {"output": op.output}
    return json_response(body, 200, headers)


def get_snapshot(state: SimState, call: Call) -> web.Response:
    return json_response(render_snapshot(state.snapshot(call["sub"], call["rg"], call["snap"]), call.now))


def put_snapshot(state: SimState, call: Call) -> web.Response:
    """Snapshots_CreateOrUpdate: like every disk RP write, the LRO is a ``DiskOperations`` one (real traffic)."""
    result, snap = snapshots.put_snapshot(state, call["sub"], call["rg"], call["snap"], call.body, call.now)
    headers = {}
    if result.operation is not None:
        if not result.operation.error:
            _output_when_done(result.operation, lambda done: render_snapshot(snap, done))
        headers = lro_headers(call, result.operation, state.clock.scale, location=True, collection=DISK_OPERATIONS)
    return json_response(render_snapshot(snap, call.now), result.status, headers)


def delete_snapshot(state: SimState, call: Call) -> web.Response:
    result = snapshots.delete_snapshot(state, call["sub"], call["rg"], call["snap"])
    return web.Response(status=result.status)


def list_snapshots(state: SimState, call: Call) -> web.Response:
    """Snapshots_ListByResourceGroup / Snapshots_List: ``{"value", "nextLink"}`` pages (``$skiptoken`` = offset)."""
    if "rg" in call.match.re.groupindex:
        groups = [state.resource_group(call["sub"], call["rg"])]
    else:
        groups = list(state.subscription(call["sub"]).resource_groups.values())
    snaps = sorted((snap for rg in groups for snap in rg.snapshots.values()), key=lambda snap: snap.id.lower())
    return json_response(offset_page(call, snaps, SNAPSHOT_PAGE, lambda s: render_snapshot(s, call.now), strict=True))


# --------------------------------------------------------------------------------------------- rendering

# Fixed-performance SKUs: (largest size in GiB, tier, IOPS, MB/s), from the Azure managed disk pricing tiers.
_PREMIUM = (
    (4, "P1", 120, 25), (8, "P2", 120, 25), (16, "P3", 120, 25), (32, "P4", 120, 25), (64, "P6", 240, 50),
    (128, "P10", 500, 100), (256, "P15", 1100, 125), (512, "P20", 2300, 150), (1024, "P30", 5000, 200),
    (2048, "P40", 7500, 250), (4096, "P50", 7500, 250), (8192, "P60", 16000, 500), (16384, "P70", 18000, 750),
    (32767, "P80", 20000, 900),
)  # fmt: skip
_STANDARD_SSD = ((4096, "", 500, 60), (8192, "", 2000, 400), (16384, "", 4000, 600), (32767, "", 6000, 750))
_STANDARD_HDD = ((4096, "", 500, 60), (8192, "", 1300, 300), (16384, "", 2000, 500), (32767, "", 2000, 500))
_BY_SKU = {"Premium": _PREMIUM, "StandardSSD": _STANDARD_SSD, "Standard": _STANDARD_HDD}


def disk_performance(sku: str, size_gb: int) -> dict[str, Any]:
    """``diskIOPSReadWrite``, ``diskMBpsReadWrite`` and (Premium SSD) the performance ``tier``, which ARM sends on
    every disk of a fixed-performance SKU (real traffic, tests/fixtures/azure-cli-recordings); {} for the others
    (Ultra, Premium SSD v2: provisioned, not simulated)."""
    table = _BY_SKU.get(sku.split("_", 1)[0])
    if table is None:
        return {}
    _, tier, iops, mbps = next((row for row in table if size_gb <= row[0]), table[-1])
    figures: dict[str, Any] = {"diskIOPSReadWrite": iops, "diskMBpsReadWrite": mbps}
    if tier:
        figures["tier"] = tier
    return figures


def render_disk(disk: ManagedDisk, now: datetime) -> dict[str, Any]:
    encryption: dict[str, Any] = {"type": "EncryptionAtRestWithPlatformKey"}
    if disk.disk_encryption_set_id:
        encryption = {
            "type": "EncryptionAtRestWithCustomerKey",
            "diskEncryptionSetId": disk.disk_encryption_set_id,
        }
    props: dict[str, Any] = {}
    if disk.os_type:
        props["osType"] = disk.os_type
        props["hyperVGeneration"] = disk.hyper_v_generation or ("V1" if disk.upload_size_bytes else "V2")
        props["creationData"] = {"createOption": "FromImage"}
    else:
        props["creationData"] = {"createOption": "Empty"}
        if disk.hyper_v_generation:
            props["hyperVGeneration"] = disk.hyper_v_generation
    if disk.source_uri:
        props["creationData"] = {"createOption": "Import", "sourceUri": disk.source_uri}
    if disk.creation is not None:
        props["creationData"] = dict(disk.creation)
    if disk.security_type and disk.os_type:
        props["securityProfile"] = {"securityType": disk.security_type}
    props.update(
        {
            "diskSizeGB": disk.size_gb,
            **disk_performance(disk.sku, disk.size_gb),
            "diskSizeBytes": disk.size_bytes,
            "uniqueId": disk.unique_id,
            "encryption": encryption,
            "networkAccessPolicy": "AllowAll",
            "publicNetworkAccess": "Disabled",
            "timeCreated": iso(disk.time_created),
            "provisioningState": disks.provisioning_state(disk, now),
            "diskState": disks.disk_state(disk, now),
        }
    )
    stamp = disk.vm.ade.stamps_at(now).get(disk.name) if disk.vm else None
    if stamp:
        props["encryptionSettingsCollection"] = DiskStamp.collection(stamp)
    body: dict[str, Any] = {
        "id": disk.id,
        "name": disk.name,
        "type": "Microsoft.Compute/disks",
        "location": disk.location,
        "tags": dict(disk.tags),
        "sku": {"name": disk.sku, "tier": "Premium" if disk.sku.startswith("Premium") else "Standard"},
        "properties": props,
    }
    if disk.vm:
        body["managedBy"] = disk.vm.id
    if disk.zones:
        body["zones"] = list(disk.zones)
    return body


def render_snapshot(snap: Snapshot, now: datetime) -> dict[str, Any]:
    op = snap.operation
    total = max((op.done_at - op.started_at).total_seconds(), 1e-9)
    pct = 100.0 if op.finished(now) else round(min(99.0, (now - op.started_at).total_seconds() / total * 100), 1)
    props: dict[str, Any] = {}
    if snap.source.os_type:
        props["osType"] = snap.source.os_type
    hyper_v = snap.source.hyper_v_generation or ("V2" if snap.source.os_type else None)
    if hyper_v:
        props["hyperVGeneration"] = hyper_v
    props.update(
        {
            "creationData": {
                "createOption": "Copy",
                "sourceResourceId": snap.source.id,
                "sourceUniqueId": snap.source.unique_id,
            },
            "diskSizeGB": snap.source.size_gb,
            "diskSizeBytes": snap.source.size_bytes,
            "encryption": {"type": "EncryptionAtRestWithPlatformKey"},
            "incremental": snap.incremental,
            "uniqueId": snap.unique_id,
            "networkAccessPolicy": "AllowAll",
            "publicNetworkAccess": "Disabled",
            "completionPercent": pct,
            "timeCreated": iso(op.started_at),
            "provisioningState": snap.provisioning_state(now),
            "diskState": "Unattached",
        }
    )
    if snap.incremental:
        props["incrementalSnapshotFamilyId"] = str(uuid.uuid5(uuid.NAMESPACE_URL, snap.source.unique_id))
    if snap.stamp:
        props["encryptionSettingsCollection"] = DiskStamp.collection(snap.stamp)
    return {
        "id": snap.id,
        "name": snap.name,
        "type": "Microsoft.Compute/snapshots",
        "location": snap.location,
        "tags": dict(snap.tags),
        "sku": {"name": snap.sku, "tier": "Premium" if snap.sku.startswith("Premium") else "Standard"},
        "properties": props,
    }


_SNAPSHOT = COMPUTE + "/snapshots/(?P<snap>[^/]+)"
_DISK = COMPUTE + "/disks/(?P<disk>[^/]+)"
ROUTES = (
    route("GET", _DISK, "Disks_Get", DISK_API, get_disk),
    route("PUT", _DISK, "Disks_CreateOrUpdate", DISK_API, put_disk),
    route("DELETE", _DISK, "Disks_Delete", DISK_API, delete_disk),
    route("POST", _DISK + "/beginGetAccess", "Disks_GrantAccess", DISK_API, grant_access),
    route("POST", _DISK + "/endGetAccess", "Disks_RevokeAccess", DISK_API, revoke_access),
    route(
        "GET",
        SUB + r"/providers/Microsoft\.Compute/locations/(?P<loc>[^/]+)/DiskOperations/(?P<op>[^/]+)",
        "DiskOperations_Get",
        DISK_API,
        get_disk_operation,
    ),
    route("GET", _SNAPSHOT, "Snapshots_Get", DISK_API, get_snapshot),
    route("PUT", _SNAPSHOT, "Snapshots_CreateOrUpdate", DISK_API, put_snapshot),
    route("DELETE", _SNAPSHOT, "Snapshots_Delete", DISK_API, delete_snapshot),
    route("GET", COMPUTE + "/snapshots", "Snapshots_ListByResourceGroup", DISK_API, list_snapshots),
    route("GET", SUB + r"/providers/Microsoft\.Compute/snapshots", "Snapshots_List", DISK_API, list_snapshots),
)
