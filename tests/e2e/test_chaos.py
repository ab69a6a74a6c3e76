"""Chaos, end to end (docs/original-design.md §5.6, issue 8): a real dev server, ``adeflow worker`` subprocesses and
the ARM simulator. Workers are SIGKILLed mid-phase, the dev server is stopped and restarted on its database file, the
simulator goes away (connection refused) and comes back on its port, and ARM answers 429 to everything for a while.
Every run must complete, and the simulator's request log must show no repeated side effect and no dangerous write
(``tests/support/data_safety.py``). Each case prints its figures (``pytest -s``): runs and side-effect counts."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client, WorkflowHandle

from adeflow.cli.devserver import free_port
from adeflow.client.rollouts import start_rollout
from adeflow.domain.fleet import FailureBudget, RolloutPolicy, VmSettings
from adeflow.domain.model import DisableInput, DisableResult, EncryptVmInput, Outcome, Phase, VmRef, VolumeType
from adeflow.domain.rollout import RolloutResult, RolloutStage, build_rollout_input
from azuresim.clock import SimClock
from azuresim.fleet import FleetSpec
from azuresim.requestlog import RequestRecord
from azuresim.server import SimServer
from tests.support.chaos import SideEffects, TemporalDev, Workers, eventually
from tests.support.data_safety import Expectations, violations
from tests.support.fleets import SUB, VAULT_ID, fleet_dict
from workflows.disable_encryption import DisableEncryptionWorkflow, disable_workflow_id
from workflows.encrypt_vm import EncryptVmWorkflow, encrypt_vm_workflow_id

pytestmark = [pytest.mark.chaos, pytest.mark.slow]

UBUNTU_2204 = {"publisher": "Canonical", "offer": "0001-com-ubuntu-server-jammy", "sku": "22_04-lts-gen2"}
RG = "rg-web"
RUN_TIMEOUT_S = 180.0


def vm_spec(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "name": name,
        "size": "Standard_D4s_v5",
        "image": UBUNTU_2204,
        "data_disks": [{"lun": 0, "size_gb": 4}],
        **spec,
    }


def expectations(names: list[str]) -> Expectations:
    return Expectations(disks={n.lower(): [f"{n}-osdisk".lower(), f"{n}-datadisk-0".lower()] for n in names})


def encrypt_input(name: str, poll_interval_s: float = 1.0) -> EncryptVmInput:
    return EncryptVmInput(
        vm=VmRef(SUB, RG, name), key_vault_id=VAULT_ID, volume_type=VolumeType.DATA, poll_interval_s=poll_interval_s
    )


@pytest.fixture(scope="module")
async def temporal(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[TemporalDev]:
    """One dev server (its own database file) for the module's cases that do not restart it."""
    dev = TemporalDev(tmp_path_factory.mktemp("temporal"))
    try:
        await dev.start()
        yield dev
    finally:
        dev.stop()


@pytest.fixture
def sims(tmp_path: Path) -> Iterator[Callable[..., SimServer]]:
    """Simulators on a fixed port (so one can come back where it was), stopped at teardown."""
    started: list[SimServer] = []

    def make(specs: list[dict[str, Any]], scale: float, **rates: Any) -> SimServer:
        fleet = FleetSpec.model_validate(fleet_dict(specs, **rates))
        sim = SimServer(fleet, clock=SimClock(scale=scale), port=free_port(), state_dir=tmp_path / f"sim{len(started)}")
        sim.start_in_thread()
        started.append(sim)
        return sim

    yield make
    for sim in started:
        sim.stop()


@pytest.fixture
def workers_for(tmp_path: Path) -> Iterator[Callable[[str, SimServer], Workers]]:
    made: list[Workers] = []

    def make(temporal_address: str, sim: SimServer) -> Workers:
        workers = Workers(tmp_path, temporal_address, f"chaos-{uuid.uuid4().hex[:8]}", sim)
        made.append(workers)
        return workers

    yield make
    for workers in made:
        workers.stop_all()


def _for(vm: str, records: list[RequestRecord]) -> list[RequestRecord]:
    return [r for r in records if f"/{vm}".lower() in r.path.lower()]


