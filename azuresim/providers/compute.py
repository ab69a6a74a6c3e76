"""Microsoft.Compute virtual machines over HTTP: get (with instance view), list, create around attached disks (with
encryption at host, M-3), restart, deallocate, start, delete (keeping the disks and NICs unless their deleteOption
says Delete), and Compute's async-operation status. Extensions are :mod:`azuresim.providers.extensions`; disks and
snapshots :mod:`azuresim.providers.disks`.
"""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

from aiohttp import web

from azuresim.fleet import VmSpec
from azuresim.http import (
    COMPUTE,
    SUB,
    VM,
    VM_API,
    Call,
    iso,
    json_response,
    lro_headers,
    offset_page,
    retry_after,
    route,
    wants_instance_view,
)
from azuresim.providers.disks import DISK_API
from azuresim.providers.extensions import extension_instance_view, render_extension
from azuresim.state import encryption as enc
from azuresim.state import lifecycle, vms
from azuresim.state.compute import AttachedOsDisk, VirtualMachine, compute_id
from azuresim.state.encryption import Status
from azuresim.state.network import network_id
from azuresim.state.operations import AsyncOperation
from azuresim.state.world import SimState

OPERATION_API = (*VM_API, *DISK_API)
VM_PAGE = 100


def get_vm(state: SimState, call: Call) -> web.Response:
    vm = state.vm(call["sub"], call["rg"], call["vm"])
    return json_response(render_vm(vm, call.now, instance_view=wants_instance_view(call)))


def get_instance_view(state: SimState, call: Call) -> web.Response:
    vm = state.vm(call["sub"], call["rg"], call["vm"])
    return json_response(render_instance_view(vm, call.now))


def list_vms(state: SimState, call: Call) -> web.Response:
    """VirtualMachines_List / _ListAll, paged by ``nextLink`` like Compute (``$skiptoken`` is an offset here)."""
    sub = state.subscription(call["sub"])
    if "rg" in call.match.re.groupindex:
        groups = [state.resource_group(call["sub"], call["rg"])]
    else:
        groups = list(sub.resource_groups.values())
    live = [vm for rg in groups for vm in rg.vms.values() if not vm.deleted(call.now)]
    return json_response(
        offset_page(call, live, VM_PAGE, lambda vm: render_vm(vm, call.now, instance_view=False), strict=False)
    )


def put_vm(state: SimState, call: Call) -> web.Response:
    """VirtualMachines_CreateOrUpdate: a new VM around an existing (encrypted) OS disk, R-VHD-1."""
    result, vm = vms.create_vm(state, call["sub"], call["rg"], call["vm"], call.body, call.now)
    assert result.operation is not None
    headers = lro_headers(call, result.operation, state.clock.scale, location=False)
    return json_response(render_vm(vm, call.now, instance_view=False), result.status, headers)


def restart_vm(state: SimState, call: Call) -> web.Response:
    result = vms.restart_vm(state, call["sub"], call["rg"], call["vm"], call.now)
    assert result.operation is not None
    return web.Response(status=202, headers=lro_headers(call, result.operation, state.clock.scale, location=True))


def deallocate_vm(state: SimState, call: Call) -> web.Response:
    result = lifecycle.deallocate_vm(state, call["sub"], call["rg"], call["vm"], call.now)
    assert result.operation is not None
    return web.Response(status=202, headers=lro_headers(call, result.operation, state.clock.scale, location=True))


def start_vm(state: SimState, call: Call) -> web.Response:
    result = lifecycle.start_vm(state, call["sub"], call["rg"], call["vm"], call.now)
    assert result.operation is not None
    return web.Response(status=202, headers=lro_headers(call, result.operation, state.clock.scale, location=True))


def delete_vm(state: SimState, call: Call) -> web.Response:
    """VirtualMachines_Delete: 202 LRO (``forceDeletion`` is accepted and changes nothing), 204 if absent."""
    result = lifecycle.delete_vm(state, call["sub"], call["rg"], call["vm"], call.now)
    if result.operation is None:
        return web.Response(status=result.status)
    return web.Response(status=202, headers=lro_headers(call, result.operation, state.clock.scale, location=True))


