"""Typed payloads that cross workflow/activity boundaries.

Everything here is a plain dataclass or str enum so that Temporal's default data converter round-trips it
and workflow histories stay readable in the UI. No secrets ever live in these types (docs/original-design.md §5.7): Key
Vault references are resource ids and URLs, never key material.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

ADE_EXTENSION_NAME = "AzureDiskEncryptionForLinux"
ADE_PUBLISHER = "Microsoft.Azure.Security"
ADE_TYPE_HANDLER_VERSION = "1.1"


class VolumeType(StrEnum):
    """ADE ``VolumeType`` setting (R-ENA-3)."""

    OS = "OS"
    DATA = "Data"
    ALL = "All"

    @classmethod
    def parse(cls, text: str) -> VolumeType:
        """Case-insensitive, as the extension itself compares (``DATA`` from the CLI works)."""
        for member in cls:
            if member.value.lower() == text.strip().lower():
                return member
        raise ValueError(f"unknown volume type {text!r}: expected one of OS, Data, All")


class Phase(StrEnum):
    """Where a VM's run stands, in words that say what happens; published as the ``AdePhase`` search attribute
    (docs/original-design.md §4). Encrypt: preflight, backup, plan, enable, encrypting, verify. Disable: preflight,
    backup, disable, decrypting, remove. Remove the extension: preflight, remove. Create from a VHD: preflight,
    create, verify. Every run ends in done, failed or refused."""

    PREFLIGHT = "preflight"
    BACKUP = "backup"
    PLAN = "plan"
    ENABLE = "enable"
    ENCRYPTING = "encrypting"
    VERIFY = "verify"
    DISABLE = "disable"
    """The disable PUT (``EncryptionOperation: DisableEncryption``)."""
    DECRYPTING = "decrypting"
    REMOVE = "remove"
    """Deleting the ADE extension (R-DIS-5)."""
    CREATE = "create"
    """Creating a VM around an encrypted OS disk (R-VHD-1)."""
    DONE = "done"
    FAILED = "failed"
    REFUSED = "refused"


class Outcome(StrEnum):
    ENCRYPTED = "encrypted"
    DISABLED = "disabled"
    EXTENSION_REMOVED = "extension-removed"
    REFUSED = "refused"
    FAILED = "failed"


class BackupMethod(StrEnum):
    """How the R-BAK-2 gate was passed."""

    SNAPSHOT = "snapshot"
    AZURE_BACKUP = "azure-backup"
    WAIVED = "waived"


class BackupPolicy(StrEnum):
    """How a run satisfies R-BAK-2, chosen per fleet or VM."""

    AUTO = "auto"
    """Azure Backup when the VM is protected by a Recovery Services vault, else snapshots."""
    SNAPSHOT = "snapshot"
    AZURE_BACKUP = "azure-backup"
    WAIVE = "waive"
    """Only with an operator's recorded statement that a backup exists elsewhere."""


class RestartPolicy(StrEnum):
    """What to do when the extension reports ``VMRestartPending`` (R-ENA-2)."""

    AUTO = "auto"
    ASK = "ask"
    NEVER = "never"


class VolumeState(StrEnum):
    """Values of ``os`` / ``data`` in the extension's substatus JSON (docs/arm-reference.md §0.1)."""

    NOT_ENCRYPTED = "NotEncrypted"
    NOT_MOUNTED = "NotMounted"
    ENCRYPTED = "Encrypted"
    ENCRYPTION_IN_PROGRESS = "EncryptionInProgress"
    DECRYPTION_IN_PROGRESS = "DecryptionInProgress"
    VM_RESTART_PENDING = "VMRestartPending"
    UNKNOWN = "Unknown"