# ------------------------------------------------------------------------------------------------ worker SIGKILL

KILL_PHASES = ["backup", "enable", "encrypting", "verify", "disable", "remove"]
DISABLE_PHASES = {"disable", "remove"}


@dataclass
class KillCase:
    phase: str
    name: str
    sim: SimServer
    handle: WorkflowHandle[Any, Any]

    def log(self) -> list[RequestRecord]:
        return _for(self.name, self.sim.requests())

    def seen(self, method: str, detail_prefix: str = "", operation: str = "", status: int | None = None) -> bool:
        return any(
            r.method == method
            and r.detail.startswith(detail_prefix)
            and (not operation or r.operation == operation)
            and (status is None or r.status == status)
            for r in self.log()
        )

    async def phase_is(self, *phases: Phase) -> bool:
        progress = await self.handle.query("progress")
        return str(progress["phase"]) in {p.value for p in phases}


async def _reach(case: KillCase) -> None:
    """Wait until the run is in the middle of ``case.phase``: an ARM operation of that phase in flight."""
    if case.phase == "backup":  # a snapshot LRO is running
        await eventually(async_(lambda: case.seen("PUT", operation="Snapshots_CreateOrUpdate")), "snapshot PUT")
    elif case.phase == "enable":  # the extension PUT's LRO is running
        await eventually(async_(lambda: case.seen("PUT", "EnableEncryption")), "enable PUT")
    elif case.phase == "encrypting":  # polling the extension's progress
        await eventually(lambda: case.phase_is(Phase.ENCRYPTING), "phase encrypting")
        before = len(case.log())
        await eventually(async_(lambda: len(case.log()) > before + 1), "a progress poll")
    elif case.phase == "verify":  # the disk reads of verify are held by 429s, so the activity is in flight
        await eventually(lambda: case.phase_is(Phase.ENCRYPTING), "phase encrypting")
        case.sim.inject({"kind": "throttle", "vm": case.name, "operation": "Disks_Get", "retry_after": 1})
        await eventually(lambda: case.phase_is(Phase.VERIFY), "phase verify")
        await eventually(async_(lambda: case.seen("GET", operation="Disks_Get", status=429)), "a held disk read")
    elif case.phase == "disable":  # the disable PUT's LRO is running
        await eventually(async_(lambda: case.seen("PUT", "DisableEncryption")), "disable PUT")
    elif case.phase == "remove":  # the extension DELETE is running
        await eventually(async_(lambda: case.seen("DELETE")), "extension DELETE")


def async_(check: Callable[[], bool]) -> Callable[[], Awaitable[bool]]:
    async def run() -> bool:
        return check()

    return run


@pytest.mark.parametrize("phase", KILL_PHASES)
async def test_worker_sigkill_during_a_phase_loses_no_run_and_repeats_no_side_effect(
    phase: str,
    temporal: TemporalDev,
    sims: Callable[..., SimServer],
    workers_for: Callable[[str, SimServer], Workers],
) -> None:
    started = time.monotonic()
    name = f"kill-{phase}"
    disabling = phase in DISABLE_PHASES
    spec = vm_spec(name, encrypted={"data": True}) if disabling else vm_spec(name)
    # 1 s real = 1 simulated minute: a snapshot and an extension PUT take 3 s, the data volume 4 s.
    sim = sims([spec], 60.0, snapshot_seconds=180, stamp_seconds=180, gb_per_hour=60)
    workers = workers_for(temporal.address, sim)
    first = await workers.start()
    client = await Client.connect(temporal.address)
    ref = VmRef(SUB, RG, name)
    handle: WorkflowHandle[Any, Any]
    if disabling:
        handle = await client.start_workflow(
            DisableEncryptionWorkflow.run,
            DisableInput(ref, poll_interval_s=1.0),
            id=disable_workflow_id(ref),
            task_queue=workers.task_queue,
        )
    else:
        handle = await client.start_workflow(
            EncryptVmWorkflow.run, encrypt_input(name), id=encrypt_vm_workflow_id(ref), task_queue=workers.task_queue
        )
    case = KillCase(phase, name, sim, handle)

    await _reach(case)
    first.kill()
    killed_at = len(case.log())
    sim.clear_faults()
    await workers.start()
    result = await asyncio.wait_for(handle.result(), RUN_TIMEOUT_S)

    if disabling:
        assert isinstance(result, DisableResult)
        assert (result.outcome, result.extension_removed) == (Outcome.DISABLED, True), result
    else:
        assert result.outcome is Outcome.ENCRYPTED, result
    records = sim.requests()
    fx = SideEffects.of(records)
    assert fx.repeated() == []
    assert violations(records, expectations([name])) == []
    assert sum(fx.snapshots_created.values()) == 2  # the OS disk and the data disk, once each
    if disabling:
        assert (sum(fx.disable_puts.values()), sum(fx.enable_puts.values())) == (1, 0)
        assert sum(fx.deletes.values()) >= 1
    else:
        assert (sum(fx.enable_puts.values()), sum(fx.disable_puts.values()), sum(fx.deletes.values())) == (1, 0, 0)
    assert len(case.log()) > killed_at  # the second worker did the rest
    print(
        "\n" + fx.line(f"worker SIGKILL during {phase}", 1, f"workers 2; wall {time.monotonic() - started:.1f}s"),
        flush=True,
    )


