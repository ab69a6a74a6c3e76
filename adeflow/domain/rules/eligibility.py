"""May this VM be encrypted: every refusal the ARM model, the support matrix, policies and the vault show.

:func:`preflight` gathers them for an enable request (R-PRE-*, R-LIM-*, R-BAK-2, and the volume type and
EncryptFormatAll checks of the sibling modules); guest-side limitations ARM cannot see are listed for the operator.
"""

from __future__ import annotations

from typing import TypeGuard

from adeflow.domain.model import (
    BackupPolicy,
    BackupWaiver,
    DiskFacts,
    EncryptVmInput,
    KeyVaultFacts,
    PolicyFinding,
    Refusal,
    VmFacts,
    VolumeState,
    VolumeType,
)
from adeflow.domain.rules.settings import check_format_all
from adeflow.domain.rules.volume_type import check_new_disk_confirmed, decide_volume_type
from adeflow.domain.support import MATRIX
from adeflow.domain.vocabulary import GUEST_CHECKS, GuestCheck

SECRET_POLICY_DEFINITIONS = {
    "342e8053-e12e-4c44-be01-c3c2f318400f": "Key Vault secrets should have the specified maximum validity period",
    "98728c90-32c7-4049-8429-847dc0f4fe37": "Key Vault secrets should have an expiration date",
}
"""Built-in policies whose Deny effect blocks the secret ADE writes (the second is an inference, arm-ref §h)."""


ULTRA_SKU = "UltraSSD_LRS"

PREMIUM_V2_SKU = "PremiumV2_LRS"

PLATFORM_KEY = "EncryptionAtRestWithPlatformKey"


def sku_is(value: str, sku: str) -> bool:
    """SKU and size names compare case-insensitively, as ARM compares them (``ultrassd_lrs`` is ``UltraSSD_LRS``)."""
    return value.lower() == sku.lower()


_TRANSITIONING = frozenset({"creating", "updating", "deleting"})
"""Extension provisioning states of an operation ARM has not finished yet."""


def normalise_region(region: str) -> str:
    """Azure region names compare without spaces or case (``East US`` is ``eastus``)."""
    return region.replace(" ", "").lower()


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


