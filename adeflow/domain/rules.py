"""The ADE rules as pure functions (ids from ``docs/ade-linux-rules.md``).

Workflows call these to decide; activities only fetch and apply. Keeping every decision here means each rule
is unit-tested without Temporal or Azure, and an operator-facing refusal always names its rule.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeGuard

from adeflow.domain.model import (
    AdeSettings,
    BackupPolicy,
    BackupWaiver,
    DiskFacts,
    EncryptionStatus,
    EncryptVmInput,
    KeyVaultFacts,
    PolicyFinding,
    Refusal,
    VmFacts,
    VolumeState,
    VolumeType,
)
from adeflow.domain.support import MATRIX
from adeflow.domain.vocabulary import GUEST_CHECKS as GUEST_CHECKS  # re-exported: rules.GUEST_CHECKS
from adeflow.domain.vocabulary import NEW_DISK_CONFIRMATION, Reason
from adeflow.domain.vocabulary import GuestCheck as GuestCheck

FORMAT_ALL_ACKNOWLEDGEMENT = "I understand data on qualifying data disks will be erased"
"""The exact words an operator must give for EncryptFormatAll (R-EFA-1/2): it formats data disks."""


SECRET_POLICY_DEFINITIONS = {
    "342e8053-e12e-4c44-be01-c3c2f318400f": "Key Vault secrets should have the specified maximum validity period",
    "98728c90-32c7-4049-8429-847dc0f4fe37": "Key Vault secrets should have an expiration date",
}
"""Built-in policies whose Deny effect blocks the secret ADE writes (the second is an inference, arm-ref §h)."""


ULTRA_SKU = "UltraSSD_LRS"
PREMIUM_V2_SKU = "PremiumV2_LRS"
PLATFORM_KEY = "EncryptionAtRestWithPlatformKey"

# Mid-run error statuses that the Linux extension recovers from by itself (docs/arm-reference.md §c): failing the
# workflow on them would abandon a VM in the middle of its OS pass.
_TRANSIENT_EXTENSION_ERRORS = (
    re.compile(r"Restarted extension from stripped down OS", re.IGNORECASE),
    re.compile(r"Attempt #\d+ to unmount", re.IGNORECASE),
    re.compile(r"An operation is already in progress", re.IGNORECASE),
)


def _normalise_region(region: str) -> str:
    return region.replace(" ", "").lower()


def _refuse(rule: str, reason: str, message: str, fix: str) -> Refusal:
    return Refusal(rule=rule, reason=reason, message=message, fix=fix)


def check_vm_eligibility(facts: VmFacts, volume_type: VolumeType | None) -> list[Refusal]:
    """Every R-PRE-1 / R-LIM-* violation visible in the ARM model of the VM, in the order an operator fixes them."""
    refusals: list[Refusal] = []
    if facts.os_type.lower() != "linux":
        refusals.append(
            _refuse(
                "R-PRE-1",
                "not-linux",
                f"OS type is {facts.os_type or 'unknown'}; adeflow encrypts Linux VMs only.",
                "Use Azure Disk Encryption for Windows or encryption at host for this VM.",
            )
        )
    if facts.size.lower().startswith("basic_"):
        refusals.append(
            _refuse(
                "R-LIM-4a",
                "basic-tier",
                f"size {facts.size} is a Basic-tier VM, which ADE does not support.",
                "Resize the VM to a Standard size that ADE supports, then retry.",
            )
        )
    if is_legacy_ade(facts):
        refusals.append(
            _refuse(
                "R-LIM-1",
                "legacy-aad-release",
                "the VM was encrypted with the previous ADE release (Microsoft Entra ID app, extension 0.x).",
                "Keep managing it with the AAD-based release (or migrate it with "
                "Set-AzVMDiskEncryptionExtension -Migrate); do not mix releases.",
            )
        )
    if facts.os_disk.ephemeral:
        refusals.append(
            _refuse(
                "R-LIM-4i",
                "ephemeral-os-disk",
                "the OS disk is ephemeral (diffDiskSettings.option = Local).",
                "Use encryption at host for ephemeral OS disks, or rebuild the VM on a managed OS disk.",
            )
        )
    for disk in facts.disks:
        refusals.extend(_disk_refusals(disk))
    if facts.encryption_at_host:
        refusals.append(
            _refuse(
                "R-LIM-4t",
                "encryption-at-host",
                "encryption at host is enabled on the VM; ADE cannot be combined with it.",
                "Nothing to do: the disks are already encrypted at host. Leave this VM out of the rollout.",
            )
        )
    if facts.disk_controller_type.lower() == "nvme":
        refusals.append(
            _refuse(
                "R-LIM-4o",
                "nvme-disk-controller",
                "the VM's disks are attached through an NVMe controller, which ADE does not support.",
                "Use encryption at host, or a size with a SCSI disk controller.",
            )
        )
    if facts.scale_set_id and volume_type in (VolumeType.OS, VolumeType.ALL):
        refusals.append(
            _refuse(
                "R-LIM-4c",
                "scale-set-os-volume",
                f"the VM belongs to scale set {facts.scale_set_id}; ADE cannot encrypt the OS drive of a "
                "Linux scale-set VM.",
                "Request volume type Data for this VM.",
            )
        )
    refusals += check_ever_encrypted_now_sse(facts)
    return refusals


def check_ever_encrypted_now_sse(facts: VmFacts) -> list[Refusal]:
    """R-LIM-4u: a VM that ever had ADE must not move to encryption at host or SSE + CMK."""
    ever_ade = any(d.ade_settings_version for d in facts.disks) or facts.ade_extension is not None
    sse_cmk = any(d.disk_encryption_set_id for d in facts.disks)
    if ever_ade and (facts.encryption_at_host or sse_cmk):
        return [
            _refuse(
                "R-LIM-4u",
                "ade-vm-moved-to-sse",
                "the VM was ADE-encrypted and now has encryption at host or SSE + CMK; that migration is unsupported.",
                "Follow the documented ADE -> encryption-at-host migration (new disks, copied data), "
                "not an in-place toggle.",
            )
        ]
    return []


def check_support_matrix(facts: VmFacts, volume_type: VolumeType | None, allow_unlisted: bool) -> list[Refusal]:
    """R-PRE-1: supported sizes and OS images (``adeflow/domain/data/ade_support.json``), and enough memory.

    Images or sizes missing from the matrix are refused unless the operator overrides with ``allow_unlisted``:
    the extension itself would otherwise fail hours in, mid-OS-pass.
    """
    if facts.os_type.lower() != "linux":
        return []
    refusals: list[Refusal] = []
    size_problem = MATRIX.size_problem(facts.size)
    if size_problem is not None and size_problem.rule != "R-LIM-4a":  # Basic is reported by R-LIM-4a already
        refusals.append(
            _refuse(
                size_problem.rule,
                "unsupported-size",
                f"size {facts.size}: {size_problem.why}.",
                "Resize the VM to a size ADE supports (or use encryption at host).",
            )
        )
    wants_os = volume_type in (VolumeType.OS, VolumeType.ALL)
    image = facts.image
    if image.custom_image_id:
        if not allow_unlisted:
            refusals.append(
                _refuse(
                    "R-LIM-4d",
                    "custom-image",
                    f"the VM was built from a custom or gallery image ({image.custom_image_id}); ADE does not "
                    "support custom images.",
                    "If the image is an unmodified marketplace image, re-run with the unlisted-image override.",
                )
            )
    else:
        support = MATRIX.image(image)
        name = f"{image.publisher}:{image.offer}:{image.sku}"
        if support is None and not allow_unlisted:
            refusals.append(
                _refuse(
                    "R-PRE-1",
                    "unsupported-image",
                    f"image {name} is not in ADE's supported list.",
                    "Move the workload to a supported distribution, or override after checking the ADE docs.",
                )
            )
        elif support is not None and wants_os and not support.os_volume:
            refusals.append(
                _refuse(
                    "R-PRE-1",
                    "image-data-only",
                    f"image {name} ({support.label}) supports data-volume encryption only.",
                    "Request volume type Data.",
                )
            )
    memory = MATRIX.memory_gib(facts.size)
    minimum = MATRIX.os_volume_min_memory_gib if wants_os else MATRIX.data_volume_min_memory_gib
    if memory is None and size_problem is None and not allow_unlisted:
        refusals.append(
            _refuse(
                "R-PRE-1",
                "unknown-size",
                f"size {facts.size} is not in the support matrix, so its memory is unknown.",
                "Add it to adeflow/domain/data/ade_support.json, or override after checking it has enough memory.",
            )
        )
    elif memory is not None and memory < minimum:
        refusals.append(
            _refuse(
                "R-PRE-1",
                "not-enough-memory",
                f"size {facts.size} has {memory:g} GiB; encrypting {'the OS volume' if wants_os else 'data'} "
                f"needs at least {minimum:g} GiB.",
                "Resize the VM for the encryption (it can be downsized afterwards).",
            )
        )
    return refusals


def check_policies(findings: list[PolicyFinding]) -> list[Refusal]:
    """R-LIM-4y: a Deny assignment of the secret-validity policy makes ADE's secret creation fail."""
    denying = [f for f in findings if f.effect.lower() == "deny"]
    if not denying:
        return []
    first = denying[0]
    name = SECRET_POLICY_DEFINITIONS.get(first.definition_id.rsplit("/", 1)[-1].lower(), first.definition_id)
    return [
        _refuse(
            "R-LIM-4y",
            "secret-policy-deny",
            f"policy '{name}' is assigned with effect Deny ({first.assignment_id}); ADE cannot create its "
            "disk-encryption secret under it.",
            "Exempt the Key Vault from the assignment (policy exemption) or set its effect to Audit, then retry.",
        )
    ]


