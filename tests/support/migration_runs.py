"""MigrateToHostEncryptionWorkflow runs on the time-skipping server against the simulator: fleets, requests, the
waits for a phase and the people's updates (approvals sent by the test, timed for the data-safety checker)."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from temporalio import activity
from temporalio.client import WorkflowExecutionStatus, WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput, Interceptor

from activities.azure.clients import AzureClients
from adeflow.domain.migration import MigrationInput, MigrationPhase, MigrationProgress, MigrationResult, RebuildSpec
from adeflow.domain.model import ImageRef, VmRef
from azuresim.server import SimServer
from tests.support.data_safety import MigratedVm
from tests.support.fleets import SUB, fleet_dict, vm
from tests.support.servers import new_worker
from workflows.migrate_vm import MigrateToHostEncryptionWorkflow, migrate_workflow_id

RG = "rg-web"
SIM = {"feature_registration_seconds": 120, "provider_registration_seconds": 30}
"""Feature registration in two simulated minutes: with the clock at 60x, two real seconds."""
WEEK_S = 7 * 24 * 3600.0
SSH_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl ops@example"
REBUILD = RebuildSpec(ImageRef("Canonical", "ubuntu-24_04-lts", "server", "latest"), "azureuser", SSH_KEY)

Handle = WorkflowHandle[MigrateToHostEncryptionWorkflow, MigrationResult]


def data_vm(name: str, data_disks: int = 1, **spec: Any) -> dict[str, Any]:
    """A VM with ADE on its data volumes (M-3): 16 GB data disks with 2 GB written each."""
    disks = [{"lun": i, "size_gb": 16, "written_gb": 2} for i in range(data_disks)]
    return vm(name, data_disks=disks, os_disk={"size_gb": 30, "written_gb": 3}, encrypted={"data": True}, **spec)


def os_encrypted_vm(name: str, **spec: Any) -> dict[str, Any]:
    return vm(name, data_disks=[{"lun": 0, "size_gb": 16}], encrypted={"os": True, "data": True}, **spec)


def migration_fleet(vms: list[dict[str, Any]], *, feature: str = "Registered", **sim: Any) -> dict[str, Any]:
    fleet = fleet_dict(vms, **{**SIM, **sim})
    fleet["subscriptions"][0]["encryption_at_host_feature"] = feature
    return fleet


def migrate_request(name: str, **kw: Any) -> MigrationInput:
    """A request as an operator's manifest gives it; reminders weekly unless a test watches them."""
    defaults: dict[str, Any] = {"poll_interval_s": 300.0, "reminder_interval_s": WEEK_S}
    return MigrationInput(vm=VmRef(SUB, RG, name), **{**defaults, **kw})


async def start(env: WorkflowEnvironment, task_queue: str, request: MigrationInput) -> Handle:
    return await env.client.start_workflow(
        MigrateToHostEncryptionWorkflow.run, request, id=migrate_workflow_id(request.vm), task_queue=task_queue
    )


@contextlib.asynccontextmanager
async def running(
    env: WorkflowEnvironment, clients: AzureClients, request: MigrationInput, interceptors: Sequence[Interceptor] = ()
) -> AsyncIterator[Handle]:
    """A worker and one migration run; a run still waiting when the test leaves is terminated (a waiting run
    without a worker would hold the test server's clock for the next test)."""
    async with new_worker(env, clients, interceptors) as worker:
        handle = await start(env, worker.task_queue, request)
        try:
            yield handle
        finally:
            if (await handle.describe()).status is WorkflowExecutionStatus.RUNNING:
                await handle.terminate("test over")


def reminders(detail: str) -> int:
    found = re.search(r"\(reminder (\d+)\)", detail)
    return int(found.group(1)) if found else 0


async def progress(handle: Handle) -> MigrationProgress:
    return await handle.query(MigrateToHostEncryptionWorkflow.progress)


async def until_phase(
    env: WorkflowEnvironment, handle: Handle, *phases: MigrationPhase, real_s: float = 60.0, skip_time: bool = True
) -> MigrationProgress:
    """Let workflow time run (time skipping unlocked, as while awaiting a result) until the run is in one of
    ``phases`` or has ended; the test then acts, e.g. gives an approval, with the clock held again. ``skip_time``
    False: workflow time runs at the real pace meanwhile (no reminder timer fires early)."""
    deadline = time.monotonic() + real_s
    unlocked = env.time_skipping_unlocked() if skip_time else contextlib.nullcontext()  # type: ignore[attr-defined]
    async with unlocked:
        while True:
            now = await progress(handle)
            ended = now.phase in (MigrationPhase.DONE, MigrationPhase.FAILED, MigrationPhase.REFUSED)
            if now.phase in phases or ended:
                return now
            if time.monotonic() > deadline:
                raise AssertionError(f"still in {now.phase.value} after {real_s} s: {now.detail}")
            await asyncio.sleep(0.05)


async def send(handle: Handle, update: Any, operator: str = "alice@example.com") -> datetime:
    """Give an approval (update); returns the real time just before it was sent, for the data-safety checker."""
    sent = datetime.now(UTC)
    await handle.execute_update(update, operator)
    return sent


def migrated(sim: SimServer, name: str, new_vm: str, **kw: Any) -> MigratedVm:
    """The checker's view of one source VM: its disks and NICs as the simulator holds them before the run."""
    group = sim.state.resource_group(SUB, RG)
    source = group.vms[name.lower()]
    disks = [d.name for d in [source.os_disk, *source.data_disks] if d is not None]
    return MigratedVm(new_vm, disks, [f"{name}-nic"], **kw)


class AfterActivity(Interceptor):
    """Runs ``then`` once, right after the first successful ``name`` activity on the test's worker: the world
    changing at a chosen moment (e.g. the new VM deallocated by the host just after its creation), deterministically."""

    def __init__(self, name: str, then: Callable[[], None]) -> None:
        self.name = name
        self.then = then
        self.done = False

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _After(next, self)


class _After(ActivityInboundInterceptor):
    def __init__(self, next: ActivityInboundInterceptor, hook: AfterActivity) -> None:
        super().__init__(next)
        self.hook = hook

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        result = await super().execute_activity(input)
        if activity.info().activity_type == self.hook.name and not self.hook.done:
            self.hook.done = True
            self.hook.then()
        return result
