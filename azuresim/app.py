"""HTTP layer: maps ARM paths to the state model, checks auth and api-versions, speaks the LRO protocol.

Routing is a small regex table rather than aiohttp routes so that ARM's case-insensitive paths work and
every request, matched or not, gets an operationId for the request log.
"""

from __future__ import annotations

import json
import math
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog
from aiohttp import web

from azuresim.compute import (
    AsyncOperation,
    render_disk,
    render_extension,
    render_instance_view,
    render_snapshot,
    render_vm,
)
from azuresim.errors import ArmError
from azuresim.keyvault import render_vault
from azuresim.requestlog import RequestLog
from azuresim.state import SimState

log = structlog.get_logger()

VM_API = ("2026-04-01",)
DISK_API = ("2026-03-02",)
VAULT_API = ("2026-05-15",)
OPERATION_API = (*VM_API, *DISK_API)
MAX_RETRY_AFTER = 5

_SUB = r"^/subscriptions/(?P<sub>[^/]+)"
_RG = _SUB + r"/resourceGroups/(?P<rg>[^/]+)"
_COMPUTE = _RG + r"/providers/Microsoft\.Compute"
_VM = _COMPUTE + r"/virtualMachines/(?P<vm>[^/]+)"


@dataclass
class Call:
    """Everything a route handler needs; handlers run under the state lock."""

    request: web.Request
    match: re.Match[str]
    body: Any
    now: datetime
    api_version: str

    def __getitem__(self, key: str) -> str:
        return self.match[key]


Handler = Callable[["ArmApp", Call], web.Response]


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    operation: str
    api_versions: tuple[str, ...]
    handler: Handler


def retry_after(remaining_sim_seconds: float, scale: float) -> int:
    """Real seconds the SDK should sleep: the remaining simulated time at the current scale, 1..5."""
    return min(MAX_RETRY_AFTER, max(1, math.ceil(remaining_sim_seconds / scale)))


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(status=status, text=json.dumps(body), content_type="application/json", headers=headers or {})


def _wants_instance_view(call: Call) -> bool:
    return "instanceview" in call.request.query.get("$expand", "").lower()


