"""Turning Azure SDK errors into Temporal retry decisions.

Throttling, 5xx and connection errors stay retryable (the SDK already honoured Retry-After); a missing
resource, a bad request or a denied call will not heal by retrying and fail fast with the VM named.
"""

from __future__ import annotations

from azure.core.exceptions import HttpResponseError
from temporalio.exceptions import ApplicationError

_NON_RETRYABLE_STATUS = {400, 401, 403, 404, 409}


def arm_error_code(exc: HttpResponseError) -> str:
    error = getattr(exc, "error", None)
    code = getattr(error, "code", None)
    return str(code or exc.status_code or "HttpResponseError")


def classify_arm_error(exc: HttpResponseError, what: str) -> Exception:
    """Return the exception an activity should raise for ``exc``; ``what`` names the VM and the call."""
    if exc.status_code in _NON_RETRYABLE_STATUS:
        return ApplicationError(
            f"{what}: ARM answered {exc.status_code} {arm_error_code(exc)}: {exc.message}",
            type=arm_error_code(exc),
            non_retryable=True,
        )
    return exc
