"""The extension settings a run sends (enable, disable) and what EncryptFormatAll may format (R-EFA-*)."""

from __future__ import annotations

from dataclasses import dataclass

from adeflow.domain.model import AdeSettings, EncryptVmInput, KeyVaultFacts, Refusal, VmFacts, VolumeType

FORMAT_ALL_ACKNOWLEDGEMENT = "I understand data on qualifying data disks will be erased"
"""The exact words an operator must give for EncryptFormatAll (R-EFA-1/2): it formats data disks."""


def check_format_all(request: EncryptVmInput, volume_type: VolumeType) -> list[Refusal]:
    """R-EFA-1/2/4: EncryptFormatAll erases data; only for volume type Data, only with the exact acknowledgement."""
    if not request.encrypt_format_all:
        return []
    refusals: list[Refusal] = []
    if volume_type is not VolumeType.DATA:
        refusals.append(
            Refusal(
                "R-EFA-4",
                "format-all-needs-data",
                f"EncryptFormatAll was requested with volume type {volume_type.value}; it is for Data only.",
                "Request volume type Data, or drop EncryptFormatAll.",
            )
        )
    if request.acknowledge_data_loss != FORMAT_ALL_ACKNOWLEDGEMENT:
        refusals.append(
            Refusal(
                "R-EFA-1",
                "format-all-not-acknowledged",
                "EncryptFormatAll FORMATS every qualifying data partition: all data on them is lost, and no "
                "acknowledgement of that was given for this run.",
                f'Acknowledge with exactly: "{FORMAT_ALL_ACKNOWLEDGEMENT}" (and never on disks with needed data, '
                "R-EFA-2).",
            )
        )
    return refusals


@dataclass(frozen=True)
class FormatAllPlan:
    """Which disks EncryptFormatAll may format (R-EFA-4), as far as ARM can tell."""

    qualifying: list[str]
    left_alone: list[tuple[str, str]]
    guest_side: str = (
        "inside the guest the extension also skips RAID and LVM volumes (their member disks are encrypted), "
        "the BEK volume and unmounted partitions (R-EFA-4)"
    )


def plan_format_all(facts: VmFacts) -> FormatAllPlan:
    qualifying = [d.name for d in facts.data_disks if not d.instance_view_encrypted]
    left_alone = [(facts.os_disk.name, "OS/root/boot disk")]
    left_alone += [(d.name, "already encrypted") for d in facts.data_disks if d.instance_view_encrypted]
    return FormatAllPlan(qualifying, left_alone)


def plan_enable_settings(
    request: EncryptVmInput, vault: KeyVaultFacts, volume_type: VolumeType, sequence_version: str
) -> AdeSettings:
    """The settings ``az vm encryption enable`` would send (docs/arm-reference.md §a.4), with our sequence version.

    The sequence version is chosen once by the workflow and reused by every retry of the PUT (R-NEW-4,
    docs/original-design.md §5 invariant 2): a retry then re-sends identical settings, which the extension ignores.
    """
    kek = request.kek
    return AdeSettings(
        encryption_operation="EnableEncryptionFormatAll" if request.encrypt_format_all else "EnableEncryption",
        volume_type=volume_type,
        key_vault_url=vault.vault_uri.rstrip("/"),
        key_vault_resource_id=vault.resource_id,
        key_encryption_key_url=kek.key_url if kek else None,
        kek_vault_resource_id=kek.vault_id if kek else "",
        key_encryption_algorithm=request.key_encryption_algorithm,
        sequence_version=sequence_version,
    )


def plan_disable_settings(sequence_version: str) -> AdeSettings:
    """R-DIS-4: disable is for data volumes only on Linux, with a fresh sequence version."""
    return AdeSettings(
        encryption_operation="DisableEncryption",
        volume_type=VolumeType.DATA,
        key_vault_url="",
        key_vault_resource_id="",
        key_encryption_key_url=None,
        kek_vault_resource_id="",
        key_encryption_algorithm="",
        sequence_version=sequence_version,
    )