@dataclass(frozen=True)
class VmRef:
    """A VM by subscription, resource group and name: the identity every run is keyed on."""

    subscription_id: str
    resource_group: str
    name: str

    @property
    def resource_id(self) -> str:
        return (
            f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
            f"/providers/Microsoft.Compute/virtualMachines/{self.name}"
        )

    @property
    def key(self) -> str:
        """``sub/rg/vm``: the part of workflow ids that makes two runs for one VM collide."""
        return f"{self.subscription_id}/{self.resource_group}/{self.name}"

    @staticmethod
    def from_resource_id(resource_id: str) -> VmRef:
        from adeflow.domain.resource_ids import parse_resource_id

        parsed = parse_resource_id(resource_id)
        if parsed.provider_type.lower() != "microsoft.compute/virtualmachines":
            raise ValueError(f"not a virtual machine resource id: {resource_id}")
        return VmRef(parsed.subscription_id, parsed.resource_group, parsed.name)


@dataclass(frozen=True)
class ImageRef:
    publisher: str = ""
    offer: str = ""
    sku: str = ""
    version: str = ""
    custom_image_id: str = ""


@dataclass(frozen=True)
class DiskFacts:
    """One disk of a VM, merged from the VM model and (for managed disks) the disk resource."""

    name: str
    is_os: bool
    lun: int | None
    size_gb: int
    storage_account_type: str
    managed_disk_id: str = ""
    ephemeral: bool = False
    write_accelerator: bool = False
    disk_encryption_set_id: str = ""
    encryption_type: str = ""
    ade_settings_version: str = ""
    """``encryptionSettingsCollection.encryptionSettingsVersion`` ("1.0" = AAD release, "1.1" = current)."""
    instance_view_encrypted: bool = False
    """The VM instance view reports ``EncryptionState/encrypted`` for this disk."""


@dataclass(frozen=True)
class ExtensionFacts:
    """The ADE extension as ARM reports it (settings and instance view)."""

    name: str
    publisher: str
    extension_type: str
    type_handler_version: str
    provisioning_state: str
    sequence_version: str = ""
    volume_type: str = ""
    encryption_operation: str = ""
    has_aad_settings: bool = False
    status: EncryptionStatus | None = None
    key_vault_resource_id: str = ""
    """``KeyVaultResourceId`` of the current settings: the vault holding the disk-encryption secrets."""
    key_encryption_key_url: str = ""
    """``KeyEncryptionKeyURL`` of the current settings (empty: the secrets are not wrapped by a KEK)."""
    kek_vault_resource_id: str = ""


@dataclass(frozen=True)
class ProgressMark:
    """A progress percent the extension reported, and of which volume when it says so (``data 2/3: 40%``).

    ``volume`` is ``os``, ``data`` (``index`` of ``count``) or empty (a percent of the whole operation)."""

    percent: int
    volume: str = ""
    index: int = 0
    count: int = 0


@dataclass(frozen=True)
class EncryptionStatus:
    """What the Linux ADE extension reports: ``substatuses[0].message`` JSON and ``statuses[0]``."""

    os: VolumeState
    data: VolumeState
    message: str = ""
    level: str = ""
    code: str = ""
    sequence_version: str = ""
    extension_present: bool = True
    unreadable: str = ""
    """Why the substatus could not be read (absent, not JSON, an unknown value); empty when it was read."""
    progress: ProgressMark | None = None
    """The percent the extension reported, if any: drives the poll schedule (``adeflow.domain.polling``)."""

    def describe(self) -> str:
        """One line for operators, e.g. ``os: EncryptionInProgress, data: Encrypted``."""
        text = f"os: {self.os.value}, data: {self.data.value}"
        text = f"{text} ({self.message})" if self.message else text
        return f"{text} [substatus unreadable: {self.unreadable}]" if self.unreadable else text