def check_vm_eligibility(facts: VmFacts, volume_type: VolumeType | None) -> list[Refusal]:
    """Every R-PRE-1 / R-LIM-* violation visible in the ARM model of the VM, in the order an operator fixes them."""
    refusals: list[Refusal] = []
    if facts.os_type.lower() != "linux":
        refusals.append(
            Refusal(
                "R-PRE-1",
                "not-linux",
                f"OS type is {facts.os_type or 'unknown'}; adeflow encrypts Linux VMs only.",
                "Use Azure Disk Encryption for Windows or encryption at host for this VM.",
            )
        )
    if facts.size.lower().startswith("basic_"):
        refusals.append(
            Refusal(
                "R-LIM-4a",
                "basic-tier",
                f"size {facts.size} is a Basic-tier VM, which ADE does not support.",
                "Resize the VM to a Standard size that ADE supports, then retry.",
            )
        )
    if is_legacy_ade(facts):
        refusals.append(
            Refusal(
                "R-LIM-1",
                "legacy-aad-release",
                "the VM was encrypted with the previous ADE release (Microsoft Entra ID app, extension 0.x).",
                "Keep managing it with the AAD-based release (or migrate it with "
                "Set-AzVMDiskEncryptionExtension -Migrate); do not mix releases.",
            )
        )
    if facts.os_disk.ephemeral:
        refusals.append(
            Refusal(
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
            Refusal(
                "R-LIM-4t",
                "encryption-at-host",
                "encryption at host is enabled on the VM; ADE cannot be combined with it.",
                "Nothing to do: the disks are already encrypted at host. Leave this VM out of the rollout.",
            )
        )
    if facts.disk_controller_type.lower() == "nvme":
        refusals.append(
            Refusal(
                "R-LIM-4o",
                "nvme-disk-controller",
                "the VM's disks are attached through an NVMe controller, which ADE does not support.",
                "Use encryption at host, or a size with a SCSI disk controller.",
            )
        )
    if facts.scale_set_id and volume_type in (VolumeType.OS, VolumeType.ALL):
        refusals.append(
            Refusal(
                "R-LIM-4c",
                "scale-set-os-volume",
                f"the VM belongs to scale set {facts.scale_set_id}; ADE cannot encrypt the OS drive of a "
                "Linux scale-set VM.",
                "Request volume type Data for this VM.",
            )
        )
    refusals += check_ever_encrypted_now_sse(facts)
    return refusals


def _disk_refusals(disk: DiskFacts) -> list[Refusal]:
    which = "OS disk" if disk.is_os else f"data disk {disk.name} (LUN {disk.lun})"
    refusals: list[Refusal] = []
    if sku_is(disk.storage_account_type, ULTRA_SKU):
        refusals.append(
            Refusal(
                "R-LIM-4w",
                "ultra-disk",
                f"{which} is an Ultra disk, which ADE does not support.",
                "Detach it or move its data to a supported disk type, or use encryption at host.",
            )
        )
    if sku_is(disk.storage_account_type, PREMIUM_V2_SKU):
        refusals.append(
            Refusal(
                "R-LIM-4x",
                "premium-ssd-v2-disk",
                f"{which} is a Premium SSD v2 disk, which ADE does not support.",
                "Detach it or move its data to a supported disk type, or use encryption at host.",
            )
        )
    if disk.disk_encryption_set_id or (disk.encryption_type and disk.encryption_type != PLATFORM_KEY):
        refusals.append(
            Refusal(
                "R-LIM-4t",
                "sse-customer-managed-key",
                f"{which} uses server-side encryption with a customer-managed key "
                f"({disk.disk_encryption_set_id or disk.encryption_type}); ADE cannot be combined with it.",
                "Leave this VM out: its disks are already encrypted with your key.",
            )
        )
    if disk.write_accelerator:
        refusals.append(
            Refusal(
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


def check_ever_encrypted_now_sse(facts: VmFacts) -> list[Refusal]:
    """R-LIM-4u: a VM that ever had ADE must not move to encryption at host or SSE + CMK."""
    ever_ade = any(d.ade_settings_version for d in facts.disks) or facts.ade_extension is not None
    sse_cmk = any(d.disk_encryption_set_id for d in facts.disks)
    if ever_ade and (facts.encryption_at_host or sse_cmk):
        return [
            Refusal(
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
            Refusal(
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
                Refusal(
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
                Refusal(
                    "R-PRE-1",
                    "unsupported-image",
                    f"image {name} is not in ADE's supported list.",
                    "Move the workload to a supported distribution, or override after checking the ADE docs.",
                )
            )
        elif support is not None and wants_os and not support.os_volume:
            refusals.append(
                Refusal(
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
            Refusal(
                "R-PRE-1",
                "unknown-size",
                f"size {facts.size} is not in the support matrix, so its memory is unknown.",
                "Add it to adeflow/domain/data/ade_support.json, or override after checking it has enough memory.",
            )
        )
    elif memory is not None and memory < minimum:
        refusals.append(
            Refusal(
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
        Refusal(
            "R-LIM-4y",
            "secret-policy-deny",
            f"policy '{name}' is assigned with effect Deny ({first.assignment_id}); ADE cannot create its "
            "disk-encryption secret under it.",
            "Exempt the Key Vault from the assignment (policy exemption) or set its effect to Audit, then retry.",
        )
    ]


def check_key_vault(facts: VmFacts, vault: KeyVaultFacts) -> list[Refusal]:
    """R-PRE-2: the disk-encryption vault must allow disk encryption and sit in the VM's subscription and region."""
    refusals: list[Refusal] = []
    if not vault.enabled_for_disk_encryption:
        refusals.append(
            Refusal(
                "R-PRE-2",
                "vault-not-enabled-for-disk-encryption",
                f"Key Vault '{vault.name}' is not enabled for disk encryption.",
                f"Run: az keyvault update --name {vault.name} --enabled-for-disk-encryption true",
            )
        )
    if vault.subscription_id.lower() != facts.ref.subscription_id.lower():
        refusals.append(
            Refusal(
                "R-PRE-2",
                "vault-subscription-mismatch",
                f"Key Vault '{vault.name}' is in subscription {vault.subscription_id}, "
                f"the VM in {facts.ref.subscription_id}.",
                "Use a Key Vault in the VM's subscription.",
            )
        )
    if normalise_region(vault.location) != normalise_region(facts.location):
        refusals.append(
            Refusal(
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
        return Refusal(
            "R-PRE-2",
            "vault-access-denied",
            f"adeflow's identity may not read Key Vault '{name}' ({vault_id}): {detail}",
            f"Grant adeflow's identity read access to Key Vault '{name}' (Microsoft.KeyVault/vaults/read, e.g. the "
            "Reader role on the vault), then run again.",
        )
    return Refusal(
        "R-PRE-2",
        "vault-not-found",
        f"Key Vault {vault_id} could not be read: {detail}",
        "Check the Key Vault resource id and that adeflow's identity may read it.",
    )


def check_not_busy(facts: VmFacts) -> list[Refusal]:
    """R-LIM-2: a VM whose extension is mid-operation (a volume in progress, or ARM still applying the extension
    PUT) must not get a second one."""
    ext = facts.ade_extension
    if ext is None:
        return []
    busy = {VolumeState.ENCRYPTION_IN_PROGRESS, VolumeState.DECRYPTION_IN_PROGRESS}
    if ext.status is not None and (ext.status.os in busy or ext.status.data in busy):
        running = ext.status.describe()
    elif ext.provisioning_state.lower() in _TRANSITIONING:
        running = f"the extension is {ext.provisioning_state}"
    else:
        return []
    return [
        Refusal(
            "R-LIM-2",
            "operation-in-progress",
            f"an ADE operation is already running on the VM ({running}).",
            "Wait for it to finish (adeflow vm status), then retry.",
        )
    ]


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
    return Refusal(
        "R-BAK-2",
        "backup-waiver-missing",
        "backup policy is waive but no operator statement that a backup exists was recorded.",
        "Give the operator's name and a statement of where the backup is, or use backup policy auto.",
    )


def unconfirmed_guest_checks(confirmations: list[str]) -> list[GuestCheck]:
    """Guest-side limitations the operator has not vouched for, listed in every preflight report."""
    return [check for name, check in GUEST_CHECKS.items() if name not in confirmations]
