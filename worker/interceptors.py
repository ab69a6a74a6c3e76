"""Log context for every activity, bound in one place instead of at each log call.

An activity only knows its own arguments, yet operators search logs by VM, subscription and rollout. The
workflow knows those (its search attributes), so the workflow side copies them into a header of each activity
it schedules, and the activity side binds them, with the workflow id, run id and activity type, as structlog
context variables. Each activity runs in its own asyncio task, so the binding lasts exactly as long as the
activity, and covers the SDK's own log lines about it (retries, failures) as well as adeflow's. With payload
encryption on, the header is sealed like a payload (``adeflow.client.codec.header_codec``); a header this worker
cannot open costs the activity its log context, never the activity itself.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import structlog
from temporalio import activity, workflow
from temporalio.common import SearchAttributeKey
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory
from temporalio.worker import (
    ActivityInboundInterceptor,
    ActivityOutboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
    StartActivityInput,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
    WorkflowOutboundInterceptor,
)

HEADER = "adeflow-log-context"

log = structlog.get_logger(__name__)

_CONTEXT_KEYS = {
    "vm": SearchAttributeKey.for_keyword("AdeVmName"),
    "resource_group": SearchAttributeKey.for_keyword("AdeResourceGroup"),
    "subscription": SearchAttributeKey.for_keyword("AdeSubscription"),
    "rollout_id": SearchAttributeKey.for_keyword("AdeRolloutId"),
}


class _WorkflowOutbound(WorkflowOutboundInterceptor):
    def start_activity(self, input: StartActivityInput) -> workflow.ActivityHandle[Any]:
        attributes = workflow.info().typed_search_attributes
        context = {name: value for name, key in _CONTEXT_KEYS.items() if (value := attributes.get(key))}
        if context:
            input.headers = {**input.headers, HEADER: workflow.payload_converter().to_payload(context)}
        return super().start_activity(input)


class _WorkflowInbound(WorkflowInboundInterceptor):
    def init(self, outbound: WorkflowOutboundInterceptor) -> None:
        super().init(_WorkflowOutbound(outbound))


class _ActivityInbound(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        info = activity.info()
        context: dict[str, Any] = {
            "workflow_id": info.workflow_id,
            "run_id": info.workflow_run_id,
            "activity": info.activity_type,
            "attempt": info.attempt,
        }
        payload = input.headers.get(HEADER)
        if payload is not None:
            try:
                context.update(activity.payload_converter().from_payload(payload, dict))
            except Exception as exc:  # sealed with a codec key this worker lacks: log without it, never fail
                log.warning("activity log context unreadable", error=str(exc))
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(**context)
        started = time.monotonic()
        try:
            result = await super().execute_activity(input)
        except ApplicationError as err:
            # "Still encrypting" is the poll loop's normal answer (benign): one line per poll only at DEBUG.
            level = log.debug if err.category == ApplicationErrorCategory.BENIGN else log.info
            level(
                "activity ended with an error", error_type=err.type, error=err.message, retryable=not err.non_retryable
            )
            raise
        log.info("activity completed", seconds=round(time.monotonic() - started, 3))
        return result


class LogContextInterceptor(Interceptor):
    """Binds workflow id, run id, activity type, VM, resource group, subscription and rollout id to activity logs."""

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _ActivityInbound(next)

    def workflow_interceptor_class(self, input: WorkflowInterceptorClassInput) -> type[WorkflowInboundInterceptor]:
        return _WorkflowInbound


LIVENESS_EVERY_S = 5.0
"""How often a running activity tells Temporal it is alive (see ``workflows.steps.ARM_HEARTBEAT_TIMEOUT``)."""


class _LivenessOutbound(ActivityOutboundInterceptor):
    """Remembers the details of the activity's own last heartbeat, so the liveness beat repeats them."""

    def __init__(self, next: ActivityOutboundInterceptor) -> None:
        super().__init__(next)
        self.details: tuple[Any, ...] = ()
        self.last = time.monotonic()

    def heartbeat(self, *details: Any) -> None:
        self.details = details
        self.last = time.monotonic()
        super().heartbeat(*details)


class _LivenessInbound(ActivityInboundInterceptor):
    def __init__(self, next: ActivityInboundInterceptor, every_s: float) -> None:
        super().__init__(next)
        self._every_s = every_s
        self._outbound: _LivenessOutbound | None = None

    def init(self, outbound: ActivityOutboundInterceptor) -> None:
        self._outbound = _LivenessOutbound(outbound)
        super().init(self._outbound)

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        beat = asyncio.create_task(self._beat())
        try:
            return await super().execute_activity(input)
        finally:
            beat.cancel()

    async def _beat(self) -> None:
        outbound = self._outbound
        assert outbound is not None
        while True:
            await asyncio.sleep(self._every_s)
            if time.monotonic() - outbound.last >= self._every_s:
                outbound.heartbeat(*outbound.details)


class LivenessHeartbeatInterceptor(Interceptor):
    """Every activity heartbeats at least every ``every_s`` seconds while it runs, repeating its own last details.

    A SIGKILLed worker sends nothing more, so Temporal retries its in-flight activities on another worker after
    the heartbeat timeout the workflow set (seconds) instead of after the start-to-close timeout (up to hours for
    a snapshot or an extension PUT). A retried attempt is safe: every ARM activity is idempotent
    (docs/original-design.md §5.6).
    """

    def __init__(self, every_s: float = LIVENESS_EVERY_S) -> None:
        self._every_s = every_s

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _LivenessInbound(next, self._every_s)
