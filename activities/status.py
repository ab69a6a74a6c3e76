"""Encryption progress, read as a poll whose loop is the activity's retry policy (DESIGN §4).

"Still encrypting" is raised as a benign, retryable error, so hours of polling add no history events and
hold no worker slot between checks; a terminal extension error is raised non-retryable with its message.
"""

from __future__ import annotations

from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from temporalio import activity
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory

from activities.azure_clients import AzureClients
from activities.errors import classify_arm_error
from adeflow.arm_parse import parse_extension
from adeflow.model import ADE_EXTENSION_NAME, EncryptionStatus, ProgressRequest, VolumeState
from adeflow.rules import ProgressKind, assess_disable_progress, assess_encryption_progress

STILL_ENCRYPTING = "EncryptionInProgress"


class StatusActivities:
    def __init__(self, clients: AzureClients) -> None:
        self._clients = clients

    async def read_status(self, request: ProgressRequest) -> EncryptionStatus:
        vm = request.vm
        compute = self._clients.compute(vm.subscription_id)
        try:
            ext = await compute.virtual_machine_extensions.get(
                vm.resource_group, vm.name, ADE_EXTENSION_NAME, expand="instanceView"
            )
        except ResourceNotFoundError:
            return EncryptionStatus(VolumeState.UNKNOWN, VolumeState.UNKNOWN, extension_present=False)
        except HttpResponseError as exc:
            raise classify_arm_error(exc, f"reading encryption status of VM {vm.name}") from exc
        facts = parse_extension(ext.as_dict())
        if facts.status is None:
            return EncryptionStatus(VolumeState.UNKNOWN, VolumeState.UNKNOWN, sequence_version=facts.sequence_version)
        return facts.status

    @activity.defn(name="await_encryption")
    async def await_encryption(self, request: ProgressRequest) -> EncryptionStatus:
        """One status check; returns when done, raises a retryable benign error while still encrypting."""
        status = await self.read_status(request)
        activity.heartbeat(status.describe())
        if status.extension_present and status.sequence_version not in ("", request.sequence_version):
            raise ApplicationError(
                f"{request.vm.name}: the ADE extension now carries sequence version {status.sequence_version}, "
                f"not ours ({request.sequence_version}); someone else re-ran ADE on this VM (R-NEW-4).",
                type="Superseded",
                non_retryable=True,
            )
        disabling = request.encryption_operation == "DisableEncryption"
        verdict = (
            assess_disable_progress(status) if disabling else assess_encryption_progress(status, request.volume_type)
        )
        if verdict.kind is ProgressKind.DONE:
            return status
        if verdict.kind is ProgressKind.WAITING:
            raise ApplicationError(
                f"still {'decrypting' if disabling else 'encrypting'} {request.vm.name}: {verdict.message}",
                status,
                type=STILL_ENCRYPTING,
                category=ApplicationErrorCategory.BENIGN,
            )
        raise ApplicationError(f"{request.vm.name}: {verdict.message}", status, type=verdict.reason, non_retryable=True)
