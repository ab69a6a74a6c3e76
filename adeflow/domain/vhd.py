"""R-VHD-1, a new VM from a customer-encrypted VHD: the checks and the request, as pure functions.

The VM is created around the managed disk imported from the VHD (``createOption: Attach``) with the VM-model
``osDisk.encryptionSettings`` that PowerShell's ``Set-AzVMOSDisk -DiskEncryptionKeyUrl -DiskEncryptionKeyVaultId``
writes: the versioned secret URL and its vault, plus the KEK and its vault when the secret is wrapped. The
platform reads that secret at every boot, so a bad reference yields a VM that never starts: everything ARM can
confirm is checked before the PUT. No backup gate (R-BAK-*): nothing existing is changed, the disk is only
attached. Note that ``az vm encryption`` treats a VM with VM-model encryption settings as the earlier ADE
release (docs/arm-reference.md §a.1), so ``adeflow vm encrypt`` later refuses such a VM by R-LIM-1.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from adeflow.domain.model import CreateFromVhdInput, KeyVaultFacts, KeyVaultLookup, Refusal, VmRef
from adeflow.domain.resource_ids import ResourceId, parse_resource_id
from adeflow.domain.vocabulary import Reason

VAULT_DNS_SUFFIXES = ("vault.azure.net", "vault.azure.cn", "vault.usgovcloudapi.net", "vault.microsoftazure.de")
_OBJECT_NAME = re.compile(r"^[0-9a-zA-Z-]{1,127}$")
_VERSION = re.compile(r"^[0-9a-fA-F]{32}$")
_RSA = ("RSA", "RSA-HSM")
_PLATFORM_KEY = "EncryptionAtRestWithPlatformKey"
PASSPHRASE_TAG = "DiskEncryptionKeyFileName"


# ---------------------------------------------------------------------------------------------- facts


@dataclass(frozen=True)
class VaultObjectUrl:
    """A Key Vault secret or key URL, split: ``https://<vault>.<suffix>/<kind>/<name>/<version>``."""

    vault: str
    kind: str
    name: str
    version: str

    @property
    def versioned(self) -> str:
        return f"{self.vault}/{self.kind}/{self.name}/{self.version}".lower()


@dataclass(frozen=True)
class VhdKeyRefs:
    """What the VM model's ``osDisk`` must say: the attached disk and the key references (compared loosely)."""

    os_disk_id: str
    secret_url: str
    key_vault_id: str
    kek_url: str = ""
    kek_vault_id: str = ""

    def same_as(self, other: VhdKeyRefs | None) -> bool:
        """Equal up to case and trailing slashes (ARM ids and vault hosts are case-insensitive)."""
        if other is None:
            return False

        def norm(refs: VhdKeyRefs) -> tuple[str, ...]:
            return tuple(
                v.strip().rstrip("/").lower()
                for v in (refs.os_disk_id, refs.secret_url, refs.key_vault_id, refs.kek_url, refs.kek_vault_id)
            )

        return norm(self) == norm(other)


@dataclass(frozen=True)
class SecretFacts:
    """A secret as ARM's ``vaults/secrets`` resource shows it: metadata and current version, never the value."""

    name: str
    enabled: bool
    current_url: str
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class KeyFacts:
    name: str
    version: str
    kty: str
    enabled: bool


@dataclass(frozen=True)
class ImportedDiskFacts:
    disk_id: str
    name: str
    location: str
    os_type: str
    sku: str
    encryption_type: str = ""
    disk_encryption_set_id: str = ""
    managed_by: str = ""


@dataclass(frozen=True)
class CreatedVmFacts:
    """The VM of that name, if any: what its model and instance view say about the OS disk's encryption."""

    exists: bool
    location: str = ""
    provisioning_state: str = ""
    refs: VhdKeyRefs | None = None
    encryption_enabled: bool = False
    instance_view_encrypted: bool = False
    instance_view_secret_url: str = ""


@dataclass(frozen=True)
class VhdCreateFacts:
    """Everything the R-VHD-1 checks read from ARM (GETs only); a ``*_problem`` says why a read found nothing."""

    vault: KeyVaultLookup
    existing_vm: CreatedVmFacts
    secret: SecretFacts | None = None
    secret_problem: str = ""
    kek_vault: KeyVaultLookup | None = None
    key: KeyFacts | None = None
    key_problem: str = ""
    disk: ImportedDiskFacts | None = None
    disk_problem: str = ""


