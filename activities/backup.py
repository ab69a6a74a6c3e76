"""The R-BAK-2 backup gate by incremental snapshots of every managed disk."""

from __future__ import annotations

import asyncio
from typing import Any

from azure.core.exceptions import HttpResponseError
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.azure_clients import AzureClients
from activities.errors import classify_arm_error
from activities.heartbeat import await_with_heartbeat
from adeflow.model import SnapshotInfo, SnapshotRequest
from adeflow.resource_ids import parse_resource_id

SNAPSHOT_NAME_MAX = 80


def snapshot_name(disk_name: str, run_tag: str) -> str:
    """Deterministic per disk and run, so a retried attempt re-PUTs the same snapshot instead of a new one."""
    suffix = f"-ade-{run_tag}"
    return disk_name[: SNAPSHOT_NAME_MAX - len(suffix)] + suffix


class BackupActivities:
    def __init__(self, clients: AzureClients) -> None:
        self._clients = clients

    @activity.defn(name="snapshot_disks")
    async def snapshot_disks(self, request: SnapshotRequest) -> list[SnapshotInfo]:
        """Snapshot all disks in parallel and wait until every snapshot has succeeded."""
        compute = self._clients.compute(request.vm.subscription_id)
        try:
            results = await await_with_heartbeat(
                asyncio.gather(*(self._snapshot(compute, request, disk_id) for disk_id in request.disk_ids)),
                f"snapshotting {len(request.disk_ids)} disk(s) of {request.vm.name}",
            )
        except HttpResponseError as exc:
            raise classify_arm_error(exc, f"snapshotting disks of VM {request.vm.name}") from exc
        failed = [r for r in results if r.provisioning_state.lower() != "succeeded"]
        if failed:
            raise ApplicationError(
                f"snapshot of {request.vm.name} ended {failed[0].provisioning_state}: {failed[0].snapshot_id} "
                "(R-BAK-2: no encryption without a verified backup)",
                type="SnapshotFailed",
                non_retryable=True,
            )
        return list(results)

    @staticmethod
    async def _snapshot(compute: Any, request: SnapshotRequest, disk_id: str) -> SnapshotInfo:
        disk = parse_resource_id(disk_id)
        body = {
            "location": request.location,
            "sku": {"name": "Standard_LRS"},
            "properties": {
                "incremental": True,
                "creationData": {"createOption": "Copy", "sourceResourceId": disk_id},
            },
            "tags": {
                "adeflow-run": request.run_tag,
                "adeflow-vm": request.vm.name,
                "adeflow-purpose": "pre-ade",
            },
        }
        poller = await compute.snapshots.begin_create_or_update(
            disk.resource_group, snapshot_name(disk.name, request.run_tag), body
        )
        snapshot = await poller.result()
        return SnapshotInfo(
            snapshot_id=str(snapshot.id),
            source_disk_id=disk_id,
            provisioning_state=str(snapshot.properties.provisioning_state if snapshot.properties else ""),
        )
