"""The gates a migration passes before it writes: only Upload disks (M-1, M-2), downtime (M-7), cleanup (M-8).

Each gate is a pure function returning refusals (empty: go ahead), called by the workflow right before the step it
guards, and by the data-safety checker over a recorded history: no copy from a disk of a running VM, no source
deleted before the new VM is verified and the cleanup approved, no VM object deleted with its disks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from adeflow.domain.migration.payloads import (
    Approval,
    ApprovalKind,
    ExistingTarget,
    MigrationInput,
    NicPolicy,
    SourceVmDefinition,
    approval_on_record,
)
from adeflow.domain.model import Refusal
from adeflow.domain.vocabulary import Reason

UPLOAD: str = "Upload"


def _deallocated(power_state: str) -> bool:
    """``deallocated`` or ARM's ``PowerState/deallocated``; a merely stopped VM still holds its disks."""
    return power_state.lower().removeprefix("powerstate/") == "deallocated"


# -- M-1 / M-2: new disks, free of the ADE marker -------------------------------------------------------------------


def check_upload_only(disk_name: str, create_option: str, source_resource_id: str = "") -> list[Refusal]:
    """M-1/M-2: a target disk is created empty for upload and filled by a page-blob copy; ``Copy``, a snapshot or an
    import of an ADE disk keeps its marker, and the VM PUT with encryption at host would be refused."""
    if create_option.lower() == UPLOAD.lower() and not source_resource_id:
        return []
    source = f" from {source_resource_id}" if source_resource_id else ""
    return [
        Refusal(
            "M-2",
            Reason.NOT_AN_UPLOAD_DISK,
            f"disk {disk_name} would be created with createOption {create_option or 'unset'}{source}; a copy or "
            "snapshot of an ADE disk keeps the ADE marker, so encryption at host could never be enabled with it.",
            "Create the new disk with createOption Upload (uploadSizeBytes = source size + 512) and fill it by a "
            "page-blob copy (Put Page From URL).",
        )
    ]


_FRESH = frozenset({UPLOAD.lower(), "empty", "fromimage"})
"""Disk create options that start free of the ADE marker: Upload (M-3), Empty and FromImage (M-4)."""


def check_existing_target(found: ExistingTarget, source_vm_id: str) -> list[Refusal]:
    """M-1: a resource already under a target name is adopted only if this migration made it (its
    ``adeflow-migrated-from`` tag names the source VM); M-2: an adopted disk must be new, without the ADE marker."""
    kind, name = found.kind, found.name
    if found.migrated_from.strip().lower() != source_vm_id.strip().lower():
        return [
            Refusal(
                "M-1",
                Reason.TARGET_NAME_TAKEN,
                f"a {kind} named {name} already exists ({found.resource_id}) and is not from this migration.",
                "Choose other target names (targets.vm_name, disk suffix) or remove that resource.",
            )
        ]
    if kind == "disk" and (found.ade_marker or found.create_option.lower() not in _FRESH):
        return [
            Refusal(
                "M-2",
                Reason.TARGET_CARRIES_ADE_MARKER,
                f"disk {name} from an earlier attempt was created by {found.create_option or 'an unknown option'}"
                f"{' and carries the ADE marker' if found.ade_marker else ''}; only a new disk is free of it.",
                f"Delete disk {name} (it holds a copy only) and run again.",
            )
        ]
    return []


def check_adopt_upload_disk(
    found: ExistingTarget, source_vm_id: str, upload_size_bytes: int, wanted_upload_size_bytes: int
) -> list[Refusal]:
    """A copy target found under its name (a retry, M-1/M-2): ours, an Upload disk, and of the planned size; anything
    else is left alone (never overwritten, never deleted)."""
    refusals = check_existing_target(found, source_vm_id) or check_upload_only(found.name, found.create_option)
    if refusals or upload_size_bytes == wanted_upload_size_bytes:
        return refusals
    return [
        Refusal(
            "M-2",
            Reason.COPY_SIZE_MISMATCH,
            f"disk {found.name} from an earlier attempt was created for {upload_size_bytes} bytes; the source "
            f"now needs {wanted_upload_size_bytes} (its size + 512).",
            f"Delete disk {found.name} (it holds a copy only) and run again.",
        )
    ]


def check_new_disk_body(disk_name: str, body: dict[str, object]) -> list[Refusal]:
    """M-2 on a Disks_CreateOrUpdate body the activity is about to send."""
    props = body.get("properties")
    creation = props.get("creationData") if isinstance(props, dict) else None
    if not isinstance(creation, dict):
        return check_upload_only(disk_name, "")
    source = creation.get("sourceResourceId") or creation.get("sourceUri") or ""
    return check_upload_only(disk_name, str(creation.get("createOption") or ""), str(source))


# -- M-7: downtime -------------------------------------------------------------------------------------------------


