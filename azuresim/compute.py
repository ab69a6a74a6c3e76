"""Microsoft.Compute state: VMs, managed disks, snapshots, VM extensions and the ADE handler.

Plain dataclasses hold the state; ``render_*`` functions turn them into response bodies shaped like the
official REST examples. Anything time-dependent (LROs, encryption progress) is evaluated against ``now``
at read time.
"""

from __future__ import annotations

import copy
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from azuresim import encryption as enc
from azuresim.encryption import (
    Operation,
    Progress,
    Rates,
    Run,
    Status,
    Volume,
    VolumeKind,
    VolumeState,
    VolumeType,
)
from azuresim.fleet import ExtensionSpec, VmSpec

ADE_PUBLISHER = "Microsoft.Azure.Security"
ADE_TYPE = "AzureDiskEncryptionForLinux"
ADE_SUBSTATUS_PREFIX = f"ComponentStatus/{ADE_PUBLISHER}.{ADE_TYPE}"
EXTENSION_DELETE_SECONDS = 30.0
RESTART_SECONDS = 60.0
RESTART_PENDING = "VMRestartPending"
RESTART_PENDING_MESSAGE = "OS disk successfully encrypted, please reboot the VM"
GIB = 1024**3


def _iso(ts: datetime) -> str:
    return ts.isoformat()


def compute_id(subscription: str, resource_group: str, kind: str, name: str) -> str:
    prefix = f"/subscriptions/{subscription}/resourceGroups/{resource_group}"
    return f"{prefix}/providers/Microsoft.Compute/{kind}/{name}"


# --------------------------------------------------------------------------------------------- operations


@dataclass
class AsyncOperation:
    """A Compute async operation (the ``Azure-AsyncOperation`` target); its outcome is fixed up front."""

    id: str
    subscription_id: str
    location: str
    started_at: datetime
    done_at: datetime
    error: tuple[str, str] | None = None

    def finished(self, now: datetime) -> bool:
        return now >= self.done_at

    def status(self, now: datetime) -> str:
        if not self.finished(now):
            return "InProgress"
        return "Failed" if self.error else "Succeeded"

    def remaining_seconds(self, now: datetime) -> float:
        return max(0.0, (self.done_at - now).total_seconds())

    def body(self, now: datetime) -> dict[str, Any]:
        body: dict[str, Any] = {
            "name": self.id,
            "status": self.status(now),
            "startTime": _iso(self.started_at),
        }
        if self.finished(now):
            body["endTime"] = _iso(self.done_at)
            if self.error:
                body["error"] = {"code": self.error[0], "message": self.error[1]}
        return body


# --------------------------------------------------------------------------------------------- disks


@dataclass(frozen=True)
class DiskStamp:
    """What ADE stamps on a managed disk (one entry of ``encryptionSettingsCollection``)."""

    secret_url: str
    source_vault_id: str
    kek_url: str | None = None
    kek_vault_id: str | None = None

    def settings_body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "diskEncryptionKey": {"secretUrl": self.secret_url, "sourceVault": {"id": self.source_vault_id}}
        }
        if self.kek_url:
            body["keyEncryptionKey"] = {
                "keyUrl": self.kek_url,
                "sourceVault": {"id": self.kek_vault_id or self.source_vault_id},
            }
        return body

    @staticmethod
    def collection(stamp: DiskStamp) -> dict[str, Any]:
        return {
            "enabled": True,
            "encryptionSettings": [stamp.settings_body()],
            "encryptionSettingsVersion": "1.1",
        }


def new_stamp(vault_name: str, vault_id: str, kek_url: str | None, kek_vault_id: str | None) -> DiskStamp:
    secret_url = f"https://{vault_name}.vault.azure.net/secrets/{uuid.uuid4()}/{secrets.token_hex(16)}"
    return DiskStamp(secret_url, vault_id, kek_url or None, (kek_vault_id or vault_id) if kek_url else None)


@dataclass
class ManagedDisk:
    subscription_id: str
    resource_group: str
    name: str
    location: str
    size_gb: int
    sku: str
    time_created: datetime
    os_type: str | None = None
    disk_encryption_set_id: str | None = None
    security_type: str | None = None
    zones: list[str] = field(default_factory=list)
    vm: VirtualMachine | None = None
    unique_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    source_uri: str | None = None
    """Set for a disk imported from a VHD blob (``createOption: Import``)."""

    @property
    def id(self) -> str:
        return compute_id(self.subscription_id, self.resource_group, "disks", self.name)


