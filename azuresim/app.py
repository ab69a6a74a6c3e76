"""HTTP layer: maps ARM paths to the state model, checks auth and api-versions, speaks the LRO protocol.

Routing is a small regex table rather than aiohttp routes so that ARM's case-insensitive paths work and
every request, matched or not, gets an operationId for the request log.
"""

from __future__ import annotations

import asyncio
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

from azuresim import backup as bk
from azuresim import policy as pol
from azuresim import resourcegraph as rgraph
from azuresim.compute import (
    AsyncOperation,
    render_disk,
    render_extension,
    render_instance_view,
    render_snapshot,
    render_vm,
)
from azuresim.errors import ArmError, resource_not_found
from azuresim.faults import ActiveFault, Fault, FaultsFile
from azuresim.keyvault import render_key, render_key_version, render_secret, render_vault, vault_key, vault_secret
from azuresim.requestlog import RequestLog
from azuresim.state import SimState
from azuresim.throttling import Throttler, ThrottlingSpec
from azuresim.vm_create import create_vm

log = structlog.get_logger()

VM_API = ("2026-04-01",)
DISK_API = ("2026-03-02",)
VAULT_API = ("2026-05-15",)
OPERATION_API = (*VM_API, *DISK_API)
BACKUP_API = ("2026-10-01",)
POLICY_API = ("2026-06-01",)
MAX_RETRY_AFTER = 5
SNAPSHOT_PAGE = 100
VM_PAGE = 100
DETAIL = web.RequestKey("adeflow.request_detail", str)
UPDATE_VM_OPERATIONS = frozenset(
    {"VirtualMachineExtensions_CreateOrUpdate", "VirtualMachineExtensions_Delete", "VirtualMachines_Restart"}
)
SERVER_ERRORS = {
    500: ("InternalServerError", "Encountered internal server error. Please try again later."),
    502: ("BadGateway", "The gateway did not receive a response from the service in time."),
    503: ("ServiceUnavailable", "The service is temporarily unavailable. Please try again later."),
}

_SUB = r"^/subscriptions/(?P<sub>[^/]+)"
_RG = _SUB + r"/resourceGroups/(?P<rg>[^/]+)"
_COMPUTE = _RG + r"/providers/Microsoft\.Compute"
_VM = _COMPUTE + r"/virtualMachines/(?P<vm>[^/]+)"
_SUB_ID = re.compile(r"^/subscriptions/(?P<sub>[^/]+)", re.IGNORECASE)
_RSV = _RG + r"/providers/Microsoft\.RecoveryServices/vaults/(?P<rsv>[^/]+)"
_ITEM = (
    _RSV + r"/backupFabrics/(?P<fabric>[^/]+)/protectionContainers/(?P<container>[^/]+)/protectedItems/(?P<item>[^/]+)"
)
_AUTHZ = r"/providers/Microsoft\.Authorization"
_KV = _RG + r"/providers/Microsoft\.KeyVault/vaults/(?P<vault>[^/]+)"
_SCOPE = r"^/(?P<scope>subscriptions/(?P<sub>[^/]+)(?:/[^/]+/[^/]+)*?)"