def unconfirmed_guest_checks(confirmations: list[str]) -> list[GuestCheck]:
    """Guest-side limitations the operator has not vouched for, listed in every preflight report."""
    return [check for name, check in GUEST_CHECKS.items() if name not in confirmations]


def _disk_refusals(disk: DiskFacts) -> list[Refusal]:
    which = "OS disk" if disk.is_os else f"data disk {disk.name} (LUN {disk.lun})"
    refusals: list[Refusal] = []
    if disk.storage_account_type == ULTRA_SKU:
        refusals.append(
            _refuse(
                "R-LIM-4w",
                "ultra-disk",
                f"{which} is an Ultra disk, which ADE does not support.",
                "Detach it or move its data to a supported disk type, or use encryption at host.",
            )
        )
    if disk.storage_account_type == PREMIUM_V2_SKU:
        refusals.append(
            _refuse(
                "R-LIM-4x",
                "premium-ssd-v2-disk",
                f"{which} is a Premium SSD v2 disk, which ADE does not support.",
                "Detach it or move its data to a supported disk type, or use encryption at host.",
            )
        )
    if disk.disk_encryption_set_id or (disk.encryption_type and disk.encryption_type != PLATFORM_KEY):
        refusals.append(
            _refuse(
                "R-LIM-4t",
                "sse-customer-managed-key",
                f"{which} uses server-side encryption with a customer-managed key "
                f"({disk.disk_encryption_set_id or disk.encryption_type}); ADE cannot be combined with it.",
                "Leave this VM out: its disks are already encrypted with your key.",
            )
        )
    if disk.write_accelerator:
        refusals.append(
            _refuse(
                "R-LIM-4s",
                "write-accelerator",
                f"{which} has Write Accelerator enabled, which ADE does not support.",
                "Disable Write Accelerator on the disk, or leave this VM out.",
            )
        )
    return refusals


