"""Fleet selectors against the simulator: Compute VM lists filtered by tags, and Resource Graph queries
through the real ``ResourceGraphClient`` (paging, errors), as ``activities.vm_search.find_vms`` sends them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError
from azure.mgmt.resourcegraph.models import QueryRequest, QueryRequestOptions
from temporalio.exceptions import ApplicationError

from activities.azure.clients import AzureClients
from activities.vm_search import find_vms
from adeflow.domain.fleet_query import VmQuery
from azuresim.errors import ArmError
from azuresim.kql import run_query
from azuresim.server import SimServer
from tests.support.fleets import SUB, fleet_dict
from tests.support.servers import SimFactory

ROWS: list[dict[str, Any]] = [
    {"name": "web-01", "type": "microsoft.compute/virtualmachines", "resourceGroup": "rg-web",
     "tags": {"env": "prod", "ade": "yes"}, "properties": {"hardwareProfile": {"vmSize": "Standard_D4s_v5"}}},
    {"name": "web-02", "type": "microsoft.compute/virtualmachines", "resourceGroup": "rg-web",
     "tags": {"env": "dev"}, "properties": {"hardwareProfile": {"vmSize": "Standard_B2s"}}},
    {"name": "web-02-osdisk", "type": "microsoft.compute/disks", "resourceGroup": "rg-web", "tags": {}},
]  # fmt: skip


def names(rows: list[dict[str, Any]]) -> list[str]:
    return [row["name"] for row in rows]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("Resources", ["web-01", "web-02", "web-02-osdisk"]),
        ("resources | where type =~ 'Microsoft.Compute/virtualMachines'", ["web-01", "web-02"]),
        ("Resources | where tags['env'] == 'prod' and tags.ade =~ 'YES'", ["web-01"]),
        ("Resources | where tags.env == 'Prod'", []),
        ("Resources | where name startswith 'web' and not(name endswith 'osdisk') | project name",
         ["web-01", "web-02"]),
        ("Resources | where properties.hardwareProfile.vmSize in~ ('standard_b2s')", ["web-02"]),
        ("Resources | where isnotempty(tags.env) or name contains 'DISK' | order by name asc | take 2",
         ["web-01", "web-02"]),
        ("Resources | where (tags.env == 'dev' or tags.env == 'prod') and resourceGroup !~ 'RG-WEB'", []),
    ],
)  # fmt: skip
def test_kql_subset(query: str, expected: list[str]) -> None:
    assert names(run_query(query, ROWS)) == expected


@pytest.mark.parametrize(
    "query", ["Resources | summarize count()", "Resources | where name matches regex 'x'", "SecurityResources", ""]
)
def test_unsupported_queries_fail_like_resource_graph(query: str) -> None:
    with pytest.raises(ArmError) as caught:
        run_query(query, ROWS)
    body = caught.value.body()["error"]
    assert (caught.value.status, body["code"]) == (400, "BadRequest")
    assert [d["code"] for d in body["details"]] == ["InvalidQuery", "ParserFailure"]


def fleet() -> dict[str, Any]:
    vms = [{"name": f"web-{i:03d}", "tags": {"env": "prod" if i % 3 else "dev", "Ade": "yes"}} for i in range(250)]
    return fleet_dict([*vms, {"name": "untagged-01"}])


async def test_tag_selector_pages_through_compute_vm_lists(
    make_sim: SimFactory, azure_for: Callable[[SimServer], AzureClients]
) -> None:
    sim = make_sim(fleet())
    clients = azure_for(sim)
    result = await find_vms(
        clients, VmQuery(subscription_id=SUB, resource_group="rg-web", tags={"ade": "yes", "env": "prod"})
    )
    assert len(result.vms) == 166 and all(int(ref.name[4:]) % 3 for ref in result.vms)
    everywhere = await find_vms(clients, VmQuery(subscription_id=SUB, tags={"env": "dev"}))
    assert len(everywhere.vms) == 84
    ops = [r.operation for r in sim.requests()]
    assert ops.count("VirtualMachines_List") == 3 and ops.count("VirtualMachines_ListAll") == 3  # 100 per page


async def test_resource_graph_selector_keeps_vms_and_reports_other_rows(
    make_sim: SimFactory, azure_for: Callable[[SimServer], AzureClients]
) -> None:
    sim = make_sim(fleet())
    clients = azure_for(sim)
    query = "Resources | where tags.env == 'dev' or name == 'untagged-01-osdisk' | project id, name, type"
    result = await find_vms(clients, VmQuery(resource_graph=query, subscriptions=[SUB]))
    assert len(result.vms) == 84 and {ref.resource_group for ref in result.vms} == {"rg-web"}
    assert [i.rsplit("/", 1)[-1] for i in result.ignored] == ["untagged-01-osdisk"]
    assert [r.operation for r in sim.requests()] == ["Resources"]


async def test_resource_graph_pages_with_skip_token(
    make_sim: SimFactory, azure_for: Callable[[SimServer], AzureClients]
) -> None:
    sim = make_sim(fleet())
    graph = azure_for(sim).resource_graph()
    seen: list[str] = []
    token = None
    while True:
        options = QueryRequestOptions(top=100, skip_token=token, result_format="objectArray")
        page = await graph.resources(
            QueryRequest(
                subscriptions=[SUB],
                query="Resources | where type =~ 'microsoft.compute/virtualmachines'",
                options=options,
            )
        )
        assert page.total_records == 251
        seen += [row["name"] for row in page.data]
        token = page.skip_token
        if not token:
            break
    assert len(seen) == len(set(seen)) == 251


async def test_a_bad_query_names_the_selector_and_the_parser_complaint(
    make_sim: SimFactory, azure_for: Callable[[SimServer], AzureClients]
) -> None:
    sim = make_sim(fleet())
    query = VmQuery(resource_graph="Resources | summarize count() by location", source="fleet.yaml:14")
    with pytest.raises(ApplicationError) as caught:
        await find_vms(azure_for(sim), query)
    message = str(caught.value)
    assert "selector fleet.yaml:14" in message and "'summarize' is not served" in message and "400" in message
    assert caught.value.non_retryable
    with pytest.raises(HttpResponseError):
        await azure_for(sim).resource_graph().resources(QueryRequest(query="Resources | where"))
