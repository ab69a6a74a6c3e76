"""Microsoft.KeyVault management-plane state: just enough of a vault for ADE prechecks.

Secrets and keys are metadata only (never a value): ARM serves them as ``vaults/{vault}/secrets|keys``
resources (:mod:`azuresim.providers.keyvault`), which is how adeflow checks a pre-encrypted VHD's key references
(R-VHD-1) without the data plane.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from azuresim.errors import ArmError
from azuresim.fleet import KeyVaultSpec


@dataclass
class VaultSecret:
    name: str
    version: str
    enabled: bool
    created: datetime
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class VaultKey:
    name: str
    version: str
    kty: str
    key_size: int
    enabled: bool
    created: datetime
    older: dict[str, tuple[datetime, bool]] = field(default_factory=dict)
    """Older versions (version -> created, enabled): KEK rotation leaves them, disks wrapped with them unlock."""


@dataclass
class KeyVault:
    subscription_id: str
    resource_group: str
    name: str
    location: str
    tenant_id: str
    enabled_for_disk_encryption: bool = True
    enable_soft_delete: bool = True
    enable_purge_protection: bool = False
    enable_rbac_authorization: bool = False
    secrets: dict[str, VaultSecret] = field(default_factory=dict)
    keys: dict[str, VaultKey] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return (
            f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
            f"/providers/Microsoft.KeyVault/vaults/{self.name}"
        )

    @property
    def vault_uri(self) -> str:
        return f"https://{self.name}.vault.azure.net/"


def object_version(vault: str, kind: str, name: str) -> str:
    """The default current version of a fleet secret or key: stable, so tests can build versioned URLs."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"https://{vault.lower()}.vault.azure.net/{kind}/{name}").hex


def add_vault_objects(vault: KeyVault, spec: KeyVaultSpec, created: datetime, now: datetime | None = None) -> None:
    """``created`` dates every object; a key's ``age_days`` (and its older versions') count back from ``now``."""
    for s in spec.secrets:
        version = (s.version or object_version(vault.name, "secrets", s.name)).lower()
        vault.secrets[s.name.lower()] = VaultSecret(s.name, version, s.enabled, created, dict(s.tags))
    start = now or created
    for k in spec.keys:
        version = (k.version or object_version(vault.name, "keys", k.name)).lower()
        when = created if k.age_days is None else start - timedelta(days=k.age_days)
        older = {v.version.lower(): (start - timedelta(days=v.age_days), v.enabled) for v in k.older_versions}
        vault.keys[k.name.lower()] = VaultKey(k.name, version, k.kty, k.key_size, k.enabled, when, older)


def vault_secret(vault: KeyVault, name: str) -> VaultSecret:
    found = vault.secrets.get(name.lower())
    if found is None:
        raise ArmError(404, "ResourceNotFound", f"The secret '{name}' was not found in vault '{vault.name}'.")
    return found


def vault_key(vault: KeyVault, name: str, version: str | None = None) -> VaultKey:
    """The current version of a key, or the version named (current or one of ``older``); else 404."""
    found = vault.keys.get(name.lower())
    if found is not None and version is None:
        return found
    if found is not None and version is not None and version.lower() in found.older:
        created, enabled = found.older[version.lower()]
        return replace(found, version=version.lower(), created=created, enabled=enabled, older={})
    if found is None or version is None or found.version != version.lower():
        shown = f"{name}/{version}" if version else name
        raise ArmError(404, "ResourceNotFound", f"The key '{shown}' was not found in vault '{vault.name}'.")
    return found
