"""Servers of the tests: simulators and Temporal servers from the venv (nothing is downloaded), and workers."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Interceptor, Worker

from activities.azure.clients import AzureClients
from activities.registry import build_activities
from adeflow.inputs.settings import SEARCH_ATTRIBUTES, Settings
from azuresim.server import SimServer
from workflows.registry import WORKFLOWS, workflow_runner

VENV_BIN = Path(sys.executable).parent

SimFactory = Callable[..., SimServer]


def sim_settings(server: SimServer) -> Settings:
    return Settings().with_simulator(server.base_url, server.ca_path)


async def register_search_attributes(env: WorkflowEnvironment) -> None:
    kinds = {"Keyword": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD}
    await env.client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=env.client.namespace,
            search_attributes={name: kinds[kind] for name, kind in SEARCH_ATTRIBUTES.items()},
        )
    )


def new_worker(env: WorkflowEnvironment, clients: AzureClients, interceptors: Sequence[Interceptor] = ()) -> Worker:
    """``interceptors``: a test's own hooks around activities (e.g. a fault injected right after one completes)."""
    return Worker(
        env.client,
        task_queue=f"test-{uuid.uuid4()}",
        workflows=list(WORKFLOWS),
        activities=list(build_activities(clients)),
        workflow_runner=workflow_runner(),
        interceptors=list(interceptors),
    )


Run = Callable[..., Awaitable[subprocess.CompletedProcess[str]]]
"""The ``adeflow`` fixture of tests/e2e: run the CLI as a subprocess against the dev server."""
