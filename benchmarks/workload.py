"""The benchmark fleets: one subscription, one resource group with a disk-encryption vault, VMs of varied sizes."""

from __future__ import annotations

import random
from typing import Any

from azuresim.fleet import FleetSpec

SUB = "6f1c3a52-8d11-4c4e-9a7e-000000000009"
LOCATION = "eastus"
VAULT = "kv-ade-bench"
POLL_SIM_S = 480.0
"""Status poll interval, simulated seconds (8 min): detection <= 10 min and a 3 h VM <= 60 requests together."""
ROLLOUT_SIM = {"gb_per_hour": 30.0}
"""Simulator settings of the rollout and plain-script runs (the same fleet, clock and ARM budgets)."""


def vault_id(rg: str) -> str:
    return f"/subscriptions/{SUB}/resourceGroups/{rg}/providers/Microsoft.KeyVault/vaults/{VAULT}"


def fleet_spec(rg: str, vms: list[dict[str, Any]], sim: dict[str, Any]) -> FleetSpec:
    return FleetSpec.model_validate(
        {
            "sim": sim,
            "subscriptions": [
                {
                    "id": SUB,
                    "resource_groups": [
                        {
                            "name": rg,
                            "location": LOCATION,
                            "key_vaults": [{"name": VAULT, "enabled_for_disk_encryption": True}],
                            "vms": vms,
                        }
                    ],
                }
            ],
        }
    )


def varied_vms(count: int, seed: int = 9) -> list[dict[str, Any]]:
    """1 OS + 2 data disks per VM; OS 30-64 GB, data 8-64 GB each (deterministic)."""
    rng = random.Random(seed)
    return [
        {
            "name": f"vm-{i:05d}",
            "os_disk": {"size_gb": rng.choice([30, 32, 48, 64])},
            "data_disks": [{"lun": lun, "size_gb": rng.choice([8, 16, 32, 64])} for lun in (0, 1)],
        }
        for i in range(count)
    ]
