"""Disabling encryption and removing the extension: what Linux ADE allows (R-DIS-*, R-LIM-3, R-LIM-4b)."""

from __future__ import annotations

from adeflow.domain.model import Refusal, VmFacts
from adeflow.domain.rules.verification import data_volumes_encrypted, os_volume_encrypted


def check_disable(facts: VmFacts) -> list[Refusal]:
    """R-DIS-3 / R-LIM-3 / R-LIM-4b: no disable at all while the OS volume is encrypted, whatever is asked."""
    if os_volume_encrypted(facts):
        return [
            Refusal(
                "R-DIS-3",
                "os-volume-encrypted",
                "the OS volume is encrypted (volume type OS or All); ADE on Linux cannot disable encryption on such "
                "a VM, neither for OS nor for data volumes (R-LIM-3, R-LIM-4b).",
                "Keep the VM encrypted, or rebuild it on new disks (see the ADE retirement migration path).",
            )
        ]
    if not data_volumes_encrypted(facts):
        return [
            Refusal(
                "R-DIS-1",
                "nothing-encrypted",
                "no data volume is ADE-encrypted on the VM; there is nothing to disable.",
                "Use remove-extension if only the extension is left.",
            )
        ]
    return []


def check_remove_extension(facts: VmFacts, leave_encrypted: bool) -> list[Refusal]:
    """R-DIS-2: removing the extension before disabling leaves the disks encrypted; refuse unless told so."""
    if leave_encrypted:
        return []
    if os_volume_encrypted(facts) or data_volumes_encrypted(facts):
        return [
            Refusal(
                "R-DIS-2",
                "still-encrypted",
                "volumes are still ADE-encrypted; removing the extension now leaves them encrypted and "
                "unmanageable until the extension is added again.",
                "Disable encryption first (data volumes only), or pass --leave-encrypted to accept that.",
            )
        ]
    return []
