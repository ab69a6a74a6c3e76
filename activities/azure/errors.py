"""Turning Azure SDK errors into Temporal retry decisions.

Throttling, 5xx and connection errors stay retryable (the SDK already honoured Retry-After); a missing
resource, a bad request or a denied call will not heal by retrying and fail fast with the VM named. So does a
long-running operation that Azure reported ``Failed``: re-sending it on every retry would loop without end.
"""

from __future__ import annotations

from azure.core.exceptions import HttpResponseError
from azure.core.polling.base_polling import OperationFailed
from temporalio.exceptions import ApplicationError

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


def classify_arm_error(exc: HttpResponseError, what: str) -> Exception:
    """Return the exception an activity should raise for ``exc``; ``what`` names the VM and the call."""
    if exc.status_code in _NON_RETRYABLE_STATUS:
        return ApplicationError(
            f"{what}: ARM answered {exc.status_code} {arm_error_code(exc)}: {arm_error_message(exc)}",
            type=arm_error_code(exc),
            non_retryable=True,
        )
    if operation_failed(exc):
        return ApplicationError(
            f"{what}: the Azure operation failed: {arm_error_code(exc)}: {arm_error_message(exc)}",
            type=arm_error_code(exc),
            non_retryable=True,
        )
    return exc
