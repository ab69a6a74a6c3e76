"""A 2,000-VM rollout on the dev server with stand-in VM runs: the rollout's own mechanics at fleet scale.

Each stand-in run (tests/support/standins.py, registered under the EncryptVmWorkflow name) waits one poll
interval and reports back like the real one, so the figures are the orchestrator's: wall time, runs of the
rollout (continue-as-new) and the largest history of any run::

    .venv/bin/python -m benchmarks.rollout_2000 [--vms 2000] [--concurrency 500]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
import uuid
from pathlib import Path

from temporalio.client import Client
from temporalio.worker import Worker

from activities.azure.clients import AzureClients
from activities.campaign import CampaignActivities
from adeflow.cli.devserver import DevServer
from adeflow.domain.fleet import RolloutPolicy, VmSettings
from adeflow.domain.rollout import RolloutInput, RolloutTarget
from adeflow.inputs.settings import Settings
from tests.support.standins import StandInVmRun
from workflows.fleet_rollout import FleetRolloutWorkflow
from workflows.registry import workflow_runner

VAULT = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv"


async def history_lengths(client: Client, workflow_id: str) -> list[int]:
    """Events per run of the rollout, first run first (following the continue-as-new chain)."""
    lengths: list[int] = []
    async for execution in client.list_workflows(f'WorkflowId = "{workflow_id}"'):
        handle = client.get_workflow_handle(workflow_id, run_id=execution.run_id)
        lengths.append(len([event async for event in handle.fetch_history_events()]))
    return lengths[::-1]


async def main(vms: int, concurrency: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as state:
        server = await DevServer.start(Path(state), ui=False)
        try:
            client = await Client.connect(server.address)
            names = [f"vm-{i:05d}" for i in range(vms)]
            half = vms // 2
            request = RolloutInput(
                rollout_id=f"bench-{uuid.uuid4().hex[:6]}",
                policy=RolloutPolicy(
                    concurrency=concurrency, per_subscription_concurrency=concurrency, waves=(concurrency,),
                    poll_interval_s=1.0,
                ),
                settings=[VmSettings(key_vault_id=VAULT)],
                targets=[RolloutTarget("sub-a", "rg", 0, names[:half]), RolloutTarget("sub-b", "rg", 0, names[half:])],
            )  # fmt: skip
            lookup = CampaignActivities(AzureClients(Settings().azure))  # asks Temporal only; no ARM request
            async with Worker(
                client,
                task_queue="bench",
                workflows=[FleetRolloutWorkflow, StandInVmRun],
                activities=[lookup.find_running_vm_runs],  # a continued rollout looks up its VM runs before completing
                workflow_runner=workflow_runner(),
                max_cached_workflows=max(1000, concurrency * 2),
            ):
                started = time.monotonic()
                result = await client.execute_workflow(
                    FleetRolloutWorkflow.run, request, id=f"rollout/{request.rollout_id}", task_queue="bench"
                )
                wall = time.monotonic() - started
                lengths = await history_lengths(client, f"rollout/{request.rollout_id}")
        finally:
            server.stop()
    figures: dict[str, object] = {
        "vms": vms,
        "concurrency": concurrency,
        "wall_s": round(wall, 1),
        "encrypted": result.counts["encrypted"],
        "rollout_runs": result.runs,
        "largest_history_events": max(lengths),
        "history_events_per_run": lengths,
    }
    print(json.dumps(figures))
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--vms", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=500)
    args = parser.parse_args()
    asyncio.run(main(args.vms, args.concurrency))
