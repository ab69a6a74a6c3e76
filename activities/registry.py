"""Everything the worker registers, built around one set of Azure clients, in two sets by what the identity may do.

The encrypt set never writes a VM (extension PUT/DELETE, restart and snapshots only); the create set is the one
that does (``virtualMachines/write``): VMs from encrypted VHDs, and the migration to encryption at host (new disks
and VMs, deletes after approval; with the ADE steps its M-3 path runs first, so those activities are in both sets).
A worker registers one set or both (``ADEFLOW_WORKER_ROLE``), so the everyday worker can run with an Azure role
that lacks VM write (``deploy/adeflow-operator-role.json``) and only the create worker holds it
(``deploy/adeflow-vm-create-role.json``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from activities.azure.clients import AzureClients
from activities.azure_backup import AzureBackupActivities
from activities.backup import BackupActivities
from activities.campaign import CampaignActivities
from activities.extension import ExtensionActivities
from activities.inventory import InventoryActivities
from activities.keyvault import KeyVaultActivities
from activities.migration_disks import MigrationDiskActivities
from activities.migration_vm import MigrationVmActivities
from activities.policy import PolicyActivities
from activities.power import PowerActivities
from activities.status import StatusActivities
from activities.vm_create import VmCreateActivities
from activities.vm_search import VmSearchActivities


def ade_step_activities(clients: AzureClients) -> Sequence[Callable[..., Any]]:
    """The ADE steps both worker roles run: the R-BAK-2 backup gate, the extension PUT and removal, the wait."""
    backup = BackupActivities(clients)
    azure_backup = AzureBackupActivities(clients)
    extension = ExtensionActivities(clients)
    status = StatusActivities(clients)
    return [
        azure_backup.find_backup_protection,
        azure_backup.run_azure_backup,
        backup.snapshot_disks,
        extension.put_encryption_extension,
        extension.remove_encryption_extension,
        status.await_encryption,
    ]


def encrypt_activities(clients: AzureClients) -> Sequence[Callable[..., Any]]:
    """Encrypt, disable, remove the extension, rollouts and campaigns: no VM write."""
    inventory = InventoryActivities(clients)
    keyvault = KeyVaultActivities(clients)
    policy = PolicyActivities(clients)
    vm_search = VmSearchActivities(clients)
    power = PowerActivities(clients)
    campaign = CampaignActivities(clients)
    return [
        inventory.read_vm_facts,
        keyvault.read_key_vault,
        *ade_step_activities(clients),
        policy.find_blocking_policies,
        vm_search.find_vms,
        power.restart_vm,
        campaign.read_campaign_facts,
        campaign.read_kek_versions,
        campaign.find_running_vm_runs,
        campaign.write_campaign_report,
        campaign.post_campaign_webhook,
    ]


def create_activities(clients: AzureClients) -> Sequence[Callable[..., Any]]:
    """Creating a VM (from an encrypted VHD, R-VHD-1): the reads its checks need, the VM PUT, the read-back; and
    the migration to encryption at host (docs/ade-migration.md), which runs on the same worker."""
    vm_create = VmCreateActivities(clients)
    return [
        vm_create.read_vhd_create_facts,
        vm_create.create_vm_from_vhd,
        vm_create.read_created_vm,
        *migration_activities(clients),
    ]


def migration_activities(clients: AzureClients) -> Sequence[Callable[..., Any]]:
    """Every activity MigrateToHostEncryptionWorkflow calls: its own (facts, feature, power, NICs, the new VM,
    disks and their copy, deletes, cleanup) and the ADE steps of its M-3 path (backup gate, disable, the wait,
    removing the extension)."""
    vm_side = MigrationVmActivities(clients)
    disks = MigrationDiskActivities(clients)
    return [
        vm_side.read_migration_facts,
        vm_side.read_migrated_vm,
        vm_side.register_host_encryption,
        vm_side.set_vm_power,
        vm_side.create_migration_nics,
        vm_side.create_migrated_vm,
        vm_side.delete_vm_object,
        vm_side.cleanup_source,
        vm_side.find_vault_users,
        disks.create_upload_disk,
        disks.copy_disk,
        *ade_step_activities(clients),
    ]


def activity_name(fn: Callable[..., Any]) -> str:
    name: str = fn.__temporal_activity_definition.name  # type: ignore[attr-defined]
    return name


def build_activities(clients: AzureClients) -> Sequence[Callable[..., Any]]:
    """Both sets, for one worker that serves every run (``ADEFLOW_WORKER_ROLE=all``, the demo, the tests); an
    activity in both sets is registered once."""
    unique: dict[str, Callable[..., Any]] = {}
    for fn in [*encrypt_activities(clients), *create_activities(clients)]:
        unique.setdefault(activity_name(fn), fn)
    return list(unique.values())
