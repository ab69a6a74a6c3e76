"""VM extensions over HTTP (VirtualMachineExtensions_*), the ADE extension's instance view included.

The ADE extension's status and substatus come from the VM's guest-side handler (:class:`azuresim.state.ade.AdeState`);
writes record, for the request log's safety checks, what they asked for and the guest state they met.
"""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

from aiohttp import web

from azuresim.errors import ArmError
from azuresim.http import DETAIL, VM, VM_API, Call, iso, json_response, lro_headers, route, wants_instance_view
from azuresim.state import encryption as enc
from azuresim.state import extensions
from azuresim.state.compute import ADE_PUBLISHER, ADE_TYPE, Extension, VirtualMachine
from azuresim.state.encryption import Status
from azuresim.state.status_wording import substatus_message
from azuresim.state.world import SimState

ADE_SUBSTATUS_PREFIX = f"ComponentStatus/{ADE_PUBLISHER}.{ADE_TYPE}"


def list_extensions(state: SimState, call: Call) -> web.Response:
    vm = state.vm(call["sub"], call["rg"], call["vm"])
    iv = wants_instance_view(call)
    return json_response(
        {"value": [render_extension(vm, e, call.now, instance_view=iv) for e in vm.live_extensions(call.now)]}
    )


def get_extension(state: SimState, call: Call) -> web.Response:
    vm, ext = state.extension(call["sub"], call["rg"], call["vm"], call["ext"], call.now)
    instance_view = wants_instance_view(call)
    if instance_view:
        state.clock.on_status_read()
    return json_response(render_extension(vm, ext, call.now, instance_view=instance_view))


def _guest_state(state: SimState, call: Call) -> str:
    """``os=… data=…`` as the guest is before a write: the request log's record of what a write met."""
    try:
        vm = state.vm(call["sub"], call["rg"], call["vm"])
    except ArmError:
        return ""
    progress = vm.ade.progress(call.now)
    return f"os={progress.os} data={progress.data}"


def _settings_detail(body: dict[str, Any]) -> str:
    """``EnableEncryption All seq=… format-all`` from an extension PUT, for the request log's safety checks."""
    settings = (body.get("properties") or {}).get("settings") or {}
    if not isinstance(settings, dict):
        return ""
    words = [str(settings.get("EncryptionOperation", "")), str(settings.get("VolumeType", ""))]
    words.append(f"seq={settings.get('SequenceVersion', '')}")
    if str(settings.get("EncryptionOperation", "")) == "EnableEncryptionFormatAll":
        words.append("format-all")
    return " ".join(w for w in words if w)


def put_extension(state: SimState, call: Call) -> web.Response:
    call.request[DETAIL] = f"{_settings_detail(call.body)} {_guest_state(state, call)}".strip()
    result, vm, ext = extensions.put_extension(
        state, call["sub"], call["rg"], call["vm"], call["ext"], call.body, call.now
    )
    assert result.operation is not None
    headers = lro_headers(call, result.operation, state.clock.scale, location=False)
    return json_response(render_extension(vm, ext, call.now, instance_view=False), result.status, headers)


def delete_extension(state: SimState, call: Call) -> web.Response:
    call.request[DETAIL] = _guest_state(state, call)
    result = extensions.delete_extension(state, call["sub"], call["rg"], call["vm"], call["ext"], call.now)
    if result.operation is None:
        return web.Response(status=result.status)
    headers = lro_headers(call, result.operation, state.clock.scale, location=True)
    return web.Response(status=result.status, headers=headers)


# --------------------------------------------------------------------------------------------- rendering


def _status_body(status: Status, now: datetime) -> dict[str, Any]:
    return {
        "code": status.code,
        "level": status.level,
        "displayStatus": status.display_status,
        "message": status.message,
        "time": iso(now),
    }


def extension_instance_view(vm: VirtualMachine, ext: Extension, now: datetime) -> dict[str, Any]:
    view: dict[str, Any] = {
        "name": ext.name,
        "type": f"{ext.publisher}.{ext.type}",
        "typeHandlerVersion": ext.type_handler_version,
    }
    if ext.is_ade:
        prog = vm.ade.progress(now)
        status = prog.status
        sub_code = f"{ADE_SUBSTATUS_PREFIX}/succeeded/0"
        sub_level, sub_display = "Info", "Provisioning succeeded"
        if status.level == "Error":
            sub_code = f"{ADE_SUBSTATUS_PREFIX}/failed/{status.code.rsplit('/', 1)[-1]}"
            sub_level, sub_display = "Error", "Provisioning failed"
        view["statuses"] = [_status_body(status, now)]
        message = substatus_message(vm.ade.wording, prog.os, prog.data, status.message, prog.done)
        if message is not None:
            view["substatuses"] = [_status_body(Status(sub_code, sub_level, sub_display, message), now)]
        return view
    if ext.operation is not None and not ext.operation.finished(now):
        status = Status(*enc.TRANSITIONING, "")
    else:
        status = Status(*enc.SUCCEEDED, "Enable succeeded")
    view["statuses"] = [_status_body(status, now)]
    return view


def render_extension(vm: VirtualMachine, ext: Extension, now: datetime, *, instance_view: bool) -> dict[str, Any]:
    props: dict[str, Any] = {
        "autoUpgradeMinorVersion": ext.auto_upgrade_minor_version,
        "provisioningState": ext.provisioning_state(now),
        "publisher": ext.publisher,
        "type": ext.type,
        "typeHandlerVersion": ext.type_handler_version,
    }
    if ext.settings:  # ARM leaves the key out for an extension set without settings (real traffic)
        props["settings"] = copy.deepcopy(ext.settings)
    if ext.force_update_tag is not None:
        props["forceUpdateTag"] = ext.force_update_tag
    if ext.enable_automatic_upgrade is not None:
        props["enableAutomaticUpgrade"] = ext.enable_automatic_upgrade
    if ext.suppress_failures is not None:
        props["suppressFailures"] = ext.suppress_failures
    if instance_view:
        props["instanceView"] = extension_instance_view(vm, ext, now)
    body: dict[str, Any] = {
        "id": f"{vm.id}/extensions/{ext.name}",
        "name": ext.name,
        "type": "Microsoft.Compute/virtualMachines/extensions",
        "location": ext.location,
        "properties": props,
    }
    if ext.tags is not None:
        body["tags"] = dict(ext.tags)
    return body


_EXTENSION = VM + "/extensions/(?P<ext>[^/]+)"
ROUTES = (
    route("GET", VM + "/extensions", "VirtualMachineExtensions_List", VM_API, list_extensions),
    route("GET", _EXTENSION, "VirtualMachineExtensions_Get", VM_API, get_extension),
    route(
        "PUT",
        _EXTENSION,
        "VirtualMachineExtensions_CreateOrUpdate",
        VM_API,
        put_extension,
        updates_vm=True,
    ),
    route("DELETE", _EXTENSION, "VirtualMachineExtensions_Delete", VM_API, delete_extension, updates_vm=True),
)
