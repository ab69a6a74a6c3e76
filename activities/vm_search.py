"""Resolve fleet selectors to VMs: Compute VM lists filtered by tags, or an Azure Resource Graph query.

Read-only, so safe to retry. Tags use the Compute list APIs (the same budget and permissions as the rest of a
run, no Resource Graph quota spent); queries page through Resource Graph with ``$skipToken``. The function
works outside Temporal too, so ``adeflow rollout check`` resolves selectors exactly as the rollout will.
"""

from __future__ import annotations

from typing import Any

from azure.core.exceptions import HttpResponseError
from azure.mgmt.resourcegraph.models import QueryRequest, QueryRequestOptions
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.azure.clients import AzureClients
from activities.azure.errors import classify_arm_error
from adeflow.domain.fleet_query import VmQuery, VmQueryResult, graph_row_vm, tags_match
from adeflow.domain.model import VmRef

PAGE_SIZE = 1000


def _details(exc: HttpResponseError) -> str:
    """Resource Graph puts the parser's complaint in the error details; show it, it says what to fix."""
    details = getattr(getattr(exc, "error", None), "details", None) or []
    return "; ".join(str(getattr(d, "message", "")) for d in details if getattr(d, "message", ""))


async def _by_tags(clients: AzureClients, query: VmQuery) -> VmQueryResult:
    compute = clients.compute(query.subscription_id)
    pager = (
        compute.virtual_machines.list(query.resource_group)
        if query.resource_group
        else compute.virtual_machines.list_all()
    )
    found: list[VmRef] = []
    async for vm in pager:
        if tags_match(vm.tags, query.tags) and vm.id:
            found.append(VmRef.from_resource_id(vm.id))
    return VmQueryResult(query, found)


async def _by_graph(clients: AzureClients, query: VmQuery) -> VmQueryResult:
    graph = clients.resource_graph()
    found: list[VmRef] = []
    ignored: list[str] = []
    token: str | None = None
    while True:
        request = QueryRequest(
            subscriptions=list(query.subscriptions) or None,
            query=query.resource_graph,
            options=QueryRequestOptions(result_format="objectArray", top=PAGE_SIZE, skip_token=token),
        )
        response = await graph.resources(request)
        data: Any = response.data or []
        if not isinstance(data, list):
            raise ValueError("expected rows in objectArray format from Resource Graph")
        rows: list[dict[str, Any]] = data
        for row in rows:
            resource_id = str(row.get("id") or "")
            if not resource_id:
                raise ValueError("the Resource Graph query must return the id column (add '| project id, name')")
            vm = graph_row_vm(resource_id, str(row.get("type") or ""))
            if vm is not None:
                found.append(vm)
            else:
                ignored.append(resource_id)
        token = response.skip_token
        if not token:
            return VmQueryResult(query, found, ignored)


async def find_vms(clients: AzureClients, query: VmQuery) -> VmQueryResult:
    """The VMs a selector names now; raises with the selector's source and Azure's reason when Azure refuses."""
    try:
        return await (_by_graph(clients, query) if query.resource_graph else _by_tags(clients, query))
    except HttpResponseError as exc:
        reason = _details(exc)
        what = f"selector {query.source or query.describe()}" + (f" ({reason})" if reason else "")
        raise classify_arm_error(exc, what) from exc


class VmSearchActivities:
    def __init__(self, clients: AzureClients) -> None:
        self._clients = clients

    @activity.defn(name="find_vms")
    async def find_vms(self, query: VmQuery) -> VmQueryResult:
        """A rollout's selector, resolved once at its start (the result is in history, so replays agree)."""
        try:
            return await find_vms(self._clients, query)
        except ValueError as exc:
            raise ApplicationError(f"selector {query.source}: {exc}", non_retryable=True) from exc
