"""Turning Azure SDK errors into Temporal retry decisions.

Throttling, 5xx and connection errors stay retryable (the SDK retried them within its bounds,
``activities/arm_retry.py``; Temporal retries next, after ARM's ``Retry-After``); a missing resource, a bad
request or a denied call will not heal by retrying and fail fast with the VM named. So does a long-running
operation that Azure reported ``Failed``: re-sending it on every retry would loop without end.

Every verdict is a new :class:`ApplicationError` typed with ARM's code, whose one-line message names the call,
ARM's status, code and message: that is what the UI and the run's failure (``arm-outage-budget-exceeded``)
quote. It is never the SDK's exception itself: call sites ``raise classify_arm_error(exc, ...) from exc``, and
an exception raised from itself is its own ``__cause__``, which Temporal's failure converter follows until
``RecursionError`` ("Failed building exception result"), losing the error (issue 14).
"""

from __future__ import annotations

from datetime import timedelta

from azure.core.exceptions import HttpResponseError
from azure.core.polling.base_polling import OperationFailed
from temporalio.exceptions import ApplicationError

from activities.azure.arm_budget import retry_after_seconds

_NON_RETRYABLE_STATUS = {400, 401, 403, 404, 409}


def arm_error_code(exc: HttpResponseError) -> str:
    error = getattr(exc, "error", None)
    code = getattr(error, "code", None)
    return str(code or exc.status_code or "HttpResponseError")


def arm_error_message(exc: HttpResponseError) -> str:
    """ARM's own message on one line (azure-core's ``exc.message`` adds "Code: ..." and "Message: ..." lines)."""
    error = getattr(exc, "error", None)
    message = getattr(error, "message", None)
    if message:
        return " ".join(str(message).split())
    lines = (exc.message or str(exc) or "").strip().splitlines()
    return lines[0] if lines else ""


def operation_failed(exc: HttpResponseError) -> bool:
    """True when a long-running operation ended ``Failed``/``Canceled`` (Azure's verdict, not a transport error)."""
    return isinstance(exc.__cause__, OperationFailed)


def arm_retry_after(exc: HttpResponseError) -> timedelta | None:
    """ARM's ``Retry-After`` on the failed response, as Temporal's next retry delay (None when ARM named none)."""
    response = getattr(exc, "response", None)
    seconds = retry_after_seconds(response.headers) if response is not None else None
    return timedelta(seconds=seconds) if seconds else None


def _throttling_code(exc: HttpResponseError) -> str:
    """Compute's "Update VM" 429 says ``OperationNotAllowed`` (which reads as final) and names ``TooManyRequests``
    in its first detail: the detail is the type an operator should see."""
    code = arm_error_code(exc)
    details = getattr(getattr(exc, "error", None), "details", None) or []
    detail = getattr(details[0], "code", None) if details else None
    return str(detail) if code == "OperationNotAllowed" and detail else code


def classify_arm_error(exc: HttpResponseError, what: str) -> ApplicationError:
    """A new exception for an activity to raise for ``exc``; ``what`` names the VM and the call."""
    code = _throttling_code(exc) if exc.status_code == 429 else arm_error_code(exc)
    answered = f"ARM answered {exc.status_code or 'no status'} {code}: {arm_error_message(exc)}"
    if exc.status_code in _NON_RETRYABLE_STATUS:
        return ApplicationError(f"{what}: {answered}", type=code, non_retryable=True)
    if operation_failed(exc):
        return ApplicationError(
            f"{what}: the Azure operation failed: {code}: {arm_error_message(exc)}", type=code, non_retryable=True
        )
    return ApplicationError(f"{what}: {answered}", type=code, next_retry_delay=arm_retry_after(exc))
