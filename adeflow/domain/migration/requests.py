"""What the migration workflow asks its VM-side activities to do (``activities/migration_vm.py``).

Frozen dataclasses crossing the workflow/activity boundary. Bodies are built by the domain (``new_vm``,
``arm_read``) and only sent by the activities; every request names what a retry may adopt as its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from adeflow.domain.model import VmRef


class PowerAction(StrEnum):
    DEALLOCATE = "deallocate"
    """M-7: the source stops and releases its host, so its disks can be read for the copy."""
    START = "start"
    """A rollback: the source runs again."""


@dataclass(frozen=True)
class PowerRequest:
    vm: VmRef
    action: PowerAction


@dataclass(frozen=True)
class NicsRequest:
    """NIC policy ``new``: one NIC per name, in the source NIC's subnet; a NIC of that name made by this migration
    (its ``adeflow-migrated-from`` tag names ``source_id``) is adopted, any other refused."""

    vm: VmRef
    """The source VM (its subscription and resource group hold the new NICs)."""
    source_id: str
    bodies: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class NewVmRequest:
    """``PUT .../virtualMachines/{vm.name}`` with ``body``; a retry finds the VM it already made and only waits.

    ``migrated_from`` set: the new VM with encryption at host; an existing VM of that name is adopted only when its
    tag names that source. Empty: the source re-created for a rollback; a VM of that name is the source itself."""

    vm: VmRef
    body: dict[str, Any]
    migrated_from: str = ""


@dataclass(frozen=True)
class DeleteVmRequest:
    """Delete a VM object and nothing else: the activity refuses when ARM would delete a disk or NIC with it
    (``deleteOption: Delete``), whatever the workflow decided (M-7, M-8)."""

    vm: VmRef
    reason: str
    """Why, for the log and the activity's summary: ``reuse the NIC`` (M-7), ``approved cleanup`` (M-8), ..."""


@dataclass(frozen=True)
class CleanupRequest:
    """M-8, after the recorded approval: delete these (VM objects first, then NICs, then disks) and optionally turn
    the vault's ``enabledForDiskEncryption`` off. Each delete is idempotent (gone already counts as done)."""

    vm: VmRef
    vm_ids: list[str] = field(default_factory=list)
    nic_ids: list[str] = field(default_factory=list)
    disk_ids: list[str] = field(default_factory=list)
    vault_id: str = ""


@dataclass(frozen=True)
class CleanupDone:
    deleted: list[str] = field(default_factory=list)
    vault_reset: str = ""


@dataclass(frozen=True)
class VaultUsersQuery:
    """Which other VMs still use ``vault_id`` for ADE (their disks' encryption settings name it)."""

    vault_id: str
    exclude_vm_id: str
