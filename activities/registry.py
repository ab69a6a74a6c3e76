"""Everything the worker registers, built around one set of Azure clients."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from activities.azure_backup import AzureBackupActivities
from activities.azure_clients import AzureClients
from activities.backup import BackupActivities
from activities.extension import ExtensionActivities
from activities.inventory import InventoryActivities
from activities.keyvault import KeyVaultActivities
from activities.policy import PolicyActivities
from activities.power import PowerActivities
from activities.status import StatusActivities


def build_activities(clients: AzureClients) -> Sequence[Callable[..., Any]]:
    inventory = InventoryActivities(clients)
    keyvault = KeyVaultActivities(clients)
    backup = BackupActivities(clients)
    extension = ExtensionActivities(clients)
    status = StatusActivities(clients)
    azure_backup = AzureBackupActivities(clients)
    policy = PolicyActivities(clients)
    power = PowerActivities(clients)
    return [
        inventory.read_vm_facts,
        keyvault.read_key_vault,
        backup.snapshot_disks,
        extension.put_encryption_extension,
        extension.remove_encryption_extension,
        status.await_encryption,
        azure_backup.find_backup_protection,
        azure_backup.run_azure_backup,
        policy.find_blocking_policies,
        power.restart_vm,
    ]
