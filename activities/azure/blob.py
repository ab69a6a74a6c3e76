"""The Blob service on a disk's SAS URL: how long one call may retry, and what its errors mean for a copy.

A disk SAS (``beginGetAccess``) is a page-blob URL whose query is the credential, so the clients carry no bearer
token. azure-storage-blob's own retry policy ignores ``Retry-After`` and backs off 15 s, 18 s, 24 s: during a
ServerBusy storm a Put Page From URL could then sleep past its heartbeat. :class:`BoundedBlobRetry` waits what the
service asks (``Retry-After``, at most :data:`MAX_BLOB_PAUSE_S`) and, like ``arm_retry`` for ARM, never sleeps past
the call's :data:`BLOB_CALL_BUDGET_S`: then the copy sees the service's last answer and decides (wait and re-queue
the range, renew a SAS, or fail typed).
"""

from __future__ import annotations

import time
from typing import Any

from azure.core.exceptions import HttpResponseError
from azure.storage.blob._shared.policies_async import AsyncStorageRetryPolicy

from activities.azure.arm_budget import retry_after_seconds

BLOB_CALL_BUDGET_S = 60.0
"""Seconds one Blob call may spend retrying (sleeps included)."""
BLOB_RETRIES = 5
MAX_BLOB_PAUSE_S = 30.0
"""The longest single wait a ``Retry-After`` may ask for inside one call."""
BACKOFF_S = 1.0
"""First pause without a ``Retry-After`` (then doubled), as for a dropped connection."""

AUTH_FAILED = "AuthenticationFailed"
COPY_SOURCE_FAILED = "CannotVerifyCopySource"
SERVER_BUSY = "ServerBusy"


class BoundedBlobRetry(AsyncStorageRetryPolicy):
    """Storage's retry (status 408/5xx and transport errors) that sleeps ``Retry-After`` and stops at the budget."""

    def __init__(self, budget_s: float = BLOB_CALL_BUDGET_S, **kwargs: Any) -> None:
        kwargs.setdefault("retry_total", BLOB_RETRIES)
        super().__init__(**kwargs)
        self.budget_s = budget_s

    def configure_retries(self, request: Any) -> dict[str, Any]:
        settings: dict[str, Any] = super().configure_retries(request)
        settings["deadline"] = time.monotonic() + self.budget_s
        settings["pause"] = 0.0
        return settings

    def get_backoff_time(self, settings: dict[str, Any]) -> float:
        return float(settings.get("pause") or 0.0)

    def increment(self, settings: dict[str, Any], request: Any, response: Any = None, error: Any = None) -> bool:
        """One more attempt only if its pause (``Retry-After``, else 1, 2, 4 ... s) ends before the deadline."""
        if not super().increment(settings, request=request, response=response, error=error):
            return False
        asked = retry_after_seconds(response.headers) if response is not None else None
        pause = min(asked, MAX_BLOB_PAUSE_S) if asked is not None else BACKOFF_S * 2 ** (settings["count"] - 1)
        settings["pause"] = pause
        return time.monotonic() + pause <= float(settings["deadline"])


def error_code(exc: HttpResponseError) -> str:
    """The Blob service's ``x-ms-error-code`` (``ServerBusy``, ``AuthenticationFailed``, ...)."""
    code = getattr(exc, "error_code", None)
    if code:
        return str(getattr(code, "value", code))
    response = getattr(exc, "response", None)
    return str(response.headers.get("x-ms-error-code", "")) if response is not None else ""


def copy_source_code(exc: HttpResponseError) -> str:
    """For ``CannotVerifyCopySource``: what the source answered (``AuthenticationFailed`` when its SAS expired)."""
    response = getattr(exc, "response", None)
    return str(response.headers.get("x-ms-copy-source-error-code", "")) if response is not None else ""


def target_sas_expired(exc: HttpResponseError) -> bool:
    """The SAS in the request's own URL is expired or revoked (403 ``AuthenticationFailed``)."""
    return exc.status_code == 403 and error_code(exc) == AUTH_FAILED


def source_sas_expired(exc: HttpResponseError) -> bool:
    """The copy source's SAS is expired or revoked (Put Page From URL's ``CannotVerifyCopySource`` about auth)."""
    return error_code(exc) == COPY_SOURCE_FAILED and copy_source_code(exc) == AUTH_FAILED


def transient(exc: HttpResponseError) -> bool:
    """Worth another try after a pause: throttling, server errors and a busy copy source."""
    return exc.status_code in (408, 429) or (exc.status_code or 0) >= 500 or copy_source_code(exc) == SERVER_BUSY


def blob_retry_after(exc: HttpResponseError) -> float | None:
    response = getattr(exc, "response", None)
    return retry_after_seconds(response.headers) if response is not None else None


def one_line(exc: HttpResponseError) -> str:
    """The service's status, code and first message line, without the request id and time lines."""
    message = (getattr(exc, "message", None) or str(exc) or "").strip().splitlines()
    first = message[0] if message else ""
    return f"{exc.status_code or 'no status'} {error_code(exc) or type(exc).__name__}: {first}"
