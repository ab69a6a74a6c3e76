"""The VM PUT the workflow sends (attach the disk with its encryption settings) and the check after it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from adeflow.domain.model import CreateFromVhdInput, VmRef
from adeflow.domain.vhd.facts import CreatedVmFacts, VhdKeyRefs, key_refs


@dataclass(frozen=True)
class VmCreateRequest:
    """The PUT the workflow decided on, and the references by which a retry recognises its own VM."""

    vm: VmRef
    expected: VhdKeyRefs
    body: dict[str, Any]


@dataclass(frozen=True)
class VmCreateOutcome:
    provisioning_state: str
    sent_put: bool


@dataclass(frozen=True)
class Verdict:
    ok: bool
    message: str


def encryption_settings(request: CreateFromVhdInput) -> dict[str, Any]:
    """``osDisk.encryptionSettings`` (SDK ``DiskEncryptionSettings``): what Set-AzVMOSDisk writes."""
    settings: dict[str, Any] = {
        "enabled": True,
        "diskEncryptionKey": {"secretUrl": request.secret_url, "sourceVault": {"id": request.key_vault_id}},
    }
    if request.kek is not None:
        settings["keyEncryptionKey"] = {"keyUrl": request.kek.key_url, "sourceVault": {"id": request.kek.vault_id}}
    return settings


def build_vm_body(request: CreateFromVhdInput, location: str) -> dict[str, Any]:
    """The VirtualMachines_CreateOrUpdate body: attach the disk, no image or OS profile (docs/arm-reference.md §d.1)."""
    disk_name = request.os_disk_id.rstrip("/").rsplit("/", 1)[-1]
    return {
        "location": location,
        "properties": {
            "hardwareProfile": {"vmSize": request.size},
            "storageProfile": {
                "osDisk": {
                    "osType": "Linux",
                    "name": disk_name,
                    "createOption": "Attach",
                    "caching": "ReadWrite",
                    "managedDisk": {"id": request.os_disk_id},
                    "encryptionSettings": encryption_settings(request),
                }
            },
            "networkProfile": {
                "networkInterfaces": [{"id": request.network_interface_id, "properties": {"primary": True}}]
            },
        },
    }


def verify_created(request: CreateFromVhdInput, vm: CreatedVmFacts) -> Verdict:
    """R-ENA-4 for this path: the VM exists, succeeded, and reports the OS disk encrypted with our references."""
    name = request.vm.name
    if not vm.exists:
        return Verdict(False, f"{name}: the VM is not there after its creation succeeded.")
    if vm.provisioning_state.lower() != "succeeded":
        return Verdict(False, f"{name}: provisioning state is {vm.provisioning_state or 'unknown'}.")
    if not vm.encryption_enabled or not key_refs(request).same_as(vm.refs):
        return Verdict(False, f"{name}: the VM model does not carry the requested OS disk encryption settings.")
    if not vm.instance_view_encrypted:
        return Verdict(False, f"{name}: the instance view does not report the OS disk encrypted.")
    if vm.instance_view_secret_url.rstrip("/").lower() != request.secret_url.rstrip("/").lower():
        return Verdict(False, f"{name}: the instance view reports another disk-encryption key.")
    kek = f" wrapped by {request.kek.key_url}" if request.kek else ""
    return Verdict(True, f"{name}: created; OS disk encrypted with {request.secret_url}{kek}.")
