"""Builders of migration facts (docs/ade-migration.md) for pure-function tests and stand-ins: a data-only ADE VM
ready for the copy path (M-3) unless a test says otherwise."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from adeflow.domain.migration import (
    Approval,
    ApprovalKind,
    FeatureState,
    MigrationFacts,
    MigrationInput,
    RebuildSpec,
    SourceDisk,
    SourceNic,
    SourceVmDefinition,
)
from adeflow.domain.model import ImageRef, KeyVaultLookup, VmFacts, VmRef, VolumeState
from tests.support.domain_facts import RG, SUB, VAULT_ID, ade_extension, status, vault, vm_facts

GIB = 1024**3
VM = VmRef(SUB, RG, "web-01")
PROVIDERS = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers"
SUBNET_ID = f"{PROVIDERS}/Microsoft.Network/virtualNetworks/vnet-web/subnets/default"
NIC_ID = f"{PROVIDERS}/Microsoft.Network/networkInterfaces/web-01-nic"
SSH_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl ops@example"
REBUILD = RebuildSpec(ImageRef("Canonical", "ubuntu-24_04-lts", "server", "latest"), "azureuser", SSH_KEY)
T0 = datetime(2027, 3, 1, 22, 0, tzinfo=UTC)


def source_disk(name: str, lun: int | None = None, size_gb: int = 32, **kw: Any) -> SourceDisk:
    return SourceDisk(
        disk_id=f"{PROVIDERS}/Microsoft.Compute/disks/{name}",
        name=name,
        lun=lun,
        size_bytes=size_gb * GIB,
        ade_marker=kw.pop("ade_marker", lun is not None),
        **kw,
    )


def source_definition(data_disks: int = 2, **overrides: Any) -> SourceVmDefinition:
    definition = SourceVmDefinition(
        vm=VM,
        resource_id=VM.resource_id,
        location="eastus",
        size="Standard_D4s_v5",
        os_disk=source_disk("web-01-osdisk"),
        data_disks=[source_disk(f"web-01-datadisk-{i}", lun=i, size_gb=64) for i in range(data_disks)],
        nics=[SourceNic(NIC_ID, SUBNET_ID, private_ip="10.0.0.4")],
        zone="1",
        tags={"owner": "team-web", "env": "prod"},
        hyper_v_generation="V2",
        security_type="TrustedLaunch",
        secure_boot=True,
        vtpm=True,
        extensions=["AzureDiskEncryptionForLinux", "AzureMonitorLinuxAgent"],
        model={
            "name": "web-01",
            "location": "eastus",
            "properties": {"hardwareProfile": {"vmSize": "Standard_D4s_v5"}},
        },
    )
    return replace(definition, **overrides)


def data_only_vm(data_disks: int = 2, **overrides: Any) -> VmFacts:
    """A VM with ADE on its data volumes (VolumeType Data), all encrypted: the M-3 path, disable first."""
    ext = ade_extension(
        volume_type="Data",
        encryption_operation="EnableEncryption",
        key_vault_resource_id=VAULT_ID,
        status=status(VolumeState.NOT_ENCRYPTED, VolumeState.ENCRYPTED),
    )
    facts = vm_facts(data_disks=data_disks, ade_extension=ext)
    encrypted = [replace(d, instance_view_encrypted=True, ade_settings_version="1.1") for d in facts.data_disks]
    return replace(facts, data_disks=encrypted, **overrides)


def os_encrypted_vm(**overrides: Any) -> VmFacts:
    ext = ade_extension(
        volume_type="All",
        encryption_operation="EnableEncryption",
        key_vault_resource_id=VAULT_ID,
        status=status(VolumeState.ENCRYPTED, VolumeState.ENCRYPTED),
    )
    facts = vm_facts(data_disks=2, ade_extension=ext)
    return replace(
        facts,
        os_disk=replace(facts.os_disk, instance_view_encrypted=True, ade_settings_version="1.1"),
        data_disks=[replace(d, instance_view_encrypted=True, ade_settings_version="1.1") for d in facts.data_disks],
        **overrides,
    )


def never_ade_vm(**overrides: Any) -> VmFacts:
    return vm_facts(data_disks=2, **overrides)


def migration_facts(
    vm: VmFacts | None = None, *, definition: SourceVmDefinition | None = None, **overrides: Any
) -> MigrationFacts:
    vm = vm if vm is not None else data_only_vm()
    if definition is None:
        marker = vm.ade_extension is not None
        definition = source_definition(len(vm.data_disks))
        definition = replace(
            definition,
            os_disk=replace(definition.os_disk, ade_marker=marker and vm.os_disk.instance_view_encrypted),
            data_disks=[replace(d, ade_marker=marker) for d in definition.data_disks],
        )
    facts = MigrationFacts(
        vm=vm,
        source=definition,
        feature=FeatureState.REGISTERED,
        size_supports_host_encryption=True,
        vault_id=VAULT_ID if vm.ade_extension is not None else "",
        vault=KeyVaultLookup(vault()) if vm.ade_extension is not None else None,
    )
    return replace(facts, **overrides)


def migration_input(**overrides: Any) -> MigrationInput:
    return replace(MigrationInput(vm=VM), **overrides)


def approval(kind: ApprovalKind, by: str = "alice@example.com", at: datetime = T0) -> Approval:
    return Approval(kind, by, at, note="change CHG-4711")