def is_legacy_ade(facts: VmFacts) -> bool:
    """True when the VM carries the AAD (dual-pass) release in any of the places az/PowerShell look (R-LIM-1)."""
    ext = facts.ade_extension
    if ext is not None and (ext.type_handler_version.split(".")[0] == "0" or ext.has_aad_settings):
        return True
    if facts.legacy_os_encryption_settings:
        return True
    return any(disk.ade_settings_version == "1.0" for disk in facts.disks)


def check_key_vault(facts: VmFacts, vault: KeyVaultFacts) -> list[Refusal]:
    """R-PRE-2: the disk-encryption vault must allow disk encryption and sit in the VM's subscription and region."""
    refusals: list[Refusal] = []
    if not vault.enabled_for_disk_encryption:
        refusals.append(
            _refuse(
                "R-PRE-2",
                "vault-not-enabled-for-disk-encryption",
                f"Key Vault '{vault.name}' is not enabled for disk encryption.",
                f"Run: az keyvault update --name {vault.name} --enabled-for-disk-encryption true",
            )
        )
    if vault.subscription_id.lower() != facts.ref.subscription_id.lower():
        refusals.append(
            _refuse(
                "R-PRE-2",
                "vault-subscription-mismatch",
                f"Key Vault '{vault.name}' is in subscription {vault.subscription_id}, "
                f"the VM in {facts.ref.subscription_id}.",
                "Use a Key Vault in the VM's subscription.",
            )
        )
    if _normalise_region(vault.location) != _normalise_region(facts.location):
        refusals.append(
            _refuse(
                "R-PRE-2",
                "vault-region-mismatch",
                f"Key Vault '{vault.name}' is in {vault.location}, the VM in {facts.location}.",
                f"Use a Key Vault in {facts.location}.",
            )
        )
    return refusals


