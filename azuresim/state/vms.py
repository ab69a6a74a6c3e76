"""VM writes: VirtualMachines_Restart, and VirtualMachines_CreateOrUpdate for one case: a new VM around an
existing, customer-encrypted OS disk (R-VHD-1).

The PUT carries ``storageProfile.osDisk`` with ``createOption: Attach``, the managed disk imported from the
VHD and ``encryptionSettings`` naming the disk-encryption key (a Key Vault secret URL + vault id) and
optionally a KEK. Like Compute, the simulator checks the body and the key references synchronously and
answers ARM-shaped 4xx errors; a valid PUT answers 201 with ``Azure-AsyncOperation``. Error codes for the
Key Vault checks follow what Compute reports for ``osProfile`` secrets (``KeyVaultAccessForbidden``,
``KeyVaultSecretDoesNotExist``) (inference: no official example of a VM create with encryptionSettings).
Anything else (images, data disks, updates of an existing VM) is out of the simulator's scope and refused.
"""

from __future__ import annotations

import copy
import re
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from azuresim.errors import ArmError
from azuresim.fleet import VmSpec
from azuresim.state.ade import AdeState, DiskStamp
from azuresim.state.compute import (
    DISK_ID,
    RESTART_SECONDS,
    VM_CREATE_SECONDS,
    AttachedOsDisk,
    ImportedDisk,
    ManagedDisk,
    VirtualMachine,
)
from azuresim.state.encryption import Volume, VolumeKind, VolumeState
from azuresim.state.keyvault import KeyVault
from azuresim.state.operations import WriteResult
from azuresim.state.tree import normalize_location

if TYPE_CHECKING:
    from azuresim.state.world import SimState

_NIC_ID = re.compile(
    r"^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.Network/networkInterfaces/[^/]+$", re.IGNORECASE
)
_OBJECT_URL = re.compile(
    r"^https://(?P<vault>[a-zA-Z0-9-]+)\.vault\.azure\.net/(?P<kind>secrets|keys)/(?P<name>[^/]+)/(?P<version>[^/]+)/?$",
    re.IGNORECASE,
)


def _bad(message: str) -> ArmError:
    return ArmError(400, "InvalidParameter", message)


def _required(node: Any, path: str) -> dict[str, Any]:
    if not isinstance(node, dict):
        raise _bad(f"Required parameter '{path}' is missing (null).")
    return node


def _text(node: dict[str, Any], key: str, path: str) -> str:
    value = node.get(key)
    if not isinstance(value, str) or not value:
        raise _bad(f"Required parameter '{path}' is missing (null).")
    return value


def _vault_for(state: SimState, url: str, vault_id: str, kind: str, path: str) -> tuple[KeyVault, str, str]:
    """The vault a secret/key URL points into, which must be the one ``sourceVault.id`` names."""
    m = _OBJECT_URL.match(url)
    if m is None or m["kind"].lower() != kind:
        raise _bad(f"The value '{url}' of parameter '{path}' is invalid.")
    vault = state.vault_by_id(vault_id)
    if vault is None or vault.name.lower() != m["vault"].lower():
        raise ArmError(
            400,
            "KeyVaultAccessForbidden",
            f"Key Vault {url} either has not been enabled for disk encryption or the vault id provided, "
            f"{vault_id}, does not match the Key Vault's true resource id.",
        )
    return vault, m["name"], m["version"]


