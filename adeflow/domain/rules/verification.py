"""Whether ADE took effect: what the extension status and the disk instance views report encrypted (R-ENA-4)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from adeflow.domain.model import DiskFacts, EncryptionStatus, VmFacts, VolumeState, VolumeType


def os_volume_encrypted(facts: VmFacts) -> bool:
    """R-DIS-3: the OS disk counts as encrypted when the extension says so or the disk carries ADE settings."""
    status = facts.ade_extension.status if facts.ade_extension else None
    if status is not None and status.os in (
        VolumeState.ENCRYPTED,
        VolumeState.ENCRYPTION_IN_PROGRESS,
        VolumeState.VM_RESTART_PENDING,
    ):
        return True
    return facts.os_disk.instance_view_encrypted or bool(facts.os_disk.ade_settings_version)


def data_volumes_encrypted(facts: VmFacts) -> bool:
    status = facts.ade_extension.status if facts.ade_extension else None
    if status is not None and status.data in (VolumeState.ENCRYPTED, VolumeState.ENCRYPTION_IN_PROGRESS):
        return True
    return any(d.instance_view_encrypted for d in facts.data_disks)


def ade_took_effect(facts: VmFacts) -> bool:
    """Some volume reports ADE encryption (done, running or awaiting a restart), or a disk carries ADE settings."""
    stamped = any(d.ade_settings_version for d in facts.data_disks)
    return os_volume_encrypted(facts) or data_volumes_encrypted(facts) or stamped


def required_volumes_encrypted(status: EncryptionStatus, volume_type: VolumeType) -> bool:
    """R-ENA-4: done when every volume class the request covers reports ``Encrypted``.

    ``data: NotMounted`` counts as nothing left to encrypt, as the CLI treats it.
    """
    os_ok = status.os is VolumeState.ENCRYPTED
    data_ok = status.data in (VolumeState.ENCRYPTED, VolumeState.NOT_MOUNTED)
    if volume_type is VolumeType.OS:
        return os_ok
    if volume_type is VolumeType.DATA:
        return data_ok
    return os_ok and data_ok


# The extension's own final messages (docs/arm-reference.md §0.2) and the volume classes each one covers.
_FINAL_ENCRYPTION_MESSAGE = re.compile(
    r"^\s*Encryption succeeded for (all volumes|data volumes|OS volume)", re.IGNORECASE
)
_FINAL_MESSAGE_COVERS = {
    "all volumes": frozenset(VolumeType),
    "data volumes": frozenset({VolumeType.DATA}),
    "os volume": frozenset({VolumeType.OS}),
}
_FINAL_DECRYPTION_MESSAGE = re.compile(r"^\s*Decryption succeeded", re.IGNORECASE)
UNREADABLE_NOTE = (
    "the extension's substatus was unreadable, so this was decided from its top-level status "
    "(docs/arm-reference.md §0.1; R-ENA-4)"
)


def unreadable_substatus_note(status: EncryptionStatus) -> str:
    """``; <why>`` for a result decided while the substatus could not be read, else nothing."""
    return f"; {UNREADABLE_NOTE} ({status.unreadable})" if status.unreadable else ""


def _top_level_succeeded(status: EncryptionStatus) -> bool:
    return status.level.lower() != "error" and "failed" not in status.code.lower()


def top_level_reports_encrypted(status: EncryptionStatus, volume_type: VolumeType) -> bool | None:
    """What ``statuses[0]`` alone says about an encryption: ``True`` finished for ``volume_type``, ``False``
    finished for less than it, ``None`` not finished (or not a final message). Read only when the substatus is not."""
    match = _FINAL_ENCRYPTION_MESSAGE.match(status.message)
    if match is None or not _top_level_succeeded(status):
        return None
    covered = _FINAL_MESSAGE_COVERS[match.group(1).lower()]
    return volume_type in covered


def top_level_reports_decrypted(status: EncryptionStatus) -> bool:
    """``statuses[0]`` says the disable finished ("Decryption succeeded"); read only when the substatus is not."""
    return bool(_FINAL_DECRYPTION_MESSAGE.match(status.message)) and _top_level_succeeded(status)


def encrypted_by_status(status: EncryptionStatus, volume_type: VolumeType) -> bool:
    """R-ENA-4 from what is readable: the substatus when it can be read, else a final top-level message."""
    if required_volumes_encrypted(status, volume_type):
        return True
    return bool(status.unreadable) and top_level_reports_encrypted(status, volume_type) is True


@dataclass(frozen=True)
class VerificationVerdict:
    ok: bool
    encrypted_disks: list[str]
    missing_disks: list[str]
    message: str


def disks_in_scope(facts: VmFacts, volume_type: VolumeType) -> list[DiskFacts]:
    if volume_type is VolumeType.OS:
        return [facts.os_disk]
    if volume_type is VolumeType.DATA:
        return list(facts.data_disks)
    return facts.disks


def verify_encryption(facts: VmFacts, volume_type: VolumeType) -> VerificationVerdict:
    """R-ENA-4: after the extension says done, the disks themselves must carry ADE encryption settings.

    Both are checked: the extension status alone is not proof, and neither is a disk's
    ``EncryptionState/encrypted``, since stamping precedes encryption (docs/arm-reference.md §b.4).
    """
    status = facts.ade_extension.status if facts.ade_extension else None
    in_scope = disks_in_scope(facts, volume_type)
    encrypted = [d.name for d in in_scope if d.instance_view_encrypted]
    missing = [d.name for d in in_scope if not d.instance_view_encrypted]
    if status is None or not encrypted_by_status(status, volume_type):
        described = status.describe() if status else "no ADE extension status"
        return VerificationVerdict(False, encrypted, missing, f"extension status is not final: {described}")
    if missing:
        return VerificationVerdict(
            False,
            encrypted,
            missing,
            "disks without ADE encryption after the run: "
            + ", ".join(missing)
            + " (a data disk must be formatted, mounted and in /etc/fstab to be encrypted, R-NEW-1)",
        )
    message = f"{len(encrypted)} disk(s) encrypted: {status.describe()}"
    if not required_volumes_encrypted(status, volume_type):
        message += f"; {UNREADABLE_NOTE} and the disks' encryption state"
    return VerificationVerdict(True, encrypted, [], message)
