"""PUT the AzureDiskEncryptionForLinux extension (R-ENA-1) without ever starting a second pass on retry."""

from __future__ import annotations

import asyncio
from typing import Any

import structlog
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.compute.models import VirtualMachineExtension
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.azure.clients import AzureClients
from activities.azure.errors import arm_error_message, classify_arm_error
from activities.azure.heartbeat import await_with_heartbeat
from adeflow.domain import rules
from adeflow.domain.arm_parse import parse_extension
from adeflow.domain.model import (
    ADE_EXTENSION_NAME,
    ADE_PUBLISHER,
    ADE_TYPE_HANDLER_VERSION,
    ExtensionFacts,
    ExtensionRequest,
    ExtensionResult,
    VmRef,
)
from adeflow.domain.vocabulary import Reason

_TERMINAL = {"succeeded", "failed", "canceled"}

log = structlog.get_logger(__name__)


def extension_body(request: ExtensionRequest) -> VirtualMachineExtension:
    """The resource ``az vm encryption enable`` PUTs (docs/arm-reference.md §a.4), settings keyed exactly as it does."""
    body: dict[str, Any] = {
        "location": request.location,
        "properties": {
            "publisher": ADE_PUBLISHER,
            "type": ADE_EXTENSION_NAME,
            "typeHandlerVersion": ADE_TYPE_HANDLER_VERSION,
            "autoUpgradeMinorVersion": True,
            "settings": request.settings.public_settings(),
        },
    }
    return VirtualMachineExtension(body)


