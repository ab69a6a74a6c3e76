"""Activities through the real async Azure SDK against the simulator (no SDK mocks)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.azure.clients import AzureClients
from activities.backup import BackupActivities
from activities.extension import ExtensionActivities
from activities.inventory import InventoryActivities
from activities.keyvault import KeyVaultActivities
from activities.status import StatusActivities
from adeflow.domain import rules
from adeflow.domain.model import ExtensionRequest, ProgressRequest, SnapshotRequest, VmRef, VolumeType
from adeflow.domain.vocabulary import Reason
from azuresim.server import SimServer
from tests.support.domain_facts import request as make_request
from tests.support.fleets import SUB, VAULT_ID, fleet_dict
from tests.support.servers import SimFactory

REF = VmRef(SUB, "rg-web", "app-01")
FLEET = fleet_dict(
    [
        {
            "name": "app-01",
            "os_disk": {"size_gb": 30},
            "data_disks": [{"lun": 0, "size_gb": 20}, {"lun": 1, "size_gb": 20}],
        }
    ]
)


async def test_read_vm_facts_merges_vm_disks_and_instance_view(
    make_sim: SimFactory, azure_for: Callable[[SimServer], AzureClients]
) -> None:
    sim = make_sim(FLEET)
    facts = await ActivityEnvironment().run(InventoryActivities(azure_for(sim)).read_vm_facts, REF)
    assert facts.os_type == "Linux" and facts.location == "eastus"
    assert [d.name for d in facts.disks] == ["app-01-osdisk", "app-01-datadisk-0", "app-01-datadisk-1"]
    assert facts.os_disk.encryption_type == "EncryptionAtRestWithPlatformKey"
    assert facts.ade_extension is None
    assert facts.power_state == "running"
    assert sim.writes_for("app-01") == []


async def test_read_key_vault_reports_missing_vault_as_a_problem_not_a_crash(
    make_sim: SimFactory, azure_for: Callable[[SimServer], AzureClients]
) -> None:
    sim = make_sim(FLEET)
    activities = KeyVaultActivities(azure_for(sim))
    found = await ActivityEnvironment().run(activities.read_key_vault, VAULT_ID)
    assert found.vault is not None and found.vault.enabled_for_disk_encryption
    missing = await ActivityEnvironment().run(activities.read_key_vault, VAULT_ID.replace("kv-ade-eastus", "kv-gone"))
    assert missing.vault is None and "404" in missing.problem


async def test_r_bak_2_snapshots_are_incremental_tagged_and_idempotent(
    make_sim: SimFactory, azure_for: Callable[[SimServer], AzureClients]
) -> None:
    sim = make_sim(FLEET)
    clients = azure_for(sim)
    facts = await ActivityEnvironment().run(InventoryActivities(clients).read_vm_facts, REF)
    req = SnapshotRequest(REF, "eastus", [d.managed_disk_id for d in facts.disks], run_tag="run12345")
    first = await ActivityEnvironment().run(BackupActivities(clients).snapshot_disks, req)
    again = await ActivityEnvironment().run(BackupActivities(clients).snapshot_disks, req)
    assert [s.snapshot_id for s in first] == [s.snapshot_id for s in again]
    assert all(s.provisioning_state == "Succeeded" for s in first)
    assert all(s.snapshot_id.endswith("-ade-run12345") for s in first)
    snapshot = await clients.compute(SUB).snapshots.get("rg-web", "app-01-osdisk-ade-run12345")
    assert snapshot.properties is not None and snapshot.properties.incremental
    assert snapshot.tags == {"adeflow-run": "run12345", "adeflow-vm": "app-01", "adeflow-purpose": "pre-ade"}


async def test_retried_extension_put_reuses_its_sequence_version_and_sends_no_second_put(
    make_sim: SimFactory, azure_for: Callable[[SimServer], AzureClients]
) -> None:
    """docs/original-design.md §5 invariant 2 / R-NEW-4: a retry of the PUT never starts a second encryption pass."""
    sim = make_sim(FLEET)
    clients = azure_for(sim)
    facts = await ActivityEnvironment().run(InventoryActivities(clients).read_vm_facts, REF)
    vault = (await ActivityEnvironment().run(KeyVaultActivities(clients).read_key_vault, VAULT_ID)).vault
    assert vault is not None
    settings = rules.plan_enable_settings(make_request(VolumeType.ALL), vault, VolumeType.ALL, "seq-0001")
    req = ExtensionRequest(REF, facts.location, settings)
    first = await ActivityEnvironment().run(ExtensionActivities(clients).put_encryption_extension, req)
    again = ActivityEnvironment()
    again.info = replace(again.info, attempt=2)  # a retry (the first attempt does not look before its PUT)
    retry = await again.run(ExtensionActivities(clients).put_encryption_extension, req)
    assert (first.sent_put, retry.sent_put) == (True, False)
    assert first.sequence_version == retry.sequence_version == "seq-0001"
    assert [r.operation for r in sim.writes_for("app-01")] == ["VirtualMachineExtensions_CreateOrUpdate"]
    ext = await clients.compute(SUB).virtual_machine_extensions.get("rg-web", "app-01", "AzureDiskEncryptionForLinux")
    assert ext.as_dict()["properties"]["settings"] == settings.public_settings()


async def test_await_encryption_raises_benign_retryable_while_encrypting_then_returns(
    make_sim: SimFactory, azure_for: Callable[[SimServer], AzureClients]
) -> None:
    sim = make_sim(FLEET, scale=1.0)
    clients = azure_for(sim)
    vault = (await ActivityEnvironment().run(KeyVaultActivities(clients).read_key_vault, VAULT_ID)).vault
    assert vault is not None
    settings = rules.plan_enable_settings(make_request(VolumeType.ALL), vault, VolumeType.ALL, "seq-0002")
    poll = ProgressRequest(REF, VolumeType.ALL, "seq-0002")
    status = StatusActivities(clients)
    put = ExtensionActivities(clients).put_encryption_extension
    sim.clock.scale = 1000.0
    await ActivityEnvironment().run(put, ExtensionRequest(REF, "eastus", settings))
    sim.clock.scale = 1.0
    with pytest.raises(ApplicationError) as waiting:
        await ActivityEnvironment().run(status.await_encryption, poll)
    assert waiting.value.type == Reason.STILL_WORKING and not waiting.value.non_retryable
    assert "EncryptionInProgress" in waiting.value.message
    sim.clock.advance(8 * 3600)
    done = await ActivityEnvironment().run(status.await_encryption, poll)
    assert (done.os.value, done.data.value) == ("Encrypted", "Encrypted")
    other = ProgressRequest(REF, VolumeType.ALL, "someone-else")
    with pytest.raises(ApplicationError) as superseded:
        await ActivityEnvironment().run(status.await_encryption, other)
    assert superseded.value.non_retryable and superseded.value.type == "superseded"
