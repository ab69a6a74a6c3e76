"""The start of a 200-VM run against a throttling simulator, with and without the client-side ARM budget.

Every VM reads its facts and the key vault, then snapshots its disks, all at once (as 200 workflows would);
the simulator's buckets are small so the run is short. Prints requests, 429s, failed VMs and wall time::

    .venv/bin/python -m benchmarks.throttle_200 [--vms 200] [--fraction 0.8]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from temporalio.testing import ActivityEnvironment

from activities.azure.clients import AzureClients
from activities.backup import BackupActivities
from activities.inventory import InventoryActivities
from activities.keyvault import KeyVaultActivities
from adeflow.domain.model import SnapshotRequest, VmRef
from adeflow.inputs.settings import AzureSettings, Settings
from azuresim.clock import SimClock
from azuresim.fleet import FleetSpec
from azuresim.server import SimServer

SUB = "6f1c3a52-8d11-4c4e-9a7e-000000000001"
VAULT_ID = f"/subscriptions/{SUB}/resourceGroups/rg-web/providers/Microsoft.KeyVault/vaults/kv-ade-eastus"


def fleet(vms: int) -> FleetSpec:
    return FleetSpec.model_validate(
        {
            "subscriptions": [
                {
                    "id": SUB,
                    "resource_groups": [
                        {
                            "name": "rg-web",
                            "location": "eastus",
                            "key_vaults": [{"name": "kv-ade-eastus", "enabled_for_disk_encryption": True}],
                            "vms": [{"name": f"vm-{i:03d}", "os_disk": {"size_gb": 30}} for i in range(vms)],
                        }
                    ],
                }
            ]
        }
    )


async def start_vm(clients: AzureClients, name: str, run_tag: str) -> None:
    ref = VmRef(SUB, "rg-web", name)
    facts = await ActivityEnvironment().run(InventoryActivities(clients).read_vm_facts, ref)
    await ActivityEnvironment().run(KeyVaultActivities(clients).read_key_vault, VAULT_ID)
    request = SnapshotRequest(ref, "eastus", [d.managed_disk_id for d in facts.disks], run_tag=run_tag)
    await ActivityEnvironment().run(BackupActivities(clients).snapshot_disks, request)


async def run(sim: SimServer, settings: AzureSettings, label: str, vms: int, reads: float, writes: float) -> None:
    sim.set_throttling(
        reads={"capacity": reads * 1.25, "refill_per_s": reads},
        writes={"capacity": writes * 2, "refill_per_s": writes},
    )
    first = len(sim.requests())
    clients = AzureClients(settings)
    started = time.monotonic()
    try:
        results = await asyncio.gather(
            *(start_vm(clients, f"vm-{i:03d}", label) for i in range(vms)), return_exceptions=True
        )
    finally:
        await clients.close()
    wall = time.monotonic() - started
    records = sim.requests()[first:]
    throttled = sum(1 for r in records if r.status == 429)
    failed = sum(1 for r in results if r is not None)
    snap = clients.arm_budget.snapshot()
    print(
        f"{label:>9}: {len(records):5d} requests, {throttled:4d} x 429 ({throttled / len(records):.1%}), "
        f"{failed:3d} VMs failed, {wall:5.1f} s wall, {snap.waited} requests waited {snap.wait_seconds:.0f} s in all"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vms", type=int, default=200)
    parser.add_argument("--reads", type=float, default=80.0, help="simulator read refill per second")
    parser.add_argument("--writes", type=float, default=20.0, help="simulator write refill per second")
    parser.add_argument("--fraction", type=float, default=0.8, help="client budget as a fraction of the simulator's")
    args = parser.parse_args()
    sim = SimServer(fleet(args.vms), clock=SimClock(scale=3600.0), state_dir=Path(tempfile.mkdtemp()))
    sim.start_in_thread()
    try:
        base = Settings().with_simulator(sim.base_url, sim.ca_path).azure
        free = replace(base, arm_reads_per_s=0, arm_writes_per_s=0, arm_deletes_per_s=0, arm_vm_updates_per_min=0)
        budget = replace(
            base,
            arm_reads_capacity=args.reads * 1.25 * args.fraction,
            arm_reads_per_s=args.reads * args.fraction,
            arm_writes_capacity=args.writes * 2 * args.fraction,
            arm_writes_per_s=args.writes * args.fraction,
        )
        await run(sim, free, "no budget", args.vms, args.reads, args.writes)
        await run(sim, budget, "budget", args.vms, args.reads, args.writes)
    finally:
        sim.stop()


if __name__ == "__main__":
    asyncio.run(main())
