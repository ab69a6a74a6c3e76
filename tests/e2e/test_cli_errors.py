"""One CLI error contract (issue 15): every failure is one line ``adeflow: <what> ... <what to check>`` and an exit
code (README: 0 success, 1 the operation failed, 2 bad input), never a traceback. The CLI runs as an operator runs
it: the venv's ``adeflow`` in a subprocess, so the exception mapper of ``adeflow.cli.main.main`` is what is tested.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest
from temporalio import activity
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from adeflow.client.connect import worker_polls
from adeflow.client.rollouts import start_rollout, watch
from adeflow.domain.fleet import RolloutPolicy, VmSettings
from adeflow.domain.fleet_query import VmQuery, VmQueryResult
from adeflow.domain.model import VmRef
from adeflow.domain.rollout import build_rollout_input
from tests.support.chaos import eventually
from tests.support.fleets import SUB, VAULT_ID
from tests.support.servers import Run
from workflows.encrypt_vm import encrypt_vm_workflow_id
from workflows.fleet_rollout import FleetRolloutWorkflow
from workflows.registry import workflow_runner

pytestmark = pytest.mark.e2e

UNREACHABLE_ARM = {"ADEFLOW_ARM_ENDPOINT": "https://127.0.0.1:1", "ADEFLOW_ARM_STATIC_TOKEN": "sim"}


def _one_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, text
    return lines[0]


async def test_a_second_vm_encrypt_attaches_to_the_run_in_flight(dev_env: WorkflowEnvironment, adeflow: Run) -> None:
    """It printed a WorkflowAlreadyStartedError traceback; now it says it attached, with the run's id and UI link."""
    ref = VmRef(SUB, "rg-web", f"twice-{uuid.uuid4().hex[:6]}")
    queue = f"nobody-{uuid.uuid4().hex[:8]}"
    args = ("vm", "encrypt", ref.key, "--key-vault-id", VAULT_ID)
    first = await adeflow(*args, queue=queue)
    assert first.returncode == 0, first.stderr
    assert f"started {encrypt_vm_workflow_id(ref)}" in first.stdout
    assert "UI:" not in first.stdout  # no ADEFLOW_TEMPORAL_UI for a local server: no guessed link
    second = await adeflow(*args, queue=queue, env={"ADEFLOW_TEMPORAL_UI": "http://ui.example:8080"})
    assert second.returncode == 0, second.stderr
    assert f"already running: attached to {encrypt_vm_workflow_id(ref)}" in second.stdout
    assert "UI: http://ui.example:8080/namespaces/default/workflows/encrypt%2F" in second.stdout
    runs = [e async for e in dev_env.client.list_workflows(f'WorkflowId="{encrypt_vm_workflow_id(ref)}"')]
    assert len(runs) == 1


@pytest.mark.parametrize(
    "args",
    [
        ("vm", "status", f"{SUB}/rg-web/web-01"),
        ("snapshots", "list", "--subscription", SUB),
        ("rollout", "check", "examples/demo-rollout.yaml"),
        ("rollout", "check", "examples/manifest-demo.yaml"),  # selectors: unreachable is no bad input (exit 1)
    ],
)
async def test_unreachable_arm_is_one_line_naming_the_endpoint(adeflow: Run, args: tuple[str, ...]) -> None:
    """They printed azure-core's ServiceRequestError traceback; now one line, the endpoint and what to check."""
    done = await adeflow(*args, env=UNREACHABLE_ARM)
    assert done.returncode == 1, (done.stdout, done.stderr)
    line = _one_line(done.stderr)
    assert line.startswith("adeflow: ") and "cannot reach Azure Resource Manager at https://127.0.0.1:1" in line, line
    assert "ADEFLOW_ARM_ENDPOINT" in line


async def test_watch_says_finding_the_vms_and_keeps_waiting(dev_env: WorkflowEnvironment) -> None:
    """The first progress query of a rollout with selectors fails while find_vms runs; ``rollout start --wait``
    crashed on it. The watch says so and keeps waiting (the rollout goes on)."""
    release = asyncio.Event()

    @activity.defn(name="find_vms")
    async def slow_find_vms(query: VmQuery) -> VmQueryResult:
        await release.wait()
        return VmQueryResult(query=query, vms=[])

    selector = VmQuery(subscription_id=SUB, resource_group="rg-web", tags={"ade": "yes"}, source="fleet.yaml:9")
    rollout_id = f"finding-{uuid.uuid4().hex[:6]}"
    request = build_rollout_input(rollout_id, RolloutPolicy(), [], [(selector, VmSettings(key_vault_id=VAULT_ID))])
    lines: list[str] = []
    async with Worker(
        dev_env.client,
        task_queue=f"finding-{uuid.uuid4().hex[:8]}",
        workflows=[FleetRolloutWorkflow],
        activities=[slow_find_vms],
        workflow_runner=workflow_runner(),
    ) as worker:
        await start_rollout(dev_env.client, request, worker.task_queue)
        await eventually(lambda: worker_polls(dev_env.client, worker.task_queue), "the server sees the worker")
        watching = asyncio.create_task(watch(dev_env.client, rollout_id, every_s=0.2, out=lines.append))
        await asyncio.sleep(2)
        assert not watching.done(), watching.exception() if watching.done() else None
        assert any("finding the VMs" in line for line in lines), lines
        release.set()
        view = await asyncio.wait_for(watching, timeout=timedelta(seconds=60).total_seconds())
    assert view.closed
    assert sum("finding the VMs" in line for line in lines) == 1, lines  # said once, not once per poll
