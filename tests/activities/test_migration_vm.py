"""The migration's VM-side activities (activities/migration_vm.py) through the real async SDK against the simulator:
the facts read with GETs only, the new VM adopted on retry and never put over a foreign one, a VM object never
deleted with its disks (docs/ade-migration.md M-1, M-5, M-6, M-7, M-8)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.azure.clients import AzureClients
from activities.migration_vm import MigrationVmActivities
from adeflow.domain import migration
from adeflow.domain.migration import DeleteVmRequest, FeatureState, NewVmRequest, NicsRequest
from adeflow.domain.migration.arm_read import source_recreate_body
from adeflow.domain.model import VmRef
from azuresim.server import SimServer
from tests.support.fleets import SUB, VAULT_ID, vm
from tests.support.migration_runs import RG, data_vm, migrate_request, migration_fleet
from tests.support.servers import SimFactory

pytestmark = pytest.mark.migration

Azure = Callable[[SimServer], AzureClients]


async def test_facts_are_read_with_gets_only_and_name_what_the_preflight_needs(
    make_sim: SimFactory, azure_for: Azure
) -> None:
    fleet = migration_fleet([data_vm("web-01", data_disks=2), vm("web-01-eah")], feature="NotRegistered")
    sim = make_sim(fleet)
    facts = await ActivityEnvironment().run(
        MigrationVmActivities(azure_for(sim)).read_migration_facts, migrate_request("web-01")
    )
    assert facts.feature is FeatureState.NOT_REGISTERED and facts.size_supports_host_encryption is True
    assert facts.vault_id == VAULT_ID and facts.vault is not None and facts.vault.vault is not None
    source = facts.source
    assert [d.lun for d in source.disks] == [None, 0, 1] and all(d.ade_marker for d in source.data_disks)
    assert source.nics[0].subnet_id and source.nics[0].private_ip and source.model["properties"]["storageProfile"]
    assert facts.vm.ade_extension is not None  # the ADE rules' view, from the inventory reads
    taken = [(t.kind, t.name, t.migrated_from) for t in facts.existing_targets]
    assert taken == [("vm", "web-01-eah", "")]  # someone else's VM holds the new VM's name (M-1)
    refusals = migration.preflight(migrate_request("web-01"), facts).refusals
    assert {(r.rule, r.reason) for r in refusals} == {("M-5", "feature-not-registered"), ("M-1", "target-name-taken")}
    assert all(r.method == "GET" for r in sim.requests())


def attach_body(source_id: str) -> dict[str, Any]:
    """The new VM around a fresh OS disk and NIC of the fleet, with encryption at host and the link to its source."""
    prefix = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers"
    return {
        "location": "eastus",
        "tags": {migration.MIGRATED_FROM_TAG: source_id},
        "properties": {
            "hardwareProfile": {"vmSize": "Standard_D4s_v5"},
            "storageProfile": {
                "osDisk": {
                    "osType": "Linux",
                    "createOption": "Attach",
                    "managedDisk": {"id": f"{prefix}/Microsoft.Compute/disks/new-os"},
                },
                "dataDisks": [],
            },
            "securityProfile": {"encryptionAtHost": True},
            "networkProfile": {"networkInterfaces": [{"id": f"{prefix}/Microsoft.Network/networkInterfaces/new-nic"}]},
        },
    }


async def test_the_new_vm_is_adopted_on_retry_and_never_put_over_a_foreign_vm(
    make_sim: SimFactory, azure_for: Azure
) -> None:
    """A retried create finds its own VM (tagged with the source) and sends no second PUT; a VM of that name that
    is not the migration's is refused, non-retryable (M-1)."""
    fleet = migration_fleet([vm("other-01")])
    group_spec = fleet["subscriptions"][0]["resource_groups"][0]
    group_spec["disks"] = [{"name": "new-os", "size_gb": 30, "os_type": "Linux"}]
    group_spec["network_interfaces"] = [{"name": "new-nic"}]
    sim = make_sim(fleet)
    activities = MigrationVmActivities(azure_for(sim))
    env = ActivityEnvironment()
    source_id = VmRef(SUB, RG, "web-02").resource_id
    new = VmRef(SUB, RG, "web-02-eah")
    first = await env.run(activities.create_migrated_vm, NewVmRequest(new, attach_body(source_id), source_id))
    again = await env.run(activities.create_migrated_vm, NewVmRequest(new, attach_body(source_id), source_id))
    assert first.exists and first.encryption_at_host and first.power_state == "running"
    assert again.resource_id == first.resource_id
    assert [r.operation for r in sim.requests()].count("VirtualMachines_CreateOrUpdate") == 1
    foreign = NewVmRequest(VmRef(SUB, RG, "other-01"), attach_body(source_id), source_id)
    with pytest.raises(ApplicationError) as refused:
        await env.run(activities.create_migrated_vm, foreign)
    assert refused.value.non_retryable and refused.value.type == "target-name-taken" and "M-1" in refused.value.message
    assert [r.operation for r in sim.requests()].count("VirtualMachines_CreateOrUpdate") == 1
    nics = NicsRequest(VmRef(SUB, RG, "web-02"), source_id, {"new-nic": {"location": "eastus", "properties": {}}})
    with pytest.raises(ApplicationError) as nic_taken:  # a NIC of a target name that the migration did not make
        await env.run(activities.create_migration_nics, nics)
    assert nic_taken.value.type == "target-name-taken"


async def test_a_vm_object_is_never_deleted_with_its_disks_and_gone_counts_as_deleted(
    make_sim: SimFactory, azure_for: Azure
) -> None:
    sim = make_sim(migration_fleet([vm("eph-01", os_disk={"ephemeral": True}), vm("keep-01")]))
    activities = MigrationVmActivities(azure_for(sim))
    env = ActivityEnvironment()
    with pytest.raises(ApplicationError) as cascade:  # the ephemeral OS disk goes with its VM (deleteOption Delete)
        await env.run(activities.delete_vm_object, DeleteVmRequest(VmRef(SUB, RG, "eph-01"), "test"))
    assert cascade.value.non_retryable and cascade.value.type == "source-delete-option"
    assert "eph-01" in sim.state.resource_group(SUB, RG).vms
    keep = VmRef(SUB, RG, "keep-01")
    recorded = (await env.run(activities.read_migration_facts, migrate_request("keep-01"))).source
    assert await env.run(activities.delete_vm_object, DeleteVmRequest(keep, "test")) is True
    assert await env.run(activities.delete_vm_object, DeleteVmRequest(keep, "test")) is False
    group = sim.state.resource_group(SUB, RG)
    assert "keep-01-osdisk" in group.disks and "keep-01-nic" in group.nics
    # The rollback's re-creation from the recorded definition, on the kept disk and NIC (M-7).
    back = await env.run(activities.create_migrated_vm, NewVmRequest(keep, source_recreate_body(recorded)))
    assert back.exists and back.power_state == "running"
    assert group.nics["keep-01-nic"].vm is group.vms["keep-01"]
