"""VM scale sets and their Uniform instances: VirtualMachineScaleSets_Get/_List/_ListAll and
VirtualMachineScaleSetVMs_List/_Get, at Compute's api-version, shaped like the official examples
(VirtualMachineScaleSet_Get_WithUserData.json, VirtualMachineScaleSetVM_Get_WithUserData.json).

A Flexible scale set answers ``orchestrationMode: Flexible`` and no upgrade policy; its members are served as
VMs (:mod:`azuresim.providers.compute`), so VirtualMachineScaleSetVMs on it is refused (400 ``OperationNotAllowed``,
wording an inference: Azure documents that Flexible members are managed through the VM APIs).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web

from azuresim.errors import ArmError, resource_not_found
from azuresim.http import COMPUTE, SUB, VM_API, Call, iso, json_response, offset_page, route
from azuresim.state import skus
from azuresim.state.scalesets import ScaleSet, ScaleSetInstance
from azuresim.state.world import SimState

SCALE_SET = COMPUTE + r"/virtualMachineScaleSets/(?P<ss>[^/]+)"
PAGE = 50


def _scale_set(state: SimState, call: Call) -> ScaleSet:
    found = state.resource_group(call["sub"], call["rg"]).scale_sets.get(call["ss"].lower())
    if found is None:
        raise resource_not_found("Microsoft.Compute/virtualMachineScaleSets", call["ss"], call["rg"])
    return found


def _members(state: SimState, scale_set: ScaleSet, now: datetime) -> int:
    if scale_set.uniform:
        return len(scale_set.instances)
    rg = state.resource_group(scale_set.subscription_id, scale_set.resource_group)
    return sum(
        1 for vm in rg.vms.values() if not vm.deleted(now) and (vm.scale_set_id or "").lower() == scale_set.id.lower()
    )


def _image(scale_set: ScaleSet) -> dict[str, str]:
    image = scale_set.spec.image
    return {"publisher": image.publisher, "offer": image.offer, "sku": image.sku, "version": image.version}


def _sku(scale_set: ScaleSet) -> dict[str, Any]:
    size = skus.vm_size(scale_set.spec.size)
    name = size.name if size is not None else scale_set.spec.size
    return {"name": name, "tier": name.split("_", 1)[0]}


def render_scale_set(state: SimState, scale_set: ScaleSet, now: datetime) -> dict[str, Any]:
    spec = scale_set.spec
    profile: dict[str, Any] = {
        "storageProfile": {
            "osDisk": {
                "createOption": "FromImage",
                "caching": "ReadWrite",
                "managedDisk": {"storageAccountType": "Premium_LRS"},
                "diskSizeGB": spec.os_disk_size_gb,
            },
            "imageReference": _image(scale_set),
            "dataDisks": [],
            "diskControllerType": scale_set.disk_controller_type,
        },
        "osProfile": {
            "computerNamePrefix": spec.name[:9],
            "adminUsername": "azureuser",
            "linuxConfiguration": {"disablePasswordAuthentication": True},
        },
        "networkProfile": {"networkInterfaceConfigurations": []},
    }
    props: dict[str, Any] = {
        "orchestrationMode": spec.orchestration_mode,
        "virtualMachineProfile": profile,
        "provisioningState": "Succeeded",
        "platformFaultDomainCount": 1,
        "uniqueId": scale_set.unique_id,
        "timeCreated": iso(scale_set.time_created),
    }
    if scale_set.uniform:
        props["upgradePolicy"] = {"mode": "Manual"}
        props["singlePlacementGroup"] = True
        props["overprovision"] = False
    body: dict[str, Any] = {
        "name": spec.name,
        "id": scale_set.id,
        "type": "Microsoft.Compute/virtualMachineScaleSets",
        "location": scale_set.location,
        "tags": dict(spec.tags),
        "sku": {**_sku(scale_set), "capacity": _members(state, scale_set, now)},
        "properties": props,
    }
    if spec.zones:
        body["zones"] = list(spec.zones)
    return body


def render_instance(scale_set: ScaleSet, instance: ScaleSetInstance) -> dict[str, Any]:
    """A Uniform instance as VirtualMachineScaleSetVMs_Get shows it (type ``Microsoft.Compute/virtualMachines``)."""
    spec = scale_set.spec
    vm_id = f"{scale_set.id}/virtualMachines/{instance.instance_id}"
    disk_name = f"{spec.name}_{spec.name}_{instance.instance_id}_OsDisk_1_{instance.disk_suffix}"
    disk_id = f"/subscriptions/{scale_set.subscription_id}/resourceGroups/{scale_set.resource_group}"
    disk_id += f"/providers/Microsoft.Compute/disks/{disk_name}"
    body: dict[str, Any] = {
        "name": f"{spec.name}_{instance.instance_id}",
        "id": vm_id,
        "type": "Microsoft.Compute/virtualMachines",
        "location": scale_set.location,
        "tags": dict(spec.tags),
        "instanceId": instance.instance_id,
        "sku": _sku(scale_set),
        "properties": {
            "latestModelApplied": True,
            "modelDefinitionApplied": "VirtualMachineScaleSet",
            "vmId": instance.vm_id,
            "hardwareProfile": {},
            "storageProfile": {
                "imageReference": {**_image(scale_set), "exactVersion": "1.0.0"},
                "osDisk": {
                    "osType": "Linux",
                    "name": disk_name,
                    "createOption": "FromImage",
                    "caching": "ReadWrite",
                    "managedDisk": {"storageAccountType": "Premium_LRS", "id": disk_id},
                    "diskSizeGB": spec.os_disk_size_gb,
                },
                "dataDisks": [],
                "diskControllerType": scale_set.disk_controller_type,
            },
            "osProfile": {
                "computerName": f"{spec.name[:9]}{int(instance.instance_id):06x}",
                "adminUsername": "azureuser",
                "linuxConfiguration": {"disablePasswordAuthentication": True, "provisionVMAgent": True},
                "secrets": [],
                "allowExtensionOperations": True,
                "requireGuestProvisionSignal": True,
            },
            "networkProfile": {"networkInterfaces": [{"id": f"{vm_id}/networkInterfaces/{spec.name}-nic"}]},
            "diagnosticsProfile": {"bootDiagnostics": {"enabled": True}},
            "provisioningState": "Succeeded",
        },
    }
    if spec.zones:
        body["zones"] = [spec.zones[int(instance.instance_id) % len(spec.zones)]]
    return body


def get_scale_set(state: SimState, call: Call) -> web.Response:
    return json_response(render_scale_set(state, _scale_set(state, call), call.now))


def list_scale_sets(state: SimState, call: Call) -> web.Response:
    """VirtualMachineScaleSets_List (a group) / _ListAll (the subscription), paged like VirtualMachines_List."""
    sub = state.subscription(call["sub"])
    if "rg" in call.match.re.groupindex:
        groups = [state.resource_group(call["sub"], call["rg"])]
    else:
        groups = list(sub.resource_groups.values())
    found = [ss for rg in groups for ss in rg.scale_sets.values()]
    return json_response(offset_page(call, found, PAGE, lambda ss: render_scale_set(state, ss, call.now), strict=False))


def _uniform(state: SimState, call: Call) -> ScaleSet:
    scale_set = _scale_set(state, call)
    if not scale_set.uniform:
        raise ArmError(
            400,
            "OperationNotAllowed",
            f"Virtual machine scale set '{scale_set.name}' has orchestration mode 'Flexible': its virtual machines "
            "are managed through the virtual machine APIs (Microsoft.Compute/virtualMachines).",
        )
    return scale_set


def list_instances(state: SimState, call: Call) -> web.Response:
    scale_set = _uniform(state, call)
    return json_response(
        offset_page(call, scale_set.instances, PAGE, lambda i: render_instance(scale_set, i), strict=False)
    )


def get_instance(state: SimState, call: Call) -> web.Response:
    scale_set = _uniform(state, call)
    instance = scale_set.instance(call["iid"])
    if instance is None:
        raise resource_not_found(
            "Microsoft.Compute/virtualMachineScaleSets/virtualMachines", f"{scale_set.name}/{call['iid']}", call["rg"]
        )
    return json_response(render_instance(scale_set, instance))


ROUTES = (
    route("GET", SCALE_SET, "VirtualMachineScaleSets_Get", VM_API, get_scale_set),
    route("GET", COMPUTE + "/virtualMachineScaleSets", "VirtualMachineScaleSets_List", VM_API, list_scale_sets),
    route(
        "GET",
        SUB + r"/providers/Microsoft\.Compute/virtualMachineScaleSets",
        "VirtualMachineScaleSets_ListAll",
        VM_API,
        list_scale_sets,
    ),
    route("GET", SCALE_SET + "/virtualMachines", "VirtualMachineScaleSetVMs_List", VM_API, list_instances),
    route("GET", SCALE_SET + r"/virtualMachines/(?P<iid>[^/]+)", "VirtualMachineScaleSetVMs_Get", VM_API, get_instance),
)
