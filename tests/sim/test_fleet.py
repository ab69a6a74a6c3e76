"""Fleet file loading and validation."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from azuresim.fleet import FleetError, FleetSpec, load_fleet

DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo-fleet.yaml"


def test_demo_fleet_loads() -> None:
    fleet = load_fleet(DEMO)
    vms = [vm for s in fleet.subscriptions for rg in s.resource_groups for vm in rg.vms]
    assert len(fleet.subscriptions) == 3 and 45 <= len(vms) <= 55
    assert fleet.sim.scale == 1.0
    assert [
        len(rv.protected_vms) for s in fleet.subscriptions for rg in s.resource_groups for rv in rg.recovery_vaults
    ] == [
        3,
        3,
    ]
    deny = fleet.subscriptions[2].policy_assignments[0]
    assert deny.effect == "Deny" and deny.policy_definition_id.endswith("342e8053-e12e-4c44-be01-c3c2f318400f")
    assert any(vm.os_type == "Windows" for vm in vms)
    assert any(vm.os_disk.ephemeral for vm in vms)


def test_defaults_apply() -> None:
    fleet = FleetSpec.model_validate(
        {
            "subscriptions": [
                {
                    "id": "6f1c3a52-8d11-4c4e-9a7e-000000000001",
                    "resource_groups": [{"name": "rg", "location": "eastus", "vms": [{"name": "vm"}]}],
                }
            ]
        }
    )
    vm = fleet.subscriptions[0].resource_groups[0].vms[0]
    assert (fleet.sim.gb_per_hour, fleet.sim.stamp_seconds, fleet.sim.stripdown_seconds) == (10, 120, 600)
    assert vm.os_type == "Linux" and vm.os_disk.size_gb == 30 and vm.encrypted.os is False


def test_protected_vm_must_exist() -> None:
    with pytest.raises(ValidationError, match="not found"):
        FleetSpec.model_validate(
            {
                "subscriptions": [
                    {
                        "id": "6f1c3a52-8d11-4c4e-9a7e-000000000001",
                        "resource_groups": [
                            {
                                "name": "rg",
                                "location": "eastus",
                                "recovery_vaults": [{"name": "rsv", "protected_vms": [{"vm": "ghost"}]}],
                            }
                        ],
                    }
                ]
            }
        )


def test_bad_field_is_named_with_file(tmp_path: Path) -> None:
    path = tmp_path / "fleet.yaml"
    path.write_text(
        "subscriptions:\n"
        "  - id: 6f1c3a52-8d11-4c4e-9a7e-000000000001\n"
        "    resource_groups:\n"
        "      - name: rg\n"
        "        location: eastus\n"
        "        vms:\n"
        "          - name: vm\n"
        "            os_disk: {size_gb: -1}\n"
        "            colour: blue\n"
    )
    with pytest.raises(FleetError) as exc:
        load_fleet(path)
    text = str(exc.value)
    assert str(path) in text
    assert "subscriptions.0.resource_groups.0.vms.0.os_disk.size_gb" in text
    assert "subscriptions.0.resource_groups.0.vms.0.colour" in text


def test_unquoted_numeric_sku_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "f.yaml"
    path.write_text(
        "subscriptions:\n  - id: 6f1c3a52-8d11-4c4e-9a7e-000000000001\n    resource_groups:\n"
        "      - {name: rg, location: eastus, vms: [{name: a, image: {publisher: RedHat, offer: RHEL, sku: 9_4}}]}\n"
    )
    with pytest.raises(FleetError, match=r"vms\.0\.image\.sku"):
        load_fleet(path)


def test_duplicates_and_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="duplicate data disk lun"):
        FleetSpec.model_validate(
            {
                "subscriptions": [
                    {
                        "id": "6f1c3a52-8d11-4c4e-9a7e-000000000001",
                        "resource_groups": [
                            {
                                "name": "rg",
                                "location": "eastus",
                                "vms": [
                                    {"name": "vm", "data_disks": [{"lun": 0, "size_gb": 8}, {"lun": 0, "size_gb": 8}]}
                                ],
                            }
                        ],
                    }
                ]
            }
        )
    bad = tmp_path / "bad.yaml"
    bad.write_text("subscriptions: [\n")
    with pytest.raises(FleetError, match="not valid YAML"):
        load_fleet(bad)
    with pytest.raises(FleetError, match="cannot read"):
        load_fleet(tmp_path / "missing.yaml")
