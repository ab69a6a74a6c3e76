"""Encryption progress, read as a poll whose loop is the activity's retry policy (docs/original-design.md §4).

"Still encrypting" is raised as a benign, retryable error, so hours of polling add no history events and
hold no worker slot between checks; a terminal extension error is raised non-retryable with its message. So is a
VM that was deleted, or stopped or deallocated, during the wait: nothing can progress there, and polling on would
only run out the run's deadline.
"""

from __future__ import annotations

from typing import Any

from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from temporalio import activity
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory

from activities.azure.clients import AzureClients
from activities.azure.errors import classify_arm_error
from adeflow.domain import rules
from adeflow.domain.arm_parse import parse_extension
from adeflow.domain.model import ADE_EXTENSION_NAME, EncryptionStatus, ProgressRequest, VolumeState
from adeflow.domain.rules import ProgressKind, ProgressVerdict, assess_disable_progress, assess_encryption_progress
from adeflow.domain.vocabulary import Reason

POWER_CHECK_EVERY = 3
"""Every how many polls the VM's power state is read too: a third more reads finds a deallocated VM in minutes."""


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
            if not await self._vm_exists(request):
                raise _ended(vm.name, rules.vm_deleted_verdict(request.encryption_operation)) from None
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
                type=Reason.SUPERSEDED,
                non_retryable=True,
            )
        disabling = request.encryption_operation == "DisableEncryption"
        verdict = (
            assess_disable_progress(status) if disabling else assess_encryption_progress(status, request.volume_type)
        )
        if verdict.kind is ProgressKind.DONE:
            return status
        if verdict.kind is ProgressKind.WAITING:
            if activity.info().attempt % POWER_CHECK_EVERY == 0:
                await self._raise_if_not_running(request)
            # details[0] is what the workflow quotes as "last seen" if the run's deadline passes
            raise ApplicationError(
                f"still {'decrypting' if disabling else 'encrypting'} {request.vm.name}: {verdict.message}",
                status.describe(),
                status,
                type=Reason.STILL_WORKING,
                category=ApplicationErrorCategory.BENIGN,
            )
        raise ApplicationError(f"{request.vm.name}: {verdict.message}", status, type=verdict.reason, non_retryable=True)

    async def _vm_exists(self, request: ProgressRequest) -> bool:
        """Tells a deleted VM from a removed extension (both answer the extension GET with 404)."""
        vm = request.vm
        try:
            await self._clients.compute(vm.subscription_id).virtual_machines.get(vm.resource_group, vm.name)
        except ResourceNotFoundError:
            return False
        except HttpResponseError as exc:
            raise classify_arm_error(exc, f"reading VM {vm.name}") from exc
        return True

    async def _raise_if_not_running(self, request: ProgressRequest) -> None:
        vm = request.vm
        compute = self._clients.compute(vm.subscription_id)
        try:
            view: dict[str, Any] = (await compute.virtual_machines.instance_view(vm.resource_group, vm.name)).as_dict()
        except ResourceNotFoundError:
            raise _ended(vm.name, rules.vm_deleted_verdict(request.encryption_operation)) from None
        except HttpResponseError as exc:
            raise classify_arm_error(exc, f"reading the power state of VM {vm.name}") from exc
        codes = [str(status.get("code") or "") for status in view.get("statuses") or []]
        power = next((code.split("/", 1)[1] for code in codes if code.startswith("PowerState/")), "")
        stopped = rules.assess_power_state(power, request.encryption_operation)
        if stopped is not None:
            raise _ended(vm.name, stopped)


def _ended(vm_name: str, verdict: ProgressVerdict) -> ApplicationError:
    return ApplicationError(f"{vm_name}: {verdict.message}", type=verdict.reason, non_retryable=True)
