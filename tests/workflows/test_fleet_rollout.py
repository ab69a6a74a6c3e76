"""FleetRolloutWorkflow on the time-skipping server: real VM runs against the simulator, and stand-in VM runs
(a test workflow registered under the EncryptVmWorkflow name) where only the rollout's mechanics are tested."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from temporalio import workflow
from temporalio.client import WorkflowExecutionStatus, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.common import SearchAttributeKey, WorkflowIDConflictPolicy
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from activities.azure.clients import AzureClients
from activities.campaign import CampaignActivities
from adeflow.domain import vocabulary
from adeflow.domain.fleet import FailureBudget, RolloutPolicy, VmSettings
from adeflow.domain.fleet_query import VmQuery
from adeflow.domain.model import EncryptVmInput, VmRef, VolumeType
from adeflow.domain.rollout import (
    RolloutInput,
    RolloutResult,
    RolloutStage,
    RolloutState,
    RolloutTarget,
    VmFinished,
    build_rollout_input,
)
from adeflow.inputs.settings import Settings
from azuresim.server import SimServer
from tests.support.fleets import SUB, VAULT_ID, fleet_dict, vm
from tests.support.servers import SimFactory, new_worker
from tests.support.standins import StandInVmRun
from workflows.encrypt_vm import EncryptVmWorkflow, encrypt_vm_workflow_id
from workflows.fleet_rollout import MEMO_KEY, FleetRolloutWorkflow, RolloutMemo
from workflows.registry import workflow_runner

SETTINGS = VmSettings(key_vault_id=VAULT_ID, volume_type=None)


async def test_rollout_encrypts_a_fleet_and_reports_refusals(
    time_skipping_env: WorkflowEnvironment, make_sim: SimFactory, azure_for: Callable[[SimServer], AzureClients]
) -> None:
    names = [f"web-{i:02d}" for i in range(6)]
    vms = [vm(name) for name in names] + [vm("ultra-01", data_disks=[{"lun": 0, "size_gb": 8, "sku": "UltraSSD_LRS"}])]
    sim = make_sim(fleet_dict(vms), 60, 300)
    request = RolloutInput(
        rollout_id=f"t-{uuid.uuid4().hex[:6]}",
        policy=RolloutPolicy(concurrency=3, canary=1, waves=(3,), poll_interval_s=300),
        settings=[SETTINGS, VmSettings(key_vault_id=VAULT_ID, volume_type=VolumeType.ALL)],
        targets=[RolloutTarget(SUB, "rg-web", 0, names), RolloutTarget(SUB, "rg-web", 1, ["ultra-01"])],
    )
    async with new_worker(time_skipping_env, azure_for(sim)) as worker:
        result = await time_skipping_env.client.execute_workflow(
            FleetRolloutWorkflow.run, request, id=f"rollout/{request.rollout_id}", task_queue=worker.task_queue
        )
    assert result.stage is RolloutStage.COMPLETED
    assert (result.counts["encrypted"], result.counts["refused"], result.counts["failed"]) == (6, 1, 0)
    assert [(n.vm, n.rule) for n in result.refusals] == [("ultra-01", "R-LIM-4w")]
    handle = time_skipping_env.client.get_workflow_handle_for(
        EncryptVmWorkflow.run, encrypt_vm_workflow_id(VmRef(SUB, "rg-web", "web-03"))
    )
    assert (await handle.result()).outcome.value == "encrypted"
    # What the UI shows without opening a run: the child's summary and details, the refusal's rule (AdeRule),
    # the canary wave in the rollout's log.
    ultra = time_skipping_env.client.get_workflow_handle(encrypt_vm_workflow_id(VmRef(SUB, "rg-web", "ultra-01")))
    described = await ultra.describe()
    assert described.typed_search_attributes.get(SearchAttributeKey.for_keyword(vocabulary.RULE)) == "R-LIM-4w"
    assert await described.static_summary() == "Encrypt ultra-01 (All) in rg-web"
    assert f"**Rollout** {request.rollout_id}" in (await described.static_details() or "")
    rollout = time_skipping_env.client.get_workflow_handle(f"rollout/{request.rollout_id}")
    memo = await (await rollout.describe()).memo_value(MEMO_KEY, type_hint=RolloutMemo)
    assert memo.log[:2] == [
        "canary wave started: VM 1 of 7 (web-00); the others wait",
        "canary wave passed: 1 VM(s): 1 encrypted",
    ]


async def test_selectors_are_resolved_once_at_start_and_their_vms_encrypted(
    fresh_time_skipping_env: WorkflowEnvironment,
    make_sim: SimFactory,
    azure_for: Callable[[SimServer], AzureClients],
) -> None:
    time_skipping_env = fresh_time_skipping_env  # its own server: see conftest on stalls after other runs
    tagged = [vm(f"app-{i:02d}", tags={"ade": "yes"}) for i in range(3)]
    sim = make_sim(fleet_dict([*tagged, vm("db-01"), vm("other-01", tags={"ade": "no"})]), 60, 300)
    by_tags = VmQuery(subscription_id=SUB, resource_group="rg-web", tags={"ADE": "yes"}, source="m.yaml:8")
    by_graph = VmQuery(resource_graph="Resources | where name startswith 'db-'", subscriptions=[SUB], source="m.yaml:9")
    request = build_rollout_input(
        f"sel-{uuid.uuid4().hex[:6]}",
        RolloutPolicy(concurrency=4, canary=1, poll_interval_s=300),
        [(VmRef(SUB, "rg-web", "app-01"), SETTINGS)],
        [(by_tags, SETTINGS), (by_graph, SETTINGS)],
    )
    async with new_worker(time_skipping_env, azure_for(sim)) as worker:
        handle = await time_skipping_env.client.start_workflow(
            FleetRolloutWorkflow.run, request, id=f"rollout/{request.rollout_id}", task_queue=worker.task_queue
        )
        result = await handle.result()
        progress = await handle.query(FleetRolloutWorkflow.progress)
    assert (result.stage, result.total, result.counts["encrypted"]) == (RolloutStage.COMPLETED, 4, 4)
    assert "m.yaml:8: " in progress.selected[0] and "3 VMs found, 1 of them listed already" in progress.selected[0]
    assert progress.selected[1].endswith("1 VMs found; 1 rows that are not VMs ignored")  # db-01's OS disk
    assert sim.writes_for("other-01") == []
    assert [r.operation for r in sim.requests()].count("Resources") == 1


# --- stand-in VM runs: the rollout's mechanics at scale, without Azure ---------------------------------------


def stand_in_request(count: int, bad: set[int] = frozenset(), **policy: object) -> RolloutInput:
    names = [f"{'bad' if i in bad else 'vm'}-{i:05d}" for i in range(count)]
    half = count // 2
    return RolloutInput(
        rollout_id=f"scale-{uuid.uuid4().hex[:6]}",
        policy=RolloutPolicy(**{"concurrency": 500, "per_subscription_concurrency": 500, "waves": (500,), **policy}),  # type: ignore[arg-type]
        settings=[SETTINGS],
        targets=[RolloutTarget("sub-a", "rg", 0, names[:half]), RolloutTarget("sub-b", "rg", 0, names[half:])],
    )


@pytest.fixture(scope="module")
async def run_lookup() -> AsyncIterator[Callable[..., Any]]:
    """The worker's real ``find_running_vm_runs`` (it asks Temporal, not Azure): a rollout that continued as new
    looks up the VM runs its earlier runs started before it completes."""
    clients = AzureClients(Settings().azure)
    yield CampaignActivities(clients).find_running_vm_runs
    await clients.close()


def stand_in_worker(env: WorkflowEnvironment, run_lookup: Callable[..., Any]) -> Worker:
    return Worker(
        env.client,
        task_queue=f"scale-{uuid.uuid4()}",
        workflows=[FleetRolloutWorkflow, StandInVmRun],
        activities=[run_lookup],
        workflow_runner=workflow_runner(),
        max_cached_workflows=3000,
    )


async def test_large_rollout_continues_as_new_and_keeps_each_run_small(
    fresh_time_skipping_env: WorkflowEnvironment, run_lookup: Callable[..., Any]
) -> None:
    """600 VMs is past one run's history threshold. (At 1,200+ stand-in runs the Java time-skipping server
    stops firing the children's timers: a test-server limit; larger fleets are measured on the dev server.)"""
    request = stand_in_request(600)
    async with stand_in_worker(fresh_time_skipping_env, run_lookup) as worker:
        handle = await fresh_time_skipping_env.client.start_workflow(
            FleetRolloutWorkflow.run, request, id=f"rollout/{request.rollout_id}", task_queue=worker.task_queue
        )
        result = await handle.result()
        last_run_events = len([e async for e in handle.fetch_history_events()])
    assert result.stage is RolloutStage.COMPLETED
    assert result.counts["encrypted"] == 600 and sum(result.counts.values()) == 600
    assert result.runs > 1, "a 2,000-VM rollout must continue as new"
    assert last_run_events < 10_000
    await assert_all_closed(fresh_time_skipping_env, request)