def _encryption(state: SimState, os_disk: dict[str, Any]) -> tuple[dict[str, Any] | None, DiskStamp | None]:
    """Validate ``osDisk.encryptionSettings``; returns what the VM model shows and the stamp when enabled."""
    raw = os_disk.get("encryptionSettings")
    if raw is None:
        return None, None
    settings = _required(raw, "osDisk.encryptionSettings")
    enabled = bool(settings.get("enabled"))
    if not enabled and not settings.get("diskEncryptionKey"):
        return {"enabled": False}, None
    dek = _required(settings.get("diskEncryptionKey"), "encryptionSettings.diskEncryptionKey")
    secret_url = _text(dek, "secretUrl", "diskEncryptionKey.secretUrl")
    vault_id = _text(_required(dek.get("sourceVault"), "diskEncryptionKey.sourceVault"), "id", "sourceVault.id")
    vault, name, version = _vault_for(state, secret_url, vault_id, "secrets", "diskEncryptionKey.secretUrl")
    if not vault.enabled_for_disk_encryption:
        raise ArmError(
            400,
            "KeyVaultAccessForbidden",
            f"Key Vault {secret_url} either has not been enabled for disk encryption or the vault id provided, "
            f"{vault_id}, does not match the Key Vault's true resource id.",
        )
    secret = vault.secrets.get(name.lower())
    if secret is None or secret.version != version.lower() or not secret.enabled:
        raise ArmError(400, "KeyVaultSecretDoesNotExist", f"The secret {secret_url} does not exist or is disabled.")
    kek_url = kek_vault_id = None
    if settings.get("keyEncryptionKey") is not None:
        kek = _required(settings["keyEncryptionKey"], "encryptionSettings.keyEncryptionKey")
        kek_url = _text(kek, "keyUrl", "keyEncryptionKey.keyUrl")
        kek_vault_id = _text(_required(kek.get("sourceVault"), "keyEncryptionKey.sourceVault"), "id", "sourceVault.id")
        kek_vault, key_name, key_version = _vault_for(state, kek_url, kek_vault_id, "keys", "keyEncryptionKey.keyUrl")
        key = kek_vault.keys.get(key_name.lower())
        if key is None or key.version != key_version.lower() or not key.enabled:
            raise _bad(f"The key {kek_url} does not exist or is disabled.")
    stamp = DiskStamp(secret_url, vault_id, kek_url, kek_vault_id)
    shown = {**stamp.settings_body(), "enabled": enabled}
    return shown, stamp if enabled else None


def _attached_disk(state: SimState, os_disk: dict[str, Any], location: str, now: datetime) -> ManagedDisk:
    if os_disk.get("vhd"):
        raise ArmError(
            400,
            "OperationNotAllowed",
            "Unmanaged (VHD blob) disks are retired since 31 March 2026; import the VHD as a managed disk "
            "and attach it with osDisk.managedDisk.id.",
        )
    disk_id = _text(_required(os_disk.get("managedDisk"), "osDisk.managedDisk"), "id", "osDisk.managedDisk.id")
    m = DISK_ID.match(disk_id)
    if m is None:
        raise _bad(f"The value '{disk_id}' of parameter 'osDisk.managedDisk.id' is invalid.")
    disk = state.disk(m["sub"], m["rg"], m["name"])
    if disk.vm is not None and not disk.vm.deleted(now):
        raise ArmError(409, "OperationNotAllowed", f"Disk '{disk.name}' is already attached to VM '{disk.vm.id}'.")
    if normalize_location(disk.location) != normalize_location(location):
        raise _bad(f"Disk '{disk.id}' is in location '{disk.location}', the VM in '{location}'.")
    return disk


