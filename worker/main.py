"""The adeflow worker: connects to Temporal, registers workflows and activities, shuts down gracefully.

SIGINT/SIGTERM trigger a graceful shutdown rather than a bare exit (a killed worker crashed the interpreter
in 3 of 45 runs here, docs/original-design.md §4); in-flight activities are retried elsewhere, nothing is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import structlog
from temporalio.client import Client
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.worker import Worker

from activities.azure.clients import AzureClients
from activities.registry import build_activities, create_activities, encrypt_activities
from adeflow.client.connect import connect as connect_temporal
from adeflow.inputs.settings import Settings, TelemetrySettings, TemporalSettings
from worker.health import beat
from worker.interceptors import LivenessHeartbeatInterceptor, LogContextInterceptor
from workflows import metrics
from workflows.create_from_vhd import CreateVmFromEncryptedVhdWorkflow
from workflows.metrics import BACKUP_DURATION, DURATION_BUCKETS_S, ENCRYPTION_DURATION
from workflows.migrate_vm import MigrateToHostEncryptionWorkflow
from workflows.registry import WORKFLOWS, workflow_runner

log = structlog.get_logger(__name__)

CREATE_WORKFLOWS: tuple[type, ...] = (CreateVmFromEncryptedVhdWorkflow, MigrateToHostEncryptionWorkflow)
"""Runs that create VMs: served by the create worker (``ADEFLOW_WORKER_ROLE=create``), on the create task queue."""
ENCRYPT_WORKFLOWS: tuple[type, ...] = tuple(w for w in WORKFLOWS if w not in CREATE_WORKFLOWS)
"""Every other run: the everyday worker's, which never writes a VM."""


def build_runtime(settings: TelemetrySettings) -> Runtime | None:
    """A runtime serving Prometheus ``/metrics`` (SDK and adeflow metrics), or None for the default runtime.

    It must exist before the client connects: a client, its workers and their metric meters share one runtime.
    """
    if not settings.metrics_address:
        return None
    buckets = [float(b) for b in DURATION_BUCKETS_S]
    try:
        return Runtime(
            telemetry=TelemetryConfig(
                metrics=PrometheusConfig(
                    bind_address=settings.metrics_address,
                    histogram_bucket_overrides={ENCRYPTION_DURATION: buckets, BACKUP_DURATION: buckets},
                )
            )
        )
    except ValueError as exc:  # e.g. the port is taken: say which setting to change
        raise ValueError(f"ADEFLOW_METRICS_ADDRESS={settings.metrics_address}: {exc}") from None


async def connect(settings: TemporalSettings, runtime: Runtime | None = None) -> Client:
    return await connect_temporal(settings, runtime=runtime)


def build_workers(client: Client, settings: Settings, azure: AzureClients) -> list[Worker]:
    """The workers of ``ADEFLOW_WORKER_ROLE``: ``encrypt`` polls the task queue, ``create`` the create task queue,
    ``all`` both (one worker when they are the same queue, as in the demo)."""
    temporal = settings.temporal
    role, queue, create_queue = temporal.worker_role, temporal.task_queue, temporal.create_queue
    if role == "all" and create_queue == queue:
        return [_worker(client, settings, queue, WORKFLOWS, build_activities(azure))]
    workers = []
    if role in ("all", "encrypt"):
        workers.append(_worker(client, settings, queue, ENCRYPT_WORKFLOWS, encrypt_activities(azure)))
    if role in ("all", "create"):
        workers.append(_worker(client, settings, create_queue, CREATE_WORKFLOWS, create_activities(azure)))
    return workers


def _worker(
    client: Client,
    settings: Settings,
    task_queue: str,
    workflows: Sequence[type],
    activities: Sequence[Callable[..., Any]],
) -> Worker:
    return Worker(
        client,
        task_queue=task_queue,
        workflows=list(workflows),
        activities=list(activities),
        workflow_runner=workflow_runner(),
        interceptors=[LogContextInterceptor(), LivenessHeartbeatInterceptor()],
        max_cached_workflows=settings.temporal.max_cached_workflows,
        max_concurrent_activities=settings.temporal.max_concurrent_activities,
        max_concurrent_workflow_tasks=settings.temporal.max_concurrent_workflow_tasks,
        graceful_shutdown_timeout=timedelta(seconds=10),
    )


async def run_worker(
    settings: Settings,
    stop: asyncio.Event | None = None,
    client: Client | None = None,
    handle_signals: bool = True,
) -> None:
    """Run until ``stop`` is set or (with ``handle_signals``) the process gets SIGINT/SIGTERM.

    A ``client`` passed in brings its own runtime (and so its own metrics endpoint, if any).
    """
    stop = stop or asyncio.Event()
    if handle_signals:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
    client = client or await connect(settings.temporal, build_runtime(settings.telemetry))
    runtime = client.service_client.config.runtime or Runtime.default()
    azure = AzureClients(settings.azure, metric_meter=runtime.metric_meter)
    metrics.register_at_zero(runtime.metric_meter, settings.temporal.namespace, settings.temporal.task_queue)
    try:
        async with contextlib.AsyncExitStack() as running:
            workers = build_workers(client, settings, azure)
            for worker in workers:
                await running.enter_async_context(worker)
            health = asyncio.create_task(
                beat(Path(settings.telemetry.health_file), lambda: all(w.is_running for w in workers))
            )
            log.info(
                "worker started",
                role=settings.temporal.worker_role,
                task_queues=[worker.task_queue for worker in workers],
                temporal=settings.temporal.address,
                namespace=settings.temporal.namespace,
                arm=settings.azure.arm_endpoint,
                metrics=settings.telemetry.metrics_address or None,
                health_file=settings.telemetry.health_file,
            )
            try:
                await stop.wait()
            finally:
                health.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await health
            log.info("worker stopping")
    finally:
        await azure.close()