def get_operation(state: SimState, call: Call) -> web.Response:
    op = state.operation(call["sub"], call["op"])
    headers: dict[str, str] = {}
    remaining = op.remaining_seconds(call.now)
    if remaining > 0:
        headers["Retry-After"] = str(retry_after(remaining, state.clock.scale))
    if call.request.query.get("monitor", "").lower() == "true":
        if remaining > 0:
            return web.Response(status=202, headers={**headers, "Location": str(call.request.url)})
        if not op.error:  # a finished action's Location answers 200 without a body (real traffic)
            return web.Response(status=200)
    return json_response(render_operation(op, call.now), 200, headers)


# --------------------------------------------------------------------------------------------- rendering


def _managed_disk_ref(disk_id: str, sku: str, des_id: str | None) -> dict[str, Any]:
    ref: dict[str, Any] = {"storageAccountType": sku, "id": disk_id}
    if des_id:
        ref["diskEncryptionSet"] = {"id": des_id}
    return ref


def render_vm(vm: VirtualMachine, now: datetime, *, instance_view: bool) -> dict[str, Any]:
    spec = vm.spec
    os_disk: dict[str, Any] = {
        "osType": spec.os_type,
        "name": vm.os_disk_name,
        "createOption": "FromImage",
        "caching": "ReadOnly" if spec.os_disk.ephemeral else "ReadWrite",
        "writeAcceleratorEnabled": spec.os_disk.write_accelerator,
        "diskSizeGB": spec.os_disk.size_gb,
        "deleteOption": "Delete" if spec.os_disk.ephemeral else "Detach",
    }
    if spec.os_disk.ephemeral:
        os_disk["diffDiskSettings"] = {"option": "Local", "placement": "CacheDisk"}
        os_disk["managedDisk"] = {"storageAccountType": spec.os_disk.sku}
    else:
        os_disk["managedDisk"] = _managed_disk_ref(
            compute_id(vm.subscription_id, vm.resource_group, "disks", vm.os_disk_name),
            spec.os_disk.sku,
            spec.os_disk.disk_encryption_set_id,
        )
    if vm.legacy_encryption_settings is not None:
        os_disk["encryptionSettings"] = copy.deepcopy(vm.legacy_encryption_settings)
    data_disks = []
    caching = vm.attached.data_caching if vm.attached is not None else {}
    for dd, disk in zip(spec.data_disks, vm.data_disks, strict=True):
        default_caching = "None" if dd.sku in ("UltraSSD_LRS", "PremiumV2_LRS") else "ReadOnly"
        data_disks.append(
            {
                "lun": dd.lun,
                "name": disk.name,
                "createOption": "Attach",
                "caching": caching.get(disk.name.lower(), default_caching),
                "writeAcceleratorEnabled": dd.write_accelerator,
                "managedDisk": _managed_disk_ref(disk.id, disk.sku, disk.disk_encryption_set_id),
                "diskSizeGB": disk.size_gb,
                "toBeDetached": False,
                "deleteOption": vm.delete_option(disk.id),
            }
        )
    image = spec.image
    os_profile: dict[str, Any] = {
        "computerName": vm.name,
        "adminUsername": "azureuser",
        "secrets": [],
        # As ARM sends them for a VM from a platform image (real traffic, tests/fixtures/azure-cli-recordings).
        "allowExtensionOperations": True,
        "requireGuestProvisionSignal": True,
    }
    if spec.os_type == "Linux":
        os_profile["linuxConfiguration"] = {
            "disablePasswordAuthentication": True,
            "provisionVMAgent": True,
            "patchSettings": {"patchMode": "ImageDefault", "assessmentMode": "ImageDefault"},  # real traffic
        }
    else:
        os_profile["windowsConfiguration"] = {"provisionVMAgent": True, "enableAutomaticUpdates": True}
    props: dict[str, Any] = {
        "vmId": vm.vm_id,
        "hardwareProfile": {"vmSize": spec.size},
        "storageProfile": {
            "imageReference": {
                "publisher": image.publisher,
                "offer": image.offer,
                "sku": image.sku,
                "version": image.version,
                "exactVersion": "1.0.0" if image.version == "latest" else image.version,
            },
            "osDisk": os_disk,
            "dataDisks": data_disks,
            "diskControllerType": vm.disk_controller_type,
        },
        "osProfile": os_profile,
        "networkProfile": _network_profile(vm),
        "diagnosticsProfile": {"bootDiagnostics": {"enabled": True}},
        "provisioningState": provisioning_state(vm, now),
        "timeCreated": iso(vm.time_created),
    }
    if spec.encryption_at_host or spec.security_type != "Standard":
        security: dict[str, Any] = {"encryptionAtHost": spec.encryption_at_host}
        if spec.security_type != "Standard":
            security["securityType"] = spec.security_type
            security["uefiSettings"] = {"secureBootEnabled": True, "vTpmEnabled": True}
        props["securityProfile"] = security
    if vm.scale_set_id:
        props["virtualMachineScaleSet"] = {"id": vm.scale_set_id}
    if instance_view:
        props["instanceView"] = render_instance_view(vm, now)
    body: dict[str, Any] = {
        "id": vm.id,
        "name": vm.name,
        "type": "Microsoft.Compute/virtualMachines",
        "location": vm.location,
        "tags": dict(spec.tags),
        "properties": props,
        "resources": [render_extension(vm, e, now, instance_view=False) for e in vm.live_extensions(now)],
    }
    if spec.zones:
        body["zones"] = list(spec.zones)
    if vm.attached is not None:
        _render_attached(vm, vm.attached, props)
    return body


