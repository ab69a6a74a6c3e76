"""Microsoft.Network state: virtual networks, subnets with their private IPs, network interfaces (M-7 NIC policy).

A NIC holds its private IP for as long as it exists: ``Dynamic`` takes the next free address of its subnet (Azure
keeps the first four and the last of every subnet), ``Static`` the one asked for. A NIC serves at most one VM (its
``virtualMachine`` back reference); a VM PUT naming a NIC another VM holds is refused (``NicInUse``), and after a VM
is deleted Azure keeps its NICs reserved for it for 180 seconds (``NicReservedForAnotherVm``). So a migration that
reuses the source's NIC keeps the private IP only once the source VM object is gone and the reservation has passed,
while a new NIC in the source's subnet gets a new address.

Fleet files declare virtual networks and standalone NICs per resource group; every fleet VM gets ``{vm}-nic`` in
its ``subnet`` (default: the group's first subnet; a group without networks gets ``{rg}-vnet`` with subnet
``default``, 10.x.0.0/16, one /16 per group).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from ipaddress import IPv4Address, IPv4Network
from typing import TYPE_CHECKING, Any

from azuresim.errors import ArmError, resource_not_found
from azuresim.fleet import ResourceGroupSpec

if TYPE_CHECKING:
    from azuresim.state.compute import VirtualMachine
    from azuresim.state.tree import ResourceGroup, Subscription
    from azuresim.state.world import SimState

NIC_RESERVATION_SECONDS = 180.0
RESERVED_LOW = 4
"""Azure reserves the network address and the next three (gateway, two DNS) in every subnet, and the broadcast."""
NIC_ID = re.compile(
    r"^/?subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)/providers/Microsoft\.Network"
    r"/networkInterfaces/(?P<name>[^/]+)$",
    re.IGNORECASE,
)
SUBNET_ID = re.compile(
    r"^/?subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)/providers/Microsoft\.Network"
    r"/virtualNetworks/(?P<vnet>[^/]+)/subnets/(?P<name>[^/]+)$",
    re.IGNORECASE,
)


def network_id(subscription: str, resource_group: str, kind: str, name: str) -> str:
    return f"/subscriptions/{subscription}/resourceGroups/{resource_group}/providers/Microsoft.Network/{kind}/{name}"


def _bad(code: str, message: str) -> ArmError:
    return ArmError(400, code, message)


@dataclass
class Subnet:
    vnet: VirtualNetwork
    name: str
    prefix: IPv4Network
    used: dict[IPv4Address, str] = field(default_factory=dict)
    """Address → the id of the NIC ip configuration holding it."""

    @property
    def id(self) -> str:
        return f"{self.vnet.id}/subnets/{self.name}"

    def allocate(self, owner: str, wanted: str | None) -> IPv4Address:
        """A static address (``wanted``) if it is in the subnet and free, else the first free one."""
        if wanted is not None:
            try:
                address = IPv4Address(wanted)
            except ValueError as exc:
                raise _bad("InvalidParameter", f"The value '{wanted}' of 'privateIPAddress' is invalid.") from exc
            if address not in self.prefix or not self._usable(address):
                raise _bad(
                    "PrivateIPAddressNotInSubnet",
                    f"IP configuration {owner} is referencing private IP address {address} which is not in the "
                    f"address space of subnet {self.id} ({self.prefix}).",
                )
            holder = self.used.get(address)
            if holder is not None and holder.lower() != owner.lower():
                raise _bad(
                    "PrivateIPAddressInUse",
                    f"IP configuration {owner} is referencing private IP address {address} which is already in use "
                    f"by IP configuration {holder}.",
                )
            self.used[address] = owner
            return address
        for host in range(RESERVED_LOW, self.prefix.num_addresses - 1):
            address = self.prefix.network_address + host
            if address not in self.used:
                self.used[address] = owner
                return address
        message = f"Subnet {self.name} with address prefix {self.prefix} does not have enough capacity."
        raise _bad("SubnetIsFull", message)

    def _usable(self, address: IPv4Address) -> bool:
        offset = int(address) - int(self.prefix.network_address)
        return RESERVED_LOW <= offset < self.prefix.num_addresses - 1


@dataclass
class VirtualNetwork:
    subscription_id: str
    resource_group: str
    name: str
    location: str
    prefixes: list[IPv4Network]
    subnets: dict[str, Subnet] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    guid: str = field(default_factory=lambda: str(uuid.uuid4()))

    @property
    def id(self) -> str:
        return network_id(self.subscription_id, self.resource_group, "virtualNetworks", self.name)


@dataclass
class IpConfiguration:
    name: str
    subnet: Subnet
    address: IPv4Address
    method: str
    primary: bool


@dataclass
class NetworkInterface:
    subscription_id: str
    resource_group: str
    name: str
    location: str
    ip_configurations: list[IpConfiguration] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)
    accelerated: bool = False
    vm: VirtualMachine | None = None
    reserved_for: str | None = None
    reserved_until: datetime | None = None
    guid: str = field(default_factory=lambda: str(uuid.uuid4()))

    @property
    def id(self) -> str:
        return network_id(self.subscription_id, self.resource_group, "networkInterfaces", self.name)

    @property
    def mac(self) -> str:
        return "-".join(["00", "0D", "3A", *(self.guid.replace("-", "")[i : i + 2].upper() for i in (0, 2, 4))])

    def holder(self, now: datetime) -> VirtualMachine | None:
        """The live VM using the NIC (a VM deleted by a fault releases it)."""
        return self.vm if self.vm is not None and not self.vm.deleted(now) else None

    def reserved(self, now: datetime) -> str | None:
        """The id of the deleted VM this NIC is still reserved for, if any."""
        if self.reserved_until is not None and now < self.reserved_until:
            return self.reserved_for
        return None

    def release(self) -> None:
        for config in self.ip_configurations:
            config.subnet.used.pop(config.address, None)
        self.ip_configurations = []

    def detach(self, vm_id: str, at: datetime) -> None:
        """The VM holding the NIC is gone: Azure keeps the NIC reserved for it for 180 seconds."""
        self.vm = None
        self.reserved_for = vm_id
        self.reserved_until = at + timedelta(seconds=NIC_RESERVATION_SECONDS)


# ----------------------------------------------------------------------------------------------- lookups


def vnet(state: SimState, sub: str, rg: str, name: str) -> VirtualNetwork:
    found = state.resource_group(sub, rg).vnets.get(name.lower())
    if found is None:
        raise resource_not_found("Microsoft.Network/virtualNetworks", name, rg)
    return found


def subnet(state: SimState, sub: str, rg: str, vnet_name: str, name: str) -> Subnet:
    found = vnet(state, sub, rg, vnet_name).subnets.get(name.lower())
    if found is None:
        raise resource_not_found("Microsoft.Network/virtualNetworks/subnets", f"{vnet_name}/{name}", rg)
    return found


def nic(state: SimState, sub: str, rg: str, name: str) -> NetworkInterface:
    found = state.resource_group(sub, rg).nics.get(name.lower())
    if found is None:
        raise resource_not_found("Microsoft.Network/networkInterfaces", name, rg)
    return found


def _group(state: SimState, sub: str, rg: str) -> ResourceGroup | None:
    found = state.subscriptions.get(sub.lower())
    return found.resource_groups.get(rg.lower()) if found else None


def nic_by_id(state: SimState, nic_id: str) -> NetworkInterface | None:
    m = NIC_ID.match(nic_id.strip())
    group = _group(state, m["sub"], m["rg"]) if m else None
    return group.nics.get(m["name"].lower()) if group and m else None


def subnet_by_id(state: SimState, subnet_id: str) -> Subnet | None:
    m = SUBNET_ID.match(subnet_id.strip())
    group = _group(state, m["sub"], m["rg"]) if m else None
    net = group.vnets.get(m["vnet"].lower()) if group and m else None
    return net.subnets.get(m["name"].lower()) if net and m else None


def missing_reference(referenced: str, by: str) -> ArmError:
    return _bad(
        "InvalidResourceReference",
        f"Resource {referenced} referenced by resource {by} was not found. Please make sure that the referenced "
        "resource exists, and that both resources are in the same region.",
    )


def nics_for_vm(
    state: SimState, vm_id: str, location: str, nic_ids: Iterable[str], now: datetime
) -> list[NetworkInterface]:
    """The NICs a VM PUT names, refused as Azure does: missing or in another region (``InvalidResourceReference``),
    used by another VM (``NicInUse``) or still reserved for a deleted one (``NicReservedForAnotherVm``)."""
    found: list[NetworkInterface] = []
    for nic_id in nic_ids:
        item = nic_by_id(state, nic_id)
        if item is None or item.location.replace(" ", "").lower() != location.replace(" ", "").lower():
            raise missing_reference(nic_id, vm_id)
        holder = item.holder(now)
        if holder is not None and holder.id.lower() != vm_id.lower():
            raise _bad(
                "NicInUse",
                f"Network Interface {item.id} is used by existing resource {holder.id}. A network interface can be "
                "attached to one virtual machine at a time.",
            )
        reserved = item.reserved(now)
        if reserved is not None and reserved.lower() != vm_id.lower():
            raise _bad(
                "NicReservedForAnotherVm",
                "Nic(s) in request is reserved for another Virtual Machine for 180 seconds. Please provide another "
                f"nic(s) or retry after 180 seconds. Reserved VM: {reserved}",
            )
        if any(other is item for other in found):
            raise _bad("InvalidParameter", f"Network interface {item.id} is listed more than once.")
        found.append(item)
    return found


# ----------------------------------------------------------------------------------------------- writes


def _prefix(text: Any, what: str) -> IPv4Network:
    try:
        return IPv4Network(str(text), strict=True)
    except ValueError as exc:
        raise _bad("InvalidAddressPrefixFormat", f"Address prefix {text} of {what} is not in a valid format.") from exc


def _apply_subnets(net: VirtualNetwork, prefixes: list[IPv4Network], wanted: dict[str, tuple[str, Any]]) -> None:
    """Give the network these address spaces and exactly these subnets (name → prefix), or refuse as Azure does:
    a subnet outside the space or overlapping another, an in-use subnet changed or removed. Nothing changes on
    refusal; kept subnets keep their object (their NICs point at it)."""
    parsed = {key: (name, _prefix(text, f"subnet {name}")) for key, (name, text) in wanted.items()}
    for key, (name, prefix) in parsed.items():
        if not any(prefix.subnet_of(space) for space in prefixes):
            raise _bad(
                "NetcfgSubnetRangeOutsideVnet",
                f"Subnet '{name}' is not valid because its IP address range is outside the IP address range of "
                f"virtual network '{net.name}'.",
            )
        for other_key, (other, other_prefix) in parsed.items():
            if other_key < key and other_prefix.overlaps(prefix):
                raise _bad(
                    "NetcfgSubnetRangesOverlap",
                    f"Subnet '{name}' is not valid because its IP address range overlaps with that of an existing "
                    f"subnet '{other}' in virtual network '{net.name}'.",
                )
        current = net.subnets.get(key)
        if current is not None and current.used and current.prefix != prefix:
            raise _bad("InUseSubnetCannotBeUpdated", f"Subnet {current.id} is in use and cannot be updated.")
    for key, current in net.subnets.items():
        if key not in parsed and current.used:
            raise _bad(
                "InUseSubnetCannotBeDeleted",
                f"Subnet {current.name} is in use by {next(iter(current.used.values()))} and cannot be deleted.",
            )
    net.prefixes = prefixes
    subnets: dict[str, Subnet] = {}
    for key, (name, prefix) in parsed.items():
        kept = net.subnets.get(key)
        if kept is not None:
            kept.prefix = prefix
        subnets[key] = kept if kept is not None else Subnet(net, name, prefix)
    net.subnets = subnets


def _location(body: dict[str, Any], existing_location: str | None, name: str, rg: str) -> str:
    location = body.get("location")
    if not isinstance(location, str) or not location:
        raise _bad("LocationRequired", "The location property is required for this definition.")
    if existing_location is not None and _norm(existing_location) != _norm(location):
        raise _bad(
            "InvalidResourceLocation",
            f"The resource '{name}' already exists in location '{existing_location}' in resource group '{rg}'. "
            f"A resource with the same name cannot be created in location '{location}'.",
        )
    return location


def _norm(location: str) -> str:
    return location.replace(" ", "").lower()


def _tags(body: dict[str, Any]) -> dict[str, str]:
    tags = body.get("tags")
    return {str(k): str(v) for k, v in tags.items()} if isinstance(tags, dict) else {}


def _props(body: dict[str, Any]) -> dict[str, Any]:
    props = body.get("properties")
    if not isinstance(props, dict):
        raise _bad("InvalidRequestFormat", "Cannot parse the request: 'properties' is missing.")
    return props


def put_vnet(state: SimState, sub: str, rg_name: str, name: str, body: dict[str, Any]) -> tuple[int, VirtualNetwork]:
    """VirtualNetworks_CreateOrUpdate with inline subnets: 201 new, 200 updated."""
    rg = state.resource_group(sub, rg_name)
    existing = rg.vnets.get(name.lower())
    location = _location(body, existing.location if existing else None, name, rg.name)
    props = _props(body)
    raw = (props.get("addressSpace") or {}).get("addressPrefixes")
    if not isinstance(raw, list) or not raw:
        raise _bad("InvalidRequestFormat", "Cannot parse the request: 'addressSpace.addressPrefixes' is missing.")
    prefixes = [_prefix(p, f"virtual network {name}") for p in raw]
    wanted: dict[str, tuple[str, Any]] = {}
    for item in props.get("subnets") or []:
        sub_name = item.get("name") if isinstance(item, dict) else None
        if not isinstance(sub_name, str) or not sub_name or sub_name.lower() in wanted:
            raise _bad("InvalidRequestFormat", "Every subnet needs a unique 'name'.")
        wanted[sub_name.lower()] = (sub_name, (item.get("properties") or {}).get("addressPrefix"))
    net = existing or VirtualNetwork(state.subscription(sub).id, rg.name, name, location, prefixes)
    _apply_subnets(net, prefixes, wanted)
    net.tags = _tags(body)
    rg.vnets[name.lower()] = net
    return (200 if existing else 201), net


def put_subnet(
    state: SimState, sub: str, rg_name: str, vnet_name: str, name: str, body: dict[str, Any]
) -> tuple[int, Subnet]:
    """Subnets_CreateOrUpdate: 201 new, 200 updated."""
    net = vnet(state, sub, rg_name, vnet_name)
    wanted: dict[str, tuple[str, Any]] = {k: (s.name, str(s.prefix)) for k, s in net.subnets.items()}
    fresh = name.lower() not in wanted
    wanted[name.lower()] = (name, _props(body).get("addressPrefix"))
    _apply_subnets(net, net.prefixes, wanted)
    return (201 if fresh else 200), net.subnets[name.lower()]


def put_nic(state: SimState, sub: str, rg_name: str, name: str, body: dict[str, Any]) -> tuple[int, NetworkInterface]:
    """NetworkInterfaces_CreateOrUpdate: 201 new, 200 updated. A configuration keeps its address while it stays in
    its subnet (Dynamic) or asks for the same one (Static); a new or moved one takes the next free address."""
    rg = state.resource_group(sub, rg_name)
    existing = rg.nics.get(name.lower())
    location = _location(body, existing.location if existing else None, name, rg.name)
    props = _props(body)
    raw = props.get("ipConfigurations")
    if not isinstance(raw, list) or not raw or not all(isinstance(c, dict) for c in raw):
        raise _bad("InvalidRequestFormat", "A network interface needs at least one entry in 'ipConfigurations'.")
    item = existing or NetworkInterface(state.subscription(sub).id, rg.name, name, location)
    plan: list[tuple[str, Subnet, str | None, str, bool]] = []
    for i, config in enumerate(raw):
        cfg_name = str(config.get("name") or f"ipconfig{i + 1}")
        cfg = config.get("properties") or {}
        subnet_id = str((cfg.get("subnet") or {}).get("id") or "")
        target = subnet_by_id(state, subnet_id)
        if target is None or _norm(target.vnet.location) != _norm(location):
            raise missing_reference(subnet_id or "(no subnet id)", item.id)
        wanted = cfg.get("privateIPAddress")
        method = str(cfg.get("privateIPAllocationMethod") or ("Static" if wanted else "Dynamic"))
        if method not in ("Static", "Dynamic"):
            raise _bad("InvalidParameter", f"The value '{method}' of 'privateIPAllocationMethod' is invalid.")
        plan.append((cfg_name, target, str(wanted) if method == "Static" and wanted else None, method, i == 0))
    if len({p[1].vnet.id.lower() for p in plan}) > 1:
        raise _bad("IpConfigurationsOnSameNicCannotUseDifferentVnets", "All IP configurations must use one vnet.")
    old = {c.name.lower(): c for c in item.ip_configurations}
    configs: list[IpConfiguration] = []
    fresh: list[IpConfiguration] = []
    try:
        for cfg_name, target, wanted, method, primary in plan:
            before = old.get(cfg_name.lower())
            keep = before is not None and before.subnet is target and (wanted is None or wanted == str(before.address))
            if keep and before is not None:
                configs.append(IpConfiguration(cfg_name, target, before.address, method, primary))
                continue
            address = target.allocate(f"{item.id}/ipConfigurations/{cfg_name}", wanted)
            fresh.append(IpConfiguration(cfg_name, target, address, method, primary))
            configs.append(fresh[-1])
    except ArmError:
        for config in fresh:
            config.subnet.used.pop(config.address, None)
        raise
    kept = {(id(c.subnet), c.address) for c in configs}
    for config in old.values():
        if (id(config.subnet), config.address) not in kept:
            config.subnet.used.pop(config.address, None)
    item.ip_configurations = configs
    item.tags = _tags(body)
    item.accelerated = bool(props.get("enableAcceleratedNetworking", False))
    rg.nics[name.lower()] = item
    return (200 if existing else 201), item


def delete_nic(state: SimState, sub: str, rg_name: str, name: str, now: datetime) -> int:
    """NetworkInterfaces_Delete: 200, or 204 when there is no such NIC; refused while a VM uses or reserves it."""
    rg = state.resource_group(sub, rg_name)
    item = rg.nics.get(name.lower())
    if item is None:
        return 204
    holder = item.holder(now)
    if holder is not None:
        raise _bad(
            "NicInUse",
            f"Network Interface {item.id} is used by existing resource {holder.id}. In order to delete the network "
            "interface, it must be dissociated from the resource. To learn more, see aka.ms/deletenic.",
        )
    reserved = item.reserved(now)
    if reserved is not None:
        raise _bad(
            "NicReservedForAnotherVm",
            "Nic(s) in request is reserved for another Virtual Machine for 180 seconds. Please provide another "
            f"nic(s) or retry after 180 seconds. Reserved VM: {reserved}",
        )
    item.release()
    del rg.nics[name.lower()]
    return 200


# ----------------------------------------------------------------------------------------------- building


def build_network(sub: Subscription, rg: ResourceGroup, spec: ResourceGroupSpec, index: int) -> None:
    """The group's networks, its standalone NICs and one NIC per fleet VM (``{vm}-nic``), at start-up."""
    for net_spec in spec.virtual_networks:
        space = [_prefix(net_spec.address_prefix, f"virtual network {net_spec.name}")]
        net = VirtualNetwork(sub.id, rg.name, net_spec.name, rg.location, space)
        _apply_subnets(net, space, {s.name.lower(): (s.name, s.address_prefix) for s in net_spec.subnets})
        rg.vnets[net.name.lower()] = net
    if not rg.vnets and (rg.vms or spec.network_interfaces):
        space = [IPv4Network(f"10.{index % 256}.0.0/16")]
        net = VirtualNetwork(sub.id, rg.name, f"{rg.name}-vnet", rg.location, space)
        _apply_subnets(net, space, {"default": ("default", str(space[0]))})
        rg.vnets[net.name.lower()] = net

    def target(ref: str | None) -> Subnet:
        if ref is None:
            return next(iter(next(iter(rg.vnets.values())).subnets.values()))
        vnet_name, subnet_name = ref.split("/", 1)
        return rg.vnets[vnet_name.lower()].subnets[subnet_name.lower()]

    for nic_spec in spec.network_interfaces:
        _add_nic(sub.id, rg, nic_spec.name, rg.location, target(nic_spec.subnet), nic_spec.private_ip)
    for vm_spec in spec.vms:
        vm = rg.vms[vm_spec.name.lower()]
        item = _add_nic(sub.id, rg, f"{vm.name}-nic", vm.location, target(vm_spec.subnet), None)
        item.vm = vm
        vm.nics = [item]


def _add_nic(
    sub: str, rg: ResourceGroup, name: str, location: str, target: Subnet, static_ip: str | None
) -> NetworkInterface:
    item = NetworkInterface(sub, rg.name, name, location)
    address = target.allocate(f"{item.id}/ipConfigurations/ipconfig1", static_ip)
    item.ip_configurations = [IpConfiguration("ipconfig1", target, address, "Static" if static_ip else "Dynamic", True)]
    rg.nics[name.lower()] = item
    return item
