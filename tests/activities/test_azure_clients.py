"""The Azure SDK clients' HTTP layer: kept-alive connections and the environment's proxy (issue 9, item 7)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from temporalio.testing import ActivityEnvironment

from activities.azure.clients import AzureClients, arm_proxy
from activities.inventory import InventoryActivities
from activities.keyvault import KeyVaultActivities
from adeflow.domain.model import VmRef
from azuresim.server import SimServer
from tests.support.fleets import SUB, VAULT_ID, fleet_dict
from tests.support.servers import SimFactory

FLEET = fleet_dict([{"name": f"app-{i:02d}", "data_disks": [{"lun": 0, "size_gb": 8}]} for i in range(4)])


async def test_requests_of_every_client_reuse_a_few_tls_connections(
    make_sim: SimFactory, azure_for: Callable[[SimServer], AzureClients]
) -> None:
    """Given the simulator's CA file, each request used to open its own TLS connection (a new SSLContext per
    request in azure-core): the worker's top CPU hot spot. Compute and Key Vault clients now share one pool."""
    sim = make_sim(FLEET)
    azure = azure_for(sim)
    inventory, vaults = InventoryActivities(azure), KeyVaultActivities(azure)
    env = ActivityEnvironment()
    for i in range(4):
        await env.run(inventory.read_vm_facts, VmRef(SUB, "rg-web", f"app-{i:02d}"))
        await env.run(vaults.read_key_vault, VAULT_ID)
    records = sim.requests()
    connections = {r.connection for r in records}
    assert len(records) >= 16  # VM, disk, vault each time (the VM's answer carries its extensions, issue 18)
    assert "" not in connections
    assert len(connections) <= 4, f"{len(records)} requests over {len(connections)} connections"


def test_the_proxy_comes_from_the_environment_once_for_the_arm_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    assert arm_proxy("https://management.azure.com") == (None, None)
    monkeypatch.setenv("HTTPS_PROXY", "http://ops:secret@proxy.corp.example:3128")
    proxy, auth = arm_proxy("https://management.azure.com")
    assert str(proxy) == "http://proxy.corp.example:3128"
    assert auth is not None and (auth.login, auth.password) == ("ops", "secret")
    monkeypatch.setenv("NO_PROXY", "management.azure.com")
    assert arm_proxy("https://management.azure.com") == (None, None)
