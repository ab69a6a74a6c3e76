"""Retryable ARM errors: what an activity raises for them, and how long the SDK may retry first (issue 14).

Real SDK against the simulator: the errors are the ones azure-core raises for the simulator's 429 and 5xx.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError
from azure.mgmt.compute.aio import ComputeManagementClient
from temporalio.api.failure.v1 import Failure
from temporalio.converter import DataConverter
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.azure.arm_budget import ArmBudget, ArmBudgetPolicy, BudgetLimits
from activities.azure.arm_retry import ARM_CALL_BUDGET_S, BoundedRetryPolicy
from activities.azure.clients import AzureClients
from activities.azure.credentials import AsyncStaticTokenCredential
from activities.azure.errors import classify_arm_error
from activities.inventory import InventoryActivities
from activities.power import PowerActivities
from adeflow.domain.model import VmRef
from azuresim.server import SimServer
from tests.support.fleets import SUB, fleet_dict
from tests.support.servers import SimFactory

Azure = Callable[[SimServer], AzureClients]
REF = VmRef(SUB, "rg-web", "app-01")
FLEET = fleet_dict([{"name": "app-01", "os_disk": {"size_gb": 30}}])
THROTTLE = {"kind": "throttle", "operation": "VirtualMachines_Get", "retry_after": 7}
UNAVAILABLE = {"kind": "server_error", "operation": "VirtualMachines_Get", "status": 503}


async def arm_error(sim: SimServer, clients: AzureClients, fault: dict[str, object]) -> HttpResponseError:
    """The SDK's own exception for ``fault`` on a VM read (no SDK retries, so it comes at once)."""
    active = sim.inject({**fault, "count": 1})
    try:
        await clients.compute(SUB).virtual_machines.get("rg-web", "app-01", retry_total=0)
    except HttpResponseError as exc:
        return exc
    finally:
        sim.clear_faults()
    raise AssertionError(f"{active} did not fail the read")


def causes(err: BaseException) -> list[BaseException]:
    """The ``__cause__`` chain; fails on a cycle (what Temporal's failure converter recursed on)."""
    chain: list[BaseException] = []
    current: BaseException | None = err
    while current is not None:
        assert all(current is not seen for seen in chain), f"{current!r} is its own cause"
        chain.append(current)
        current = current.__cause__
    return chain


@pytest.mark.parametrize(
    ("fault", "arm_type", "status"),
    [
        (THROTTLE, "SubscriptionRequestsThrottled", 429),
        (UNAVAILABLE, "ServiceUnavailable", 503),
        ({**UNAVAILABLE, "status": 500}, "InternalServerError", 500),
    ],
)
async def test_classify_arm_error_returns_a_new_typed_error_never_its_input(
    make_sim: SimFactory, azure_for: Azure, fault: dict[str, object], arm_type: str, status: int
) -> None:
    """Issue 14: for 429/5xx it returned the SDK's exception itself, raised ``from`` itself: its own cause."""
    sim = make_sim(FLEET)
    exc = await arm_error(sim, azure_for(sim), fault)
    classified = classify_arm_error(exc, "reading VM app-01")
    assert classified is not exc and isinstance(classified, ApplicationError)
    assert (classified.type, classified.non_retryable) == (arm_type, False)
    assert classified.message.startswith(f"reading VM app-01: ARM answered {status} {arm_type}: ")
    assert "\n" not in classified.message and "Content:" not in classified.message

    try:
        raise classified from exc  # as every call site does
    except ApplicationError as raised:
        assert causes(raised) == [classified, exc]
        failure = Failure()
        DataConverter.default.failure_converter.to_failure(raised, DataConverter.default.payload_converter, failure)
    assert (failure.message, failure.application_failure_info.type) == (classified.message, arm_type)


async def test_a_429_asks_temporal_to_wait_for_arms_retry_after(make_sim: SimFactory, azure_for: Azure) -> None:
    sim = make_sim(FLEET)
    throttled = classify_arm_error(await arm_error(sim, azure_for(sim), THROTTLE), "reading VM app-01")
    assert throttled.next_retry_delay == timedelta(seconds=7)
    unavailable = classify_arm_error(await arm_error(sim, azure_for(sim), UNAVAILABLE), "reading VM app-01")
    assert unavailable.next_retry_delay is None  # no Retry-After: the activity's retry policy decides


