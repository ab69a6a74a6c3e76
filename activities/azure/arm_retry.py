"""How long one Azure SDK call may retry inside an activity, and how LRO polls follow ``Retry-After``.

azure-core's default retry policy sleeps every ``Retry-After`` a 429 asks for, however long, three times over;
during a throttling storm a 2-minute status poll then ended with a StartToClose timeout while the SDK slept,
and the UI showed the timeout instead of the throttling. Here one call (its retries, their sleeps and the
:class:`~activities.azure.arm_budget.ArmBudget` waits of every attempt) ends within :data:`ARM_CALL_BUDGET_S`,
half the shortest start-to-close an ARM activity has (2 minutes, ``workflows/steps.py``): when the next sleep
would pass that deadline the SDK gives up with ARM's last answer, the activity raises it typed
(:func:`activities.azure.errors.classify_arm_error`) and Temporal retries after ARM's ``Retry-After``.
"""

from __future__ import annotations

import time
from typing import Any

from azure.core.pipeline import PipelineRequest, PipelineResponse
from azure.core.pipeline.policies import AsyncRetryPolicy
from azure.core.rest import AsyncHttpResponse, HttpRequest
from azure.mgmt.core.polling.async_arm_polling import AsyncARMPolling

ARM_CALL_BUDGET_S = 60.0
"""Seconds one SDK call may spend retrying (sleeps and budget waits included); the shortest ARM activity
start-to-close is 120 s, so the attempt ends with ARM's own error, not a timeout."""
SDK_STATUS_RETRIES = 3
"""Retries of a 429/5xx within one call (azure-core's default), all within :data:`ARM_CALL_BUDGET_S`."""
DEADLINE_KEY = "adeflow_call_deadline"
"""Pipeline-context key: the ``time.monotonic()`` by which the call gives up; the budget policy waits no longer."""


def call_deadline(context: Any) -> float | None:
    """The call's deadline from a pipeline context, if a :class:`BoundedRetryPolicy` set one."""
    value = context.get(DEADLINE_KEY) if context is not None else None
    return float(value) if isinstance(value, int | float) else None


class BoundedRetryPolicy(AsyncRetryPolicy[HttpRequest, AsyncHttpResponse]):
    """azure-core's retry policy (same retry counts and backoff) that never sleeps past the call's deadline."""

    def __init__(self, budget_s: float = ARM_CALL_BUDGET_S, **kwargs: Any) -> None:
        kwargs.setdefault("retry_status", SDK_STATUS_RETRIES)
        super().__init__(**kwargs)
        self.budget_s = budget_s

    async def send(self, request: PipelineRequest[HttpRequest]) -> PipelineResponse[HttpRequest, AsyncHttpResponse]:
        request.context[DEADLINE_KEY] = time.monotonic() + self.budget_s
        return await super().send(request)

    def increment(
        self,
        settings: dict[str, Any],
        response: PipelineRequest[Any] | PipelineResponse[Any, Any] | None = None,
        error: Exception | None = None,
    ) -> bool:
        """One more attempt only if its sleep ends before the deadline; else the last answer is the result."""
        if not super().increment(settings, response=response, error=error):
            return False
        deadline = call_deadline(response.context if response is not None else None)
        if deadline is None:
            return True
        delay = self.get_retry_after(response) if isinstance(response, PipelineResponse) else None
        if not delay:  # as azure-core's sleep: no (or a zero) Retry-After means the exponential backoff
            delay = self.get_backoff_time(settings)
        return time.monotonic() + delay <= deadline


MAX_LRO_RETRY_AFTER_S = 300.0
"""The longest ``Retry-After`` an LRO poll waits: ARM's own figure, unless it is absurd."""


class BoundedArmPolling(AsyncARMPolling):
    """ARM LRO polling that waits as long as ARM's ``Retry-After`` says (issue 18: polling sooner only costs reads;
    at most ``MAX_LRO_RETRY_AFTER_S``), and the configured interval when ARM sends none."""

    def _extract_delay(self) -> float:
        return min(super()._extract_delay(), max(float(self._timeout), MAX_LRO_RETRY_AFTER_S))
