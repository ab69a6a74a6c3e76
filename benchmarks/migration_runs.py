"""Migrations off ADE driven as an operator would (issue 16), shared by ``make bench-migration``
(:mod:`benchmarks.migration`) and the chaos test of a worker killed mid-copy (tests/e2e/test_migration_chaos.py):
the fleet, the people's decisions through :mod:`adeflow.client.migration_runs`, the bytes the simulator saw moved, and
the worker SIGKILLed once a disk's copy is under way.

The data-only path (M-3) runs whole: backup, ADE disabled on the data volumes, extension removed, the downtime
approval, deallocation, Upload disks and the sparse copies, the new VM with encryption at host, the owner's word
and the cleanup decision. The simulator's ADE and backup rates are fast so that the copy, which runs at the
simulator's per-disk throughput (``sim.disk_mb_per_s`` on the scaled clock), dominates the run.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHistory

from adeflow.client.migration_runs import decide, migration_progress, migration_result, start_migration
from adeflow.domain.migration import MigrationInput, MigrationPhase, MigrationProgress, MigrationResult
from adeflow.domain.model import VmRef
from adeflow.inputs.settings import Settings, TemporalSettings
from azuresim.requestlog import RequestRecord
from azuresim.server import SimServer
from benchmarks.processes import kill_and_replace_worker, worker_env, worker_process

MIB = 1024 * 1024
SUB = "6f1c3a52-8d11-4c4e-9a7e-000000000016"
RG = "rg-migrate"
LOCATION = "eastus"
VAULT = "kv-ade-migrate"
UBUNTU_2204 = {"publisher": "Canonical", "offer": "0001-com-ubuntu-server-jammy", "sku": "22_04-lts-gen2"}
FAST_ADE = {
    "gb_per_hour": 100_000.0,
    "stamp_seconds": 5.0,
    "snapshot_seconds": 5.0,
    "stripdown_seconds": 5.0,
    "format_all_seconds": 5.0,
    "backup_seconds": 10.0,
}
"""Simulated seconds for everything but the copy: the copy is what these runs measure."""
QUEUE_SIM_S = 600.0
"""A disk's queue before ServerBusy (simulated seconds): deep enough for every call a copy keeps in flight, so the
throughput limit paces the copy rather than 503s with their whole-second Retry-After."""
ENDED = (MigrationPhase.DONE, MigrationPhase.FAILED, MigrationPhase.REFUSED, MigrationPhase.ROLLBACK)
_PUT_PAGE = re.compile(r"target=(?P<target>\S+) bytes=(?P<lo>\d+)-(?P<hi>\d+)")


def data_only_vm(name: str, os_written_mib: int, data_disks: list[tuple[int, int]]) -> dict[str, Any]:
    """A VM with ADE on its data volumes (M-3): a 30 GB OS disk and data disks ``(size GB, written MiB)``, the written
    MiB in one run from the disk's start (a copy's time is its written bytes, wherever they lie)."""

    def written(mib: int) -> list[dict[str, int]]:
        return [{"offset_mib": 0, "length_mib": mib}] if mib else []

    return {
        "name": name,
        "size": "Standard_D4s_v5",
        "image": UBUNTU_2204,
        "os_disk": {"size_gb": 30, "written_extents": written(os_written_mib)},
        "data_disks": [
            {"lun": lun, "size_gb": size_gb, "written_extents": written(mib)}
            for lun, (size_gb, mib) in enumerate(data_disks)
        ],
        "encrypted": {"data": True},
    }


def migration_fleet(vms: list[dict[str, Any]], scale: float, disk_mib_per_real_s: float) -> dict[str, Any]:
    """One subscription (EncryptionAtHost registered), one resource group with a disk-encryption vault; each disk
    copies at ``disk_mib_per_real_s`` MiB per real second on a clock ``scale`` times faster than real (the fleet
    file, for :class:`azuresim.fleet.FleetSpec`)."""
    sim = {**FAST_ADE, "disk_mb_per_s": disk_mib_per_real_s / scale, "disk_queue_s": QUEUE_SIM_S}
    return {
        "sim": sim,
        "subscriptions": [
            {
                "id": SUB,
                "encryption_at_host_feature": "Registered",
                "resource_groups": [
                    {
                        "name": RG,
                        "location": LOCATION,
                        "key_vaults": [{"name": VAULT, "enabled_for_disk_encryption": True}],
                        "vms": vms,
                    }
                ],
            }
        ],
    }


def vm_ref(name: str) -> VmRef:
    return VmRef(SUB, RG, name)


def client_settings(address: str, task_queue: str) -> Settings:
    """What ``adeflow migrate`` would read from ADEFLOW_*: the server and the (create) task queue."""
    return Settings(temporal=TemporalSettings(address=address, task_queue=task_queue))


def source_disks(sim: SimServer, name: str) -> list[str]:
    """The source VM's managed disks by name (before the run deletes or replaces anything)."""
    source = sim.state.vm(SUB, RG, name)
    return [d.name for d in [source.os_disk, *source.data_disks] if d is not None]


