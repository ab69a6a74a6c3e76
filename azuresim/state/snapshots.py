"""Snapshot writes (Snapshots_CreateOrUpdate / _Delete): a copy of a managed disk, with its ADE stamp if any, its
content (extents) and its ADE marker (M-2: a snapshot of a disk ADE ever encrypted keeps the marker)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from azuresim.errors import ArmError
from azuresim.state.compute import DISK_ID, Snapshot
from azuresim.state.disks import ade_marker
from azuresim.state.operations import WriteResult

if TYPE_CHECKING:
    from azuresim.state.world import SimState

SNAPSHOT_SKUS = ("Standard_LRS", "Premium_LRS", "Standard_ZRS")


def put_snapshot(
    state: SimState, sub: str, rg_name: str, name: str, body: dict[str, Any], now: datetime
) -> tuple[WriteResult, Snapshot]:
    """Snapshots_CreateOrUpdate from a managed disk (createOption Copy); 202, or 200 when unchanged."""
    rg = state.resource_group(sub, rg_name)
    props = body.get("properties")
    if not isinstance(props, dict):
        raise ArmError(400, "InvalidRequestContent", "The request content is missing 'properties'.")
    creation = props.get("creationData")
    if not isinstance(creation, dict):
        raise ArmError(400, "InvalidParameter", "Required parameter 'creationData' is missing (null).")
    if str(creation.get("createOption", "")).lower() != "copy":
        raise ArmError(400, "InvalidParameter", "Only createOption 'Copy' is supported by the simulator.")
    source_id = str(creation.get("sourceResourceId") or "")
    m = DISK_ID.match(source_id)
    if not m:
        raise ArmError(400, "InvalidParameter", f"Invalid sourceResourceId '{source_id}'.")
    disk = state.disk(m["sub"], m["rg"], m["name"])
    sku_body = body.get("sku")
    sku = str(sku_body.get("name")) if isinstance(sku_body, dict) and sku_body.get("name") else "Standard_LRS"
    if sku not in SNAPSHOT_SKUS:
        raise ArmError(400, "InvalidParameter", f"The value '{sku}' of parameter 'sku.name' is invalid.")
    tags_body = body.get("tags")
    tags = {str(k): str(v) for k, v in tags_body.items()} if isinstance(tags_body, dict) else {}
    existing = rg.snapshots.get(name.lower())
    if existing is not None:
        if existing.source is not disk:
            raise ArmError(409, "PropertyChangeNotAllowed", "Changing property 'sourceResourceId' is not allowed.")
        existing.tags = tags
        if existing.operation.finished(now):
            return WriteResult(200, None), existing
        return WriteResult(200, existing.operation), existing
    location = str(body.get("location") or disk.location)
    error = None
    if disk.vm is not None and state.faults.take("snapshot_failure", disk.vm.name) is not None:
        error = (
            "InternalDiskManagementError",
            f"An internal disk management error occurred while creating snapshot '{name}' of disk "
            f"'{disk.name}'. Please retry later.",
        )
    op = state.new_operation(sub, location, now, state.snapshot_seconds, error)
    stamp = disk.vm.ade.stamps_at(now).get(disk.name) if disk.vm else None
    snap = Snapshot(
        subscription_id=state.subscription(sub).id,
        resource_group=rg.name,
        name=name,
        location=location,
        sku=sku,
        incremental=bool(props.get("incremental", False)),
        source=disk,
        tags=tags,
        operation=op,
        stamp=stamp,
        pages=disk.pages.copy(),
        ade_marker=ade_marker(disk, now),
    )
    rg.snapshots[name.lower()] = snap
    return WriteResult(202, op), snap


def delete_snapshot(state: SimState, sub: str, rg_name: str, name: str) -> WriteResult:
    rg = state.resource_group(sub, rg_name)
    if rg.snapshots.pop(name.lower(), None) is None:
        return WriteResult(204)
    return WriteResult(200)
