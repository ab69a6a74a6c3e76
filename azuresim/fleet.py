"""The fleet file: which subscriptions, resource groups, VMs, disks and vaults the simulator serves.

Loaded with pydantic so that a typo in a hand-written YAML file fails loudly with the field path
(``subscriptions.0.resource_groups.1.vms.3.os_disk.size_gb``) instead of silently simulating something else.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from azuresim.throttling import ThrottlingSpec

DiskSku = Literal[
    "Standard_LRS",
    "Premium_LRS",
    "StandardSSD_LRS",
    "UltraSSD_LRS",
    "Premium_ZRS",
    "StandardSSD_ZRS",
    "PremiumV2_LRS",
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SimSettings(_Model):
    """Rates of the simulated world (all durations in simulated seconds)."""

    scale: float = Field(default=1.0, gt=0)
    gb_per_hour: float = Field(default=10.0, gt=0)
    stamp_seconds: float = Field(default=120.0, ge=0)
    snapshot_seconds: float = Field(default=60.0, ge=0)
    stripdown_seconds: float = Field(default=600.0, ge=0)
    format_all_seconds: float = Field(default=300.0, ge=0)
    backup_seconds: float = Field(default=1800.0, ge=0)
    feature_registration_seconds: float = Field(default=900.0, ge=0)
    """A subscription feature's ``Registering`` → ``Registered`` (M-5; Azure says "a few minutes" to 15)."""
    provider_registration_seconds: float = Field(default=60.0, ge=0)
    """A resource provider's re-registration, which propagates a newly registered feature (M-5)."""
    throttling: ThrottlingSpec = ThrottlingSpec()
    disk_mb_per_s: float = Field(default=250.0, gt=0)
    """Page-blob throughput of one disk behind a SAS (MiB per simulated second), for reads and writes alike."""
    disk_queue_s: float = Field(default=5.0, ge=0)
    """A page write whose turn on a disk comes later than this (simulated seconds) answers 503 ServerBusy."""
    disk_written_fraction: float = Field(default=0.3, ge=0, le=1)
    """How much of a fleet disk holds data when its spec does not say (``written_gb`` / ``written_extents``)."""


class ImageSpec(_Model):
    publisher: str
    offer: str
    sku: str
    version: str = "latest"


class ExtentSpec(_Model):
    """A written range of a disk, in MiB from the disk's start."""

    offset_mib: int = Field(ge=0)
    length_mib: int = Field(gt=0)


class _DiskData(_Model):
    """What a disk holds ("used data"): only written ranges are copied when a disk moves (docs/ade-migration.md).

    Neither field set: ``sim.disk_written_fraction`` of the disk, spread over it.
    """

    written_gb: float | None = Field(default=None, ge=0)
    written_extents: list[ExtentSpec] | None = None

    @model_validator(mode="after")
    def _within_disk(self) -> _DiskData:
        size_mib = int(getattr(self, "size_gb", 0)) * 1024
        if self.written_gb is not None and self.written_extents is not None:
            raise ValueError("give written_gb or written_extents, not both")
        if self.written_gb is not None and self.written_gb * 1024 > size_mib:
            raise ValueError(f"written_gb {self.written_gb} exceeds the disk's {size_mib // 1024} GB")
        end = 0
        for extent in sorted(self.written_extents or [], key=lambda e: e.offset_mib):
            if extent.offset_mib < end:
                raise ValueError(f"written_extents overlap at {extent.offset_mib} MiB")
            end = extent.offset_mib + extent.length_mib
            if end > size_mib:
                raise ValueError(f"written extent ending at {end} MiB lies beyond the disk's {size_mib} MiB")
        return self


class OsDiskSpec(_DiskData):
    size_gb: int = Field(default=30, gt=0)
    sku: DiskSku = "Premium_LRS"
    ephemeral: bool = False
    disk_encryption_set_id: str | None = None
    write_accelerator: bool = False


class DataDiskSpec(_DiskData):
    lun: int = Field(ge=0, le=63)
    size_gb: int = Field(gt=0)
    sku: DiskSku = "Premium_LRS"
    mounted: bool = True
    disk_encryption_set_id: str | None = None
    write_accelerator: bool = False
    added_after_encryption: bool = False
    """Attached after the VM was encrypted: not encrypted even when ``encrypted.data`` is (drift, R-NEW-1/2)."""


