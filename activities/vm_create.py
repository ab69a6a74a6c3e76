"""Create a VM around a customer-encrypted OS disk (R-VHD-1): read what the checks need, PUT the VM, read it back.

The reads are GETs only, so a refused request changes nothing. The PUT never runs twice for one VM: a retried
attempt first looks for the VM and, when it carries our disk and key references, only waits for it.
"""

from __future__ import annotations

import asyncio
from typing import Any

from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.compute.models import VirtualMachine
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.azure.clients import AzureClients
from activities.azure.errors import arm_error_code, classify_arm_error
from activities.azure.heartbeat import await_with_heartbeat
from activities.keyvault import KeyVaultActivities
from adeflow.domain import values, vhd
from adeflow.domain.model import CreateFromVhdInput, KeyVaultLookup, VmRef
from adeflow.domain.resource_ids import parse_resource_id
from adeflow.domain.vhd import (
    CreatedVmFacts,
    ImportedDiskFacts,
    KeyFacts,
    SecretFacts,
    VhdCreateFacts,
    VmCreateOutcome,
    VmCreateRequest,
)
from adeflow.domain.vocabulary import Reason

_TERMINAL = {"succeeded", "failed", "canceled"}


def _problem(exc: HttpResponseError) -> str:
    return f"ARM answered {exc.status_code} {arm_error_code(exc)}"


