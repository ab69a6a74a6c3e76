"""Campaign activities: read a fleet's facts in batches, read KEK versions, find VMs busy elsewhere, write reports.

All reads are GETs (an audit writes nothing to Azure); the report is written whole under a name fixed by the run,
so a retried attempt rewrites the same files; the webhook carries the run's name as an idempotency key.
"""

from __future__ import annotations

import asyncio
import json
import os
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
from azure.core.exceptions import HttpResponseError
from temporalio import activity
from temporalio.client import WorkflowExecutionStatus
from temporalio.common import SearchAttributeKey
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from activities.azure.clients import AzureClients
from activities.azure.errors import arm_error_code, arm_error_message, classify_arm_error
from activities.inventory import InventoryActivities
from adeflow.domain import vocabulary
from adeflow.domain.campaign_plan.keks import normalise_kek, parse_kek
from adeflow.domain.campaign_plan.payloads import (
    CampaignReport,
    FactsBatch,
    KekQuery,
    KekReport,
    KekVersion,
    RunningVmRun,
    VmReading,
    VmRunQuery,
    WebhookRequest,
    WrittenReport,
)
from adeflow.domain.model import KeyEncryptionKey, VmRef
from adeflow.domain.resource_ids import parse_resource_id
from adeflow.domain.vocabulary import Reason
from adeflow.reports.campaign_report import report_csv, report_json, report_markdown, webhook_body

ROLLOUT_KEY = SearchAttributeKey.for_keyword(vocabulary.ROLLOUT_ID)


