"""The simulated world at start-up, built from a fleet spec: vaults and their objects, standalone disks, VMs with
their disks and extensions (pre-encrypted where the spec says so), policy assignments and Recovery Services vaults.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from azuresim.fleet import FleetSpec, StandaloneDiskSpec, VmSpec
from azuresim.state.ade import AdeState, new_stamp
from azuresim.state.backup import RecoveryVault
from azuresim.state.compute import (
    ADE_PUBLISHER,
    ADE_TYPE,
    Extension,
    ImportedDisk,
    ManagedDisk,
    VirtualMachine,
    data_disk_name,
)
from azuresim.state.disks import fleet_pages
from azuresim.state.encryption import SUCCEEDED as SUCCEEDED_STATUS
from azuresim.state.encryption import Rates, Status, Volume, VolumeKind, VolumeState, VolumeType
from azuresim.state.features import Registrations
from azuresim.state.keyvault import KeyVault, add_vault_objects
from azuresim.state.network import build_network
from azuresim.state.policy import PolicyAssignment
from azuresim.state.scalesets import build_scale_set
from azuresim.state.skus import check_controller
from azuresim.state.tree import ResourceGroup, Subscription, normalize_location


def build_subscriptions(fleet: FleetSpec, rates: Rates, now: datetime) -> dict[str, Subscription]:
    """Every subscription of the fleet, keyed by lower-cased id; resources were created 30 days before ``now``."""
    subscriptions: dict[str, Subscription] = {}
    created = now - timedelta(days=30)
    fraction = fleet.sim.disk_written_fraction
    for sub_spec in fleet.subscriptions:
        sub = Subscription(sub_spec.id, sub_spec.tenant_id)
        subscriptions[sub_spec.id.lower()] = sub
        for rg_spec in sub_spec.resource_groups:
            rg = ResourceGroup(rg_spec.name, rg_spec.location)
            sub.resource_groups[rg_spec.name.lower()] = rg
            for kv in rg_spec.key_vaults:
                rg.vaults[kv.name.lower()] = KeyVault(
                    subscription_id=sub.id,
                    resource_group=rg.name,
                    name=kv.name,
                    location=kv.location or rg.location,
                    tenant_id=sub.tenant_id,
                    enabled_for_disk_encryption=kv.enabled_for_disk_encryption,
                    enable_soft_delete=kv.enable_soft_delete,
                    enable_purge_protection=kv.enable_purge_protection,
                    enable_rbac_authorization=kv.enable_rbac_authorization,
                )
                add_vault_objects(rg.vaults[kv.name.lower()], kv, created, now)
            for disk_spec in rg_spec.disks:
                disk = _standalone_disk(sub.id, rg, disk_spec, created)
                disk.pages = fleet_pages(disk, disk_spec.written_gb, disk_spec.written_extents, fraction)
                rg.disks[disk_spec.name.lower()] = disk
    index = 0
    for sub_spec in fleet.subscriptions:
        sub = subscriptions[sub_spec.id.lower()]
        sub.registrations = Registrations.at_start(sub_spec.encryption_at_host_feature == "Registered", created)
        for rg_spec in sub_spec.resource_groups:
            rg = sub.resource_groups[rg_spec.name.lower()]
            for ss in rg_spec.scale_sets:
                rg.scale_sets[ss.name.lower()] = build_scale_set(sub.id, rg.name, rg.location, ss, created)
            for vm_spec in rg_spec.vms:
                _add_vm(sub, rg, vm_spec, rates, created, fraction)
            build_network(sub, rg, rg_spec, index)
            index += 1
    for sub_spec in fleet.subscriptions:
        sub = subscriptions[sub_spec.id.lower()]
        sub.policy_assignments = [PolicyAssignment(sub.id, a) for a in sub_spec.policy_assignments]
        for rg_spec in sub_spec.resource_groups:
            rg = sub.resource_groups[rg_spec.name.lower()]
            for rv in rg_spec.recovery_vaults:
                vault = RecoveryVault(sub.id, rg.name, rv.name, rv.location or rg.location)
                rg.recovery_vaults[rv.name.lower()] = vault
                for item in rv.protected_vms:
                    vm_rg = sub.resource_groups[(item.resource_group or rg.name).lower()]
                    vault.protect(vm_rg.vms[item.vm.lower()], item.policy, now)
    return subscriptions


def _add_vm(
    sub: Subscription, rg: ResourceGroup, spec: VmSpec, rates: Rates, created: datetime, fraction: float
) -> None:
    location = spec.location or rg.location
    check_controller(spec.name, spec.size, spec.disk_controller_type)
    ade = AdeState(
        volumes=_build_volumes(spec),
        rates=rates,
        stripdown=_uses_stripdown(spec),
        base=_initial_volume_states(spec),
    )
    ade.reword(spec.extension_status)
    os_disk = None
    if not spec.os_disk.ephemeral:
        os_disk = ManagedDisk(
            subscription_id=sub.id,
            resource_group=rg.name,
            name=f"{spec.name}-osdisk",
            location=location,
            size_gb=spec.os_disk.size_gb,
            sku=spec.os_disk.sku,
            time_created=created,
            os_type=spec.os_type,
            disk_encryption_set_id=spec.os_disk.disk_encryption_set_id,
            security_type=None if spec.security_type == "Standard" else spec.security_type,
            zones=list(spec.zones),
        )
    data_disks = [
        ManagedDisk(
            subscription_id=sub.id,
            resource_group=rg.name,
            name=data_disk_name(spec.name, dd.lun),
            location=location,
            size_gb=dd.size_gb,
            sku=dd.sku,
            time_created=created,
            disk_encryption_set_id=dd.disk_encryption_set_id,
            zones=list(spec.zones),
        )
        for dd in spec.data_disks
    ]
    vm = VirtualMachine(
        subscription_id=sub.id,
        resource_group=rg.name,
        spec=spec,
        location=location,
        time_created=created,
        ade=ade,
        os_disk=os_disk,
        data_disks=data_disks,
    )
    for disk, data in [*([(os_disk, spec.os_disk)] if os_disk else []), *zip(data_disks, spec.data_disks, strict=True)]:
        disk.vm = vm
        disk.pages = fleet_pages(disk, data.written_gb, data.written_extents, fraction)
        rg.disks[disk.name.lower()] = disk
    for ext_spec in spec.extensions:
        vm.extensions[ext_spec.name.lower()] = Extension.from_spec(ext_spec, location)
    if spec.encrypted.os or spec.encrypted.data:
        _preencrypt(sub, vm)
    rg.vms[spec.name.lower()] = vm


def _preencrypt(sub: Subscription, vm: VirtualMachine) -> None:
    """Start state ``encrypted``: stamps present and (unless declared) a succeeded ADE extension."""
    vaults = [v for rg in sub.resource_groups.values() for v in rg.vaults.values()]
    same_region = [v for v in vaults if normalize_location(v.location) == normalize_location(vm.location)]
    candidates = same_region or vaults
    vault = candidates[0] if candidates else None
    vault_name = vault.name if vault else f"kv-{vm.resource_group}"[:24]
    vault_id = (
        vault.id
        if vault
        else (
            f"/subscriptions/{sub.id}/resourceGroups/{vm.resource_group}/providers/Microsoft.KeyVault/vaults/{vault_name}"
        )
    )
    spec = vm.spec
    volume_type = (
        VolumeType.ALL
        if spec.encrypted.os and spec.encrypted.data
        else (VolumeType.OS if spec.encrypted.os else VolumeType.DATA)
    )
    kek_url = _preencrypt_kek(vm, vault)
    kek_vault_id = vault_id if kek_url else ""
    version = "1.0" if spec.encrypted.dual_pass else "1.1"
    for name, state in vm.ade.base.items():
        if state.value == "Encrypted":
            vm.ade.stamps[name] = new_stamp(vault_name, vault_id, kek_url, kek_vault_id, version)
            vm.ade.marked.add(name)  # M-2: the ADE marker of a disk ADE encrypted
    message = {
        VolumeType.ALL: "Encryption succeeded for all volumes",
        VolumeType.OS: "Encryption succeeded for OS volume",
        VolumeType.DATA: "Encryption succeeded for data volumes",
    }[volume_type]
    vm.ade.idle_status = Status(*SUCCEEDED_STATUS, message)
    settings: dict[str, Any] = {
        "EncryptionOperation": "EnableEncryption",
        "VolumeType": volume_type.value,
        "KeyVaultURL": f"https://{vault_name}.vault.azure.net",
        "KeyVaultResourceId": vault_id,
        "KeyEncryptionKeyURL": kek_url,
        "KekVaultResourceId": kek_vault_id,
        "KeyEncryptionAlgorithm": "RSA-OAEP",
        "SequenceVersion": str(uuid.uuid4()),
    }
    if spec.encrypted.dual_pass:
        _dual_pass(vm, settings)
    existing = vm.extensions.get(ADE_TYPE.lower())
    if spec.encrypted.extension_removed:
        # R-DIS-2: the extension was deleted without a disable; the guest and the disks stay encrypted.
        vm.extensions.pop(ADE_TYPE.lower(), None)
        vm.ade.last_settings = {"settings": settings, "forceUpdateTag": None}
        return
    if existing is None:
        existing = Extension(
            name=ADE_TYPE,
            location=vm.location,
            publisher=ADE_PUBLISHER,
            type=ADE_TYPE,
            type_handler_version="0.1" if spec.encrypted.dual_pass else "1.1",
            settings=settings,
        )
        vm.extensions[ADE_TYPE.lower()] = existing
    vm.ade.last_settings = {"settings": existing.settings, "forceUpdateTag": None}


def _dual_pass(vm: VirtualMachine, settings: dict[str, Any]) -> None:
    """The previous (AAD, dual-pass) release as ARM shows it (R-LIM-1, arm-reference §b.4): the settings in the VM
    model's ``osDisk.encryptionSettings`` (the disks' stamps say version "1.0") and an Entra app in the extension's."""
    stamp = next(iter(vm.ade.stamps.values()))
    vm.legacy_encryption_settings = {**stamp.settings_body(), "enabled": True}
    settings["AADClientID"] = str(uuid.uuid5(uuid.NAMESPACE_URL, vm.id))
    settings.pop("KeyVaultResourceId", None)
    settings.pop("KekVaultResourceId", None)


