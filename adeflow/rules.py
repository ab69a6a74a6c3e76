"""The ADE rules as pure functions (ids from ``reference/ade-linux-rules.md``).

Workflows call these to decide; activities only fetch and apply. Keeping every decision here means each rule
is unit-tested without Temporal or Azure, and an operator-facing refusal always names its rule.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from adeflow.model import (
    AdeSettings,
    DiskFacts,
    EncryptionStatus,
    EncryptVmInput,
    KeyVaultFacts,
    Refusal,
    VmFacts,
    VolumeState,
    VolumeType,
)
from adeflow.resource_ids import parse_resource_id

ULTRA_SKU = "UltraSSD_LRS"
PREMIUM_V2_SKU = "PremiumV2_LRS"
PLATFORM_KEY = "EncryptionAtRestWithPlatformKey"

# Mid-run error statuses that the Linux extension recovers from by itself (arm-reference §c): failing the
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
    return refusals


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


def key_vault_not_found(vault_id: str, detail: str) -> Refusal:
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


def decide_volume_type(requested: VolumeType | None, facts: VmFacts) -> VolumeTypeDecision:
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
    refusals += check_key_vault(facts, vault)
    refusals += check_not_busy(facts)
    if decision.refusal is not None:
        refusals.append(decision.refusal)
    return refusals


def plan_enable_settings(
    request: EncryptVmInput, vault: KeyVaultFacts, volume_type: VolumeType, sequence_version: str
) -> AdeSettings:
    """The settings ``az vm encryption enable`` would send (arm-reference §a.4), with our sequence version.

    The sequence version is chosen once by the workflow and reused by every retry of the PUT (R-NEW-4,
    DESIGN invariant 2): a retry then re-sends identical settings, which the extension ignores.
    """
    kek = request.kek
    return AdeSettings(
        encryption_operation="EnableEncryption",
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
    if not status.extension_present:
        return ProgressVerdict(
            ProgressKind.FAILED,
            "the ADE extension disappeared from the VM while encryption was running.",
            "extension-missing",
        )
    if status.level.lower() == "error" and not is_transient_extension_error(status.message):
        return ProgressVerdict(
            ProgressKind.FAILED,
            f"the ADE extension reported an error: {status.message or status.code}",
            "extension-error",
        )
    if VolumeState.VM_RESTART_PENDING in (status.os, status.data):
        return ProgressVerdict(
            ProgressKind.FAILED,
            "the OS volume is encrypted but the VM must be restarted to finish (VMRestartPending).",
            "vm-restart-pending",
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
    ``EncryptionState/encrypted``, since stamping precedes encryption (arm-reference §b.4).
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


def vault_name_from_id(vault_id: str) -> str:
    return parse_resource_id(vault_id).name