def written_bytes(sim: SimServer, disks: Iterable[str]) -> int:
    """What the sources hold (their written pages, VHD footer included): what a sparse copy has to move."""
    return sum(sim.state.disk(SUB, RG, d).pages.written_bytes for d in disks)


def put_page_bytes(records: Iterable[RequestRecord], targets: Iterable[str] | None = None) -> int:
    """Bytes every accepted Put Page From URL wrote (the simulator's request log, re-copies included), into
    ``targets`` (disk names) or any disk."""
    wanted = None if targets is None else {t.lower() for t in targets}
    total = 0
    for record in records:
        found = _PUT_PAGE.search(record.detail)
        if record.operation != "PutPageFromURL" or record.status != 201 or not found:
            continue
        if wanted is None or found["target"].lower() in wanted:
            total += int(found["hi"]) + 1 - int(found["lo"])
    return total


WORKFLOW_TASK_EVENTS = frozenset(
    {
        EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
        EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED,
        EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
    }
)


def history_figures(history: WorkflowHistory) -> dict[str, int]:
    """A run's history: its events, and those that are not workflow-task bookkeeping (``run_events``). Parallel
    activities (one copy per disk) that finish within one workflow task share its three events, or get their own
    when they finish apart: the total may differ by that between two runs of the same shape; ``run_events`` never."""
    events = list(history.events)
    return {
        "events": len(events),
        "run_events": sum(1 for e in events if e.event_type not in WORKFLOW_TASK_EVENTS),
        "bytes": sum(e.ByteSize() for e in events),
    }


@dataclass
class Driven:
    """One VM's migration as the operator drove it: the result, and the real time just before each decision was
    sent (for the data-safety checker, tests/support/data_safety.py)."""

    vm: str
    result: MigrationResult
    workflow_id: str
    downtime_sent_at: datetime | None = None
    cleanup_sent_at: datetime | None = None


async def until_phase(
    client: Client, vm: VmRef, *phases: MigrationPhase, timeout_s: float = 600.0
) -> MigrationProgress:
    """Poll the run's progress until it is in one of ``phases`` or has ended."""
    deadline = time.monotonic() + timeout_s
    while True:
        now = await migration_progress(client, vm)
        if now.phase in phases or now.phase in ENDED:
            return now
        if time.monotonic() > deadline:
            raise TimeoutError(f"{vm.name}: still in {now.phase.value} after {timeout_s:.0f} s: {now.detail}")
        await asyncio.sleep(0.2)


