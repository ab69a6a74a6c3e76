"""CreateVmFromEncryptedVhdWorkflow (R-VHD-1) on the time-skipping server, real SDK against the simulator."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from activities.azure.clients import AzureClients
from adeflow.domain.model import CreateFromVhdInput, CreateFromVhdResult, KeyEncryptionKey, Outcome
from azuresim.server import SimServer
from tests.support.create_from_vhd import KEK_URL, SECRET_URL, create_request, fleet
from tests.support.fleets import SUB, VAULT_ID
from tests.support.servers import SimFactory, new_worker
from workflows.create_from_vhd import CreateVmFromEncryptedVhdWorkflow

Azure = Callable[[SimServer], AzureClients]


async def run(
    env: WorkflowEnvironment, clients: AzureClients, req: CreateFromVhdInput
) -> tuple[CreateFromVhdResult, WorkflowHandle[CreateVmFromEncryptedVhdWorkflow, CreateFromVhdResult]]:
    async with new_worker(env, clients) as worker:
        handle = await env.client.start_workflow(
            CreateVmFromEncryptedVhdWorkflow.run,
            req,
            id=f"create-from-vhd/{uuid.uuid4()}",
            task_queue=worker.task_queue,
        )
        return await handle.result(), handle


def creates(sim: SimServer) -> list[str]:
    return [r.path for r in sim.requests() if r.operation == "VirtualMachines_CreateOrUpdate"]


async def test_r_vhd_1_creates_the_vm_attaching_the_encrypted_disk_with_its_key_references(
    time_skipping_env: WorkflowEnvironment, make_sim: SimFactory, azure_for: Azure
) -> None:
    sim = make_sim(fleet())
    clients = azure_for(sim)
    req = create_request("vhd-01", kek=KeyEncryptionKey(KEK_URL, VAULT_ID))
    result, _ = await run(time_skipping_env, clients, req)

    assert result.outcome is Outcome.ENCRYPTED, result.message
    assert result.created and result.os_disk_encrypted and result.location == "eastus" and result.notes == []
    assert [t.phase.value for t in result.timings] == ["preflight", "create", "verify"]
    ops = [r.operation for r in sim.requests()]
    assert ops.count("VirtualMachines_CreateOrUpdate") == 1
    before_put = set(ops[: ops.index("VirtualMachines_CreateOrUpdate")])
    assert {"Vaults_Get", "Secrets_Get", "Keys_GetVersion", "Disks_Get", "VirtualMachines_Get"} <= before_put
    vm = (await clients.compute(SUB).virtual_machines.get("rg-web", "vhd-01")).as_dict()
    settings = vm["properties"]["storageProfile"]["osDisk"]["encryptionSettings"]
    assert settings["diskEncryptionKey"] == {"secretUrl": SECRET_URL, "sourceVault": {"id": VAULT_ID}}
    assert settings["keyEncryptionKey"]["keyUrl"] == KEK_URL

    # Run again (a repeated trigger): the VM is recognised as this request's and adopted, not created again.
    again, _ = await run(time_skipping_env, clients, req)
    assert again.outcome is Outcome.ENCRYPTED and not again.created
    assert len(creates(sim)) == 1


async def test_r_vhd_1_bad_secret_url_is_refused_before_any_azure_request(
    time_skipping_env: WorkflowEnvironment, make_sim: SimFactory, azure_for: Azure
) -> None:
    sim = make_sim(fleet())
    unversioned = SECRET_URL.rsplit("/", 1)[0]
    result, _ = await run(time_skipping_env, azure_for(sim), create_request("vhd-02", secret_url=unversioned))
    assert (result.outcome, result.rule, result.reason) == (Outcome.REFUSED, "R-VHD-1", "secret-url-invalid")
    assert "vhd-02" in result.message and "Fix:" in result.message
    assert sim.requests() == []


async def test_r_vhd_1_secret_missing_from_the_vault_is_refused_without_writes(
    time_skipping_env: WorkflowEnvironment, make_sim: SimFactory, azure_for: Azure
) -> None:
    sim = make_sim(fleet())
    absent = f"https://kv-ade-eastus.vault.azure.net/secrets/other-bek/{'a' * 32}"
    result, _ = await run(time_skipping_env, azure_for(sim), create_request("vhd-03", secret_url=absent))
    assert (result.outcome, result.rule, result.reason) == (Outcome.REFUSED, "R-VHD-1", "secret-not-found")
    assert sim.requests() and all(r.method == "GET" for r in sim.requests())


async def test_r_pre_2_vault_not_enabled_for_disk_encryption_is_refused_without_writes(
    time_skipping_env: WorkflowEnvironment, make_sim: SimFactory, azure_for: Azure
) -> None:
    sim = make_sim(fleet(vault_enabled=False))
    result, _ = await run(time_skipping_env, azure_for(sim), create_request("vhd-04"))
    assert (result.outcome, result.rule, result.reason) == (
        Outcome.REFUSED,
        "R-PRE-2",
        "vault-not-enabled-for-disk-encryption",
    )
    assert "--enabled-for-disk-encryption true" in result.message
    assert sim.requests() and all(r.method == "GET" for r in sim.requests())


async def test_r_vhd_1_vm_name_taken_by_another_vm_is_refused_without_writes(
    time_skipping_env: WorkflowEnvironment, make_sim: SimFactory, azure_for: Azure
) -> None:
    sim = make_sim(fleet(vms=[{"name": "web-01"}]))
    result, _ = await run(time_skipping_env, azure_for(sim), create_request("web-01"))
    assert (result.outcome, result.rule, result.reason) == (Outcome.REFUSED, "R-VHD-1", "vm-name-taken")
    assert all(r.method == "GET" for r in sim.requests())


async def test_r_vhd_1_retried_create_activity_does_not_create_twice(
    time_skipping_env: WorkflowEnvironment, make_sim: SimFactory, azure_for: Azure
) -> None:
    sim = make_sim(fleet())
    # The PUT is accepted, then every poll of its operation loses the connection until the SDK gives up (about
    # 5 s): the activity attempt fails after its write. The next attempt must find the VM, not PUT it again.
    sim.inject({"kind": "drop_connection", "operation": "AsyncOperation_Get", "duration_s": 120})
    result, handle = await run(time_skipping_env, azure_for(sim), create_request("vhd-05"))

    assert result.outcome is Outcome.ENCRYPTED, result.message
    assert result.created
    assert len(creates(sim)) == 1
    attempts = [
        e.activity_task_started_event_attributes.attempt
        async for e in handle.fetch_history_events()
        if e.HasField("activity_task_started_event_attributes")
    ]
    assert max(attempts) >= 2, "the create activity was expected to be retried"
