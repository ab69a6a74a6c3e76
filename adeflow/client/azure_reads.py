"""The ARM calls the CLI makes itself (``vm status``, ``snapshots list|delete``, ``rollout check``'s selectors).

The CLI reaches Azure only through these and :func:`adeflow.client.session.run_azure`, which turns azure-core's
errors into one line: the CLI itself imports no activity or SDK module (docs/DESIGN.md, "Layers").
"""

from __future__ import annotations

from activities.azure.clients import AzureClients
from activities.inventory import InventoryActivities
from activities.snapshot_retention import (
    DeleteOutcome,
    DeleteResult,
    RetainedSnapshot,
    SnapshotQuery,
    delete_snapshots,
    list_snapshots,
)
from activities.vm_search import find_vms
from adeflow.domain.model import VmFacts, VmRef

__all__ = [
    "AzureClients",
    "DeleteOutcome",
    "DeleteResult",
    "RetainedSnapshot",
    "SnapshotQuery",
    "delete_snapshots",
    "find_vms",
    "list_snapshots",
    "read_vm_facts",
]


async def read_vm_facts(clients: AzureClients, ref: VmRef) -> VmFacts:
    """What ``vm status`` shows: GETs only, as preflight reads them (``InventoryActivities.read_vm_facts``)."""
    return await InventoryActivities(clients).read_vm_facts(ref)
