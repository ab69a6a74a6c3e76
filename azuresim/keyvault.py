"""Microsoft.KeyVault management-plane state: just enough of a vault for ADE prechecks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


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

    @property
    def id(self) -> str:
        return (
            f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
            f"/providers/Microsoft.KeyVault/vaults/{self.name}"
        )

    @property
    def vault_uri(self) -> str:
        return f"https://{self.name}.vault.azure.net/"


def render_vault(vault: KeyVault) -> dict[str, Any]:
    """Shaped like the official getVault.json example."""
    props: dict[str, Any] = {
        "accessPolicies": [],
        "enabledForDeployment": False,
        "enabledForDiskEncryption": vault.enabled_for_disk_encryption,
        "enabledForTemplateDeployment": False,
        "enableSoftDelete": vault.enable_soft_delete,
        "softDeleteRetentionInDays": 90,
        "enableRbacAuthorization": vault.enable_rbac_authorization,
        "provisioningState": "Succeeded",
        "publicNetworkAccess": "Enabled",
        "sku": {"name": "standard", "family": "A"},
        "tenantId": vault.tenant_id,
        "vaultUri": vault.vault_uri,
    }
    if vault.enable_purge_protection:
        props["enablePurgeProtection"] = True
    return {
        "id": vault.id,
        "name": vault.name,
        "type": "Microsoft.KeyVault/vaults",
        "location": vault.location,
        "tags": {},
        "properties": props,
    }
