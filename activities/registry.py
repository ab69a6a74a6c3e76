"""Everything the worker registers, built around one set of Azure clients."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from activities.azure_clients import AzureClients
from activities.backup import BackupActivities
from activities.extension import ExtensionActivities
from activities.inventory import InventoryActivities
from activities.keyvault import KeyVaultActivities
from activities.status import StatusActivities


def build_activities(clients: AzureClients) -> Sequence[Callable[..., Any]]:
    inventory = InventoryActivities(clients)
    keyvault = KeyVaultActivities(clients)
    backup = BackupActivities(clients)
    extension = ExtensionActivities(clients)
    status = StatusActivities(clients)
    return [
        inventory.read_vm_facts,
        keyvault.read_key_vault,
        backup.snapshot_disks,
        extension.put_encryption_extension,
        status.await_encryption,
    ]
