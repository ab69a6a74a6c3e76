"""Fleet specs for the ARM simulator: one resource group (rg-web, eastus, vault kv-ade-eastus) and its VMs."""

from __future__ import annotations

from typing import Any

SUB = "6f1c3a52-8d11-4c4e-9a7e-000000000001"
VAULT_ID = f"/subscriptions/{SUB}/resourceGroups/rg-web/providers/Microsoft.KeyVault/vaults/kv-ade-eastus"
UBUNTU_2204 = {"publisher": "Canonical", "offer": "0001-com-ubuntu-server-jammy", "sku": "22_04-lts-gen2"}


def fleet_dict(
    vms: list[dict[str, Any]],
    *,
    vault_enabled: bool = True,
    recovery_vaults: list[dict[str, Any]] | None = None,
    policy_assignments: list[dict[str, Any]] | None = None,
    **sim: Any,
) -> dict[str, Any]:
    """A one-resource-group fleet (rg-web, eastus, vault kv-ade-eastus) holding ``vms``."""
    return {
        "sim": sim,
        "subscriptions": [
            {
                "id": SUB,
                "resource_groups": [
                    {
                        "name": "rg-web",
                        "location": "eastus",
                        "key_vaults": [{"name": "kv-ade-eastus", "enabled_for_disk_encryption": vault_enabled}],
                        "recovery_vaults": recovery_vaults or [],
                        "vms": vms,
                    }
                ],
                "policy_assignments": policy_assignments or [],
            }
        ],
    }


def vm(name: str, **spec: Any) -> dict[str, Any]:
    return {"name": name, "size": "Standard_D4s_v5", "image": UBUNTU_2204, **spec}
