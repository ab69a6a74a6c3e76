"""A fleet's migration as one rollout (issue 16, "Fleets"): FleetRolloutWorkflow of kind ``migrate`` starts one
MigrateToHostEncryptionWorkflow per VM, canary first; people's decisions go to a wave at once
(``adeflow.client.migrations.decide_many``) and each run records its own; the runs' reports drive the waves."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest
from temporalio.testing import WorkflowEnvironment

from activities.azure.clients import AzureClients
from adeflow.client.migrations import DecisionAnswer, decide_many, members, start_migration_rollout
from adeflow.client.rollouts import rollout_handle
from adeflow.domain.migration import ApprovalKind, MigrationOutcome, MigrationPhase
from adeflow.domain.migration.fleet_rollout import build_migration_rollout, migration_counts
from adeflow.domain.model import VmRef
from adeflow.domain.rollout import RolloutStage
from adeflow.inputs.manifest import parse_migration_manifest_text
from azuresim.server import SimServer
from tests.support.fleets import SUB, vm
from tests.support.migration_runs import RG, AfterActivity, Handle, data_vm, migration_fleet, until_phase
from tests.support.servers import SimFactory, new_worker
from workflows.fleet_rollout import FleetRolloutWorkflow
from workflows.migrate_vm import MigrateToHostEncryptionWorkflow, migrate_workflow_id

pytestmark = pytest.mark.migration

Azure = Callable[[SimServer], AzureClients]
OPS, OWNER = "ops@example.com", "owner@example.com"


def manifest_text(names: list[str], rollout_id: str) -> str:
    ids = "".join(
        f"  - id: /subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Compute/virtualMachines/{n}\n"
        for n in names
    )
    return (
        f"version: 1\nrollout:\n  name: {rollout_id}\n  canary: 1\n  waves: [5]\n  failure_budget: 0\n"
        "  poll_interval: 5m\nmigrate:\n  downtime: approval\n  reminder_interval: 168h\n"
        f"vms:\n{ids}"
    )


def migration(env: WorkflowEnvironment, name: str) -> Handle:
    return env.client.get_workflow_handle_for(
        MigrateToHostEncryptionWorkflow.run, migrate_workflow_id(VmRef(SUB, RG, name))
    )


async def until_member(env: WorkflowEnvironment, rollout_id: str, name: str, status: str, real_s: float = 60.0) -> None:
    """Until the rollout says ``name``'s part is ``status`` (``running``: its run started). The clock stays held:
    starting a run, a preflight or a rollback needs no workflow timer, and a halted rollout with nothing left to
    wait for would otherwise let the test server skip its clock far ahead."""
    deadline = time.monotonic() + real_s
    while True:
        now = {m.vm.name: m.status for m in await members(env.client, rollout_id)}
        if now.get(name) == status:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{name} is {now.get(name)}, not {status}, after {real_s} s")
        await asyncio.sleep(0.05)


def lines(answers: list[DecisionAnswer]) -> list[tuple[str, bool, bool]]:
    return sorted((a.vm, a.sent, a.refused) for a in answers)


async def test_a_migrate_rollout_goes_canary_first_with_bulk_decisions_and_counts_a_refusal(
    fresh_time_skipping_env: WorkflowEnvironment, make_sim: SimFactory, azure_for: Azure
) -> None:
    env = fresh_time_skipping_env
    rollout_id = "fleet-migration"
    plain = vm("web-03", data_disks=[{"lun": 0, "size_gb": 16}])  # never had ADE: refused (M-2, never-ade)
    sim = make_sim(migration_fleet([data_vm("web-01"), data_vm("web-02"), plain]), 60, 300)
    manifest = parse_migration_manifest_text(manifest_text(["web-01", "web-02", "web-03"], rollout_id), "m.yaml")
    async with new_worker(env, azure_for(sim)) as worker:
        request = build_migration_rollout(rollout_id, manifest, worker.task_queue)
        handle = await start_migration_rollout(env.client, request, worker.task_queue)
        try:
            # The canary wave: web-01 alone; the others wait for it (nothing of wave 1 runs).
            await until_member(env, rollout_id, "web-01", "running")
            assert {m.vm.name: (m.wave, m.status) for m in await members(env.client, rollout_id, 1)} == {
                "web-02": (1, "pending"),
                "web-03": (1, "pending"),
            }
            early = await decide_many(env.client, rollout_id, "downtime", OPS, vms=["web-02"])
            assert lines(early) == [("web-02", False, False)] and "not started" in early[0].text
            answers = await decide_many(env.client, rollout_id, "downtime", OPS, wave=0)
            assert lines(answers) == [("web-01", True, False)] and "downtime recorded for ops@" in answers[0].text
            await until_phase(env, migration(env, "web-01"), MigrationPhase.AWAIT_OWNER)
            too_soon = await decide_many(env.client, rollout_id, "cleanup", OPS, wave=0)  # M-8: the owner first
            assert lines(too_soon) == [("web-01", True, True)] and "new VM" in too_soon[0].text
            assert lines(await decide_many(env.client, rollout_id, "new-vm-works", OWNER, wave=0)) == [
                ("web-01", True, False)
            ]
            await until_phase(env, migration(env, "web-01"), MigrationPhase.AWAIT_CLEANUP)
            await decide_many(env.client, rollout_id, "cleanup", OPS, wave=0)

            # Wave 1 after the canary: web-03 is refused by its own run; web-02 waits for its downtime.
            await until_member(env, rollout_id, "web-03", "refused")
            await until_phase(env, migration(env, "web-02"), MigrationPhase.AWAIT_DOWNTIME)
            wave1 = await decide_many(env.client, rollout_id, "downtime", OPS, wave=1)
            assert lines(wave1) == [("web-02", True, False), ("web-03", False, False)]
            assert "ended (refused)" in next(a.text for a in wave1 if a.vm == "web-03")
            await until_phase(env, migration(env, "web-02"), MigrationPhase.AWAIT_OWNER)
            assert lines(await decide_many(env.client, rollout_id, "new-vm-works", OWNER, vms=["web-02"])) == [
                ("web-02", True, False)
            ]
            await until_phase(env, migration(env, "web-02"), MigrationPhase.AWAIT_CLEANUP)
            everyone = await decide_many(env.client, rollout_id, "cleanup", OPS)  # the whole rollout
            assert lines(everyone) == [("web-01", False, False), ("web-02", True, False), ("web-03", False, False)]
            result = await handle.result()
        finally:
            if not (await handle.describe()).close_time:
                await handle.terminate("test over")

    assert result.stage is RolloutStage.COMPLETED
    assert migration_counts(result.counts) == {
        "pending": 0,
        "running": 0,
        "migrated": 2,
        "failed": 0,
        "refused": 1,
        "skipped": 0,
        "elsewhere": 0,
    }
    assert [(n.vm, n.rule, n.reason) for n in result.refusals] == [("web-03", "M-2", "never-ade")]
    for name in ("web-01", "web-02"):  # each run recorded its own decisions: who and what
        done = await migration(env, name).result()
        assert done.outcome is MigrationOutcome.MIGRATED and done.new_vm_id.endswith(f"/{name}-eah"), done.message
        assert [(a.kind, a.by) for a in done.approvals] == [
            (ApprovalKind.DOWNTIME, OPS),
            (ApprovalKind.NEW_VM_WORKS, OWNER),
            (ApprovalKind.CLEANUP, OPS),
        ]
    assert "web-01" not in sim.state.resource_group(SUB, RG).vms  # the approved cleanup (M-8)
    assert (await rollout_handle(env.client, rollout_id).describe()).close_time is not None


async def test_a_rolled_back_migration_spends_the_failure_budget_and_halts_the_rollout(
    fresh_time_skipping_env: WorkflowEnvironment, make_sim: SimFactory, azure_for: Azure
) -> None:
    """The canary's new VM is deallocated by its host right after creation: its run rolls back (the source runs
    again), the rollout counts a failure, beyond a budget of 0: it halts and web-02 never starts; a cancel ends it."""
    env = fresh_time_skipping_env
    rollout_id = "fleet-rollback"
    sim = make_sim(migration_fleet([data_vm("web-01"), data_vm("web-02")]), 60, 300)
    evicted = AfterActivity("create_migrated_vm", lambda: sim.inject({"kind": "vm_deallocated", "vm": "web-01-eah"}))
    manifest = parse_migration_manifest_text(manifest_text(["web-01", "web-02"], rollout_id), "m.yaml")
    async with new_worker(env, azure_for(sim), [evicted]) as worker:
        handle = await start_migration_rollout(
            env.client, build_migration_rollout(rollout_id, manifest, worker.task_queue), worker.task_queue
        )
        try:
            await until_member(env, rollout_id, "web-01", "running")
            await decide_many(env.client, rollout_id, "downtime", OPS, wave=0)
            await until_phase(env, migration(env, "web-01"), MigrationPhase.ROLLBACK)
            await until_member(env, rollout_id, "web-01", "failed")  # reported once the rollback is done
            rolled_back = await migration(env, "web-01").result()
            progress = await handle.query(FleetRolloutWorkflow.progress)
            assert progress.stage is RolloutStage.HALTED, progress
            assert progress.halted == "failure budget exceeded (1 failed, budget 0)"
            assert [(m.vm.name, m.status) for m in await members(env.client, rollout_id, 1)] == [("web-02", "pending")]
            await handle.execute_update(FleetRolloutWorkflow.cancel, OPS)
            result = await handle.result()
        finally:
            if not (await handle.describe()).close_time:
                await handle.terminate("test over")

    assert rolled_back.outcome is MigrationOutcome.ROLLED_BACK, rolled_back.message
    assert result.stage is RolloutStage.CANCELLED
    assert (result.counts["failed"], result.counts["pending"]) == (1, 1)
    assert [(n.vm, n.reason) for n in result.failures] == [("web-01", "new-vm-not-verified")]
    assert "web-02-eah" not in sim.state.resource_group(SUB, RG).vms
