"""Builders of domain facts for pure-function tests: an eligible VM unless a test says otherwise."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from adeflow.domain.model import (
    DiskFacts,
    EncryptionStatus,
    EncryptVmInput,
    ExtensionFacts,
    ImageRef,
    KeyVaultFacts,
    VmFacts,
    VmRef,
    VolumeState,
    VolumeType,
)

SUB = "6f1c3a52-8d11-4c4e-9a7e-000000000001"
RG = "rg-web"
VAULT_ID = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.KeyVault/vaults/kv-ade-eastus"


def disk(name: str, *, lun: int | None = None, size_gb: int = 30, **kw: Any) -> DiskFacts:
    return DiskFacts(
        name=name,
        is_os=lun is None,
        lun=lun,
        size_gb=size_gb,
        storage_account_type=kw.pop("sku", "Premium_LRS"),
        managed_disk_id=f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Compute/disks/{name}",
        encryption_type="EncryptionAtRestWithPlatformKey",
        **kw,
    )


def vm_facts(*, data_disks: int = 0, **overrides: Any) -> VmFacts:
    facts = VmFacts(
        ref=VmRef(SUB, RG, "web-01"),
        vm_id=f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Compute/virtualMachines/web-01",
        location="eastus",
        size="Standard_D4s_v5",
        os_type="Linux",
        image=ImageRef("Canonical", "0001-com-ubuntu-server-jammy", "22_04-lts-gen2", "latest"),
        os_disk=disk("web-01-osdisk"),
        data_disks=[disk(f"web-01-datadisk-{i}", lun=i, size_gb=64) for i in range(data_disks)],
        security_type="TrustedLaunch",
        power_state="running",
    )
    return replace(facts, **overrides)


def vault(**overrides: Any) -> KeyVaultFacts:
    facts = KeyVaultFacts(
        resource_id=VAULT_ID,
        name="kv-ade-eastus",
        subscription_id=SUB,
        location="eastus",
        enabled_for_disk_encryption=True,
        vault_uri="https://kv-ade-eastus.vault.azure.net/",
    )
    return replace(facts, **overrides)


def request(volume_type: VolumeType | None = None, **overrides: Any) -> EncryptVmInput:
    return EncryptVmInput(vm=VmRef(SUB, RG, "web-01"), key_vault_id=VAULT_ID, volume_type=volume_type, **overrides)


def status(os: VolumeState, data: VolumeState, message: str = "", level: str = "Info") -> EncryptionStatus:
    return EncryptionStatus(os=os, data=data, message=message, level=level)


def ade_extension(version: str = "1.1", **overrides: Any) -> ExtensionFacts:
    ext = ExtensionFacts(
        name="AzureDiskEncryptionForLinux",
        publisher="Microsoft.Azure.Security",
        extension_type="AzureDiskEncryptionForLinux",
        type_handler_version=version,
        provisioning_state="Succeeded",
    )
    return replace(ext, **overrides)
