"""Unauthenticated test and demo hooks under ``/_sim/``: request log, clock, throttling budgets, faults, and
changes to a VM from outside a run (``POST /_sim/vms/{vm}/{change}``, :mod:`azuresim.state.outside`).

Not part of ARM: they are not recorded in the request log and answer plain JSON errors.
"""

from __future__ import annotations

import json
import re
from typing import Any

from aiohttp import web

from azuresim.errors import ArmError
from azuresim.faults import Fault, FaultsFile
from azuresim.fleet import DataDiskSpec
from azuresim.http import json_response
from azuresim.requestlog import RequestLog
from azuresim.state import outside
from azuresim.state.world import SimState
from azuresim.throttling import Throttler, ThrottlingSpec


async def control(state: SimState, requests: RequestLog, throttler: Throttler, request: web.Request) -> web.Response:
    """Unauthenticated test/demo hooks under ``/_sim/`` (not recorded in the request log)."""
    clock = state.clock
    path, method = request.path.rstrip("/"), request.method
    try:
        if method == "GET" and path == "/_sim/requests":
            return json_response(requests.summary())
        if method == "GET" and path == "/_sim/clock":
            return json_response({"now": clock.now().isoformat(), "scale": clock.scale})
        if path == "/_sim/throttling" and method in ("GET", "POST"):
            if method == "POST":
                payload = await _read_object(request)
                merged = {**throttler.spec.model_dump(exclude_none=True), **payload}
                throttler.configure(ThrottlingSpec.model_validate(merged))
            return json_response(throttler.spec.model_dump(exclude_none=True))
        if path == "/_sim/faults":
            if method == "GET":
                return json_response({"seed": state.faults.seed, "faults": [a.to_json() for a in state.faults.list()]})
            if method == "DELETE":
                state.clear_faults()
                return json_response({"faults": []})
            if method == "POST":
                payload = await _read_object(request)
                if "kind" in payload:
                    faults = [Fault.model_validate(payload)]
                else:
                    spec = FaultsFile.model_validate(payload)
                    if "seed" in payload:
                        state.faults.reseed(spec.seed)
                    faults = spec.faults
                ids = [state.inject(f).id for f in faults]
                return json_response({"ids": ids}, 201)
        change = _VM_CHANGE.match(path)
        if method == "POST" and change is not None:
            payload = await _read_object(request)
            return json_response(_change_vm(state, change["vm"], change["change"], payload), 201)
        if method == "POST" and path in ("/_sim/clock/advance", "/_sim/clock/scale"):
            payload = await _read_object(request)
            if path.endswith("advance"):
                clock.advance(float(payload["seconds"]))
            else:
                clock.scale = float(payload["scale"])
            return json_response({"now": clock.now().isoformat(), "scale": clock.scale})
    except ArmError as exc:
        return json_response(exc.body(), exc.status)
    except (KeyError, TypeError, ValueError) as exc:  # pydantic's ValidationError is a ValueError
        return json_response({"error": {"code": "InvalidRequestContent", "message": str(exc)}}, 400)
    return json_response({"error": {"code": "NotFound", "message": f"No control endpoint {method} {path}."}}, 404)


_VM_CHANGE = re.compile(r"^/_sim/vms/(?P<vm>[^/]+)/(?P<change>[a-z-]+)$")
CHANGES = ("remove-extension", "deallocate", "attach-disk", "tags", "extension-status")
ADE_EXTENSION = "AzureDiskEncryptionForLinux"


def _change_vm(state: SimState, vm: str, change: str, payload: dict[str, Any]) -> dict[str, Any]:
    """One change to a VM from outside; every body may carry ``after_s`` (simulated seconds) and ``resource_group``."""
    after_s = float(payload.pop("after_s", 0.0))
    group = payload.pop("resource_group", None)
    if change == "remove-extension":
        name = str(payload.get("extension") or ADE_EXTENSION)
        if after_s == 0:  # a later removal applies to whatever is there then (e.g. the extension a run adds)
            outside.require_extension(state, vm, group, name)
        return outside.schedule(state, vm, group, f"remove extension {name}", outside.remove_extension(name), after_s)
    if change == "deallocate":
        return outside.schedule(state, vm, group, "deallocate", outside.deallocate, after_s)
    if change == "attach-disk":
        lun, size_gb = int(payload["lun"]), int(payload.get("size_gb", 32))
        sku = str(payload.get("sku", "Premium_LRS"))
        spec = DataDiskSpec(lun=lun, size_gb=size_gb, sku=sku)  # type: ignore[arg-type]  # validated here
        outside.require_free_lun(state, vm, group, spec.lun)
        attach = outside.attach_disk(state, spec.lun, spec.size_gb, spec.sku)
        return outside.schedule(state, vm, group, f"attach a {size_gb} GB disk at lun {lun}", attach, after_s)
    if change == "tags":
        tags = payload.get("tags")
        if not isinstance(tags, dict):
            raise ValueError("'tags' must be an object of names to values")
        tagging = outside.set_tags({str(k): str(v) for k, v in tags.items()}, bool(payload.get("replace", False)))
        return outside.schedule(state, vm, group, "change tags", tagging, after_s)
    if change == "extension-status":
        return outside.schedule(state, vm, group, "reword status", outside.reword_status(payload), after_s)
    raise ArmError(404, "NotFound", f"No VM change '{change}'; one of {', '.join(CHANGES)}.")


async def _read_object(request: web.Request) -> dict[str, Any]:
    payload = json.loads(await request.read() or b"{}")
    if not isinstance(payload, dict):
        raise ValueError("expected a JSON object")
    return payload
