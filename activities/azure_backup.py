"""The R-BAK-2 gate through Azure Backup: an on-demand backup of a protected VM, awaited to its recovery point."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from azure.core.exceptions import HttpResponseError
from azure.mgmt.recoveryservicesbackup.models import BackupRequestResource, BackupStatusRequest
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.azure.clients import AzureClients
from activities.azure.errors import arm_error_code, arm_error_message, classify_arm_error
from adeflow.domain import rules
from adeflow.domain.model import AzureBackupRequest, AzureBackupResult, BackupProtection, ProtectionQuery, VmRef
from adeflow.domain.resource_ids import parse_resource_id
from adeflow.domain.vocabulary import Reason

FABRIC = "Azure"
_OPERATION_ID = re.compile(r"/operationsStatus/([^/?]+)", re.IGNORECASE)
_JOB_OK = {"completed", "completedwithwarnings"}
_JOB_FAILED = {"failed", "cancelled", "canceled"}


class AzureBackupActivities:
    def __init__(self, clients: AzureClients) -> None:
        self._clients = clients

    @activity.defn(name="find_backup_protection")
    async def find_backup_protection(self, query: ProtectionQuery) -> BackupProtection:
        """One ``backupStatus`` call tells whether a Recovery Services vault protects the VM (no vault scan)."""
        vm, location = query.vm, query.location
        client = self._clients.backup(vm.subscription_id)
        try:
            answer = await client.backup_status.get(
                location, BackupStatusRequest({"resourceId": vm.resource_id, "resourceType": "VM"})
            )
        except HttpResponseError as exc:
            raise classify_arm_error(exc, f"reading backup status of VM {vm.name}") from exc
        body: dict[str, Any] = answer.as_dict()
        if str(body.get("protectionStatus", "")).lower() != "protected":
            return BackupProtection(protected=False)
        return BackupProtection(
            protected=True,
            vault_id=str(body.get("vaultId") or ""),
            container=str(body.get("containerName") or ""),
            item=str(body.get("protectedItemName") or ""),
            policy=str(body.get("policyName") or ""),
        )

    @activity.defn(name="run_azure_backup")
    async def run_azure_backup(self, request: AzureBackupRequest) -> AzureBackupResult:
        """Trigger an on-demand backup and wait for its job and recovery point.

        The job id is kept in heartbeat details, so a retried attempt resumes waiting for the same job instead
        of triggering a second backup.
        """
        vm, protection = request.vm, request.protection
        vault = parse_resource_id(protection.vault_id)
        client = self._clients.backup(vault.subscription_id)
        details = activity.info().heartbeat_details
        job_id = str(details[0]) if details else ""
        try:
            if not job_id:
                job_id = await self._trigger_or_join(client, vault.name, vault.resource_group, request)
            activity.heartbeat(job_id)
            await self._await_job(client, vault.name, vault.resource_group, job_id, vm)
            point = await self._newest_recovery_point(client, vault.name, vault.resource_group, protection)
        except HttpResponseError as exc:
            raise classify_arm_error(exc, f"Azure Backup of VM {vm.name}") from exc
        if point is None:
            raise ApplicationError(
                f"{vm.name}: backup job {job_id} completed but no recovery point is listed (R-BAK-2: no encryption "
                "without a verified backup).",
                type=Reason.RECOVERY_POINT_MISSING,
                non_retryable=True,
            )
        return AzureBackupResult(job_id=job_id, recovery_point_id=point[0], recovery_point_time=point[1])

    async def _trigger_or_join(self, client: Any, vault: str, rg: str, request: AzureBackupRequest) -> str:
        """Trigger an on-demand backup; when one is already running for the VM (409), wait for that job instead.

        A backup that runs now, scheduled or started by someone else (or by an earlier attempt of this activity
        that died before recording its job), protects the VM just as well as ours would (R-BAK-2).
        """
        try:
            return await self._trigger(client, vault, rg, request)
        except HttpResponseError as exc:
            if exc.status_code != 409:
                raise
            running = await self._running_backup_job(client, vault, rg, request)
            if running is None:
                detail = f"409 {arm_error_code(exc)}: {arm_error_message(exc)}"
                raise ApplicationError(
                    rules.backup_conflict_message(request.vm.name, detail),
                    type=Reason.BACKUP_CONFLICT,
                    non_retryable=True,
                ) from exc
            activity.logger.info("backup of %s already in progress (job %s): waiting for it", request.vm.name, running)
            return running

    @staticmethod
    async def _running_backup_job(client: Any, vault: str, rg: str, request: AzureBackupRequest) -> str | None:
        """The in-progress Backup job of this VM's protected item (BackupJobs_List has no item filter: match names)."""
        vm, container = request.vm, request.protection.container.lower()
        query = "backupManagementType eq 'AzureIaasVM' and operation eq 'Backup' and status eq 'InProgress'"
        async for job in client.backup_jobs.list(vault, rg, filter=query):
            body: dict[str, Any] = job.as_dict()
            props = body.get("properties") or {}
            if str(props.get("status") or "").lower() != "inprogress":
                continue
            if str(props.get("entityFriendlyName") or "").lower() != vm.name.lower():
                continue
            job_container = str(props.get("containerName") or "").lower()
            if job_container and container and not container.endswith(job_container):
                continue  # a VM of the same name in another resource group
            return str(body.get("name") or "")
        return None

    async def _trigger(self, client: Any, vault: str, rg: str, request: AzureBackupRequest) -> str:
        expiry = (datetime.now(UTC) + timedelta(days=request.retain_days)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        body = BackupRequestResource(
            {"properties": {"objectType": "IaasVMBackupRequest", "recoveryPointExpiryTimeInUTC": expiry}}
        )
        headers: dict[str, str] = await client.backups.trigger(
            vault,
            rg,
            FABRIC,
            request.protection.container,
            request.protection.item,
            body,
            # trigger answers 202 with no body; the operation to follow is only in the headers
            cls=lambda response, _body, _headers: dict(response.http_response.headers),
        )
        status_url = headers.get("Azure-AsyncOperation") or headers.get("Location") or ""
        match = _OPERATION_ID.search(status_url) or re.search(r"/operationResults/([^/?]+)", status_url)
        if match is None:
            raise ApplicationError(
                f"backup trigger returned no operation to follow: {status_url!r}", non_retryable=True
            )
        operation_id = match.group(1)
        while True:
            status = await client.protected_item_operation_statuses.get(
                vault, rg, FABRIC, request.protection.container, request.protection.item, operation_id
            )
            body_out: dict[str, Any] = status.as_dict()
            job_id = str((body_out.get("properties") or {}).get("jobId") or "")
            state = str(body_out.get("status") or "")
            if job_id:
                return job_id
            if state.lower() in ("failed", "canceled"):
                error = body_out.get("error") or {}
                raise ApplicationError(
                    f"{request.vm.name}: backup trigger {state}: {error.get('message', '')}",
                    type=Reason.BACKUP_TRIGGER_FAILED,
                    non_retryable=True,
                )
            activity.heartbeat("")
            await asyncio.sleep(self._clients.lro_poll_seconds)

    async def _await_job(self, client: Any, vault: str, rg: str, job_id: str, vm: VmRef) -> None:
        while True:
            job: dict[str, Any] = (await client.job_details.get(vault, rg, job_id)).as_dict()
            props = job.get("properties") or {}
            state = str(props.get("status") or "")
            progress = (props.get("extendedInfo") or {}).get("progressPercentage")
            activity.heartbeat(job_id, f"backup job {job_id}: {state} {progress or ''}".strip())
            if state.lower() in _JOB_OK:
                return
            if state.lower() in _JOB_FAILED:
                errors = props.get("errorDetails") or []
                reason = "; ".join(str(e.get("errorString") or e.get("errorTitle") or e) for e in errors)
                raise ApplicationError(
                    f"{vm.name}: Azure Backup job {job_id} ended {state}: {(reason or 'no details').rstrip('.')}. "
                    "Nothing was changed on the VM: encryption does not start without a verified backup (R-BAK-2). "
                    "Fix: resolve the backup error and run again, or use backup policy snapshot.",
                    type=Reason.BACKUP_JOB_FAILED,
                    non_retryable=True,
                )
            await asyncio.sleep(self._clients.lro_poll_seconds)

    @staticmethod
    async def _newest_recovery_point(
        client: Any, vault: str, rg: str, protection: BackupProtection
    ) -> tuple[str, str] | None:
        newest: tuple[str, str] | None = None
        async for point in client.recovery_points.list(vault, rg, FABRIC, protection.container, protection.item):
            body: dict[str, Any] = point.as_dict()
            when = str((body.get("properties") or {}).get("recoveryPointTime") or "")
            if newest is None or when > newest[1]:
                newest = (str(body.get("id") or body.get("name") or ""), when)
        return newest