def render_disk(disk: ManagedDisk, now: datetime) -> dict[str, Any]:
    encryption: dict[str, Any] = {"type": "EncryptionAtRestWithPlatformKey"}
    if disk.disk_encryption_set_id:
        encryption = {
            "type": "EncryptionAtRestWithCustomerKey",
            "diskEncryptionSetId": disk.disk_encryption_set_id,
        }
    props: dict[str, Any] = {}
    if disk.os_type:
        props["osType"] = disk.os_type
        props["hyperVGeneration"] = "V2"
        props["creationData"] = {"createOption": "FromImage"}
    else:
        props["creationData"] = {"createOption": "Empty"}
    if disk.source_uri:
        props["creationData"] = {"createOption": "Import", "sourceUri": disk.source_uri}
    if disk.security_type and disk.os_type:
        props["securityProfile"] = {"securityType": disk.security_type}
    props.update(
        {
            "diskSizeGB": disk.size_gb,
            "diskSizeBytes": disk.size_gb * GIB,
            "uniqueId": disk.unique_id,
            "encryption": encryption,
            "networkAccessPolicy": "AllowAll",
            "publicNetworkAccess": "Disabled",
            "timeCreated": _iso(disk.time_created),
            "provisioningState": "Succeeded",
            "diskState": "Attached" if disk.vm else "Unattached",
        }
    )
    stamp = disk.vm.ade.stamps_at(now).get(disk.name) if disk.vm else None
    if stamp:
        props["encryptionSettingsCollection"] = DiskStamp.collection(stamp)
    body: dict[str, Any] = {
        "id": disk.id,
        "name": disk.name,
        "type": "Microsoft.Compute/disks",
        "location": disk.location,
        "tags": {},
        "sku": {"name": disk.sku, "tier": "Premium" if disk.sku.startswith("Premium") else "Standard"},
        "properties": props,
    }
    if disk.vm:
        body["managedBy"] = disk.vm.id
    if disk.zones:
        body["zones"] = list(disk.zones)
    return body


# --------------------------------------------------------------------------------------------- snapshots


@dataclass
class Snapshot:
    subscription_id: str
    resource_group: str
    name: str
    location: str
    sku: str
    incremental: bool
    source: ManagedDisk
    tags: dict[str, str]
    operation: AsyncOperation
    stamp: DiskStamp | None
    unique_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    @property
    def id(self) -> str:
        return compute_id(self.subscription_id, self.resource_group, "snapshots", self.name)

    def provisioning_state(self, now: datetime) -> str:
        if not self.operation.finished(now):
            return "Updating"
        return "Failed" if self.operation.error else "Succeeded"


def render_snapshot(snap: Snapshot, now: datetime) -> dict[str, Any]:
    op = snap.operation
    total = max((op.done_at - op.started_at).total_seconds(), 1e-9)
    pct = 100.0 if op.finished(now) else round(min(99.0, (now - op.started_at).total_seconds() / total * 100), 1)
    props: dict[str, Any] = {}
    if snap.source.os_type:
        props["osType"] = snap.source.os_type
        props["hyperVGeneration"] = "V2"
    props.update(
        {
            "creationData": {
                "createOption": "Copy",
                "sourceResourceId": snap.source.id,
                "sourceUniqueId": snap.source.unique_id,
            },
            "diskSizeGB": snap.source.size_gb,
            "diskSizeBytes": snap.source.size_gb * GIB,
            "encryption": {"type": "EncryptionAtRestWithPlatformKey"},
            "incremental": snap.incremental,
            "uniqueId": snap.unique_id,
            "networkAccessPolicy": "AllowAll",
            "completionPercent": pct,
            "timeCreated": _iso(op.started_at),
            "provisioningState": snap.provisioning_state(now),
        }
    )
    if snap.incremental:
        props["incrementalSnapshotFamilyId"] = str(uuid.uuid5(uuid.NAMESPACE_URL, snap.source.unique_id))
    if snap.stamp:
        props["encryptionSettingsCollection"] = DiskStamp.collection(snap.stamp)
    return {
        "id": snap.id,
        "name": snap.name,
        "type": "Microsoft.Compute/snapshots",
        "location": snap.location,
        "tags": dict(snap.tags),
        "sku": {"name": snap.sku, "tier": "Premium" if snap.sku.startswith("Premium") else "Standard"},
        "properties": props,
    }


# --------------------------------------------------------------------------------------------- ADE handler


