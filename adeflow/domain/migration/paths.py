"""Which way off ADE a VM takes (M-2, M-3, M-4), read from its ADE state by the ADE rules.

There is no in-place conversion (M-1) and a VM that ever had ADE cannot switch on encryption at host (M-2), so every
ADE VM needs new disks and a new VM. Data-only ADE is disabled first, then the disks are copied (M-3). An encrypted
OS volume cannot be decrypted (R-LIM-3), so that VM is rebuilt from an image and its owner moves the data (M-4):
software cannot move files. A VM that never had ADE needs none of this: it enables encryption at host in place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

from adeflow.domain import rules
from adeflow.domain.campaign_plan.state import AdeState, RetirementPath, ade_state, retirement_path
from adeflow.domain.migration.payloads import MigrationFacts, MigrationInput, MigrationPath, PathPolicy
from adeflow.domain.model import Refusal
from adeflow.domain.vocabulary import Reason

ENABLE_IN_PLACE_POINTER: Final = (
    "Enable encryption at host in place, no migration needed: deallocate the VM, run "
    "az vm update --name <vm> --resource-group <rg> --set securityProfile.encryptionAtHost=true, then start it "
    "(Azure docs: 'Enable end-to-end encryption using encryption at host')."
)

SOFTWARE_CANNOT_MOVE_DATA: Final = (
    "adeflow cannot move the application data (M-4): it creates the new VM with encryption at host, waits for the "
    "owner's 'data moved' confirmation, verifies and, with an approval, decommissions the source. Moving the files "
    "(rsync/scp, an application restore) is the owner's work."
)


class SourceAdeState(StrEnum):
    """A source VM's ADE history as far as migration cares."""

    NEVER_ADE = "never-ade"
    DATA_ONLY = "data-only"
    """ADE on data volumes only, or ADE once and decrypted since (the marker stays, M-2): the M-3 path."""
    OS_ENCRYPTED = "os-encrypted"
    LEGACY = "legacy-aad"
    HOST_ENCRYPTED = "encryption-at-host"
    IN_PROGRESS = "in-progress"
    NOT_LINUX = "not-linux"


@dataclass(frozen=True)
class SourceAde:
    state: SourceAdeState
    data_encrypted: bool = False
    """Data volumes are still ADE-encrypted: the M-3 path disables ADE and waits for decryption first."""
    extension_present: bool = False
    """The ADE extension is installed: the M-3 path removes it (disable before remove, R-DIS-5)."""
    ever_ade: bool = False


@dataclass(frozen=True)
class PathDecision:
    path: MigrationPath
    source: SourceAde
    disable_first: bool = False
    remove_extension: bool = False
    refusal: Refusal | None = None
    notes: list[str] = field(default_factory=list)


def ever_ade(facts: MigrationFacts) -> bool:
    """M-2: the ADE marker on any disk, ADE settings on a disk or in the VM model, or the extension installed."""
    vm = facts.vm
    return (
        any(d.ade_marker for d in facts.source.disks)
        or any(d.ade_settings_version for d in vm.disks)
        or vm.ade_extension is not None
        or vm.legacy_os_encryption_settings
    )


def classify_source(facts: MigrationFacts) -> SourceAde:
    """The ADE rules' reading of the VM (``ade_state``, ``retirement_path``) plus the persistent marker (M-2)."""
    vm = facts.vm
    state = ade_state(vm)
    ever = ever_ade(facts)
    present = vm.ade_extension is not None
    if state is AdeState.NOT_LINUX:
        return SourceAde(SourceAdeState.NOT_LINUX, ever_ade=ever)
    if state is AdeState.LEGACY:
        return SourceAde(SourceAdeState.LEGACY, extension_present=present, ever_ade=True)
    if state is AdeState.IN_PROGRESS:
        return SourceAde(SourceAdeState.IN_PROGRESS, extension_present=present, ever_ade=True)
    if state in (AdeState.NOT_ENCRYPTED, AdeState.HOST_ENCRYPTED, AdeState.UNREADABLE):
        if vm.encryption_at_host:
            return SourceAde(SourceAdeState.HOST_ENCRYPTED, ever_ade=ever)
        if not ever:
            return SourceAde(SourceAdeState.NEVER_ADE)
        # Decrypted (or enabled and failed before encrypting anything): the marker stays, the copy is still needed.
        return SourceAde(SourceAdeState.DATA_ONLY, extension_present=present, ever_ade=True)
    if retirement_path(vm, state) is RetirementPath.REBUILD:
        return SourceAde(SourceAdeState.OS_ENCRYPTED, extension_present=present, ever_ade=True)
    return SourceAde(SourceAdeState.DATA_ONLY, data_encrypted=True, extension_present=present, ever_ade=True)