def create_vm(
    state: SimState, sub: str, rg_name: str, name: str, body: dict[str, Any], now: datetime
) -> tuple[WriteResult, VirtualMachine]:
    """201 and a new VM for a valid attach PUT; 200 for the identical PUT again (a retry); 4xx otherwise."""
    rg = state.resource_group(sub, rg_name)
    existing = rg.vms.get(name.lower())
    if existing is not None and not existing.deleted(now):
        if existing.attached is not None and existing.attached.body == body:
            op = existing.attached.operation
            if op.finished(now):
                op = state.new_operation(existing.subscription_id, existing.location, now, 0.0)
            return WriteResult(200, op), existing
        raise ArmError(
            409,
            "PropertyChangeNotAllowed",
            f"Changing property 'storageProfile.osDisk' of VM '{existing.name}' is not allowed "
            "(the simulator does not update existing VMs).",
        )
    location = body.get("location")
    if not isinstance(location, str) or not location:
        raise ArmError(400, "LocationRequired", "The location property is required for this definition.")
    props = _required(body.get("properties"), "properties")
    size = _text(_required(props.get("hardwareProfile"), "hardwareProfile"), "vmSize", "hardwareProfile.vmSize")
    storage = _required(props.get("storageProfile"), "storageProfile")
    os_disk = _required(storage.get("osDisk"), "storageProfile.osDisk")
    if str(os_disk.get("createOption", "")).lower() != "attach":
        raise _bad("The simulator creates VMs only around an existing OS disk (osDisk.createOption 'Attach').")
    if props.get("osProfile") is not None:
        raise _bad("Parameter 'osProfile' is not allowed.")
    if storage.get("imageReference") is not None:
        raise _bad("Parameter 'imageReference' is not allowed when osDisk.createOption is 'Attach'.")
    if storage.get("dataDisks"):
        raise _bad("The simulator creates VMs without data disks; attach them afterwards.")
    os_type = _text(os_disk, "osType", "osDisk.osType")
    if os_type not in ("Linux", "Windows"):
        raise _bad(f"The value '{os_type}' of parameter 'osDisk.osType' is invalid.")
    nics = _required(props.get("networkProfile"), "networkProfile").get("networkInterfaces")
    nic_ids = [str(n.get("id")) for n in nics or [] if isinstance(n, dict)]
    if not nic_ids or not all(_NIC_ID.match(nic) for nic in nic_ids):
        raise _bad("Required parameter 'networkProfile.networkInterfaces[].id' is missing or invalid.")
    disk = _attached_disk(state, os_disk, location, now)
    shown, stamp = _encryption(state, os_disk)

    image = disk.image if isinstance(disk, ImportedDisk) and disk.image else None
    tags = body.get("tags")
    fields: dict[str, Any] = {
        "name": name,
        "location": location,
        "size": size,
        "os_type": os_type,
        "security_type": "Standard",
        "os_disk": {"size_gb": disk.size_gb, "sku": disk.sku, "disk_encryption_set_id": disk.disk_encryption_set_id},
        "tags": {str(k): str(v) for k, v in tags.items()} if isinstance(tags, dict) else {},
    }
    if image is not None:
        fields["image"] = image
    try:
        spec = VmSpec.model_validate(fields)
    except ValidationError as exc:
        raise _bad(f"The VM definition is invalid: {exc.errors()[0]['msg']}") from exc
    encrypted = stamp is not None
    vm = VirtualMachine(
        subscription_id=state.subscription(sub).id,
        resource_group=rg.name,
        spec=spec,
        location=location,
        time_created=now,
        ade=AdeState(
            volumes=(Volume(disk.name, VolumeKind.OS, disk.size_gb),),
            rates=state.rates,
            stripdown=False,
            base={disk.name: VolumeState.ENCRYPTED if encrypted else VolumeState.NOT_ENCRYPTED},
        ),
        os_disk=disk,
        data_disks=[],
    )
    op = state.new_operation(vm.subscription_id, location, now, VM_CREATE_SECONDS)
    vm.attached = AttachedOsDisk(
        disk=disk,
        os_type=os_type,
        caching=str(os_disk.get("caching") or "ReadWrite"),
        encryption_settings=shown,
        encryption=stamp,
        nic_ids=nic_ids,
        body=copy.deepcopy(body),
        operation=op,
    )
    disk.vm = vm
    rg.vms[name.lower()] = vm
    return WriteResult(201, op), vm


def restart_vm(state: SimState, sub: str, rg: str, vm_name: str, now: datetime) -> WriteResult:
    """VirtualMachines_Restart: 202 LRO; completes a reboot-pending OS volume."""
    vm = state.vm(sub, rg, vm_name)
    if vm.deallocated(now):
        raise ArmError(
            409,
            "OperationNotAllowed",
            f"Operation 'restart' is not allowed on VM '{vm.name}' since the VM is deallocated.",
        )
    op = state.new_operation(vm.subscription_id, vm.location, now, RESTART_SECONDS)
    vm.ade.restarts.append(op.done_at)
    return WriteResult(202, op)