@dataclass(frozen=True)
class VmFacts:
    """Everything preflight needs to know about a VM, read from ARM without changing anything."""

    ref: VmRef
    vm_id: str
    location: str
    size: str
    os_type: str
    image: ImageRef
    os_disk: DiskFacts
    data_disks: list[DiskFacts] = field(default_factory=list)
    security_type: str = ""
    encryption_at_host: bool = False
    scale_set_id: str = ""
    disk_controller_type: str = ""
    power_state: str = ""
    legacy_os_encryption_settings: bool = False
    """VM-model ``osDisk.encryptionSettings.enabled``: the marker of the AAD (dual-pass) release."""
    ade_extension: ExtensionFacts | None = None

    @property
    def disks(self) -> list[DiskFacts]:
        return [self.os_disk, *self.data_disks]


@dataclass(frozen=True)
class KeyVaultFacts:
    resource_id: str
    name: str
    subscription_id: str
    location: str
    enabled_for_disk_encryption: bool
    vault_uri: str


@dataclass(frozen=True)
class KeyVaultLookup:
    """A vault read: the facts, or why they could not be had (a refusal, not a crash: R-PRE-2)."""

    vault: KeyVaultFacts | None
    problem: str = ""
    denied: bool = False
    """ARM answered 403: the vault may exist, but adeflow's identity may not read it."""


@dataclass(frozen=True)
class KeyEncryptionKey:
    """A KEK: versioned key URL plus the vault that holds it (R-ENA-3)."""

    key_url: str
    vault_id: str


@dataclass(frozen=True)
class BackupWaiver:
    """An operator's recorded statement that a backup exists elsewhere (R-BAK-2)."""

    operator: str
    statement: str


@dataclass(frozen=True)
class EncryptVmInput:
    vm: VmRef
    key_vault_id: str
    volume_type: VolumeType | None = None
    kek: KeyEncryptionKey | None = None
    key_encryption_algorithm: str = "RSA-OAEP"
    backup_waiver: BackupWaiver | None = None
    poll_interval_s: float = 300.0
    """The longest the end of the encryption may go unseen: the status is read densely (at most this far apart)
    near the expected finish and sparsely before it (``adeflow.domain.polling``)."""
    encryption_gb_per_hour: float = 0.0
    """The fastest encryption rate expected (GB per hour): the first read comes when the disks could be done at
    that rate; 0: unknown (the schedule starts from the extension's progress percent)."""
    adaptive_polling: bool = True
    """False: read every ``poll_interval_s`` (the schedule before issue 18), e.g. against a simulator whose clock
    advances with each read rather than with the workflow's."""
    encryption_deadline_s: float = 72 * 3600.0
    """Give up waiting after this long; stock images take 3-16 h, multi-TB data disks days (arm-ref §f)."""
    rollout_id: str = ""
    backup_policy: BackupPolicy = BackupPolicy.AUTO
    restart_policy: RestartPolicy = RestartPolicy.ASK
    encrypt_format_all: bool = False
    acknowledge_data_loss: str = ""
    """Must equal ``rules.FORMAT_ALL_ACKNOWLEDGEMENT`` for EncryptFormatAll (R-EFA-1/2)."""
    confirmations: list[str] = field(default_factory=list)
    """Guest-side checks the operator has confirmed (``rules.GUEST_CHECKS`` names)."""
    allow_unlisted: bool = False
    """Operator override for images and sizes missing from the support matrix (R-PRE-1)."""
    notify_workflow_id: str = ""
    """A rollout to tell (by signal ``vm_finished``) when this run ends."""
    rollout_index: int = -1


@dataclass(frozen=True)
class Refusal:
    """Why a VM is not encrypted: the rule it breaks, in words an operator can act on (docs/original-design.md §5.5)."""

    rule: str
    reason: str
    message: str
    fix: str

    def render(self, vm: VmRef) -> str:
        return f"{vm.name}: refused by {self.rule} ({self.reason}): {self.message} Fix: {self.fix}"


