"""``AzureClients.probe``, the read ``adeflow worker --check`` makes: against the simulator, with the real SDK."""

from __future__ import annotations

from collections.abc import Callable

from activities.azure.clients import AzureClients
from azuresim.server import SimServer
from tests.support.fleets import fleet_dict, vm
from tests.support.servers import SimFactory


async def test_the_probe_lists_subscriptions_once_and_names_the_credential(
    make_sim: SimFactory, azure_for: Callable[[SimServer], AzureClients]
) -> None:
    sim = make_sim(fleet_dict([vm("probe-01")]))
    probe = await azure_for(sim).probe()
    assert probe.identity == "a static token (ADEFLOW_ARM_STATIC_TOKEN)"
    assert probe.subscriptions == 1 and probe.seconds >= 0
    listed = [r for r in sim.requests() if r.operation == "Subscriptions_List"]
    assert [(r.method, r.path, r.status, r.api_version) for r in listed] == [
        ("GET", "/subscriptions", 200, "2022-12-01")
    ]
    assert len(sim.requests()) == 1  # one read, nothing else
