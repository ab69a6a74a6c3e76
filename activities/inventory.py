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
            said, embedded = _embedded_ade_extension(vm)
            disks, extension = await asyncio.gather(
                asyncio.gather(*(self._read_disk(compute, disk_id) for disk_id in disk_ids)),
                _given(embedded) if said else self._read_ade_extension(compute, ref),
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


async def _given(extension: dict[str, Any] | None) -> dict[str, Any] | None:
    return extension


def _embedded_ade_extension(vm: dict[str, Any]) -> tuple[bool, dict[str, Any] | None]:
    """The ADE extension as the VM GET already shows it (issue 18: a read spared per VM read): its resource from
    ``resources`` (settings, provisioning state) with its instance view from ``instanceView.extensions``
    (statuses, substatuses); None when the VM has none. The first item is False when the answer does not say (no
    ``resources``, or the extension without its instance view, e.g. its agent is not reporting): then it is read."""
    resources = vm.get("resources")
    if not isinstance(resources, list):
        return False, None
    name = ADE_EXTENSION_NAME.lower()
    ade = next((r for r in resources if isinstance(r, dict) and str(r.get("name", "")).lower() == name), None)
    if ade is None:
        return True, None
    views = ((vm.get("properties") or {}).get("instanceView") or {}).get("extensions") or []
    view = next((v for v in views if isinstance(v, dict) and str(v.get("name", "")).lower() == name), None)
    if view is None or not view.get("statuses"):
        return False, None
    return True, {**ade, "properties": {**(ade.get("properties") or {}), "instanceView": view}}