def key_vault_not_found(vault_id: str, detail: str, *, denied: bool = False) -> Refusal:
    """R-PRE-2 cannot be checked without the vault; a denied read names the vault and the permission to grant."""
    if denied:
        name = vault_id.rstrip("/").rsplit("/", 1)[-1]
        return _refuse(
            "R-PRE-2",
            "vault-access-denied",
            f"adeflow's identity may not read Key Vault '{name}' ({vault_id}): {detail}",
            f"Grant adeflow's identity read access to Key Vault '{name}' (Microsoft.KeyVault/vaults/read, e.g. the "
            "Reader role on the vault), then run again.",
        )
    return _refuse(
        "R-PRE-2",
        "vault-not-found",
        f"Key Vault {vault_id} could not be read: {detail}",
        "Check the Key Vault resource id and that adeflow's identity may read it.",
    )


@dataclass(frozen=True)
class VolumeTypeDecision:
    volume_type: VolumeType | None
    refusal: Refusal | None = None
    reenable: bool = False
    """The VM is already ADE-encrypted: this run adds volumes (a new data disk) with a new sequence version."""


_REENABLE = {VolumeType.OS: VolumeType.ALL, VolumeType.ALL: VolumeType.ALL, VolumeType.DATA: VolumeType.DATA}


def current_volume_type(facts: VmFacts) -> VolumeType | None:
    """The volume type of the VM's current (single-pass) ADE enable, if it has one."""
    ext = facts.ade_extension
    if ext is None or ext.encryption_operation not in ("EnableEncryption", "EnableEncryptionFormatAll"):
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
                _refuse(
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
                _refuse(
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
            _refuse(
                "R-ENA-3",
                "no-data-disks",
                "volume type Data was requested but the VM has no data disks.",
                "Request volume type OS (or All), or attach, format and mount a data disk first (R-NEW-1).",
            ),
        )
    return VolumeTypeDecision(requested)


def check_not_busy(facts: VmFacts) -> list[Refusal]:
    """R-LIM-2: a VM whose extension is mid-operation must not get a second one."""
    ext = facts.ade_extension
    if ext is None or ext.status is None:
        return []
    busy = {VolumeState.ENCRYPTION_IN_PROGRESS, VolumeState.DECRYPTION_IN_PROGRESS}
    if ext.status.os in busy or ext.status.data in busy:
        return [
            _refuse(
                "R-LIM-2",
                "operation-in-progress",
                f"an ADE operation is already running on the VM ({ext.status.describe()}).",
                "Wait for it to finish (adeflow vm status), then retry.",
            )
        ]
    return []


def preflight(request: EncryptVmInput, facts: VmFacts, vault: KeyVaultFacts) -> list[Refusal]:
    """All refusals for an enable request; empty means the VM may proceed to the backup gate."""
    decision = decide_volume_type(request.volume_type, facts)
    refusals = check_vm_eligibility(facts, decision.volume_type)
    refusals += check_support_matrix(facts, decision.volume_type, request.allow_unlisted)
    refusals += check_key_vault(facts, vault)
    refusals += check_not_busy(facts)
    if decision.refusal is not None:
        refusals.append(decision.refusal)
    elif decision.volume_type is not None:
        refusals += check_format_all(request, decision.volume_type)
        if decision.reenable:
            refusals += check_new_disk_confirmed(request)
    refusals += check_backup_policy(request)
    return refusals


def check_backup_policy(request: EncryptVmInput) -> list[Refusal]:
    """R-BAK-2: waiving the backup needs an operator's statement on record."""
    if request.backup_policy is BackupPolicy.WAIVE and not waiver_on_record(request.backup_waiver):
        return [backup_waiver_missing()]
    return []


def waiver_on_record(waiver: BackupWaiver | None) -> TypeGuard[BackupWaiver]:
    """R-BAK-2: a waiver counts only with the operator's name and a statement of where the backup is."""
    return waiver is not None and bool(waiver.operator.strip()) and bool(waiver.statement.strip())


def backup_waiver_missing() -> Refusal:
    """R-BAK-2 refusal of a waived backup without a statement: by encrypt's preflight and by every backup gate."""
    return _refuse(
        "R-BAK-2",
        "backup-waiver-missing",
        "backup policy is waive but no operator statement that a backup exists was recorded.",
        "Give the operator's name and a statement of where the backup is, or use backup policy auto.",
    )


def check_format_all(request: EncryptVmInput, volume_type: VolumeType) -> list[Refusal]:
    """R-EFA-1/2/4: EncryptFormatAll erases data; only for volume type Data, only with the exact acknowledgement."""
    if not request.encrypt_format_all:
        return []
    refusals: list[Refusal] = []
    if volume_type is not VolumeType.DATA:
        refusals.append(
            _refuse(
                "R-EFA-4",
                "format-all-needs-data",
                f"EncryptFormatAll was requested with volume type {volume_type.value}; it is for Data only.",
                "Request volume type Data, or drop EncryptFormatAll.",
            )
        )
    if request.acknowledge_data_loss != FORMAT_ALL_ACKNOWLEDGEMENT:
        refusals.append(
            _refuse(
                "R-EFA-1",
                "format-all-not-acknowledged",
                "EncryptFormatAll FORMATS every qualifying data partition: all data on them is lost, and no "
                "acknowledgement of that was given for this run.",
                f'Acknowledge with exactly: "{FORMAT_ALL_ACKNOWLEDGEMENT}" (and never on disks with needed data, '
                "R-EFA-2).",
            )
        )
    return refusals


def check_new_disk_confirmed(request: EncryptVmInput) -> list[Refusal]:
    """R-NEW-1: a re-enable for a new data disk needs the operator's word that it is formatted and mounted."""
    if NEW_DISK_CONFIRMATION in request.confirmations:
        return []
    return [
        _refuse(
            "R-NEW-1",
            "new-disk-not-confirmed",
            "the VM is already ADE-encrypted; encrypting a new data disk needs it formatted, mounted and in "
            "/etc/fstab by a persistent name first, and that was not confirmed.",
            f"Prepare the disk in the guest, then confirm '{NEW_DISK_CONFIRMATION}'.",
        )
    ]


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


class ProgressKind(StrEnum):
    DONE = "done"
    WAITING = "waiting"
    FAILED = "failed"


@dataclass(frozen=True)
class ProgressVerdict:
    kind: ProgressKind
    message: str
    reason: str = ""


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


def check_disable(facts: VmFacts) -> list[Refusal]:
    """R-DIS-3 / R-LIM-3 / R-LIM-4b: no disable at all while the OS volume is encrypted, whatever is asked."""
    if os_volume_encrypted(facts):
        return [
            _refuse(
                "R-DIS-3",
                "os-volume-encrypted",
                "the OS volume is encrypted (volume type OS or All); ADE on Linux cannot disable encryption on such "
                "a VM, neither for OS nor for data volumes (R-LIM-3, R-LIM-4b).",
                "Keep the VM encrypted, or rebuild it on new disks (see the ADE retirement migration path).",
            )
        ]
    if not data_volumes_encrypted(facts):
        return [
            _refuse(
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
            _refuse(
                "R-DIS-2",
                "still-encrypted",
                "volumes are still ADE-encrypted; removing the extension now leaves them encrypted and "
                "unmanageable until the extension is added again.",
                "Disable encryption first (data volumes only), or pass --leave-encrypted to accept that.",
            )
        ]
    return []


def assess_disable_progress(status: EncryptionStatus) -> ProgressVerdict:
    """Disable is done when data reports NotEncrypted/NotMounted and no decryption is running (R-DIS-2)."""
    if not status.extension_present:
        return ProgressVerdict(
            ProgressKind.FAILED, "the ADE extension disappeared during disable.", Reason.EXTENSION_MISSING
        )
    if status.level.lower() == "error" and not is_transient_extension_error(status.message):
        return ProgressVerdict(
            ProgressKind.FAILED,
            f"the ADE extension reported an error: {status.message or status.code}",
            Reason.EXTENSION_ERROR,
        )
    if status.data in (VolumeState.NOT_ENCRYPTED, VolumeState.NOT_MOUNTED):
        return ProgressVerdict(ProgressKind.DONE, status.describe())
    return ProgressVerdict(ProgressKind.WAITING, status.describe())


def _extension_problem(status: EncryptionStatus, doing: str) -> ProgressVerdict | None:
    """A vanished extension or a non-transient error status ends any wait."""
    if not status.extension_present:
        return ProgressVerdict(
            ProgressKind.FAILED,
            f"the ADE extension disappeared from the VM during {doing}.",
            Reason.EXTENSION_MISSING,
        )
    if status.level.lower() == "error" and not is_transient_extension_error(status.message):
        reported = status.message or status.code
        return ProgressVerdict(
            ProgressKind.FAILED,
            f"the ADE extension reported an error: {_sentence(reported)} Fix: {extension_failure_fix(reported)}",
            Reason.EXTENSION_ERROR,
        )
    return None


def is_transient_extension_error(message: str) -> bool:
    return any(pattern.search(message) for pattern in _TRANSIENT_EXTENSION_ERRORS)


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


def assess_encryption_progress(status: EncryptionStatus, volume_type: VolumeType) -> ProgressVerdict:
    """Decide from one status read whether to keep waiting, stop with success, or fail the run."""
    problem = _extension_problem(status, "encryption")
    if problem is not None:
        return problem
    if VolumeState.VM_RESTART_PENDING in (status.os, status.data):
        return ProgressVerdict(
            ProgressKind.FAILED,
            "the OS volume is encrypted but the VM must be restarted to finish (VMRestartPending, R-ENA-2). "
            "Fix: restart the VM (az vm restart), then check it with adeflow vm status; or run again with "
            "restart policy auto or ask.",
            Reason.VM_RESTART_PENDING,
        )
    if required_volumes_encrypted(status, volume_type):
        return ProgressVerdict(ProgressKind.DONE, status.describe())
    return ProgressVerdict(ProgressKind.WAITING, status.describe())


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
    if status is None or not required_volumes_encrypted(status, volume_type):
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
    return VerificationVerdict(True, encrypted, [], f"{len(encrypted)} disk(s) encrypted: {status.describe()}")


# ---------------------------------------------------------------------------------------------- faults mid-run
# How a run ends when Azure or the guest fails it. Each message names what happened, the rule, and what to do
# (docs/original-design.md §5.5); the activities prefix the VM's name.

_ARM_EXTENSION_WRAPPER = re.compile(r'Error message:\s*"(?P<own>.*)"\s*\.?\s*$', re.DOTALL)
_RECOVERY = "The snapshots or backup taken before the run are the way back if a volume was left half-done (R-BAK-1)."
_EXTENSION_FIXES: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(r"Disabling encryption is not supported", re.IGNORECASE),
        "the OS volume is encrypted, so ADE cannot disable encryption on this VM (R-DIS-3); keep it encrypted.",
    ),
    (
        re.compile(r"key ?vault|KEK|not enabled for disk encryption", re.IGNORECASE),
        "correct the Key Vault or KEK settings the message names (R-PRE-2, R-ENA-3), then run again.",
    ),
    (
        re.compile(r"Not enough memory", re.IGNORECASE),
        "resize the VM to at least 8 GB of memory for the OS pass (R-PRE-1), run again, and size it down after.",
    ),
    (
        re.compile(r"not supported|Kernel version|Minimum supported version", re.IGNORECASE),
        "the image or kernel is outside ADE's support list (R-PRE-1): upgrade the kernel or use a supported image.",
    ),
    (
        re.compile(r"package|cryptsetup", re.IGNORECASE),
        "let the guest reach its package repositories (cryptsetup and its dependencies), then run again.",
    ),
    (
        re.compile(r"unmount", re.IGNORECASE),
        "stop the processes holding files on the OS disk (R-LIM-2), restore the VM, then run again.",
    ),
    (
        re.compile(r"volume type", re.IGNORECASE),
        "request the volume type the VM had before, or All (R-NEW-2).",
    ),
    (
        re.compile(r"data volume", re.IGNORECASE),
        "make sure every data disk is formatted, mounted and in /etc/fstab and that no process holds it (R-NEW-1), "
        "then run again.",
    ),
)
NOT_RUNNING_POWER_STATES = frozenset({"deallocated", "deallocating", "stopped", "stopping"})


