"""Microsoft.Authorization policy assignments and the two built-in Key Vault secret definitions ADE cares about.

An assignment's effect is carried, as in real assignments of these built-ins, by ``parameters.effect.value``;
:mod:`azuresim.providers.policy` renders assignments and definitions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from azuresim.fleet import PolicyAssignmentSpec

DEFINITIONS_PREFIX = "/providers/Microsoft.Authorization/policyDefinitions/"
MAX_VALIDITY = "342e8053-e12e-4c44-be01-c3c2f318400f"
EXPIRATION_DATE = "98728c90-32c7-4049-8429-847dc0f4fe37"

_EFFECT = {
    "type": "String",
    "metadata": {
        "displayName": "Effect",
        "description": "'Audit' allows a non-compliant resource to be created, but flags it as non-compliant. "
        "'Deny' blocks the resource creation. 'Disable' turns off the policy.",
    },
    "allowedValues": ["Audit", "Deny", "Disabled"],
    "defaultValue": "Audit",
}
BUILT_INS: dict[str, dict[str, Any]] = {
    MAX_VALIDITY: {
        "displayName": "Key Vault secrets should have the specified maximum validity period",
        "description": "Manage your organizational compliance requirements by specifying the maximum amount of "
        "time in days a secret can be valid within your key vault.",
        "mode": "Microsoft.KeyVault.Data",
        "version": "1.0.1",
        "parameters": {
            "effect": _EFFECT,
            "maximumValidityInDays": {
                "type": "Integer",
                "metadata": {
                    "displayName": "The maximum validity period in days",
                    "description": "The limit to how long a secret may be valid for. Secrets should have a "
                    "defined expiration date and not be permanent.",
                },
                "defaultValue": 90,
            },
        },
        "policyRule": {
            "if": {
                "allOf": [
                    {"field": "type", "equals": "Microsoft.KeyVault.Data/vaults/secrets"},
                    {
                        "anyOf": [
                            {"field": "Microsoft.KeyVault.Data/vaults/secrets/attributes.expiresOn", "exists": False},
                            {
                                "value": "[utcNow()]",
                                "less": "[addDays(field('Microsoft.KeyVault.Data/vaults/secrets/attributes."
                                "expiresOn'), -parameters('maximumValidityInDays'))]",
                            },
                        ]
                    },
                ]
            },
            "then": {"effect": "[parameters('effect')]"},
        },
    },
    EXPIRATION_DATE: {
        "displayName": "Key Vault secrets should have an expiration date",
        "description": "Secrets should have a defined expiration date and not be permanent.",
        "mode": "Microsoft.KeyVault.Data",
        "version": "1.0.2",
        "parameters": {"effect": _EFFECT},
        "policyRule": {
            "if": {
                "allOf": [
                    {"field": "type", "equals": "Microsoft.KeyVault.Data/vaults/secrets"},
                    {"field": "Microsoft.KeyVault.Data/vaults/secrets/attributes.expiresOn", "exists": False},
                ]
            },
            "then": {"effect": "[parameters('effect')]"},
        },
    },
}


def definition_id(value: str) -> str:
    """Accept a bare GUID or a full definition id."""
    return value if "/" in value else DEFINITIONS_PREFIX + value


@dataclass(frozen=True)
class PolicyAssignment:
    subscription_id: str
    spec: PolicyAssignmentSpec

    @property
    def scope(self) -> str:
        return (self.spec.scope or f"/subscriptions/{self.subscription_id}").rstrip("/")

    @property
    def id(self) -> str:
        return f"{self.scope}/providers/Microsoft.Authorization/policyAssignments/{self.spec.name}"

    def at_or_above(self, scope: str) -> bool:
        """``atScope()``: assigned at ``scope`` or at one of its ancestors."""
        mine, target = self.scope.lower(), scope.rstrip("/").lower()
        return target == mine or target.startswith(mine + "/")

    def within(self, scope: str) -> bool:
        """Assigned at ``scope`` or below it."""
        mine, target = self.scope.lower(), scope.rstrip("/").lower()
        return mine == target or mine.startswith(target + "/")