def _extension_failure(ext_name: str, message: str) -> tuple[str, str]:
    return (
        "VMExtensionProvisioningError",
        f"VM has reported a failure when processing extension '{ext_name}'. Error message: \"{message}\".",
    )


@dataclass(frozen=True)
class PutOutcome:
    """What a PUT of the ADE extension did: ``changed`` False means an idempotent no-op."""

    changed: bool
    lro_seconds: float = 0.0
    error: tuple[str, str] | None = None


@dataclass
class AdeState:
    """The guest-side ADE handler of one VM: materialised volume states plus the current run, if any.

    Lives on the VM, not on the extension resource: deleting the extension does not decrypt disks.
    """

    volumes: tuple[Volume, ...]
    rates: Rates
    stripdown: bool
    base: dict[str, VolumeState]
    stamps: dict[str, DiskStamp] = field(default_factory=dict)
    idle_status: Status = field(default_factory=lambda: Status(*enc.SUCCEEDED, ""))
    run: Run | None = None
    run_stamps: dict[str, DiskStamp] = field(default_factory=dict)
    last_settings: dict[str, Any] | None = None
    last_failed: bool = False
    rejected: bool = False
    failure: Status | None = None
    failure_visible_at: datetime | None = None
    # Faults (azuresim.faults): a frozen timeline and a reboot the OS pass waits for.
    stuck_percent: int | None = None
    halted_at: datetime | None = None
    restart_pending: bool = False
    restarts: list[datetime] = field(default_factory=list)

    def effective(self, now: datetime) -> datetime:
        """The guest's own notion of "now": progress stops while stuck or deallocated."""
        t = now
        if self.halted_at is not None:
            t = min(t, self.halted_at)
        if self.run is not None:
            if self.stuck_percent is not None:
                p = enc.plan(self.run, self.volumes, self.rates)
                steps = [*p.data_steps, *([p.os_step] if p.os_step else [])]
                if steps:
                    first = steps[0]
                    offset = first.start + (first.end - first.start) * self.stuck_percent / 100.0
                    t = min(t, self.run.started_at + timedelta(seconds=offset))
            t = max(t, min(now, self.run.started_at))
        return t

    def _awaiting_restart(self, now: datetime) -> bool:
        if not self.restart_pending or self.run is None:
            return False
        p = enc.plan(self.run, self.volumes, self.rates)
        if p.os_step is None:
            return False
        os_done = self.run.started_at + timedelta(seconds=p.os_step.end)
        if self.effective(now) < os_done:
            return False
        return not any(os_done <= t <= now for t in self.restarts)

    def _raw(self, now: datetime) -> Progress:
        if self.run is not None:
            return enc.evaluate(self.run, self.volumes, self.rates, self.effective(now))
        os_value, data_value = enc.aggregate(self.volumes, self.base)
        return Progress(
            volumes=dict(self.base),
            os=os_value,
            data=data_value,
            status=self.idle_status,
            stamped=True,
            done=True,
            failed=False,
            lro_done_at=now,
            finished_at=now,
        )

    def progress(self, now: datetime) -> Progress:
        """What the extension reports now, including "already in progress" and failure overlays."""
        prog = self._raw(now)
        status = prog.status
        if self._awaiting_restart(now):
            return Progress(
                volumes=prog.volumes,
                os=RESTART_PENDING,
                data=prog.data,
                status=Status(*enc.SUCCEEDED, RESTART_PENDING_MESSAGE),
                stamped=prog.stamped,
                done=False,
                failed=False,
                lro_done_at=prog.lro_done_at,
                finished_at=prog.finished_at,
            )
        if self.rejected and not prog.done:
            status = Status(status.code, status.level, status.display_status, enc.IN_PROGRESS_MESSAGE)
        if self.failure and self.failure_visible_at and now >= self.failure_visible_at:
            status = self.failure
        if status is prog.status:
            return prog
        return Progress(
            volumes=prog.volumes,
            os=prog.os,
            data=prog.data,
            status=status,
            stamped=prog.stamped,
            done=prog.done,
            failed=prog.failed or status.level == "Error",
            lro_done_at=prog.lro_done_at,
            finished_at=prog.finished_at,
        )

    def stamps_at(self, now: datetime) -> dict[str, DiskStamp]:
        stamps = dict(self.stamps)
        if self.run is None:
            return stamps
        prog = enc.evaluate(self.run, self.volumes, self.rates, self.effective(now))
        if self.run.operation is Operation.DISABLE:
            if prog.done and not prog.failed:
                for vol in self.volumes:
                    if vol.kind is VolumeKind.DATA:
                        stamps.pop(vol.name, None)
        elif prog.stamped:
            stamps.update(self.run_stamps)
        return stamps

    def _fold(self, now: datetime) -> None:
        """Make the finished run part of the base state before starting another one."""
        if self.run is None:
            return
        prog = enc.evaluate(self.run, self.volumes, self.rates, self.effective(now))
        self.stamps = self.stamps_at(now)
        self.base = dict(prog.volumes)
        self.idle_status = prog.status
        self.run = None
        self.run_stamps = {}

    def inject_failure(
        self, settings: dict[str, Any], now: datetime, code: str, message: str, ext_name: str
    ) -> PutOutcome:
        """Fault ``extension_failure``: this PUT's LRO ends Failed and the status shows the error."""
        self.last_settings = copy.deepcopy({"settings": settings, "forceUpdateTag": None})
        self.rejected = False
        return self._fail(now, (f"ProvisioningState/failed/{code}", "Error", "Provisioning failed"), message, ext_name)

    def _fail(self, now: datetime, triple: tuple[str, str, str], message: str, ext_name: str) -> PutOutcome:
        self.failure = Status(triple[0], triple[1], triple[2], message)
        self.failure_visible_at = now + timedelta(seconds=self.rates.stamp_seconds)
        self.last_failed = True
        return PutOutcome(True, self.rates.stamp_seconds, _extension_failure(ext_name, message))

    def put(
        self,
        settings: dict[str, Any],
        now: datetime,
        *,
        fresh: bool,
        ext_name: str,
        vault_problem: str | None,
        force_update_tag: str | None = None,
    ) -> PutOutcome:
        """Apply a PUT of the extension with public ``settings`` (see docs/arm-reference.md §a.3)."""
        fingerprint = {"settings": settings, "forceUpdateTag": force_update_tag}
        if not fresh and not self.last_failed and self.last_settings == fingerprint:
            return PutOutcome(False)
        self.last_settings = copy.deepcopy(fingerprint)
        self.last_failed = False
        self.rejected = False
        self.failure = None
        self.failure_visible_at = None

        op_name = str(settings.get("EncryptionOperation") or "")
        try:
            operation = Operation(op_name)
        except ValueError:
            return self._fail(now, enc.CONFIG_ERROR, f"Encryption operation {op_name} is not supported", ext_name)
        try:
            volume_type = VolumeType.parse(str(settings.get("VolumeType") or ""))
        except ValueError as exc:
            return self._fail(now, enc.CONFIG_ERROR, str(exc), ext_name)
        kek_url = settings.get("KeyEncryptionKeyURL") or None
        kek_vault = settings.get("KekVaultResourceId") or None
        if operation is not Operation.DISABLE:
            if not settings.get("KeyVaultURL") or not settings.get("KeyVaultResourceId"):
                return self._fail(
                    now, enc.CONFIG_ERROR, "A KeyVault ID is required, but is missing or invalid", ext_name
                )
            if kek_vault and not kek_url:
                message = "The KEK KeyVault ID was specified but the KEK URL was missing"
                return self._fail(now, enc.CONFIG_ERROR, message, ext_name)
            if kek_url and not kek_vault:
                message = "A KEK URL was specified, but the KEK KeyVault ID was missing"
                return self._fail(now, enc.CONFIG_ERROR, message, ext_name)

        current = self._raw(now)
        if self.run is not None and not current.done:
            if operation is Operation.DISABLE and current.os != VolumeState.NOT_ENCRYPTED.value:
                return self._fail(now, enc.UNKNOWN_ERROR, enc.DISABLE_REFUSED_MESSAGE, ext_name)
            # The real handler copies the previous status with an "already in progress" message.
            self.rejected = True
            return PutOutcome(True, self.rates.stamp_seconds)
        if vault_problem and operation is not Operation.DISABLE:
            message = f"Encryption settings post request was not accepted. Error: {vault_problem}"
            return self._fail(now, ("ProvisioningState/failed/13", "Error", "Provisioning failed"), message, ext_name)

        self._fold(now)
        self.run = Run(operation, volume_type, now, dict(self.base), stripdown=self.stripdown)
        plan = enc.plan(self.run, self.volumes, self.rates)
        self.run_stamps = {}
        if operation is not Operation.DISABLE:
            vault_id = str(settings["KeyVaultResourceId"])
            vault_name = _vault_name(str(settings["KeyVaultURL"]), vault_id)
            for name in plan.stamp_targets:
                self.run_stamps[name] = new_stamp(vault_name, vault_id, kek_url, kek_vault)
        if plan.refused:
            self.last_failed = True
            return PutOutcome(True, plan.stamp_end, _extension_failure(ext_name, plan.refused))
        return PutOutcome(True, plan.stamp_end)