@dataclass(frozen=True)
class AdeSettings:
    """The extension's public settings, keyed exactly as ``az vm encryption enable`` sends them."""

    encryption_operation: str
    volume_type: VolumeType
    key_vault_url: str
    key_vault_resource_id: str
    key_encryption_key_url: str | None
    kek_vault_resource_id: str
    key_encryption_algorithm: str
    sequence_version: str

    def public_settings(self) -> dict[str, str | None]:
        if self.encryption_operation == "DisableEncryption":
            # az vm encryption disable sends only these three (docs/arm-reference.md §a.4).
            return {
                "VolumeType": self.volume_type.value,
                "EncryptionOperation": self.encryption_operation,
                "SequenceVersion": self.sequence_version,
            }
        return {
            "EncryptionOperation": self.encryption_operation,
            "KeyVaultURL": self.key_vault_url,
            "KeyVaultResourceId": self.key_vault_resource_id,
            "KeyEncryptionKeyURL": self.key_encryption_key_url,
            "KekVaultResourceId": self.kek_vault_resource_id,
            "KeyEncryptionAlgorithm": self.key_encryption_algorithm,
            "VolumeType": self.volume_type.value,
            "SequenceVersion": self.sequence_version,
        }


@dataclass(frozen=True)
class SnapshotRequest:
    vm: VmRef
    location: str
    disk_ids: list[str]
    run_tag: str
    """Short id of the run, used in snapshot names and tags so a retry finds its own snapshots."""


@dataclass(frozen=True)
class SnapshotInfo:
    snapshot_id: str
    source_disk_id: str
    provisioning_state: str


@dataclass(frozen=True)
class PolicyFinding:
    """A policy assignment that would block ADE (R-LIM-4y)."""

    assignment_id: str
    definition_id: str
    effect: str


@dataclass(frozen=True)
class BackupProtection:
    """Whether Azure Backup protects the VM (Recovery Services ``backupStatus``), and where."""

    protected: bool
    vault_id: str = ""
    container: str = ""
    item: str = ""
    policy: str = ""


@dataclass(frozen=True)
class ProtectionQuery:
    vm: VmRef
    location: str


@dataclass(frozen=True)
class AzureBackupRequest:
    vm: VmRef
    protection: BackupProtection
    run_tag: str
    retain_days: int = 30


@dataclass(frozen=True)
class AzureBackupResult:
    job_id: str
    recovery_point_id: str
    recovery_point_time: str


@dataclass(frozen=True)
class ExtensionRequest:
    vm: VmRef
    location: str
    settings: AdeSettings


@dataclass(frozen=True)
class ExtensionResult:
    provisioning_state: str
    sequence_version: str
    sent_put: bool
    """False when a retried attempt found its own PUT already applied and only waited for it."""


@dataclass(frozen=True)
class ProgressRequest:
    """One wait for the extension's operation. The fields after ``encryption_operation`` feed the poll schedule
    (``adeflow.domain.polling``); their defaults (``max_latency_s`` 0: the retry policy's fixed interval) keep runs
    recorded before them replaying and polling as they did."""

    vm: VmRef
    volume_type: VolumeType
    sequence_version: str
    encryption_operation: str = "EnableEncryption"
    max_latency_s: float = 0.0
    """The longest the end of the operation may go unseen (the run's ``poll_interval_s``); 0: fixed interval."""
    os_gb: int = 0
    data_gb: list[int] = field(default_factory=list)
    """Sizes of the volumes in scope, in LUN order (the extension encrypts data volumes in order, then the OS)."""
    fast_gb_per_hour: float = 0.0
    """The fastest rate the operator expects (GB per hour of the run's clock); 0: unknown, poll from progress."""


@dataclass(frozen=True)
class PhaseTiming:
    phase: Phase
    started_at: datetime
    finished_at: datetime

    @property
    def seconds(self) -> float:
        return (self.finished_at - self.started_at).total_seconds()


@dataclass(frozen=True)
class VmRunProgress:
    """Answer of every per-VM run's ``progress`` query: the phase and a plain-words line for operators."""

    phase: Phase
    detail: str


