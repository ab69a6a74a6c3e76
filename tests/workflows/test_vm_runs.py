"""What every per-VM run shares (``workflows/vm_run.py``): one run per VM whatever the spelling, phases that say what
happens, the ``progress`` query, the finished-VMs metric, and no workflow task that fails on a broken precondition.

Workers here connect with a client of their own, without the test environment's interceptor that turns an
``AssertionError`` into a workflow failure: they behave as a production worker does (a failing workflow task is
retried, the run stays RUNNING), and their runtime keeps the metrics in a buffer the test reads.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import pytest
from temporalio.client import Client, WorkflowHandle
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.runtime import BufferedMetricUpdate, MetricBuffer, Runtime, TelemetryConfig
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.azure.clients import AzureClients
from activities.registry import build_activities
from adeflow.domain.model import BackupPolicy, DisableInput, Outcome, RemoveExtensionInput, VmRef
from azuresim.server import SimServer
from tests.support.create_from_vhd import create_request
from tests.support.create_from_vhd import fleet as vhd_fleet
from tests.support.encrypt_vm_runs import request
from tests.support.fleets import SUB, fleet_dict, vm
from tests.support.servers import SimFactory
from workflows.create_from_vhd import CreateVmFromEncryptedVhdWorkflow, create_from_vhd_workflow_id
from workflows.disable_encryption import DisableEncryptionWorkflow, disable_workflow_id
from workflows.encrypt_vm import EncryptVmWorkflow, encrypt_vm_workflow_id
from workflows.registry import WORKFLOWS, workflow_runner
from workflows.remove_extension import RemoveExtensionWorkflow, remove_extension_workflow_id

Azure = Callable[[SimServer], AzureClients]
DATA = [{"lun": 0, "size_gb": 16}]


@pytest.fixture(scope="module")
def metrics() -> MetricBuffer:
    return MetricBuffer(10_000)


@pytest.fixture(scope="module")
def runtime(metrics: MetricBuffer) -> Runtime:
    return Runtime(telemetry=TelemetryConfig(metrics=metrics))


@asynccontextmanager
async def production_worker(env: WorkflowEnvironment, runtime: Runtime, clients: AzureClients) -> AsyncIterator[Worker]:
    """A worker as ``worker/`` runs one: a plain client (no test interceptors), the runtime's metrics recorded."""
    config = env.client.service_client.config
    client = await Client.connect(config.target_host, namespace=env.client.namespace, runtime=runtime)
    async with Worker(
        client,
        task_queue=f"test-{uuid.uuid4()}",
        workflows=list(WORKFLOWS),
        activities=list(build_activities(clients)),
        workflow_runner=workflow_runner(),
    ) as worker:
        yield worker


async def finish(env: WorkflowEnvironment, worker: Worker, run: Any, arg: Any) -> tuple[Any, WorkflowHandle[Any, Any]]:
    """The run's result; a run still going after a minute is a failing workflow task being retried (a test
    failure that names the run's status, not a hang)."""
    handle = await env.client.start_workflow(run, arg, id=f"vm-run/{uuid.uuid4()}", task_queue=worker.task_queue)
    try:
        return await asyncio.wait_for(handle.result(), timeout=60), handle
    except TimeoutError:
        status = (await handle.describe()).status
        pytest.fail(f"the run did not end: {status.name if status else status} (a failing workflow task, retried)")


def finished(updates: Sequence[BufferedMetricUpdate], workflow_type: str) -> list[dict[str, Any]]:
    return [
        dict(u.attributes)
        for u in updates
        if u.metric.name == "adeflow_vms_finished" and u.attributes.get("workflow_type") == workflow_type
    ]


# -- one run per VM, whatever the spelling -------------------------------------------------------------------------


async def test_two_spellings_of_one_vm_are_one_run(fresh_time_skipping_env: WorkflowEnvironment) -> None:
    """ARM names are case-insensitive: ``Web-01`` in ``RG-Web`` and ``web-01`` in ``rg-web`` are one VM, so the
    second start meets the first run (WorkflowAlreadyStarted) instead of starting a second run on the same VM.

    A server of its own: runs no worker ever polls keep the shared test server from skipping time afterwards."""
    client = fresh_time_skipping_env.client
    queue = f"nobody-{uuid.uuid4()}"  # no worker: the runs only need to exist
    kinds: list[tuple[Any, Callable[[VmRef], str]]] = [
        (EncryptVmWorkflow.run, encrypt_vm_workflow_id),
        (DisableEncryptionWorkflow.run, disable_workflow_id),
        (RemoveExtensionWorkflow.run, remove_extension_workflow_id),
        (CreateVmFromEncryptedVhdWorkflow.run, create_from_vhd_workflow_id),
    ]
    for run, make_id in kinds:
        first_id = make_id(VmRef(SUB.upper(), "RG-Web", "Web-01"))
        await client.start_workflow(run, None, id=first_id, task_queue=queue)
        with pytest.raises(WorkflowAlreadyStartedError):
            await client.start_workflow(run, None, id=make_id(VmRef(SUB, "rg-web", "web-01")), task_queue=queue)
        assert first_id == first_id.lower() and first_id.count("/") == 3