async def drive(
    client: Client,
    settings: Settings,
    request: MigrationInput,
    *,
    downtime_gate: Callable[[], Awaitable[Any]] | None = None,
    cleanup: bool = False,
    operator: str = "bench@example.com",
) -> Driven:
    """Start one VM's migration and give its decisions when it asks: the downtime once it waits for it (after
    ``downtime_gate``, e.g. until every VM of a fleet waits too), the owner's confirmation, then the cleanup approval
    (``cleanup``) or keep the source."""
    vm = request.vm
    run = await start_migration(client, settings, request)
    downtime_sent_at = cleanup_sent_at = None
    waiting = await until_phase(client, vm, MigrationPhase.AWAIT_DOWNTIME)
    if waiting.phase is MigrationPhase.AWAIT_DOWNTIME:
        if downtime_gate is not None:
            await downtime_gate()
        downtime_sent_at = datetime.now(UTC)
        await decide(client, vm, "downtime", operator)
        waiting = await until_phase(client, vm, MigrationPhase.AWAIT_OWNER)
    if waiting.phase is MigrationPhase.AWAIT_OWNER:
        await decide(client, vm, "new-vm-works", "owner@example.com")
        waiting = await until_phase(client, vm, MigrationPhase.AWAIT_CLEANUP)
    if waiting.phase is MigrationPhase.AWAIT_CLEANUP:
        if cleanup:
            cleanup_sent_at = datetime.now(UTC)
        await decide(client, vm, "cleanup" if cleanup else "keep-source", operator)
    result = await migration_result(client, vm)
    return Driven(vm.name, result, run.handle.id, downtime_sent_at, cleanup_sent_at)


async def when_copied(sim: SimServer, target: str, at_bytes: int, timeout_s: float = 300.0) -> int:
    """Wait until the simulator has accepted ``at_bytes`` of Put Page From URL into disk ``target``; the bytes then."""
    deadline = time.monotonic() + timeout_s
    while (done := put_page_bytes(sim.requests(), [target])) < at_bytes:
        if time.monotonic() > deadline:
            raise TimeoutError(f"disk {target}: {done} of {at_bytes} bytes copied after {timeout_s:.0f} s")
        await asyncio.sleep(0.05)
    return done


# -- a worker SIGKILLed mid-copy -----------------------------------------------------------------------------------


@dataclass
class KilledCopy:
    """One VM migrated through a worker SIGKILLed while its data disk was being copied."""

    driven: Driven
    source_disk: str
    target_disk: str
    allocated_bytes: int
    """Written on the source disk: what its copy had to move once."""
    moved_bytes: int
    """Put Page From URL bytes the simulator accepted into the target, over every attempt."""
    moved_at_kill: int
    checkpoint_bytes: int
    records: list[RequestRecord]

    @property
    def recopied_bytes(self) -> int:
        """Bytes the resumed copy sent again (the killed attempt's work past the checkpoint Temporal held)."""
        return self.moved_bytes - self.allocated_bytes

    @property
    def mapping(self) -> Any:
        """The run's record of the interrupted disk (``DiskMapping``: allocated, copied, resumed from)."""
        return next(d for d in self.driven.result.disks if d.source_disk_id.lower().endswith("/" + self.source_disk))


async def copy_through_worker_kill(
    client: Client,
    address: str,
    sim: SimServer,
    log: Path,
    request: MigrationInput,
    *,
    kill_share: float = 0.5,
) -> KilledCopy:
    """Migrate ``request.vm`` (cleanup approved) with a worker process (``python -m worker``) that is SIGKILLed once
    ``kill_share`` of its last data disk's written bytes are on the target, and replaced at once; the copy must
    resume from the checkpoint the killed worker heartbeated. Temporal keeps the first heartbeat of an attempt and
    then one per throttle interval (0.8 x the heartbeat timeout, 16 s): a kill earlier than that into the copy
    finds only the empty first checkpoint, so the disk's copy should take well over twice that."""
    task_queue = f"migrate-kill-{uuid.uuid4().hex[:6]}"
    env = worker_env(address, task_queue, sim, unlimited=False)
    disks = source_disks(sim, request.vm.name)
    source = disks[-1]
    target = request.targets.disk(source)
    allocated = written_bytes(sim, [source])
    first = len(sim.requests())
    async with worker_process(client, ["-m", "worker"], env, task_queue, log) as worker:
        running = asyncio.create_task(drive(client, client_settings(address, task_queue), request, cleanup=True))
        killed_at: list[int] = []

        async def mid_copy() -> None:
            killed_at.append(await when_copied(sim, target, round(allocated * kill_share)))

        try:
            async with kill_and_replace_worker(client, worker, env, task_queue, log, mid_copy):
                driven = await running
        finally:
            running.cancel()
    records = sim.requests()[first:]
    moved = put_page_bytes(records, [target])
    return KilledCopy(driven, source, target, allocated, moved, killed_at[0], request.checkpoint_bytes, records)