# ------------------------------------------------------------------------------------------------ server restart


async def test_dev_server_restart_during_a_rollout_loses_nothing(
    tmp_path: Path,
    sims: Callable[..., SimServer],
    workers_for: Callable[[str, SimServer], Workers],
) -> None:
    started = time.monotonic()
    names = [f"restart-{i:02d}" for i in range(10)]
    sim = sims([vm_spec(n) for n in names], 600.0)
    dev = TemporalDev(tmp_path / "temporal")
    try:
        await dev.start()
        workers = workers_for(dev.address, sim)
        worker = await workers.start()
        client = await Client.connect(dev.address)
        rollout_id = f"chaos-restart-{uuid.uuid4().hex[:6]}"
        handle = await _start_rollout(client, rollout_id, names, workers.task_queue, poll_interval_s=2.0)
        # Down while VMs are mid-run: at least one has its extension PUT, none has finished all of it.
        await eventually(async_(lambda: SideEffects.of(sim.requests()).enable_puts.total() >= 1), "an enable PUT")
        dev.stop()
        down = time.monotonic()
        await asyncio.sleep(3.0)  # the outage itself, not a wait for a condition
        await dev.start()
        back = time.monotonic() - down
        client = await Client.connect(dev.address)
        result: RolloutResult = await asyncio.wait_for(
            client.get_workflow_handle(handle.id, result_type=RolloutResult).result(), RUN_TIMEOUT_S
        )
        assert result.stage is RolloutStage.COMPLETED, result
        assert result.counts["encrypted"] == len(names), result
        assert worker.process.poll() is None  # the worker rode out the restart
        records = sim.requests()
        fx = SideEffects.of(records)
        assert fx.repeated() == []
        assert violations(records, expectations(names)) == []
        assert sum(fx.enable_puts.values()) == len(names)
        print(
            "\n"
            + fx.line(
                "dev server restart during a 10-VM rollout",
                len(names),
                f"server down {back:.1f}s, starts {dev.starts}; wall {time.monotonic() - started:.1f}s",
            ),
            flush=True,
        )
    finally:
        dev.stop()


async def _start_rollout(
    client: Client, rollout_id: str, names: list[str], task_queue: str, poll_interval_s: float
) -> WorkflowHandle[Any, RolloutResult]:
    policy = RolloutPolicy(
        name=rollout_id,
        concurrency=100,
        per_subscription_concurrency=100,
        canary=1,
        waves=(len(names),),
        failure_budget=FailureBudget(count=0),
        poll_interval_s=poll_interval_s,
    )
    settings = VmSettings(key_vault_id=VAULT_ID, volume_type=VolumeType.DATA)
    request = build_rollout_input(rollout_id, policy, [(VmRef(SUB, RG, n), settings) for n in names])
    return await start_rollout(client, request, task_queue)


# ------------------------------------------------------------------------------------------------ ARM outage

OUTAGE_S = 15.0


