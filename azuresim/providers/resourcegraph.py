"""Azure Resource Graph over HTTP: the ``Resources`` table (VMs, managed disks, scale sets) and ``ComputeResources``
(the instances of Uniform scale sets, type ``microsoft.compute/virtualmachinescalesets/virtualmachines``, which
Resource Graph keeps out of ``Resources``) queried with :mod:`azuresim.kql`.

Rows are rendered from the same state as the ARM resources, so a query sees what a GET would.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from aiohttp import web

from azuresim.errors import ArmError
from azuresim.http import Call, json_response, route
from azuresim.kql import Row, run_query
from azuresim.providers.compute import render_vm
from azuresim.providers.disks import render_disk
from azuresim.providers.scalesets import render_instance, render_scale_set
from azuresim.state.world import SimState

RESOURCE_GRAPH_API = ("2021-03-01", "2022-10-01")
DEFAULT_TOP = 100
MAX_TOP = 1000


def resource_graph(state: SimState, call: Call) -> web.Response:
    """Resources query (Resource Graph), with the per-user quota headers ARG sends."""
    query = call.body.get("query")
    if not isinstance(query, str):
        raise ArmError(400, "BadRequest", "The request content must contain a string 'query'.")
    subscriptions = call.body.get("subscriptions") or []
    options = call.body.get("options") or {}
    rows = run_query(
        query, resource_rows(state, subscriptions, call.now), scale_set_instance_rows(state, subscriptions)
    )
    headers = {"x-ms-user-quota-remaining": "14", "x-ms-user-quota-resets-after": "00:00:05"}
    return json_response(page(rows, options), headers=headers)


def _arg_row(body: dict[str, Any], subscription_id: str, resource_group: str) -> Row:
    """An ARM body as Resource Graph shows it: lower-case type, resource group and subscription columns."""
    return {
        "id": body["id"],
        "name": body["name"],
        "type": str(body["type"]).lower(),
        "tenantId": "72f988bf-86f1-41af-91ab-2d7cd011db47",
        "kind": "",
        "location": body.get("location", ""),
        "resourceGroup": resource_group.lower(),
        "subscriptionId": subscription_id,
        "managedBy": body.get("managedBy", ""),
        "sku": body.get("sku"),
        "plan": None,
        "properties": body.get("properties", {}),
        "tags": body.get("tags") or {},
        "identity": None,
        "zones": body.get("zones"),
        "extendedLocation": None,
    }


def resource_rows(state: SimState, subscriptions: Iterable[str], now: datetime) -> list[Row]:
    """Every VM and managed disk of the named subscriptions (unknown ones contribute nothing, as in ARG)."""
    wanted = {s.lower() for s in subscriptions}
    rows: list[Row] = []
    for sub in state.subscriptions.values():
        if wanted and sub.id.lower() not in wanted:
            continue
        for rg in sub.resource_groups.values():
            for vm in rg.vms.values():
                if not vm.deleted(now):
                    rows.append(_arg_row(render_vm(vm, now, instance_view=False), sub.id, rg.name))
            for disk in rg.disks.values():
                if disk.vm is None or not disk.vm.deleted(now):
                    rows.append(_arg_row(render_disk(disk, now), sub.id, rg.name))
            for scale_set in rg.scale_sets.values():
                rows.append(_arg_row(render_scale_set(state, scale_set, now), sub.id, rg.name))
    return rows


def scale_set_instance_rows(state: SimState, subscriptions: Iterable[str]) -> list[Row]:
    """``ComputeResources``: every Uniform scale-set instance, typed as Resource Graph types it."""
    wanted = {s.lower() for s in subscriptions}
    rows: list[Row] = []
    for sub in state.subscriptions.values():
        if wanted and sub.id.lower() not in wanted:
            continue
        for rg in sub.resource_groups.values():
            for scale_set in rg.scale_sets.values():
                for instance in scale_set.instances:
                    row = _arg_row(render_instance(scale_set, instance), sub.id, rg.name)
                    row["type"] = "microsoft.compute/virtualmachinescalesets/virtualmachines"
                    rows.append(row)
    return rows


def page(rows: list[Row], options: dict[str, Any]) -> dict[str, Any]:
    """One page of results with ``$skipToken`` paging, like ``QueryResponse`` in objectArray format."""
    if str(options.get("resultFormat", "objectArray")).lower() != "objectarray":
        raise ArmError(400, "BadRequest", "The simulator serves resultFormat 'objectArray' only.")
    top = min(int(options.get("$top") or DEFAULT_TOP), MAX_TOP)
    start = int(options.get("$skip") or 0)
    token = options.get("$skipToken")
    if token:
        try:
            start = int(json.loads(base64.b64decode(str(token)))["offset"])
        except (ValueError, KeyError, TypeError) as exc:
            raise ArmError(400, "BadRequest", "The $skipToken is invalid.") from exc
    data = rows[start : start + top]
    body: dict[str, Any] = {
        "totalRecords": len(rows),
        "count": len(data),
        "resultTruncated": "false",
        "data": data,
        "facets": [],
    }
    if start + top < len(rows):
        body["$skipToken"] = base64.b64encode(json.dumps({"offset": start + top}).encode()).decode()
    return body


ROUTES = (
    route("POST", r"^/providers/Microsoft\.ResourceGraph/resources", "Resources", RESOURCE_GRAPH_API, resource_graph),
)