def _network_profile(vm: VirtualMachine) -> dict[str, Any]:
    if not vm.nics:
        nic_id = network_id(vm.subscription_id, vm.resource_group, "networkInterfaces", f"{vm.name}-nic")
        return {"networkInterfaces": [{"id": nic_id, "properties": {"primary": True}}]}
    return {
        "networkInterfaces": [
            {"id": nic.id, "properties": {"primary": i == 0, "deleteOption": vm.delete_option(nic.id)}}
            for i, nic in enumerate(vm.nics)
        ]
    }


def provisioning_state(vm: VirtualMachine, now: datetime) -> str:
    """Deleting, Creating (an attach PUT's LRO), Updating (deallocate/start), else how the create ended."""
    if vm.delete_operation is not None and not vm.delete_operation.finished(now):
        return "Deleting"
    created = vm.attached.provisioning_state(now) if vm.attached is not None else "Succeeded"
    if created == "Succeeded" and vm.power_operation is not None and not vm.power_operation.finished(now):
        return "Updating"
    return created


def _os_name(spec: VmSpec) -> tuple[str, str]:
    offer = spec.image.offer.lower()
    if spec.os_type == "Windows":
        return "Windows Server 2022 Datacenter", "Microsoft Windows NT 10.0.20348.0"
    if "ubuntu" in offer:
        return "ubuntu", spec.image.sku.split("-", 1)[0].replace("_", ".")
    if "rhel" in offer:
        return "redhat", spec.image.sku.split("-", 1)[0].replace("_", ".").replace("lvm", "")
    if "sles" in offer or "suse" in spec.image.publisher.lower():
        return "sles", spec.image.sku.split("-", 1)[0]
    return spec.image.offer, spec.image.sku


def render_instance_view(vm: VirtualMachine, now: datetime) -> dict[str, Any]:
    stamps = vm.ade.stamps_at(now)
    if vm.attached is not None and vm.attached.encryption is not None:
        stamps.setdefault(vm.os_disk_name, vm.attached.encryption)
    provisioned = Status(*enc.SUCCEEDED, "")
    disks = []
    names = [vm.os_disk_name] + [d.name for d in vm.data_disks]
    for name in names:
        statuses = [
            {
                "code": provisioned.code,
                "level": "Info",
                "displayStatus": provisioned.display_status,
                "time": iso(vm.time_created),
            }
        ]
        entry: dict[str, Any] = {"name": name}
        stamp = stamps.get(name)
        if stamp:
            entry["encryptionSettings"] = [{**stamp.settings_body(), "enabled": True}]
            statuses.append(
                {
                    "code": "EncryptionState/encrypted",
                    "level": "Info",
                    "displayStatus": "Encryption is enabled on disk",
                }
            )
        else:
            statuses.append(
                {
                    "code": "EncryptionState/notEncrypted",
                    "level": "Info",
                    "displayStatus": "Disk is not encrypted",
                }
            )
        entry["statuses"] = statuses
        disks.append(entry)
    extensions = vm.live_extensions(now)
    os_name, os_version = _os_name(vm.spec)
    return {
        "computerName": vm.name,
        "osName": os_name,
        "osVersion": os_version,
        "vmAgent": {
            "vmAgentVersion": "2.11.1.12",
            "statuses": [
                {
                    "code": "ProvisioningState/succeeded",
                    "level": "Info",
                    "displayStatus": "Ready",
                    "message": "Guest Agent is running",
                    "time": iso(now),
                }
            ],
            "extensionHandlers": [
                {
                    "type": f"{e.publisher}.{e.type}",
                    "typeHandlerVersion": e.type_handler_version,
                    "status": {
                        "code": "ProvisioningState/succeeded",
                        "level": "Info",
                        "displayStatus": "Ready",
                    },
                }
                for e in extensions
            ],
        },
        "disks": disks,
        "extensions": [extension_instance_view(vm, e, now) for e in extensions],
        "hyperVGeneration": "V2",
        "statuses": [_provisioning_status(vm, now), _power_status(vm, now)],
    }