class ExtensionSpec(_Model):
    """A pre-existing extension (e.g. a legacy dual-pass ADE install)."""

    name: str
    publisher: str
    type: str
    type_handler_version: str
    auto_upgrade_minor_version: bool = True
    settings: dict[str, Any] = Field(default_factory=dict)


class EncryptedSpec(_Model):
    """Start state: volumes already encrypted by single-pass ADE (stamps present)."""

    os: bool = False
    data: bool = False
    kek: str | None = None
    """Name of a key in the VM's disk-encryption vault that wraps the disk keys (default: no KEK)."""
    kek_version: str | None = Field(default=None, pattern=r"^[0-9a-fA-F]{32}$")
    """Which version of ``kek`` (default: its current one); an older version models a KEK due for rotation."""
    extension_removed: bool = False
    """The ADE extension was deleted without disabling first: the disks stay encrypted (R-DIS-2)."""
    dual_pass: bool = False
    """Encrypted by the previous (AAD, dual-pass) release, as ARM shows it (R-LIM-1): the VM model's
    ``osDisk.encryptionSettings``, disks stamped with ``encryptionSettingsVersion`` "1.0" and (unless removed) the
    extension at version 0.1 with ``AADClientID`` in its settings."""

    @model_validator(mode="after")
    def _needs_encryption(self) -> EncryptedSpec:
        if (self.kek or self.kek_version or self.extension_removed or self.dual_pass) and not (self.os or self.data):
            raise ValueError(
                "kek, kek_version, extension_removed and dual_pass describe an encrypted VM: set os or data"
            )
        if self.kek_version and not self.kek:
            raise ValueError("kek_version needs kek (the key's name)")
        return self


class ExtensionStatusSpec(_Model):
    """How the VM's ADE extension words its status: the variants real extension versions send (docs/arm-reference.md
    §0.1, §c). Default: the current extension's exact wording. Changeable at run time (``/_sim/vms/{vm}/...``)."""

    substatus: Literal["json", "keys_reordered", "plain_text", "unparseable", "absent"] = "json"
    """``substatuses[0].message``: JSON with ``data`` first (the extension's order) or ``os`` first, plain text as
    older versions wrote it, truncated JSON, or no substatus at all."""
    substatus_when: Literal["always", "finished"] = "always"
    """``finished``: the substatus takes that form only once the operation has ended (a final top-level status
    over an unreadable substatus)."""
    value_case: Literal["as_is", "lower", "upper"] = "as_is"
    rename_values: dict[str, str] = Field(default_factory=dict)
    """Substatus values replaced by other words (e.g. ``{"EncryptionInProgress": "Encrypting"}``): unknown values."""
    stripdown: bool | None = None
    """The OS pass restarts the extension from a stripped-down OS, status error code 19 "Restarted extension from
    stripped down OS" for ``sim.stripdown_seconds`` (default: Canonical 20.04/22.04 images do)."""
    unmount_attempts: int = Field(default=0, ge=0, le=10)
    """Failed attempts to unmount /oldroot at the start of the OS pass, each a status error code 22 "Attempt #n to
    unmount /oldroot failed..." for ``unmount_retry_seconds``; the extension retries by itself (10 at most)."""
    unmount_retry_seconds: float = Field(default=60.0, gt=0)


