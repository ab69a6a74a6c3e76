"""A simulator on a nearly frozen clock (time moves only when a test says so), its fleet, ADE extension bodies,
and ``Sim``: the server plus the real Azure SDK clients aimed at it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from azure.mgmt.compute import ComputeManagementClient
from azure.mgmt.keyvault import KeyVaultManagementClient
from azure.mgmt.recoveryservicesbackup import RecoveryServicesBackupClient
from azure.mgmt.resource.policy import PolicyClient

from activities.azure.credentials import StaticTokenCredential
from azuresim.server import SimServer

SUB1 = "6f1c3a52-8d11-4c4e-9a7e-000000000001"
SUB2 = "6f1c3a52-8d11-4c4e-9a7e-000000000002"
FROZEN = 1e-9
FAST = 2000.0
UBUNTU = {"publisher": "Canonical", "offer": "0001-com-ubuntu-server-jammy", "sku": "22_04-lts-gen2"}
RHEL = {"publisher": "RedHat", "offer": "RHEL", "sku": "9_4"}

FLEET: dict[str, Any] = {
    "subscriptions": [
        {
            "id": SUB1,
            "resource_groups": [
                {
                    "name": "rg-web",
                    "location": "eastus",
                    "key_vaults": [{"name": "kv-ade-eastus"}],
                    "recovery_vaults": [
                        {"name": "rsv-web", "protected_vms": [{"vm": "web-01"}, {"vm": "web-03"}, {"vm": "web-05"}]}
                    ],
                    "vms": [
                        {
                            "name": "web-01",
                            "image": UBUNTU,
                            "os_disk": {"size_gb": 30},
                            "data_disks": [{"lun": 0, "size_gb": 64}],
                        },
                        {"name": "web-02", "image": RHEL, "os_disk": {"size_gb": 30}},
                        {
                            "name": "web-03",
                            "image": RHEL,
                            "data_disks": [{"lun": 0, "size_gb": 16}],
                            "encrypted": {"os": True, "data": True},
                        },
                        {
                            "name": "web-04",
                            "image": RHEL,
                            "data_disks": [{"lun": 0, "size_gb": 20}, {"lun": 1, "size_gb": 10}],
                        },
                        {"name": "web-05", "image": RHEL, "os_disk": {"size_gb": 40}},
                        {
                            "name": "web-06",
                            "image": RHEL,
                            "security_type": "Standard",
                            "encryption_at_host": True,
                            "os_disk": {"size_gb": 30, "ephemeral": True},
                            "data_disks": [
                                {
                                    "lun": 2,
                                    "size_gb": 32,
                                    "sku": "UltraSSD_LRS",
                                    "mounted": False,
                                    "disk_encryption_set_id": "/subscriptions/x/resourceGroups/y/providers/"
                                    "Microsoft.Compute/diskEncryptionSets/des-1",
                                }
                            ],
                        },
                    ],
                },
            ],
        },
        {
            "id": SUB2,
            "policy_assignments": [
                {
                    "name": "deny-secret-validity",
                    "policy_definition_id": "342e8053-e12e-4c44-be01-c3c2f318400f",
                    "effect": "Deny",
                },
                {
                    "name": "audit-expiry-rg",
                    "policy_definition_id": "/providers/Microsoft.Authorization/policyDefinitions/"
                    "98728c90-32c7-4049-8429-847dc0f4fe37",
                    "effect": "Audit",
                    "scope": f"/subscriptions/{SUB2}/resourceGroups/rg-west",
                },
            ],
            "resource_groups": [
                {
                    "name": "rg-west",
                    "location": "westus2",
                    "key_vaults": [{"name": "kv-no-ade", "enabled_for_disk_encryption": False}],
                    "vms": [{"name": "app-01", "image": RHEL}],
                }
            ],
        },
    ]
}


def ade_settings(vault: str = "kv-ade-eastus", *, sub: str = SUB1, rg: str = "rg-web", **extra: Any) -> dict[str, Any]:
    vault_id = f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.KeyVault/vaults/{vault}"
    settings: dict[str, Any] = {
        "EncryptionOperation": "EnableEncryption",
        "VolumeType": "All",
        "KeyVaultURL": f"https://{vault}.vault.azure.net",
        "KeyVaultResourceId": vault_id,
        "KeyEncryptionKeyURL": None,
        "KekVaultResourceId": "",
        "KeyEncryptionAlgorithm": "RSA-OAEP",
        "SequenceVersion": "seq-1",
    }
    settings.update(extra)
    return settings


def ade_extension(settings: dict[str, Any], location: str = "eastus") -> dict[str, Any]:
    return {
        "location": location,
        "properties": {
            "publisher": "Microsoft.Azure.Security",
            "type": "AzureDiskEncryptionForLinux",
            "typeHandlerVersion": "1.1",
            "autoUpgradeMinorVersion": True,
            "settings": settings,
        },
    }


class Sim:
    """The server plus SDK clients and clock helpers."""

    def __init__(self, server: SimServer) -> None:
        self.server = server
        self.clock = server.clock
        credential = StaticTokenCredential("sim-token")
        common: dict[str, Any] = {
            "base_url": server.base_url,
            "connection_verify": str(server.ca_path),
            "polling_interval": 0.1,
        }
        self.compute = ComputeManagementClient(credential, SUB1, **common)
        self.compute2 = ComputeManagementClient(credential, SUB2, **common)
        self.keyvault = KeyVaultManagementClient(credential, SUB1, **common)
        self.keyvault2 = KeyVaultManagementClient(credential, SUB2, **common)
        self.backup = RecoveryServicesBackupClient(credential, SUB1, **common)
        self.policy = PolicyClient(credential, SUB1, **common)
        self.policy2 = PolicyClient(credential, SUB2, **common)
        self.common = common

    @contextmanager
    def fast(self) -> Iterator[None]:
        """Let simulated time run fast while an SDK poller sleeps through an LRO."""
        self.clock.scale = FAST
        try:
            yield
        finally:
            self.clock.scale = FROZEN

    def advance_to(self, target: datetime) -> None:
        delta = (target - self.clock.now()).total_seconds()
        if delta > 0:
            self.clock.advance(delta)

    def run_start(self, vm: str, rg: str = "rg-web", sub: str = SUB1) -> datetime:
        run = self.server.state.vm(sub, rg, vm).ade.run
        assert run is not None
        return run.started_at
