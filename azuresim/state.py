"""The simulated world: subscriptions → resource groups → resources, built from a fleet spec.

All reads and writes go through :class:`SimState` under one lock, because aiohttp handlers run in the
server thread while tests inspect the state from theirs. Methods raise :class:`ArmError` for anything
that ARM would answer with an error.
"""

from __future__ import annotations

import copy
import re
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from azuresim.backup import DEFAULT_JOB_ERROR, BackupOperation, ProtectedItem, RecoveryVault
from azuresim.clock import SimClock
from azuresim.compute import (
    ADE_PUBLISHER,
    ADE_TYPE,
    EXTENSION_DELETE_SECONDS,
    RESTART_SECONDS,
    AdeState,
    AsyncOperation,
    Extension,
    ManagedDisk,
    Snapshot,
    VirtualMachine,
    build_volumes,
    data_disk_name,
    initial_volume_states,
    new_stamp,
    uses_stripdown,
)
from azuresim.encryption import SUCCEEDED as SUCCEEDED_STATUS
from azuresim.encryption import Rates, Status, VolumeType
from azuresim.errors import ArmError, resource_not_found
from azuresim.faults import DEFAULT_EXTENSION_ERROR, WORLD_KINDS, ActiveFault, Fault, FaultPlan
from azuresim.fleet import FleetSpec, VmSpec
from azuresim.keyvault import KeyVault, add_vault_objects
from azuresim.policy import PolicyAssignment
from azuresim.vm_create import standalone_disk

_DISK_ID = re.compile(
    r"^/?subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)/providers/Microsoft\.Compute/disks/(?P<name>[^/]+)$",
    re.IGNORECASE,
)
_VAULT_ID = re.compile(
    r"^/?subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)/providers/Microsoft\.KeyVault/vaults/(?P<name>[^/]+)$",
    re.IGNORECASE,
)
SNAPSHOT_SKUS = ("Standard_LRS", "Premium_LRS", "Standard_ZRS")


def normalize_location(location: str) -> str:
    return location.replace(" ", "").lower()


@dataclass
class ResourceGroup:
    name: str
    location: str
    vms: dict[str, VirtualMachine] = field(default_factory=dict)
    disks: dict[str, ManagedDisk] = field(default_factory=dict)
    snapshots: dict[str, Snapshot] = field(default_factory=dict)
    vaults: dict[str, KeyVault] = field(default_factory=dict)
    recovery_vaults: dict[str, RecoveryVault] = field(default_factory=dict)


@dataclass
class Subscription:
    id: str
    tenant_id: str
    resource_groups: dict[str, ResourceGroup] = field(default_factory=dict)
    policy_assignments: list[PolicyAssignment] = field(default_factory=list)


@dataclass(frozen=True)
class WriteResult:
    """The outcome of a write: HTTP status, rendered-later resource and the LRO to advertise (if any)."""

    status: int
    operation: AsyncOperation | None = None


