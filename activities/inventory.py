"""Read a VM's facts from ARM: the VM with its instance view, its managed disks and the ADE extension."""

from __future__ import annotations

import asyncio
from typing import Any

from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from temporalio import activity

from activities.azure.clients import AzureClients
from activities.azure.errors import classify_arm_error
from adeflow.domain.arm_parse import parse_vm_facts
from adeflow.domain.model import ADE_EXTENSION_NAME, VmFacts, VmRef
from adeflow.domain.resource_ids import parse_resource_id


class InventoryActivities:
    def __init__(self, clients: AzureClients) -> None:
        self._clients = clients

    @activity.defn(name="read_vm_facts")
    async def read_vm_facts(self, ref: VmRef) -> VmFacts:
        """Only GETs: preflight must change nothing on a VM it may refuse (docs/original-design.md §5.5)."""
        compute = self._clients.compute(ref.subscription_id)
        try:
            vm = (await compute.virtual_machines.get(ref.resource_group, ref.name, expand="instanceView")).as_dict()
            storage = vm.get("properties", {}).get("storageProfile", {})
            disk_ids = [
                str(entry["managedDisk"]["id"])
                for entry in [storage.get("osDisk") or {}, *(storage.get("dataDisks") or [])]
                if (entry.get("managedDisk") or {}).get("id")
            ]
            disks, extension = await asyncio.gather(
                asyncio.gather(*(self._read_disk(compute, disk_id) for disk_id in disk_ids)),
                self._read_ade_extension(compute, ref),
            )
        except HttpResponseError as exc:
            raise classify_arm_error(exc, f"reading VM {ref.name}") from exc
        return parse_vm_facts(ref, vm, {d["id"].lower(): d for d in disks}, extension)

    @staticmethod
    async def _read_disk(compute: Any, disk_id: str) -> dict[str, Any]:
        parsed = parse_resource_id(disk_id)
        disk = await compute.disks.get(parsed.resource_group, parsed.name)
        body: dict[str, Any] = disk.as_dict()
        body["id"] = body.get("id") or disk_id
        return body

    @staticmethod
    async def _read_ade_extension(compute: Any, ref: VmRef) -> dict[str, Any] | None:
        try:
            ext = await compute.virtual_machine_extensions.get(
                ref.resource_group, ref.name, ADE_EXTENSION_NAME, expand="instanceView"
            )
        except ResourceNotFoundError:
            return None
        body: dict[str, Any] = ext.as_dict()
        return body
