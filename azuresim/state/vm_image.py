"""A VM PUT from an image (``storageProfile.osDisk.createOption: FromImage``), as the M-4 rebuild sends it: the new
VM's OS disk is made from the image and each data disk empty (``createOption: Empty``), then the VM is created around
them exactly as for an attach PUT (:mod:`azuresim.state.vm_request` checks size, feature, encryption at host, NICs).

Fresh disks carry no ADE marker (M-2), so encryption at host is allowed on them. Checked as Compute checks them:
an image reference (``publisher``/``offer``/``sku`` or ``id``), ``osProfile.adminUsername`` and, with password
authentication disabled, at least one SSH public key; a disk name already taken in the resource group is a 409
(inference: Compute's ``ConflictingUserInput`` wording is not documented for this case). A PUT refused later removes
the disks it made, so a refused request changes nothing.
"""

from __future__ import annotations

import copy
import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

from azuresim.errors import ArmError
from azuresim.fleet import ImageSpec
from azuresim.state.compute import ImportedDisk, ManagedDisk
from azuresim.state.disks import footer
from azuresim.state.extents import ExtentMap
from azuresim.state.vm_request import bad, required, text

if TYPE_CHECKING:
    from azuresim.state.tree import ResourceGroup
    from azuresim.state.world import SimState

OS_DISK_GB = 30
"""The size of an OS disk made from a marketplace image when the PUT names none (Linux images are 30 GB)."""


def from_image(body: dict[str, Any]) -> bool:
    os_disk = ((body.get("properties") or {}).get("storageProfile") or {}).get("osDisk") or {}
    return isinstance(os_disk, dict) and str(os_disk.get("createOption", "")).lower() == "fromimage"


def _image(storage: dict[str, Any]) -> ImageSpec:
    ref = required(storage.get("imageReference"), "storageProfile.imageReference")
    if ref.get("id"):
        return ImageSpec(publisher="custom", offer=str(ref["id"]).rsplit("/", 1)[-1], sku="custom")
    return ImageSpec(
        publisher=text(ref, "publisher", "imageReference.publisher"),
        offer=text(ref, "offer", "imageReference.offer"),
        sku=text(ref, "sku", "imageReference.sku"),
        version=str(ref.get("version") or "latest"),
    )


def _check_os_profile(props: dict[str, Any]) -> None:
    profile = required(props.get("osProfile"), "osProfile")
    text(profile, "adminUsername", "osProfile.adminUsername")
    linux = profile.get("linuxConfiguration") or {}
    keys = ((linux.get("ssh") or {}).get("publicKeys") or []) if isinstance(linux, dict) else []
    if isinstance(linux, dict) and linux.get("disablePasswordAuthentication") and not keys:
        raise bad("Required parameter 'osProfile.linuxConfiguration.ssh.publicKeys' is missing (null).")
    if not keys and not profile.get("adminPassword"):
        raise bad("Required parameter 'adminPassword' is missing (null).")


def _new_disk(
    rg: ResourceGroup, sub: str, name: str, location: str, zones: list[str], node: dict[str, Any], now: datetime
) -> ManagedDisk:
    if name.lower() in rg.disks:
        raise ArmError(
            409, "ConflictingUserInput", f"A disk with name {name} already exists in resource group {rg.name}."
        )
    managed = node.get("managedDisk") or {}
    sku = str(managed.get("storageAccountType") or "Premium_LRS") if isinstance(managed, dict) else "Premium_LRS"
    size = node.get("diskSizeGB")
    return ManagedDisk(
        subscription_id=sub,
        resource_group=rg.name,
        name=name,
        location=location,
        size_gb=size if isinstance(size, int) and not isinstance(size, bool) and size > 0 else OS_DISK_GB,
        sku=sku,
        time_created=now,
        zones=list(zones),
        creation={"createOption": "Empty"},
    )


def _attach(node: dict[str, Any], disk: ManagedDisk) -> dict[str, Any]:
    entry: dict[str, Any] = {
        k: node[k] for k in ("lun", "caching", "deleteOption", "writeAcceleratorEnabled") if k in node
    }
    return {**entry, "name": disk.name, "createOption": "Attach", "managedDisk": {"id": disk.id}}


def provision(
    state: SimState, sub: str, rg_name: str, name: str, body: dict[str, Any], now: datetime
) -> tuple[dict[str, Any], list[ManagedDisk]]:
    """Make the OS disk from the image and the empty data disks; returns the equivalent attach PUT body and the
    disks made (for :func:`discard` if the PUT is refused after all)."""
    rg = state.resource_group(sub, rg_name)
    props = required(body.get("properties"), "properties")
    storage = required(props.get("storageProfile"), "storageProfile")
    os_node = required(storage.get("osDisk"), "storageProfile.osDisk")
    image = _image(storage)
    _check_os_profile(props)
    location = str(body.get("location") or rg.location)
    zones = [str(z) for z in body.get("zones") or []]
    subscription = state.subscription(sub).id
    security = props.get("securityProfile") or {}
    os_name = str(os_node.get("name") or f"{name}_OsDisk_1_{uuid.uuid4().hex}")
    base = _new_disk(rg, subscription, os_name, location, zones, os_node, now)
    os_disk = ImportedDisk(**{**base.__dict__, "image": image})
    os_disk.os_type = str(os_node.get("osType") or "Linux")
    os_disk.hyper_v_generation = "V2"
    if isinstance(security, dict) and security.get("securityType"):
        os_disk.security_type = str(security["securityType"])
    os_disk.creation = {"createOption": "FromImage", "imageReference": copy.deepcopy(storage["imageReference"])}
    made: list[ManagedDisk] = [os_disk]
    data_entries = []
    for i, item in enumerate(storage.get("dataDisks") or []):
        node = required(item, f"dataDisks[{i}]")
        if str(node.get("createOption", "")).lower() != "empty":
            raise bad(f"The simulator creates data disks of an image-based VM empty only (dataDisks[{i}]).")
        disk_name = str(node.get("name") or f"{name}_disk{i + 2}_{uuid.uuid4().hex}")
        made.append(_new_disk(rg, subscription, disk_name, location, zones, node, now))
        data_entries.append(_attach(node, made[-1]))
    for disk in made:
        disk.pages = ExtentMap([footer(disk)])
        rg.disks[disk.name.lower()] = disk
    attach = copy.deepcopy(body)
    attach_props = attach["properties"]
    attach_props.pop("osProfile", None)
    attach_props["storageProfile"] = {
        "osDisk": {"osType": os_disk.os_type, **_attach(os_node, os_disk)},
        "dataDisks": data_entries,
    }
    return attach, made


def discard(state: SimState, sub: str, rg_name: str, made: list[ManagedDisk]) -> None:
    """Remove the disks of a refused image-based PUT: a refusal changes nothing."""
    rg = state.resource_group(sub, rg_name)
    for disk in made:
        if rg.disks.get(disk.name.lower()) is disk:
            del rg.disks[disk.name.lower()]