def _sentence(text: str) -> str:
    """``text`` ending in exactly one full stop, so quoted Azure messages read as sentences in ours."""
    text = text.strip().rstrip(".")
    return f"{text}." if text else ""


def extension_own_message(arm_message: str) -> str:
    """The extension's own words inside ARM's ``VMExtensionProvisioningError`` wrapper (docs/arm-reference.md §c)."""
    text = " ".join(arm_message.split())
    found = _ARM_EXTENSION_WRAPPER.search(text)
    return found["own"].strip() if found else text


def extension_failure_fix(message: str) -> str:
    """What to do about an extension failure, from its message (docs/arm-reference.md §c), always with the way back."""
    for pattern, fix in _EXTENSION_FIXES:
        if pattern.search(message):
            return f"{fix} {_RECOVERY}"
    return (
        "read the extension log in the guest (/var/log/azure/Microsoft.Azure.Security.AzureDiskEncryptionForLinux/), "
        f"fix the cause, then run again (a new run uses a new sequence version, R-NEW-4). {_RECOVERY}"
    )


def explain_extension_failure(vm_name: str, arm_message: str) -> str:
    """One line for a failed extension PUT: the extension's own message first, then the fix."""
    own = extension_own_message(arm_message)
    return f"{vm_name}: the ADE extension failed: {_sentence(own)} Fix: {extension_failure_fix(own)}"


