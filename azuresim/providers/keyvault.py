"""Microsoft.KeyVault management plane over HTTP: vaults, and secrets and keys as ARM resources (metadata only).

Bodies are shaped like the official examples (getVault.json, getSecret.json, getKeyVersion.json).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web

from azuresim.http import RG, Call, json_response, route
from azuresim.state.keyvault import KeyVault, VaultKey, VaultSecret, vault_key, vault_secret
from azuresim.state.world import SimState

VAULT_API = ("2026-05-15",)
_KV = RG + r"/providers/Microsoft\.KeyVault/vaults/(?P<vault>[^/]+)"


def get_vault(state: SimState, call: Call) -> web.Response:
    return json_response(render_vault(state.vault(call["sub"], call["rg"], call["vault"])))


def update_vault(state: SimState, call: Call) -> web.Response:
    """Vaults_Update (PATCH): the flags a caller may change here; a migration's cleanup turns disk encryption off
    (M-8). Other properties in the body are accepted and ignored, as they do not change what the simulator models."""
    vault = state.vault(call["sub"], call["rg"], call["vault"])
    props = call.body.get("properties") or {} if isinstance(call.body, dict) else {}
    if "enabledForDiskEncryption" in props:
        vault.enabled_for_disk_encryption = bool(props["enabledForDiskEncryption"])
    return json_response(render_vault(vault))


def get_secret(state: SimState, call: Call) -> web.Response:
    vault = state.vault(call["sub"], call["rg"], call["vault"])
    return json_response(render_secret(vault, vault_secret(vault, call["secret"])))


def get_key(state: SimState, call: Call) -> web.Response:
    vault = state.vault(call["sub"], call["rg"], call["vault"])
    return json_response(render_key(vault, vault_key(vault, call["key"])))


def get_key_version(state: SimState, call: Call) -> web.Response:
    vault = state.vault(call["sub"], call["rg"], call["vault"])
    return json_response(render_key_version(vault, vault_key(vault, call["key"], call["version"])))


# --------------------------------------------------------------------------------------------- rendering


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
        "systemData": _FLEET_SYSTEM_DATA,
        "properties": props,
    }


# ARM's systemData on every vault (getVault.json and real traffic); the fleet's vaults predate the simulation, so who
# made them and when is a fixed stand-in.
_FLEET_SYSTEM_DATA = {
    "createdBy": "fleet-owner@example.com",
    "createdByType": "User",
    "createdAt": "2026-01-01T00:00:00.000Z",
    "lastModifiedBy": "fleet-owner@example.com",
    "lastModifiedByType": "User",
    "lastModifiedAt": "2026-01-01T00:00:00.000Z",
}


def _ts(when: datetime) -> int:
    return int(when.timestamp())


def render_secret(vault: KeyVault, secret: VaultSecret) -> dict[str, Any]:
    """Secrets_Get, shaped like the official getSecret.json example (ARM never returns the value)."""
    uri = f"{vault.vault_uri}secrets/{secret.name}"
    body: dict[str, Any] = {
        "id": f"{vault.id}/secrets/{secret.name}",
        "name": secret.name,
        "type": "Microsoft.KeyVault/vaults/secrets",
        "location": vault.location,
        "properties": {
            "attributes": {"enabled": secret.enabled, "created": _ts(secret.created), "updated": _ts(secret.created)},
            "secretUri": uri,
            "secretUriWithVersion": f"{uri}/{secret.version}",
        },
    }
    if secret.tags:
        body["tags"] = dict(secret.tags)
    return body


def render_key(vault: KeyVault, key: VaultKey) -> dict[str, Any]:
    """Keys_Get: the key with its current version, shaped like Keys_GetVersion but addressed by name."""
    body = render_key_version(vault, key)
    body.update({"id": f"{vault.id}/keys/{key.name}", "name": key.name, "type": "Microsoft.KeyVault/vaults/keys"})
    return body


def render_key_version(vault: KeyVault, key: VaultKey) -> dict[str, Any]:
    """Keys_GetVersion, shaped like the official getKeyVersion.json example (``keyUri`` carries ``:443``)."""
    uri = f"https://{vault.name.lower()}.vault.azure.net:443/keys/{key.name}"
    rsa = key.kty.startswith("RSA")
    return {
        "id": f"{vault.id}/keys/{key.name}/versions/{key.version}",
        "name": key.version,
        "type": "Microsoft.KeyVault/vaults/keys/versions",
        "location": vault.location,
        "properties": {
            "attributes": {
                "created": _ts(key.created),
                "enabled": key.enabled,
                "recoveryLevel": "Recoverable" if vault.enable_soft_delete else "Purgeable",
                "updated": _ts(key.created),
            },
            "keyOps": ["encrypt", "decrypt", "wrapKey", "unwrapKey"] if rsa else ["sign", "verify"],
            "keySize": key.key_size,
            "keyUri": uri,
            "keyUriWithVersion": f"{uri}/{key.version}",
            "kty": key.kty,
        },
    }


ROUTES = (
    route("GET", _KV, "Vaults_Get", VAULT_API, get_vault),
    route("PATCH", _KV, "Vaults_Update", VAULT_API, update_vault),
    route("GET", _KV + "/secrets/(?P<secret>[^/]+)", "Secrets_Get", VAULT_API, get_secret),
    route("GET", _KV + "/keys/(?P<key>[^/]+)", "Keys_Get", VAULT_API, get_key),
    route(
        "GET", _KV + "/keys/(?P<key>[^/]+)/versions/(?P<version>[^/]+)", "Keys_GetVersion", VAULT_API, get_key_version
    ),
)
