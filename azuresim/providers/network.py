"""A minimal Microsoft.Network over HTTP (api-version 2026-03-01, what azure-mgmt-network 33.1 sends): M-7.

- VirtualNetworks_Get / _CreateOrUpdate (subnets inline) / _List;
- Subnets_Get / _CreateOrUpdate / _List;
- NetworkInterfaces_Get / _CreateOrUpdate / _Delete / _List (resource group);
- the Network async-operation status (``.../providers/Microsoft.Network/locations/{loc}/operations/{id}``).

Writes answer like Network does: 201 (new) or 200 with ``Azure-AsyncOperation`` on PUT, 202 with
``Azure-AsyncOperation`` and ``Location`` on DELETE (204 when there is nothing to delete); the operations finish at
once. A NIC shows its ``virtualMachine`` back reference, ``primary`` and ``macAddress`` while a VM holds it; its
delete is refused while a VM uses it (``NicInUse``) or during the 180 s reservation after that VM was deleted
(``NicReservedForAnotherVm``). Bodies follow the official NetworkInterfaceGet example and the SDK models.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web

from azuresim.http import RG, SUB, Call, json_response, route
from azuresim.providers.compute import get_operation
from azuresim.state import network
from azuresim.state.network import NetworkInterface, Subnet, VirtualNetwork
from azuresim.state.world import SimState

NETWORK_API = ("2026-03-01",)
NETWORK = RG + r"/providers/Microsoft\.Network"
_VNET = NETWORK + r"/virtualNetworks/(?P<vnet>[^/]+)"
_SUBNET = _VNET + r"/subnets/(?P<subnet>[^/]+)"
_NIC = NETWORK + r"/networkInterfaces/(?P<nic>[^/]+)"


def _lro_headers(state: SimState, call: Call, location: str, *, delete: bool = False) -> dict[str, str]:
    op = state.new_operation(state.subscription(call["sub"]).id, location, call.now, 0.0)
    url = (
        f"https://{call.request.host}/subscriptions/{op.subscription_id}/providers/Microsoft.Network"
        f"/locations/{op.location}/operations/{op.id}?api-version={call.api_version}"
    )
    headers = {"Azure-AsyncOperation": url}
    if delete:
        headers["Location"] = url + "&monitor=true"
    return headers


# --------------------------------------------------------------------------------------------- rendering


def render_subnet(subnet: Subnet) -> dict[str, Any]:
    return {
        "name": subnet.name,
        "id": subnet.id,
        "type": "Microsoft.Network/virtualNetworks/subnets",
        "properties": {
            "provisioningState": "Succeeded",
            "addressPrefix": str(subnet.prefix),
            "ipConfigurations": [{"id": owner} for owner in sorted(subnet.used.values())],
        },
    }


def render_vnet(net: VirtualNetwork) -> dict[str, Any]:
    return {
        "name": net.name,
        "id": net.id,
        "type": "Microsoft.Network/virtualNetworks",
        "location": net.location,
        "tags": dict(net.tags),
        "properties": {
            "provisioningState": "Succeeded",
            "resourceGuid": net.guid,
            "addressSpace": {"addressPrefixes": [str(p) for p in net.prefixes]},
            "subnets": [render_subnet(s) for s in net.subnets.values()],
            "enableDdosProtection": False,
        },
    }


def render_nic(nic: NetworkInterface, now: datetime) -> dict[str, Any]:
    props: dict[str, Any] = {
        "provisioningState": "Succeeded",
        "resourceGuid": nic.guid,
        "ipConfigurations": [
            {
                "name": config.name,
                "id": f"{nic.id}/ipConfigurations/{config.name}",
                "properties": {
                    "provisioningState": "Succeeded",
                    "privateIPAddress": str(config.address),
                    "privateIPAllocationMethod": config.method,
                    "privateIPAddressVersion": "IPv4",
                    "subnet": {"id": config.subnet.id},
                    "primary": config.primary,
                },
            }
            for config in nic.ip_configurations
        ],
        "dnsSettings": {"dnsServers": [], "appliedDnsServers": []},
        "enableAcceleratedNetworking": nic.accelerated,
        "enableIPForwarding": False,
        "disableTcpStateTracking": False,
        "vnetEncryptionSupported": False,
    }
    holder = nic.holder(now)
    if holder is not None:
        props["virtualMachine"] = {"id": holder.id}
        props["primary"] = bool(holder.nics) and holder.nics[0] is nic
        props["macAddress"] = nic.mac
    return {
        "name": nic.name,
        "id": nic.id,
        "type": "Microsoft.Network/networkInterfaces",
        "location": nic.location,
        "tags": dict(nic.tags),
        "properties": props,
    }


# --------------------------------------------------------------------------------------------- handlers


def get_vnet(state: SimState, call: Call) -> web.Response:
    return json_response(render_vnet(network.vnet(state, call["sub"], call["rg"], call["vnet"])))


def list_vnets(state: SimState, call: Call) -> web.Response:
    rg = state.resource_group(call["sub"], call["rg"])
    return json_response({"value": [render_vnet(net) for net in rg.vnets.values()]})


def put_vnet(state: SimState, call: Call) -> web.Response:
    status, net = network.put_vnet(state, call["sub"], call["rg"], call["vnet"], call.body)
    return json_response(render_vnet(net), status, _lro_headers(state, call, net.location))


def get_subnet(state: SimState, call: Call) -> web.Response:
    return json_response(render_subnet(network.subnet(state, call["sub"], call["rg"], call["vnet"], call["subnet"])))


def list_subnets(state: SimState, call: Call) -> web.Response:
    net = network.vnet(state, call["sub"], call["rg"], call["vnet"])
    return json_response({"value": [render_subnet(s) for s in net.subnets.values()]})


def put_subnet(state: SimState, call: Call) -> web.Response:
    status, subnet = network.put_subnet(state, call["sub"], call["rg"], call["vnet"], call["subnet"], call.body)
    return json_response(render_subnet(subnet), status, _lro_headers(state, call, subnet.vnet.location))


def get_nic(state: SimState, call: Call) -> web.Response:
    return json_response(render_nic(network.nic(state, call["sub"], call["rg"], call["nic"]), call.now))


def list_nics(state: SimState, call: Call) -> web.Response:
    rg = state.resource_group(call["sub"], call["rg"])
    return json_response({"value": [render_nic(nic, call.now) for nic in rg.nics.values()]})


def put_nic(state: SimState, call: Call) -> web.Response:
    status, nic = network.put_nic(state, call["sub"], call["rg"], call["nic"], call.body)
    return json_response(render_nic(nic, call.now), status, _lro_headers(state, call, nic.location))


def delete_nic(state: SimState, call: Call) -> web.Response:
    rg = state.resource_group(call["sub"], call["rg"])
    location = rg.nics[call["nic"].lower()].location if call["nic"].lower() in rg.nics else rg.location
    status = network.delete_nic(state, call["sub"], call["rg"], call["nic"], call.now)
    if status == 204:
        return web.Response(status=204)
    return web.Response(status=202, headers=_lro_headers(state, call, location, delete=True))


ROUTES = (
    route("GET", _VNET, "VirtualNetworks_Get", NETWORK_API, get_vnet),
    route("PUT", _VNET, "VirtualNetworks_CreateOrUpdate", NETWORK_API, put_vnet),
    route("GET", NETWORK + "/virtualNetworks", "VirtualNetworks_List", NETWORK_API, list_vnets),
    route("GET", _SUBNET, "Subnets_Get", NETWORK_API, get_subnet),
    route("PUT", _SUBNET, "Subnets_CreateOrUpdate", NETWORK_API, put_subnet),
    route("GET", _VNET + "/subnets", "Subnets_List", NETWORK_API, list_subnets),
    route("GET", _NIC, "NetworkInterfaces_Get", NETWORK_API, get_nic),
    route("PUT", _NIC, "NetworkInterfaces_CreateOrUpdate", NETWORK_API, put_nic),
    route("DELETE", _NIC, "NetworkInterfaces_Delete", NETWORK_API, delete_nic),
    route("GET", NETWORK + "/networkInterfaces", "NetworkInterfaces_List", NETWORK_API, list_nics),
    route(
        "GET",
        SUB + r"/providers/Microsoft\.Network/locations/(?P<loc>[^/]+)/operations/(?P<op>[^/]+)",
        "NetworkOperation_Get",
        NETWORK_API,
        get_operation,
    ),
)
