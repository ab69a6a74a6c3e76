"""The R-BAK-2 backup gate by incremental snapshots of every managed disk."""

from __future__ import annotations

import asyncio
from typing import Any

import structlog
from azure.core.exceptions import HttpResponseError
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.azure.clients import AzureClients
from activities.azure.errors import arm_error_code, arm_error_message, classify_arm_error, operation_failed
from activities.azure.heartbeat import await_with_heartbeat
from activities.snapshot_retention import snapshot_tags
from adeflow.domain import rules
from adeflow.domain.model import SnapshotInfo, SnapshotRequest
from adeflow.domain.resource_ids import parse_resource_id
from adeflow.domain.snapshot_names import snapshot_name
from adeflow.domain.vocabulary import Reason

log = structlog.get_logger(__name__)


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
            first = failed[0]
            raise ApplicationError(
                rules.snapshot_failure_message(
                    request.vm.name,
                    first.source_disk_id.rsplit("/", 1)[-1],
                    first.snapshot_id.rsplit("/", 1)[-1],
                    f"it ended {first.provisioning_state or 'without a provisioning state'}",
                ),
                type=Reason.SNAPSHOT_FAILED,
                non_retryable=True,
            )
        log.info("snapshots taken", snapshots=[r.snapshot_id.rsplit("/", 1)[-1] for r in results])
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
            "tags": snapshot_tags(request.run_tag, request.vm.name),  # what `adeflow snapshots` selects by
        }
        name = snapshot_name(disk.name, request.run_tag)
        poller = await compute.snapshots.begin_create_or_update(disk.resource_group, name, body)
        try:
            snapshot = await poller.result()
        except HttpResponseError as exc:
            if not operation_failed(exc):
                raise
            # Terminal, not retried: a re-PUT of the same name only reads the failed snapshot back (R-BAK-2).
            detail = f"{arm_error_code(exc)}: {arm_error_message(exc)}"
            if _answered_by_the_put(exc):
                # The PUT itself came back Failed: a snapshot of this name existed already (an earlier attempt
                # of this run) and had failed. A failed snapshot is no backup: never adopt it.
                detail = (
                    "a snapshot of that name already exists in provisioning state Failed (left by an earlier "
                    "attempt of this run); a failed snapshot is no backup, so it is not reused"
                )
            raise ApplicationError(
                rules.snapshot_failure_message(request.vm.name, disk.name, name, detail),
                type=Reason.SNAPSHOT_FAILED,
                non_retryable=True,
            ) from exc
        return SnapshotInfo(
            snapshot_id=str(snapshot.id),
            source_disk_id=disk_id,
            provisioning_state=str(snapshot.properties.provisioning_state if snapshot.properties else ""),
        )


def _answered_by_the_put(exc: HttpResponseError) -> bool:
    """The operation's Failed verdict is the PUT's own answer (an existing resource), not a later status poll."""
    request = getattr(exc.response, "request", None)
    return str(getattr(request, "method", "")).upper() == "PUT"
