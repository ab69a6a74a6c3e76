"""What the R-VHD-1 checks read from ARM (GETs only), parsed from the REST bodies into payloads."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from adeflow.domain.model import CreateFromVhdInput, KeyVaultLookup


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
