"""An ARM outage longer than the budget fails the step with a message that says what happened and what to do."""

from __future__ import annotations

import uuid

from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from tests.support.standins import OutageProbe, UnreachableArm
from workflows.registry import workflow_runner
from workflows.steps import ARM_OUTAGE_BUDGET


async def test_an_outage_beyond_the_budget_fails_the_step_clearly(fresh_time_skipping_env: WorkflowEnvironment) -> None:
    env = fresh_time_skipping_env
    async with Worker(
        env.client,
        task_queue=f"outage-{uuid.uuid4()}",
        workflows=[OutageProbe],
        activities=[UnreachableArm().read_vm],
        workflow_runner=workflow_runner(),
    ) as worker:
        started = await env.get_current_time()
        outcome = await env.client.execute_workflow(
            OutageProbe.run, "web-01", id=f"outage/{uuid.uuid4()}", task_queue=worker.task_queue
        )
        waited = await env.get_current_time() - started
    assert outcome.startswith("arm-outage-budget-exceeded: reading VM web-01: Azure Resource Manager kept failing")
    assert "refused the connection" in outcome and "run the VM again" in outcome
    assert ARM_OUTAGE_BUDGET <= waited <= ARM_OUTAGE_BUDGET + ARM_OUTAGE_BUDGET / 10  # retried all along, then stopped
