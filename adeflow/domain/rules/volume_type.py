"""The volume type of a run: a first enable's (R-ENA-3), or the re-enable an encrypted VM allows (R-NEW-*)."""

from __future__ import annotations

from dataclasses import dataclass

from adeflow.domain.model import EncryptVmInput, Refusal, VmFacts, VolumeType
from adeflow.domain.rules.verification import ade_took_effect
from adeflow.domain.vocabulary import NEW_DISK_CONFIRMATION


@dataclass(frozen=True)
class VolumeTypeDecision:
    volume_type: VolumeType | None
    refusal: Refusal | None = None
    reenable: bool = False
    """The VM is already ADE-encrypted: this run adds volumes (a new data disk) with a new sequence version."""


_REENABLE = {VolumeType.OS: VolumeType.ALL, VolumeType.ALL: VolumeType.ALL, VolumeType.DATA: VolumeType.DATA}


def current_volume_type(facts: VmFacts) -> VolumeType | None:
    """The volume type of the VM's earlier (single-pass) ADE enable, if that enable took effect (R-NEW-2).

    The settings only say what was asked: they still read EnableEncryption after an enable that failed or is
    still running. Such an enable counts only when a volume reports (or a disk carries) ADE encryption; one
    that encrypted nothing leaves a VM on which the next run is a first enable again, not an R-NEW-1 re-enable
    for a new disk. A succeeded enable counts even with nothing encrypted (Data with no mounted data disk).
    """
    ext = facts.ade_extension
    if ext is None or ext.encryption_operation not in ("EnableEncryption", "EnableEncryptionFormatAll"):
        return None
    if ext.provisioning_state.lower() != "succeeded" and not ade_took_effect(facts):
        return None
    for volume_type in VolumeType:
        if volume_type.value.lower() == ext.volume_type.lower():
            return volume_type
    return None


def decide_volume_type(requested: VolumeType | None, facts: VmFacts) -> VolumeTypeDecision:
    """R-NEW-2 for an already encrypted VM (OS -> All, All -> All, Data -> Data); else a first enable."""
    previous = current_volume_type(facts)
    if previous is not None:
        target = _REENABLE[previous]
        if requested not in (None, target):
            return VolumeTypeDecision(
                None,
                Refusal(
                    "R-NEW-2",
                    "volume-type-change-not-allowed",
                    f"the VM was encrypted with volume type {previous.value}; a re-enable must use {target.value}, "
                    f"not {requested.value if requested else '-'}.",
                    f"Request volume type {target.value} (or leave it out).",
                ),
            )
        return VolumeTypeDecision(target, reenable=True)
    return _first_enable_volume_type(requested, facts)


def _first_enable_volume_type(requested: VolumeType | None, facts: VmFacts) -> VolumeTypeDecision:
    """The volume type of a first enable: as requested; OS when unspecified and there are no data disks.

    With data disks and no volume type the CLI refuses ("VM has data disks, please supply --volume-type"),
    because guessing either way would silently leave disks out or encrypt more than was agreed (R-ENA-3).
    """
    if requested is None:
        if facts.data_disks:
            return VolumeTypeDecision(
                None,
                Refusal(
                    "R-ENA-3",
                    "volume-type-required",
                    f"the VM has {len(facts.data_disks)} data disk(s) and no volume type was given.",
                    "State the volume type: All (OS and data), OS or Data.",
                ),
            )
        return VolumeTypeDecision(VolumeType.OS)
    if requested is VolumeType.DATA and not facts.data_disks:
        return VolumeTypeDecision(
            None,
            Refusal(
                "R-ENA-3",
                "no-data-disks",
                "volume type Data was requested but the VM has no data disks.",
                "Request volume type OS (or All), or attach, format and mount a data disk first (R-NEW-1).",
            ),
        )
    return VolumeTypeDecision(requested)


def check_new_disk_confirmed(request: EncryptVmInput) -> list[Refusal]:
    """R-NEW-1: a re-enable for a new data disk needs the operator's word that it is formatted and mounted."""
    if NEW_DISK_CONFIRMATION in request.confirmations:
        return []
    return [
        Refusal(
            "R-NEW-1",
            "new-disk-not-confirmed",
            "the VM is already ADE-encrypted; encrypting a new data disk needs it formatted, mounted and in "
            "/etc/fstab by a persistent name first, and that was not confirmed.",
            f"Prepare the disk in the guest, then confirm '{NEW_DISK_CONFIRMATION}'.",
        )
    ]
