"""Compute Resource SKUs (ResourceSkus_List), for the M-6 check that a VM size supports encryption at host.

``GET /subscriptions/{sub}/providers/Microsoft.Compute/skus?api-version=2021-07-01[&$filter=location eq 'x']``
(the api-version azure-mgmt-compute 39 sends for this operation). One ``virtualMachines`` entry per catalog size
(:mod:`azuresim.state.skus`) and location, shaped like the official ListAvailableResourceSkusForARegion example:
``capabilities`` as name/value strings (``vCPUs``, ``MemoryGB``, ``EncryptionAtHostSupported``, ...),
``locationInfo`` with zones 1-3, no ``restrictions``. With a location filter: that region if Azure has it (or the
fleet uses it), else an empty list; without one: every region the fleet uses. One page, ``nextLink`` absent, as
Azure answers.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from azuresim.http import SUB, Call, json_response, parse_filter, route
from azuresim.state.skus import CATALOG, REGIONS, ZONES, VmSize
from azuresim.state.tree import normalize_location
from azuresim.state.world import SimState

SKU_API = ("2021-07-01",)


def render_sku(size: VmSize, location: str) -> dict[str, Any]:
    return {
        "resourceType": "virtualMachines",
        "name": size.name,
        "tier": size.tier,
        "size": size.size,
        "family": size.family,
        "locations": [location],
        "locationInfo": [{"location": location, "zones": list(ZONES), "zoneDetails": []}],
        "capabilities": [{"name": name, "value": value} for name, value in size.capabilities()],
        "restrictions": [],
    }


def _fleet_locations(state: SimState) -> set[str]:
    found: set[str] = set()
    for sub in state.subscriptions.values():
        for rg in sub.resource_groups.values():
            found.add(normalize_location(rg.location))
            found.update(normalize_location(vm.location) for vm in rg.vms.values())
    return found


def list_skus(state: SimState, call: Call) -> web.Response:
    state.subscription(call["sub"])
    fleet = _fleet_locations(state)
    wanted = parse_filter(call.request.query.get("$filter")).get("location")
    if wanted is not None:
        location = normalize_location(wanted)
        locations = [location] if location in fleet or location in REGIONS else []
    else:
        locations = sorted(fleet)
    return json_response({"value": [render_sku(size, loc) for loc in locations for size in CATALOG]})


ROUTES = (route("GET", SUB + r"/providers/Microsoft\.Compute/skus", "ResourceSkus_List", SKU_API, list_skus),)
