"""Retention of the snapshots the R-BAK-2 gate takes: find them by their tags, delete them when no longer needed.

Snapshots are a run's way back (R-BAK-1), so adeflow never deletes one on its own; an operator does, with
``adeflow snapshots delete``. Only snapshots carrying adeflow's tags are ever listed or deleted: each one is read
again right before its DELETE, so a snapshot that lost the tags (or an id typed by hand) is left alone.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from activities.azure.clients import AzureClients
from activities.azure.errors import arm_error_code, arm_error_message
from adeflow.domain.resource_ids import parse_resource_id

PURPOSE_TAG = "adeflow-purpose"
PURPOSE = "pre-ade"
RUN_TAG = "adeflow-run"
VM_TAG = "adeflow-vm"


def snapshot_tags(run_tag: str, vm_name: str) -> dict[str, str]:
    """The tags every pre-encryption snapshot carries (``activities/backup.py``); retention selects by them."""
    return {RUN_TAG: run_tag, VM_TAG: vm_name, PURPOSE_TAG: PURPOSE}


def is_adeflow_snapshot(tags: dict[str, str] | None) -> bool:
    return bool(tags) and (tags or {}).get(PURPOSE_TAG) == PURPOSE and bool((tags or {}).get(RUN_TAG))


@dataclass(frozen=True)
class RetainedSnapshot:
    """One adeflow snapshot as the operator sees it."""

    snapshot_id: str
    name: str
    subscription_id: str
    resource_group: str
    vm: str
    run_tag: str
    created: datetime | None
    provisioning_state: str
    source_disk_id: str
    size_gb: int

    def age_days(self, now: datetime) -> float | None:
        return None if self.created is None else (now - self.created).total_seconds() / 86400

    def to_json(self, now: datetime) -> dict[str, Any]:
        age = self.age_days(now)
        return {
            "id": self.snapshot_id,
            "name": self.name,
            "subscription": self.subscription_id,
            "resource_group": self.resource_group,
            "vm": self.vm,
            "run": self.run_tag,
            "created": self.created.isoformat() if self.created else None,
            "age_days": None if age is None else round(age, 2),
            "provisioning_state": self.provisioning_state,
            "source_disk_id": self.source_disk_id,
            "size_gb": self.size_gb,
        }


@dataclass(frozen=True)
class SnapshotQuery:
    subscriptions: tuple[str, ...]
    resource_group: str | None = None
    vm: str | None = None
    older_than_days: float | None = None


class DeleteOutcome(StrEnum):
    DELETED = "deleted"
    ALREADY_GONE = "already-gone"
    NOT_ADEFLOWS = "not-adeflows"
    """Left alone: the snapshot does not (or no longer) carry adeflow's tags."""
    FAILED = "failed"


@dataclass(frozen=True)
class DeleteResult:
    snapshot: RetainedSnapshot
    outcome: DeleteOutcome
    detail: str = ""


def _parse_time(text: Any) -> datetime | None:
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def retained_snapshot(body: dict[str, Any]) -> RetainedSnapshot | None:
    """A listed snapshot (ARM JSON), or None when it is not one of adeflow's."""
    tags = {str(k): str(v) for k, v in (body.get("tags") or {}).items()}
    if not is_adeflow_snapshot(tags):
        return None
    snapshot_id = str(body.get("id") or "")
    parsed = parse_resource_id(snapshot_id)
    props = body.get("properties") or {}
    return RetainedSnapshot(
        snapshot_id=snapshot_id,
        name=str(body.get("name") or parsed.name),
        subscription_id=parsed.subscription_id,
        resource_group=parsed.resource_group,
        vm=tags.get(VM_TAG, ""),
        run_tag=tags.get(RUN_TAG, ""),
        created=_parse_time(props.get("timeCreated")),
        provisioning_state=str(props.get("provisioningState") or ""),
        source_disk_id=str((props.get("creationData") or {}).get("sourceResourceId") or ""),
        size_gb=int(props.get("diskSizeGB") or 0),
    )


def select(snapshots: Iterable[RetainedSnapshot], query: SnapshotQuery, now: datetime) -> list[RetainedSnapshot]:
    """Apply the operator's filters (VM name, resource group, minimum age), oldest first."""
    chosen = []
    for snap in snapshots:
        if query.resource_group and snap.resource_group.lower() != query.resource_group.lower():
            continue
        if query.vm and snap.vm.lower() != query.vm.lower():
            continue
        if query.older_than_days is not None:
            age = snap.age_days(now)
            if age is None or age < query.older_than_days:
                continue
        chosen.append(snap)
    return sorted(chosen, key=lambda s: (s.created or now, s.snapshot_id.lower()))


async def list_snapshots(clients: AzureClients, query: SnapshotQuery, now: datetime) -> list[RetainedSnapshot]:
    """Snapshots_ListByResourceGroup with a resource group, else Snapshots_List, per subscription (all pages)."""
    found: list[RetainedSnapshot] = []
    for subscription in query.subscriptions:
        operations = clients.compute(subscription).snapshots
        pages = operations.list_by_resource_group(query.resource_group) if query.resource_group else operations.list()
        async for snapshot in pages:
            retained = retained_snapshot(snapshot.as_dict())
            if retained is not None:
                found.append(retained)
    return select(found, query, now)


async def delete_snapshots(clients: AzureClients, snapshots: Iterable[RetainedSnapshot]) -> list[DeleteResult]:
    """Delete each snapshot if it still carries adeflow's tags; a snapshot already gone counts as done."""
    return list(await asyncio.gather(*(_delete(clients, snap) for snap in snapshots)))


async def _delete(clients: AzureClients, snap: RetainedSnapshot) -> DeleteResult:
    operations = clients.compute(snap.subscription_id).snapshots
    try:
        current = (await operations.get(snap.resource_group, snap.name)).as_dict()
        if retained_snapshot(current) is None:
            return DeleteResult(snap, DeleteOutcome.NOT_ADEFLOWS, "it does not carry adeflow's tags")
        poller = await operations.begin_delete(snap.resource_group, snap.name)
        await poller.result()
    except ResourceNotFoundError:
        return DeleteResult(snap, DeleteOutcome.ALREADY_GONE)
    except HttpResponseError as exc:
        return DeleteResult(snap, DeleteOutcome.FAILED, f"{arm_error_code(exc)}: {arm_error_message(exc)}")
    return DeleteResult(snap, DeleteOutcome.DELETED)