class DowntimeStatus(StrEnum):
    ALLOWED = "allowed"
    WAIT_FOR_WINDOW = "wait-for-window"
    WAIT_FOR_APPROVAL = "wait-for-approval"
    MISSED = "missed"


@dataclass(frozen=True)
class DowntimeGate:
    status: DowntimeStatus
    detail: str
    wait_until: datetime | None = None
    approval: Approval | None = None


def downtime_gate(request: MigrationInput, approvals: list[Approval], now: datetime) -> DowntimeGate:
    """M-7: may the source be stopped now? A recorded approval always allows it; a window allows it inside the window,
    except with NIC ``reuse``, which deletes the source VM object and so needs a person's approval."""
    approval = approval_on_record(approvals, ApprovalKind.DOWNTIME)
    if approval is not None:
        return DowntimeGate(
            DowntimeStatus.ALLOWED, f"downtime approved by {approval.by} at {approval.at}.", None, approval
        )
    window = request.downtime_window
    if window is None or request.nic_policy is NicPolicy.REUSE:
        why = "NIC reuse deletes the source VM object" if window is not None else "no downtime window is set"
        return DowntimeGate(DowntimeStatus.WAIT_FOR_APPROVAL, f"waiting for an operator's downtime approval ({why}).")
    if window.end is not None and now >= window.end:
        return DowntimeGate(DowntimeStatus.MISSED, f"the downtime window ended at {window.end}.")
    if window.start is not None and now < window.start:
        return DowntimeGate(DowntimeStatus.WAIT_FOR_WINDOW, f"waiting for the window at {window.start}.", window.start)
    return DowntimeGate(DowntimeStatus.ALLOWED, "inside the downtime window.")


def check_deallocate(request: MigrationInput, approvals: list[Approval], now: datetime) -> list[Refusal]:
    """M-7 before the deallocation: the downtime is approved or its window is open."""
    gate = downtime_gate(request, approvals, now)
    if gate.status is DowntimeStatus.ALLOWED:
        return []
    if gate.status is DowntimeStatus.MISSED:
        return [
            Refusal(
                "M-7",
                Reason.DOWNTIME_WINDOW_MISSED,
                f"{gate.detail} The source was not stopped.",
                f"Approve the downtime (adeflow migrate approve --downtime {request.vm.name}) or set a new window.",
            )
        ]
    return [
        Refusal(
            "M-7",
            Reason.DOWNTIME_NOT_APPROVED,
            f"the source must be deallocated for the copy, and the downtime is not approved: {gate.detail}",
            f"Approve the downtime (adeflow migrate approve --downtime {request.vm.name}) or set a downtime window.",
        )
    ]


def check_copy_source(disk_name: str, power_state: str) -> list[Refusal]:
    """M-7: a disk is read for the copy only while its VM is deallocated (its data must not change; ARM would refuse
    a read SAS on a disk attached to a running VM anyway)."""
    if _deallocated(power_state):
        return []
    state = power_state.lower().removeprefix("powerstate/")
    return [
        Refusal(
            "M-7",
            Reason.SOURCE_DISK_IN_USE,
            f"disk {disk_name} belongs to a VM that is {state or 'in an unknown power state'}, not deallocated; "
            "a copy taken now could miss writes.",
            "Deallocate the source VM (under the downtime approval), then copy.",
        )
    ]


def check_delete_source_vm_object(
    request: MigrationInput, approvals: list[Approval], source: SourceVmDefinition | None, power_state: str
) -> list[Refusal]:
    """M-7, NIC ``reuse``: the source VM object goes before its NIC can be attached to the new VM, so only under a
    recorded downtime approval, deallocated, with its full definition recorded (a rollback re-creates it) and with
    every disk and NIC kept (``deleteOption: Detach``)."""
    refusals: list[Refusal] = []
    name = request.vm.name
    if request.nic_policy is not NicPolicy.REUSE:
        refusals.append(
            Refusal(
                "M-8",
                Reason.CLEANUP_NOT_APPROVED,
                f"the source VM {name} is deleted before cleanup only to reuse its NIC; the NIC policy is "
                f"{request.nic_policy.value}.",
                "Keep the source until the cleanup is approved.",
            )
        )
    approval = approval_on_record(approvals, ApprovalKind.DOWNTIME)
    if approval is None:
        refusals.append(
            Refusal(
                "M-7",
                Reason.DOWNTIME_NOT_APPROVED,
                f"deleting the source VM object {name} to reuse its NIC needs a recorded downtime approval.",
                f"Approve the downtime (adeflow migrate approve --downtime {name}).",
            )
        )
    if source is None or not source.model:
        refusals.append(
            Refusal(
                "M-7",
                Reason.SOURCE_DEFINITION_MISSING,
                f"the definition of {name} is not recorded; a rollback could not re-create it.",
                "Record the source VM's definition (read it again) before deleting its VM object.",
            )
        )
    else:
        deleted_with_it = [d.name for d in source.disks if d.delete_option.lower() == "delete"]
        deleted_with_it += [n.nic_id.rsplit("/", 1)[-1] for n in source.nics if n.delete_option.lower() == "delete"]
        if deleted_with_it:
            refusals.append(
                Refusal(
                    "M-8",
                    Reason.SOURCE_DELETE_OPTION,
                    f"deleting {name} would delete {', '.join(deleted_with_it)} with it (deleteOption Delete).",
                    "Set deleteOption Detach on every disk and NIC of the source VM first.",
                )
            )
    if not _deallocated(power_state):
        refusals.append(
            Refusal(
                "M-7",
                Reason.SOURCE_DISK_IN_USE,
                f"the source VM {name} is {power_state or 'in an unknown power state'}, not deallocated.",
                "Deallocate it first (under the downtime approval).",
            )
        )
    return refusals


