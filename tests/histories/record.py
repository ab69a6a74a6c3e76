"""Record the histories that the replay tests hold the workflow code to (``python -m tests.histories.record``;
``... record migrate`` records the migration's history alone).

Re-record only on purpose: after a change that is meant to alter workflow behaviour *and* is guarded by
``workflow.patched`` (or is a new workflow type). Replaying old histories is how a change that would break
running workflows is caught before it reaches a cluster.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.azure.clients import AzureClients
from activities.campaign import CampaignActivities
from activities.registry import build_activities
from adeflow.domain.fleet import RolloutPolicy, VmSettings
from adeflow.domain.migration import MigrationPhase
from adeflow.domain.model import DisableInput, EncryptVmInput, RemoveExtensionInput, VmRef, VolumeType
from adeflow.domain.rollout import RolloutInput, RolloutTarget
from adeflow.inputs.settings import Settings
from azuresim.clock import SimClock
from azuresim.fleet import FleetSpec
from azuresim.server import SimServer
from tests.support.fleets import SUB, VAULT_ID, fleet_dict
from tests.support.servers import register_search_attributes
from tests.support.standins import StandInVmRun
from workflows.disable_encryption import DisableEncryptionWorkflow
from workflows.encrypt_vm import EncryptVmWorkflow
from workflows.fleet_rollout import FleetRolloutWorkflow
from workflows.registry import WORKFLOWS, workflow_runner
from workflows.remove_extension import RemoveExtensionWorkflow

HERE = Path(__file__).parent
UBUNTU = {"publisher": "Canonical", "offer": "0001-com-ubuntu-server-jammy", "sku": "22_04-lts-gen2"}
FLEET = fleet_dict(
    [
        {"name": "enc-01", "size": "Standard_D4s_v5", "image": UBUNTU, "data_disks": [{"lun": 0, "size_gb": 16}]},
        {"name": "ultra-01", "image": UBUNTU, "data_disks": [{"lun": 0, "size_gb": 8, "sku": "UltraSSD_LRS"}]},
        {"name": "dis-01", "image": UBUNTU, "data_disks": [{"lun": 0, "size_gb": 16}], "encrypted": {"data": True}},
    ]
)


async def _save(handle: WorkflowHandle[Any, Any], name: str) -> None:
    history = await handle.fetch_history()
    (HERE / f"{name}.json").write_text(history.to_json())
    print(f"{name}: {len(history.events)} events")


async def record(env: WorkflowEnvironment, clients: AzureClients) -> None:
    client: Client = env.client

    async def run(name: str, workflow: Callable[..., Awaitable[Any]], arg: Any, worker: Worker) -> None:
        handle = await client.start_workflow(workflow, arg, id=f"{name}/{uuid.uuid4()}", task_queue=worker.task_queue)
        await handle.result()
        await _save(handle, name)

    async with Worker(
        client,
        task_queue=f"record-{uuid.uuid4()}",
        workflows=list(WORKFLOWS),
        activities=list(build_activities(clients)),
        workflow_runner=workflow_runner(),
    ) as worker:
        vm = VmRef(SUB, "rg-web", "enc-01")
        await run(
            "encrypt", EncryptVmWorkflow.run, EncryptVmInput(vm, VAULT_ID, VolumeType.ALL, poll_interval_s=300), worker
        )
        ultra = VmRef(SUB, "rg-web", "ultra-01")
        await run("refuse", EncryptVmWorkflow.run, EncryptVmInput(ultra, VAULT_ID, VolumeType.ALL), worker)
        dis = VmRef(SUB, "rg-web", "dis-01")
        await run("disable", DisableEncryptionWorkflow.run, DisableInput(dis, poll_interval_s=300), worker)
        await run("remove-refused", RemoveExtensionWorkflow.run, RemoveExtensionInput(vm), worker)
    # A rollout long enough to continue as new; its VM runs are stand-ins (the rollout's code is what replays).
    names = [f"vm-{i:04d}" for i in range(800)]
    request = RolloutInput(
        rollout_id="replay",
        policy=RolloutPolicy(concurrency=250, per_subscription_concurrency=250, waves=(250,), poll_interval_s=60),
        settings=[VmSettings(key_vault_id=VAULT_ID)],
        targets=[RolloutTarget("sub-a", "rg", 0, names)],
    )
    lookup = CampaignActivities(clients)  # find_running_vm_runs asks Temporal only
    async with Worker(
        client,
        task_queue=f"record-{uuid.uuid4()}",
        workflows=[FleetRolloutWorkflow, StandInVmRun],
        activities=[lookup.find_running_vm_runs],  # a continued rollout looks up its VM runs before completing
        workflow_runner=workflow_runner(),
        max_cached_workflows=1000,
    ) as worker:
        handle = await client.start_workflow(
            FleetRolloutWorkflow.run, request, id="rollout/replay", task_queue=worker.task_queue
        )
        await handle.result()
        first_run = client.get_workflow_handle(handle.id, run_id=handle.first_execution_run_id)
        await _save(first_run, "rollout-continued-as-new")
        await _save(client.get_workflow_handle(handle.id), "rollout-last-run")


async def record_vhd_and_campaign(env: WorkflowEnvironment, vhd: AzureClients, campaign: AzureClients) -> None:
    """The other two workflow types, each against a fleet of its own (tests' fleets, so both stay in step)."""
    from tests.support.campaigns import campaign as campaign_input
    from tests.support.create_from_vhd import create_request
    from workflows.campaign import CampaignWorkflow
    from workflows.create_from_vhd import CreateVmFromEncryptedVhdWorkflow

    for name, clients, workflow, arg in (
        ("create-from-vhd", vhd, CreateVmFromEncryptedVhdWorkflow.run, create_request("vhd-01")),
        ("campaign-audit", campaign, CampaignWorkflow.run, campaign_input("audit", Path(tempfile.mkdtemp()))),
    ):
        async with Worker(
            env.client,
            task_queue=f"record-{uuid.uuid4()}",
            workflows=list(WORKFLOWS),
            activities=list(build_activities(clients)),
            workflow_runner=workflow_runner(),
        ) as worker:
            handle = await env.client.start_workflow(
                workflow, arg, id=f"{name}/{uuid.uuid4()}", task_queue=worker.task_queue
            )
            await handle.result()
            await _save(handle, name)


async def record_migration(bin_dir: Path, state_dir: Path) -> None:
    """One VM off ADE (M-3) with every approval given by update, from preflight to the approved cleanup."""
    from tests.support.migration_runs import data_vm, migrate_request, migration_fleet, send, start, until_phase
    from workflows.migrate_vm import MigrateToHostEncryptionWorkflow as Migrate

    sim = SimServer(
        FleetSpec.model_validate(migration_fleet([data_vm("mig-01")])),
        clock=SimClock(scale=60, status_read_tick=300),
        state_dir=state_dir,
    )
    sim.start_in_thread()
    clients = AzureClients(Settings().with_simulator(sim.base_url, sim.ca_path).azure)
    env = await WorkflowEnvironment.start_time_skipping(test_server_existing_path=str(bin_dir / "temporal-test-server"))
    try:
        await register_search_attributes(env)
        async with Worker(
            env.client,
            task_queue=f"record-{uuid.uuid4()}",
            workflows=list(WORKFLOWS),
            activities=list(build_activities(clients)),
            workflow_runner=workflow_runner(),
        ) as worker:
            handle = await start(env, worker.task_queue, migrate_request("mig-01"))
            await send(handle, Migrate.approve_downtime)
            await until_phase(env, handle, MigrationPhase.AWAIT_OWNER)
            await send(handle, Migrate.confirm_new_vm)
            await until_phase(env, handle, MigrationPhase.AWAIT_CLEANUP)
            await send(handle, Migrate.approve_cleanup)
            await handle.result()
            await _save(handle, "migrate")
    finally:
        await env.shutdown()
        await clients.close()
        sim.stop()


async def main() -> None:
    from tests.support.campaigns import campaign_fleet
    from tests.support.create_from_vhd import fleet as vhd_fleet

    bin_dir = Path(sys.executable).parent
    if sys.argv[1:] == ["migrate"]:
        with tempfile.TemporaryDirectory() as state_dir:
            await record_migration(bin_dir, Path(state_dir))
        return
    with tempfile.TemporaryDirectory() as state_dir:
        sims = [
            SimServer(
                FleetSpec.model_validate(spec),
                clock=SimClock(scale=scale, status_read_tick=300),
                state_dir=Path(state_dir) / str(i),
            )
            for i, (spec, scale) in enumerate(((FLEET, 60), (vhd_fleet(), 60), (campaign_fleet(), 600)))
        ]
        for sim in sims:
            sim.start_in_thread()
        clients = [AzureClients(Settings().with_simulator(sim.base_url, sim.ca_path).azure) for sim in sims]
        try:
            for step in range(2):
                # A server per step: the Java test server was seen to jump its clock after a run ends.
                env = await WorkflowEnvironment.start_time_skipping(
                    test_server_existing_path=str(bin_dir / "temporal-test-server")
                )
                try:
                    await register_search_attributes(env)
                    if step == 0:
                        await record(env, clients[0])
                    else:
                        await record_vhd_and_campaign(env, clients[1], clients[2])
                finally:
                    await env.shutdown()
        finally:
            for client in clients:
                await client.close()
            for sim in sims:
                sim.stop()


if __name__ == "__main__":
    asyncio.run(main())
