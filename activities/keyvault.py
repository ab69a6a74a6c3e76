"""Read the disk-encryption Key Vault (management plane) for the R-PRE-2 checks."""

from __future__ import annotations

from azure.core.exceptions import HttpResponseError
from temporalio import activity

from activities.azure.clients import AzureClients
from activities.azure.errors import arm_error_code, arm_error_message, classify_arm_error
from adeflow.domain.model import KeyVaultFacts, KeyVaultLookup
from adeflow.domain.resource_ids import parse_resource_id


class KeyVaultActivities:
    def __init__(self, clients: AzureClients) -> None:
        self._clients = clients

    @activity.defn(name="read_key_vault")
    async def read_key_vault(self, vault_id: str) -> KeyVaultLookup:
        """A vault that is missing or forbidden is a refusal for the VM, not a retry loop."""
        try:
            parsed = parse_resource_id(vault_id)
        except ValueError as exc:
            return KeyVaultLookup(None, str(exc))
        client = self._clients.keyvault(parsed.subscription_id)
        try:
            vault = await client.vaults.get(parsed.resource_group, parsed.name)
        except HttpResponseError as exc:
            if exc.status_code in (403, 404):
                problem = f"ARM answered {exc.status_code} {arm_error_code(exc)}: {arm_error_message(exc)}"
                return KeyVaultLookup(None, problem, denied=exc.status_code == 403)
            raise classify_arm_error(exc, f"reading Key Vault {parsed.name}") from exc
        props = vault.properties
        return KeyVaultLookup(
            KeyVaultFacts(
                resource_id=vault.id or vault_id,
                name=vault.name or parsed.name,
                subscription_id=parsed.subscription_id,
                location=vault.location or "",
                enabled_for_disk_encryption=bool(props.enabled_for_disk_encryption),
                vault_uri=props.vault_uri or f"https://{parsed.name}.vault.azure.net/",
            )
        )
