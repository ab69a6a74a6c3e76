"""The one way adeflow reaches Temporal: the worker, the CLI and the demo all connect through :func:`connect`.

A dev server, a self-hosted cluster with mTLS and Temporal Cloud (mTLS or API key) differ only in
:class:`~adeflow.inputs.settings.TemporalSettings`, so every command works against all three unchanged.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

from temporalio.api.enums.v1 import TaskQueueKind, TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client
from temporalio.runtime import Runtime
from temporalio.service import TLSConfig

from adeflow.client.codec import CodecKeys, client_codec_options
from adeflow.client.errors import OperationFailed
from adeflow.inputs.settings import TemporalSettings

CONNECT_TIMEOUT = timedelta(seconds=10)
"""Per TCP connection attempt: an address that swallows packets fails in seconds instead of hanging. (A server
that accepts the connection but never answers is given up by the SDK itself after 30 s.)"""
BACKSTOP_S = 45.0
"""Outer limit, above the SDK's own 30 s, so the SDK normally reports first (and cleanly)."""


FIX = (
    "check ADEFLOW_TEMPORAL_ADDRESS and ADEFLOW_TEMPORAL_NAMESPACE; for a cluster with TLS or Temporal Cloud also "
    "ADEFLOW_TEMPORAL_TLS_CERT/_KEY/_CA or ADEFLOW_TEMPORAL_API_KEY"
)


class TemporalUnreachable(OperationFailed, RuntimeError):
    """Connecting failed: ``reason`` in words, ``detail`` the SDK's own error text, ``fix`` what to check."""

    def __init__(self, where: str, reason: str, detail: str) -> None:
        self.where, self.reason, self.detail, self.fix = where, reason, detail, FIX
        super().__init__(f"cannot reach Temporal at {where}: {reason}; {FIX} [{detail}]")


def tls_config(settings: TemporalSettings) -> TLSConfig | bool:
    """``False`` (plain), ``True`` (system trust store) or the files and server name that were configured."""
    if not settings.tls:
        return False
    if not (settings.tls_cert_file or settings.tls_ca_file or settings.tls_server_name):
        return True
    return TLSConfig(
        server_root_ca_cert=Path(settings.tls_ca_file).read_bytes() if settings.tls_ca_file else None,
        client_cert=Path(settings.tls_cert_file).read_bytes() if settings.tls_cert_file else None,
        client_private_key=Path(settings.tls_key_file).read_bytes() if settings.tls_key_file else None,
        domain=settings.tls_server_name or None,
    )


def describe(settings: TemporalSettings) -> str:
    """Where adeflow connects, in words for messages (never the API key itself)."""
    tls = "off"
    if settings.tls:
        tls = "mTLS" if settings.tls_cert_file else "on"
    key = ", API key" if settings.api_key else ""
    return f"{settings.address} (namespace {settings.namespace}, TLS {tls}{key})"


def _reason(error: BaseException) -> str:
    """The bridge's error text is a Rust debug dump; say what it means."""
    text = str(error) or type(error).__name__
    hints = (
        ("ConnectionRefused", "connection refused: nothing listens at that address"),
        ("dns error", "the host name does not resolve"),
        ("InvalidCertificate", "the server's TLS certificate is not trusted (set ADEFLOW_TEMPORAL_TLS_CA)"),
        ("Unauthenticated", "the server refused the credentials (API key or client certificate)"),
        ("PermissionDenied", "the credentials are not allowed on this namespace"),
        (
            "Timeout expired",
            "the server accepted the connection but did not answer within 30 s (not a Temporal frontend?)",
        ),
        ("timed out", "no answer in time (is the address reachable from here?)"),
    )
    for needle, meaning in hints:
        if needle.lower() in text.lower():
            return meaning
    if isinstance(error, TimeoutError):
        return f"no answer within {BACKSTOP_S:.0f} s"
    return "the connection failed"


async def connect(
    settings: TemporalSettings, *, runtime: Runtime | None = None, keys: CodecKeys | None = None
) -> Client:
    """Connect, or raise :class:`TemporalUnreachable` (at once for a refused or unresolvable address, never a hang).

    The payload codec is on when ``ADEFLOW_CODEC_KEYS``/``_KEY_FILE`` is set, so the worker and every CLI
    command read and write the same encrypted payloads, failure messages and headers (``adeflow.client.codec``);
    ``keys`` given (the demo's own) take their place.
    """
    try:
        return await asyncio.wait_for(
            Client.connect(
                settings.address,
                namespace=settings.namespace,
                api_key=settings.api_key or None,
                tls=tls_config(settings),
                connect_timeout=CONNECT_TIMEOUT,
                runtime=runtime,
                **client_codec_options(keys if keys is not None else CodecKeys.from_env()),
            ),
            timeout=BACKSTOP_S,
        )
    except (RuntimeError, TimeoutError, OSError) as exc:
        raise TemporalUnreachable(describe(settings), _reason(exc), str(exc) or type(exc).__name__) from exc


async def worker_polls(client: Client, task_queue: str) -> bool:
    """Whether a worker polls ``task_queue`` for workflow tasks, as the server last saw (it forgets a poller a few
    minutes after it stops). Queries and updates need one; reading a closed workflow's result does not."""
    described = await client.workflow_service.describe_task_queue(
        DescribeTaskQueueRequest(
            namespace=client.namespace,
            task_queue=TaskQueue(name=task_queue, kind=TaskQueueKind.TASK_QUEUE_KIND_NORMAL),
            task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
        )
    )
    return bool(described.pollers)


def no_worker(task_queue: str) -> str:
    """What to tell an operator whose command needs a worker and found none."""
    return (
        f"no worker is polling task queue {task_queue}: start one with `adeflow worker` "
        f"(ADEFLOW_TASK_QUEUE={task_queue}, and the same ADEFLOW_TEMPORAL_* settings as this command)"
    )
