"""History growth: single VMs whose encryption takes 1 h, 3 h and 24 h (simulated): workflow history events
and bytes, ARM requests of each. A longer encryption should cost more polls, not a longer history."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from temporalio.client import Client

from adeflow.cli.devserver import DevServer
from adeflow.domain.fleet import RolloutPolicy, VmSettings
from adeflow.domain.model import VmRef, VolumeType
from azuresim.clock import SimClock
from benchmarks.metrics import encryption_finished_at, request_kinds
from benchmarks.processes import simulator, worker_env, worker_process
from benchmarks.workload import POLL_SIM_S, SUB, fleet_spec, vault_id
from workflows.encrypt_vm import EncryptVmWorkflow, encrypt_vm_workflow_id

HISTORY_VMS = {
    # name: (os GB, data GB each) at 10 GB/h -> encryption hours (plus 2 min stamping)
    "h1": (4, 3),
    "h3": (10, 10),
    "h24": (64, 88),
}


async def bench_history(client: Client, server: DevServer, work: Path, scale: float) -> dict[str, Any]:
    rg = "rg-hist"
    vms = [
        {
            "name": name,
            "os_disk": {"size_gb": os_gb},
            "data_disks": [{"lun": 0, "size_gb": d}, {"lun": 1, "size_gb": d}],
        }
        for name, (os_gb, d) in HISTORY_VMS.items()
    ]
    fleet = fleet_spec(rg, vms, {"gb_per_hour": 10.0})
    task_queue = f"bench-history-{uuid.uuid4().hex[:6]}"
    out: dict[str, Any] = {"clock_scale": scale, "poll_interval_sim_s": POLL_SIM_S}
    with simulator(fleet, SimClock(scale=scale), work / "sim-history") as sim:
        env = worker_env(server.address, task_queue, sim, unlimited=False)
        async with worker_process(client, ["-m", "worker"], env, task_queue, work / "worker-history.log"):
            policy = RolloutPolicy(poll_interval_s=POLL_SIM_S / scale)
            settings = VmSettings(key_vault_id=vault_id(rg), volume_type=VolumeType.ALL)
            for name in HISTORY_VMS:
                ref = VmRef(SUB, rg, name)
                first = len(sim.requests())
                workflow_id = encrypt_vm_workflow_id(ref)
                result = await client.execute_workflow(
                    EncryptVmWorkflow.run,
                    settings.to_encrypt_input(ref, policy),
                    id=workflow_id,
                    task_queue=task_queue,
                )
                history = await client.get_workflow_handle(workflow_id).fetch_history()
                (work / f"history-{name}.json").write_text(history.to_json())
                records = sim.requests()[first:]
                done = encryption_finished_at(sim, rg, name)
                started = sim.state.vm(SUB, rg, name).ade.run
                hours = (done - started.started_at).total_seconds() / 3600 if done and started else None
                out[name] = {
                    "outcome": result.outcome.value,
                    "encryption_sim_hours": hours,
                    "history_events": len(history.events),
                    "history_bytes": sum(e.ByteSize() for e in history.events),
                    "arm": request_kinds(records),
                }
    return out