def _vault_name(url: str, resource_id: str) -> str:
    host = url.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0]
    name = host.split(".", 1)[0]
    return name or resource_id.rstrip("/").rsplit("/", 1)[-1]


# --------------------------------------------------------------------------------------------- extensions


@dataclass
class Extension:
    name: str
    location: str
    publisher: str
    type: str
    type_handler_version: str
    auto_upgrade_minor_version: bool = True
    settings: dict[str, Any] = field(default_factory=dict)
    tags: dict[str, str] | None = None
    force_update_tag: str | None = None
    enable_automatic_upgrade: bool | None = None
    suppress_failures: bool | None = None
    operation: AsyncOperation | None = None
    creating: bool = False
    delete_operation: AsyncOperation | None = None

    @property
    def is_ade(self) -> bool:
        return self.publisher.lower() == ADE_PUBLISHER.lower() and self.type.lower() == ADE_TYPE.lower()

    def provisioning_state(self, now: datetime) -> str:
        if self.delete_operation is not None:
            return "Deleting"
        if self.operation is None:
            return "Succeeded"
        status = self.operation.status(now)
        if status == "InProgress":
            return "Creating" if self.creating else "Updating"
        return status

    @classmethod
    def from_spec(cls, spec: ExtensionSpec, location: str) -> Extension:
        return cls(
            name=spec.name,
            location=location,
            publisher=spec.publisher,
            type=spec.type,
            type_handler_version=spec.type_handler_version,
            auto_upgrade_minor_version=spec.auto_upgrade_minor_version,
            settings=copy.deepcopy(spec.settings),
        )


