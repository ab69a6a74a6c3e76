"""Migration benchmark (issue 16): a fleet of ADE VMs moved to encryption at host on the data-only path (M-3), its
disks copied under the simulator's per-disk throughput limit on the scaled clock. Writes ``bench-migration.json``::

    .venv/bin/python -m benchmarks.migration [--scale 10] [--disk-mib-s 10] [--out bench-migration.json]

Two runs against one Temporal dev server, each with its own simulator and ``python -m worker`` process, the
people's decisions given through :mod:`adeflow.client.migration_runs` (:mod:`benchmarks.migration_runs`):

1. the fleet: every VM is driven up to the downtime approval, which is then given to all at once, so the copies
   start together. The copy phase (``copying`` in each run's timings) is compared with the ideal schedule: each disk
   moves its written bytes at the per-disk limit, the disks in parallel (``ideal_copy_seconds`` of
   :mod:`adeflow.domain.migration.copy`), from when each VM entered the phase. Bytes moved by Put Page From URL
   (the simulator's log) over bytes written on the sources shows the copy is sparse. The VMs ``mig-small`` (a 4 GB
   disk) and ``mig-large`` (1 TiB) give the history length per VM against disk size.
2. one VM whose worker is SIGKILLed mid-copy and replaced at once: the bytes re-copied (moved into the target over
   every attempt minus the source's written bytes) against one checkpoint (``checkpoint_bytes``).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
import shutil
import tempfile
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from temporalio.client import Client

from adeflow.cli.devserver import DevServer
from adeflow.domain.migration import MigrationInput, MigrationOutcome, MigrationPhase, MigrationResult
from adeflow.domain.migration.copy import ideal_copy_seconds
from azuresim.clock import SimClock
from azuresim.fleet import FleetSpec
from benchmarks.migration_runs import (
    MIB,
    client_settings,
    copy_through_worker_kill,
    data_only_vm,
    drive,
    history_figures,
    migration_fleet,
    put_page_bytes,
    source_disks,
    vm_ref,
    written_bytes,
)
from benchmarks.processes import ROOT, Meter, Proc, simulator, worker_env, worker_process
from benchmarks.procstat import machine
from benchmarks.report import publish

FLEET: dict[str, tuple[int, list[tuple[int, int]]]] = {
    # name: (OS disk written MiB, data disks [(size GB, written MiB)])
    "mig-small": (64, [(4, 64)]),
    "mig-large": (64, [(1024, 640)]),
    "mig-a": (256, [(64, 512), (32, 384)]),
    "mig-b": (192, [(128, 576)]),
    "mig-c": (320, [(16, 448), (16, 256)]),
    "mig-d": (128, [(256, 600)]),
}
SMALL, LARGE = "mig-small", "mig-large"
KILLED = ("mig-resume", 64, [(128, 512)])
"""The worker-kill run's VM: a 512 MiB written data disk, the worker killed half-way through its copy."""
TARGETS = {
    "migration_copy_over_ideal": "<= 1.10",
    "migration_copied_over_allocated": "<= 1.01",
    "migration_resume_recopied_mib": "<= checkpoint_mib",
    "history_events_per_vm": "flat in disk size: small == large up to workflow-task batching of the parallel "
    "per-disk activities (3 events per disk and parallel step)",
    "history_run_events_per_vm": "small == large",
}
POLL_S = 2.0
"""The runs' status polls (decryption), real seconds."""


def request(name: str) -> MigrationInput:
    """The manifest's defaults (256 MiB checkpoints, 8 calls in flight per disk), polls fit for a fast clock."""
    return MigrationInput(vm=vm_ref(name), poll_interval_s=POLL_S, reminder_interval_s=7 * 24 * 3600.0)


def copy_window(result: MigrationResult) -> tuple[datetime, datetime]:
    timing = next(t for t in result.timings if t.phase is MigrationPhase.COPYING)
    return timing.started_at, timing.finished_at


