"""VM writes: VirtualMachines_Restart, and VirtualMachines_CreateOrUpdate of a new VM around existing managed disks.

Two callers: a VM around a customer-encrypted OS disk imported from a VHD (R-VHD-1), whose ``osDisk`` carries
``encryptionSettings`` naming the disk-encryption key (a Key Vault secret URL + vault id) and optionally a KEK; and
the new VM of an ADE migration (M-3, M-4): OS and data disks attached (``createOption: Attach``) from new Upload
disks with ``securityProfile.encryptionAtHost: true``. :mod:`azuresim.state.vm_request` reads and checks the body
(size, the EncryptionAtHost feature, disks, the ADE marker, NICs); this module checks the key references
synchronously, as Compute does, and creates the VM: 201 with ``Azure-AsyncOperation``, the same PUT again is a
retry (200), any other PUT on an existing name a 409. Error codes for the Key Vault checks follow what Compute
reports for ``osProfile`` secrets (``KeyVaultAccessForbidden``, ``KeyVaultSecretDoesNotExist``) (inference: no
official example of a VM create with encryptionSettings). A PUT from an image (the M-4 rebuild) makes its disks
first (:mod:`azuresim.state.vm_image`); updates of an existing VM are out of the simulator's scope and refused.
"""

from __future__ import annotations

import copy
import re
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from azuresim.errors import ArmError
from azuresim.fleet import VmSpec
from azuresim.state import vm_image
from azuresim.state.ade import AdeState, DiskStamp
from azuresim.state.compute import RESTART_SECONDS, VM_CREATE_SECONDS, AttachedOsDisk, ImportedDisk, VirtualMachine
from azuresim.state.encryption import Volume, VolumeKind, VolumeState
from azuresim.state.keyvault import KeyVault
from azuresim.state.operations import WriteResult
from azuresim.state.skus import VmSize
from azuresim.state.vm_request import bad as _bad
from azuresim.state.vm_request import read_request
from azuresim.state.vm_request import required as _required
from azuresim.state.vm_request import text as _text

if TYPE_CHECKING:
    from azuresim.state.tree import ResourceGroup
    from azuresim.state.world import SimState

_OBJECT_URL = re.compile(
    r"^https://(?P<vault>[a-zA-Z0-9-]+)\.vault\.azure\.net/(?P<kind>secrets|keys)/(?P<name>[^/]+)/(?P<version>[^/]+)/?$",
    re.IGNORECASE,
)


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


def _disk_controller(body: dict[str, Any], size: VmSize) -> str | None:
    """``storageProfile.diskControllerType`` of the PUT (enum values compare case-insensitively, as ARM's do); the
    size must offer it (Resource SKUs ``DiskControllerTypes``; error wording is an inference)."""
    raw = body["properties"]["storageProfile"].get("diskControllerType")
    if raw is None:
        return None
    value = {"scsi": "SCSI", "nvme": "NVMe"}.get(str(raw).lower())
    if value is None:
        raise _bad(f"The value '{raw}' of parameter 'storageProfile.diskControllerType' is invalid.")
    if not size.supports_controller(value):
        raise _bad(
            f"The VM size '{size.name}' does not support disk controller type '{value}' "
            f"(Resource SKU capability 'DiskControllerTypes' is '{size.controllers}')."
        )
    return value


def create_vm(
    state: SimState, sub: str, rg_name: str, name: str, body: dict[str, Any], now: datetime
) -> tuple[WriteResult, VirtualMachine]:
    """201 and a new VM for a valid attach PUT; 200 for the identical PUT again (a retry); 4xx otherwise."""
    rg = state.resource_group(sub, rg_name)
    existing = rg.vms.get(name.lower())
    if existing is not None and not existing.deleted(now):
        if existing.delete_operation is not None:
            raise ArmError(409, "OperationNotAllowed", f"VM '{existing.name}' is being deleted; retry when it is gone.")
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
    if not vm_image.from_image(body):
        return _create(state, sub, rg, name, body, body, now)
    attach, made = vm_image.provision(state, sub, rg.name, name, body, now)  # M-4: the image's disks first
    try:
        return _create(state, sub, rg, name, attach, body, now)
    except ArmError:
        vm_image.discard(state, sub, rg.name, made)
        raise


def _create(
    state: SimState,
    sub: str,
    rg: ResourceGroup,
    name: str,
    body: dict[str, Any],
    original: dict[str, Any],
    now: datetime,
) -> tuple[WriteResult, VirtualMachine]:
    """The VM around existing disks (``body``, an attach PUT); ``original`` is the PUT as sent, kept for retries."""
    req = read_request(state, sub, rg.name, name, body, now)
    os_node = body["properties"]["storageProfile"]["osDisk"]
    shown, stamp = _encryption(state, os_node)
    disk = req.os_disk.disk
    image = disk.image if isinstance(disk, ImportedDisk) and disk.image else None
    fields: dict[str, Any] = {
        "name": name,
        "location": req.location,
        "size": req.size.name,
        "os_type": req.os_type,
        "security_type": req.security_type,
        "encryption_at_host": req.encryption_at_host,
        "zones": req.zones,
        "os_disk": {"size_gb": disk.size_gb, "sku": disk.sku, "disk_encryption_set_id": disk.disk_encryption_set_id},
        "data_disks": [
            {"lun": d.lun, "size_gb": d.disk.size_gb, "sku": d.disk.sku, "disk_encryption_set_id": des}
            for d in req.data_disks
            for des in [d.disk.disk_encryption_set_id]
        ],
        "tags": req.tags,
        "disk_controller_type": _disk_controller(body, req.size),
    }
    if image is not None:
        fields["image"] = image
    try:
        spec = VmSpec.model_validate(fields)
    except ValidationError as exc:
        raise _bad(f"The VM definition is invalid: {exc.errors()[0]['msg']}") from exc
    volumes = [Volume(disk.name, VolumeKind.OS, disk.size_gb)]
    volumes += [Volume(d.disk.name, VolumeKind.DATA, d.disk.size_gb) for d in req.data_disks]
    base = {v.name: VolumeState.NOT_ENCRYPTED for v in volumes}
    base[disk.name] = VolumeState.ENCRYPTED if stamp is not None else VolumeState.NOT_ENCRYPTED
    vm = VirtualMachine(
        subscription_id=state.subscription(sub).id,
        resource_group=rg.name,
        spec=spec,
        location=req.location,
        time_created=now,
        ade=AdeState(volumes=tuple(volumes), rates=state.rates, stripdown=False, base=base),
        os_disk=disk,
        data_disks=[d.disk for d in req.data_disks],
    )
    op = state.new_operation(vm.subscription_id, req.location, now, VM_CREATE_SECONDS)
    vm.attached = AttachedOsDisk(
        disk=disk,
        os_type=req.os_type,
        caching=req.os_disk.caching,
        encryption_settings=shown,
        encryption=stamp,
        body=copy.deepcopy(original),
        operation=op,
        data_caching={d.disk.name.lower(): d.caching for d in req.data_disks},
    )
    vm.starting_until = op.done_at
    vm.nics = req.nics
    for item in req.disks:
        item.disk.vm = vm
        vm.delete_options[item.disk.id.lower()] = item.delete_option
    for nic, option in zip(req.nics, req.nic_delete_options, strict=True):
        nic.vm = vm
        nic.reserved_for = nic.reserved_until = None
        vm.delete_options[nic.id.lower()] = option
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