async def test_failure_budget_halts_and_resume_continues(
    fresh_time_skipping_env: WorkflowEnvironment, run_lookup: Callable[..., Any]
) -> None:
    # Stand-ins take half a real second and nothing awaits the result while halted: awaiting it would let the
    # test server skip time without end while the rollout waits for its operator.
    request = stand_in_request(
        40, bad={3, 4, 5}, waves=(10,), failure_budget=FailureBudget(count=1), poll_interval_s=0.5
    )
    async with stand_in_worker(fresh_time_skipping_env, run_lookup) as worker:
        handle: WorkflowHandle[
            FleetRolloutWorkflow, RolloutResult
        ] = await fresh_time_skipping_env.client.start_workflow(
            FleetRolloutWorkflow.run, request, id=f"rollout/{request.rollout_id}", task_queue=worker.task_queue
        )
        for _ in range(300):
            progress = await handle.query(FleetRolloutWorkflow.progress)
            if progress.stage is RolloutStage.HALTED:
                break
            await asyncio.sleep(0.2)
        assert progress.stage is RolloutStage.HALTED and "failure budget" in progress.halted
        rule = SearchAttributeKey.for_keyword(vocabulary.RULE)
        halted = (await handle.describe()).typed_search_attributes.get(rule)
        assert halted == vocabulary.Reason.FAILURE_BUDGET_EXCEEDED  # the UI's list says why it stopped
        assert sum(progress.counts.values()) == 40 and progress.counts["pending"] > 0
        await asyncio.sleep(1)
        still = await handle.query(FleetRolloutWorkflow.progress)
        assert (still.stage, still.counts["pending"]) == (RolloutStage.HALTED, progress.counts["pending"])
        assert "resumed" in await handle.execute_update(FleetRolloutWorkflow.resume, "alice")
        result = await handle.result()
    assert result.stage is RolloutStage.COMPLETED
    assert (result.counts["encrypted"], result.counts["failed"]) == (37, 3)
    assert (await handle.describe()).typed_search_attributes.get(rule) is None  # resumed: no longer halted


