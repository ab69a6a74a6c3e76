"""Retryable ARM errors (429, 5xx) as a real worker reports them to a real Temporal server (issue 14).

What an operator reads in the UI for an ARM step that failed and is being retried is the activity's last
failure: it must name the call, ARM's status, code and message, typed with ARM's code, and never Temporal's
fallback "Failed building exception result: maximum recursion depth exceeded" (the classified error used to be
raised from itself) nor a StartToClose timeout (the SDK used to sleep out any Retry-After inside the activity).

These run on the dev server (real time), not the time-skipping one: only a real server records a retried
attempt's last failure in the history (on its ActivityTaskStarted event) and carries heartbeat details from one
attempt to the next. Each test ends its workflow once the step it looks at is over.
"""

from __future__ import annotations

import asyncio
import itertools
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.api.failure.v1 import Failure
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import WorkflowHandle
from temporalio.common import SearchAttributeKey
from temporalio.testing import WorkflowEnvironment

from activities.azure.arm_retry import ARM_CALL_BUDGET_S, SDK_STATUS_RETRIES
from activities.azure.clients import AzureClients
from adeflow.domain.model import BackupPolicy, BackupWaiver, EncryptVmInput, EncryptVmResult
from adeflow.inputs.settings import SEARCH_ATTRIBUTES
from azuresim.http import MAX_RETRY_AFTER
from azuresim.server import SimServer
from tests.support.encrypt_vm_runs import request
from tests.support.fleets import fleet_dict, vm
from tests.support.servers import SimFactory, new_worker, sim_settings
from workflows.encrypt_vm import EncryptVmWorkflow

Azure = Callable[[SimServer], AzureClients]
Handle = WorkflowHandle[EncryptVmWorkflow, EncryptVmResult]
SDK_ATTEMPTS = SDK_STATUS_RETRIES + 1
"""Requests the SDK sends for one call that keeps answering 5xx or a short 429: a fault this many requests long
fails exactly one activity attempt, and the next attempt goes through."""
PUT_EXTENSION = "VirtualMachineExtensions_CreateOrUpdate"


@pytest.fixture(scope="module")
async def dev_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(Path(sys.executable).parent / "temporal"),
        search_attributes=[SearchAttributeKey.for_keyword(name) for name in SEARCH_ATTRIBUTES],
    )
    yield env
    await env.shutdown()


async def history(handle: Handle) -> list[HistoryEvent]:
    return [event async for event in handle.fetch_history_events()]


def activity_types(events: list[HistoryEvent]) -> dict[int, str]:
    return {
        e.event_id: e.activity_task_scheduled_event_attributes.activity_type.name
        for e in events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    }


def activity_failures(events: list[HistoryEvent], activity: str) -> list[Failure]:
    """Every failure of ``activity`` the history keeps: a retried attempt's last failure (recorded on its
    ActivityTaskStarted event) and a final one (ActivityTaskFailed)."""
    types = activity_types(events)
    failures: list[Failure] = []
    for event in events:
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            started = event.activity_task_started_event_attributes
            if types.get(started.scheduled_event_id) == activity and started.HasField("last_failure"):
                failures.append(started.last_failure)
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED:
            failed = event.activity_task_failed_event_attributes
            if types.get(failed.scheduled_event_id) == activity:
                failures.append(failed.failure)
    return failures


