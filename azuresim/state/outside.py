"""Changes made to a VM from outside a run, as an operator or another tool would make them mid-run.

The control endpoint (:mod:`azuresim.control`, ``/_sim/vms/{vm}/...``) calls these: remove an extension, deallocate
the VM, attach a data disk, change its tags, or change how its ADE extension words its status. Each takes effect
``after_s`` simulated seconds from now (0: at once); a due change is applied before the next request is answered
(:func:`apply_due`, from :func:`azuresim.state.lifecycle.settle`), so a test can aim it at the middle of a run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from azuresim.errors import ArmError
from azuresim.fleet import DataDiskSpec, DiskSku, ExtensionStatusSpec
from azuresim.state.compute import ManagedDisk, VirtualMachine, data_disk_name
from azuresim.state.encryption import Volume, VolumeKind

if TYPE_CHECKING:
    from azuresim.state.world import SimState

Change = Callable[[VirtualMachine, datetime], None]


@dataclass
class PendingChange:
    due: datetime
    vm: VirtualMachine
    what: str
    apply: Change


def _one_vm(state: SimState, name: str, resource_group: str | None) -> VirtualMachine:
    now = state.clock.now()
    vms = [vm for vm in state.vms_named(name, resource_group) if not vm.deleted(now)]
    if not vms:
        raise ArmError(404, "ResourceNotFound", f"No VM named '{name}' in the fleet.")
    if len(vms) > 1:
        raise ArmError(400, "AmbiguousVm", f"More than one VM is named '{name}': give resource_group.")
    return vms[0]


def schedule(
    state: SimState, vm_name: str, resource_group: str | None, what: str, change: Change, after_s: float
) -> dict[str, Any]:
    """Apply ``change`` to the VM now (``after_s`` 0) or once the simulated clock reaches now + ``after_s``."""
    if after_s < 0:
        raise ValueError("after_s must be >= 0")
    with state.lock:
        vm = _one_vm(state, vm_name, resource_group)
        due = state.clock.now() + timedelta(seconds=after_s)
        if after_s == 0:
            change(vm, due)
        else:
            state.outside_changes.append(PendingChange(due, vm, what, change))
        return {"vm": vm.name, "change": what, "at": due.isoformat(), "applied": after_s == 0}


def apply_due(state: SimState, now: datetime) -> None:
    """Apply the scheduled changes whose time has come, in the order they were made."""
    if not state.outside_changes:
        return
    waiting: list[PendingChange] = []
    for pending in state.outside_changes:
        if pending.due <= now:
            pending.apply(pending.vm, pending.due)
        else:
            waiting.append(pending)
    state.outside_changes = waiting


def remove_extension(name: str) -> Change:
    """``az vm extension delete`` finished: the extension is gone; the guest keeps its disks as they are (R-DIS-2)."""

    def change(vm: VirtualMachine, at: datetime) -> None:
        vm.extensions.pop(name.lower(), None)

    return change


def require_extension(state: SimState, vm_name: str, resource_group: str | None, name: str) -> None:
    with state.lock:
        if name.lower() not in _one_vm(state, vm_name, resource_group).extensions:
            raise ArmError(404, "ResourceNotFound", f"VM '{vm_name}' has no extension '{name}'.")


def require_free_lun(state: SimState, vm_name: str, resource_group: str | None, lun: int) -> None:
    with state.lock:
        if any(d.lun == lun for d in _one_vm(state, vm_name, resource_group).spec.data_disks):
            raise ArmError(409, "Conflict", f"VM '{vm_name}' already has a data disk at lun {lun}.")


def deallocate(vm: VirtualMachine, at: datetime) -> None:
    """``az vm deallocate`` finished at ``at``: the guest (and ADE in it) stops there (R-LIM-2)."""
    vm.deallocated_at = at
    vm.starting_until = None
    vm.ade.halted_at = at


def attach_disk(state: SimState, lun: int, size_gb: int, sku: DiskSku) -> Change:
    """``az vm disk attach --new``: a new empty data disk; not formatted or mounted in the guest yet (R-NEW-1)."""

    def change(vm: VirtualMachine, at: datetime) -> None:
        if any(d.lun == lun for d in vm.spec.data_disks):
            return  # the lun was taken meanwhile; an operator's attach would have failed
        name = data_disk_name(vm.name, lun)
        disk = ManagedDisk(
            subscription_id=vm.subscription_id,
            resource_group=vm.resource_group,
            name=name,
            location=vm.location,
            size_gb=size_gb,
            sku=sku,
            time_created=at,
            zones=list(vm.spec.zones),
        )
        disk.vm = vm
        spec = DataDiskSpec(lun=lun, size_gb=size_gb, sku=sku, mounted=False)
        vm.spec = vm.spec.model_copy(update={"data_disks": [*vm.spec.data_disks, spec]})
        vm.data_disks.append(disk)
        vm.ade.volumes = (*vm.ade.volumes, Volume(name, VolumeKind.DATA, size_gb, mounted=False))
        group = state.subscriptions[vm.subscription_id.lower()].resource_groups[vm.resource_group.lower()]
        group.disks[name.lower()] = disk

    return change


def set_tags(tags: dict[str, str], replace_all: bool) -> Change:
    """``az tag update --operation merge|replace`` on the VM."""

    def change(vm: VirtualMachine, at: datetime) -> None:
        merged = dict(tags) if replace_all else {**vm.spec.tags, **tags}
        vm.spec = vm.spec.model_copy(update={"tags": merged})

    return change


def reword_status(wording: dict[str, Any]) -> Change:
    """Change how the VM's ADE extension words its status (fields of :class:`ExtensionStatusSpec`, merged)."""

    def change(vm: VirtualMachine, at: datetime) -> None:
        merged = {**vm.ade.wording.model_dump(), **wording}
        vm.ade.reword(ExtensionStatusSpec.model_validate(merged))

    ExtensionStatusSpec.model_validate(wording)  # refuse a bad body now, not when the change falls due
    return change
