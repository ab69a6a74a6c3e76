"""The two ways a command reaches a service, with their failures turned into one line (``adeflow.client.errors``).

Every CLI verb goes through :func:`run_temporal` or :func:`run_azure`: settings from the environment (bad: exit 2),
the connection, the work, and the service's refusals and outages as ``OperationFailed`` naming the endpoint and
what to check, so the CLI's one exception mapper prints them and no traceback reaches an operator.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ServiceRequestError,
    ServiceResponseError,
)
from temporalio.client import Client
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError

from activities.azure.clients import AzureClients
from activities.azure.errors import arm_error_code, arm_error_message
from adeflow.client.connect import connect
from adeflow.client.errors import BadInput, OperationFailed
from adeflow.inputs.settings import AzureSettings, Settings

T = TypeVar("T")

ARM_FIX = (
    "check ADEFLOW_ARM_ENDPOINT (or ADEFLOW_AZURE_CLOUD), ADEFLOW_ARM_CA_FILE for a private CA, and that it is "
    "reachable from here"
)
CREDENTIAL_FIX = (
    "sign in (az login), or set a managed identity, workload identity or service principal (AZURE_CLIENT_ID, "
    "AZURE_TENANT_ID, AZURE_CLIENT_SECRET); see the README's Azure identity section"
)


def load_settings() -> Settings:
    """Settings from the environment (and ADEFLOW_CONFIG_FILE); a bad value is bad input (exit 2)."""
    try:
        return Settings.from_env()
    except ValueError as exc:
        raise BadInput(str(exc)) from exc


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def azure_failure(exc: Exception, settings: AzureSettings) -> OperationFailed:
    """An azure-core error in one line: which endpoint, what happened, what to check."""
    where = settings.arm_endpoint
    if isinstance(exc, ClientAuthenticationError):
        return OperationFailed(f"no Azure credential for {where}: {CREDENTIAL_FIX} [{_first_line(exc)}]")
    if isinstance(exc, ServiceRequestError | ServiceResponseError):
        return OperationFailed(f"cannot reach Azure Resource Manager at {where}: {ARM_FIX} [{_first_line(exc)}]")
    if isinstance(exc, HttpResponseError):
        return OperationFailed(
            f"Azure Resource Manager at {where} refused: {arm_error_code(exc)}: {arm_error_message(exc)}"
        )
    return OperationFailed(_first_line(exc))


def run_azure(work: Callable[[AzureClients], Awaitable[T]], what: str = "") -> T:
    """Run read-only ARM work with clients built from the settings; azure-core's errors become one line (exit 1)
    starting with ``what`` (the VM or the query)."""
    config = load_settings()
    prefix = f"{what}: " if what else ""

    async def go() -> T:
        clients = AzureClients(config.azure)
        try:
            return await work(clients)
        finally:
            await clients.close()

    try:
        try:
            return asyncio.run(go())
        except ExceptionGroup as group:  # concurrent reads (a TaskGroup): the first failure speaks for them
            raise _first_leaf(group) from group
    except (ClientAuthenticationError, ServiceRequestError, ServiceResponseError, HttpResponseError) as exc:
        raise OperationFailed(prefix + str(azure_failure(exc, config.azure))) from exc
    except ApplicationError as exc:  # an activity's classified ARM refusal, reused by a read
        raise OperationFailed(prefix + _first_line(exc)) from exc


def _first_leaf(group: BaseExceptionGroup[Exception]) -> Exception:
    first = group.exceptions[0]
    return _first_leaf(first) if isinstance(first, BaseExceptionGroup) else first


def run_temporal(work: Callable[[Client, Settings], Awaitable[T]]) -> T:
    """Connect with the settings and run ``work``; an unreachable Temporal or a refused call is one line (exit 1)."""
    config = load_settings()

    async def go() -> T:
        client = await connect(config.temporal)
        return await work(client, config)

    try:
        return asyncio.run(go())
    except RPCError as exc:
        raise OperationFailed(f"Temporal at {config.temporal.address} refused: {exc.message}") from exc
