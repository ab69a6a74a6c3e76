"""The ARM application: every provider's routes, and the pipeline each request goes through.

Authentication, request-level faults, throttling, route and api-version checks and the JSON body come first, in
that order, for every provider alike; then the route's handler (:mod:`azuresim.providers`) runs under the state
lock. Every ARM request, answered or not, lands in the request log with its operationId. ``/_sim/`` requests go to
the control endpoints (:mod:`azuresim.control`) instead, and ``/_blob/`` requests (SAS, no bearer token) to the
disks' page-blob data plane (:mod:`azuresim.providers.blob`), recorded in the request log too.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from datetime import UTC, datetime
from typing import Any

import structlog
from aiohttp import web

from azuresim.control import control
from azuresim.errors import ArmError
from azuresim.faults import ActiveFault
from azuresim.http import DETAIL, Call, Route, json_response
from azuresim.providers import (
    backup,
    blob,
    compute,
    disks,
    extensions,
    features,
    keyvault,
    network,
    policy,
    resourcegraph,
    scalesets,
    skus,
    subscriptions,
)
from azuresim.requestlog import RequestLog
from azuresim.state import lifecycle
from azuresim.state.world import SimState
from azuresim.throttling import Throttler

log = structlog.get_logger()

ROUTES: tuple[Route, ...] = (
    *compute.ROUTES,
    *scalesets.ROUTES,
    *extensions.ROUTES,
    *disks.ROUTES,
    *keyvault.ROUTES,
    *resourcegraph.ROUTES,
    *backup.ROUTES,
    *policy.ROUTES,
    *features.ROUTES,
    *skus.ROUTES,
    *network.ROUTES,
    *subscriptions.ROUTES,
)
SERVER_ERRORS = {
    500: ("InternalServerError", "Encountered internal server error. Please try again later."),
    502: ("BadGateway", "The gateway did not receive a response from the service in time."),
    503: ("ServiceUnavailable", "The service is temporarily unavailable. Please try again later."),
}
_SUB_ID = re.compile(r"^/subscriptions/(?P<sub>[^/]+)", re.IGNORECASE)


class DropConnection(Exception):
    """Fault ``drop_connection``: close the socket without answering."""


class ArmApp:
    """The aiohttp application plus its routing table."""

    def __init__(self, state: SimState, requests: RequestLog, throttler: Throttler | None = None) -> None:
        self.state = state
        self.requests = requests
        self.throttler = throttler if throttler is not None else Throttler(state.fleet.sim.throttling)
        self.routes = list(ROUTES)

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
            return await control(self.state, self.requests, self.throttler, request)
        if request.path.startswith("/_blob/"):
            return await self._blob(request)
        route, match, path_known = self._resolve(request.method, request.path)
        operation = route.operation if route else "Unknown"
        api_version = request.query.get("api-version")
        extra: dict[str, str] = {}
        try:
            response = await self._handle(request, route, match, path_known, api_version, extra)
        except ArmError as exc:
            response = json_response(exc.body(), exc.status, exc.headers)
        except DropConnection:
            self._record(request, operation, 0, api_version)
            if request.transport is not None:
                request.transport.abort()
            raise asyncio.CancelledError() from None
        except Exception:  # pragma: no cover - a simulator bug must still answer ARM-shaped
            log.exception("azuresim.handler_error", path=request.path, method=request.method)
            response = json_response({"error": {"code": "InternalServerError", "message": "Simulator error."}}, 500)
        for key, value in extra.items():
            response.headers.setdefault(key, value)
        response.headers.setdefault("x-ms-request-id", str(uuid.uuid4()))
        self._record(request, operation, response.status, api_version)
        return response

    async def _blob(self, request: web.Request) -> web.StreamResponse:
        """A page-blob request; one whose client went away while its write waited is recorded with status 0."""
        operation = blob.operation_of(request)
        version = request.headers.get("x-ms-version")
        try:
            response = await blob.serve(self.state, request, operation)
        except asyncio.CancelledError:
            self._record(request, operation, 0, version)
            raise
        self._record(request, operation, response.status, version)
        return response

    def _record(self, request: web.Request, operation: str, status: int, api_version: str | None) -> None:
        self.requests.add(
            method=request.method,
            path=request.path,
            operation=operation,
            status=status,
            api_version=api_version,
            sim_time=self.state.clock.now(),
            real_time=datetime.now(UTC),
            detail=str(request.get(DETAIL, "")),
            connection=_peer(request),
        )

    def _fault_response(self, active: ActiveFault, request: web.Request) -> web.Response:
        fault = active.fault
        if fault.kind == "drop_connection":
            raise DropConnection()
        if fault.kind == "throttle":
            wait = str(fault.retry_after)
            code = fault.code or "SubscriptionRequestsThrottled"
            message = fault.message or (
                f"Number of requests exceeded the limit. Please try again after '{wait}' seconds. "
                "Refer to https://aka.ms/arm-throttling"
            )
            return json_response({"error": {"code": code, "message": message}}, 429, {"Retry-After": wait})
        if fault.kind == "keyvault_denied":
            scope = request.path
            message = fault.message or (
                "The client 'azuresim-client' with object id '00000000-0000-0000-0000-00000000a11c' does not have "
                f"authorization to perform action 'Microsoft.KeyVault/vaults/read' over scope '{scope}' or the "
                "scope is invalid. If access was recently granted, please refresh your credentials."
            )
            return json_response({"error": {"code": fault.code or "AuthorizationFailed", "message": message}}, 403)
        code, message = SERVER_ERRORS[fault.status]
        return json_response({"error": {"code": fault.code or code, "message": fault.message or message}}, fault.status)

    async def _handle(
        self,
        request: web.Request,
        route: Route | None,
        match: re.Match[str] | None,
        path_known: bool,
        api_version: str | None,
        extra: dict[str, str],
    ) -> web.Response:
        auth = request.headers.get("Authorization", "")
        if not auth.lower().startswith("bearer ") or not auth[7:].strip():
            return json_response(
                {
                    "error": {
                        "code": "AuthenticationFailed",
                        "message": "Authentication failed. The 'Authorization' header is missing.",
                    }
                },
                401,
                {"WWW-Authenticate": 'Bearer authorization_uri="https://login.microsoftonline.com/common"'},
            )
        operation = route.operation if route else "Unknown"
        vault = match["vault"] if route is not None and match is not None and "vault" in match.re.groupindex else None
        active = self.state.faults.match_request(operation, request.path, vault)
        if active is not None:
            return self._fault_response(active, request)
        sub = _SUB_ID.match(request.path)
        vm = match["vm"] if route is not None and match is not None and route.updates_vm else None
        decision = self.throttler.check(sub["sub"] if sub else None, request.method, vm=vm)
        extra.update(decision.headers)
        if decision.throttled:
            return json_response(decision.body, 429, {"Retry-After": str(decision.retry_after)})
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
            if body is None and request.method == "POST":
                body = {}  # actions such as restart have no body
            if not isinstance(body, dict):
                raise ArmError(400, "InvalidRequestContent", "The request content must be a JSON object.")
        with self.state.lock:
            call = Call(request, match, body, self.state.clock.now(), api_version)
            lifecycle.settle(self.state, call.now)
            return route.handler(self.state, call)


def _peer(request: web.Request) -> str:
    peer = request.transport.get_extra_info("peername") if request.transport is not None else None
    return f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) and len(peer) >= 2 else ""