def _preencrypt_kek(vm: VirtualMachine, vault: KeyVault | None) -> str | None:
    """The versioned URL of the KEK a pre-encrypted VM's fleet entry names (``encrypted.kek``), if any."""
    spec = vm.spec.encrypted
    if not spec.kek:
        return None
    key = vault.keys.get(spec.kek.lower()) if vault else None
    if vault is None or key is None:
        raise ValueError(f"VM {vm.name!r}: encrypted.kek {spec.kek!r} is not a key of its disk-encryption vault")
    version = (spec.kek_version or key.version).lower()
    if version != key.version and version not in key.older:
        raise ValueError(f"VM {vm.name!r}: key {spec.kek!r} has no version {version}")
    return f"https://{vault.name}.vault.azure.net/keys/{key.name}/{version}"


def _standalone_disk(
    subscription_id: str, rg: ResourceGroup, spec: StandaloneDiskSpec, created: datetime
) -> ImportedDisk:
    return ImportedDisk(
        subscription_id=subscription_id,
        resource_group=rg.name,
        name=spec.name,
        location=spec.location or rg.location,
        size_gb=spec.size_gb,
        sku=spec.sku,
        time_created=created,
        os_type=spec.os_type,
        disk_encryption_set_id=spec.disk_encryption_set_id,
        source_uri=spec.source_uri,
        image=spec.image,
        zones=list(spec.zones),
    )


def _uses_stripdown(spec: VmSpec) -> bool:
    """Ubuntu 20.04/22.04 encrypt the OS offline from a stripped-down root (arm-reference §c, [L10])."""
    sku = spec.image.sku.lower()
    return spec.image.publisher.lower() == "canonical" and (sku.startswith("20_04") or sku.startswith("22_04"))


def _build_volumes(spec: VmSpec) -> tuple[Volume, ...]:
    vols = [Volume(f"{spec.name}-osdisk", VolumeKind.OS, spec.os_disk.size_gb)]
    vols += [
        Volume(data_disk_name(spec.name, d.lun), VolumeKind.DATA, d.size_gb, mounted=d.mounted) for d in spec.data_disks
    ]
    return tuple(vols)


def _initial_volume_states(spec: VmSpec) -> dict[str, VolumeState]:
    states = {f"{spec.name}-osdisk": VolumeState.ENCRYPTED if spec.encrypted.os else VolumeState.NOT_ENCRYPTED}
    for d in spec.data_disks:
        encrypted = spec.encrypted.data and d.mounted and not d.added_after_encryption
        states[data_disk_name(spec.name, d.lun)] = VolumeState.ENCRYPTED if encrypted else VolumeState.NOT_ENCRYPTED
    return states