def _status_body(status: Status, now: datetime) -> dict[str, Any]:
    return {
        "code": status.code,
        "level": status.level,
        "displayStatus": status.display_status,
        "message": status.message,
        "time": _iso(now),
    }


def extension_instance_view(vm: VirtualMachine, ext: Extension, now: datetime) -> dict[str, Any]:
    view: dict[str, Any] = {
        "name": ext.name,
        "type": f"{ext.publisher}.{ext.type}",
        "typeHandlerVersion": ext.type_handler_version,
    }
    if ext.is_ade:
        prog = vm.ade.progress(now)
        status = prog.status
        sub_code = f"{ADE_SUBSTATUS_PREFIX}/succeeded/0"
        sub_level, sub_display = "Info", "Provisioning succeeded"
        if status.level == "Error":
            sub_code = f"{ADE_SUBSTATUS_PREFIX}/failed/{status.code.rsplit('/', 1)[-1]}"
            sub_level, sub_display = "Error", "Provisioning failed"
        view["statuses"] = [_status_body(status, now)]
        view["substatuses"] = [
            _status_body(Status(sub_code, sub_level, sub_display, prog.substatus_message), now),
        ]
        return view
    if ext.operation is not None and not ext.operation.finished(now):
        status = Status(*enc.TRANSITIONING, "")
    else:
        status = Status(*enc.SUCCEEDED, "Enable succeeded")
    view["statuses"] = [_status_body(status, now)]
    return view


def render_extension(vm: VirtualMachine, ext: Extension, now: datetime, *, instance_view: bool) -> dict[str, Any]:
    props: dict[str, Any] = {
        "autoUpgradeMinorVersion": ext.auto_upgrade_minor_version,
        "provisioningState": ext.provisioning_state(now),
        "publisher": ext.publisher,
        "type": ext.type,
        "typeHandlerVersion": ext.type_handler_version,
        "settings": copy.deepcopy(ext.settings),
    }
    if ext.force_update_tag is not None:
        props["forceUpdateTag"] = ext.force_update_tag
    if ext.enable_automatic_upgrade is not None:
        props["enableAutomaticUpgrade"] = ext.enable_automatic_upgrade
    if ext.suppress_failures is not None:
        props["suppressFailures"] = ext.suppress_failures
    if instance_view:
        props["instanceView"] = extension_instance_view(vm, ext, now)
    body: dict[str, Any] = {
        "id": f"{vm.id}/extensions/{ext.name}",
        "name": ext.name,
        "type": "Microsoft.Compute/virtualMachines/extensions",
        "location": ext.location,
        "properties": props,
    }
    if ext.tags is not None:
        body["tags"] = dict(ext.tags)
    return body


