"""Microsoft.Compute state: VMs, managed disks, snapshots and VM extensions.

Plain dataclasses; anything time-dependent (LROs, encryption progress) is evaluated against ``now`` at read
time. The ARM bodies are rendered by :mod:`azuresim.providers.compute` and :mod:`azuresim.providers.disks`.
"""

from __future__ import annotations

import copy
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from azuresim.fleet import ExtensionSpec, ImageSpec, VmSpec
from azuresim.state import skus
from azuresim.state.ade import AdeState, DiskStamp
from azuresim.state.extents import ExtentMap
from azuresim.state.operations import AsyncOperation

if TYPE_CHECKING:
    from azuresim.state.network import NetworkInterface

ADE_PUBLISHER = "Microsoft.Azure.Security"
ADE_TYPE = "AzureDiskEncryptionForLinux"
GIB = 1024**3
VHD_FOOTER = 512
"""A managed disk's blob is a fixed VHD: the disk's bytes, then a 512-byte footer."""
EXTENSION_DELETE_SECONDS = 30.0
RESTART_SECONDS = 60.0
VM_CREATE_SECONDS = 90.0
DEALLOCATE_SECONDS = 90.0
START_SECONDS = 60.0
VM_DELETE_SECONDS = 120.0
DISK_ID = re.compile(
    r"^/?subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)/providers/Microsoft\.Compute/disks/(?P<name>[^/]+)$",
    re.IGNORECASE,
)


def compute_id(subscription: str, resource_group: str, kind: str, name: str) -> str:
    prefix = f"/subscriptions/{subscription}/resourceGroups/{resource_group}"
    return f"{prefix}/providers/Microsoft.Compute/{kind}/{name}"


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
    ade_marker: bool = False
    """The persistent ADE ("UDE") flag (docs/ade-migration.md M-2): set once ADE has encrypted the disk, kept through
    decryption, snapshots and copies; only an ``Upload`` disk filled by a page-blob copy is free of it. The flag is
    latched lazily (ADE's timeline is a function of time): read it with :func:`azuresim.state.disks.ade_marker`."""
    creation: dict[str, Any] | None = None
    """``creationData`` of a disk created by Disks_CreateOrUpdate (``Upload``, ``Copy``, ``Empty``)."""
    upload_size_bytes: int | None = None
    hyper_v_generation: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    operation: AsyncOperation | None = None
    """The create LRO of a disk made by PUT (provisioning state)."""
    pages: ExtentMap = field(default_factory=ExtentMap)
    """The disk's blob content, VHD footer included (:mod:`azuresim.state.extents`)."""
    access: DiskAccess | None = None
    """The open SAS access (beginGetAccess .. endGetAccess), if any."""
    uploaded: bool = False
    """An ``Upload`` disk whose write access has ended (ReadyToUpload → ActiveUpload → Unattached)."""
    mb_per_s: float | None = None
    """This disk's page-blob throughput (MiB per simulated second); default ``sim.disk_mb_per_s``."""

    @property
    def id(self) -> str:
        return compute_id(self.subscription_id, self.resource_group, "disks", self.name)

    @property
    def size_bytes(self) -> int:
        """``diskSizeBytes``: an Upload disk's size is its upload size without the VHD footer."""
        if self.upload_size_bytes is not None:
            return self.upload_size_bytes - VHD_FOOTER
        return self.size_gb * GIB

    @property
    def blob_bytes(self) -> int:
        """The page blob's length behind a SAS: the disk plus the VHD footer."""
        return self.size_bytes + VHD_FOOTER


@dataclass
class SasGrant:
    """One SAS URL handed out by beginGetAccess (``si`` in the URL is its id)."""

    id: str
    permissions: str
    """``r`` for Read access, ``rw`` for Write access (the upload SAS of a managed disk reads and writes)."""
    granted_at: datetime
    expires_at: datetime
    signature: str


@dataclass
class DiskAccess:
    """Open access to a disk's blob: ``Read`` (diskState ActiveSAS) or ``Write`` (ActiveUpload), and its SAS."""

    level: str
    grants: list[SasGrant] = field(default_factory=list)