@dataclass(frozen=True)
class VmCreateRequest:
    """The PUT the workflow decided on, and the references by which a retry recognises its own VM."""

    vm: VmRef
    expected: VhdKeyRefs
    body: dict[str, Any]


@dataclass(frozen=True)
class VmCreateOutcome:
    provisioning_state: str
    sent_put: bool


@dataclass(frozen=True)
class Verdict:
    ok: bool
    message: str


# ---------------------------------------------------------------------------------------------- parsing


def parse_vault_object_url(url: str, kind: str) -> VaultObjectUrl:
    """Split a versioned secret (``kind="secrets"``) or key URL; ``ValueError`` says what is wrong.

    Versioned and without a port, as ADE requires (docs/arm-reference.md §d.4, [D15]).
    """
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"{url!r} is not a URL ({exc})") from exc
    host = (parts.hostname or "").lower()
    vault, _, suffix = host.partition(".")
    if parts.scheme != "https" or not vault or suffix not in VAULT_DNS_SUFFIXES:
        raise ValueError(f"{url!r} is not a Key Vault URL (https://<vault>.vault.azure.net/...)")
    if port is not None:
        raise ValueError(f"{url!r} has a port; ADE needs the URL without one")
    if parts.query or parts.fragment:
        raise ValueError(f"{url!r} has a query or fragment")
    segments = parts.path.strip("/").split("/")
    if len(segments) != 3 or segments[0].lower() != kind:
        raise ValueError(f"{url!r} is not a versioned {kind[:-1]} URL (.../{kind}/<name>/<version>)")
    _, name, version = segments
    if not _OBJECT_NAME.match(name):
        raise ValueError(f"{url!r}: {name!r} is not a Key Vault object name")
    if not _VERSION.match(version):
        raise ValueError(f"{url!r}: {version!r} is not a Key Vault version (32 hex digits)")
    return VaultObjectUrl(vault, kind, name, version.lower())


def _resource(resource_id: str, provider_type: str) -> ResourceId:
    parsed = parse_resource_id(resource_id)
    if parsed.provider_type.lower() != provider_type.lower():
        raise ValueError(f"{resource_id!r} is not a {provider_type} resource id")
    return parsed