class CampaignActivities:
    def __init__(self, clients: AzureClients) -> None:
        self._clients = clients
        self._inventory = InventoryActivities(clients)

    @activity.defn(name="read_campaign_facts")
    async def read_campaign_facts(self, batch: FactsBatch) -> list[VmReading]:
        """Facts of a batch of VMs, ``parallel`` at a time, heartbeating the count read so far.

        A VM that vanished or may not be read is a reading with a problem (the plan skips it), not a failure: one
        deleted VM must not stop a fleet's campaign. Throttling and 5xx stay retryable.
        """
        gate = asyncio.Semaphore(max(1, batch.parallel))
        done = 0

        async def one(ref: VmRef) -> VmReading:
            nonlocal done
            async with gate:
                try:
                    facts = await self._inventory.read_vm_facts(ref)
                except ApplicationError as exc:
                    if exc.non_retryable:
                        return VmReading(ref, None, exc.message)
                    raise
                finally:
                    done += 1
                    activity.heartbeat(f"{done}/{len(batch.vms)} VMs read")
                return VmReading(ref, facts)

        return list(await asyncio.gather(*(one(ref) for ref in batch.vms)))

    @activity.defn(name="read_kek_versions")
    async def read_kek_versions(self, query: KekQuery) -> KekReport:
        """Creation dates of the KEK versions in use (Keys_GetVersion) and the target's current version (Keys_Get).

        Management plane only: metadata, never key material. A version that cannot be read is reported with why.
        """
        versions = list(await asyncio.gather(*(self._read_version(kek) for kek in query.in_use)))
        target = await self._read_target(query.target) if query.target is not None else None
        return KekReport(versions, target)

    async def _read_version(self, kek: KeyEncryptionKey) -> KekVersion:
        parts = parse_kek(kek.key_url)
        url = normalise_kek(kek.key_url)
        if parts is None or not parts[2]:
            return KekVersion(url, kek.vault_id, problem="not a versioned key URL")
        try:
            vault = parse_resource_id(kek.vault_id)
        except ValueError as exc:
            return KekVersion(url, kek.vault_id, problem=str(exc))
        client = self._clients.keyvault(vault.subscription_id)
        try:
            key = await client.keys.get_version(vault.resource_group, vault.name, parts[1], parts[2])
        except HttpResponseError as exc:
            if exc.status_code in (403, 404):
                return KekVersion(url, kek.vault_id, problem=f"{arm_error_code(exc)}: {arm_error_message(exc)}")
            raise classify_arm_error(exc, f"reading KEK {parts[1]}") from exc
        return _version(url, kek.vault_id, key)

    async def _read_target(self, target: KeyEncryptionKey) -> KekVersion:
        """A versioned target is read like any version; an unversioned one resolves to the key's current version."""
        parts = parse_kek(target.key_url)
        if parts is None:
            return KekVersion(target.key_url, target.vault_id, problem="not a key URL")
        if parts[2]:
            return await self._read_version(target)
        vault = parse_resource_id(target.vault_id)
        client = self._clients.keyvault(vault.subscription_id)
        try:
            key = await client.keys.get(vault.resource_group, vault.name, parts[1])
        except HttpResponseError as exc:
            if exc.status_code in (403, 404):
                problem = f"{arm_error_code(exc)}: {arm_error_message(exc)}"
                return KekVersion(normalise_kek(target.key_url), target.vault_id, problem=problem)
            raise classify_arm_error(exc, f"reading KEK {parts[1]}") from exc
        current = str(getattr(key.properties, "key_uri_with_version", "") or "")
        resolved = parse_kek(current)
        if resolved is None or not resolved[2]:
            return KekVersion(normalise_kek(target.key_url), target.vault_id, problem="no current version reported")
        return _version(normalise_kek(current), target.vault_id, key)

    @activity.defn(name="find_running_vm_runs")
    async def find_running_vm_runs(self, query: VmRunQuery) -> list[RunningVmRun]:
        """VMs whose encryption run is running now (another rollout, a single-VM run), by the run's workflow id.

        Asks Temporal by id (describe), which every server answers, rather than with a visibility query.
        """
        client = activity.client()
        gate = asyncio.Semaphore(20)

        async def one(vm: VmRef, workflow_id: str) -> RunningVmRun | None:
            async with gate:
                try:
                    described = await client.get_workflow_handle(workflow_id).describe()
                except RPCError as exc:
                    if exc.status is RPCStatusCode.NOT_FOUND:
                        return None
                    raise
            if described.status is not WorkflowExecutionStatus.RUNNING:
                return None
            return RunningVmRun(vm, described.id, described.typed_search_attributes.get(ROLLOUT_KEY) or "")

        found = await asyncio.gather(*(one(vm, wid) for vm, wid in zip(query.vms, query.workflow_ids, strict=True)))
        return [run for run in found if run is not None]

    @activity.defn(name="write_campaign_report")
    async def write_campaign_report(self, report: CampaignReport) -> WrittenReport:
        """``<run>.json``, ``.csv`` and ``.md`` in the campaign's report directory (on this worker's file system)."""
        directory = Path(report.report_dir or ".")
        stem = report.result.run.replace("/", "_")
        files = {
            directory / f"{stem}.json": report_json(report),
            directory / f"{stem}.csv": report_csv(report.plans),
            directory / f"{stem}.md": report_markdown(report),
        }
        try:
            directory.mkdir(parents=True, exist_ok=True)
            for path, text in files.items():
                temporary = path.with_suffix(path.suffix + ".tmp")
                temporary.write_text(text, encoding="utf-8")
                temporary.replace(path)  # readers never see half a report
        except OSError as exc:
            raise ApplicationError(
                f"cannot write the campaign report to {directory}: {exc.strerror or exc}; check notify.report_dir "
                "and that the worker may write there",
                type=Reason.REPORT_NOT_WRITTEN,
            ) from exc
        return WrittenReport([str(p) for p in files])

    @activity.defn(name="post_campaign_webhook")
    async def post_campaign_webhook(self, request: WebhookRequest) -> str:
        """POST the run's summary as JSON; ``env:NAME`` URLs are read from this worker's environment."""
        url = request.url
        if url.startswith("env:"):
            name = url[4:]
            url = os.environ.get(name, "")
            if not url:
                raise ApplicationError(f"webhook: ${name} is not set on the worker", non_retryable=True)
        body = json.dumps(webhook_body(request.result))
        headers = {"Content-Type": "application/json", "Idempotency-Key": request.result.run}
        timeout = aiohttp.ClientTimeout(total=30)
        try:
            async with (
                aiohttp.ClientSession(timeout=timeout) as session,
                session.post(url, data=body, headers=headers) as response,
            ):
                if response.status >= 500 or response.status == 429:
                    raise ApplicationError(f"webhook answered {response.status}; will retry")
                if response.status >= 400:
                    raise ApplicationError(f"webhook answered {response.status}", non_retryable=True)
                return f"sent ({response.status})"
        except aiohttp.ClientError as exc:
            raise ApplicationError(f"webhook: {exc}") from exc


def _version(url: str, vault_id: str, key: object) -> KekVersion:
    props = getattr(key, "properties", None)
    attributes = getattr(props, "attributes", None)
    created = getattr(attributes, "created", None)
    enabled = getattr(attributes, "enabled", None)
    return KekVersion(
        url=url,
        vault_id=vault_id,
        created=datetime.fromtimestamp(int(created), UTC) if created is not None else None,
        enabled=enabled is not False,
    )