class VmSpec(_Model):
    name: str = Field(min_length=1, max_length=64)
    location: str | None = None
    size: str = "Standard_D2s_v5"
    os_type: Literal["Linux", "Windows"] = "Linux"
    image: ImageSpec = ImageSpec(
        publisher="Canonical", offer="0001-com-ubuntu-server-jammy", sku="22_04-lts-gen2", version="latest"
    )
    security_type: Literal["Standard", "TrustedLaunch", "ConfidentialVM"] = "TrustedLaunch"
    encryption_at_host: bool = False
    scale_set_id: str | None = None
    scale_set: str | None = None
    """A Flexible scale set of the same resource group (``scale_sets``) this VM is a member of."""
    disk_controller_type: Literal["SCSI", "NVMe"] | None = None
    """``storageProfile.diskControllerType`` (default: SCSI, or NVMe on sizes that only have NVMe)."""
    zones: list[str] = Field(default_factory=list)
    os_disk: OsDiskSpec = OsDiskSpec()
    data_disks: list[DataDiskSpec] = Field(default_factory=list)
    extensions: list[ExtensionSpec] = Field(default_factory=list)
    encrypted: EncryptedSpec = EncryptedSpec()
    extension_status: ExtensionStatusSpec = ExtensionStatusSpec()
    tags: dict[str, str] = Field(default_factory=dict)
    subnet: str | None = Field(default=None, pattern=r"^[^/]+/[^/]+$")
    """``vnet/subnet`` of the resource group for the VM's NIC ``{name}-nic`` (default: the group's first subnet)."""

    @model_validator(mode="after")
    def _unique_luns(self) -> VmSpec:
        luns = [d.lun for d in self.data_disks]
        if len(luns) != len(set(luns)):
            raise ValueError(f"VM {self.name!r}: duplicate data disk lun in {luns}")
        if self.os_disk.ephemeral and self.encrypted.os:
            raise ValueError(f"VM {self.name!r}: an ephemeral OS disk cannot start encrypted")
        return self


class VaultSecretSpec(_Model):
    """A Key Vault secret, e.g. the disk-encryption key of a customer-encrypted VHD (R-VHD-1)."""

    name: str = Field(pattern=r"^[0-9a-zA-Z-]{1,127}$")
    version: str | None = Field(default=None, pattern=r"^[0-9a-fA-F]{32}$")
    """Current version (default: derived from vault and name, so tests can compute it)."""
    enabled: bool = True
    tags: dict[str, str] = Field(default_factory=dict)


class KeyVersionSpec(_Model):
    """An older version of a key: rotated keys keep them, and disks wrapped with them still unlock."""

    version: str = Field(pattern=r"^[0-9a-fA-F]{32}$")
    age_days: float = Field(ge=0)
    """Created this many days before the simulator started."""
    enabled: bool = True


class VaultKeySpec(_Model):
    """A Key Vault key, e.g. a key-encryption key (KEK)."""

    name: str = Field(pattern=r"^[0-9a-zA-Z-]{1,127}$")
    version: str | None = Field(default=None, pattern=r"^[0-9a-fA-F]{32}$")
    kty: Literal["RSA", "RSA-HSM", "EC", "EC-HSM", "oct-HSM"] = "RSA"
    key_size: int = 2048
    enabled: bool = True
    age_days: float | None = Field(default=None, ge=0)
    """Age of the current version when the simulator starts (default: 30 days, like every fleet object)."""
    older_versions: list[KeyVersionSpec] = Field(default_factory=list)


class KeyVaultSpec(_Model):
    name: str = Field(min_length=3, max_length=24, pattern=r"^[a-zA-Z][a-zA-Z0-9-]*$")
    location: str | None = None
    enabled_for_disk_encryption: bool = True
    enable_soft_delete: bool = True
    enable_purge_protection: bool = False
    enable_rbac_authorization: bool = False
    secrets: list[VaultSecretSpec] = Field(default_factory=list)
    keys: list[VaultKeySpec] = Field(default_factory=list)


class StandaloneDiskSpec(_DiskData):
    """A managed disk attached to no VM, e.g. one imported from a customer-encrypted VHD (R-VHD-1)."""

    name: str = Field(min_length=1, max_length=80)
    location: str | None = None
    size_gb: int = Field(default=30, gt=0)
    sku: DiskSku = "Premium_LRS"
    os_type: Literal["Linux", "Windows"] | None = "Linux"
    source_uri: str | None = None
    """The VHD blob it was imported from (``creationData.createOption: Import``)."""
    image: ImageSpec | None = None
    """What the VHD holds, reported by the guest once a VM runs it (default: VmSpec's image)."""
    disk_encryption_set_id: str | None = None
    zones: list[str] = Field(default_factory=list)
    """A zonal disk attaches only to a VM in the same zone."""


class ProtectedVmSpec(_Model):
    """A VM protected by Azure Backup in a Recovery Services vault (default: a VM of the vault's group)."""

    vm: str
    resource_group: str | None = None
    policy: str = "DefaultPolicy"