# -- R-BAK-2 without a waiver statement: a refusal, never a stuck run ------------------------------------------------


async def test_r_bak_2_disable_with_backup_waived_but_no_statement_is_refused_not_stuck(
    time_skipping_env: WorkflowEnvironment, make_sim: SimFactory, azure_for: Azure, runtime: Runtime
) -> None:
    """``adeflow vm disable <vm> --backup waive`` without a statement: refused by R-BAK-2 before any write. It
    used to fail the workflow task on an ``assert``, which a production worker retries for ever."""
    sim = make_sim(fleet_dict([vm("wv-01", data_disks=DATA, encrypted={"data": True})]), 60, 300)
    async with production_worker(time_skipping_env, runtime, azure_for(sim)) as worker:
        result, _ = await finish(
            time_skipping_env,
            worker,
            DisableEncryptionWorkflow.run,
            DisableInput(request("wv-01").vm, backup_policy=BackupPolicy.WAIVE, poll_interval_s=300),
        )
    assert (result.outcome, result.rule, result.reason) == (Outcome.REFUSED, "R-BAK-2", "backup-waiver-missing")
    assert sim.writes_for("wv-01") == []


# -- phases that say what happens, the progress query, the metric ----------------------------------------------------


async def test_disable_phases_say_disable_decrypting_remove(
    time_skipping_env: WorkflowEnvironment, make_sim: SimFactory, azure_for: Azure, runtime: Runtime
) -> None:
    sim = make_sim(fleet_dict([vm("ph-01", data_disks=DATA, encrypted={"data": True})]), 60, 300)
    async with production_worker(time_skipping_env, runtime, azure_for(sim)) as worker:
        result, handle = await finish(
            time_skipping_env,
            worker,
            DisableEncryptionWorkflow.run,
            DisableInput(request("ph-01").vm, poll_interval_s=300),
        )
        progress = await handle.query(DisableEncryptionWorkflow.progress)
    assert result.outcome is Outcome.DISABLED, result.message
    assert [t.phase.value for t in result.timings] == ["preflight", "backup", "disable", "decrypting", "remove"]
    assert progress.phase.value == "done"


async def test_remove_extension_phases_and_progress_query(
    time_skipping_env: WorkflowEnvironment, make_sim: SimFactory, azure_for: Azure, runtime: Runtime
) -> None:
    sim = make_sim(fleet_dict([vm("ph-02", encrypted={"data": True}, data_disks=DATA)]), 60, 300)
    async with production_worker(time_skipping_env, runtime, azure_for(sim)) as worker:
        result, handle = await finish(
            time_skipping_env,
            worker,
            RemoveExtensionWorkflow.run,
            RemoveExtensionInput(request("ph-02").vm, leave_encrypted=True),
        )
        progress = await handle.query(RemoveExtensionWorkflow.progress)
    assert result.outcome is Outcome.EXTENSION_REMOVED, result.message
    assert [t.phase.value for t in result.timings] == ["preflight", "remove"]
    assert (progress.phase.value, progress.detail) == ("done", result.message)


async def test_create_from_vhd_phases_and_finished_metric(
    time_skipping_env: WorkflowEnvironment,
    make_sim: SimFactory,
    azure_for: Azure,
    runtime: Runtime,
    metrics: MetricBuffer,
) -> None:
    """A VM created from a VHD counts in ``adeflow_vms_finished`` like every other VM run."""
    sim = make_sim(vhd_fleet())
    metrics.retrieve_updates()  # only this test's
    async with production_worker(time_skipping_env, runtime, azure_for(sim)) as worker:
        result, handle = await finish(
            time_skipping_env, worker, CreateVmFromEncryptedVhdWorkflow.run, create_request("ph-03")
        )
        progress = await handle.query(CreateVmFromEncryptedVhdWorkflow.progress)
    assert result.outcome is Outcome.ENCRYPTED, result.message
    assert [t.phase.value for t in result.timings] == ["preflight", "create", "verify"]
    assert progress.phase.value == "done"
    counted = finished(metrics.retrieve_updates(), "CreateVmFromEncryptedVhdWorkflow")
    assert [a["outcome"] for a in counted] == ["encrypted"]