async def test_computes_update_vm_429_is_typed_too_many_requests_not_operation_not_allowed(
    make_sim: SimFactory, azure_for: Azure
) -> None:
    """Compute's per-VM throttling answers ``OperationNotAllowed`` with ``TooManyRequests`` in its details."""
    sim = make_sim(FLEET)
    sim.set_throttling(vm_updates={"capacity": 1, "refill_per_min": 0.1})  # the next token in 10 minutes
    restart = PowerActivities(azure_for(sim)).restart_vm
    await ActivityEnvironment().run(restart, REF)
    with pytest.raises(ApplicationError) as throttled:
        await ActivityEnvironment().run(restart, REF)
    assert (throttled.value.type, throttled.value.non_retryable) == ("TooManyRequests", False)
    assert throttled.value.message.startswith("restarting VM app-01: ARM answered 429 TooManyRequests: ")
    assert throttled.value.next_retry_delay is not None


async def test_a_retry_after_longer_than_the_call_budget_fails_the_attempt_at_once(
    make_sim: SimFactory, azure_for: Azure
) -> None:
    """Issue 14 item 2: the SDK used to sleep out a 10-minute Retry-After (three times) inside a 2-minute activity."""
    sim = make_sim(FLEET)
    sim.inject({**THROTTLE, "retry_after": 600})  # every read, for good
    started = time.monotonic()
    with pytest.raises(ApplicationError) as throttled:
        read = ActivityEnvironment().run(InventoryActivities(azure_for(sim)).read_vm_facts, REF)
        await asyncio.wait_for(read, ARM_CALL_BUDGET_S)
    assert time.monotonic() - started < 10
    assert throttled.value.type == "SubscriptionRequestsThrottled" and not throttled.value.non_retryable
    assert throttled.value.next_retry_delay == timedelta(seconds=600)  # Temporal waits, not the activity
    assert [r.status for r in sim.requests() if r.operation == "VirtualMachines_Get"] == [429]


@asynccontextmanager
async def compute_client(sim: SimServer, budget_s: float, arm_budget: ArmBudget) -> AsyncIterator[Any]:
    """A compute client as AzureClients builds one, with a call budget of ``budget_s`` seconds."""
    credential = AsyncStaticTokenCredential("sim-token")
    client = ComputeManagementClient(
        credential,
        SUB,
        base_url=sim.base_url,
        connection_verify=str(sim.ca_path),
        retry_policy=BoundedRetryPolicy(budget_s=budget_s),
        per_retry_policies=[ArmBudgetPolicy(arm_budget)],
    )
    try:
        yield client
    finally:
        await client.close()
        await credential.close()


async def test_sdk_retries_of_one_call_stop_at_its_budget_with_arms_last_answer(make_sim: SimFactory) -> None:
    sim = make_sim(FLEET)
    sim.inject({**THROTTLE, "retry_after": 2})
    started = time.monotonic()
    async with compute_client(sim, 3.0, ArmBudget(BudgetLimits.unlimited())) as client:
        with pytest.raises(HttpResponseError) as throttled:
            await client.virtual_machines.get("rg-web", "app-01")
    # 429 at 0 s, slept 2 s, 429 at 2 s; a third try would start at 4 s, past the 3 s budget.
    assert throttled.value.status_code == 429
    assert [r.status for r in sim.requests() if r.operation == "VirtualMachines_Get"] == [429, 429]
    assert 2 <= time.monotonic() - started < 3


async def test_the_budgets_pause_after_a_long_retry_after_holds_a_call_no_longer_than_its_budget(
    make_sim: SimFactory,
) -> None:
    """The client budget pauses reads for ARM's Retry-After; the next call waits out its own budget at most."""
    sim = make_sim(FLEET)
    sim.inject({**THROTTLE, "retry_after": 600, "count": 1})
    async with compute_client(sim, 2.0, ArmBudget()) as client:
        with pytest.raises(HttpResponseError):
            await client.virtual_machines.get("rg-web", "app-01")  # gives up at once: 600 s > 2 s
        started = time.monotonic()
        vm = await client.virtual_machines.get("rg-web", "app-01")  # paused for 600 s: sent after 2 s
    assert vm.name == "app-01"
    assert 1.9 <= time.monotonic() - started < 3
    assert [r.status for r in sim.requests() if r.operation == "VirtualMachines_Get"] == [429, 200]
