"""Running one VM again after a failed run: new snapshots under the new run's own names, and a failed enable
tried again instead of being taken for an earlier encryption.

The first test needs the dev server: it issues UUIDv7 run ids (a timestamp head, as Temporal Cloud and current
servers do), where the time-skipping test server issues UUIDv4 ones that would hide a tag taken from the head.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path

import pytest
from temporalio.common import SearchAttributeKey
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

from activities.azure.clients import AzureClients
from activities.backup import BackupActivities
from activities.inventory import InventoryActivities
from activities.snapshot_retention import RUN_TAG
from adeflow.domain.model import EncryptVmInput, EncryptVmResult, Outcome, SnapshotRequest, VmRef, VolumeType
from adeflow.domain.snapshot_names import run_tag
from adeflow.inputs.settings import SEARCH_ATTRIBUTES
from azuresim.server import SimServer
from tests.support.encrypt_vm_runs import request
from tests.support.fleets import SUB, fleet_dict, vm
from tests.support.servers import SimFactory, new_worker
from workflows.encrypt_vm import EncryptVmWorkflow, encrypt_vm_workflow_id

Azure = Callable[[SimServer], AzureClients]
VENV_BIN = Path(sys.executable).parent
SNAPSHOT_PUT = "Snapshots_CreateOrUpdate"


@pytest.fixture(scope="module")
async def dev_env() -> AsyncIterator[WorkflowEnvironment]:
    """A real dev server from the venv's ``temporal``: its run ids are UUIDv7."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(VENV_BIN / "temporal"),
        search_attributes=[SearchAttributeKey.for_keyword(name) for name in SEARCH_ATTRIBUTES],
    )
    yield env
    await env.shutdown()


async def run_vm(env: WorkflowEnvironment, clients: AzureClients, req: EncryptVmInput) -> tuple[EncryptVmResult, str]:
    """One run under the VM's own workflow id, as the CLI and rollouts start it; returns the result and run id."""
    async with new_worker(env, clients) as worker:
        handle = await env.client.start_workflow(
            EncryptVmWorkflow.run, req, id=encrypt_vm_workflow_id(req.vm), task_queue=worker.task_queue
        )
        return await handle.result(), handle.result_run_id or ""


def snapshot_puts(sim: SimServer) -> list[str]:
    """Names of the snapshots PUT so far, in order."""
    return [r.path.rstrip("/").rsplit("/", 1)[-1] for r in sim.requests() if r.operation == SNAPSHOT_PUT]


async def test_r_bak_2_a_rerun_right_after_a_snapshot_failure_takes_new_snapshots_and_encrypts(
    dev_env: WorkflowEnvironment, make_sim: SimFactory, azure_for: Azure
) -> None:
    """Issue 14: a rerun in the same minute re-PUT the failed run's snapshot names and failed on its snapshot."""
    sim = make_sim(fleet_dict([vm("rerun-01")]), scale=3600)
    clients = azure_for(sim)
    sim.inject({"kind": "snapshot_failure", "vm": "rerun-01", "count": 1})
    req = replace(request("rerun-01", VolumeType.OS), poll_interval_s=1)

    failed, first_run = await run_vm(dev_env, clients, req)
    assert (failed.outcome, failed.reason) == (Outcome.FAILED, "snapshot-failed"), failed.message
    first_names = snapshot_puts(sim)
    encrypted, second_run = await run_vm(dev_env, clients, req)  # at once: the same minute, the same id head

    assert encrypted.outcome is Outcome.ENCRYPTED, encrypted.message
    second_names = [s.rsplit("/", 1)[-1] for s in encrypted.snapshot_ids]
    assert first_names and second_names and set(first_names).isdisjoint(second_names)
    assert snapshot_puts(sim) == first_names + second_names  # the failed snapshot was not PUT again
    tags = {
        snapshot.name: (snapshot.tags or {}).get(RUN_TAG)
        async for snapshot in clients.compute(SUB).snapshots.list_by_resource_group("rg-web")
    }
    # `adeflow snapshots list` tells the two runs apart: each snapshot carries its own run's tag.
    assert {tags[n] for n in first_names} == {run_tag(first_run)}
    assert {tags[n] for n in second_names} == {run_tag(second_run)} != {run_tag(first_run)}


async def test_r_bak_2_a_failed_snapshot_of_the_same_name_is_refused_clearly_not_adopted(
    make_sim: SimFactory, azure_for: Azure
) -> None:
    """A retried attempt of one run re-PUTs its snapshot names: one found Failed is no backup, and says so."""
    sim = make_sim(fleet_dict([vm("snapfail-01")]))
    clients = azure_for(sim)
    ref = VmRef(SUB, "rg-web", "snapfail-01")
    facts = await ActivityEnvironment().run(InventoryActivities(clients).read_vm_facts, ref)
    snapshot = SnapshotRequest(ref, "eastus", [d.managed_disk_id for d in facts.disks], run_tag="0123456789ab")
    sim.inject({"kind": "snapshot_failure", "vm": "snapfail-01", "count": 1})
    with pytest.raises(ApplicationError):
        await ActivityEnvironment().run(BackupActivities(clients).snapshot_disks, snapshot)

    with pytest.raises(ApplicationError) as again:  # the fault is spent: only the failed snapshot is left
        await ActivityEnvironment().run(BackupActivities(clients).snapshot_disks, snapshot)

    assert (again.value.type, again.value.non_retryable) == ("snapshot-failed", True)
    message = again.value.message
    assert message.startswith("snapfail-01: snapshot snapfail-01-osdisk-ade-0123456789ab of disk snapfail-01-osdisk")
    assert "already exists in provisioning state Failed" in message and "not reused" in message, message
    assert "invalid status" not in message and "R-BAK-2" in message and "Fix:" in message


async def test_r_new_1_a_rerun_after_a_failed_enable_encrypts_instead_of_refusing_a_new_disk(
    time_skipping_env: WorkflowEnvironment, make_sim: SimFactory, azure_for: Azure
) -> None:
    """Issue 14: the failed enable's settings (EnableEncryption, Failed, nothing encrypted) made the rerun an
    R-NEW-1 re-enable for a new disk, refused for want of the operator's confirmation."""
    sim = make_sim(fleet_dict([vm("reenable-01", data_disks=[{"lun": 0, "size_gb": 16}])]), 60, 300)
    clients = azure_for(sim)
    sim.inject({"kind": "extension_failure", "vm": "reenable-01", "count": 5})
    req = request("reenable-01", VolumeType.ALL)

    failed, _ = await run_vm(time_skipping_env, clients, req)
    assert (failed.outcome, failed.reason) == (Outcome.FAILED, "extension-provisioning-failed"), failed.message
    sim.clear_faults()
    encrypted, _ = await run_vm(time_skipping_env, clients, req)

    assert encrypted.outcome is Outcome.ENCRYPTED, encrypted.message
    assert (encrypted.volume_type, encrypted.rule) == (VolumeType.ALL, "")
    assert sorted(encrypted.encrypted_disks) == ["reenable-01-datadisk-0", "reenable-01-osdisk"]
    assert len({failed.sequence_version, encrypted.sequence_version}) == 2  # a new enable (R-NEW-4)
