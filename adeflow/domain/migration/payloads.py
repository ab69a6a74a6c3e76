"""What a migration to encryption at host is asked to do, and what its preflight reads (docs/ade-migration.md).

Plain frozen dataclasses and str enums: they cross the workflow/activity boundary through Temporal's default data
converter. A VM's raw ARM model is kept (``SourceVmDefinition.model``) so that a rollback can re-create the source
VM exactly (M-7, NIC ``reuse``); nothing here holds a secret: the SSH key of the M-4 path is a public key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

from adeflow.domain.model import BackupPolicy, BackupWaiver, ImageRef, KeyVaultLookup, VmFacts, VmRef

MIB: Final = 1024 * 1024
DEFAULT_SUFFIX: Final = "-eah"
"""Appended to a source VM's or disk's name to name its successor (M-1: new resources, the source is kept)."""
MIGRATED_FROM_TAG: Final = "adeflow-migrated-from"
"""Tag on every resource a migration creates: the source VM's resource id. A retry recognises its own resources by it,
and an operator finds the source of a migrated VM."""


class PathPolicy(StrEnum):
    """Which path the operator allows; ``auto`` takes M-3 when the OS volume is not ADE-encrypted, else M-4."""

    AUTO = "auto"
    COPY_DISKS = "copy-disks"
    """M-3: copy every disk into new Upload disks and create the new VM from them."""
    REBUILD = "rebuild"
    """M-4: a new VM from an image; the owner moves the application data."""


class MigrationPath(StrEnum):
    """The path a VM takes (the result's ``path``); ``none`` when it was refused before a path was chosen."""

    COPY_DISKS = "copy-disks"
    REBUILD = "rebuild"
    NONE = "none"


class NicPolicy(StrEnum):
    NEW = "new"
    """A new NIC per source NIC, in the same subnet (a new private IP); the source keeps its NICs for a rollback."""
    REUSE = "reuse"
    """The source's NICs (same private IPs): the source VM object is deleted first, under a downtime approval (M-7)."""


class FeatureState(StrEnum):
    """``Microsoft.Features`` registration state of ``Microsoft.Compute/EncryptionAtHost`` (M-5)."""

    NOT_REGISTERED = "NotRegistered"
    PENDING = "Pending"
    REGISTERING = "Registering"
    REGISTERED = "Registered"
    UNREGISTERING = "Unregistering"
    UNREGISTERED = "Unregistered"

    @classmethod
    def parse(cls, text: str) -> FeatureState:
        """ARM's spelling, any case; an absent or unknown state counts as not registered (EAH would be refused)."""
        for member in cls:
            if member.value.lower() == text.strip().lower():
                return member
        return cls.NOT_REGISTERED


class ApprovalKind(StrEnum):
    DOWNTIME = "downtime"
    """M-7: the source VM may be deallocated (and, with NIC ``reuse``, its VM object deleted)."""
    NEW_VM_WORKS = "new-vm-works"
    """The owner confirms the new VM works (M-8 precondition for any cleanup)."""
    DATA_MOVED = "data-moved"
    """M-4: the owner moved the application data to the new VM (software cannot)."""
    CLEANUP = "cleanup"
    """M-8: the source VM, its disks (and NICs, optionally the vault setting) may be deleted."""


@dataclass(frozen=True)
class Approval:
    """A decision an operator or owner gave, kept as evidence: who, when, and what they said."""

    kind: ApprovalKind
    by: str
    at: datetime
    note: str = ""


def approval_on_record(approvals: list[Approval], kind: ApprovalKind) -> Approval | None:
    """The latest approval of ``kind`` that names who gave it; an anonymous approval does not count (M-7, M-8)."""
    found = [a for a in approvals if a.kind is kind and a.by.strip()]
    return max(found, key=lambda a: a.at) if found else None


@dataclass(frozen=True)
class TargetNames:
    """How the new resources are named: ``vm_name`` (default ``<source>-eah``) and a suffix for disks and NICs."""

    vm_name: str = ""
    disk_suffix: str = DEFAULT_SUFFIX

    def vm(self, source: VmRef) -> str:
        return self.vm_name or f"{source.name}{DEFAULT_SUFFIX}"

    def disk(self, source_disk_name: str) -> str:
        return f"{source_disk_name}{self.disk_suffix}"

    def nic(self, source: VmRef, index: int) -> str:
        return f"{self.vm(source)}-nic{index}"


@dataclass(frozen=True)
class DowntimeWindow:
    """When the source may be stopped (M-7): from ``start`` (None: now) until ``end`` (None: open-ended)."""

    start: datetime | None = None
    end: datetime | None = None


@dataclass(frozen=True)
class CleanupPolicy:
    """What an approved cleanup deletes (M-8); nothing is deleted without the approval, whatever this says."""

    delete_source_vm: bool = True
    delete_source_disks: bool = True
    delete_source_nics: bool = True
    """Only NICs the new VM does not use (NIC policy ``new``)."""
    reset_vault_disk_encryption: bool = False
    """Turn the Key Vault's ``enabledForDiskEncryption`` off: only when no other VM still uses it for ADE."""


@dataclass(frozen=True)
class RebuildSpec:
    """M-4: the new VM's image and first login; data disks are created empty at the source's LUNs and sizes."""

    image: ImageRef
    admin_username: str
    ssh_public_key: str
    """An OpenSSH public key (not a secret)."""


@dataclass(frozen=True)
class MigrationInput:
    """One VM's migration to encryption at host, as the manifest's ``migrate:`` section and the CLI give it."""

    vm: VmRef
    path_policy: PathPolicy = PathPolicy.AUTO
    targets: TargetNames = field(default_factory=TargetNames)
    nic_policy: NicPolicy = NicPolicy.NEW
    rebuild: RebuildSpec | None = None
    """Required for the M-4 path (an OS-encrypted or legacy VM, or ``path_policy: rebuild``)."""
    downtime_window: DowntimeWindow | None = None
    """None: an operator's recorded approval is required before the source is deallocated (M-7)."""
    cleanup: CleanupPolicy = field(default_factory=CleanupPolicy)
    register_feature: bool = False
    """M-5: register ``Microsoft.Compute/EncryptionAtHost`` and wait, instead of refusing."""
    sas_duration_s: int = 4 * 3600
    """Lifetime of each disk SAS (``beginGetAccess`` ``durationInSeconds``); an expired one is renewed mid-copy."""
    copy_parallelism: int = 8
    """Put Page From URL calls in flight per disk."""
    checkpoint_bytes: int = 256 * MIB
    """Copied bytes between two recorded checkpoints: a resumed copy re-copies at most this much."""
    backup_policy: BackupPolicy = BackupPolicy.AUTO
    """The R-BAK-2 gate before the M-3 disable."""
    backup_waiver: BackupWaiver | None = None
    poll_interval_s: float = 300.0
    deadline_s: float = 72 * 3600.0
    """How long the M-3 decryption may take."""
    reminder_interval_s: float = 24 * 3600.0
    """How often a run waiting for an owner or an approval says so again (it waits, it never times out)."""
    rollout_id: str = ""
    notify_workflow_id: str = ""
    """A rollout to tell (by signal ``vm_finished``) when this run ends (empty: a single-VM run)."""
    rollout_index: int = -1
    """This VM's place in that rollout."""


# -- facts the preflight reads (GETs only) -------------------------------------------------------------------------


@dataclass(frozen=True)
class SourceDisk:
    """A disk of the source VM as the disk resource shows it; ``lun`` is None for the OS disk."""

    disk_id: str
    name: str
    lun: int | None
    size_bytes: int
    """``diskSizeBytes``: the new Upload disk is this plus the 512-byte VHD footer."""
    sku: str = "Premium_LRS"
    caching: str = ""
    ade_marker: bool = False
    """The disk was ever ADE-encrypted (M-2): encryption settings on the disk resource, even disabled ones."""
    delete_option: str = "Detach"
    """The VM model's ``deleteOption``: ``Delete`` would remove the disk with the VM object."""
    zone: str = ""

    @property
    def is_os(self) -> bool:
        return self.lun is None


@dataclass(frozen=True)
class SourceNic:
    nic_id: str
    subnet_id: str
    primary: bool = True
    private_ip: str = ""
    network_security_group_id: str = ""
    accelerated_networking: bool = False
    delete_option: str = "Detach"


@dataclass(frozen=True)
class SourceVmDefinition:
    """The source VM as recorded before anything changes: the new VM copies it, a rollback re-creates it."""

    vm: VmRef
    resource_id: str
    location: str
    size: str
    os_disk: SourceDisk
    data_disks: list[SourceDisk] = field(default_factory=list)
    nics: list[SourceNic] = field(default_factory=list)
    zone: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    os_type: str = "Linux"
    hyper_v_generation: str = "V1"
    security_type: str = ""
    """``TrustedLaunch`` or empty; the new OS disk and VM keep it (secure boot and vTPM settings too)."""
    secure_boot: bool = False
    vtpm: bool = False
    availability_set_id: str = ""
    boot_diagnostics: bool = True
    extensions: list[str] = field(default_factory=list)
    """Extension types installed on the source: the new VM gets none of them; the owner reinstalls what is needed."""
    model: dict[str, Any] = field(default_factory=dict)
    """The VM's ARM body as read (without instance view): enough to re-create the source for a rollback."""

    @property
    def disks(self) -> list[SourceDisk]:
        return [self.os_disk, *self.data_disks]


@dataclass(frozen=True)
class ExistingTarget:
    """A resource that already has one of the target names: free to adopt only if a migration of this source made it."""

    kind: str
    """``vm``, ``disk`` or ``nic``."""
    name: str
    resource_id: str
    migrated_from: str = ""
    """Its ``adeflow-migrated-from`` tag (empty: not made by adeflow)."""
    ade_marker: bool = False
    create_option: str = ""
    """A disk's ``creationData.createOption``."""


@dataclass(frozen=True)
class MigrationFacts:
    """Everything the migration preflight reads: the ADE view of the VM (``vm``, classified by the ADE rules), its
    recorded definition, the subscription feature (M-5), the size's capability (M-6), the vault and the names."""

    vm: VmFacts
    source: SourceVmDefinition
    feature: FeatureState
    size_supports_host_encryption: bool | None
    """Resource SKUs ``EncryptionAtHostSupported`` for the size in the region; None when the size is not listed."""
    vault_id: str = ""
    """The vault of the VM's ADE settings (empty: none named)."""
    vault: KeyVaultLookup | None = None
    existing_targets: list[ExistingTarget] = field(default_factory=list)
