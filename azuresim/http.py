"""What every provider's HTTP handlers share: routes, the call a handler gets, JSON answers, Compute's LRO
headers, ``Retry-After``, ``$skiptoken`` paging and ``$filter`` parsing.

Routing is a small regex table rather than aiohttp routes so that ARM's case-insensitive paths work and every
request, matched or not, gets an operationId for the request log (:mod:`azuresim.app`).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from aiohttp import web

from azuresim.errors import ArmError
from azuresim.state.operations import AsyncOperation

if TYPE_CHECKING:
    from azuresim.state.world import SimState

SUB = r"^/subscriptions/(?P<sub>[^/]+)"
RG = SUB + r"/resourceGroups/(?P<rg>[^/]+)"
COMPUTE = RG + r"/providers/Microsoft\.Compute"
VM = COMPUTE + r"/virtualMachines/(?P<vm>[^/]+)"
VM_API = ("2026-04-01",)
"""Microsoft.Compute's api-version for VMs and their extensions (disks and snapshots have their own)."""
MAX_RETRY_AFTER = 5
DETAIL = web.RequestKey("adeflow.request_detail", str)
"""What a write asked for and met, for the request log's safety checks (``RequestRecord.detail``)."""

T = TypeVar("T")


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


Handler = Callable[["SimState", Call], web.Response]


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    operation: str
    api_versions: tuple[str, ...]
    handler: Handler
    updates_vm: bool = False
    """Compute's "Update VM" throttling policy applies (per VM and per subscription, arm-reference §e)."""


def route(
    method: str, pattern: str, operation: str, versions: tuple[str, ...], handler: Handler, *, updates_vm: bool = False
) -> Route:
    """A route matching ``pattern`` to the end of the path, case-insensitively (ARM paths are)."""
    return Route(method, re.compile(pattern + "$", re.IGNORECASE), operation, versions, handler, updates_vm)


def iso(ts: datetime) -> str:
    """A timestamp as Compute writes it."""
    return ts.isoformat()


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(status=status, text=json.dumps(body), content_type="application/json", headers=headers or {})


def retry_after(remaining_sim_seconds: float, scale: float) -> int:
    """Real seconds the SDK should sleep: the remaining simulated time at the current scale, 1..5."""
    return min(MAX_RETRY_AFTER, max(1, math.ceil(remaining_sim_seconds / scale)))


def lro_headers(
    call: Call, op: AsyncOperation, scale: float, *, location: bool, collection: str = "operations"
) -> dict[str, str]:
    """``Azure-AsyncOperation`` (and ``Location`` when the operation has one) of a Compute LRO, plus ``Retry-After``
    while it runs. ``collection``: ``DiskOperations`` for the disk resource provider's operations."""
    url = (
        f"https://{call.request.host}/subscriptions/{op.subscription_id}/providers/Microsoft.Compute"
        f"/locations/{op.location}/{collection}/{op.id}?api-version={call.api_version}"
    )
    headers = {"Azure-AsyncOperation": url}
    if location:
        headers["Location"] = url + "&monitor=true"
    remaining = op.remaining_seconds(call.now)
    if remaining > 0:
        headers["Retry-After"] = str(retry_after(remaining, scale))
    return headers


def wants_instance_view(call: Call) -> bool:
    return "instanceview" in call.request.query.get("$expand", "").lower()


def offset_page(
    call: Call, items: Sequence[T], size: int, render: Callable[[T], dict[str, Any]], *, strict: bool
) -> dict[str, Any]:
    """One ``{"value", "nextLink"}`` page as Compute's lists answer, ``$skiptoken`` being the offset here.

    ``strict``: a token that is not an offset is a 400 ``InvalidSkipToken`` (snapshots) instead of the first page
    (VMs). Only the items on the page are rendered.
    """
    token = call.request.query.get("$skiptoken", "0")
    if not token.isdigit():
        if strict:
            raise ArmError(400, "InvalidSkipToken", f"The skip token '{token}' is not valid.")
        token = "0"
    start = int(token)
    body: dict[str, Any] = {"value": [render(item) for item in items[start : start + size]]}
    if start + size < len(items):
        url = call.request.url.with_query({"api-version": call.api_version, "$skiptoken": str(start + size)})
        body["nextLink"] = str(url.with_scheme("https"))
    return body


def parse_filter(text: str | None) -> dict[str, str]:
    """``a eq 'x' and b eq 'y'`` → ``{"a": "x", "b": "y"}`` (keys lower-cased; other operators ignored)."""
    result: dict[str, str] = {}
    if not text:
        return result
    for clause in text.replace(" AND ", " and ").split(" and "):
        parts = clause.strip().split(None, 2)
        if len(parts) == 3 and parts[1].lower() == "eq":
            result[parts[0].lower()] = parts[2].strip().strip("'\"")
    return result
