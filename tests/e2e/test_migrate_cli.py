"""``adeflow migrate start|approve|confirm|status`` as an operator runs them (the venv's ``adeflow`` in a subprocess)
against a dev server, a worker in the test and the simulator: a fleet's migration rollout, canary first, with bulk
decisions recorded by each VM's run (issue 16, "Fleets")."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from activities.azure.clients import AzureClients
from adeflow.client.migration_runs import migration_progress, migration_result
from adeflow.client.rollouts import rollout_handle
from adeflow.domain.migration import ApprovalKind, MigrationOutcome, MigrationPhase
from adeflow.domain.model import VmRef
from azuresim.server import SimServer
from tests.support.chaos import eventually
from tests.support.fleets import SUB, vm
from tests.support.migration_runs import RG, data_vm, migration_fleet
from tests.support.servers import Run, SimFactory, new_worker

pytestmark = [pytest.mark.e2e, pytest.mark.migration]

OPS, OWNER = "ops@example.com", "owner@example.com"


def manifest(tmp_path: Path, rollout_id: str) -> Path:
    ids = "".join(
        f"  - id: /subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Compute/virtualMachines/{name}\n"
        for name in ("web-01", "web-02")
    )
    path = tmp_path / "migrate.yaml"
    path.write_text(
        f"rollout: {{name: {rollout_id}, canary: 1, waves: [5], failure_budget: 0, poll_interval: 1s}}\n"
        f"migrate: {{downtime: approval}}\nvms:\n{ids}"
    )
    return path


async def test_migrate_start_approve_confirm_status_over_a_canary_and_a_refusal(
    dev_env: WorkflowEnvironment,
    adeflow: Run,
    make_sim: SimFactory,
    azure_for: Callable[[SimServer], AzureClients],
    tmp_path: Path,
) -> None:
    client = dev_env.client
    rollout_id = f"leave-ade-{uuid.uuid4().hex[:6]}"
    plain = vm("web-02", data_disks=[{"lun": 0, "size_gb": 16}])  # never had ADE: its run refuses it (M-2)
    sim = make_sim(migration_fleet([data_vm("web-01"), plain]), 3600, 300)
    web01 = VmRef(SUB, RG, "web-01")

    async def phase_is(phase: MigrationPhase) -> bool:
        try:
            return (await migration_progress(client, web01)).phase is phase
        except RPCError:  # not started yet
            return False

    async with new_worker(dev_env, azure_for(sim)) as worker:
        queue = worker.task_queue
        started = await adeflow("migrate", "start", str(manifest(tmp_path, rollout_id)), queue=queue)
        assert started.returncode == 0, started.stderr
        assert f"migration rollout {rollout_id} (2 VMs): workflow rollout/{rollout_id}" in started.stdout

        await eventually(lambda: phase_is(MigrationPhase.AWAIT_DOWNTIME), "web-01 waits for its downtime", 90)
        nothing = await adeflow(
            "migrate", "approve", rollout_id, "--cleanup", "--wave", "1", "--operator", OPS, queue=queue
        )
        assert nothing.returncode == 1, nothing.stdout + nothing.stderr  # wave 1 waits for the canary: nothing sent
        assert "skipped  web-02: its migration has not started yet" in nothing.stdout
        assert (
            nothing.stderr.strip().startswith("adeflow: cleanup: no running migration")
            and len(nothing.stderr.strip().splitlines()) == 1
        )

        approved = await adeflow(
            "migrate", "approve", rollout_id, "--downtime", "--wave", "0", "--operator", OPS, queue=queue
        )
        assert approved.returncode == 0, approved.stderr
        assert "recorded web-01: downtime recorded for ops@example.com" in approved.stdout
        await eventually(lambda: phase_is(MigrationPhase.AWAIT_OWNER), "web-01 waits for its owner", 90)

        confirmed = await adeflow(
            "migrate", "confirm", rollout_id, "--new-vm-works", "--vm", "web-01", "--operator", OWNER, queue=queue
        )
        assert confirmed.returncode == 0, confirmed.stderr
        await eventually(lambda: phase_is(MigrationPhase.AWAIT_CLEANUP), "web-01 waits for the cleanup approval", 90)

        status = await adeflow("migrate", "status", rollout_id, queue=queue)
        assert status.returncode == 0, status.stderr
        assert f"{rollout_id}: running wave 0" in status.stdout and "pending 1, running 1" in status.stdout
        assert "waiting for people: await-cleanup 1" in status.stdout
        assert any(line.split()[:3] == ["web-01", RG, "await-cleanup"] for line in status.stdout.splitlines())

        kept = await adeflow("migrate", "approve", rollout_id, "--keep-source", "--operator", OPS, queue=queue)
        assert kept.returncode == 0, kept.stderr
        await rollout_handle(client, rollout_id).result()

        done = await adeflow("migrate", "status", rollout_id, queue=queue)
        watched = await adeflow("migrate", "watch", rollout_id, queue=queue)  # a closed rollout: one line, done
    assert watched.returncode == 0 and f"{rollout_id}: completed wave 2 | migrated 1, refused 1" in watched.stdout
    assert done.returncode == 0, done.stderr
    assert f"{rollout_id}: completed (workflow completed) wave 2" in done.stdout
    assert "migrated 1, refused 1" in done.stdout and "refused web-02: M-2" in done.stdout
    rows = {line.split()[0]: line.split()[2:4] for line in done.stdout.splitlines() if line.startswith("web-0")}
    assert rows == {"web-01": ["done", "migrated"], "web-02": ["refused", "refused"]}
    result = await migration_result(client, web01)
    assert result.outcome is MigrationOutcome.MIGRATED and result.deleted == []  # the source kept, as decided
    assert [(a.kind, a.by) for a in result.approvals] == [
        (ApprovalKind.DOWNTIME, OPS),
        (ApprovalKind.NEW_VM_WORKS, OWNER),
    ]
