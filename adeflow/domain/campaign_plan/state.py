"""A VM's ADE state as ARM shows it, and the path it needs before ADE retires (docs/operator-pains.md §0.1)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum

from adeflow.domain import rules
from adeflow.domain.model import VmFacts, VolumeState, VolumeType

ADE_RETIREMENT = date(2028, 9, 15)
"""ADE's retirement: afterwards ADE-encrypted disks fail to unlock on the next reboot (docs/operator-pains.md §0.1)."""

_BUSY = {VolumeState.ENCRYPTION_IN_PROGRESS, VolumeState.DECRYPTION_IN_PROGRESS, VolumeState.VM_RESTART_PENDING}

_ENABLE = ("EnableEncryption", "EnableEncryptionFormatAll")


class AdeState(StrEnum):
    """A VM's ADE state as ARM shows it (extension settings and status, disk instance views)."""

    NOT_ENCRYPTED = "not-encrypted"
    ENCRYPTED = "encrypted"
    PARTLY_ENCRYPTED = "partly-encrypted"
    """ADE is enabled, but a disk its volume type covers (after R-NEW-2) is not encrypted, e.g. a new data disk."""
    EXTENSION_REMOVED = "extension-removed"
    """Disks carry ADE encryption, the extension that manages them is gone (R-DIS-2)."""
    IN_PROGRESS = "in-progress"
    LEGACY = "legacy-aad"
    HOST_ENCRYPTED = "host-encrypted"
    """Encryption at host or SSE with a customer-managed key, no ADE."""
    NOT_LINUX = "not-linux"
    UNREADABLE = "unreadable"


class RetirementPath(StrEnum):
    """What a VM needs before ADE retires (docs/operator-pains.md: there is no in-place conversion)."""

    NO_ADE = "no-ade"
    DISABLE_THEN_HOST = "disable-then-encryption-at-host"
    REBUILD = "rebuild"
    READY = "encryption-at-host"
    UNKNOWN = "unknown"


RETIREMENT_ADVICE = {
    RetirementPath.NO_ADE: "no ADE: nothing to migrate; prefer encryption at host over ADE for new encryption",
    RetirementPath.DISABLE_THEN_HOST: (
        "data-only ADE: disable it (R-DIS-4), remove the extension (R-DIS-2), then move to encryption at host "
        "on copied disks (an ever-ADE disk cannot switch in place, R-LIM-4u)"
    ),
    RetirementPath.REBUILD: (
        "OS volume ADE-encrypted: it cannot be decrypted (R-DIS-3); rebuild the VM on new disks with encryption at host"
    ),
    RetirementPath.READY: "already encrypted at host or with SSE + CMK",
    RetirementPath.UNKNOWN: "the VM could not be read",
}


def _busy(facts: VmFacts) -> bool:
    status = facts.ade_extension.status if facts.ade_extension else None
    return status is not None and (status.os in _BUSY or status.data in _BUSY)


def ade_state(facts: VmFacts) -> AdeState:
    """Classify a VM from its facts; the order matters (a legacy or busy VM is that before anything else)."""
    if facts.os_type.lower() != "linux":
        return AdeState.NOT_LINUX
    if rules.is_legacy_ade(facts):
        return AdeState.LEGACY
    if _busy(facts):
        return AdeState.IN_PROGRESS
    ext = facts.ade_extension
    encrypted = [d for d in facts.disks if d.instance_view_encrypted]
    if ext is None or ext.encryption_operation not in _ENABLE or rules.current_volume_type(facts) is None:
        # No enable, or one that failed before encrypting anything (R-NEW-1): the VM is as if never enabled.
        if encrypted:
            return AdeState.EXTENSION_REMOVED
        if facts.encryption_at_host or any(d.disk_encryption_set_id for d in facts.disks):
            return AdeState.HOST_ENCRYPTED
        return AdeState.NOT_ENCRYPTED
    target = rules.decide_volume_type(None, facts).volume_type or VolumeType.ALL
    scope = rules.disks_in_scope(facts, target)
    return AdeState.ENCRYPTED if all(d.instance_view_encrypted for d in scope) else AdeState.PARTLY_ENCRYPTED


def retirement_path(facts: VmFacts | None, state: AdeState) -> RetirementPath:
    """Data-only ADE can be disabled first; an encrypted OS volume cannot (R-DIS-3), so that VM is rebuilt."""
    if facts is None or state is AdeState.UNREADABLE:
        return RetirementPath.UNKNOWN
    if state is AdeState.HOST_ENCRYPTED:
        return RetirementPath.READY
    if state in (AdeState.NOT_ENCRYPTED, AdeState.NOT_LINUX):
        return RetirementPath.NO_ADE
    ext = facts.ade_extension
    covers_os = ext is not None and ext.volume_type.lower() in ("os", "all")  # in progress, or the AAD release
    if rules.os_volume_encrypted(facts) or covers_os or facts.legacy_os_encryption_settings:
        return RetirementPath.REBUILD
    return RetirementPath.DISABLE_THEN_HOST


def days_to_retirement(now: datetime) -> int:
    return (ADE_RETIREMENT - now.astimezone(UTC).date()).days
