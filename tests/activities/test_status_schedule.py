"""The status read follows the poll schedule (issue 18, adeflow/domain/polling.py): its "still encrypting" error
carries the next delay (``next_retry_delay``), the read right after the enable is skipped when the sizes say
nothing can be done yet, and the power state is read only when the progress stalls (R-LIM-2)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.azure.clients import AzureClients
from activities.extension import ExtensionActivities
from activities.keyvault import KeyVaultActivities
from activities.status import StatusActivities
from adeflow.domain import polling, rules
from adeflow.domain.model import ExtensionRequest, ProgressRequest, VmRef, VolumeType
from adeflow.domain.vocabulary import Reason
from azuresim.server import SimServer
from tests.support.domain_facts import request as make_request
from tests.support.fleets import SUB, VAULT_ID, fleet_dict, vm

Azure = Callable[[SimServer], AzureClients]
REF = VmRef(SUB, "rg-web", "sched-01")
FLEET = fleet_dict([vm("sched-01", os_disk={"size_gb": 30}, data_disks=[{"lun": 0, "size_gb": 20}])])
STATUS_READ = "VirtualMachineExtensions_Get"
POWER_READ = "VirtualMachines_InstanceView"
L = 1200.0
POLL = ProgressRequest(REF, VolumeType.ALL, "seq-0003", max_latency_s=L, os_gb=30, data_gb=[20])


def attempt(number: int, elapsed_s: float, details: list[Any] | None = None) -> ActivityEnvironment:
    """An attempt ``elapsed_s`` into the wait, with the heartbeat details the previous attempt left."""
    env = ActivityEnvironment()
    first = datetime(2026, 12, 6, tzinfo=UTC)
    env.info = replace(
        env.info,
        attempt=number,
        scheduled_time=first,
        current_attempt_scheduled_time=first + timedelta(seconds=elapsed_s),
        heartbeat_details=details or [],
    )
    return env


async def enabled(make_sim: Callable[..., SimServer], azure_for: Azure) -> tuple[SimServer, StatusActivities]:
    """The extension PUT done (stamping finished), then the simulator's clock stands still."""
    sim = make_sim(FLEET, scale=1000.0)
    clients = azure_for(sim)
    vault = (await ActivityEnvironment().run(KeyVaultActivities(clients).read_key_vault, VAULT_ID)).vault
    assert vault is not None
    settings = rules.plan_enable_settings(make_request(VolumeType.ALL), vault, VolumeType.ALL, "seq-0003")
    await ActivityEnvironment().run(
        ExtensionActivities(clients).put_encryption_extension, ExtensionRequest(REF, "eastus", settings)
    )
    sim.clock.scale = 1.0
    return sim, StatusActivities(clients)


def reads(sim: SimServer, operation: str) -> int:
    return sum(1 for r in sim.requests() if r.operation == operation)


async def still_working(env: ActivityEnvironment, status: StatusActivities, poll: ProgressRequest) -> ApplicationError:
    with pytest.raises(ApplicationError) as waiting:
        await env.run(status.await_encryption, poll)
    assert waiting.value.type == Reason.STILL_WORKING and not waiting.value.non_retryable, waiting.value
    return waiting.value


async def test_the_first_read_waits_for_the_sizes_at_the_fastest_expected_rate(
    make_sim: Callable[..., SimServer], azure_for: Azure
) -> None:
    sim, status = await enabled(make_sim, azure_for)
    before = reads(sim, STATUS_READ)
    fast = replace(POLL, fast_gb_per_hour=25.0)  # 50 GB: 2 h at the fastest
    error = await still_working(attempt(1, 0.0), status, fast)
    assert reads(sim, STATUS_READ) == before  # nothing read: nothing can be done before
    assert error.next_retry_delay == timedelta(hours=2)


async def test_far_from_the_finish_the_next_read_is_sparse_and_the_power_state_is_not_read(
    make_sim: Callable[..., SimServer], azure_for: Azure
) -> None:
    sim, status = await enabled(make_sim, azure_for)
    sim.clock.advance(3600)  # 10 GB/h: the data volume half done, a fifth of the whole
    error = await still_working(attempt(2, 3600.0), status, POLL)
    assert error.next_retry_delay is not None
    delay = error.next_retry_delay.total_seconds()
    assert L < delay <= polling.QUIET_FACTOR * L  # 4 h left: sparse, within the cap
    assert "Encrypting data volume 1/1" in str(error.details[0])  # the last seen status, for the deadline message
    assert reads(sim, POWER_READ) == 0


async def test_a_stalled_percent_reads_the_power_state_and_ends_on_a_deallocated_vm(
    make_sim: Callable[..., SimServer], azure_for: Azure
) -> None:
    """R-LIM-2: a deallocated guest keeps showing its last percent; the stall is the cue to read the power state."""
    sim, status = await enabled(make_sim, azure_for)
    sim.clock.advance(3600)
    sim.inject({"kind": "vm_deallocated", "vm": "sched-01"})
    sim.clock.advance(3600)
    previous = ["os: ..., data: ...", [3600.0, 0.19]]  # the read an hour ago saw the same percent
    with pytest.raises(ApplicationError) as ended:
        await attempt(4, 7200.0, previous).run(status.await_encryption, POLL)  # not a 3rd: the stall decides
    assert (ended.value.type, ended.value.non_retryable) == (Reason.VM_NOT_RUNNING, True)
    assert "R-LIM-2" in ended.value.message and "az vm start" in ended.value.message
    assert reads(sim, POWER_READ) == 1


async def test_steady_progress_does_not_read_the_power_state(
    make_sim: Callable[..., SimServer], azure_for: Azure
) -> None:
    sim, status = await enabled(make_sim, azure_for)
    sim.clock.advance(3600)
    await still_working(attempt(3, 3600.0, ["", [1800.0, 0.09]]), status, POLL)  # a 3rd read: no power read
    assert reads(sim, POWER_READ) == 0


async def test_a_request_without_a_latency_polls_at_the_retry_policys_interval(
    make_sim: Callable[..., SimServer], azure_for: Azure
) -> None:
    """Runs started before the schedule (their ProgressRequest has no max_latency_s) poll as they did."""
    sim, status = await enabled(make_sim, azure_for)
    error = await still_working(attempt(1, 0.0), status, replace(POLL, max_latency_s=0.0, fast_gb_per_hour=25.0))
    assert error.next_retry_delay is None
    assert reads(sim, STATUS_READ) >= 1
