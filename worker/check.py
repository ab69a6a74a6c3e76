"""``adeflow worker --check``: are this worker's Temporal and Azure ready for adeflow? Checked before the first rollout.

A missing search attribute does not stop a worker from starting; it stalls every run at its first upsert
(the workflow task fails with BadSearchAttributes and retries forever). So the check connects with the
worker's own settings, then verifies the namespace and each attribute adeflow sets, and prints for anything
wrong the command that fixes it. Then it reads from ARM once with the worker's identity (``worker.check_azure``).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from temporalio.api.enums.v1 import IndexedValueType, TaskQueueType
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest, DescribeTaskQueueRequest
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from adeflow.client.connect import TemporalUnreachable, connect, describe
from adeflow.inputs.settings import SEARCH_ATTRIBUTES, Settings, TemporalSettings
from worker.check_azure import check_azure
from worker.finding import Finding


def type_name(value: int) -> str:
    """``INDEXED_VALUE_TYPE_KEYWORD_LIST`` -> ``KeywordList``, as the CLI spells types."""
    name = IndexedValueType.Name(value).removeprefix("INDEXED_VALUE_TYPE_")  # type: ignore[arg-type]
    return "".join(part.capitalize() for part in name.split("_"))


def _cli(settings: TemporalSettings, command: str) -> str:
    """The ``temporal`` CLI command with the connection flags of these settings (never the API key value)."""
    flags = f"--address {settings.address} --namespace {settings.namespace}"
    if settings.tls_cert_file:
        flags += f" --tls-cert-path {settings.tls_cert_file} --tls-key-path {settings.tls_key_file}"
    elif settings.tls:
        flags += " --tls"
    if settings.tls_ca_file:
        flags += f" --tls-ca-path {settings.tls_ca_file}"
    if settings.api_key:
        flags += " --api-key $ADEFLOW_TEMPORAL_API_KEY"
    return f"temporal operator {command} {flags}"


def _create_fix(settings: TemporalSettings, name: str, kind: str) -> str:
    fix = _cli(settings, f"search-attribute create --name {name} --type {kind}")
    if ".tmprl.cloud" in settings.address:
        fix += f"  (Temporal Cloud: tcld namespace search-attributes add -n {settings.namespace} --sa '{name}={kind}')"
    return fix


async def _namespace(client: Client, settings: TemporalSettings) -> Finding:
    try:
        answer = await client.workflow_service.describe_namespace(
            DescribeNamespaceRequest(namespace=settings.namespace)
        )
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return Finding(
                False,
                f"namespace {settings.namespace}",
                "does not exist",
                (_cli(settings, "namespace create"),),
            )
        return Finding(False, f"namespace {settings.namespace}", f"cannot be described: {exc.message}")
    retention = answer.config.workflow_execution_retention_ttl.ToTimedelta()
    return Finding(True, f"namespace {settings.namespace}", f"reachable (retention {retention.days} days)")


async def _search_attributes(client: Client, settings: TemporalSettings) -> list[Finding]:
    try:
        answer = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=settings.namespace)
        )
    except RPCError as exc:
        return [Finding(False, "search attributes", f"cannot be listed: {exc.message}")]
    registered = {name: type_name(kind) for name, kind in answer.custom_attributes.items()}
    findings = []
    for name, kind in SEARCH_ATTRIBUTES.items():
        subject = f"search attribute {name}"
        have = registered.get(name)
        if have is None:
            findings.append(
                Finding(
                    False,
                    subject,
                    f"not registered in namespace {settings.namespace}",
                    (_create_fix(settings, name, kind),),
                )
            )
        elif have != kind:
            findings.append(
                Finding(
                    False,
                    subject,
                    f"registered as {have}, adeflow needs {kind}",
                    (_cli(settings, f"search-attribute remove --name {name} --yes"), _create_fix(settings, name, kind)),
                )
            )
        else:
            findings.append(Finding(True, subject, kind))
    return findings


async def _task_queue(client: Client, settings: TemporalSettings) -> Finding:
    """Informational: how many workers poll the task queue now (zero is fine before the first one starts)."""
    try:
        answer = await client.workflow_service.describe_task_queue(
            DescribeTaskQueueRequest(
                namespace=settings.namespace,
                task_queue=TaskQueue(name=settings.task_queue),
                task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
            )
        )
    except RPCError as exc:
        return Finding(True, f"task queue {settings.task_queue}", f"not described ({exc.message})")
    return Finding(True, f"task queue {settings.task_queue}", f"{len(answer.pollers)} worker(s) polling now")


async def _temporal_problems(settings: TemporalSettings, out: Callable[[str], None]) -> int:
    """Print one line per check of Temporal; the number of problems found."""
    out(f"Checking Temporal at {describe(settings)}")
    started = time.monotonic()
    try:
        client = await connect(settings)
    except TemporalUnreachable as exc:
        out(Finding(False, "connection", f"cannot reach {exc.where}: {exc.reason}", (exc.fix,)).render())
        out(f"      detail: {exc.detail}")
        return 1
    out(Finding(True, "connection", f"connected in {time.monotonic() - started:.2f} s").render())
    namespace = await _namespace(client, settings)
    out(namespace.render())
    if not namespace.ok:
        return 1
    findings = await _search_attributes(client, settings)
    for finding in findings:
        out(finding.render())
    out((await _task_queue(client, settings)).render())
    return sum(not f.ok for f in findings)


async def check_temporal(settings: TemporalSettings, out: Callable[[str], None]) -> bool:
    """Print one line per check of Temporal; True when adeflow's workflows can run there."""
    return await _temporal_problems(settings, out) == 0


async def check_worker(settings: Settings, out: Callable[[str], None]) -> bool:
    """``adeflow worker --check``: Temporal, then one read from ARM with the worker's identity; a verdict line."""
    problems = await _temporal_problems(settings.temporal, out)
    problems += await check_azure(settings.azure, out)
    verdict = f"{problems} problem(s): run the fix commands above, then check again"
    out("adeflow can run here" if not problems else verdict)
    return not problems