async def test_vm_already_running_elsewhere_is_left_to_that_run(
    fresh_time_skipping_env: WorkflowEnvironment, run_lookup: Callable[..., Any]
) -> None:
    request = stand_in_request(4)
    async with stand_in_worker(fresh_time_skipping_env, run_lookup) as worker:
        busy = VmRef("sub-a", "rg", "vm-00001")
        await fresh_time_skipping_env.client.start_workflow(
            "EncryptVmWorkflow",
            EncryptVmInput(
                vm=busy, key_vault_id=VAULT_ID, notify_workflow_id="nobody", rollout_index=0, poll_interval_s=1e7
            ),
            id=encrypt_vm_workflow_id(busy),
            task_queue=worker.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
        )
        result = await fresh_time_skipping_env.client.execute_workflow(
            FleetRolloutWorkflow.run, request, id=f"rollout/{request.rollout_id}", task_queue=worker.task_queue
        )
    assert (result.counts["encrypted"], result.counts["elsewhere"]) == (3, 1)


# --- completion follows the last VM run's close ---------------------------------------------------------------


@workflow.defn(name="EncryptVmWorkflow")
class SlowToCloseVmRun:
    """Reports to its rollout first (names containing 'bad' fail), then takes ``poll_interval_s`` more before it
    returns: the window in which a rollout used to complete while its VM runs were still open. Runs unsandboxed, on a
    worker of its own."""

    @workflow.run
    async def run(self, request: EncryptVmInput) -> None:
        event = VmFinished(request.rollout_index, "failed" if "bad" in request.vm.name else "encrypted")
        await workflow.get_external_workflow_handle(request.notify_workflow_id).signal("vm_finished", event)
        await workflow.sleep(timedelta(seconds=request.poll_interval_s))


def slow_to_close_worker(env: WorkflowEnvironment) -> Worker:
    return Worker(
        env.client,
        task_queue=f"slow-close-{uuid.uuid4()}",
        workflows=[SlowToCloseVmRun],
        workflow_runner=UnsandboxedWorkflowRunner(),
    )