def _provisioning_status(vm: VirtualMachine, now: datetime) -> dict[str, Any]:
    state = provisioning_state(vm, now)
    display = {"Creating": "Creating", "Failed": "Provisioning failed", "Deleting": "Deleting", "Updating": "Updating"}
    op = vm.delete_operation or vm.power_operation or (vm.attached.operation if vm.attached else None)
    return {
        "code": f"ProvisioningState/{state.lower()}",
        "level": "Error" if state == "Failed" else "Info",
        "displayStatus": display.get(state, "Provisioning succeeded"),
        "time": iso(op.started_at if op is not None and state != "Succeeded" else vm.time_created),
    }


def _power_status(vm: VirtualMachine, now: datetime) -> dict[str, Any]:
    power = vm.power_state(now)
    return {"code": f"PowerState/{power}", "level": "Info", "displayStatus": f"VM {power}"}


def _render_attached(vm: VirtualMachine, attached: AttachedOsDisk, props: dict[str, Any]) -> None:
    """Rewrite a rendered VM's properties: the attached OS disk, no image or OS profile."""
    storage = props["storageProfile"]
    storage.pop("imageReference", None)
    os_disk: dict[str, Any] = {
        "osType": attached.os_type,
        "name": attached.disk.name,
        "createOption": "Attach",
        "caching": attached.caching,
        "writeAcceleratorEnabled": False,
        "managedDisk": _managed_disk_ref(attached.disk.id, attached.disk.sku, attached.disk.disk_encryption_set_id),
        "diskSizeGB": attached.disk.size_gb,
        "deleteOption": vm.delete_option(attached.disk.id),
    }
    if attached.encryption_settings is not None:
        os_disk["encryptionSettings"] = copy.deepcopy(attached.encryption_settings)
    storage["osDisk"] = os_disk
    props.pop("osProfile", None)


def render_operation(op: AsyncOperation, now: datetime) -> dict[str, Any]:
    """AsyncOperation_Get: the operation's status, with its end and error once finished."""
    body: dict[str, Any] = {
        "name": op.id,
        "status": op.status(now),
        "startTime": iso(op.started_at),
    }
    if op.finished(now):
        body["endTime"] = iso(op.done_at)
        if op.error:
            body["error"] = {"code": op.error[0], "message": op.error[1]}
    return body


ROUTES = (
    route("GET", VM, "VirtualMachines_Get", VM_API, get_vm),
    route("GET", VM + "/instanceView", "VirtualMachines_InstanceView", VM_API, get_instance_view),
    route("PUT", VM, "VirtualMachines_CreateOrUpdate", VM_API, put_vm),
    route("POST", VM + "/restart", "VirtualMachines_Restart", VM_API, restart_vm, updates_vm=True),
    route("POST", VM + "/deallocate", "VirtualMachines_Deallocate", VM_API, deallocate_vm, updates_vm=True),
    route("POST", VM + "/start", "VirtualMachines_Start", VM_API, start_vm, updates_vm=True),
    route("DELETE", VM, "VirtualMachines_Delete", VM_API, delete_vm, updates_vm=True),
    route("GET", COMPUTE + "/virtualMachines", "VirtualMachines_List", VM_API, list_vms),
    route("GET", SUB + r"/providers/Microsoft\.Compute/virtualMachines", "VirtualMachines_ListAll", VM_API, list_vms),
    route(
        "GET",
        SUB + r"/providers/Microsoft\.Compute/locations/(?P<loc>[^/]+)/operations/(?P<op>[^/]+)",
        "AsyncOperation_Get",
        OPERATION_API,
        get_operation,
    ),
)