# --------------------------------------------------------------------------------------------- VMs

VM_CREATE_SECONDS = 90.0


@dataclass
class AttachedOsDisk:
    """The existing OS disk a VM was created around (``createOption: Attach``) and what its PUT said.

    ``encryption_settings`` is the VM-model ``osDisk.encryptionSettings`` of a customer-encrypted VHD (R-VHD-1);
    the instance view reports the disk encrypted with those settings, the disk resource is left unstamped.
    """

    disk: ManagedDisk
    os_type: str
    caching: str
    encryption_settings: dict[str, Any] | None
    encryption: DiskStamp | None
    nic_ids: list[str]
    body: dict[str, Any]
    """The PUT body as received: an identical PUT is a retry, anything else a change."""
    operation: AsyncOperation

    def provisioning_state(self, now: datetime) -> str:
        status = self.operation.status(now)
        return "Creating" if status == "InProgress" else status

    def provisioning_status(self, now: datetime) -> dict[str, Any]:
        state = self.provisioning_state(now)
        display = {"Creating": "Creating", "Failed": "Provisioning failed"}.get(state, "Provisioning succeeded")
        return {
            "code": f"ProvisioningState/{state.lower()}",
            "level": "Error" if state == "Failed" else "Info",
            "displayStatus": display,
            "time": _iso(self.operation.started_at),
        }

    def render_into(self, props: dict[str, Any], now: datetime) -> None:
        """Rewrite a rendered VM's properties: attached OS disk, no image or OS profile, the PUT's NICs."""
        storage = props["storageProfile"]
        storage.pop("imageReference", None)
        os_disk: dict[str, Any] = {
            "osType": self.os_type,
            "name": self.disk.name,
            "createOption": "Attach",
            "caching": self.caching,
            "writeAcceleratorEnabled": False,
            "managedDisk": _managed_disk_ref(self.disk.id, self.disk.sku, self.disk.disk_encryption_set_id),
            "diskSizeGB": self.disk.size_gb,
            "deleteOption": "Detach",
        }
        if self.encryption_settings is not None:
            os_disk["encryptionSettings"] = copy.deepcopy(self.encryption_settings)
        storage["osDisk"] = os_disk
        props.pop("osProfile", None)
        props["networkProfile"] = {
            "networkInterfaces": [{"id": nic, "properties": {"primary": i == 0}} for i, nic in enumerate(self.nic_ids)]
        }
        props["provisioningState"] = self.provisioning_state(now)


@dataclass
class VirtualMachine:
    subscription_id: str
    resource_group: str
    spec: VmSpec
    location: str
    time_created: datetime
    ade: AdeState
    os_disk: ManagedDisk | None
    data_disks: list[ManagedDisk]
    extensions: dict[str, Extension] = field(default_factory=dict)
    vm_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    deallocated_at: datetime | None = None
    deleted_at: datetime | None = None
    attached: AttachedOsDisk | None = None
    """Set for a VM created by PUT around an existing OS disk (``createOption: Attach``, R-VHD-1)."""

    def deallocated(self, now: datetime) -> bool:
        return self.deallocated_at is not None and now >= self.deallocated_at

    def deleted(self, now: datetime) -> bool:
        return self.deleted_at is not None and now >= self.deleted_at

    @property
    def disk_names(self) -> list[str]:
        return [d.name for d in ([self.os_disk] if self.os_disk else []) + self.data_disks]

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def id(self) -> str:
        return compute_id(self.subscription_id, self.resource_group, "virtualMachines", self.name)

    @property
    def os_disk_name(self) -> str:
        return self.os_disk.name if self.os_disk else f"{self.name}-osdisk"

    def live_extensions(self, now: datetime) -> list[Extension]:
        """Extensions in creation order, dropping those whose delete LRO has completed."""
        gone = [k for k, e in self.extensions.items() if e.delete_operation and e.delete_operation.finished(now)]
        for key in gone:
            del self.extensions[key]
        return list(self.extensions.values())


def data_disk_name(vm_name: str, lun: int) -> str:
    return f"{vm_name}-datadisk-{lun}"


def uses_stripdown(spec: VmSpec) -> bool:
    """Ubuntu 20.04/22.04 encrypt the OS offline from a stripped-down root (docs/arm-reference.md §c, [L10])."""
    sku = spec.image.sku.lower()
    return spec.image.publisher.lower() == "canonical" and (sku.startswith("20_04") or sku.startswith("22_04"))


