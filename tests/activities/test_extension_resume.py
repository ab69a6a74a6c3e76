"""A retried enable rejoins the operation of the PUT an earlier attempt sent (issue 14 item 3; R-ENA-1).

The earlier attempt is played by the real SDK: the PUT is sent and its poller dropped, as when an attempt dies.
The retry is the activity with the heartbeat details a real server hands the next attempt.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from temporalio.testing import ActivityEnvironment

from activities.azure.clients import AzureClients
from activities.extension import ExtensionActivities, extension_body
from activities.keyvault import KeyVaultActivities
from adeflow.domain import rules
from adeflow.domain.model import ADE_EXTENSION_NAME, ExtensionRequest, VmRef, VolumeType
from azuresim.http import MAX_RETRY_AFTER
from azuresim.server import SimServer
from tests.support.domain_facts import request as make_request
from tests.support.fleets import SUB, VAULT_ID, fleet_dict
from tests.support.servers import SimFactory, sim_settings

REF = VmRef(SUB, "rg-web", "app-01")
FLEET = fleet_dict([{"name": "app-01", "os_disk": {"size_gb": 30}}], stamp_seconds=6.0)  # the PUT's LRO: 6 s
PUT = "VirtualMachineExtensions_CreateOrUpdate"
Azure = Callable[[SimServer], AzureClients]


async def enable_request(clients: AzureClients) -> ExtensionRequest:
    vault = (await ActivityEnvironment().run(KeyVaultActivities(clients).read_key_vault, VAULT_ID)).vault
    assert vault is not None
    settings = rules.plan_enable_settings(make_request(VolumeType.OS), vault, VolumeType.OS, "seq-0001")
    return ExtensionRequest(REF, "eastus", settings)


async def earlier_attempt(clients: AzureClients, request: ExtensionRequest) -> str:
    """Send the PUT and return the continuation token the activity heartbeats, without waiting for the LRO."""
    poller = await clients.compute(SUB).virtual_machine_extensions.begin_create_or_update(
        "rg-web", "app-01", ADE_EXTENSION_NAME, extension_body(request), polling=clients.lro_polling()
    )
    token: str = poller.continuation_token()
    return token


def token_data(token: str) -> dict[str, Any]:
    """azure-core's continuation token: base64 JSON of the PUT and its answer."""
    data: dict[str, Any] = json.loads(base64.b64decode(token))["data"]
    return data


def forgotten(token: str) -> str:
    """The token with its operation swapped for one ARM does not know (operations expire)."""
    wrapped = json.loads(base64.b64decode(token))
    headers = wrapped["data"]["response"]["headers"]
    headers["Azure-AsyncOperation"] = re.sub(r"/operations/[^?]+", "/operations/gone", headers["Azure-AsyncOperation"])
    return base64.b64encode(json.dumps(wrapped).encode()).decode()


def retry_with(details: list[Any]) -> ActivityEnvironment:
    env = ActivityEnvironment()
    env.info = replace(env.info, attempt=2, heartbeat_details=details)
    return env


async def test_the_first_attempt_heartbeats_its_operations_continuation_token(
    make_sim: SimFactory, azure_for: Azure
) -> None:
    sim = make_sim(FLEET, scale=10.0)
    clients = azure_for(sim)
    beats: list[tuple[Any, ...]] = []
    env = ActivityEnvironment()
    env.on_heartbeat = lambda *details: beats.append(details)
    result = await env.run(ExtensionActivities(clients).put_encryption_extension, await enable_request(clients))

    assert (result.provisioning_state, result.sent_put) == ("Succeeded", True)
    assert beats and beats[0][0] == "enabling ADE on app-01 (sequence seq-0001)"
    state = token_data(beats[0][1])
    assert state["request"]["method"] == "PUT" and "Azure-AsyncOperation" in state["response"]["headers"]


async def test_a_retry_polls_the_earlier_attempts_operation_at_retry_after(make_sim: SimFactory) -> None:
    sim = make_sim(FLEET, scale=1.0)
    clients = AzureClients(replace(sim_settings(sim).azure, lro_poll_seconds=30))
    try:
        request = await enable_request(clients)
        token = await earlier_attempt(clients, request)
        retry = retry_with(["enabling ADE on app-01 (sequence seq-0001)", token])
        result = await retry.run(ExtensionActivities(clients).put_encryption_extension, request)
    finally:
        await clients.close()

    assert (result.provisioning_state, result.sent_put) == ("Succeeded", False)
    assert [r.operation for r in sim.requests()].count(PUT) == 1  # no second encryption pass
    calls = [r for r in sim.requests() if r.operation in ("AsyncOperation_Get", "VirtualMachineExtensions_Get")]
    assert [r.operation for r in calls][:2] == ["VirtualMachineExtensions_Get", "AsyncOperation_Get"]
    spacing = [(b.real_time - a.real_time).total_seconds() for a, b in itertools.pairwise(calls)]
    assert max(spacing) <= MAX_RETRY_AFTER + 3, spacing  # ARM's Retry-After, not lro_poll_seconds (30 s)


@pytest.mark.parametrize(
    ("details", "operation_polls"),
    [
        pytest.param(lambda token: [], [], id="no-heartbeat"),
        pytest.param(lambda token: ["waiting for app-01", "not a continuation token"], [], id="garbled"),
        pytest.param(lambda token: ["waiting for app-01", forgotten(token)], [404], id="operation-gone"),
    ],
)
async def test_without_a_usable_token_a_retry_re_reads_the_extension(
    make_sim: SimFactory, azure_for: Azure, details: Callable[[str], list[Any]], operation_polls: list[int]
) -> None:
    """An attempt that died before its first heartbeat left no token; a garbled one or one of an operation ARM
    has forgotten (404) cannot be resumed: the retry falls back to reading the extension every lro_poll_seconds."""
    sim = make_sim(FLEET, scale=1.0)
    clients = azure_for(sim)  # lro_poll_seconds 1
    request = await enable_request(clients)
    token = await earlier_attempt(clients, request)
    result = await retry_with(details(token)).run(ExtensionActivities(clients).put_encryption_extension, request)

    assert (result.provisioning_state, result.sent_put) == ("Succeeded", False)
    assert [r.operation for r in sim.requests()].count(PUT) == 1
    assert [r.status for r in sim.requests() if r.operation == "AsyncOperation_Get"] == operation_polls
    reads = [r.operation for r in sim.requests()][-3:]
    assert reads == ["VirtualMachineExtensions_Get"] * 3, reads  # it waited by reading the extension