class VmCreateActivities:
    def __init__(self, clients: AzureClients) -> None:
        self._clients = clients

    @activity.defn(name="read_vhd_create_facts")
    async def read_vhd_create_facts(self, request: CreateFromVhdInput) -> VhdCreateFacts:
        """Vault(s), secret, KEK, disk and any VM of that name, read in parallel; a 403/404 is a fact, not a retry."""
        vaults = KeyVaultActivities(self._clients)
        kek = request.kek
        own_kek_vault = kek is not None and kek.vault_id.strip().lower() != request.key_vault_id.strip().lower()
        try:
            (
                vault,
                kek_lookup,
                (secret, secret_problem),
                (key, key_problem),
                (disk, disk_problem),
                existing,
            ) = await asyncio.gather(
                vaults.read_key_vault(request.key_vault_id),
                vaults.read_key_vault(kek.vault_id) if kek is not None and own_kek_vault else _none(),
                self._read_secret(request),
                self._read_key(request),
                self._read_disk(request),
                self._read_vm(request.vm),
            )
        except HttpResponseError as exc:
            raise classify_arm_error(exc, f"reading VM {request.vm.name}") from exc
        return VhdCreateFacts(
            vault=vault,
            existing_vm=existing,
            secret=secret,
            secret_problem=secret_problem,
            kek_vault=kek_lookup if own_kek_vault else (vault if kek is not None else None),
            key=key,
            key_problem=key_problem,
            disk=disk,
            disk_problem=disk_problem,
        )

    @activity.defn(name="create_vm_from_vhd")
    async def create_vm_from_vhd(self, request: VmCreateRequest) -> VmCreateOutcome:
        """PUT the VM and await the LRO; a VM already carrying ``request.expected`` is ours: wait, don't PUT."""
        vm = request.vm
        machines = self._clients.compute(vm.subscription_id).virtual_machines
        try:
            current = await self._read_vm(vm)
            if current.exists:
                if not request.expected.same_as(current.refs):
                    raise ApplicationError(
                        f"{vm.name}: refused by R-VHD-1 (vm-name-taken): a VM of that name appeared that does not "
                        "attach this disk with these key references. Fix: choose another VM name.",
                        type=Reason.VM_NAME_TAKEN,
                        non_retryable=True,
                    )
                state = current.provisioning_state
                if state.lower() not in _TERMINAL:
                    state = await await_with_heartbeat(self._wait_terminal(vm), f"waiting for VM {vm.name}")
                self._raise_if_failed(vm, state)
                return VmCreateOutcome(provisioning_state=state, sent_put=False)
            poller = await machines.begin_create_or_update(vm.resource_group, vm.name, VirtualMachine(request.body))
            created = await await_with_heartbeat(poller.result(), f"creating VM {vm.name} from its encrypted disk")
        except HttpResponseError as exc:
            raise classify_arm_error(exc, f"creating VM {vm.name}") from exc
        state = str(created.properties.provisioning_state if created.properties else "")
        self._raise_if_failed(vm, state)
        return VmCreateOutcome(provisioning_state=state, sent_put=True)

    @activity.defn(name="read_created_vm")
    async def read_created_vm(self, vm: VmRef) -> CreatedVmFacts:
        try:
            return await self._read_vm(vm)
        except HttpResponseError as exc:
            raise classify_arm_error(exc, f"reading VM {vm.name}") from exc

    async def _read_vm(self, vm: VmRef) -> CreatedVmFacts:
        machines = self._clients.compute(vm.subscription_id).virtual_machines
        try:
            found = await machines.get(vm.resource_group, vm.name, expand="instanceView")
        except ResourceNotFoundError:
            return CreatedVmFacts(exists=False)
        return vhd.parse_created_vm(found.as_dict())

    async def _wait_terminal(self, vm: VmRef) -> str:
        while True:
            current = await self._read_vm(vm)
            state = current.provisioning_state if current.exists else "Missing"
            if state.lower() in _TERMINAL or not current.exists:
                return state
            await asyncio.sleep(self._clients.lro_poll_seconds)

    @staticmethod
    def _raise_if_failed(vm: VmRef, state: str) -> None:
        if state.lower() != "succeeded":
            raise ApplicationError(
                f"{vm.name}: VM creation ended '{state}'. Fix: read the VM's activity log, delete the VM and retry.",
                type=Reason.VM_PROVISIONING_FAILED,
                non_retryable=True,
            )

    async def _read_secret(self, request: CreateFromVhdInput) -> tuple[SecretFacts | None, str]:
        try:
            url = values.parse_vault_object_url(request.secret_url, "secrets")
            vault = parse_resource_id(request.key_vault_id)
        except ValueError as exc:
            return None, str(exc)
        client = self._clients.keyvault(vault.subscription_id)
        try:
            secret = await client.secrets.get(vault.resource_group, vault.name, url.name)
        except HttpResponseError as exc:
            if exc.status_code in (403, 404):
                return None, _problem(exc)
            raise classify_arm_error(exc, f"reading secret {url.name}") from exc
        props = secret.properties
        attributes = props.attributes if props else None
        return (
            SecretFacts(
                name=secret.name or url.name,
                enabled=attributes.enabled is not False if attributes else True,
                current_url=(props.secret_uri_with_version if props else None) or "",
                tags=dict(secret.tags or {}),
            ),
            "",
        )

    async def _read_key(self, request: CreateFromVhdInput) -> tuple[KeyFacts | None, str]:
        if request.kek is None:
            return None, ""
        try:
            url = values.parse_vault_object_url(request.kek.key_url, "keys")
            vault = parse_resource_id(request.kek.vault_id)
        except ValueError as exc:
            return None, str(exc)
        client = self._clients.keyvault(vault.subscription_id)
        try:
            key = await client.keys.get_version(vault.resource_group, vault.name, url.name, url.version)
        except HttpResponseError as exc:
            if exc.status_code in (403, 404):
                return None, _problem(exc)
            raise classify_arm_error(exc, f"reading key {url.name}") from exc
        props = key.properties
        attributes = props.attributes if props else None
        return (
            KeyFacts(
                name=url.name,
                version=url.version,
                kty=str(getattr(props.kty, "value", props.kty) or "") if props else "",
                enabled=attributes.enabled is not False if attributes else True,
            ),
            "",
        )

    async def _read_disk(self, request: CreateFromVhdInput) -> tuple[ImportedDiskFacts | None, str]:
        try:
            parsed = parse_resource_id(request.os_disk_id)
        except ValueError as exc:
            return None, str(exc)
        compute = self._clients.compute(parsed.subscription_id)
        try:
            disk = await compute.disks.get(parsed.resource_group, parsed.name)
        except HttpResponseError as exc:
            if exc.status_code in (403, 404):
                return None, _problem(exc)
            raise classify_arm_error(exc, f"reading disk {parsed.name}") from exc
        body: dict[str, Any] = disk.as_dict()
        return vhd.parse_imported_disk(body), ""


async def _none() -> KeyVaultLookup | None:
    return None