# -- M-8: cleanup --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CleanupPlan:
    """What an approved cleanup deletes, in order (VM object, then NICs and disks), and the vault it resets."""

    vm_ids: list[str] = field(default_factory=list)
    nic_ids: list[str] = field(default_factory=list)
    disk_ids: list[str] = field(default_factory=list)
    vault_id: str = ""
    refusals: list[Refusal] = field(default_factory=list)


def check_cleanup(approvals: list[Approval], new_vm_verified: bool) -> list[Refusal]:
    """M-8: nothing of the source is deleted before the new VM is verified, the owner confirmed it works and the
    cleanup is approved, each on record."""
    refusals: list[Refusal] = []
    if not new_vm_verified:
        refusals.append(
            Refusal(
                "M-8",
                Reason.NEW_VM_NOT_VERIFIED,
                "the new VM is not verified (encryption at host on, running); the source stays.",
                "Verify the new VM first; on failure the run rolls back to the source.",
            )
        )
    if approval_on_record(approvals, ApprovalKind.NEW_VM_WORKS) is None:
        refusals.append(
            Refusal(
                "M-8",
                Reason.OWNER_NOT_CONFIRMED,
                "the owner has not confirmed that the new VM works.",
                "The owner confirms with adeflow migrate confirm <vm>.",
            )
        )
    if approval_on_record(approvals, ApprovalKind.CLEANUP) is None:
        refusals.append(
            Refusal(
                "M-8",
                Reason.CLEANUP_NOT_APPROVED,
                "no recorded approval to delete the source VM and its disks; deleting is never automatic.",
                "Approve the cleanup (adeflow migrate approve --cleanup <vm>), or leave the source in place.",
            )
        )
    return refusals


def check_delete_source_disk(disk_id: str, approvals: list[Approval], new_vm_verified: bool) -> list[Refusal]:
    """M-8 for one deletion: the data-safety checker's invariant, so it names the disk."""
    return [
        Refusal(r.rule, r.reason, f"disk {disk_id.rsplit('/', 1)[-1]} not deleted: {r.message}", r.fix)
        for r in check_cleanup(approvals, new_vm_verified)
    ]


def check_vault_reset(vault_id: str, other_users: list[str]) -> list[Refusal]:
    """M-8: turning ``enabledForDiskEncryption`` off stops every ADE VM using the vault from unlocking at boot."""
    if not other_users:
        return []
    shown = ", ".join(sorted(other_users)[:5]) + (" ..." if len(other_users) > 5 else "")
    return [
        Refusal(
            "M-8",
            Reason.VAULT_STILL_USED,
            f"Key Vault {vault_id.rsplit('/', 1)[-1]} still serves ADE for {len(other_users)} other VM(s): {shown}.",
            "Leave enabledForDiskEncryption on until those VMs are migrated too.",
        )
    ]


def plan_cleanup(
    request: MigrationInput,
    source: SourceVmDefinition,
    approvals: list[Approval],
    new_vm_verified: bool,
    new_vm_nic_ids: list[str],
    vault_id: str = "",
    vault_users: list[str] | None = None,
) -> CleanupPlan:
    """M-8: the deletions the cleanup policy asks for, or the refusals that keep everything in place."""
    refusals = check_cleanup(approvals, new_vm_verified)
    policy = request.cleanup
    reset = policy.reset_vault_disk_encryption and bool(vault_id)
    if reset:
        refusals += check_vault_reset(vault_id, vault_users or [])
    if refusals:
        return CleanupPlan(refusals=refusals)
    in_use = {n.lower() for n in new_vm_nic_ids}
    return CleanupPlan(
        vm_ids=[source.resource_id] if policy.delete_source_vm else [],
        nic_ids=[n.nic_id for n in source.nics if n.nic_id.lower() not in in_use] if policy.delete_source_nics else [],
        disk_ids=[d.disk_id for d in source.disks] if policy.delete_source_disks else [],
        vault_id=vault_id if reset else "",
    )