def _managed_disk_ref(disk_id: str, sku: str, des_id: str | None) -> dict[str, Any]:
    ref: dict[str, Any] = {"storageAccountType": sku, "id": disk_id}
    if des_id:
        ref["diskEncryptionSet"] = {"id": des_id}
    return ref


def render_vm(vm: VirtualMachine, now: datetime, *, instance_view: bool) -> dict[str, Any]:
    spec = vm.spec
    os_disk: dict[str, Any] = {
        "osType": spec.os_type,
        "name": vm.os_disk_name,
        "createOption": "FromImage",
        "caching": "ReadOnly" if spec.os_disk.ephemeral else "ReadWrite",
        "writeAcceleratorEnabled": spec.os_disk.write_accelerator,
        "diskSizeGB": spec.os_disk.size_gb,
        "deleteOption": "Delete" if spec.os_disk.ephemeral else "Detach",
    }
    if spec.os_disk.ephemeral:
        os_disk["diffDiskSettings"] = {"option": "Local", "placement": "CacheDisk"}
        os_disk["managedDisk"] = {"storageAccountType": spec.os_disk.sku}
    else:
        os_disk["managedDisk"] = _managed_disk_ref(
            compute_id(vm.subscription_id, vm.resource_group, "disks", vm.os_disk_name),
            spec.os_disk.sku,
            spec.os_disk.disk_encryption_set_id,
        )
    data_disks = []
    for dd in spec.data_disks:
        name = data_disk_name(vm.name, dd.lun)
        data_disks.append(
            {
                "lun": dd.lun,
                "name": name,
                "createOption": "Attach",
                "caching": "None" if dd.sku in ("UltraSSD_LRS", "PremiumV2_LRS") else "ReadOnly",
                "writeAcceleratorEnabled": dd.write_accelerator,
                "managedDisk": _managed_disk_ref(
                    compute_id(vm.subscription_id, vm.resource_group, "disks", name),
                    dd.sku,
                    dd.disk_encryption_set_id,
                ),
                "diskSizeGB": dd.size_gb,
                "toBeDetached": False,
                "deleteOption": "Detach",
            }
        )
    image = spec.image
    os_profile: dict[str, Any] = {"computerName": vm.name, "adminUsername": "azureuser", "secrets": []}
    if spec.os_type == "Linux":
        os_profile["linuxConfiguration"] = {"disablePasswordAuthentication": True, "provisionVMAgent": True}
    else:
        os_profile["windowsConfiguration"] = {"provisionVMAgent": True, "enableAutomaticUpdates": True}
    props: dict[str, Any] = {
        "vmId": vm.vm_id,
        "hardwareProfile": {"vmSize": spec.size},
        "storageProfile": {
            "imageReference": {
                "publisher": image.publisher,
                "offer": image.offer,
                "sku": image.sku,
                "version": image.version,
                "exactVersion": "1.0.0" if image.version == "latest" else image.version,
            },
            "osDisk": os_disk,
            "dataDisks": data_disks,
            "diskControllerType": "SCSI",
        },
        "osProfile": os_profile,
        "networkProfile": {
            "networkInterfaces": [
                {
                    "id": f"/subscriptions/{vm.subscription_id}/resourceGroups/{vm.resource_group}"
                    f"/providers/Microsoft.Network/networkInterfaces/{vm.name}-nic",
                    "properties": {"primary": True},
                }
            ]
        },
        "diagnosticsProfile": {"bootDiagnostics": {"enabled": True}},
        "provisioningState": "Succeeded",
        "timeCreated": _iso(vm.time_created),
    }
    if spec.encryption_at_host or spec.security_type != "Standard":
        security: dict[str, Any] = {"encryptionAtHost": spec.encryption_at_host}
        if spec.security_type != "Standard":
            security["securityType"] = spec.security_type
            security["uefiSettings"] = {"secureBootEnabled": True, "vTpmEnabled": True}
        props["securityProfile"] = security
    if spec.scale_set_id:
        props["virtualMachineScaleSet"] = {"id": spec.scale_set_id}
    if instance_view:
        props["instanceView"] = render_instance_view(vm, now)
    body: dict[str, Any] = {
        "id": vm.id,
        "name": vm.name,
        "type": "Microsoft.Compute/virtualMachines",
        "location": vm.location,
        "tags": dict(spec.tags),
        "properties": props,
        "resources": [render_extension(vm, e, now, instance_view=False) for e in vm.live_extensions(now)],
    }
    if spec.zones:
        body["zones"] = list(spec.zones)
    if vm.attached is not None:
        vm.attached.render_into(props, now)
    return body


