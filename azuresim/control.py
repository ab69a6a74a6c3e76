"""Unauthenticated test and demo hooks under ``/_sim/``: request log, clock, throttling budgets, faults.

Not part of ARM: they are not recorded in the request log and answer plain JSON errors.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from azuresim.errors import ArmError
from azuresim.faults import Fault, FaultsFile
from azuresim.http import json_response
from azuresim.requestlog import RequestLog
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
        if method == "POST" and path in ("/_sim/clock/advance", "/_sim/clock/scale"):
            payload = await _read_object(request)
            if path.endswith("advance"):
                clock.advance(float(payload["seconds"]))
            else:
                clock.scale = float(payload["scale"])
            return json_response({"now": clock.now().isoformat(), "scale": clock.scale})
    except ArmError as exc:
        return json_response(exc.body(), exc.status)
    except (KeyError, TypeError, ValueError) as exc:
        return json_response({"error": {"code": "InvalidRequestContent", "message": str(exc)}}, 400)
    return json_response({"error": {"code": "NotFound", "message": f"No control endpoint {method} {path}."}}, 404)


async def _read_object(request: web.Request) -> dict[str, Any]:
    payload = json.loads(await request.read() or b"{}")
    if not isinstance(payload, dict):
        raise ValueError("expected a JSON object")
    return payload