class RecoveryVaultSpec(_Model):
    name: str = Field(min_length=2, max_length=50, pattern=r"^[a-zA-Z][a-zA-Z0-9-]*$")
    location: str | None = None
    protected_vms: list[ProtectedVmSpec] = Field(default_factory=list)


class PolicyAssignmentSpec(_Model):
    """An Azure Policy assignment; ``scope`` defaults to the subscription."""

    name: str = Field(min_length=1, max_length=128)
    policy_definition_id: str
    effect: Literal["Deny", "Audit", "Disabled"] = "Audit"
    scope: str | None = None
    display_name: str | None = None
    parameters: dict[str, Any] = Field(default_factory=dict)


class SubnetSpec(_Model):
    name: str = Field(min_length=1, max_length=80)
    address_prefix: str = Field(pattern=r"^\d+\.\d+\.\d+\.\d+/\d+$")


class VirtualNetworkSpec(_Model):
    """A virtual network; without any, a resource group with VMs or NICs gets ``{rg}-vnet`` with subnet ``default``."""

    name: str = Field(min_length=2, max_length=64)
    address_prefix: str = Field(pattern=r"^\d+\.\d+\.\d+\.\d+/\d+$")
    subnets: list[SubnetSpec] = Field(min_length=1)


class NetworkInterfaceSpec(_Model):
    """A NIC attached to no VM (e.g. the one a VM created by PUT will use)."""

    name: str = Field(min_length=1, max_length=80)
    subnet: str | None = Field(default=None, pattern=r"^[^/]+/[^/]+$")
    """``vnet/subnet`` of the same resource group (default: its first subnet)."""
    private_ip: str | None = Field(default=None, pattern=r"^\d+\.\d+\.\d+\.\d+$")
    """A static private IP (default: the next free one, allocation ``Dynamic``)."""


class ScaleSetSpec(_Model):
    """A VM scale set. Uniform: ``capacity`` instances served under the scale set (VirtualMachineScaleSetVMs);
    Flexible: its members are ordinary VMs naming it in ``scale_set``."""

    name: str = Field(min_length=1, max_length=64)
    orchestration_mode: Literal["Uniform", "Flexible"] = "Flexible"
    size: str = "Standard_D2s_v5"
    capacity: int = Field(default=2, ge=0, le=100)
    """Uniform only: the number of instances (ids 0..capacity-1)."""
    image: ImageSpec = ImageSpec(
        publisher="Canonical", offer="0001-com-ubuntu-server-jammy", sku="22_04-lts-gen2", version="latest"
    )
    os_disk_size_gb: int = Field(default=30, gt=0)
    disk_controller_type: Literal["SCSI", "NVMe"] | None = None
    zones: list[str] = Field(default_factory=list)
    tags: dict[str, str] = Field(default_factory=dict)


def check_scale_set_members(scale_sets: list[ScaleSetSpec], vms: list[VmSpec], rg: str) -> None:
    """A VM's ``scale_set`` names a Flexible scale set of its resource group (Uniform instances are not VMs)."""
    modes = {s.name.lower(): s.orchestration_mode for s in scale_sets}
    if len(modes) != len(scale_sets):
        raise ValueError(f"resource group {rg!r}: duplicate scale set names")
    for vm in vms:
        if vm.scale_set is None:
            continue
        if vm.scale_set_id is not None:
            raise ValueError(f"VM {vm.name!r}: give scale_set or scale_set_id, not both")
        mode = modes.get(vm.scale_set.lower())
        if mode is None:
            raise ValueError(f"VM {vm.name!r}: no scale set {vm.scale_set!r} in resource group {rg!r}")
        if mode != "Flexible":
            raise ValueError(f"VM {vm.name!r}: scale set {vm.scale_set!r} is Uniform; only Flexible ones have VMs")


