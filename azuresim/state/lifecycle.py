"""VM power and lifecycle writes: VirtualMachines_Deallocate, _Start and _Delete (M-7, M-8).

Each is a Compute LRO. Deallocate shows ``PowerState/deallocating`` until it completes, then ``deallocated`` (a
migration copies the disks of a deallocated source, M-7); start shows ``starting`` then ``running``. Delete keeps
the VM visible as ``Deleting`` until its LRO completes; then :func:`settle` (run before every request) removes it:
disks and NICs whose ``deleteOption`` is ``Delete`` go with it, the others are detached and kept (the default
``Detach``), and each kept NIC stays reserved for the deleted VM for 180 seconds (``NicReservedForAnotherVm``).
A DELETE of a VM that does not exist answers 204, as ARM does.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from azuresim.errors import ArmError
from azuresim.state import disks as disk_states
from azuresim.state import outside
from azuresim.state.compute import DEALLOCATE_SECONDS, START_SECONDS, VM_DELETE_SECONDS, VirtualMachine
from azuresim.state.operations import WriteResult

if TYPE_CHECKING:
    from azuresim.state.world import SimState


def _live(state: SimState, sub: str, rg: str, name: str, now: datetime, action: str) -> VirtualMachine:
    vm = state.vm(sub, rg, name)
    if vm.delete_operation is not None:
        message = f"Operation '{action}' is not allowed on VM '{vm.name}' since it is being deleted."
        raise ArmError(409, "OperationNotAllowed", message)
    return vm


def deallocate_vm(state: SimState, sub: str, rg: str, name: str, now: datetime) -> WriteResult:
    """202; a VM already deallocated (or deallocating) gets an operation that is already done (idempotent)."""
    vm = _live(state, sub, rg, name, now, "deallocate")
    if vm.deallocated_at is not None:
        op = state.new_operation(vm.subscription_id, vm.location, now, 0.0)
        return WriteResult(202, op)
    op = state.new_operation(vm.subscription_id, vm.location, now, DEALLOCATE_SECONDS)
    vm.deallocated_at = op.done_at
    vm.starting_until = None
    vm.power_operation = op
    return WriteResult(202, op)


def start_vm(state: SimState, sub: str, rg: str, name: str, now: datetime) -> WriteResult:
    """202; refused while a deallocation is under way, a no-op operation when the VM already runs."""
    vm = _live(state, sub, rg, name, now, "start")
    power = vm.power_state(now)
    if power == "deallocating":
        raise ArmError(
            409,
            "OperationNotAllowed",
            f"Operation 'start' is not allowed on VM '{vm.name}' since the VM is being deallocated; retry when it is "
            "deallocated.",
        )
    if power in ("running", "starting"):
        return WriteResult(202, state.new_operation(vm.subscription_id, vm.location, now, 0.0))
    op = state.new_operation(vm.subscription_id, vm.location, now, START_SECONDS)
    vm.deallocated_at = None
    vm.starting_until = op.done_at
    vm.power_operation = op
    return WriteResult(202, op)


def delete_vm(state: SimState, sub: str, rg_name: str, name: str, now: datetime) -> WriteResult:
    """202 and the delete LRO (the same one again while it runs); 204 when there is no such VM."""
    rg = state.resource_group(sub, rg_name)
    vm = rg.vms.get(name.lower())
    if vm is None or vm.deleted(now):
        return WriteResult(204)
    if vm.delete_operation is not None:
        return WriteResult(202, vm.delete_operation)
    op = state.new_operation(vm.subscription_id, vm.location, now, VM_DELETE_SECONDS)
    vm.delete_operation = op
    vm.deleted_at = op.done_at
    state.pending_deletes.append(vm)
    return WriteResult(202, op)


def settle(state: SimState, now: datetime) -> None:
    """Apply due changes made from outside (:mod:`azuresim.state.outside`); finish the VM deletes whose LRO has
    completed: remove or detach their disks and NICs."""
    outside.apply_due(state, now)
    if not state.pending_deletes:
        return
    waiting: list[VirtualMachine] = []
    for vm in state.pending_deletes:
        if vm.deleted(now):
            _finish_delete(state, vm)
        else:
            waiting.append(vm)
    state.pending_deletes = waiting


def _finish_delete(state: SimState, vm: VirtualMachine) -> None:
    gone = vm.deleted_at
    assert gone is not None
    for disk in [*([vm.os_disk] if vm.os_disk else []), *vm.data_disks]:
        if disk.vm is not vm:
            continue
        disk_states.detach(disk, gone)  # latches the ADE marker (M-2) before the disk leaves its VM
        if vm.delete_option(disk.id) == "Delete":
            group = state.subscriptions[disk.subscription_id.lower()].resource_groups[disk.resource_group.lower()]
            group.disks.pop(disk.name.lower(), None)
    for nic in vm.nics:
        if nic.vm is not vm:
            continue
        if vm.delete_option(nic.id) == "Delete":
            nic.vm = None
            nic.release()
            group = state.subscriptions[nic.subscription_id.lower()].resource_groups[nic.resource_group.lower()]
            group.nics.pop(nic.name.lower(), None)
        else:
            nic.detach(vm.id, gone)
    rg = state.subscriptions[vm.subscription_id.lower()].resource_groups[vm.resource_group.lower()]
    if rg.vms.get(vm.name.lower()) is vm:
        del rg.vms[vm.name.lower()]
