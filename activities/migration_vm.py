"""The VM side of a migration to encryption at host (docs/ade-migration.md): read the facts, register the feature,
stop and start the source, create the NICs and the new VM, delete VM objects, clean up after the approval.

Every write is idempotent: a retried attempt finds what its earlier attempt made (by name and the
``adeflow-migrated-from`` tag) and adopts it instead of writing again; a resource of a target name that this
migration did not make is refused, never overwritten. Deciding belongs to the workflow (``adeflow.domain.migration``);
these only read, send and wait. The disk copy is ``activities/migration_disks.py``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import replace
from functools import partial
from typing import Any, TypeVar

import structlog
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.compute.models import VirtualMachine
from azure.mgmt.keyvault.models import VaultPatchParameters
from azure.mgmt.network.models import NetworkInterface
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.azure.clients import AzureClients
from activities.azure.errors import arm_error_code, classify_arm_error
from activities.azure.heartbeat import await_with_heartbeat
from activities.inventory import InventoryActivities
from activities.keyvault import KeyVaultActivities
from adeflow.domain import migration
from adeflow.domain.arm_parse import parse_vm_facts
from adeflow.domain.migration import arm_read
from adeflow.domain.migration.requests import (
    CleanupDone,
    CleanupRequest,
    DeleteVmRequest,
    NewVmRequest,
    NicsRequest,
    PowerAction,
    PowerRequest,
    VaultUsersQuery,
)
from adeflow.domain.model import VmRef
from adeflow.domain.resource_ids import parse_resource_id
from adeflow.domain.vocabulary import Reason

log = structlog.get_logger(__name__)
T = TypeVar("T")

COMPUTE = "Microsoft.Compute"
FEATURE = "EncryptionAtHost"
NIC_RESERVED = "NicReservedForAnotherVm"
"""ARM keeps a deleted VM's NIC for it 180 s (M-7 ``reuse``, and the cleanup's NIC delete): a transient refusal."""
NIC_RESERVATION_S = 600.0
"""How long one attempt waits out a NIC reservation before it fails (retryable) and Temporal tries again."""
_TERMINAL = {"succeeded", "failed", "canceled"}


def _taken(kind: str, name: str, found: str, source_id: str) -> ApplicationError:
    return ApplicationError(
        f"refused by M-1 ({Reason.TARGET_NAME_TAKEN}): a {kind} named {name} exists ({found}) and was not made by "
        f"the migration of {source_id.rsplit('/', 1)[-1]}. Fix: choose other target names or remove that {kind}.",
        type=Reason.TARGET_NAME_TAKEN,
        non_retryable=True,
    )


def _tag(body: dict[str, Any]) -> str:
    return str((body.get("tags") or {}).get(migration.MIGRATED_FROM_TAG) or "")


class MigrationVmActivities:
    def __init__(self, clients: AzureClients) -> None:
        self._clients = clients

    async def _past_nic_reservation(self, send: Callable[[], Awaitable[T]], what: str) -> T:
        """``send`` again while ARM answers ``NicReservedForAnotherVm`` (the NIC of a VM deleted moments ago),
        heartbeating, for up to :data:`NIC_RESERVATION_S`; then the error, retryable."""
        waited = 0.0
        while True:
            try:
                return await send()
            except HttpResponseError as exc:
                if arm_error_code(exc) != NIC_RESERVED or waited >= NIC_RESERVATION_S:
                    raise
            activity.heartbeat(f"{what}: the NIC is still reserved for a deleted VM (M-7)")
            await asyncio.sleep(self._clients.lro_poll_seconds)
            waited += self._clients.lro_poll_seconds

    # -- reads ---------------------------------------------------------------------------------------------------

    @activity.defn(name="read_migration_facts")
    async def read_migration_facts(self, request: migration.MigrationInput) -> migration.MigrationFacts:
        """GETs only (the preflight may refuse): the VM as the ADE rules see it, its full definition for a rollback,
        its disks and NICs, the feature (M-5), the size's capability (M-6), the vault and the target names."""
        ref = request.vm
        compute = self._clients.compute(ref.subscription_id)
        try:
            vm = (await compute.virtual_machines.get(ref.resource_group, ref.name, expand="instanceView")).as_dict()
            props = vm.get("properties") or {}
            storage = props.get("storageProfile") or {}
            disk_ids = [
                str(entry["managedDisk"]["id"])
                for entry in [storage.get("osDisk") or {}, *(storage.get("dataDisks") or [])]
                if (entry.get("managedDisk") or {}).get("id")
            ]
            nic_ids = [str(n.get("id")) for n in (props.get("networkProfile") or {}).get("networkInterfaces") or []]
            disks, nics, extension, feature, skus = await asyncio.gather(
                asyncio.gather(*(self._get_disk(d) for d in disk_ids)),
                asyncio.gather(*(self._get_nic(n) for n in nic_ids)),
                InventoryActivities._read_ade_extension(compute, ref),
                self._feature_state(ref.subscription_id),
                self._skus(ref.subscription_id, str(vm.get("location") or "")),
            )
        except HttpResponseError as exc:
            raise classify_arm_error(exc, f"reading VM {ref.name} for its migration") from exc
        by_id = {str(d["id"]).lower(): d for d in disks if d}
        facts = parse_vm_facts(ref, vm, by_id, extension)
        source = arm_read.parse_source_definition(ref, vm, by_id, {str(n["id"]).lower(): n for n in nics if n})
        vault_id = (facts.ade_extension.key_vault_resource_id if facts.ade_extension else "") or arm_read.ade_vault_id(
            disks
        )
        found = migration.MigrationFacts(
            vm=facts,
            source=source,
            feature=feature,
            size_supports_host_encryption=arm_read.host_encryption_support(skus, source.size, source.location),
            vault_id=vault_id,
            vault=await KeyVaultActivities(self._clients).read_key_vault(vault_id) if vault_id else None,
        )
        targets = await asyncio.gather(
            *(self._existing(ref, kind, name) for kind, name in migration.planned_names(request, found))
        )
        return replace(found, existing_targets=[t for t in targets if t])

    async def _get_disk(self, disk_id: str) -> dict[str, Any]:
        parsed = parse_resource_id(disk_id)
        disk = await self._clients.compute(parsed.subscription_id).disks.get(parsed.resource_group, parsed.name)
        body: dict[str, Any] = disk.as_dict()
        body["id"] = body.get("id") or disk_id
        return body

    async def _get_nic(self, nic_id: str) -> dict[str, Any]:
        parsed = parse_resource_id(nic_id)
        network = self._clients.network(parsed.subscription_id)
        nic = await network.network_interfaces.get(parsed.resource_group, parsed.name)
        body: dict[str, Any] = nic.as_dict()
        body["id"] = body.get("id") or nic_id
        return body

    async def _feature_state(self, subscription_id: str) -> migration.FeatureState:
        feature = await self._clients.features(subscription_id).features.get(COMPUTE, FEATURE)
        return migration.FeatureState.parse(str(feature.properties.state if feature.properties else ""))

    async def _skus(self, subscription_id: str, location: str) -> list[dict[str, Any]]:
        compute = self._clients.compute(subscription_id)
        return [sku.as_dict() async for sku in compute.resource_skus.list(filter=f"location eq '{location}'")]

    async def _existing(self, ref: VmRef, kind: str, name: str) -> migration.ExistingTarget | None:
        rg = ref.resource_group
        try:
            if kind == "vm":
                found: Any = await self._clients.compute(ref.subscription_id).virtual_machines.get(rg, name)
            elif kind == "disk":
                found = await self._clients.compute(ref.subscription_id).disks.get(rg, name)
            else:
                found = await self._clients.network(ref.subscription_id).network_interfaces.get(rg, name)
        except ResourceNotFoundError:
            return None
        return arm_read.parse_existing_target(kind, name, found.as_dict())

    @activity.defn(name="read_migrated_vm")
    async def read_migrated_vm(self, vm: VmRef) -> migration.NewVmFacts:
        """The new VM (or the source) as ARM shows it now, for the check after its creation."""
        try:
            return arm_read.parse_new_vm(await self._vm_json(vm))
        except HttpResponseError as exc:
            raise classify_arm_error(exc, f"reading VM {vm.name}") from exc

    async def _vm_json(self, vm: VmRef) -> dict[str, Any] | None:
        machines = self._clients.compute(vm.subscription_id).virtual_machines
        try:
            found = await machines.get(vm.resource_group, vm.name, expand="instanceView")
        except ResourceNotFoundError:
            return None
        body: dict[str, Any] = found.as_dict()
        return body

    # -- M-5: the subscription feature -----------------------------------------------------------------------------

    @activity.defn(name="register_host_encryption")
    async def register_host_encryption(self, subscription_id: str) -> migration.FeatureState:
        """Register ``Microsoft.Compute/EncryptionAtHost``, wait for ``Registered``, then re-register the
        ``Microsoft.Compute`` provider and wait, which propagates the feature to VM writes (Azure's own hint after
        ``az feature register``). Heartbeats say which; a retried attempt does not re-register a provider that its
        earlier attempt registered (that would start the propagation over)."""
        features = self._clients.features(subscription_id).features
        providers = self._clients.resources(subscription_id).providers
        details = activity.info().heartbeat_details
        provider_sent = bool(details[1]) if len(details) > 1 else False
        try:
            while True:
                state = await self._feature_state(subscription_id)
                if state is migration.FeatureState.REGISTERED:
                    break
                if state in (migration.FeatureState.NOT_REGISTERED, migration.FeatureState.UNREGISTERED):
                    log.info("registering the subscription feature", feature=f"{COMPUTE}/{FEATURE}")
                    await features.register(COMPUTE, FEATURE)
                activity.heartbeat(f"feature {COMPUTE}/{FEATURE} is {state.value}", provider_sent)
                await asyncio.sleep(self._clients.lro_poll_seconds)
            if not provider_sent:
                await providers.register(COMPUTE)
                provider_sent = True
            while (await providers.get(COMPUTE)).registration_state != "Registered":
                activity.heartbeat(f"re-registering {COMPUTE} to propagate the feature", provider_sent)
                await asyncio.sleep(self._clients.lro_poll_seconds)
        except HttpResponseError as exc:
            raise classify_arm_error(exc, f"registering {COMPUTE}/{FEATURE} in {subscription_id}") from exc
        return migration.FeatureState.REGISTERED

    # -- M-7: power ------------------------------------------------------------------------------------------------

    @activity.defn(name="set_vm_power")
    async def set_vm_power(self, request: PowerRequest) -> str:
        """Deallocate or start and wait; both are no-ops on a VM already there. Returns the power state after."""
        vm = request.vm
        machines = self._clients.compute(vm.subscription_id).virtual_machines
        try:
            if request.action is PowerAction.DEALLOCATE:
                poller = await machines.begin_deallocate(vm.resource_group, vm.name)
            else:
                poller = await machines.begin_start(vm.resource_group, vm.name)
            await await_with_heartbeat(poller.result(), f"{request.action.value} {vm.name}")
            return arm_read.power_state(await self._vm_json(vm))
        except HttpResponseError as exc:
            raise classify_arm_error(exc, f"{request.action.value} VM {vm.name}") from exc

    # -- the new VM ------------------------------------------------------------------------------------------------

    @activity.defn(name="create_migration_nics")
    async def create_migration_nics(self, request: NicsRequest) -> list[str]:
        """NIC policy ``new``: a NIC per name in its source NIC's subnet; ours from an earlier attempt are adopted."""
        network = self._clients.network(request.vm.subscription_id)
        rg = request.vm.resource_group
        made: list[str] = []
        try:
            for name, body in request.bodies.items():
                try:
                    existing = (await network.network_interfaces.get(rg, name)).as_dict()
                except ResourceNotFoundError:
                    existing = None
                if existing is not None:
                    if _tag(existing).lower() != request.source_id.lower():
                        raise _taken("NIC", name, str(existing.get("id")), request.source_id)
                    made.append(str(existing.get("id")))
                    continue
                poller = await network.network_interfaces.begin_create_or_update(rg, name, NetworkInterface(body))
                nic = await await_with_heartbeat(poller.result(), f"creating NIC {name}")
                made.append(str(nic.id))
        except HttpResponseError as exc:
            raise classify_arm_error(exc, f"creating the NICs of {request.vm.name}'s successor") from exc
        return made

    @activity.defn(name="create_migrated_vm")
    async def create_migrated_vm(self, request: NewVmRequest) -> migration.NewVmFacts:
        """PUT the VM and wait; a VM of that name that this migration made (or, for a rollback, the source itself)
        is only waited for. A NIC still reserved for a just-deleted VM is retried after ARM's pause (M-7)."""
        vm = request.vm
        machines = self._clients.compute(vm.subscription_id).virtual_machines
        try:
            current = await self._vm_json(vm)
            if current is None:
                poller = await self._past_nic_reservation(
                    lambda: machines.begin_create_or_update(vm.resource_group, vm.name, VirtualMachine(request.body)),
                    f"creating VM {vm.name}",
                )
                await await_with_heartbeat(poller.result(), f"creating VM {vm.name}")
            elif request.migrated_from and _tag(current).lower() != request.migrated_from.lower():
                raise _taken("VM", vm.name, str(current.get("id")), request.migrated_from)
            else:
                await await_with_heartbeat(self._wait_terminal(vm), f"waiting for VM {vm.name}")
            return arm_read.parse_new_vm(await self._vm_json(vm))
        except HttpResponseError as exc:
            if arm_error_code(exc) == NIC_RESERVED:
                raise ApplicationError(
                    f"creating VM {vm.name}: its NIC is still reserved for the deleted source VM; retrying (M-7)",
                    type=NIC_RESERVED,
                ) from exc
            raise classify_arm_error(exc, f"creating VM {vm.name}") from exc

    async def _wait_terminal(self, vm: VmRef) -> None:
        while True:
            body = await self._vm_json(vm)
            state = str(((body or {}).get("properties") or {}).get("provisioningState") or "")
            if body is None or state.lower() in _TERMINAL:
                return
            await asyncio.sleep(self._clients.lro_poll_seconds)

    # -- deletes ---------------------------------------------------------------------------------------------------

    @activity.defn(name="delete_vm_object")
    async def delete_vm_object(self, request: DeleteVmRequest) -> bool:
        """Delete the VM object only; refused when ARM would take a disk or NIC with it (``deleteOption: Delete``).
        False: it was gone already."""
        vm = request.vm
        try:
            body = await self._vm_json(vm)
            if body is None:
                return False
            self._refuse_cascade(vm, body)
            log.info("deleting the VM object", vm=vm.name, why=request.reason)
            poller = await self._clients.compute(vm.subscription_id).virtual_machines.begin_delete(
                vm.resource_group, vm.name
            )
            await await_with_heartbeat(poller.result(), f"deleting VM object {vm.name} ({request.reason})")
        except HttpResponseError as exc:
            raise classify_arm_error(exc, f"deleting VM {vm.name}") from exc
        return True

    @staticmethod
    def _refuse_cascade(vm: VmRef, body: dict[str, Any]) -> None:
        props = body.get("properties") or {}
        storage = props.get("storageProfile") or {}
        entries = [storage.get("osDisk") or {}, *(storage.get("dataDisks") or [])]
        cascading = [str(e.get("name")) for e in entries if str(e.get("deleteOption") or "").lower() == "delete"]
        for nic in (props.get("networkProfile") or {}).get("networkInterfaces") or []:
            if str((nic.get("properties") or {}).get("deleteOption") or "").lower() == "delete":
                cascading.append(str(nic.get("id") or "").rsplit("/", 1)[-1])
        if cascading:
            raise ApplicationError(
                f"{vm.name}: refused by M-8 ({Reason.SOURCE_DELETE_OPTION}): deleting the VM would delete "
                f"{', '.join(cascading)} with it (deleteOption Delete). Fix: set deleteOption Detach on them first.",
                type=Reason.SOURCE_DELETE_OPTION,
                non_retryable=True,
            )

    @activity.defn(name="cleanup_source")
    async def cleanup_source(self, request: CleanupRequest) -> CleanupDone:
        """M-8, after the recorded approval: VM objects, then NICs, then disks; gone already counts as deleted."""
        deleted: list[str] = []
        try:
            for vm_id in request.vm_ids:
                await self.delete_vm_object(DeleteVmRequest(VmRef.from_resource_id(vm_id), "approved cleanup (M-8)"))
                deleted.append(vm_id)
            for nic_id in request.nic_ids:
                parsed = parse_resource_id(nic_id)
                nics = self._clients.network(parsed.subscription_id).network_interfaces
                poller = await self._past_nic_reservation(
                    partial(nics.begin_delete, parsed.resource_group, parsed.name), f"deleting NIC {parsed.name}"
                )
                await await_with_heartbeat(poller.result(), f"deleting NIC {parsed.name}")
                deleted.append(nic_id)
            for disk_id in request.disk_ids:
                parsed = parse_resource_id(disk_id)
                disks = self._clients.compute(parsed.subscription_id).disks
                poller = await disks.begin_delete(parsed.resource_group, parsed.name)
                await await_with_heartbeat(poller.result(), f"deleting disk {parsed.name}")
                deleted.append(disk_id)
            reset = await self._reset_vault(request.vault_id) if request.vault_id else ""
        except HttpResponseError as exc:
            raise classify_arm_error(exc, f"cleaning up after {request.vm.name}'s migration") from exc
        return CleanupDone(deleted, reset)

    async def _reset_vault(self, vault_id: str) -> str:
        """``enabledForDiskEncryption`` off (PATCH): the platform no longer reads ADE secrets from the vault."""
        parsed = parse_resource_id(vault_id)
        vaults = self._clients.keyvault(parsed.subscription_id).vaults
        patch = VaultPatchParameters({"properties": {"enabledForDiskEncryption": False}})
        await vaults.update(parsed.resource_group, parsed.name, patch)
        return vault_id

    @activity.defn(name="find_vault_users")
    async def find_vault_users(self, query: VaultUsersQuery) -> list[str]:
        """VMs of the vault's subscription, other than ``exclude_vm_id``, whose ADE extension names the vault (M-8:
        turning the vault's disk encryption off would stop them unlocking at boot)."""
        sub = parse_resource_id(query.vault_id).subscription_id
        compute = self._clients.compute(sub)
        users: list[str] = []
        try:
            async for vm in compute.virtual_machines.list_all():
                if not vm.id or vm.id.lower() == query.exclude_vm_id.lower():
                    continue
                ref = VmRef.from_resource_id(vm.id)
                extension = await InventoryActivities._read_ade_extension(compute, ref)
                settings = ((extension or {}).get("properties") or {}).get("settings") or {}
                if str(settings.get("KeyVaultResourceId") or "").lower() == query.vault_id.lower():
                    users.append(vm.id)
                activity.heartbeat(f"{len(users)} VM(s) still use the vault")
        except HttpResponseError as exc:
            raise classify_arm_error(exc, f"listing the VMs that use {query.vault_id}") from exc
        return users