def _os_name(spec: VmSpec) -> tuple[str, str]:
    offer = spec.image.offer.lower()
    if spec.os_type == "Windows":
        return "Windows Server 2022 Datacenter", "Microsoft Windows NT 10.0.20348.0"
    if "ubuntu" in offer:
        return "ubuntu", spec.image.sku.split("-", 1)[0].replace("_", ".")
    if "rhel" in offer:
        return "redhat", spec.image.sku.split("-", 1)[0].replace("_", ".").replace("lvm", "")
    if "sles" in offer or "suse" in spec.image.publisher.lower():
        return "sles", spec.image.sku.split("-", 1)[0]
    return spec.image.offer, spec.image.sku


def render_instance_view(vm: VirtualMachine, now: datetime) -> dict[str, Any]:
    stamps = vm.ade.stamps_at(now)
    if vm.attached is not None and vm.attached.encryption is not None:
        stamps.setdefault(vm.os_disk_name, vm.attached.encryption)
    provisioned = Status(*enc.SUCCEEDED, "")
    disks = []
    names = [vm.os_disk_name] + [data_disk_name(vm.name, d.lun) for d in vm.spec.data_disks]
    for name in names:
        statuses = [
            {
                "code": provisioned.code,
                "level": "Info",
                "displayStatus": provisioned.display_status,
                "time": _iso(vm.time_created),
            }
        ]
        entry: dict[str, Any] = {"name": name}
        stamp = stamps.get(name)
        if stamp:
            entry["encryptionSettings"] = [{**stamp.settings_body(), "enabled": True}]
            statuses.append(
                {
                    "code": "EncryptionState/encrypted",
                    "level": "Info",
                    "displayStatus": "Encryption is enabled on disk",
                }
            )
        else:
            statuses.append(
                {
                    "code": "EncryptionState/notEncrypted",
                    "level": "Info",
                    "displayStatus": "Disk is not encrypted",
                }
            )
        entry["statuses"] = statuses
        disks.append(entry)
    extensions = vm.live_extensions(now)
    os_name, os_version = _os_name(vm.spec)
    return {
        "computerName": vm.name,
        "osName": os_name,
        "osVersion": os_version,
        "vmAgent": {
            "vmAgentVersion": "2.11.1.12",
            "statuses": [
                {
                    "code": "ProvisioningState/succeeded",
                    "level": "Info",
                    "displayStatus": "Ready",
                    "message": "Guest Agent is running",
                    "time": _iso(now),
                }
            ],
            "extensionHandlers": [
                {
                    "type": f"{e.publisher}.{e.type}",
                    "typeHandlerVersion": e.type_handler_version,
                    "status": {
                        "code": "ProvisioningState/succeeded",
                        "level": "Info",
                        "displayStatus": "Ready",
                    },
                }
                for e in extensions
            ],
        },
        "disks": disks,
        "extensions": [extension_instance_view(vm, e, now) for e in extensions],
        "hyperVGeneration": "V2",
        "statuses": [
            (
                vm.attached.provisioning_status(now)
                if vm.attached is not None
                else {
                    "code": "ProvisioningState/succeeded",
                    "level": "Info",
                    "displayStatus": "Provisioning succeeded",
                    "time": _iso(vm.time_created),
                }
            ),
            (
                {"code": "PowerState/deallocated", "level": "Info", "displayStatus": "VM deallocated"}
                if vm.deallocated(now)
                else {"code": "PowerState/running", "level": "Info", "displayStatus": "VM running"}
            ),
        ],
    }


def build_volumes(spec: VmSpec) -> tuple[Volume, ...]:
    vols = [Volume(f"{spec.name}-osdisk", VolumeKind.OS, spec.os_disk.size_gb)]
    vols += [
        Volume(data_disk_name(spec.name, d.lun), VolumeKind.DATA, d.size_gb, mounted=d.mounted) for d in spec.data_disks
    ]
    return tuple(vols)


def initial_volume_states(spec: VmSpec) -> dict[str, VolumeState]:
    states = {f"{spec.name}-osdisk": VolumeState.ENCRYPTED if spec.encrypted.os else VolumeState.NOT_ENCRYPTED}
    for d in spec.data_disks:
        encrypted = spec.encrypted.data and d.mounted and not d.added_after_encryption
        states[data_disk_name(spec.name, d.lun)] = VolumeState.ENCRYPTED if encrypted else VolumeState.NOT_ENCRYPTED
    return states