def _get(data: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(data, Mapping):
            return None
        data = data.get(key)
    return data


def key_refs(request: CreateFromVhdInput) -> VhdKeyRefs:
    kek = request.kek
    return VhdKeyRefs(
        os_disk_id=request.os_disk_id,
        secret_url=request.secret_url,
        key_vault_id=request.key_vault_id,
        kek_url=kek.key_url if kek else "",
        kek_vault_id=kek.vault_id if kek else "",
    )


def parse_created_vm(vm: Mapping[str, Any]) -> CreatedVmFacts:
    """A VM (``VirtualMachines_Get`` with ``$expand=instanceView``): its OS disk's encryption, model and view."""
    os_disk = _get(vm, "properties", "storageProfile", "osDisk") or {}
    settings = os_disk.get("encryptionSettings") or {}
    refs = None
    if _get(settings, "diskEncryptionKey", "secretUrl"):
        refs = VhdKeyRefs(
            os_disk_id=str(_get(os_disk, "managedDisk", "id") or ""),
            secret_url=str(_get(settings, "diskEncryptionKey", "secretUrl")),
            key_vault_id=str(_get(settings, "diskEncryptionKey", "sourceVault", "id") or ""),
            kek_url=str(_get(settings, "keyEncryptionKey", "keyUrl") or ""),
            kek_vault_id=str(_get(settings, "keyEncryptionKey", "sourceVault", "id") or ""),
        )
    view_disks = _get(vm, "properties", "instanceView", "disks") or []
    name = str(os_disk.get("name") or "").lower()
    entry: Mapping[str, Any] = next((d for d in view_disks if str(d.get("name") or "").lower() == name), {})
    codes = {str(s.get("code") or "").lower() for s in entry.get("statuses") or []}
    view_settings = entry.get("encryptionSettings") or [{}]
    return CreatedVmFacts(
        exists=True,
        location=str(vm.get("location") or ""),
        provisioning_state=str(_get(vm, "properties", "provisioningState") or ""),
        refs=refs,
        encryption_enabled=bool(settings.get("enabled")),
        instance_view_encrypted="encryptionstate/encrypted" in codes,
        instance_view_secret_url=str(_get(view_settings[0], "diskEncryptionKey", "secretUrl") or ""),
    )


def parse_imported_disk(disk: Mapping[str, Any]) -> ImportedDiskFacts:
    return ImportedDiskFacts(
        disk_id=str(disk.get("id") or ""),
        name=str(disk.get("name") or ""),
        location=str(disk.get("location") or ""),
        os_type=str(_get(disk, "properties", "osType") or ""),
        sku=str(_get(disk, "sku", "name") or ""),
        encryption_type=str(_get(disk, "properties", "encryption", "type") or ""),
        disk_encryption_set_id=str(_get(disk, "properties", "encryption", "diskEncryptionSetId") or ""),
        managed_by=str(disk.get("managedBy") or ""),
    )


# ---------------------------------------------------------------------------------------------- checks


def _refuse(rule: str, reason: str, message: str, fix: str) -> Refusal:
    return Refusal(rule=rule, reason=reason, message=message, fix=fix)


def check_request(request: CreateFromVhdInput) -> list[Refusal]:
    """What the input alone shows (no I/O): every id parses, every URL is versioned and in the named vault."""
    refusals: list[Refusal] = []
    vault: ResourceId | None = None
    try:
        vault = _resource(request.key_vault_id, "Microsoft.KeyVault/vaults")
    except ValueError as exc:
        refusals.append(
            _refuse(
                "R-PRE-2",
                "vault-id-invalid",
                f"the disk-encryption vault id is not a Key Vault resource id: {exc}.",
                "Give /subscriptions/<sub>/resourceGroups/<rg>/providers/Microsoft.KeyVault/vaults/<name>.",
            )
        )
    if vault is not None and vault.subscription_id.lower() != request.vm.subscription_id.lower():
        refusals.append(
            _refuse(
                "R-PRE-2",
                "vault-subscription-mismatch",
                f"Key Vault '{vault.name}' is in subscription {vault.subscription_id}, "
                f"the VM in {request.vm.subscription_id}.",
                "Use a Key Vault in the VM's subscription.",
            )
        )
    try:
        secret = parse_vault_object_url(request.secret_url, "secrets")
    except ValueError as exc:
        refusals.append(
            _refuse(
                "R-VHD-1",
                "secret-url-invalid",
                f"the disk-encryption key URL is not usable: {exc}.",
                "Give the versioned secret URL, https://<vault>.vault.azure.net/secrets/<name>/<version> "
                "(az keyvault secret show --vault-name <vault> --name <name> --query id).",
            )
        )
    else:
        if vault is not None and secret.vault != vault.name.lower():
            refusals.append(
                _refuse(
                    "R-VHD-1",
                    "secret-in-other-vault",
                    f"the secret URL points into vault '{secret.vault}', the vault id names '{vault.name}'.",
                    "Give the resource id of the vault that holds the secret.",
                )
            )
    if request.kek is not None:
        refusals += check_kek_input(request.kek.key_url, request.kek.vault_id)
    refusals += _check_ids(request)
    return refusals


def check_kek_input(key_url: str, vault_id: str) -> list[Refusal]:
    refusals: list[Refusal] = []
    try:
        key = parse_vault_object_url(key_url, "keys")
    except ValueError as exc:
        return [
            _refuse(
                "R-ENA-3",
                "kek-url-invalid",
                f"the key-encryption key URL is not usable: {exc}.",
                "Give the versioned key URL, https://<vault>.vault.azure.net/keys/<name>/<version>.",
            )
        ]
    try:
        kek_vault = _resource(vault_id, "Microsoft.KeyVault/vaults")
    except ValueError as exc:
        return [
            _refuse(
                "R-ENA-3",
                "kek-vault-id-invalid",
                f"the KEK vault id is not a Key Vault resource id: {exc}.",
                "Give the resource id of the vault that holds the KEK.",
            )
        ]
    if key.vault != kek_vault.name.lower():
        refusals.append(
            _refuse(
                "R-ENA-3",
                "kek-in-other-vault",
                f"the KEK URL points into vault '{key.vault}', the KEK vault id names '{kek_vault.name}'.",
                "Give the resource id of the vault that holds the KEK.",
            )
        )
    return refusals


def _check_ids(request: CreateFromVhdInput) -> list[Refusal]:
    refusals: list[Refusal] = []
    try:
        disk = _resource(request.os_disk_id, "Microsoft.Compute/disks")
    except ValueError as exc:
        refusals.append(
            _refuse(
                "R-VHD-1",
                "os-disk-id-invalid",
                f"the OS disk is not a managed disk resource id: {exc}.",
                "Import the encrypted VHD as a managed disk (az disk create --source <vhd-uri> --os-type Linux) "
                "and give its resource id.",
            )
        )
    else:
        if disk.subscription_id.lower() != request.vm.subscription_id.lower():
            refusals.append(
                _refuse(
                    "R-VHD-1",
                    "os-disk-other-subscription",
                    f"disk '{disk.name}' is in subscription {disk.subscription_id}, the VM in "
                    f"{request.vm.subscription_id}; a VM can attach disks of its own subscription only.",
                    "Import the VHD in the VM's subscription.",
                )
            )
    try:
        _resource(request.network_interface_id, "Microsoft.Network/networkInterfaces")
    except ValueError as exc:
        refusals.append(
            _refuse(
                "R-VHD-1",
                "nic-id-invalid",
                f"the network interface is not a NIC resource id: {exc}.",
                "Create a NIC in the VM's region (az network nic create) and give its resource id.",
            )
        )
    return refusals


def vm_location(request: CreateFromVhdInput, facts: VhdCreateFacts) -> str:
    """The requested region, else the disk's: a disk can be attached in its own region only."""
    if request.location:
        return request.location
    return facts.disk.location if facts.disk else ""


def _region(value: str) -> str:
    return value.replace(" ", "").lower()


def check_facts(request: CreateFromVhdInput, facts: VhdCreateFacts) -> list[Refusal]:
    """What ARM shows: vault (R-PRE-2), secret and disk (R-VHD-1), KEK (R-ENA-3), disk limits, the VM name."""
    refusals: list[Refusal] = []
    location = vm_location(request, facts)
    refusals += _check_vault(request, facts.vault, location)
    refusals += _check_secret(request, facts)
    if request.kek is not None:
        refusals += _check_kek(request, facts)
    refusals += _check_disk(request, facts, location)
    existing = facts.existing_vm
    if existing.exists and not key_refs(request).same_as(existing.refs):
        refusals.append(
            _refuse(
                "R-VHD-1",
                Reason.VM_NAME_TAKEN,
                f"a VM named '{request.vm.name}' already exists in {request.vm.resource_group} and does not attach "
                "this disk with these key references.",
                "Choose another VM name, or delete that VM first if it is a failed earlier attempt.",
            )
        )
    return refusals


def _check_vault(request: CreateFromVhdInput, lookup: KeyVaultLookup, location: str) -> list[Refusal]:
    vault: KeyVaultFacts | None = lookup.vault
    if vault is None:
        return [
            _refuse(
                "R-PRE-2",
                "vault-not-found",
                f"Key Vault {request.key_vault_id} could not be read: {lookup.problem}",
                "Check the Key Vault resource id and that adeflow's identity may read it.",
            )
        ]
    refusals: list[Refusal] = []
    if not vault.enabled_for_disk_encryption:
        refusals.append(
            _refuse(
                "R-PRE-2",
                "vault-not-enabled-for-disk-encryption",
                f"Key Vault '{vault.name}' is not enabled for disk encryption; the platform could not read the "
                "disk-encryption key at boot.",
                f"Run: az keyvault update --name {vault.name} --enabled-for-disk-encryption true",
            )
        )
    if location and _region(vault.location) != _region(location):
        refusals.append(
            _refuse(
                "R-PRE-2",
                "vault-region-mismatch",
                f"Key Vault '{vault.name}' is in {vault.location}, the VM would be in {location}.",
                f"Keep the disk-encryption key in a Key Vault in {location}.",
            )
        )
    return refusals


def _check_secret(request: CreateFromVhdInput, facts: VhdCreateFacts) -> list[Refusal]:
    if facts.vault.vault is None:
        return []  # reported as R-PRE-2 already
    secret = facts.secret
    if secret is None:
        return [
            _refuse(
                "R-VHD-1",
                "secret-not-found",
                f"the disk-encryption key {request.secret_url} was not found ({facts.secret_problem}).",
                "Upload the VHD's disk-encryption secret to the vault first, and give its versioned URL.",
            )
        ]
    if not secret.enabled:
        return [
            _refuse(
                "R-VHD-1",
                "secret-disabled",
                f"the secret '{secret.name}' is disabled; the platform could not read it at boot.",
                f"Enable it: az keyvault secret set-attributes --id {request.secret_url} --enabled true",
            )
        ]
    return []


def _check_kek(request: CreateFromVhdInput, facts: VhdCreateFacts) -> list[Refusal]:
    assert request.kek is not None
    lookup = facts.kek_vault
    if lookup is not None and lookup.vault is None:
        return [
            _refuse(
                "R-ENA-3",
                "kek-vault-not-found",
                f"the KEK vault {request.kek.vault_id} could not be read: {lookup.problem}",
                "Check the KEK vault resource id and that adeflow's identity may read it.",
            )
        ]
    key = facts.key
    if key is None:
        return [
            _refuse(
                "R-ENA-3",
                "kek-not-found",
                f"the key-encryption key {request.kek.key_url} was not found ({facts.key_problem}).",
                "Give the versioned URL of the key that wrapped the disk-encryption secret.",
            )
        ]
    if key.kty not in _RSA:
        return [
            _refuse(
                "R-ENA-3",
                "kek-not-rsa",
                f"the key-encryption key '{key.name}' is of type {key.kty}; ADE accepts RSA keys only.",
                "Wrap the disk-encryption secret with an RSA key.",
            )
        ]
    if not key.enabled:
        return [
            _refuse(
                "R-ENA-3",
                "kek-disabled",
                f"the key-encryption key '{key.name}' is disabled; the secret could not be unwrapped at boot.",
                f"Enable it: az keyvault key set-attributes --id {request.kek.key_url} --enabled true",
            )
        ]
    return []


def _check_disk(request: CreateFromVhdInput, facts: VhdCreateFacts, location: str) -> list[Refusal]:
    disk = facts.disk
    if disk is None:
        return [
            _refuse(
                "R-VHD-1",
                "os-disk-not-found",
                f"the OS disk {request.os_disk_id} was not found ({facts.disk_problem}).",
                "Import the encrypted VHD as a managed disk first: az disk create --source <vhd-uri> --os-type Linux.",
            )
        ]
    refusals: list[Refusal] = []
    if disk.os_type.lower() != "linux":
        refusals.append(
            _refuse(
                "R-PRE-1",
                "not-linux",
                f"disk '{disk.name}' has OS type {disk.os_type or 'unset'}; adeflow handles Linux VMs only.",
                "Import the VHD with --os-type Linux if it holds Linux.",
            )
        )
    if disk.managed_by and disk.managed_by.lower() != request.vm.resource_id.lower():
        refusals.append(
            _refuse(
                "R-VHD-1",
                "os-disk-attached",
                f"disk '{disk.name}' is attached to {disk.managed_by}.",
                "Attach a disk that no VM uses (import the VHD again for a second VM).",
            )
        )
    if location and _region(disk.location) != _region(location):
        refusals.append(
            _refuse(
                "R-VHD-1",
                "os-disk-other-region",
                f"disk '{disk.name}' is in {disk.location}, the VM would be in {location}.",
                f"Import the VHD in {location}, or create the VM in {disk.location}.",
            )
        )
    if disk.sku in ("UltraSSD_LRS", "PremiumV2_LRS"):
        rule = "R-LIM-4w" if disk.sku == "UltraSSD_LRS" else "R-LIM-4x"
        refusals.append(
            _refuse(rule, "unsupported-disk-sku", f"disk '{disk.name}' is {disk.sku}.", "Import as Premium_LRS.")
        )
    if disk.disk_encryption_set_id or (disk.encryption_type and disk.encryption_type != _PLATFORM_KEY):
        refusals.append(
            _refuse(
                "R-LIM-4t",
                "disk-sse-cmk",
                f"disk '{disk.name}' is encrypted with a customer-managed key ({disk.encryption_type}).",
                "Import the VHD with platform-managed keys; ADE and SSE + CMK do not mix.",
            )
        )
    return refusals


def notes(request: CreateFromVhdInput, facts: VhdCreateFacts) -> list[str]:
    """What ARM cannot confirm but the operator should: only the current secret version is visible there."""
    found: list[str] = []
    secret = facts.secret
    if secret is None:
        return found
    try:
        wanted = parse_vault_object_url(request.secret_url, "secrets")
        current = parse_vault_object_url(secret.current_url, "secrets")
    except ValueError:
        return found
    if wanted.version != current.version:
        found.append(
            f"secret '{secret.name}' version {wanted.version} is not its current version {current.version}; "
            "ARM cannot list older versions, so make sure it is the one that matches this VHD."
        )
    if PASSPHRASE_TAG.lower() not in {k.lower() for k in secret.tags}:
        found.append(
            f"secret '{secret.name}' has no {PASSPHRASE_TAG} tag; ADE's own secrets carry it "
            "(LinuxPassPhraseFileName), check the VHD was prepared with the ADE steps."
        )
    return found


# ---------------------------------------------------------------------------------------------- request, verify


def encryption_settings(request: CreateFromVhdInput) -> dict[str, Any]:
    """``osDisk.encryptionSettings`` (SDK ``DiskEncryptionSettings``): what Set-AzVMOSDisk writes."""
    settings: dict[str, Any] = {
        "enabled": True,
        "diskEncryptionKey": {"secretUrl": request.secret_url, "sourceVault": {"id": request.key_vault_id}},
    }
    if request.kek is not None:
        settings["keyEncryptionKey"] = {"keyUrl": request.kek.key_url, "sourceVault": {"id": request.kek.vault_id}}
    return settings


def build_vm_body(request: CreateFromVhdInput, location: str) -> dict[str, Any]:
    """The VirtualMachines_CreateOrUpdate body: attach the disk, no image or OS profile (docs/arm-reference.md §d.1)."""
    disk_name = request.os_disk_id.rstrip("/").rsplit("/", 1)[-1]
    return {
        "location": location,
        "properties": {
            "hardwareProfile": {"vmSize": request.size},
            "storageProfile": {
                "osDisk": {
                    "osType": "Linux",
                    "name": disk_name,
                    "createOption": "Attach",
                    "caching": "ReadWrite",
                    "managedDisk": {"id": request.os_disk_id},
                    "encryptionSettings": encryption_settings(request),
                }
            },
            "networkProfile": {
                "networkInterfaces": [{"id": request.network_interface_id, "properties": {"primary": True}}]
            },
        },
    }


def verify_created(request: CreateFromVhdInput, vm: CreatedVmFacts) -> Verdict:
    """R-ENA-4 for this path: the VM exists, succeeded, and reports the OS disk encrypted with our references."""
    name = request.vm.name
    if not vm.exists:
        return Verdict(False, f"{name}: the VM is not there after its creation succeeded.")
    if vm.provisioning_state.lower() != "succeeded":
        return Verdict(False, f"{name}: provisioning state is {vm.provisioning_state or 'unknown'}.")
    if not vm.encryption_enabled or not key_refs(request).same_as(vm.refs):
        return Verdict(False, f"{name}: the VM model does not carry the requested OS disk encryption settings.")
    if not vm.instance_view_encrypted:
        return Verdict(False, f"{name}: the instance view does not report the OS disk encrypted.")
    if vm.instance_view_secret_url.rstrip("/").lower() != request.secret_url.rstrip("/").lower():
        return Verdict(False, f"{name}: the instance view reports another disk-encryption key.")
    kek = f" wrapped by {request.kek.key_url}" if request.kek else ""
    return Verdict(True, f"{name}: created; OS disk encrypted with {request.secret_url}{kek}.")