async def assert_all_closed(env: WorkflowEnvironment, request: RolloutInput) -> None:
    """Every VM run of the rollout, described by id: none may still be running once the result is there."""
    refs = [VmRef(t.subscription_id, t.resource_group, name) for t in request.targets for name in t.names]
    described = await asyncio.gather(
        *(env.client.get_workflow_handle(encrypt_vm_workflow_id(ref)).describe() for ref in refs)
    )
    still_running = [d.id for d in described if d.status is WorkflowExecutionStatus.RUNNING]
    assert still_running == [], f"{len(still_running)} VM runs still open after the rollout completed"


async def test_rollout_completes_only_after_its_vm_runs_have_closed(
    fresh_time_skipping_env: WorkflowEnvironment, run_lookup: Callable[..., Any]
) -> None:
    """Each VM run reports ``vm_finished`` and only then closes (5 s later here): the result comes after both."""
    env = fresh_time_skipping_env
    async with slow_to_close_worker(env) as vm_worker, stand_in_worker(env, run_lookup) as worker:
        request = replace(stand_in_request(4, poll_interval_s=5), task_queue=vm_worker.task_queue)
        result = await env.client.execute_workflow(
            FleetRolloutWorkflow.run, request, id=f"rollout/{request.rollout_id}", task_queue=worker.task_queue
        )
        assert result.counts["encrypted"] == 4
        await assert_all_closed(env, request)


async def test_continued_rollout_waits_for_vm_runs_an_earlier_run_started(
    fresh_time_skipping_env: WorkflowEnvironment, run_lookup: Callable[..., Any]
) -> None:
    """A run after continue-as-new is not the parent of the VM runs its predecessor started: it looks them up by
    id. Here VM 0 is such a run (running when this run began, closing 30 s after its report)."""
    env = fresh_time_skipping_env
    async with slow_to_close_worker(env) as vm_worker, stand_in_worker(env, run_lookup) as worker:
        request = replace(stand_in_request(2, poll_interval_s=5, canary=1), task_queue=vm_worker.task_queue)
        continued = replace(request, state=RolloutState(statuses="r.", started_at="2026-01-01T00:00:00+00:00"))
        rollout_id = f"rollout/{request.rollout_id}"
        handle = await env.client.start_workflow(
            FleetRolloutWorkflow.run, continued, id=rollout_id, task_queue=worker.task_queue
        )
        first = VmRef("sub-a", "rg", request.targets[0].names[0])
        await env.client.start_workflow(
            SlowToCloseVmRun.run,
            EncryptVmInput(first, VAULT_ID, notify_workflow_id=rollout_id, rollout_index=0, poll_interval_s=30),
            id=encrypt_vm_workflow_id(first),
            task_queue=vm_worker.task_queue,
        )
        result = await handle.result()
        assert (result.runs, result.counts["encrypted"]) == (2, 2)
        await assert_all_closed(env, request)


async def test_no_operator_command_changes_a_rollout_waiting_for_its_last_vm_runs_to_close(
    fresh_time_skipping_env: WorkflowEnvironment, run_lookup: Callable[..., Any]
) -> None:
    """Between the last report and the close, a retry-failed would set VMs pending that nothing launches."""
    env = fresh_time_skipping_env
    async with slow_to_close_worker(env) as vm_worker, stand_in_worker(env, run_lookup) as worker:
        request = stand_in_request(3, bad={2}, failure_budget=FailureBudget(count=5), poll_interval_s=3600)
        request = replace(request, task_queue=vm_worker.task_queue)
        handle = await env.client.start_workflow(
            FleetRolloutWorkflow.run, request, id=f"rollout/{request.rollout_id}", task_queue=worker.task_queue
        )
        for _ in range(300):  # no result awaited yet: the test server keeps the VM runs' hour from passing
            progress = await handle.query(FleetRolloutWorkflow.progress)
            if progress.stage is RolloutStage.COMPLETED:
                break
            await asyncio.sleep(0.1)
        assert progress.counts["failed"] == 1
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await handle.execute_update(FleetRolloutWorkflow.retry_failed, "alice")
        assert "waiting for its last VM runs to close" in str(refused.value.cause)
        result = await handle.result()
    assert (result.stage, result.counts["failed"], result.counts["pending"]) == (RolloutStage.COMPLETED, 1, 0)
    await assert_all_closed(env, request)