@dataclass
class ImportedDisk(ManagedDisk):
    """A managed disk from the fleet's ``disks`` list: attached to nothing until a VM is created around it."""

    image: ImageSpec | None = None


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
    pages: ExtentMap = field(default_factory=ExtentMap)
    """The source disk's content when the snapshot was taken."""
    ade_marker: bool = False
    """Carried from the source disk (M-2): a disk copied from this snapshot has it too."""

    @property
    def id(self) -> str:
        return compute_id(self.subscription_id, self.resource_group, "snapshots", self.name)

    def provisioning_state(self, now: datetime) -> str:
        if not self.operation.finished(now):
            return "Updating"
        return "Failed" if self.operation.error else "Succeeded"


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


@dataclass
class AttachedOsDisk:
    """The existing OS disk a VM was created around (``createOption: Attach``) and what its PUT said (its data disks
    are the VM's ``data_disks``, its NICs the VM's ``nics``).

    ``encryption_settings`` is the VM-model ``osDisk.encryptionSettings`` of a customer-encrypted VHD (R-VHD-1);
    the instance view reports the disk encrypted with those settings, the disk resource is left unstamped.
    """

    disk: ManagedDisk
    os_type: str
    caching: str
    encryption_settings: dict[str, Any] | None
    encryption: DiskStamp | None
    body: dict[str, Any]
    """The PUT body as received: an identical PUT is a retry, anything else a change."""
    operation: AsyncOperation
    data_caching: dict[str, str] = field(default_factory=dict)
    """Caching of each attached data disk (lower-cased disk name)."""

    def provisioning_state(self, now: datetime) -> str:
        status = self.operation.status(now)
        return "Creating" if status == "InProgress" else status


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
    """Set for a VM created by PUT around an existing OS disk (``createOption: Attach``, R-VHD-1, M-3)."""
    nics: list[NetworkInterface] = field(default_factory=list)
    delete_options: dict[str, str] = field(default_factory=dict)
    """``deleteOption`` per attached disk and NIC (lower-cased resource id): ``Delete`` or ``Detach`` (default)."""
    starting_until: datetime | None = None
    power_operation: AsyncOperation | None = None
    """The last deallocate/start LRO: the VM shows provisioning state ``Updating`` while it runs."""
    delete_operation: AsyncOperation | None = None
    """Set by VirtualMachines_Delete; the VM is gone (``deleted_at``) when it completes."""
    legacy_encryption_settings: dict[str, Any] | None = None
    """The VM model's ``osDisk.encryptionSettings`` left by the previous, dual-pass ADE release (R-LIM-1)."""

    def deallocated(self, now: datetime) -> bool:
        return self.deallocated_at is not None and now >= self.deallocated_at

    def power_state(self, now: datetime) -> str:
        """``running``, ``deallocating``, ``deallocated`` or ``starting`` (the instance view's PowerState code)."""
        if self.deallocated_at is not None:
            return "deallocated" if now >= self.deallocated_at else "deallocating"
        if self.starting_until is not None and now < self.starting_until:
            return "starting"
        return "running"

    def delete_option(self, resource_id: str, default: str = "Detach") -> str:
        return self.delete_options.get(resource_id.lower(), default)

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

    @property
    def scale_set_id(self) -> str | None:
        """``virtualMachineScaleSet.id`` of a Flexible scale set's member (``scale_set``, or a raw id)."""
        if self.spec.scale_set:
            return compute_id(self.subscription_id, self.resource_group, "virtualMachineScaleSets", self.spec.scale_set)
        return self.spec.scale_set_id

    @property
    def disk_controller_type(self) -> str:
        return skus.disk_controller(self.spec.size, self.spec.disk_controller_type)

    def live_extensions(self, now: datetime) -> list[Extension]:
        """Extensions in creation order, dropping those whose delete LRO has completed."""
        gone = [k for k, e in self.extensions.items() if e.delete_operation and e.delete_operation.finished(now)]
        for key in gone:
            del self.extensions[key]
        return list(self.extensions.values())


def data_disk_name(vm_name: str, lun: int) -> str:
    return f"{vm_name}-datadisk-{lun}"