class ExtensionActivities:
    def __init__(self, clients: AzureClients) -> None:
        self._clients = clients

    @activity.defn(name="put_encryption_extension")
    async def put_encryption_extension(self, request: ExtensionRequest) -> ExtensionResult:
        """Idempotent under retry: when the extension already carries our sequence version, wait, don't PUT.

        The sequence version is fixed by the workflow, so even a re-sent PUT has identical settings and the
        extension would not act on it (docs/arm-reference.md §a.3); skipping it also spares an ARM write. The first
        attempt does not look: the sequence version is new to this run, no earlier PUT of it can exist (a read
        spared per VM, issue 18).
        """
        vm = request.vm
        seq = request.settings.sequence_version
        compute = self._clients.compute(vm.subscription_id)
        extensions = compute.virtual_machine_extensions
        try:
            current = await self._get(extensions, request) if activity.info().attempt > 1 else None
            if current is not None and current.sequence_version == seq:
                state = current.provisioning_state
                if state.lower() not in _TERMINAL:
                    state = await self._rejoin(extensions, request)
                self._raise_if_failed(request, state)
                return ExtensionResult(provisioning_state=state, sequence_version=seq, sent_put=False)
            log.info(
                "sending the ADE extension PUT",
                operation=request.settings.encryption_operation,
                volume_type=request.settings.public_settings().get("VolumeType"),
                sequence_version=seq,
            )
            poller = await extensions.begin_create_or_update(
                vm.resource_group,
                vm.name,
                ADE_EXTENSION_NAME,
                extension_body(request),
                polling=self._clients.lro_polling(),
            )
            ext = await await_with_heartbeat(
                poller.result(), f"enabling ADE on {vm.name} (sequence {seq})", poller.continuation_token()
            )
        except HttpResponseError as exc:
            if _is_extension_failure(exc):
                raise ApplicationError(
                    rules.explain_extension_failure(vm.name, arm_error_message(exc)),
                    type=Reason.EXTENSION_PROVISIONING_FAILED,
                    non_retryable=True,
                ) from exc
            raise classify_arm_error(exc, f"enabling ADE on VM {vm.name}") from exc
        state = str(ext.properties.provisioning_state if ext.properties else "")
        self._raise_if_failed(request, state)
        return ExtensionResult(provisioning_state=state, sequence_version=seq, sent_put=True)

    @activity.defn(name="remove_encryption_extension")
    async def remove_encryption_extension(self, vm: VmRef) -> bool:
        """R-DIS-5: delete the extension; an already-absent extension is success (idempotent under retry).

        Returns whether a DELETE was sent. Callers decide beforehand whether removal is allowed (R-DIS-2).
        """
        extensions = self._clients.compute(vm.subscription_id).virtual_machine_extensions
        try:
            if await self._get_for(extensions, vm) is None:
                return False
            log.info("deleting the ADE extension")
            poller = await extensions.begin_delete(vm.resource_group, vm.name, ADE_EXTENSION_NAME)
            await await_with_heartbeat(poller.result(), f"removing the ADE extension from {vm.name}")
        except HttpResponseError as exc:
            raise classify_arm_error(exc, f"removing the ADE extension from VM {vm.name}") from exc
        return True

    @staticmethod
    async def _get_for(extensions: Any, vm: VmRef) -> ExtensionFacts | None:
        try:
            ext = await extensions.get(vm.resource_group, vm.name, ADE_EXTENSION_NAME)
        except ResourceNotFoundError:
            return None
        return parse_extension(ext.as_dict())

    @staticmethod
    async def _get(extensions: Any, request: ExtensionRequest) -> ExtensionFacts | None:
        return await ExtensionActivities._get_for(extensions, request.vm)

    async def _rejoin(self, extensions: Any, request: ExtensionRequest) -> str:
        """Wait for the operation of our PUT, sent by an earlier attempt (R-ENA-1: never a second PUT).

        That attempt heartbeated the operation's continuation token (``details[1]``): polling the operation
        follows ARM's ``Retry-After`` (at most ``lro_poll_seconds`` apart), as the first attempt did. Without a
        token (the attempt died before its heartbeat got out) or once ARM has forgotten the operation, the
        extension itself is re-read every ``lro_poll_seconds``, for a resource GET carries no ``Retry-After``.
        """
        vm = request.vm
        waiting = f"waiting for extension on {vm.name} (sequence {request.settings.sequence_version})"
        token = _resume_token()
        if token:
            try:
                poller = await extensions.begin_create_or_update(
                    vm.resource_group,
                    vm.name,
                    ADE_EXTENSION_NAME,
                    extension_body(request),
                    continuation_token=token,
                    polling=self._clients.lro_polling(),
                )
                ext = await await_with_heartbeat(poller.result(), waiting, token)
                return str(ext.properties.provisioning_state if ext.properties else "")
            except HttpResponseError as exc:
                if exc.status_code != 404:  # 404: ARM no longer knows the operation (or the extension is gone)
                    raise
                log.info("the extension's operation is gone: re-reading the extension", error=arm_error_message(exc))
            except ValueError as exc:  # not a continuation token this SDK can read
                log.info("cannot resume the extension's operation: re-reading the extension", error=str(exc))
        return await await_with_heartbeat(self._wait_terminal(extensions, request), waiting)

    async def _wait_terminal(self, extensions: Any, request: ExtensionRequest) -> str:
        while True:
            current = await self._get(extensions, request)
            state = current.provisioning_state if current else "Missing"
            if state.lower() in _TERMINAL or current is None:
                return state
            await asyncio.sleep(self._clients.lro_poll_seconds)

    @staticmethod
    def _raise_if_failed(request: ExtensionRequest, state: str) -> None:
        if state.lower() != "succeeded":
            raise ApplicationError(
                f"{request.vm.name}: extension provisioning ended '{state}' for sequence "
                f"{request.settings.sequence_version}",
                type=Reason.EXTENSION_PROVISIONING_FAILED,
                non_retryable=True,
            )


def _resume_token() -> str | None:
    """The LRO continuation token an earlier attempt heartbeated after its PUT, if any."""
    details = activity.info().heartbeat_details
    token = details[1] if len(details) > 1 else None
    return token if isinstance(token, str) and token else None


def _is_extension_failure(exc: HttpResponseError) -> bool:
    text = f"{exc.message} {getattr(exc.error, 'code', '')}"
    return "VMExtensionProvisioningError" in text or "reported a failure when processing extension" in text
