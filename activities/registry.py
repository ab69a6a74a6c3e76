"""Everything the worker registers, built around one set of Azure clients."""

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


def build_activities(clients: AzureClients) -> Sequence[Callable[..., Any]]:
    inventory = InventoryActivities(clients)
    keyvault = KeyVaultActivities(clients)
    backup = BackupActivities(clients)
    extension = ExtensionActivities(clients)
    status = StatusActivities(clients)
    azure_backup = AzureBackupActivities(clients)
    policy = PolicyActivities(clients)
    vm_search = VmSearchActivities(clients)
    power = PowerActivities(clients)
    vm_create = VmCreateActivities(clients)
    campaign = CampaignActivities(clients)
    migration_vm = MigrationVmActivities(clients)
    migration_disks = MigrationDiskActivities(clients)
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
        vm_search.find_vms,
        power.restart_vm,
        vm_create.read_vhd_create_facts,
        vm_create.create_vm_from_vhd,
        vm_create.read_created_vm,
        campaign.read_campaign_facts,
        campaign.read_kek_versions,
        campaign.find_running_vm_runs,
        campaign.write_campaign_report,
        campaign.post_campaign_webhook,
        migration_vm.read_migration_facts,
        migration_vm.read_migrated_vm,
        migration_vm.register_host_encryption,
        migration_vm.set_vm_power,
        migration_vm.create_migration_nics,
        migration_vm.create_migrated_vm,
        migration_vm.delete_vm_object,
        migration_vm.cleanup_source,
        migration_vm.find_vault_users,
        migration_disks.create_upload_disk,
        migration_disks.copy_disk,
    ]