class ArmApp:
    """The aiohttp application plus its routing table."""

    def __init__(self, state: SimState, requests: RequestLog) -> None:
        self.state = state
        self.requests = requests
        self.routes = self._routes()

    # ------------------------------------------------------------------------------------------ plumbing

    def _routes(self) -> list[Route]:
        def r(method: str, pattern: str, operation: str, versions: tuple[str, ...], handler: Handler) -> Route:
            return Route(method, re.compile(pattern + "$", re.IGNORECASE), operation, versions, handler)

        return [
            r("GET", _VM, "VirtualMachines_Get", VM_API, ArmApp.get_vm),
            r("GET", _VM + "/instanceView", "VirtualMachines_InstanceView", VM_API, ArmApp.get_instance_view),
            r("GET", _VM + "/extensions", "VirtualMachineExtensions_List", VM_API, ArmApp.list_extensions),
            r("GET", _VM + "/extensions/(?P<ext>[^/]+)", "VirtualMachineExtensions_Get", VM_API, ArmApp.get_extension),
            r(
                "PUT",
                _VM + "/extensions/(?P<ext>[^/]+)",
                "VirtualMachineExtensions_CreateOrUpdate",
                VM_API,
                ArmApp.put_extension,
            ),
            r(
                "DELETE",
                _VM + "/extensions/(?P<ext>[^/]+)",
                "VirtualMachineExtensions_Delete",
                VM_API,
                ArmApp.delete_extension,
            ),
            r("GET", _COMPUTE + "/disks/(?P<disk>[^/]+)", "Disks_Get", DISK_API, ArmApp.get_disk),
            r("GET", _COMPUTE + "/snapshots/(?P<snap>[^/]+)", "Snapshots_Get", DISK_API, ArmApp.get_snapshot),
            r(
                "PUT",
                _COMPUTE + "/snapshots/(?P<snap>[^/]+)",
                "Snapshots_CreateOrUpdate",
                DISK_API,
                ArmApp.put_snapshot,
            ),
            r(
                "DELETE",
                _COMPUTE + "/snapshots/(?P<snap>[^/]+)",
                "Snapshots_Delete",
                DISK_API,
                ArmApp.delete_snapshot,
            ),
            r(
                "GET",
                _SUB + r"/providers/Microsoft\.Compute/locations/(?P<loc>[^/]+)/operations/(?P<op>[^/]+)",
                "AsyncOperation_Get",
                OPERATION_API,
                ArmApp.get_operation,
            ),
            r(
                "GET",
                _RG + r"/providers/Microsoft\.KeyVault/vaults/(?P<vault>[^/]+)",
                "Vaults_Get",
                VAULT_API,
                ArmApp.get_vault,
            ),
        ]

    def build(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.dispatch)
        return app

    def _resolve(self, method: str, path: str) -> tuple[Route | None, re.Match[str] | None, bool]:
        """Returns (route, match, path_known): path_known with no route means a wrong method."""
        path_known = False
        for route in self.routes:
            m = route.pattern.match(path)
            if m is None:
                continue
            path_known = True
            if route.method == method:
                return route, m, True
        return None, None, path_known

    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        if request.path.startswith("/_sim/"):
            return await self.control(request)
        route, match, path_known = self._resolve(request.method, request.path)
        operation = route.operation if route else "Unknown"
        api_version = request.query.get("api-version")
        try:
            response = await self._handle(request, route, match, path_known, api_version)
        except ArmError as exc:
            response = _json(exc.body(), exc.status)
        except Exception:  # pragma: no cover - a simulator bug must still answer ARM-shaped
            log.exception("azuresim.handler_error", path=request.path, method=request.method)
            response = _json({"error": {"code": "InternalServerError", "message": "Simulator error."}}, 500)
        response.headers.setdefault("x-ms-request-id", str(uuid.uuid4()))
        self.requests.add(
            method=request.method,
            path=request.path,
            operation=operation,
            status=response.status,
            api_version=api_version,
            sim_time=self.state.clock.now(),
            real_time=datetime.now(UTC),
        )
        return response

    async def _handle(
        self,
        request: web.Request,
        route: Route | None,
        match: re.Match[str] | None,
        path_known: bool,
        api_version: str | None,
    ) -> web.Response:
        auth = request.headers.get("Authorization", "")
        if not auth.lower().startswith("bearer ") or not auth[7:].strip():
            return _json(
                {
                    "error": {
                        "code": "AuthenticationFailed",
                        "message": "Authentication failed. The 'Authorization' header is missing.",
                    }
                },
                401,
                {"WWW-Authenticate": 'Bearer authorization_uri="https://login.microsoftonline.com/common"'},
            )
        if route is None or match is None:
            if path_known:
                raise ArmError(
                    405, "MethodNotAllowed", f"The method '{request.method}' is not supported by the simulator."
                )
            raise ArmError(404, "InvalidResourceType", f"The simulator does not serve '{request.path}'.")
        if api_version is None:
            raise ArmError(
                400,
                "MissingApiVersionParameter",
                "The api-version query parameter (?api-version=) is required for all requests.",
            )
        if api_version not in route.api_versions:
            supported = ", ".join(f"'{v}'" for v in route.api_versions)
            raise ArmError(
                400,
                "InvalidApiVersionParameter",
                f"The api-version '{api_version}' is invalid. The supported versions are {supported}.",
            )
        body: Any = None
        if request.method in ("PUT", "PATCH", "POST"):
            raw = await request.read()
            try:
                body = json.loads(raw) if raw else None
            except ValueError as exc:
                raise ArmError(
                    400,
                    "InvalidRequestContent",
                    f"The request content was invalid and could not be deserialized: {exc}",
                ) from exc
            if not isinstance(body, dict):
                raise ArmError(400, "InvalidRequestContent", "The request content must be a JSON object.")
        with self.state.lock:
            call = Call(request, match, body, self.state.clock.now(), api_version)
            return route.handler(self, call)

    def _lro_headers(self, call: Call, op: AsyncOperation, *, location: bool, retry: bool = True) -> dict[str, str]:
        host = call.request.host
        url = (
            f"https://{host}/subscriptions/{op.subscription_id}/providers/Microsoft.Compute"
            f"/locations/{op.location}/operations/{op.id}?api-version={call.api_version}"
        )
        headers = {"Azure-AsyncOperation": url}
        if location:
            headers["Location"] = url + "&monitor=true"
        remaining = op.remaining_seconds(call.now)
        if retry and remaining > 0:
            headers["Retry-After"] = str(retry_after(remaining, self.state.clock.scale))
        return headers

    # ------------------------------------------------------------------------------------------ handlers

    def get_vm(self, call: Call) -> web.Response:
        vm = self.state.vm(call["sub"], call["rg"], call["vm"])
        return _json(render_vm(vm, call.now, instance_view=_wants_instance_view(call)))

    def get_instance_view(self, call: Call) -> web.Response:
        vm = self.state.vm(call["sub"], call["rg"], call["vm"])
        return _json(render_instance_view(vm, call.now))

    def list_extensions(self, call: Call) -> web.Response:
        vm = self.state.vm(call["sub"], call["rg"], call["vm"])
        iv = _wants_instance_view(call)
        return _json(
            {"value": [render_extension(vm, e, call.now, instance_view=iv) for e in vm.live_extensions(call.now)]}
        )

    def get_extension(self, call: Call) -> web.Response:
        vm, ext = self.state.extension(call["sub"], call["rg"], call["vm"], call["ext"], call.now)
        instance_view = _wants_instance_view(call)
        if instance_view:
            self.state.clock.on_status_read()
        return _json(render_extension(vm, ext, call.now, instance_view=instance_view))

    def put_extension(self, call: Call) -> web.Response:
        result, vm, ext = self.state.put_extension(
            call["sub"], call["rg"], call["vm"], call["ext"], call.body, call.now
        )
        assert result.operation is not None
        headers = self._lro_headers(call, result.operation, location=False)
        return _json(render_extension(vm, ext, call.now, instance_view=False), result.status, headers)

    def delete_extension(self, call: Call) -> web.Response:
        result = self.state.delete_extension(call["sub"], call["rg"], call["vm"], call["ext"], call.now)
        if result.operation is None:
            return web.Response(status=result.status)
        return web.Response(status=result.status, headers=self._lro_headers(call, result.operation, location=True))

    def get_disk(self, call: Call) -> web.Response:
        return _json(render_disk(self.state.disk(call["sub"], call["rg"], call["disk"]), call.now))

    def get_snapshot(self, call: Call) -> web.Response:
        return _json(render_snapshot(self.state.snapshot(call["sub"], call["rg"], call["snap"]), call.now))

    def put_snapshot(self, call: Call) -> web.Response:
        result, snap = self.state.put_snapshot(call["sub"], call["rg"], call["snap"], call.body, call.now)
        headers = self._lro_headers(call, result.operation, location=True) if result.operation else {}
        return _json(render_snapshot(snap, call.now), result.status, headers)

    def delete_snapshot(self, call: Call) -> web.Response:
        result = self.state.delete_snapshot(call["sub"], call["rg"], call["snap"])
        return web.Response(status=result.status)

    def get_operation(self, call: Call) -> web.Response:
        op = self.state.operation(call["sub"], call["op"])
        headers: dict[str, str] = {}
        remaining = op.remaining_seconds(call.now)
        if remaining > 0:
            headers["Retry-After"] = str(retry_after(remaining, self.state.clock.scale))
        if call.request.query.get("monitor", "").lower() == "true" and remaining > 0:
            return web.Response(status=202, headers={**headers, "Location": str(call.request.url)})
        return _json(op.body(call.now), 200, headers)

    def get_vault(self, call: Call) -> web.Response:
        return _json(render_vault(self.state.vault(call["sub"], call["rg"], call["vault"])))

    # ------------------------------------------------------------------------------------------ control

    async def control(self, request: web.Request) -> web.Response:
        """Unauthenticated test/demo hooks under ``/_sim/`` (not recorded in the request log)."""
        clock = self.state.clock
        path, method = request.path.rstrip("/"), request.method
        try:
            if method == "GET" and path == "/_sim/requests":
                return _json(self.requests.summary())
            if method == "GET" and path == "/_sim/clock":
                return _json({"now": clock.now().isoformat(), "scale": clock.scale})
            if method == "POST" and path in ("/_sim/clock/advance", "/_sim/clock/scale"):
                payload = await _read_object(request)
                if path.endswith("advance"):
                    clock.advance(float(payload["seconds"]))
                else:
                    clock.scale = float(payload["scale"])
                return _json({"now": clock.now().isoformat(), "scale": clock.scale})
        except (KeyError, TypeError, ValueError) as exc:
            return _json({"error": {"code": "InvalidRequestContent", "message": str(exc)}}, 400)
        return _json({"error": {"code": "NotFound", "message": f"No control endpoint {method} {path}."}}, 404)


async def _read_object(request: web.Request) -> dict[str, Any]:
    payload = json.loads(await request.read() or b"{}")
    if not isinstance(payload, dict):
        raise ValueError("expected a JSON object")
    return payload
