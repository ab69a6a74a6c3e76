"""The client-side ARM request budget (docs/original-design.md §5 invariant 8): bucket math, classification, and the
real SDK against the simulator's throttling."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from azure.core.pipeline.policies import AsyncRetryPolicy
from temporalio.testing import ActivityEnvironment

from activities.azure.arm_budget import (
    ArmBudget,
    ArmBudgetPolicy,
    ArmTarget,
    BucketLimit,
    BudgetLimits,
    TokenBucket,
    classify,
    retry_after_seconds,
)
from activities.azure.clients import AzureClients
from activities.backup import BackupActivities
from activities.inventory import InventoryActivities
from activities.keyvault import KeyVaultActivities
from adeflow.domain.model import SnapshotRequest, VmRef
from adeflow.inputs.settings import AzureSettings, Settings
from azuresim.server import SimServer
from tests.support.fleets import SUB, VAULT_ID, fleet_dict
from tests.support.servers import SimFactory, sim_settings

BASE = f"https://management.azure.com/subscriptions/{SUB.upper()}/resourceGroups/rg-web"
VM_URL = f"{BASE}/providers/Microsoft.Compute/virtualMachines/app-01"


class FakeTime:
    """A clock whose sleep advances it: waits are exact and the tests take no real time."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


def fake_budget(limits: BudgetLimits | None = None) -> tuple[ArmBudget, FakeTime]:
    fake = FakeTime()
    return ArmBudget(limits or BudgetLimits(), clock=fake.clock, sleep=fake.sleep), fake


READ = ArmTarget(SUB, "reads")
WRITE = ArmTarget(SUB, "writes")


# ---------------------------------------------------------------------------------------------- bucket math