def _refused(source: SourceAde, refusal: Refusal) -> PathDecision:
    return PathDecision(MigrationPath.NONE, source, refusal=refusal)


def _rebuild(request: MigrationInput, source: SourceAde, why: str) -> PathDecision:
    if request.rebuild is None:
        return _refused(
            source,
            Refusal(
                "M-4",
                Reason.IMAGE_MISSING,
                f"{why} The only path is a new VM from an image with encryption at host, the data moved by its owner; "
                "no image is named for it.",
                "Name the image, admin user and SSH public key in the manifest's migrate section (rebuild). "
                + SOFTWARE_CANNOT_MOVE_DATA,
            ),
        )
    return PathDecision(MigrationPath.REBUILD, source, notes=[SOFTWARE_CANNOT_MOVE_DATA])


def decide_path(request: MigrationInput, facts: MigrationFacts) -> PathDecision:
    """M-3 or M-4 for an ADE VM under the operator's path policy; a refusal (with its rule) for everything else."""
    source = classify_source(facts)
    state = source.state
    if state is SourceAdeState.NOT_LINUX:
        return _refused(
            source,
            Refusal(
                "R-PRE-1",
                Reason.NOT_LINUX,
                f"OS type is {facts.vm.os_type or 'unknown'}; adeflow migrates Linux VMs only.",
                "Follow the Windows migration article (Migrate from Azure Disk Encryption to encryption at host).",
            ),
        )
    if state is SourceAdeState.IN_PROGRESS:
        busy = rules.check_not_busy(facts.vm)
        return _refused(
            source,
            busy[0]
            if busy
            else Refusal(
                "R-LIM-2",
                "operation-in-progress",
                "an ADE operation is running on the VM.",
                "Wait for it to finish (adeflow vm status), then retry.",
            ),
        )
    if state is SourceAdeState.NEVER_ADE:
        return _refused(
            source,
            Refusal(
                "M-2",
                Reason.NEVER_ADE,
                "the VM never had ADE (no extension, no ADE settings or marker on its disks): nothing to migrate.",
                ENABLE_IN_PLACE_POINTER,
            ),
        )
    if state is SourceAdeState.HOST_ENCRYPTED:
        how = " (it had ADE once: that combination is unsupported, R-LIM-4u)" if source.ever_ade else ""
        return _refused(
            source,
            Refusal(
                "M-2",
                Reason.ALREADY_ENCRYPTION_AT_HOST,
                f"encryption at host is already on for the VM{how}.",
                "Nothing to migrate; leave the VM out of the migration manifest.",
            ),
        )
    if state is SourceAdeState.LEGACY:
        if request.path_policy is PathPolicy.COPY_DISKS or request.rebuild is None:
            return _refused(
                source,
                Refusal(
                    "M-3",
                    Reason.LEGACY_ADE,
                    "the VM uses the previous ADE release (Microsoft Entra ID app); adeflow does not disable ADE of "
                    "that release (R-LIM-1), so its disks cannot be decrypted and copied.",
                    "Migrate the extension to the current release (Set-AzVMDiskEncryptionExtension -Migrate) and run "
                    "again for the copy path (M-3), or name an image for a rebuild (M-4). " + SOFTWARE_CANNOT_MOVE_DATA,
                ),
            )
        return _rebuild(request, source, "The VM uses the previous ADE release (R-LIM-1).")
    if state is SourceAdeState.OS_ENCRYPTED:
        if request.path_policy is PathPolicy.COPY_DISKS:
            return _refused(
                source,
                Refusal(
                    "M-4",
                    Reason.OS_VOLUME_ENCRYPTED,
                    "the OS volume is ADE-encrypted and cannot be decrypted (R-LIM-3); copied disks would hold an "
                    "encrypted OS volume that no longer unlocks without ADE.",
                    "Use path_policy rebuild (or auto) with an image: a new VM, the data moved by its owner. "
                    + SOFTWARE_CANNOT_MOVE_DATA,
                ),
            )
        return _rebuild(request, source, "The OS volume is ADE-encrypted and cannot be decrypted (R-LIM-3).")
    if request.path_policy is PathPolicy.REBUILD:
        return _rebuild(request, source, "The operator chose a rebuild (M-4) for this data-only VM.")
    return PathDecision(
        MigrationPath.COPY_DISKS,
        source,
        disable_first=source.data_encrypted,
        remove_extension=source.extension_present,
    )