class DropConnection(Exception):
    """Fault ``drop_connection``: close the socket without answering."""


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

    def __init__(self, state: SimState, requests: RequestLog, throttler: Throttler | None = None) -> None:
        self.state = state
        self.requests = requests
        self.throttler = throttler if throttler is not None else Throttler(state.fleet.sim.throttling)
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
            r("GET", _COMPUTE + "/snapshots", "Snapshots_ListByResourceGroup", DISK_API, ArmApp.list_snapshots),
            r(
                "GET",
                _SUB + r"/providers/Microsoft\.Compute/snapshots",
                "Snapshots_List",
                DISK_API,
                ArmApp.list_snapshots,
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
            r("PUT", _VM, "VirtualMachines_CreateOrUpdate", VM_API, ArmApp.put_vm),
            r("GET", _KV + "/secrets/(?P<secret>[^/]+)", "Secrets_Get", VAULT_API, ArmApp.get_secret),
            r("GET", _KV + "/keys/(?P<key>[^/]+)", "Keys_Get", VAULT_API, ArmApp.get_key),
            r(
                "GET",
                _KV + "/keys/(?P<key>[^/]+)/versions/(?P<version>[^/]+)",
                "Keys_GetVersion",
                VAULT_API,
                ArmApp.get_key_version,
            ),
            r("POST", _VM + "/restart", "VirtualMachines_Restart", VM_API, ArmApp.restart_vm),
            r("GET", _COMPUTE + "/virtualMachines", "VirtualMachines_List", VM_API, ArmApp.list_vms),
            r(
                "GET",
                _SUB + r"/providers/Microsoft\.Compute/virtualMachines",
                "VirtualMachines_ListAll",
                VM_API,
                ArmApp.list_vms,
            ),
            r(
                "POST",
                r"^/providers/Microsoft\.ResourceGraph/resources",
                "Resources",
                rgraph.RESOURCE_GRAPH_API,
                ArmApp.resource_graph,
            ),
            # Recovery Services Backup
            r(
                "POST",
                _SUB + r"/providers/Microsoft\.RecoveryServices/locations/(?P<loc>[^/]+)/backupStatus",
                "BackupStatus_Get",
                BACKUP_API,
                ArmApp.backup_status,
            ),
            r("GET", _RSV + "/backupProtectedItems", "BackupProtectedItems_List", BACKUP_API, ArmApp.list_items),
            r("GET", _ITEM, "ProtectedItems_Get", BACKUP_API, ArmApp.get_item),
            r("POST", _ITEM + "/backup", "Backups_Trigger", BACKUP_API, ArmApp.trigger_backup),
            r(
                "GET",
                _ITEM + "/operationsStatus/(?P<op>[^/]+)",
                "ProtectedItemOperationStatuses_Get",
                BACKUP_API,
                ArmApp.backup_operation_status,
            ),
            r(
                "GET",
                _ITEM + "/operationResults/(?P<op>[^/]+)",
                "ProtectedItemOperationResults_Get",
                BACKUP_API,
                ArmApp.backup_operation_result,
            ),
            r("GET", _ITEM + "/recoveryPoints", "RecoveryPoints_List", BACKUP_API, ArmApp.list_recovery_points),
            r("GET", _RSV + "/backupJobs/(?P<job>[^/]+)", "JobDetails_Get", BACKUP_API, ArmApp.get_job),
            r("GET", _RSV + "/backupJobs", "BackupJobs_List", BACKUP_API, ArmApp.list_jobs),
            # Azure Policy
            r("GET", _SUB + _AUTHZ + "/policyAssignments", "PolicyAssignments_List", POLICY_API, ArmApp.list_policy),
            r(
                "GET",
                _RG + _AUTHZ + "/policyAssignments",
                "PolicyAssignments_ListForResourceGroup",
                POLICY_API,
                ArmApp.list_policy,
            ),
            r(
                "GET",
                _SCOPE + _AUTHZ + "/policyAssignments/(?P<name>[^/]+)",
                "PolicyAssignments_Get",
                POLICY_API,
                ArmApp.get_policy,
            ),
            r(
                "GET",
                "^" + _AUTHZ + "/policyDefinitions/(?P<defn>[^/]+)",
                "PolicyDefinitions_GetBuiltIn",
                POLICY_API,
                ArmApp.get_builtin_definition,
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
        extra: dict[str, str] = {}
        try:
            response = await self._handle(request, route, match, path_known, api_version, extra)
        except ArmError as exc:
            response = _json(exc.body(), exc.status, exc.headers)
        except DropConnection:
            self._record(request, operation, 0, api_version)
            if request.transport is not None:
                request.transport.abort()
            raise asyncio.CancelledError() from None
        except Exception:  # pragma: no cover - a simulator bug must still answer ARM-shaped
            log.exception("azuresim.handler_error", path=request.path, method=request.method)
            response = _json({"error": {"code": "InternalServerError", "message": "Simulator error."}}, 500)
        for key, value in extra.items():
            response.headers.setdefault(key, value)
        response.headers.setdefault("x-ms-request-id", str(uuid.uuid4()))
        self._record(request, operation, response.status, api_version)
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
            return _json({"error": {"code": code, "message": message}}, 429, {"Retry-After": wait})
        if fault.kind == "keyvault_denied":
            scope = request.path
            message = fault.message or (
                "The client 'azuresim-client' with object id '00000000-0000-0000-0000-00000000a11c' does not have "
                f"authorization to perform action 'Microsoft.KeyVault/vaults/read' over scope '{scope}' or the "
                "scope is invalid. If access was recently granted, please refresh your credentials."
            )
            return _json({"error": {"code": fault.code or "AuthorizationFailed", "message": message}}, 403)
        code, message = SERVER_ERRORS[fault.status]
        return _json({"error": {"code": fault.code or code, "message": fault.message or message}}, fault.status)

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
        operation = route.operation if route else "Unknown"
        vault = match["vault"] if route is not None and match is not None and "vault" in match.re.groupindex else None
        active = self.state.faults.match_request(operation, request.path, vault)
        if active is not None:
            return self._fault_response(active, request)
        sub = _SUB_ID.match(request.path)
        vm = match["vm"] if match is not None and operation in UPDATE_VM_OPERATIONS else None
        decision = self.throttler.check(sub["sub"] if sub else None, request.method, vm=vm)
        extra.update(decision.headers)
        if decision.throttled:
            return _json(decision.body, 429, {"Retry-After": str(decision.retry_after)})
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
        if operation == "VirtualMachineExtensions_CreateOrUpdate" and isinstance(body, dict):
            request[DETAIL] = _extension_detail(body)
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

    def _guest_state(self, call: Call) -> str:
        """``os=… data=…`` as the guest is before a write: the request log's record of what a write met."""
        try:
            vm = self.state.vm(call["sub"], call["rg"], call["vm"])
        except ArmError:
            return ""
        progress = vm.ade.progress(call.now)
        return f"os={progress.os} data={progress.data}"

    def put_extension(self, call: Call) -> web.Response:
        call.request[DETAIL] = f"{call.request.get(DETAIL, '')} {self._guest_state(call)}".strip()
        result, vm, ext = self.state.put_extension(
            call["sub"], call["rg"], call["vm"], call["ext"], call.body, call.now
        )
        assert result.operation is not None
        headers = self._lro_headers(call, result.operation, location=False)
        return _json(render_extension(vm, ext, call.now, instance_view=False), result.status, headers)

    def delete_extension(self, call: Call) -> web.Response:
        call.request[DETAIL] = self._guest_state(call)
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

    def list_snapshots(self, call: Call) -> web.Response:
        """Snapshots_ListByResourceGroup / Snapshots_List: ``{"value", "nextLink"}`` pages (``$skiptoken`` = offset)."""
        if "rg" in call.match.re.groupindex:
            groups = [self.state.resource_group(call["sub"], call["rg"])]
        else:
            groups = list(self.state.subscription(call["sub"]).resource_groups.values())
        snaps = sorted((snap for rg in groups for snap in rg.snapshots.values()), key=lambda snap: snap.id.lower())
        token = call.request.query.get("$skiptoken", "0")
        if not token.isdigit():
            raise ArmError(400, "InvalidSkipToken", f"The skip token '{token}' is not valid.")
        start = int(token)
        body: dict[str, Any] = {"value": [render_snapshot(s, call.now) for s in snaps[start : start + SNAPSHOT_PAGE]]}
        if start + SNAPSHOT_PAGE < len(snaps):
            query = {"api-version": call.api_version, "$skiptoken": str(start + SNAPSHOT_PAGE)}
            url = call.request.url.with_query(query)
            body["nextLink"] = str(url.with_scheme("https"))
        return _json(body)

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

    def put_vm(self, call: Call) -> web.Response:
        """VirtualMachines_CreateOrUpdate: a new VM around an existing (encrypted) OS disk, R-VHD-1."""
        result, vm = create_vm(self.state, call["sub"], call["rg"], call["vm"], call.body, call.now)
        assert result.operation is not None
        headers = self._lro_headers(call, result.operation, location=False)
        return _json(render_vm(vm, call.now, instance_view=False), result.status, headers)

    def get_secret(self, call: Call) -> web.Response:
        vault = self.state.vault(call["sub"], call["rg"], call["vault"])
        return _json(render_secret(vault, vault_secret(vault, call["secret"])))

    def get_key(self, call: Call) -> web.Response:
        vault = self.state.vault(call["sub"], call["rg"], call["vault"])
        return _json(render_key(vault, vault_key(vault, call["key"])))

    def get_key_version(self, call: Call) -> web.Response:
        vault = self.state.vault(call["sub"], call["rg"], call["vault"])
        return _json(render_key_version(vault, vault_key(vault, call["key"], call["version"])))

    def list_vms(self, call: Call) -> web.Response:
        """VirtualMachines_List / _ListAll, paged by ``nextLink`` like Compute (``$skiptoken`` is an offset here)."""
        sub = self.state.subscription(call["sub"])
        if "rg" in call.match.re.groupindex:
            groups = [self.state.resource_group(call["sub"], call["rg"])]
        else:
            groups = list(sub.resource_groups.values())
        vms = [vm for rg in groups for vm in rg.vms.values() if not vm.deleted(call.now)]
        token = call.request.query.get("$skiptoken", "0")
        start = int(token) if token.isdigit() else 0
        shown = vms[start : start + VM_PAGE]
        body: dict[str, Any] = {"value": [render_vm(vm, call.now, instance_view=False) for vm in shown]}
        if start + VM_PAGE < len(vms):
            url = call.request.url.with_query({"api-version": call.api_version, "$skiptoken": str(start + VM_PAGE)})
            body["nextLink"] = str(url.with_scheme("https"))
        return _json(body)

    def resource_graph(self, call: Call) -> web.Response:
        """Resources query (Resource Graph), with the per-user quota headers ARG sends."""
        query = call.body.get("query")
        if not isinstance(query, str):
            raise ArmError(400, "BadRequest", "The request content must contain a string 'query'.")
        subscriptions = call.body.get("subscriptions") or []
        options = call.body.get("options") or {}
        rows = rgraph.run_query(query, rgraph.resource_rows(self.state, subscriptions, call.now))
        headers = {"x-ms-user-quota-remaining": "14", "x-ms-user-quota-resets-after": "00:00:05"}
        return _json(rgraph.page(rows, options), headers=headers)

    def restart_vm(self, call: Call) -> web.Response:
        result = self.state.restart_vm(call["sub"], call["rg"], call["vm"], call.now)
        assert result.operation is not None
        return web.Response(status=202, headers=self._lro_headers(call, result.operation, location=True))

    # ------------------------------------------------------------------------------------------ backup

    def _item(self, call: Call) -> bk.ProtectedItem:
        if call["fabric"].lower() != bk.FABRIC.lower():
            raise ArmError(404, "ResourceNotFound", f"The backup fabric '{call['fabric']}' was not found.")
        return self.state.protected_item(call["sub"], call["rg"], call["rsv"], call["container"], call["item"])

    def backup_status(self, call: Call) -> web.Response:
        resource_id = call.body.get("resourceId")
        if not isinstance(resource_id, str) or not resource_id:
            raise ArmError(400, "InvalidRequestContent", "The request content is missing 'resourceId'.")
        item = self.state.protection_of(resource_id)
        if item is None or item.vm.deleted(call.now):
            return _json({"protectionStatus": "NotProtected"})
        return _json(
            {
                "protectionStatus": "Protected",
                "vaultId": item.vault.id,
                "fabricName": bk.FABRIC,
                "containerName": item.container,
                "protectedItemName": item.name,
                "policyName": item.policy,
            }
        )

    def list_items(self, call: Call) -> web.Response:
        vault = self.state.recovery_vault(call["sub"], call["rg"], call["rsv"])
        where = bk.parse_filter(call.request.query.get("$filter"))
        items = []
        for item in vault.items.values():
            if item.vm.deleted(call.now):
                continue
            if where.get("backupmanagementtype", "AzureIaasVM").lower() != "azureiaasvm":
                continue
            if where.get("itemtype", "VM").lower() != "vm":
                continue
            if "policyname" in where and where["policyname"].lower() != item.policy.lower():
                continue
            items.append(bk.render_protected_item(item, call.now))
        return _json({"value": items})

    def get_item(self, call: Call) -> web.Response:
        return _json(bk.render_protected_item(self._item(call), call.now))

    def _backup_urls(self, call: Call, item: bk.ProtectedItem, op: bk.BackupOperation) -> dict[str, str]:
        base = f"https://{call.request.host}{item.id}"
        query = f"?api-version={call.api_version}"
        headers = {
            "Azure-AsyncOperation": f"{base}/operationsStatus/{op.id}{query}",
            "Location": f"{base}/operationResults/{op.id}{query}",
        }
        remaining = (op.done_at - call.now).total_seconds()
        headers["Retry-After"] = str(retry_after(max(remaining, 0.0), self.state.clock.scale))
        return headers

    def trigger_backup(self, call: Call) -> web.Response:
        item = self._item(call)
        props = call.body.get("properties")
        if not isinstance(props, dict) or props.get("objectType") != "IaasVMBackupRequest":
            raise ArmError(
                400,
                "InvalidRequestContent",
                "The request content must have properties.objectType 'IaasVMBackupRequest'.",
            )
        if any(job.status(call.now) == "InProgress" for job in item.jobs):
            raise ArmError(
                409,
                "UserErrorBackupOperationInProgress",
                "Backup cannot be triggered because another backup operation is in progress for this item.",
            )
        op = self.state.trigger_backup(item, call.now)
        return web.Response(status=202, headers=self._backup_urls(call, item, op))

    def _backup_operation(self, call: Call) -> tuple[bk.ProtectedItem, bk.BackupOperation]:
        item = self._item(call)
        op = item.vault.operations.get(call["op"])
        if op is None or op.job.item is not item:
            raise ArmError(404, "ResourceNotFound", f"The operation '{call['op']}' was not found.")
        return item, op

    def backup_operation_status(self, call: Call) -> web.Response:
        _, op = self._backup_operation(call)
        return _json(bk.render_operation_status(op, call.now))

    def backup_operation_result(self, call: Call) -> web.Response:
        item, op = self._backup_operation(call)
        if call.now < op.done_at:
            return web.Response(status=202, headers=self._backup_urls(call, item, op))
        return web.Response(status=204)

    def list_recovery_points(self, call: Call) -> web.Response:
        item = self._item(call)
        return _json({"value": [bk.render_recovery_point(item, p) for p in item.points(call.now)]})

    def get_job(self, call: Call) -> web.Response:
        vault = self.state.recovery_vault(call["sub"], call["rg"], call["rsv"])
        job = vault.jobs.get(call["job"].lower())
        if job is None:
            raise resource_not_found(
                "Microsoft.RecoveryServices/vaults", f"{vault.name}/backupJobs/{call['job']}", call["rg"]
            )
        return _json(bk.render_job(job, call.now))

    def list_jobs(self, call: Call) -> web.Response:
        vault = self.state.recovery_vault(call["sub"], call["rg"], call["rsv"])
        where = bk.parse_filter(call.request.query.get("$filter"))
        jobs = []
        for job in sorted(vault.jobs.values(), key=lambda j: j.started_at, reverse=True):
            body = bk.render_job(job, call.now)
            props = body["properties"]
            if any(
                key in where and where[key].lower() != str(props[field]).lower()
                for key, field in (
                    ("status", "status"),
                    ("operation", "operation"),
                    ("backupmanagementtype", "backupManagementType"),
                )
            ):
                continue
            jobs.append(body)
        return _json({"value": jobs})

    # ------------------------------------------------------------------------------------------ policy

    def list_policy(self, call: Call) -> web.Response:
        sub = self.state.subscription(call["sub"])
        scope = f"/subscriptions/{sub.id}"
        if "rg" in call.match.re.groupindex:
            scope += f"/resourceGroups/{self.state.resource_group(call['sub'], call['rg']).name}"
        text = call.request.query.get("$filter", "").strip()
        where = bk.parse_filter(text)
        found = []
        for a in sub.policy_assignments:
            if text.lower() == "atscope()":
                if not a.at_or_above(scope):
                    continue
            elif not (a.at_or_above(scope) or a.within(scope)):
                continue
            wanted = where.get("policydefinitionid")
            if wanted and wanted.lower() != pol.definition_id(a.spec.policy_definition_id).lower():
                continue
            found.append(pol.render_assignment(a))
        top = call.request.query.get("$top")
        if top and top.isdigit():
            found = found[: int(top)]
        return _json({"value": found})

    def get_policy(self, call: Call) -> web.Response:
        sub = self.state.subscription(call["sub"])
        scope = "/" + call["scope"]
        for a in sub.policy_assignments:
            if a.scope.lower() == scope.rstrip("/").lower() and a.spec.name.lower() == call["name"].lower():
                return _json(pol.render_assignment(a))
        raise ArmError(404, "PolicyAssignmentNotFound", f"The policy assignment '{call['name']}' is not found.")

    def get_builtin_definition(self, call: Call) -> web.Response:
        body = pol.render_definition(call["defn"])
        if body is None:
            raise ArmError(
                404, "PolicyDefinitionNotFound", f"The policy definition '{call['defn']}' could not be found."
            )
        return _json(body)

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
            if path == "/_sim/throttling" and method in ("GET", "POST"):
                if method == "POST":
                    payload = await _read_object(request)
                    merged = {**self.throttler.spec.model_dump(exclude_none=True), **payload}
                    self.throttler.configure(ThrottlingSpec.model_validate(merged))
                return _json(self.throttler.spec.model_dump(exclude_none=True))
            if path == "/_sim/faults":
                if method == "GET":
                    return _json(
                        {"seed": self.state.faults.seed, "faults": [a.to_json() for a in self.state.faults.list()]}
                    )
                if method == "DELETE":
                    self.state.clear_faults()
                    return _json({"faults": []})
                if method == "POST":
                    payload = await _read_object(request)
                    if "kind" in payload:
                        faults = [Fault.model_validate(payload)]
                    else:
                        spec = FaultsFile.model_validate(payload)
                        if "seed" in payload:
                            self.state.faults.reseed(spec.seed)
                        faults = spec.faults
                    ids = [self.state.inject(f).id for f in faults]
                    return _json({"ids": ids}, 201)
            if method == "POST" and path in ("/_sim/clock/advance", "/_sim/clock/scale"):
                payload = await _read_object(request)
                if path.endswith("advance"):
                    clock.advance(float(payload["seconds"]))
                else:
                    clock.scale = float(payload["scale"])
                return _json({"now": clock.now().isoformat(), "scale": clock.scale})
        except ArmError as exc:
            return _json(exc.body(), exc.status)
        except (KeyError, TypeError, ValueError) as exc:
            return _json({"error": {"code": "InvalidRequestContent", "message": str(exc)}}, 400)
        return _json({"error": {"code": "NotFound", "message": f"No control endpoint {method} {path}."}}, 404)


def _extension_detail(body: dict[str, Any]) -> str:
    """``EnableEncryption All seq=… format-all`` from an extension PUT, for the request log's safety checks."""
    settings = (body.get("properties") or {}).get("settings") or {}
    if not isinstance(settings, dict):
        return ""
    words = [str(settings.get("EncryptionOperation", "")), str(settings.get("VolumeType", ""))]
    words.append(f"seq={settings.get('SequenceVersion', '')}")
    if str(settings.get("EncryptionOperation", "")) == "EnableEncryptionFormatAll":
        words.append("format-all")
    return " ".join(w for w in words if w)


async def _read_object(request: web.Request) -> dict[str, Any]:
    payload = json.loads(await request.read() or b"{}")
    if not isinstance(payload, dict):
        raise ValueError("expected a JSON object")
    return payload


def _peer(request: web.Request) -> str:
    peer = request.transport.get_extra_info("peername") if request.transport is not None else None
    return f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) and len(peer) >= 2 else ""