class SimState:
    """All simulated resources plus the registry of async operations."""

    def __init__(self, fleet: FleetSpec, clock: SimClock, faults: FaultPlan | None = None) -> None:
        self.lock = threading.RLock()
        self.clock = clock
        self.fleet = fleet
        self.faults = faults if faults is not None else FaultPlan()
        sim = fleet.sim
        self.rates = Rates(
            gb_per_hour=sim.gb_per_hour,
            stamp_seconds=sim.stamp_seconds,
            stripdown_seconds=sim.stripdown_seconds,
            format_all_seconds=sim.format_all_seconds,
        )
        self.snapshot_seconds = sim.snapshot_seconds
        self.backup_seconds = sim.backup_seconds
        self.subscriptions: dict[str, Subscription] = {}
        self.operations: dict[str, AsyncOperation] = {}
        self._build(clock.now())
        for fault in self.faults.initial:
            self.inject(fault)

    # ------------------------------------------------------------------------------------------ building

    def _build(self, now: datetime) -> None:
        created = now - timedelta(days=30)
        for sub_spec in self.fleet.subscriptions:
            sub = Subscription(sub_spec.id, sub_spec.tenant_id)
            self.subscriptions[sub_spec.id.lower()] = sub
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
                    rg.disks[disk_spec.name.lower()] = standalone_disk(sub.id, rg, disk_spec, created)
        for sub_spec in self.fleet.subscriptions:
            sub = self.subscriptions[sub_spec.id.lower()]
            for rg_spec in sub_spec.resource_groups:
                rg = sub.resource_groups[rg_spec.name.lower()]
                for vm_spec in rg_spec.vms:
                    self._add_vm(sub, rg, vm_spec, created)
        for sub_spec in self.fleet.subscriptions:
            sub = self.subscriptions[sub_spec.id.lower()]
            sub.policy_assignments = [PolicyAssignment(sub.id, a) for a in sub_spec.policy_assignments]
            for rg_spec in sub_spec.resource_groups:
                rg = sub.resource_groups[rg_spec.name.lower()]
                for rv in rg_spec.recovery_vaults:
                    vault = RecoveryVault(sub.id, rg.name, rv.name, rv.location or rg.location)
                    rg.recovery_vaults[rv.name.lower()] = vault
                    for item in rv.protected_vms:
                        vm_rg = sub.resource_groups[(item.resource_group or rg.name).lower()]
                        vault.protect(vm_rg.vms[item.vm.lower()], item.policy, now)

    def _add_vm(self, sub: Subscription, rg: ResourceGroup, spec: VmSpec, created: datetime) -> None:
        location = spec.location or rg.location
        ade = AdeState(
            volumes=build_volumes(spec),
            rates=self.rates,
            stripdown=uses_stripdown(spec),
            base=initial_volume_states(spec),
        )
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
        for disk in [*([os_disk] if os_disk else []), *data_disks]:
            disk.vm = vm
            rg.disks[disk.name.lower()] = disk
        for ext_spec in spec.extensions:
            vm.extensions[ext_spec.name.lower()] = Extension.from_spec(ext_spec, location)
        if spec.encrypted.os or spec.encrypted.data:
            self._preencrypt(sub, vm)
        rg.vms[spec.name.lower()] = vm

    def _preencrypt(self, sub: Subscription, vm: VirtualMachine) -> None:
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
        kek_url = self._preencrypt_kek(vm, vault)
        kek_vault_id = vault_id if kek_url else ""
        for name, state in vm.ade.base.items():
            if state.value == "Encrypted":
                vm.ade.stamps[name] = new_stamp(vault_name, vault_id, kek_url, kek_vault_id)
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
                type_handler_version="1.1",
                settings=settings,
            )
            vm.extensions[ADE_TYPE.lower()] = existing
        vm.ade.last_settings = {"settings": existing.settings, "forceUpdateTag": None}

    @staticmethod
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

    # ------------------------------------------------------------------------------------------ lookups

    def subscription(self, sub: str) -> Subscription:
        found = self.subscriptions.get(sub.lower())
        if found is None:
            raise ArmError(404, "SubscriptionNotFound", f"The subscription '{sub}' could not be found.")
        return found

    def resource_group(self, sub: str, rg: str) -> ResourceGroup:
        found = self.subscription(sub).resource_groups.get(rg.lower())
        if found is None:
            raise ArmError(404, "ResourceGroupNotFound", f"Resource group '{rg}' could not be found.")
        return found

    def vm(self, sub: str, rg: str, name: str) -> VirtualMachine:
        found = self.resource_group(sub, rg).vms.get(name.lower())
        if found is None or found.deleted(self.clock.now()):
            raise resource_not_found("Microsoft.Compute/virtualMachines", name, rg)
        return found

    def disk(self, sub: str, rg: str, name: str) -> ManagedDisk:
        found = self.resource_group(sub, rg).disks.get(name.lower())
        if found is None or (found.vm is not None and found.vm.deleted(self.clock.now())):
            raise resource_not_found("Microsoft.Compute/disks", name, rg)
        return found

    def vms_named(self, name: str, resource_group: str | None = None) -> list[VirtualMachine]:
        """Every VM with this name (any subscription), optionally in one resource group."""
        return [
            vm
            for sub in self.subscriptions.values()
            for rg in sub.resource_groups.values()
            if resource_group is None or rg.name.lower() == resource_group.lower()
            for key, vm in rg.vms.items()
            if key == name.lower()
        ]

    # ------------------------------------------------------------------------------------------ faults

    def inject(self, fault: Fault) -> ActiveFault:
        """Activate a fault; world-changing kinds take effect on the named VMs right away."""
        with self.lock:
            now = self.clock.now()
            vms = self.vms_named(fault.vm, fault.resource_group) if fault.vm else []
            if fault.vm and not vms:
                raise ArmError(404, "ResourceNotFound", f"No VM named '{fault.vm}' in the fleet.")
            names = [n for vm in vms for n in (vm.name, *vm.disk_names)]
            active = self.faults.add(fault, names, now)
            if fault.kind in WORLD_KINDS:
                at = now + timedelta(seconds=fault.after_s)
                for vm in vms:
                    if fault.kind == "encryption_stuck":
                        vm.ade.stuck_percent = fault.percent
                    elif fault.kind == "restart_pending":
                        vm.ade.restart_pending = True
                    elif fault.kind == "vm_deallocated":
                        vm.deallocated_at = at
                        vm.ade.halted_at = at
                    elif fault.kind == "vm_deleted":
                        vm.deleted_at = at
            return active

    def clear_faults(self) -> None:
        """Drop every fault; a stuck or reboot-waiting guest resumes (deallocated/deleted VMs stay so)."""
        with self.lock:
            for active in self.faults.clear():
                if active.kind in ("encryption_stuck", "restart_pending"):
                    for vm in self.vms_named(str(active.fault.vm), active.fault.resource_group):
                        vm.ade.stuck_percent = None
                        vm.ade.restart_pending = False

    def snapshot(self, sub: str, rg: str, name: str) -> Snapshot:
        found = self.resource_group(sub, rg).snapshots.get(name.lower())
        if found is None:
            raise resource_not_found("Microsoft.Compute/snapshots", name, rg)
        return found

    def vault(self, sub: str, rg: str, name: str) -> KeyVault:
        found = self.resource_group(sub, rg).vaults.get(name.lower())
        if found is None:
            raise resource_not_found("Microsoft.KeyVault/vaults", name, rg)
        return found

    def extension(self, sub: str, rg: str, vm_name: str, name: str, now: datetime) -> tuple[VirtualMachine, Extension]:
        vm = self.vm(sub, rg, vm_name)
        vm.live_extensions(now)
        ext = vm.extensions.get(name.lower())
        if ext is None:
            raise resource_not_found("Microsoft.Compute/virtualMachines", f"{vm_name}/extensions/{name}", rg)
        return vm, ext

    def recovery_vault(self, sub: str, rg: str, name: str) -> RecoveryVault:
        found = self.resource_group(sub, rg).recovery_vaults.get(name.lower())
        if found is None:
            raise resource_not_found("Microsoft.RecoveryServices/vaults", name, rg)
        return found

    def protected_item(self, sub: str, rg: str, vault_name: str, container: str, item: str) -> ProtectedItem:
        vault = self.recovery_vault(sub, rg, vault_name)
        found = vault.item(container, item)
        if found is None or found.vm.deleted(self.clock.now()):
            raise resource_not_found("Microsoft.RecoveryServices/vaults", f"{vault_name}/protectedItems/{item}", rg)
        return found

    def protection_of(self, vm_id: str) -> ProtectedItem | None:
        """The protected item of the VM with this ARM id, in any vault of its subscription."""
        for sub in self.subscriptions.values():
            for rg in sub.resource_groups.values():
                for vault in rg.recovery_vaults.values():
                    for item in vault.items.values():
                        if item.vm.id.lower() == vm_id.rstrip("/").lower():
                            return item
        return None

    def trigger_backup(self, item: ProtectedItem, now: datetime) -> BackupOperation:
        injected = self.faults.take("backup_job_failure", item.vm.name)
        error = None
        if injected is not None:
            code, title, message = DEFAULT_JOB_ERROR
            error = (code, injected.fault.code or title, injected.fault.message or message)
        return item.vault.trigger(item, now, self.backup_seconds, error)

    def vault_by_id(self, resource_id: str) -> KeyVault | None:
        m = _VAULT_ID.match(resource_id.strip())
        if not m:
            return None
        sub = self.subscriptions.get(m["sub"].lower())
        rg = sub.resource_groups.get(m["rg"].lower()) if sub else None
        return rg.vaults.get(m["name"].lower()) if rg else None

    def operation(self, sub: str, op_id: str) -> AsyncOperation:
        self.subscription(sub)
        op = self.operations.get(op_id)
        if op is None or op.subscription_id.lower() != sub.lower():
            raise ArmError(404, "ResourceNotFound", f"The operation '{op_id}' was not found.")
        return op

    def new_operation(
        self, sub: str, location: str, now: datetime, seconds: float, error: tuple[str, str] | None = None
    ) -> AsyncOperation:
        op = AsyncOperation(
            id=str(uuid.uuid4()),
            subscription_id=sub,
            location=normalize_location(location),
            started_at=now,
            done_at=now + timedelta(seconds=seconds),
            error=error,
        )
        self.operations[op.id] = op
        return op

    # ------------------------------------------------------------------------------------------ writes

    def put_extension(
        self, sub: str, rg: str, vm_name: str, name: str, body: dict[str, Any], now: datetime
    ) -> tuple[WriteResult, VirtualMachine, Extension]:
        """VirtualMachineExtensions_CreateOrUpdate: 201 when new, 200 when it exists (never 202)."""
        vm = self.vm(sub, rg, vm_name)
        vm.live_extensions(now)
        if vm.deallocated(now):
            raise ArmError(409, "OperationNotAllowed", "Cannot modify extensions in the VM when the VM is not running.")
        props = body.get("properties")
        if not isinstance(props, dict):
            raise ArmError(400, "InvalidRequestContent", "The request content is missing 'properties'.")
        existing = vm.extensions.get(name.lower())
        if existing is not None and existing.delete_operation is not None:
            raise ArmError(
                409, "OperationNotAllowed", f"Extension '{name}' is being deleted; retry after the delete completes."
            )
        fresh = existing is None
        publisher = props.get("publisher") or (existing.publisher if existing else None)
        ext_type = props.get("type") or (existing.type if existing else None)
        version = props.get("typeHandlerVersion") or (existing.type_handler_version if existing else None)
        for key, value in (("publisher", publisher), ("type", ext_type), ("typeHandlerVersion", version)):
            if not isinstance(value, str) or not value:
                raise ArmError(400, "InvalidParameter", f"Required parameter '{key}' is missing (null).")
        assert isinstance(publisher, str) and isinstance(ext_type, str) and isinstance(version, str)
        if existing is not None and (
            existing.publisher.lower() != publisher.lower() or existing.type.lower() != ext_type.lower()
        ):
            raise ArmError(400, "PropertyChangeNotAllowed", "Changing property 'publisher' or 'type' is not allowed.")
        settings = props.get("settings") or {}
        if not isinstance(settings, dict):
            raise ArmError(400, "InvalidParameter", "The value of parameter 'settings' is invalid.")
        force_tag = props.get("forceUpdateTag")
        ext = existing or Extension(
            name=name, location=vm.location, publisher=publisher, type=ext_type, type_handler_version=version
        )
        previous = (ext.settings, ext.force_update_tag, ext.type_handler_version)
        ext.publisher, ext.type, ext.type_handler_version = publisher, ext_type, version
        ext.location = str(body.get("location") or ext.location)
        if "autoUpgradeMinorVersion" in props:
            ext.auto_upgrade_minor_version = bool(props["autoUpgradeMinorVersion"])
        ext.enable_automatic_upgrade = props.get("enableAutomaticUpgrade", ext.enable_automatic_upgrade)
        ext.suppress_failures = props.get("suppressFailures", ext.suppress_failures)
        if isinstance(body.get("tags"), dict):
            ext.tags = {str(k): str(v) for k, v in body["tags"].items()}
        ext.settings = copy.deepcopy(settings)
        ext.force_update_tag = force_tag

        if ext.is_ade:
            vault_problem = None
            kv_id = settings.get("KeyVaultResourceId")
            if isinstance(kv_id, str) and kv_id:
                kv = self.vault_by_id(kv_id)
                if kv is None:
                    vault_problem = f"The key vault '{kv_id}' could not be found."
                elif not kv.enabled_for_disk_encryption:
                    vault_problem = f"KeyVault '{kv.name}' is not enabled for disk encryption."
            injected = (
                self.faults.take("extension_failure", vm.name)
                if str(settings.get("EncryptionOperation", "")).startswith("EnableEncryption")
                else None
            )
            if injected is not None:
                outcome = vm.ade.inject_failure(
                    settings,
                    now,
                    injected.fault.code or "100",
                    injected.fault.message or DEFAULT_EXTENSION_ERROR,
                    ext.name,
                )
            else:
                outcome = vm.ade.put(
                    settings,
                    now,
                    fresh=fresh,
                    ext_name=ext.name,
                    vault_problem=vault_problem,
                    force_update_tag=force_tag,
                )
            changed, seconds, error = outcome.changed, outcome.lro_seconds, outcome.error
        else:
            changed = fresh or previous != (ext.settings, ext.force_update_tag, ext.type_handler_version)
            seconds, error = self.rates.stamp_seconds, None

        if changed:
            op = self.new_operation(vm.subscription_id, vm.location, now, seconds, error)
            ext.operation = op
            ext.creating = fresh
        elif ext.operation is not None and not ext.operation.finished(now):
            op = ext.operation
        else:
            op = self.new_operation(vm.subscription_id, vm.location, now, 0.0)
        vm.extensions[name.lower()] = ext
        return WriteResult(201 if fresh else 200, op), vm, ext

    def delete_extension(self, sub: str, rg: str, vm_name: str, name: str, now: datetime) -> WriteResult:
        vm = self.vm(sub, rg, vm_name)
        vm.live_extensions(now)
        ext = vm.extensions.get(name.lower())
        if ext is None:
            return WriteResult(204)
        if ext.delete_operation is None:
            ext.delete_operation = self.new_operation(vm.subscription_id, vm.location, now, EXTENSION_DELETE_SECONDS)
        return WriteResult(202, ext.delete_operation)

    def put_snapshot(
        self, sub: str, rg_name: str, name: str, body: dict[str, Any], now: datetime
    ) -> tuple[WriteResult, Snapshot]:
        """Snapshots_CreateOrUpdate from a managed disk (createOption Copy); 202, or 200 when unchanged."""
        rg = self.resource_group(sub, rg_name)
        props = body.get("properties")
        if not isinstance(props, dict):
            raise ArmError(400, "InvalidRequestContent", "The request content is missing 'properties'.")
        creation = props.get("creationData")
        if not isinstance(creation, dict):
            raise ArmError(400, "InvalidParameter", "Required parameter 'creationData' is missing (null).")
        if str(creation.get("createOption", "")).lower() != "copy":
            raise ArmError(400, "InvalidParameter", "Only createOption 'Copy' is supported by the simulator.")
        source_id = str(creation.get("sourceResourceId") or "")
        m = _DISK_ID.match(source_id)
        if not m:
            raise ArmError(400, "InvalidParameter", f"Invalid sourceResourceId '{source_id}'.")
        disk = self.disk(m["sub"], m["rg"], m["name"])
        sku_body = body.get("sku")
        sku = str(sku_body.get("name")) if isinstance(sku_body, dict) and sku_body.get("name") else "Standard_LRS"
        if sku not in SNAPSHOT_SKUS:
            raise ArmError(400, "InvalidParameter", f"The value '{sku}' of parameter 'sku.name' is invalid.")
        tags_body = body.get("tags")
        tags = {str(k): str(v) for k, v in tags_body.items()} if isinstance(tags_body, dict) else {}
        existing = rg.snapshots.get(name.lower())
        if existing is not None:
            if existing.source is not disk:
                raise ArmError(409, "PropertyChangeNotAllowed", "Changing property 'sourceResourceId' is not allowed.")
            existing.tags = tags
            if existing.operation.finished(now):
                return WriteResult(200, None), existing
            return WriteResult(200, existing.operation), existing
        location = str(body.get("location") or disk.location)
        error = None
        if disk.vm is not None and self.faults.take("snapshot_failure", disk.vm.name) is not None:
            error = (
                "InternalDiskManagementError",
                f"An internal disk management error occurred while creating snapshot '{name}' of disk "
                f"'{disk.name}'. Please retry later.",
            )
        op = self.new_operation(sub, location, now, self.snapshot_seconds, error)
        stamp = disk.vm.ade.stamps_at(now).get(disk.name) if disk.vm else None
        snap = Snapshot(
            subscription_id=self.subscription(sub).id,
            resource_group=rg.name,
            name=name,
            location=location,
            sku=sku,
            incremental=bool(props.get("incremental", False)),
            source=disk,
            tags=tags,
            operation=op,
            stamp=stamp,
        )
        rg.snapshots[name.lower()] = snap
        return WriteResult(202, op), snap

    def restart_vm(self, sub: str, rg: str, vm_name: str, now: datetime) -> WriteResult:
        """VirtualMachines_Restart: 202 LRO; completes a reboot-pending OS volume."""
        vm = self.vm(sub, rg, vm_name)
        if vm.deallocated(now):
            raise ArmError(
                409,
                "OperationNotAllowed",
                f"Operation 'restart' is not allowed on VM '{vm.name}' since the VM is deallocated.",
            )
        op = self.new_operation(vm.subscription_id, vm.location, now, RESTART_SECONDS)
        vm.ade.restarts.append(op.done_at)
        return WriteResult(202, op)

    def delete_snapshot(self, sub: str, rg_name: str, name: str) -> WriteResult:
        rg = self.resource_group(sub, rg_name)
        if rg.snapshots.pop(name.lower(), None) is None:
            return WriteResult(204)
        return WriteResult(200)
