"""The VM PUT the simulator serves, read and checked: a new VM around existing managed disks.

``storageProfile.osDisk`` and every ``dataDisks[*]`` have ``createOption: Attach`` and a ``managedDisk.id``; the
NICs in ``networkProfile`` must exist. Refused as Azure refuses them, before anything changes:

- a size Azure does not offer (``InvalidParameter``), more data disks than the size takes (``OperationNotAllowed``);
- a disk that does not exist (404), is attached to another VM (409 ``OperationNotAllowed``), lies in another
  region or zone, or is named twice;
- a NIC that does not exist or is in another region (``InvalidResourceReference``), that another VM uses
  (``NicInUse``) or that is still reserved for a deleted VM (``NicReservedForAnotherVm``);
- with ``securityProfile.encryptionAtHost: true``: the subscription feature ``Microsoft.Compute/EncryptionAtHost``
  not enabled (M-5, Azure's own message), a size whose Resource SKU says ``EncryptionAtHostSupported: False``
  (M-6), and any disk that carries the ADE marker or an ``encryptionSettings`` OS disk (M-2: "can't be enabled on
  VMs that currently or ever had Azure Disk Encryption enabled"; the wording of that refusal is the simulator's,
  no official error text is published).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from azuresim.errors import ArmError
from azuresim.state import disks as disk_states
from azuresim.state import network, skus
from azuresim.state.compute import DISK_ID, ManagedDisk, compute_id
from azuresim.state.network import NetworkInterface
from azuresim.state.tree import normalize_location

if TYPE_CHECKING:
    from azuresim.state.world import SimState

M5_NOT_ENABLED = (
    "The property 'securityProfile.encryptionAtHost' is not valid because the 'Microsoft.Compute/EncryptionAtHost' "
    "feature is not enabled for this subscription."
)


def bad(message: str) -> ArmError:
    return ArmError(400, "InvalidParameter", message)


def required(node: Any, path: str) -> dict[str, Any]:
    if not isinstance(node, dict):
        raise bad(f"Required parameter '{path}' is missing (null).")
    return node


def text(node: dict[str, Any], key: str, path: str) -> str:
    value = node.get(key)
    if not isinstance(value, str) or not value:
        raise bad(f"Required parameter '{path}' is missing (null).")
    return value


def _delete_option(node: dict[str, Any], path: str) -> str:
    value = node.get("deleteOption") or "Detach"
    if value not in ("Delete", "Detach"):
        raise bad(f"The value '{value}' of parameter '{path}.deleteOption' is invalid.")
    return str(value)


@dataclass
class DiskRequest:
    """One disk of the PUT: the managed disk, its LUN (None for the OS disk), caching and deleteOption."""

    disk: ManagedDisk
    lun: int | None
    caching: str
    delete_option: str


@dataclass
class VmRequest:
    location: str
    size: skus.VmSize
    os_type: str
    os_disk: DiskRequest
    data_disks: list[DiskRequest]
    nics: list[NetworkInterface]
    nic_delete_options: list[str]
    encryption_at_host: bool
    security_type: str
    zones: list[str]
    tags: dict[str, str]

    @property
    def disks(self) -> list[DiskRequest]:
        return [self.os_disk, *self.data_disks]


def _managed_disk(
    state: SimState, node: dict[str, Any], path: str, location: str, zones: list[str], now: datetime
) -> ManagedDisk:
    if node.get("vhd"):
        raise ArmError(
            400,
            "OperationNotAllowed",
            "Unmanaged (VHD blob) disks are retired since 31 March 2026; import the VHD as a managed disk "
            f"and attach it with {path}.managedDisk.id.",
        )
    disk_id = text(required(node.get("managedDisk"), f"{path}.managedDisk"), "id", f"{path}.managedDisk.id")
    m = DISK_ID.match(disk_id)
    if m is None:
        raise bad(f"The value '{disk_id}' of parameter '{path}.managedDisk.id' is invalid.")
    disk = state.disk(m["sub"], m["rg"], m["name"])
    if disk.vm is not None and not disk.vm.deleted(now):
        raise ArmError(409, "OperationNotAllowed", f"Disk '{disk.name}' is already attached to VM '{disk.vm.id}'.")
    in_transfer = disk_states.disk_state(disk, now)
    if in_transfer in ("ReadyToUpload", "ActiveUpload", "ActiveSAS"):
        raise ArmError(
            409,
            "OperationNotAllowed",
            f"Disk '{disk.name}' is in state {in_transfer}; finish the upload or revoke its access (endGetAccess) "
            "before attaching it to a VM.",
        )
    if normalize_location(disk.location) != normalize_location(location):
        raise bad(f"Disk '{disk.id}' is in location '{disk.location}', the VM in '{location}'.")
    if sorted(disk.zones) != sorted(zones):
        where = f"zone {', '.join(disk.zones)}" if disk.zones else "no zone (a regional disk)"
        vm_where = f"zone {', '.join(zones)}" if zones else "no zone"
        raise bad(f"Disk '{disk.id}' is in {where} and cannot be attached to a VM in {vm_where}.")
    return disk


def _data_disks(state: SimState, raw: Any, location: str, zones: list[str], now: datetime) -> list[DiskRequest]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise bad("The value of parameter 'storageProfile.dataDisks' is invalid.")
    found: list[DiskRequest] = []
    for i, item in enumerate(raw):
        path = f"dataDisks[{i}]"
        node = required(item, path)
        lun = node.get("lun")
        if not isinstance(lun, int) or isinstance(lun, bool) or not 0 <= lun <= 63:
            raise bad(f"Required parameter '{path}.lun' is missing or not between 0 and 63.")
        if any(d.lun == lun for d in found):
            raise bad(f"A disk at LUN {lun} already exists.")
        if str(node.get("createOption", "")).lower() != "attach":
            raise bad(f"The simulator attaches existing data disks only ({path}.createOption 'Attach').")
        disk = _managed_disk(state, node, path, location, zones, now)
        caching = str(node.get("caching") or "None")
        found.append(DiskRequest(disk, lun, caching, _delete_option(node, path)))
    return found


def read_request(state: SimState, sub: str, rg: str, name: str, body: dict[str, Any], now: datetime) -> VmRequest:
    """The PUT body, checked in Azure's order: shape, size, feature and size for EAH, disks, ADE marker, NICs."""
    location = body.get("location")
    if not isinstance(location, str) or not location:
        raise ArmError(400, "LocationRequired", "The location property is required for this definition.")
    props = required(body.get("properties"), "properties")
    size_name = text(required(props.get("hardwareProfile"), "hardwareProfile"), "vmSize", "hardwareProfile.vmSize")
    storage = required(props.get("storageProfile"), "storageProfile")
    os_node = required(storage.get("osDisk"), "storageProfile.osDisk")
    if str(os_node.get("createOption", "")).lower() != "attach":
        raise bad("The simulator creates VMs only around an existing OS disk (osDisk.createOption 'Attach').")
    if props.get("osProfile") is not None:
        raise bad("Parameter 'osProfile' is not allowed.")
    if storage.get("imageReference") is not None:
        raise bad("Parameter 'imageReference' is not allowed when osDisk.createOption is 'Attach'.")
    os_type = text(os_node, "osType", "osDisk.osType")
    if os_type not in ("Linux", "Windows"):
        raise bad(f"The value '{os_type}' of parameter 'osDisk.osType' is invalid.")
    nic_nodes = required(props.get("networkProfile"), "networkProfile").get("networkInterfaces")
    nic_nodes = [n for n in nic_nodes or [] if isinstance(n, dict)]
    nic_ids = [str(n.get("id")) for n in nic_nodes]
    if not nic_ids or not all(network.NIC_ID.match(nic) for nic in nic_ids):
        raise bad("Required parameter 'networkProfile.networkInterfaces[].id' is missing or invalid.")
    nic_delete = [_delete_option(n.get("properties") or {}, f"networkInterfaces[{i}]") for i, n in enumerate(nic_nodes)]
    security = props.get("securityProfile") or {}
    if not isinstance(security, dict):
        raise bad("The value of parameter 'securityProfile' is invalid.")
    eah = security.get("encryptionAtHost") is True
    security_type = str(security.get("securityType") or "Standard")
    if security_type not in ("Standard", "TrustedLaunch", "ConfidentialVM"):
        raise bad(f"The value '{security_type}' of parameter 'securityProfile.securityType' is invalid.")
    zones = [str(z) for z in body.get("zones") or []]
    size = skus.vm_size(size_name)
    if size is None:
        raise bad(
            f"The value {size_name} provided for the VM size is not valid. The valid sizes in the current region "
            "are listed by the Resource SKUs API (GET /subscriptions/{id}/providers/Microsoft.Compute/skus)."
        )
    if eah and not state.subscription(sub).registrations.encryption_at_host_enabled(now):
        raise bad(M5_NOT_ENABLED)
    if eah and not size.encryption_at_host:
        raise bad(
            f"The VM size '{size.name}' does not support encryption at host (Resource SKU capability "
            "'EncryptionAtHostSupported' is 'False'). Choose a size that supports it, or leave "
            "'securityProfile.encryptionAtHost' unset."
        )
    os_disk = DiskRequest(
        _managed_disk(state, os_node, "osDisk", location, zones, now),
        None,
        str(os_node.get("caching") or "ReadWrite"),
        _delete_option(os_node, "osDisk"),
    )
    data = _data_disks(state, storage.get("dataDisks"), location, zones, now)
    if len(data) > size.max_data_disks:
        raise ArmError(
            409,
            "OperationNotAllowed",
            f"The maximum number of data disks allowed to be attached to a VM of this size is {size.max_data_disks}.",
        )
    disks = [os_disk.disk, *(d.disk for d in data)]
    if len({d.id.lower() for d in disks}) != len(disks):
        raise bad("The same managed disk is attached more than once.")
    if eah:
        marked = [d for d in disks if disk_states.ade_marker(d, now)]
        if marked or (os_node.get("encryptionSettings") or {}).get("enabled"):
            culprit = marked[0].id if marked else os_disk.disk.id
            raise ArmError(
                409,
                "OperationNotAllowed",
                f"Encryption at host cannot be enabled on VM '{name}': disk '{culprit}' is or was encrypted with "
                "Azure Disk Encryption. Encryption at host can't be enabled on VMs that currently or ever had Azure "
                "Disk Encryption enabled; copy the data to a new disk created with createOption 'Upload'.",
            )
    vm_id = compute_id(sub, rg, "virtualMachines", name)
    nics = network.nics_for_vm(state, vm_id, location, nic_ids, now)
    tags = body.get("tags")
    return VmRequest(
        location=location,
        size=size,
        os_type=os_type,
        os_disk=os_disk,
        data_disks=data,
        nics=nics,
        nic_delete_options=nic_delete,
        encryption_at_host=eah,
        security_type=security_type,
        zones=zones,
        tags={str(k): str(v) for k, v in tags.items()} if isinstance(tags, dict) else {},
    )