async def bench_fleet(client: Client, server: DevServer, work: Path, scale: float, rate: float) -> dict[str, Any]:
    vms = [data_only_vm(name, os_mib, data) for name, (os_mib, data) in FLEET.items()]
    fleet = FleetSpec.model_validate(migration_fleet(vms, scale, rate))
    task_queue = f"bench-migration-{uuid.uuid4().hex[:6]}"
    with simulator(fleet, SimClock(scale=scale), work / "sim-migration") as sim:
        disks = {name: source_disks(sim, name) for name in FLEET}
        written = {d: written_bytes(sim, [d]) for ds in disks.values() for d in ds}
        env = worker_env(server.address, task_queue, sim, unlimited=False)
        settings = client_settings(server.address, task_queue)
        async with worker_process(client, ["-m", "worker"], env, task_queue, work / "worker-migration.log") as worker:
            meter = Meter(worker, Proc(server.process.pid))
            waiting: set[str] = set()
            everyone = asyncio.Event()

            async def gate(name: str) -> None:
                """The downtime of all VMs approved together, once each waits for it (M-7)."""
                waiting.add(name)
                if len(waiting) == len(FLEET):
                    everyone.set()
                await asyncio.wait_for(everyone.wait(), timeout=600)

            driven = await asyncio.gather(
                *(drive(client, settings, request(n), downtime_gate=functools.partial(gate, n)) for n in FLEET)
            )
            measured = meter.read()
        records = sim.requests()
    results = {d.vm: d.result for d in driven}
    failed = {n: r.message for n, r in results.items() if r.outcome is not MigrationOutcome.MIGRATED}
    if failed:
        raise RuntimeError(f"migrations did not end migrated: {failed}")
    bytes_per_s = rate * MIB
    windows = {n: copy_window(r) for n, r in results.items()}
    first = min(start for start, _ in windows.values())
    ideal_end = max(
        (start - first).total_seconds() + ideal_copy_seconds([written[d] for d in disks[n]], bytes_per_s)
        for n, (start, _) in windows.items()
    )
    wall = max((end - first).total_seconds() for _, end in windows.values())
    per_vm = {
        n: {
            "copy_wall_s": round((end - start).total_seconds(), 2),
            "copy_ideal_s": round(ideal_copy_seconds([written[d] for d in disks[n]], bytes_per_s), 2),
            "copy_started_after_s": round((start - first).total_seconds(), 2),
            "written_mib": round(sum(written[d] for d in disks[n]) / MIB, 1),
            "data_disks_gb": [m.size_bytes // 1024**3 for m in results[n].disks if m.lun is not None],
        }
        for n, (start, end) in windows.items()
    }
    histories = {}
    for d in driven:
        histories[d.vm] = history_figures(await client.get_workflow_handle(d.workflow_id).fetch_history())
        per_vm[d.vm]["history"] = histories[d.vm]
    moved = put_page_bytes(records)
    allocated = sum(written.values())
    return {
        "vms": len(FLEET),
        "disks": len(written),
        "clock_scale": scale,
        "disk_mib_per_s_real": rate,
        "disk_mib_per_s_sim": rate / scale,
        "copy_wall_s": wall,
        "copy_ideal_s": ideal_end,
        "copy_over_ideal": wall / ideal_end,
        "moved_mib": moved / MIB,
        "written_mib": allocated / MIB,
        "copied_over_allocated": moved / allocated,
        "product_copied_over_allocated": sum(r.bytes_copied for r in results.values())
        / sum(r.bytes_allocated for r in results.values()),
        "server_busy_503": sum(1 for r in records if r.status == 503),
        "put_page_from_url_calls": sum(1 for r in records if r.operation == "PutPageFromURL" and r.status == 201),
        "history": histories,
        "per_vm": per_vm,
        "cpu": measured,
    }


async def bench_worker_kill(client: Client, server: DevServer, work: Path, scale: float, rate: float) -> dict[str, Any]:
    name, os_mib, data = KILLED
    fleet = FleetSpec.model_validate(migration_fleet([data_only_vm(name, os_mib, data)], scale, rate))
    with simulator(fleet, SimClock(scale=scale), work / "sim-migration-kill") as sim:
        killed = await copy_through_worker_kill(
            client, server.address, sim, work / "worker-migration-kill.log", request(name)
        )
    result = killed.driven.result
    if result.outcome is not MigrationOutcome.MIGRATED:
        raise RuntimeError(f"{name} did not end migrated: {result.message}")
    mapping = killed.mapping
    return {
        "disk": killed.source_disk,
        "written_mib": killed.allocated_bytes / MIB,
        "moved_mib": killed.moved_bytes / MIB,
        "moved_at_kill_mib": killed.moved_at_kill / MIB,
        "recopied_mib": killed.recopied_bytes / MIB,
        "checkpoint_mib": killed.checkpoint_bytes / MIB,
        "resumed_from_mib": mapping.resumed_from_bytes / MIB,
        "product_copied_mib": mapping.copied_bytes / MIB,
        "copy_wall_s": (lambda w: (w[1] - w[0]).total_seconds())(copy_window(result)),
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="adeflow-bench-migration-"))
    report: dict[str, Any] = {"machine": machine(), "started": datetime.now(UTC).isoformat(timespec="seconds")}
    report["machine"]["load_avg_at_start"] = os.getloadavg()
    print(f"work dir {work}; load average {os.getloadavg()[0]:.2f}", flush=True)
    try:
        server = await DevServer.start(work / "temporal", ui=False)
        try:
            client = await Client.connect(server.address)
            print(f"[1/2] {len(FLEET)} VMs migrated, disks at {args.disk_mib_s} MiB/s (clock x{args.scale:.0f})")
            fleet = await bench_fleet(client, server, work, args.scale, args.disk_mib_s)
            print(f"      copy {fleet['copy_wall_s']:.1f} s, ideal {fleet['copy_ideal_s']:.1f} s", flush=True)
            print("[2/2] one VM, its worker SIGKILLed mid-copy", flush=True)
            killed = await bench_worker_kill(client, server, work, args.scale, args.disk_mib_s)
            print(f"      re-copied {killed['recopied_mib']:.1f} MiB", flush=True)
        finally:
            server.stop()
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    report.update(
        {
            "migration_copy_over_ideal": fleet["copy_over_ideal"],
            "migration_copied_over_allocated": fleet["copied_over_allocated"],
            "migration_resume_recopied_mib": killed["recopied_mib"],
            "checkpoint_mib": killed["checkpoint_mib"],
            "history_events_per_vm_small_disk": fleet["history"][SMALL]["events"],
            "history_events_per_vm_large_disk": fleet["history"][LARGE]["events"],
            "history_run_events_per_vm_small_disk": fleet["history"][SMALL]["run_events"],
            "history_run_events_per_vm_large_disk": fleet["history"][LARGE]["run_events"],
            "targets": TARGETS,
            "fleet": fleet,
            "worker_killed": killed,
            "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        }
    )
    report["machine"]["load_avg_at_end"] = os.getloadavg()
    return report


def table(r: dict[str, Any]) -> str:
    fl, kl = r["fleet"], r["worker_killed"]
    small, large = fl["per_vm"][SMALL], fl["per_vm"][LARGE]
    rows = [
        ("figure", "measured", "target"),
        (
            f"copy phase, {fl['vms']} VMs / {fl['disks']} disks: wall / ideal",
            f"{r['migration_copy_over_ideal']:.3f} ({fl['copy_wall_s']:.1f} s / {fl['copy_ideal_s']:.1f} s)",
            TARGETS["migration_copy_over_ideal"],
        ),
        (
            "bytes moved by Put Page From URL / written",
            f"{r['migration_copied_over_allocated']:.4f} ({fl['moved_mib']:.0f} / {fl['written_mib']:.0f} MiB)",
            TARGETS["migration_copied_over_allocated"],
        ),
        (
            "worker SIGKILLed mid-copy: re-copied MiB",
            f"{r['migration_resume_recopied_mib']:.1f} (killed at {kl['moved_at_kill_mib']:.0f} of "
            f"{kl['written_mib']:.0f} MiB; resumed from {kl['resumed_from_mib']:.0f})",
            f"<= {r['checkpoint_mib']:.0f} (checkpoint)",
        ),
        (
            f"history events per VM: {small['data_disks_gb'][0]} GB / {large['data_disks_gb'][0]} GB data disk",
            f"{r['history_events_per_vm_small_disk']} / {r['history_events_per_vm_large_disk']} "
            f"({small['history']['bytes']} / {large['history']['bytes']} bytes)",
            "flat (+-3 per disk: task batching)",
        ),
        (
            "  of which not workflow-task events",
            f"{r['history_run_events_per_vm_small_disk']} / {r['history_run_events_per_vm_large_disk']}",
            "equal",
        ),
        ("503 ServerBusy during the fleet's copy", str(fl["server_busy_503"]), ""),
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    m = r["machine"]
    lines.append(
        f"machine: {m['cpus']} CPUs {m['cpu_model']}, {m['memory_gb']} GB, Python {m['python']}; clock x"
        f"{fl['clock_scale']:.0f}, {fl['disk_mib_per_s_real']:.0f} MiB/s per disk; load avg at start "
        f"{m['load_avg_at_start'][0]:.2f}, at end {m['load_avg_at_end'][0]:.2f}"
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=10.0, help="simulated seconds per real second")
    parser.add_argument("--disk-mib-s", type=float, default=10.0, help="each disk's throughput, MiB per real second")
    parser.add_argument("--out", type=Path, default=ROOT / "bench-migration.json")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs, databases)")
    args = parser.parse_args()
    report = asyncio.run(run(args))
    publish(args.out, report, table(report))


if __name__ == "__main__":
    main()
