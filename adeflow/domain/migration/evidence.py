"""Where a migration stands and what it leaves as evidence: phases, disk mapping, SAS windows, approvals, timings.

The result answers an auditor's questions per VM (docs/ade-migration.md): which path, which new VM, which new disk
replaced which old one, how many bytes were copied against how many were written on the source, when each SAS was
open, who approved the downtime and the cleanup, and how long each phase took.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from adeflow.domain.migration.payloads import Approval, MigrationPath
from adeflow.domain.model import Refusal, VmRef


class MigrationPhase(StrEnum):
    """A migration's phase, published as the ``AdePhase`` search attribute like the other runs' ``Phase``."""

    PREFLIGHT = "preflight"
    REGISTER_FEATURE = "register-feature"
    """M-5, with ``--register-feature``: registered and waited for."""
    BACKUP = "backup"
    DISABLE = "disable"
    DECRYPTING = "decrypting"
    REMOVE = "remove"
    AWAIT_DOWNTIME = "await-downtime"
    """M-7: waiting for the downtime approval or the window's start."""
    DEALLOCATE = "deallocate"
    CREATE_DISKS = "create-disks"
    COPYING = "copying"
    VERIFY_COPY = "verify-copy"
    CREATE_VM = "create-vm"
    VERIFY_VM = "verify-vm"
    AWAIT_DATA_MOVED = "await-data-moved"
    """M-4: waiting for the owner to move the data and say so."""
    AWAIT_OWNER = "await-owner"
    """Waiting for the owner's confirmation that the new VM works."""
    AWAIT_CLEANUP = "await-cleanup"
    """M-8: waiting for the cleanup approval."""
    CLEANUP = "cleanup"
    ROLLBACK = "rollback"
    DONE = "done"
    FAILED = "failed"
    REFUSED = "refused"


PHASES_BY_PATH: dict[MigrationPath, tuple[MigrationPhase, ...]] = {
    MigrationPath.COPY_DISKS: (
        MigrationPhase.PREFLIGHT,
        MigrationPhase.REGISTER_FEATURE,
        MigrationPhase.BACKUP,
        MigrationPhase.DISABLE,
        MigrationPhase.DECRYPTING,
        MigrationPhase.REMOVE,
        MigrationPhase.AWAIT_DOWNTIME,
        MigrationPhase.DEALLOCATE,
        MigrationPhase.CREATE_DISKS,
        MigrationPhase.COPYING,
        MigrationPhase.VERIFY_COPY,
        MigrationPhase.CREATE_VM,
        MigrationPhase.VERIFY_VM,
        MigrationPhase.AWAIT_OWNER,
        MigrationPhase.AWAIT_CLEANUP,
        MigrationPhase.CLEANUP,
    ),
    MigrationPath.REBUILD: (
        MigrationPhase.PREFLIGHT,
        MigrationPhase.REGISTER_FEATURE,
        MigrationPhase.CREATE_VM,
        MigrationPhase.VERIFY_VM,
        MigrationPhase.AWAIT_DATA_MOVED,
        MigrationPhase.AWAIT_OWNER,
        MigrationPhase.AWAIT_CLEANUP,
        MigrationPhase.CLEANUP,
    ),
}
"""The phases of each path in order (a run skips those it does not need, e.g. the feature already registered)."""

WAITING_PHASES = frozenset(
    {
        MigrationPhase.AWAIT_DOWNTIME,
        MigrationPhase.AWAIT_DATA_MOVED,
        MigrationPhase.AWAIT_OWNER,
        MigrationPhase.AWAIT_CLEANUP,
    }
)
"""Phases that wait for a person: durable, visible, with reminders; never a silent timeout."""


class MigrationOutcome(StrEnum):
    MIGRATED = "migrated"
    """The new VM runs with encryption at host and the owner confirmed it (cleanup done or declined)."""
    ROLLED_BACK = "rolled-back"
    """The new VM failed verification; the source runs again, nothing of it was deleted."""
    REFUSED = "refused"
    FAILED = "failed"


@dataclass(frozen=True)
class MigrationPhaseTiming:
    phase: MigrationPhase
    started_at: datetime
    finished_at: datetime

    @property
    def seconds(self) -> float:
        return (self.finished_at - self.started_at).total_seconds()


@dataclass(frozen=True)
class DiskMapping:
    """One source disk and the Upload disk that replaced it, with what its copy moved."""

    source_disk_id: str
    target_disk_id: str
    lun: int | None
    size_bytes: int
    allocated_bytes: int = 0
    """Written on the source (the sum of its page ranges): what a sparse copy has to move."""
    copied_bytes: int = 0
    """Moved by Put Page From URL, resumed copies included (so at least ``allocated_bytes`` when complete)."""
    resumed_from_bytes: int = 0
    """Bytes already done at the checkpoint a resumed copy started from (0: never resumed)."""
    verified: bool = False


@dataclass(frozen=True)
class SasWindow:
    """A disk SAS: granted, and revoked (``endGetAccess``) or not yet; kept as evidence of who could read what."""

    disk_id: str
    access: str
    """``Read`` (source) or ``Write`` (target)."""
    granted_at: datetime
    duration_s: int
    revoked_at: datetime | None = None


@dataclass(frozen=True)
class MigrationProgress:
    """Answer of the migration run's ``progress`` query."""

    phase: MigrationPhase
    detail: str
    bytes_copied: int = 0
    bytes_allocated: int = 0
    waiting_since: datetime | None = None
    """Set in a waiting phase: since when the run has been waiting for a person."""


@dataclass(frozen=True)
class MigrationResult:
    vm: VmRef
    outcome: MigrationOutcome
    path: MigrationPath = MigrationPath.NONE
    reason: str = ""
    rule: str = ""
    message: str = ""
    refusals: list[Refusal] = field(default_factory=list)
    new_vm_id: str = ""
    disks: list[DiskMapping] = field(default_factory=list)
    sas_windows: list[SasWindow] = field(default_factory=list)
    approvals: list[Approval] = field(default_factory=list)
    timings: list[MigrationPhaseTiming] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    """Resource ids deleted by the approved cleanup (M-8)."""
    vault_reset: str = ""
    """The vault whose ``enabledForDiskEncryption`` the cleanup turned off (empty: not touched)."""
    notes: list[str] = field(default_factory=list)

    @property
    def bytes_allocated(self) -> int:
        return sum(d.allocated_bytes for d in self.disks)

    @property
    def bytes_copied(self) -> int:
        return sum(d.copied_bytes for d in self.disks)

    @property
    def copied_over_allocated(self) -> float:
        """1.0 for a perfect sparse copy; above it, bytes copied twice (resumes) or unwritten bytes copied."""
        allocated = self.bytes_allocated
        return self.bytes_copied / allocated if allocated else 0.0