@dataclass(frozen=True)
class VmRunResult:
    """What every per-VM run returns: how it ended, why (a rule id for a refusal, a reason code), the message for
    operators, and how long each phase took. A failed result still carries what had been done (snapshot ids)."""

    vm: VmRef
    outcome: Outcome
    reason: str = ""
    rule: str = ""
    message: str = ""
    timings: list[PhaseTiming] = field(default_factory=list)

    @property
    def backup_method(self) -> BackupMethod | None:
        """How the run passed its R-BAK-2 gate (a metrics label); None for runs without a gate."""
        return None


@dataclass(frozen=True)
class EncryptVmResult(VmRunResult):
    volume_type: VolumeType | None = None
    sequence_version: str = ""
    backup: BackupMethod | None = None
    backup_waiver: BackupWaiver | None = None
    snapshot_ids: list[str] = field(default_factory=list)
    backup_job_id: str = ""
    recovery_point_id: str = ""
    status: EncryptionStatus | None = None
    encrypted_disks: list[str] = field(default_factory=list)
    unconfirmed_checks: list[str] = field(default_factory=list)
    """Guest-side checks nobody confirmed: listed for the operator, who must vouch for them."""

    @property
    def backup_method(self) -> BackupMethod | None:
        return self.backup


@dataclass(frozen=True)
class DisableInput:
    vm: VmRef
    remove_extension: bool = True
    backup_policy: BackupPolicy = BackupPolicy.AUTO
    backup_waiver: BackupWaiver | None = None
    poll_interval_s: float = 300.0
    deadline_s: float = 72 * 3600.0
    rollout_id: str = ""


@dataclass(frozen=True)
class DisableResult(VmRunResult):
    reinstalled_extension: bool = False
    """The extension had been removed while disks stayed encrypted; the disable PUT re-added it (R-DIS-2)."""
    extension_removed: bool = False
    sequence_version: str = ""
    backup: BackupMethod | None = None
    snapshot_ids: list[str] = field(default_factory=list)

    @property
    def backup_method(self) -> BackupMethod | None:
        return self.backup


@dataclass(frozen=True)
class RemoveExtensionInput:
    vm: VmRef
    leave_encrypted: bool = False
    """Remove even though volumes stay encrypted: they then stay encrypted with no extension to manage them."""


@dataclass(frozen=True)
class RemoveExtensionResult(VmRunResult):
    """Removed (or already absent), refused (R-DIS-2) or failed: the shared fields say which."""


@dataclass(frozen=True)
class CreateFromVhdInput:
    """R-VHD-1: a new VM around a customer-encrypted OS disk, with the references that unlock it at boot.

    ``os_disk_id`` is the managed disk imported from the encrypted VHD (``az disk create --source <vhd-uri>``):
    unmanaged VHD-blob disks are retired since 31 March 2026 (docs/arm-reference.md §d.1), so a blob is not attached.
    """

    vm: VmRef
    os_disk_id: str
    secret_url: str
    """Disk-encryption key: the versioned Key Vault secret URL (PowerShell ``-DiskEncryptionKeyUrl``)."""
    key_vault_id: str
    """The vault holding that secret (``-DiskEncryptionKeyVaultId``); must allow disk encryption (R-PRE-2)."""
    network_interface_id: str
    size: str = "Standard_D2s_v5"
    kek: KeyEncryptionKey | None = None
    location: str = ""
    """Default: the disk's region, the only one it can be attached in."""
    rollout_id: str = ""


@dataclass(frozen=True)
class CreateFromVhdResult(VmRunResult):
    location: str = ""
    created: bool = False
    """This run created the VM; False when a VM of an earlier run, with the same disk and keys, was adopted."""
    os_disk_encrypted: bool = False
    notes: list[str] = field(default_factory=list)
    """What ARM cannot confirm (e.g. an older secret version) and the operator should know."""