def _doing(operation: str) -> str:
    return "decryption" if operation == "DisableEncryption" else "encryption"


def wait_deadline_verdict(operation: str, deadline_s: float, last_seen: str) -> ProgressVerdict:
    """The run's deadline passed while the extension still reported work (e.g. stuck at a percentage, R-LIM-2)."""
    doing = _doing(operation)
    return ProgressVerdict(
        ProgressKind.FAILED,
        f"{doing} did not finish within {deadline_s / 3600:g} h (the run's deadline); last seen: "
        f"{_sentence(last_seen or 'no status')} The VM was left as it is: the extension may still be working, or "
        "be stuck in the guest (R-LIM-2). Fix: follow it with adeflow vm status (az vm encryption show); if it no "
        "longer moves, read the extension log in the guest and restore from the backup taken before the run "
        "(R-BAK-1) before running again; for large data disks allow a longer deadline.",
        Reason.DISABLE_DEADLINE_EXCEEDED if doing == "decryption" else Reason.ENCRYPTION_DEADLINE_EXCEEDED,
    )


def assess_power_state(power_state: str, operation: str) -> ProgressVerdict | None:
    """ADE works inside the guest: on a stopped or deallocated VM nothing moves, so waiting only burns the deadline."""
    state = power_state.lower()
    if state not in NOT_RUNNING_POWER_STATES:
        return None
    return ProgressVerdict(
        ProgressKind.FAILED,
        f"the VM was {state} during {_doing(operation)}; ADE works inside the guest and cannot go on while the VM "
        "is not running (R-LIM-2). The VM was left as it is. Fix: start the VM (az vm start) and follow the "
        "extension with adeflow vm status; if it does not resume, restore from the backup taken before the run "
        "(R-BAK-1) and run again.",
        Reason.VM_NOT_RUNNING,
    )