async def run_until_done(env: WorkflowEnvironment, clients: AzureClients, req: EncryptVmInput, activity: str) -> Handle:
    """Run the workflow until ``activity`` has completed, then end it (status polls would run in real time)."""
    async with new_worker(env, clients) as worker:
        handle: Handle = await env.client.start_workflow(
            EncryptVmWorkflow.run, req, id=f"ade-encrypt/arm-errors/{uuid.uuid4()}", task_queue=worker.task_queue
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            events = await history(handle)
            types = activity_types(events)
            if any(
                e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED
                and types.get(e.activity_task_completed_event_attributes.scheduled_event_id) == activity
                for e in events
            ):
                break
            await asyncio.sleep(0.5)
        await handle.terminate("test over")
    return handle


def assert_typed(failure: Failure, arm_type: str, *words: str) -> None:
    """A retryable ApplicationError of ARM's code, one line naming the call, the status, the code and ARM's text."""
    assert "recursion" not in failure.message and "Failed building" not in failure.message, failure.message
    assert failure.HasField("application_failure_info"), failure
    info = failure.application_failure_info
    assert (info.type, info.non_retryable) == (arm_type, False), failure
    assert "\n" not in failure.message and "Traceback" not in failure.message, failure.message
    for word in words:
        assert word in failure.message, (word, failure.message)


async def test_a_429_reaches_the_history_typed_with_arms_code_and_message(
    dev_env: WorkflowEnvironment, make_sim: SimFactory, azure_for: Azure
) -> None:
    sim = make_sim(fleet_dict([vm("thr-kv")]))
    sim.inject({"kind": "throttle", "operation": "Vaults_Get", "count": SDK_ATTEMPTS, "retry_after": 1})
    handle = await run_until_done(dev_env, azure_for(sim), request("thr-kv"), "read_key_vault")

    failures = activity_failures(await history(handle), "read_key_vault")
    assert len(failures) == 1, failures
    assert_typed(
        failures[0],
        "SubscriptionRequestsThrottled",
        "reading Key Vault kv-ade-eastus: ARM answered 429 SubscriptionRequestsThrottled: ",
        "Number of requests exceeded the limit. Please try again after '1' seconds.",
    )
    assert [r.status for r in sim.requests() if r.operation == "Vaults_Get"] == [429] * SDK_ATTEMPTS + [200]


async def test_a_503_reaches_the_history_typed_with_arms_code_and_message(
    dev_env: WorkflowEnvironment, make_sim: SimFactory, azure_for: Azure
) -> None:
    sim = make_sim(fleet_dict([vm("5xx-vm")]))
    sim.inject({"kind": "server_error", "vm": "5xx-vm", "operation": "VirtualMachines_Get", "count": SDK_ATTEMPTS})
    handle = await run_until_done(dev_env, azure_for(sim), request("5xx-vm"), "read_vm_facts")

    failures = activity_failures(await history(handle), "read_vm_facts")
    assert len(failures) == 1, failures
    assert_typed(
        failures[0],
        "ServiceUnavailable",
        "reading VM 5xx-vm: ARM answered 503 ServiceUnavailable: ",
        "The service is temporarily unavailable. Please try again later.",
    )


async def test_a_long_retry_after_fails_the_attempt_typed_before_its_timeout_and_temporal_waits_it_out(
    dev_env: WorkflowEnvironment, make_sim: SimFactory, azure_for: Azure
) -> None:
    """Issue 14 item 2: the SDK used to sleep out each Retry-After inside the activity, so a throttled 2-minute
    step ended with "activity StartToClose timeout" and the throttling was nowhere to be seen."""
    sim = make_sim(fleet_dict([vm("thr-long")]))
    sim.inject({"kind": "throttle", "operation": "Vaults_Get", "retry_after": 600})  # throttled for 10 minutes
    async with new_worker(dev_env, azure_for(sim)) as worker:
        handle: Handle = await dev_env.client.start_workflow(
            EncryptVmWorkflow.run,
            request("thr-long"),
            id=f"ade-encrypt/arm-errors/{uuid.uuid4()}",
            task_queue=worker.task_queue,
        )
        started = time.monotonic()
        pending: Any = None
        while pending is None and time.monotonic() - started < ARM_CALL_BUDGET_S + 30:
            described = await handle.describe()
            pending = next(
                (
                    p
                    for p in described.raw_description.pending_activities
                    if p.activity_type.name == "read_key_vault" and p.HasField("last_failure")
                ),
                None,
            )
            await asyncio.sleep(0.5)
        failed_after = time.monotonic() - started
        await handle.terminate("test over")

    assert pending is not None, "no failure within the call budget: the SDK is still sleeping on Retry-After"
    assert failed_after < ARM_CALL_BUDGET_S + 30
    assert not pending.last_failure.HasField("timeout_failure_info"), pending.last_failure
    assert_typed(
        pending.last_failure,
        "SubscriptionRequestsThrottled",
        "reading Key Vault kv-ade-eastus: ARM answered 429 SubscriptionRequestsThrottled: ",
        "Please try again after '600' seconds",
    )
    # Temporal, not the SDK, waits out ARM's Retry-After before the next attempt.
    assert pending.current_retry_interval.ToSeconds() == 600, pending.current_retry_interval
    assert pending.attempt == 2


async def test_a_retried_enable_polls_its_operation_at_retry_after_not_the_fixed_interval(
    dev_env: WorkflowEnvironment, make_sim: SimFactory
) -> None:
    """Issue 14 item 3: the attempt after one that lost its LRO polls (here to 503s) used to re-read the extension
    every lro_poll_seconds (30 s), whatever ARM's Retry-After; it now resumes the operation the first attempt
    heartbeated and polls it at ARM's Retry-After (the simulator's is at most MAX_RETRY_AFTER seconds)."""
    sim = make_sim(fleet_dict([vm("lro-01")], stamp_seconds=25.0), scale=1.0)  # the enable's operation: 25 s
    sim.inject({"kind": "server_error", "operation": "AsyncOperation_Get", "count": SDK_ATTEMPTS})
    clients = AzureClients(replace(sim_settings(sim).azure, lro_poll_seconds=30))
    waiver = BackupWaiver(operator="test", statement="no backup needed: test VM")  # no snapshot operations
    try:
        await run_until_done(
            dev_env,
            clients,
            replace(request("lro-01"), backup_policy=BackupPolicy.WAIVE, backup_waiver=waiver),
            "put_encryption_extension",
        )
    finally:
        await clients.close()

    calls = sim.requests()
    assert [r.status for r in calls if r.operation == PUT_EXTENSION] == [201]  # R-ENA-1: one PUT, no second pass
    put = next(i for i, r in enumerate(calls) if r.operation == PUT_EXTENSION)
    reads = [r for r in calls[put + 1 :] if r.operation in ("AsyncOperation_Get", "VirtualMachineExtensions_Get")]
    last_503 = max(i for i, r in enumerate(reads) if r.status == 503)
    retried = reads[last_503 + 1 :]  # the next attempt: it reads the extension, then waits for the operation
    operations = [r.operation for r in retried]
    assert operations[:2] == ["VirtualMachineExtensions_Get", "AsyncOperation_Get"], operations  # still running
    gaps = [(b.real_time - a.real_time).total_seconds() for a, b in itertools.pairwise(retried)]
    assert max(gaps) <= MAX_RETRY_AFTER + 3, gaps  # ARM's Retry-After (<= 5 s), not lro_poll_seconds (30 s)
    assert retried[-1].status == 200
