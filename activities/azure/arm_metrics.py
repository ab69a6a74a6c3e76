"""ARM request metrics: every attempt the Azure SDK sends, counted by operation and status, 429s apart.

The operation label is the Azure RBAC action the request needs (``Microsoft.Compute/virtualMachines/
extensions/write``), derived from the request path: it names the call the way ARM's throttling and RBAC docs
do, it is bounded (no resource names), and it is the same vocabulary as ``deploy/adeflow-operator-role.json``.
"""

from __future__ import annotations

from urllib.parse import urlparse

from azure.core.pipeline import PipelineRequest, PipelineResponse
from azure.core.pipeline.policies import AsyncHTTPPolicy
from azure.core.rest import AsyncHttpResponse, HttpRequest
from temporalio.common import MetricMeter

_VERBS = {"GET": "read", "HEAD": "read", "PUT": "write", "PATCH": "write", "DELETE": "delete", "POST": "action"}
READS_BY_POST = {"microsoft.resourcegraph/resources": "Microsoft.ResourceGraph/resources/read"}
"""POSTs that RBAC names reads: a Resource Graph query (``POST /providers/Microsoft.ResourceGraph/resources``)."""


def arm_action(method: str, url: str) -> str:
    """The RBAC action of an ARM request: ``<namespace>/<type>[/<child type>...]/<read|write|delete|action>``.

    Path segments after the last ``providers`` alternate type and name; a path that ends on a type is a list
    (GET) or a resource action (POST, the last segment is the action's name). Paths outside ARM's resource
    hierarchy are ``unknown``.
    """
    method = method.upper()
    segments = [s for s in urlparse(url).path.split("/") if s]
    lowered = [s.lower() for s in segments]
    if "providers" in lowered:
        at = len(lowered) - 1 - lowered[::-1].index("providers")
        if at + 1 >= len(segments):
            return "unknown"
        namespace, rest = segments[at + 1], segments[at + 2 :]
    elif lowered[:1] == ["subscriptions"]:
        namespace, rest = "Microsoft.Resources", segments
    else:
        return "unknown"
    types = rest[0::2]
    read_by_post = READS_BY_POST.get(f"{namespace}/{'/'.join(types)}".lower())
    if method == "POST" and read_by_post:
        return read_by_post
    if not types:
        return f"{namespace}/{_VERBS.get(method, 'action')}"
    if len(rest) % 2 == 1 and method == "POST":
        return f"{namespace}/{'/'.join(types)}/action"
    return f"{namespace}/{'/'.join(types)}/{_VERBS.get(method, 'action')}"


class ArmMetricsPolicy(AsyncHTTPPolicy[HttpRequest, AsyncHttpResponse]):
    """Counts each attempt (a per-retry policy, so the SDK's own retries of a 429 are counted too)."""

    def __init__(self, meter: MetricMeter) -> None:
        super().__init__()
        self._requests = meter.create_counter(
            "adeflow_arm_requests", "ARM requests sent (every attempt), by operation and HTTP status"
        )
        self._throttled = meter.create_counter("adeflow_arm_throttled", "ARM 429 responses, by operation")

    async def send(self, request: PipelineRequest[HttpRequest]) -> PipelineResponse[HttpRequest, AsyncHttpResponse]:
        operation = arm_action(request.http_request.method, request.http_request.url)
        try:
            response = await self.next.send(request)
        except Exception:
            self._requests.add(1, {"operation": operation, "status": "error"})
            raise
        status = response.http_response.status_code
        self._requests.add(1, {"operation": operation, "status": str(status)})
        # 0 for any other answer: the operation's throttling series exists, at 0, from its first request on
        self._throttled.add(1 if status == 429 else 0, {"operation": operation})
        return response