def vm_deleted_verdict(operation: str) -> ProgressVerdict:
    """The VM itself is gone (not just the extension): say so, and what is left to clean up."""
    return ProgressVerdict(
        ProgressKind.FAILED,
        f"the VM was deleted during {_doing(operation)}; there is nothing left to do for it. The snapshots or "
        "backup taken before the run remain (R-BAK-1). Fix: none for the VM; remove its snapshots with adeflow "
        "snapshots delete once they are no longer needed.",
        Reason.VM_DELETED,
    )


def snapshot_failure_message(vm_name: str, disk_name: str, snapshot_name: str, detail: str) -> str:
    """A snapshot of the R-BAK-2 gate failed: nothing was changed on the VM, and encryption does not start."""
    return (
        f"{vm_name}: snapshot {snapshot_name} of disk {disk_name} failed: {_sentence(detail)} Nothing was changed "
        "on the VM: encryption does not start without a verified backup (R-BAK-2). Fix: run again once the disk "
        "service recovers (new snapshots are taken), or protect the VM with Azure Backup (backup policy "
        "azure-backup); remove the failed snapshot with adeflow snapshots delete."
    )


def backup_conflict_message(vm_name: str, detail: str) -> str:
    """Azure Backup refused an on-demand backup (409) and no running backup job of the VM could be found to join."""
    return (
        f"{vm_name}: Azure Backup refused the on-demand backup ({detail}) and no running backup job of the VM was "
        "found to wait for; encryption does not start without a verified backup (R-BAK-2). Fix: wait until the "
        "vault's operation on the VM has ended (Backup jobs in the portal), then run again."
    )