def test_bucket_starts_full_then_hands_out_tokens_first_come_first_served_at_the_refill_rate() -> None:
    bucket = TokenBucket.full(BucketLimit(capacity=3, per_second=2), now=0.0)
    assert [bucket.reserve(0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert [bucket.reserve(0.0) for _ in range(3)] == [0.5, 1.0, 1.5]  # on credit, in order
    assert bucket.level(10.0) == 3  # refills, but never above capacity


def test_pause_pushes_new_and_queued_reservations_back_and_drains_the_burst() -> None:
    bucket = TokenBucket.full(BucketLimit(capacity=5, per_second=1), now=0.0)
    bucket.reserve(0.0)
    bucket.pause(0.0, 10.0)
    assert bucket.shift == 10.0
    assert bucket.reserve(0.0) == 11.0  # the 4 tokens left are gone, and nothing before the pause ends
    bucket.pause(5.0, 2.0)  # a shorter pause inside the longer one changes nothing
    assert bucket.shift == 10.0


def test_drain_caps_the_level_at_what_arm_reports() -> None:
    bucket = TokenBucket.full(BucketLimit(capacity=100, per_second=10), now=0.0)
    bucket.drain(0.0, 3)
    assert [bucket.reserve(0.0) for _ in range(4)] == [0.0, 0.0, 0.0, 0.1]


def test_limits_reject_nonsense_and_share_scales_the_subscription_buckets_only() -> None:
    with pytest.raises(ValueError):
        BucketLimit(capacity=0, per_second=1)
    with pytest.raises(ValueError):
        BudgetLimits(share=0)
    limits = BudgetLimits(share=0.25)
    assert limits.arm("reads") == BucketLimit(50, 5)
    assert limits.vm_updates == BucketLimit(12, 4 / 60)
    assert BudgetLimits.unlimited().arm("writes").unlimited


# ---------------------------------------------------------------------------------------------- classification


@pytest.mark.parametrize(
    ("method", "url", "expected"),
    [
        ("GET", VM_URL + "?api-version=2026-04-01&$expand=instanceView", ArmTarget(SUB, "reads")),
        ("HEAD", VM_URL, ArmTarget(SUB, "reads")),
        ("DELETE", f"{BASE}/providers/Microsoft.Compute/snapshots/s1", ArmTarget(SUB, "deletes")),
        ("PUT", f"{BASE}/providers/Microsoft.Compute/snapshots/s1", ArmTarget(SUB, "writes")),
        ("PATCH", VM_URL, ArmTarget(SUB, "writes")),
        ("PUT", VM_URL + "/extensions/AzureDiskEncryptionForLinux", ArmTarget(SUB, "writes", f"{SUB}/rg-web/app-01")),
        ("DELETE", VM_URL + "/extensions/x?api-version=1", ArmTarget(SUB, "deletes", f"{SUB}/rg-web/app-01")),
        ("POST", VM_URL + "/restart", ArmTarget(SUB, "writes", f"{SUB}/rg-web/app-01")),
        ("GET", VM_URL + "/extensions/AzureDiskEncryptionForLinux", ArmTarget(SUB, "reads")),
        ("POST", VM_URL + "/powerOff", ArmTarget(SUB, "writes")),
        ("GET", "https://management.azure.com/providers/Microsoft.Compute/operations", None),
    ],
)
def test_classify_by_subscription_kind_and_update_vm(method: str, url: str, expected: ArmTarget | None) -> None:
    assert classify(method, url) == expected


def test_retry_after_in_seconds_milliseconds_or_http_date() -> None:
    assert retry_after_seconds({"Retry-After": "17"}) == 17
    assert retry_after_seconds({"retry-after-ms": "1500"}) == 1.5
    assert retry_after_seconds({"x-ms-retry-after-ms": "250"}) == 0.25
    assert retry_after_seconds({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0  # in the past
    assert retry_after_seconds({"Content-Type": "application/json"}) is None


# ---------------------------------------------------------------------------------------------- budget


async def test_requests_wait_for_tokens_and_are_counted() -> None:
    budget, _ = fake_budget(BudgetLimits(reads=BucketLimit(2, 4)))
    waits = [await budget.acquire(READ) for _ in range(4)]
    assert waits == [0.0, 0.0, 0.25, 0.25]
    snap = budget.snapshot()
    assert (snap.requests, snap.waited, snap.wait_seconds, snap.throttled) == (4, 2, 0.5, 0)
    assert snap.subscriptions[SUB].requests == 4


async def test_a_429_pauses_that_subscription_and_kind_for_retry_after_including_queued_requests() -> None:
    budget, _ = fake_budget(BudgetLimits(reads=BucketLimit(1, 1)))
    await budget.acquire(READ)
    queued = asyncio.ensure_future(budget.acquire(READ))  # reserved now, due in 1 s
    await asyncio.sleep(0)
    budget.observe(READ, 429, {"Retry-After": "30"})
    assert await queued == pytest.approx(31.0)  # pushed back by the pause
    assert await budget.acquire(WRITE) == 0  # writes are another budget
    assert budget.snapshot().throttled == 1


async def test_behind_a_long_pause_a_request_waits_no_longer_than_its_sdk_call_may() -> None:
    """Issue 14 item 2: queued behind a 10-minute Retry-After, a request used to outlive its 2-minute activity."""
    budget, _ = fake_budget(BudgetLimits(reads=BucketLimit(10, 1)))
    await budget.acquire(READ)
    budget.observe(READ, 429, {"Retry-After": "600"})
    assert await budget.acquire(READ, max_wait=45) == pytest.approx(45)  # then sent, to meet ARM's 429
    assert await budget.acquire(READ) > 500  # without a limit (no SDK call deadline): the whole pause


async def test_a_low_remaining_count_from_arm_drains_the_bucket() -> None:
    budget, _ = fake_budget(BudgetLimits(reads=BucketLimit(100, 10)))
    await budget.acquire(READ)
    budget.observe(READ, 200, {"x-ms-ratelimit-remaining-subscription-reads": "50"})  # above the low-water mark
    assert await budget.acquire(READ) == 0
    budget.observe(READ, 200, {"x-ms-ratelimit-remaining-subscription-reads": "2"})  # someone else spends it
    assert [await budget.acquire(READ) for _ in range(3)] == [0.0, 0.0, pytest.approx(0.1)]


async def test_update_vm_budget_is_per_vm_and_a_compute_429_pauses_only_that_vm() -> None:
    budget, _ = fake_budget()
    put = ArmTarget(SUB, "writes", f"{SUB}/rg-web/app-01")
    other = ArmTarget(SUB, "writes", f"{SUB}/rg-web/app-02")
    assert [await budget.acquire(put) for _ in range(12)] == [0.0] * 12
    assert await budget.acquire(put) == pytest.approx(15.0)  # refill 4 per minute
    assert await budget.acquire(other) == 0
    budget.observe(
        put,
        429,
        {"Retry-After": "60", "x-ms-ratelimit-remaining-resource": "Microsoft.Compute/UpdateVM;0"},
    )
    assert await budget.acquire(WRITE) == 0  # the subscription's writes are not paused
    assert await budget.acquire(put) == pytest.approx(75.0)


async def test_unlimited_budget_never_waits_but_still_counts_429s() -> None:
    budget, fake = fake_budget(BudgetLimits.unlimited())
    assert [await budget.acquire(READ) for _ in range(1000)] == [0.0] * 1000
    budget.observe(READ, 429, {"Retry-After": "30"})
    assert await budget.acquire(READ) == 0
    assert budget.snapshot().throttled == 1 and fake.slept == []


# ---------------------------------------------------------------------------------------------- settings, wiring


def test_budget_settings_from_env_and_simulator() -> None:
    settings = Settings.from_env({"ADEFLOW_ARM_READS_PER_S": "12.5", "ADEFLOW_ARM_BUDGET_SHARE": "0.5"})
    assert settings.azure.arm_reads_per_s == 12.5 and settings.azure.arm_budget_share == 0.5
    assert settings.azure.arm_writes_per_s == AzureSettings.arm_writes_per_s
    limits = BudgetLimits.from_settings(settings.azure)
    assert limits.arm("reads") == BucketLimit(100, 6.25)
    assert settings.with_simulator("https://127.0.0.1:1", Path(__file__)).azure.arm_reads_per_s == 12.5
    with pytest.raises(ValueError, match="ADEFLOW_ARM_BUDGET_SHARE"):
        Settings.from_env({"ADEFLOW_ARM_BUDGET_SHARE": "2"})
    with pytest.raises(ValueError, match="ADEFLOW_ARM_WRITES_PER_S"):
        Settings.from_env({"ADEFLOW_ARM_WRITES_PER_S": "fast"})


async def test_every_client_has_the_shared_budget_right_after_the_retry_policy() -> None:
    """azure-core puts per_retry_policies directly after RetryPolicy, so each retry attempt spends a token."""
    clients = AzureClients(AzureSettings(arm_endpoint="https://127.0.0.1:9", static_token="t"))
    try:
        every = (clients.compute(SUB), clients.keyvault(SUB), clients.backup(SUB), clients.policy(SUB))
        migration = (clients.network(SUB), clients.features(SUB), clients.resources(SUB))  # issue 16
        for client in (*every, *migration):
            policies: list[Any] = list(client._client._pipeline._impl_policies)
            index = next(i for i, p in enumerate(policies) if isinstance(p, ArmBudgetPolicy))
            assert isinstance(policies[index - 1], AsyncRetryPolicy)
            assert policies[index].budget is clients.arm_budget
    finally:
        await clients.close()


FLEET_ONE = fleet_dict([{"name": "app-01", "os_disk": {"size_gb": 30}}])


async def test_sdk_retry_of_a_429_goes_through_the_budget(
    make_sim: SimFactory, azure_for: Callable[[SimServer], AzureClients]
) -> None:
    sim = make_sim(FLEET_ONE)
    sim.inject({"kind": "throttle", "operation": "VirtualMachines_Get", "count": 1, "retry_after": 1})
    clients = azure_for(sim)
    await ActivityEnvironment().run(InventoryActivities(clients).read_vm_facts, VmRef(SUB, "rg-web", "app-01"))
    snap = clients.arm_budget.snapshot()
    assert snap.throttled == 1
    assert snap.requests == len(sim.requests())  # the retried GET was counted too


# ---------------------------------------------------------------------------------------------- 200 VMs


# Arithmetic. Per VM the start of a run sends ~6.5 reads (VM, OS disk, ADE extension (404), key vault, snapshot
# polls) and 1 write (snapshot PUT): 200 VMs ~ 1,300 reads and 200 writes. The simulator runs at reads 100 +
# 80/s and writes 40 + 20/s; the client budget is 80% of that (reads 80 + 64/s, writes 32 + 16/s), the same
# headroom as the production defaults (200 + 20/s under ARM's 250 + 25/s). The budgeted run needs about
# (1300 - 80) / 64 ~ 19 s for its reads (the writes, ~11 s, overlap); the run without a budget is bounded by the
# simulator's refill too (~15 s), so the test stays well under 60 s. (The simulator's documented 250 + 25/s
# would make the same run last a minute.)
SIM_READS = {"capacity": 100.0, "refill_per_s": 80.0}
SIM_WRITES = {"capacity": 40.0, "refill_per_s": 20.0}
CLIENT_FRACTION = 0.8
FLEET_200 = fleet_dict([{"name": f"vm-{i:03d}", "os_disk": {"size_gb": 30}} for i in range(200)])


async def _start_of_run(clients: AzureClients, name: str, run_tag: str) -> None:
    """What a real run does first for a VM: read its facts and the key vault, then snapshot its disks."""
    ref = VmRef(SUB, "rg-web", name)
    facts = await ActivityEnvironment().run(InventoryActivities(clients).read_vm_facts, ref)
    lookup = await ActivityEnvironment().run(KeyVaultActivities(clients).read_key_vault, VAULT_ID)
    assert lookup.vault is not None, lookup.problem
    request = SnapshotRequest(ref, "eastus", [d.managed_disk_id for d in facts.disks], run_tag=run_tag)
    snapshots = await ActivityEnvironment().run(BackupActivities(clients).snapshot_disks, request)
    assert len(snapshots) == 1


async def _fleet_start(
    sim: SimServer, settings: AzureSettings, run_tag: str
) -> tuple[list[BaseException | None], float, int]:
    sim.set_throttling(reads=SIM_READS, writes=SIM_WRITES)
    first = len(sim.requests())
    clients = AzureClients(settings)
    started = time.monotonic()
    try:
        results = await asyncio.gather(
            *(_start_of_run(clients, f"vm-{i:03d}", run_tag) for i in range(200)), return_exceptions=True
        )
    finally:
        await clients.close()
    wall = time.monotonic() - started
    throttled = sum(1 for r in sim.requests()[first:] if r.status == 429)
    return list(results), wall, throttled


async def test_200_vms_start_at_once_and_the_budget_keeps_them_under_the_subscription_limits(
    make_sim: SimFactory,
) -> None:
    """docs/original-design.md §5 invariant 8: the fleet stays under the budgets instead of bouncing off them."""
    sim = make_sim(FLEET_200)
    base = sim_settings(sim).azure
    unbudgeted = replace(base, arm_reads_per_s=0, arm_writes_per_s=0, arm_deletes_per_s=0, arm_vm_updates_per_min=0)
    before = len(sim.requests())
    results_free, wall_free, throttled_free = await _fleet_start(sim, unbudgeted, "free")
    requests_free = len(sim.requests()) - before

    budgeted = replace(
        base,
        arm_reads_capacity=SIM_READS["capacity"] * CLIENT_FRACTION,
        arm_reads_per_s=SIM_READS["refill_per_s"] * CLIENT_FRACTION,
        arm_writes_capacity=SIM_WRITES["capacity"] * CLIENT_FRACTION,
        arm_writes_per_s=SIM_WRITES["refill_per_s"] * CLIENT_FRACTION,
    )
    before = len(sim.requests())
    results, wall, throttled = await _fleet_start(sim, budgeted, "budget")
    requests = len(sim.requests()) - before

    failed_free = sum(1 for r in results_free if r is not None)
    print(
        f"\n200 VMs without budget: {requests_free} requests, {throttled_free} x 429, {failed_free} VMs failed, "
        f"{wall_free:.1f} s\n200 VMs with budget:    {requests} requests, {throttled} x 429, {wall:.1f} s"
    )
    assert [r for r in results if r is not None] == []
    assert throttled < 0.02 * requests