class ResourceGroupSpec(_Model):
    name: str = Field(min_length=1, max_length=90)
    location: str
    key_vaults: list[KeyVaultSpec] = Field(default_factory=list)
    recovery_vaults: list[RecoveryVaultSpec] = Field(default_factory=list)
    vms: list[VmSpec] = Field(default_factory=list)
    disks: list[StandaloneDiskSpec] = Field(default_factory=list)
    virtual_networks: list[VirtualNetworkSpec] = Field(default_factory=list)
    network_interfaces: list[NetworkInterfaceSpec] = Field(default_factory=list)
    scale_sets: list[ScaleSetSpec] = Field(default_factory=list)

    @model_validator(mode="after")
    def _scale_sets(self) -> ResourceGroupSpec:
        check_scale_set_members(self.scale_sets, self.vms, self.name)
        return self

    @model_validator(mode="after")
    def _unique_vm_names(self) -> ResourceGroupSpec:
        names = [vm.name.lower() for vm in self.vms]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"resource group {self.name!r}: duplicate VM names {dupes}")
        nics = [f"{vm.name}-nic".lower() for vm in self.vms] + [n.name.lower() for n in self.network_interfaces]
        dupes = sorted({n for n in nics if nics.count(n) > 1})
        if dupes:
            raise ValueError(f"resource group {self.name!r}: duplicate NIC names {dupes} (a VM's NIC is {{vm}}-nic)")
        subnets = {f"{v.name}/{s.name}".lower() for v in self.virtual_networks for s in v.subnets}
        for ref in [vm.subnet for vm in self.vms] + [n.subnet for n in self.network_interfaces]:
            if ref is not None and ref.lower() not in subnets:
                raise ValueError(f"resource group {self.name!r}: no subnet {ref!r} (vnet/subnet) declared")
        return self


class SubscriptionSpec(_Model):
    id: str = Field(pattern=r"^[0-9a-fA-F-]{36}$")
    tenant_id: str = "72f988bf-86f1-41af-91ab-2d7cd011db47"
    resource_groups: list[ResourceGroupSpec] = Field(default_factory=list)
    policy_assignments: list[PolicyAssignmentSpec] = Field(default_factory=list)
    encryption_at_host_feature: Literal["Registered", "NotRegistered"] = "Registered"
    """The subscription feature ``Microsoft.Compute/EncryptionAtHost`` (M-5) when the simulator starts."""

    @model_validator(mode="after")
    def _unique_rg_names(self) -> SubscriptionSpec:
        names = [rg.name.lower() for rg in self.resource_groups]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"subscription {self.id}: duplicate resource groups {dupes}")
        vms = {(rg.name.lower(), vm.name.lower()) for rg in self.resource_groups for vm in rg.vms}
        protected: set[tuple[str, str]] = set()
        for rg in self.resource_groups:
            for vault in rg.recovery_vaults:
                for item in vault.protected_vms:
                    key = ((item.resource_group or rg.name).lower(), item.vm.lower())
                    if key not in vms:
                        raise ValueError(
                            f"recovery vault {vault.name!r}: VM {item.vm!r} not found in resource group {key[0]!r}"
                        )
                    if key in protected:
                        raise ValueError(f"VM {item.vm!r} is protected by more than one recovery vault")
                    protected.add(key)
        return self


class FleetSpec(_Model):
    sim: SimSettings = SimSettings()
    subscriptions: list[SubscriptionSpec] = Field(min_length=1)

    @model_validator(mode="after")
    def _global_uniqueness(self) -> FleetSpec:
        ids = [s.id.lower() for s in self.subscriptions]
        if len(ids) != len(set(ids)):
            raise ValueError("duplicate subscription ids")
        vaults = [kv.name.lower() for s in self.subscriptions for rg in s.resource_groups for kv in rg.key_vaults]
        dupes = sorted({n for n in vaults if vaults.count(n) > 1})
        if dupes:
            raise ValueError(f"key vault names are global DNS names and must be unique: {dupes}")
        return self


class FleetError(ValueError):
    """The fleet file is missing, not YAML, or does not match the schema."""


def _format_errors(path: Path, exc: ValidationError) -> str:
    lines = [f"invalid fleet file {path}:"]
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "<root>"
        lines.append(f"  {loc}: {err['msg']}")
    return "\n".join(lines)


def load_fleet(path: str | Path) -> FleetSpec:
    """Read and validate a fleet YAML file; errors name the file and the offending field path."""
    p = Path(path)
    try:
        raw = yaml.safe_load(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise FleetError(f"cannot read fleet file {p}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise FleetError(f"fleet file {p} is not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise FleetError(f"invalid fleet file {p}: the top level must be a mapping")
    try:
        return FleetSpec.model_validate(raw)
    except ValidationError as exc:
        raise FleetError(_format_errors(p, exc)) from exc
