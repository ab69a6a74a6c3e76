"""The simulator's campaign features, read through the real SDK: KEK versions with creation dates (Keys_Get,
Keys_GetVersion), VMs pre-encrypted with a given KEK version, a data disk attached after encryption, and an ADE
extension removed while the disks stay encrypted (R-DIS-2)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from azure.core.exceptions import ResourceNotFoundError

from activities.azure.clients import AzureClients
from activities.inventory import InventoryActivities
from adeflow.domain.model import VmRef
from azuresim.fleet import FleetSpec
from azuresim.server import SimServer
from tests.support.servers import SimFactory

pytestmark = pytest.mark.campaign

FLEET = Path(__file__).resolve().parents[2] / "examples" / "campaign-fleet.yaml"
SUB = "6f1c3a52-8d11-4c4e-9a7e-00000000c0de"
RG = "rg-campaign"
KEK = "https://kv-camp-eastus.vault.azure.net/keys/kek-ade/"
OLDEST = "1a0b2c3d4e5f60718293a4b5c6d7e8f9"


def fleet() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(FLEET.read_text())
    return loaded


async def test_kek_versions_have_their_creation_dates(
    make_sim: SimFactory, azure_for: Callable[[SimServer], AzureClients]
) -> None:
    sim = make_sim(fleet())
    vaults = azure_for(sim).keyvault(SUB)
    start = sim.clock.now()
    current = await vaults.keys.get(RG, "kv-camp-eastus", "kek-ade")
    assert current.properties.key_uri_with_version.endswith("/kek-ade/4d3e5f60718293a4b5c6d7e8f90a1b2c")
    oldest = await vaults.keys.get_version(RG, "kv-camp-eastus", "kek-ade", OLDEST)
    age = timedelta(seconds=start.timestamp() - oldest.properties.attributes.created)
    assert abs(age - timedelta(days=400)) < timedelta(hours=2)  # the simulated clock runs an hour a second here
    with pytest.raises(ResourceNotFoundError):
        await vaults.keys.get_version(RG, "kv-camp-eastus", "kek-ade", "0" * 32)


async def test_pre_encrypted_vms_carry_their_kek_new_disks_and_removed_extensions(
    make_sim: SimFactory, azure_for: Callable[[SimServer], AzureClients]
) -> None:
    sim = make_sim(fleet())
    inventory = InventoryActivities(azure_for(sim))
    stale = await inventory.read_vm_facts(VmRef(SUB, RG, "cmp-stale-01"))
    assert stale.ade_extension is not None and stale.ade_extension.key_encryption_key_url == KEK + OLDEST
    assert all(d.instance_view_encrypted for d in stale.disks)
    assert {s.kek_url for s in sim.state.vm(SUB, RG, "cmp-stale-01").ade.stamps.values()} == {KEK + OLDEST}
    new_disk = await inventory.read_vm_facts(VmRef(SUB, RG, "cmp-newdisk-01"))
    assert [d.instance_view_encrypted for d in new_disk.data_disks] == [True, False]
    removed = await inventory.read_vm_facts(VmRef(SUB, RG, "cmp-noext-01"))
    assert removed.ade_extension is None and all(d.instance_view_encrypted for d in removed.disks)


def test_a_kek_must_be_a_key_of_the_vault() -> None:
    data = fleet()
    vm = data["subscriptions"][0]["resource_groups"][0]["vms"][0]
    vm["encrypted"]["kek"] = "no-such-key"
    from azuresim.clock import SimClock
    from azuresim.state.world import SimState

    with pytest.raises(ValueError, match="not a key of its disk-encryption vault"):
        SimState(FleetSpec.model_validate(data), SimClock())
    vm["encrypted"] = {"kek_version": "a" * 32}
    with pytest.raises(ValueError, match="describe an encrypted VM"):
        FleetSpec.model_validate(data)
