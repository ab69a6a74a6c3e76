"""``adeflow demo``: the embedded default. Dev server + ARM simulator + worker, every VM of a sample fleet.

It runs the product exactly as an operator would against Azure: same workflows, same activities, same Azure
SDK clients; only the endpoint (the simulator, on a scaled clock) differs, and that is configuration.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from temporalio.client import Client, WorkflowHandle

from adeflow.config import Settings, TemporalSettings
from adeflow.devserver import DevServer
from adeflow.model import EncryptVmInput, EncryptVmResult, Outcome, VmRef, VolumeType
from azuresim.clock import SimClock
from azuresim.fleet import FleetSpec, load_fleet
from azuresim.server import SimServer
from worker.main import run_worker
from workflows.encrypt_vm import EncryptVmWorkflow, encrypt_vm_workflow_id

DEFAULT_FLEET = Path(__file__).resolve().parent.parent / "examples" / "demo-fleet.yaml"


def requests_from_fleet(fleet: FleetSpec, poll_interval_s: float, rollout_id: str) -> list[EncryptVmInput]:
    """One enable request per VM: the vault of its resource group (else of its subscription), All with data disks."""
    requests: list[EncryptVmInput] = []
    for sub in fleet.subscriptions:
        sub_vaults = [(rg.name, kv.name) for rg in sub.resource_groups for kv in rg.key_vaults]
        for rg in sub.resource_groups:
            local = [(rg.name, kv.name) for kv in rg.key_vaults]
            vault_rg, vault_name = (local or sub_vaults or [(rg.name, "missing-vault")])[0]
            vault_id = (
                f"/subscriptions/{sub.id}/resourceGroups/{vault_rg}/providers/Microsoft.KeyVault/vaults/{vault_name}"
            )
            for vm in rg.vms:
                requests.append(
                    EncryptVmInput(
                        vm=VmRef(sub.id, rg.name, vm.name),
                        key_vault_id=vault_id,
                        volume_type=VolumeType.ALL if vm.data_disks else None,
                        poll_interval_s=poll_interval_s,
                        rollout_id=rollout_id,
                    )
                )
    return requests


def scale_for(fleet: FleetSpec, target_seconds: float) -> float:
    """Clock scale that lets the slowest VM of the fleet finish in about ``target_seconds`` of real time."""
    sim = fleet.sim
    longest = 0.0
    for sub in fleet.subscriptions:
        for rg in sub.resource_groups:
            for vm in rg.vms:
                gb = vm.os_disk.size_gb + sum(d.size_gb for d in vm.data_disks)
                backup = max(sim.snapshot_seconds, sim.backup_seconds)
                seconds = sim.stamp_seconds + backup + sim.stripdown_seconds + gb / sim.gb_per_hour * 3600
                longest = max(longest, seconds)
    return max(1.0, longest / target_seconds)


@dataclass(frozen=True)
class DemoSummary:
    results: list[EncryptVmResult]
    temporal_address: str
    ui_url: str
    wall_seconds: float
    arm_requests: int

    def count(self, outcome: Outcome) -> int:
        return sum(1 for r in self.results if r.outcome is outcome)

    def as_json(self) -> str:
        return json.dumps(
            {
                "encrypted": self.count(Outcome.ENCRYPTED),
                "refused": self.count(Outcome.REFUSED),
                "failed": self.count(Outcome.FAILED),
                "temporal_address": self.temporal_address,
                "ui": self.ui_url,
                "wall_seconds": round(self.wall_seconds, 1),
                "arm_requests": self.arm_requests,
                "vms": [
                    {
                        "vm": r.vm.name,
                        "outcome": r.outcome.value,
                        "rule": r.rule or None,
                        "reason": r.reason or None,
                        "backup": r.backup.value if r.backup else None,
                    }
                    for r in self.results
                ],
            }
        )


def render_table(results: Sequence[EncryptVmResult]) -> str:
    rows = [("VM", "OUTCOME", "RULE / REASON", "BACKUP", "VOLUMES", "SECONDS")]
    for r in results:
        seconds = sum(t.seconds for t in r.timings)
        rows.append(
            (
                r.vm.name,
                r.outcome.value,
                " ".join(x for x in (r.rule, r.reason) if x) or "-",
                r.backup.value if r.backup else "-",
                r.volume_type.value if r.volume_type else "-",
                f"{seconds:.0f}",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows)


async def _watch(handles: list[WorkflowHandle[EncryptVmWorkflow, EncryptVmResult]], started: float) -> None:
    """Print one line of phase counts every few seconds until every run has ended."""
    last = ""
    while True:
        phases: Counter[str] = Counter()
        for handle in handles:
            try:
                phases[(await handle.query(EncryptVmWorkflow.progress)).phase.value] += 1
            except Exception:  # a run that has not had its first task yet
                phases["starting"] += 1
        line = " | ".join(f"{phase} {n}" for phase, n in sorted(phases.items()))
        if line != last:
            print(f"[{time.monotonic() - started:5.0f}s] {line}", flush=True)
            last = line
        if sum(phases[p] for p in ("done", "refused", "failed")) == len(handles):
            return
        await asyncio.sleep(2)


async def run_demo(
    fleet_path: Path = DEFAULT_FLEET,
    *,
    target_seconds: float = 45.0,
    poll_interval_s: float = 2.0,
    keep_running: bool = False,
    emit_json: bool = False,
) -> DemoSummary:
    started = time.monotonic()
    fleet = load_fleet(fleet_path)
    state_dir = Path(tempfile.mkdtemp(prefix="adeflow-demo-"))
    sim = SimServer(fleet, clock=SimClock(scale=scale_for(fleet, target_seconds)), state_dir=state_dir / "sim")
    dev: DevServer | None = None
    stop = asyncio.Event()
    worker_task: asyncio.Task[None] | None = None
    try:
        sim.start_in_thread()
        dev = await DevServer.start(state_dir / "temporal", ui=True)
        print(f"Temporal UI: {dev.ui_url}   (server {dev.address})", flush=True)
        print(f"ARM simulator: {sim.base_url}   (clock x{sim.clock.scale:.0f})", flush=True)
        settings = Settings(temporal=TemporalSettings(address=dev.address)).with_simulator(sim.base_url, sim.ca_path)
        client = await Client.connect(dev.address)
        worker_task = asyncio.create_task(run_worker(settings, stop, client, handle_signals=False))
        rollout_id = f"demo-{int(time.time())}"
        requests = requests_from_fleet(fleet, poll_interval_s, rollout_id)
        print(f"Encrypting {len(requests)} VMs (rollout {rollout_id})", flush=True)
        handles = [
            await client.start_workflow(
                EncryptVmWorkflow.run,
                request,
                id=encrypt_vm_workflow_id(request.vm),
                task_queue=settings.temporal.task_queue,
                static_summary=f"Encrypt {request.vm.name} ({request.vm.resource_group})",
            )
            for request in requests
        ]
        await _watch(handles, started)
        results = [await handle.result() for handle in handles]
        summary = DemoSummary(
            results=results,
            temporal_address=dev.address,
            ui_url=dev.ui_url,
            wall_seconds=time.monotonic() - started,
            arm_requests=len(sim.requests()),
        )
        print(render_table(results), flush=True)
        print(
            f"encrypted {summary.count(Outcome.ENCRYPTED)}, refused {summary.count(Outcome.REFUSED)}, "
            f"failed {summary.count(Outcome.FAILED)} in {summary.wall_seconds:.0f}s; "
            f"{summary.arm_requests} ARM requests; UI {dev.ui_url}",
            flush=True,
        )
        for r in results:
            if r.outcome is not Outcome.ENCRYPTED:
                print(f"  {r.message}", flush=True)
        if emit_json:
            print(summary.as_json(), flush=True)
        if keep_running:
            print("Everything stays up for a look at the UI; Ctrl-C stops it.", file=sys.stderr, flush=True)
            await asyncio.Event().wait()
        return summary
    finally:
        stop.set()
        if worker_task is not None:
            await asyncio.gather(worker_task, return_exceptions=True)
        if dev is not None:
            dev.stop()
        sim.stop()
        shutil.rmtree(state_dir, ignore_errors=True)
