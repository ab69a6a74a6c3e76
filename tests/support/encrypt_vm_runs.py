"""EncryptVmWorkflow runs on a test server: the request for a VM of tests/support/fleets.py, one run with a
worker of the test, and the ARM operations it caused."""

from __future__ import annotations

import uuid
from typing import Any

from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from activities.azure.clients import AzureClients
from adeflow.domain.model import EncryptVmInput, EncryptVmResult, VmRef, VolumeType
from azuresim.server import SimServer
from tests.support.fleets import SUB, VAULT_ID
from tests.support.servers import new_worker
from workflows.encrypt_vm import EncryptVmWorkflow


def request(name: str, volume_type: VolumeType | None = None, **kw: Any) -> EncryptVmInput:
    """Fixed 5-minute polls unless ``adaptive_polling=True``: these tests' simulators advance one poll interval per
    status read (``status_read_tick``) or with the real clock, not with the time-skipping server's, so a schedule
    that extrapolates the progress over workflow time would only measure the harness."""
    kw.setdefault("adaptive_polling", False)
    return EncryptVmInput(
        vm=VmRef(SUB, "rg-web", name), key_vault_id=VAULT_ID, volume_type=volume_type, poll_interval_s=300, **kw
    )


async def run(
    env: WorkflowEnvironment, clients: AzureClients, req: EncryptVmInput
) -> tuple[EncryptVmResult, WorkflowHandle[EncryptVmWorkflow, EncryptVmResult]]:
    async with new_worker(env, clients) as worker:
        handle = await env.client.start_workflow(
            EncryptVmWorkflow.run, req, id=f"ade-encrypt/test/{uuid.uuid4()}", task_queue=worker.task_queue
        )
        return await handle.result(), handle


def operations(sim: SimServer) -> list[str]:
    return [r.operation for r in sim.requests()]