async def test_arm_outage_runs_wait_and_resume(
    temporal: TemporalDev,
    sims: Callable[..., SimServer],
    workers_for: Callable[[str, SimServer], Workers],
) -> None:
    """The simulator stops listening (connection refused) mid-run and comes back on its port: no run fails."""
    started = time.monotonic()
    names = [f"outage-{i}" for i in range(5)]
    sim = sims([vm_spec(n) for n in names], 60.0, snapshot_seconds=180, stamp_seconds=180, gb_per_hour=60)
    workers = workers_for(temporal.address, sim)
    await workers.start()
    client = await Client.connect(temporal.address)
    handles = [
        await client.start_workflow(
            EncryptVmWorkflow.run,
            encrypt_input(n),
            id=encrypt_vm_workflow_id(VmRef(SUB, RG, n)),
            task_queue=workers.task_queue,
        )
        for n in names
    ]
    await eventually(async_(lambda: SideEffects.of(sim.requests()).enable_puts.total() >= 1), "an enable PUT")
    port, before = sim.port, len(sim.requests())
    sim.stop()
    await asyncio.sleep(OUTAGE_S)  # the outage itself, not a wait for a condition
    sim.start_in_thread()
    assert sim.port == port
    results = await asyncio.wait_for(asyncio.gather(*(h.result() for h in handles)), RUN_TIMEOUT_S)
    assert [r.outcome for r in results] == [Outcome.ENCRYPTED] * len(names), [r.message for r in results]
    records = sim.requests()
    fx = SideEffects.of(records)
    assert len(records) > before
    assert fx.repeated() == []
    assert violations(records, expectations(names)) == []
    assert sum(fx.enable_puts.values()) == len(names)
    print(
        "\n" + fx.line(f"ARM unreachable for {OUTAGE_S:.0f}s", len(names), f"wall {time.monotonic() - started:.1f}s"),
        flush=True,
    )


# ------------------------------------------------------------------------------------------------ throttling storm

STORM_VMS = 100
STORM_S = 30.0


async def test_throttling_storm_during_a_100_vm_rollout_fails_no_vm(
    temporal: TemporalDev,
    sims: Callable[..., SimServer],
    workers_for: Callable[[str, SimServer], Workers],
) -> None:
    """Every ARM request answers 429 (Retry-After 1) for STORM_S seconds while a 100-VM rollout runs."""
    started = time.monotonic()
    names = [f"storm-{i:03d}" for i in range(STORM_VMS)]
    # 1 s real = 10 simulated minutes: a 4 GB data volume encrypts in 2.4 s.
    sim = sims([vm_spec(n) for n in names], 600.0)
    workers = workers_for(temporal.address, sim)
    await workers.start()
    client = await Client.connect(temporal.address)
    rollout_id = f"chaos-storm-{uuid.uuid4().hex[:6]}"
    handle = await _start_rollout(client, rollout_id, names, workers.task_queue, poll_interval_s=5.0)
    await eventually(
        async_(lambda: SideEffects.of(sim.requests()).enable_puts.total() >= 10), "ten enable PUTs", RUN_TIMEOUT_S
    )
    sim.inject({"kind": "throttle", "duration_s": STORM_S, "retry_after": 1})
    storm_from = len(sim.requests())
    result: RolloutResult = await asyncio.wait_for(handle.result(), RUN_TIMEOUT_S)
    assert result.stage is RolloutStage.COMPLETED, result
    assert result.counts["encrypted"] == STORM_VMS and result.counts["failed"] == 0, result
    records = sim.requests()
    fx = SideEffects.of(records)
    storm = SideEffects.of(records[storm_from:])
    assert storm.throttled > 0
    assert fx.repeated() == []
    assert violations(records, expectations(names)) == []
    assert sum(fx.enable_puts.values()) == STORM_VMS
    print(
        "\n"
        + fx.line(
            f"throttling storm ({STORM_S:.0f}s of 429) during a {STORM_VMS}-VM rollout",
            STORM_VMS,
            f"429s in the storm {storm.throttled}; wall {time.monotonic() - started:.1f}s",
        ),
        flush=True,
    )
