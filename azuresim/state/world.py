"""The simulated world: subscriptions → resource groups → resources, built from a fleet spec.

All reads and writes go through :class:`SimState` under one lock, because aiohttp handlers run in the
server thread while tests inspect the state from theirs. Lookups raise :class:`ArmError` for anything that
ARM would answer with an error. The writes are per resource type, as functions of the state
(:mod:`azuresim.state.vms`, :mod:`~azuresim.state.extensions`, :mod:`~azuresim.state.snapshots`,
:mod:`~azuresim.state.disks`, :func:`azuresim.state.backup.trigger_backup`); nothing here knows about HTTP. The
disks' page-blob data plane (SAS URLs, throughput lanes) is ``blobs`` (:mod:`azuresim.state.pageblob`).
"""

from __future__ import annotations

import re
import threading
import uuid
from datetime import datetime, timedelta

from azuresim.clock import SimClock
from azuresim.errors import ArmError, resource_not_found
from azuresim.faults import WORLD_KINDS, ActiveFault, Fault, FaultPlan
from azuresim.fleet import FleetSpec
from azuresim.state import disks
from azuresim.state.backup import ProtectedItem, RecoveryVault
from azuresim.state.build import build_subscriptions
from azuresim.state.compute import Extension, ManagedDisk, Snapshot, VirtualMachine
from azuresim.state.encryption import Rates
from azuresim.state.keyvault import KeyVault
from azuresim.state.operations import AsyncOperation
from azuresim.state.outside import PendingChange
from azuresim.state.pageblob import BlobPlane
from azuresim.state.tree import ResourceGroup, Subscription, normalize_location

_VAULT_ID = re.compile(
    r"^/?subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)/providers/Microsoft\.KeyVault/vaults/(?P<name>[^/]+)$",
    re.IGNORECASE,
)


class SimState:
    """All simulated resources plus the registry of async operations."""

    def __init__(self, fleet: FleetSpec, clock: SimClock, faults: FaultPlan | None = None) -> None:
        self.lock = threading.RLock()
        self.clock = clock
        self.fleet = fleet
        self.faults = faults if faults is not None else FaultPlan()
        sim = fleet.sim
        self.rates = Rates(
            gb_per_hour=sim.gb_per_hour,
            stamp_seconds=sim.stamp_seconds,
            stripdown_seconds=sim.stripdown_seconds,
            format_all_seconds=sim.format_all_seconds,
        )
        self.snapshot_seconds = sim.snapshot_seconds
        self.backup_seconds = sim.backup_seconds
        self.subscriptions: dict[str, Subscription] = build_subscriptions(fleet, self.rates, clock.now())
        self.operations: dict[str, AsyncOperation] = {}
        self.blobs = BlobPlane(sim.disk_mb_per_s, sim.disk_queue_s)
        self.pending_deletes: list[VirtualMachine] = []
        """VMs whose delete LRO runs; :func:`azuresim.state.lifecycle.settle` finishes them."""
        self.outside_changes: list[PendingChange] = []
        """Changes made from outside, due later (:mod:`azuresim.state.outside`); ``settle`` applies them."""
        for fault in self.faults.initial:
            self.inject(fault)

    # ------------------------------------------------------------------------------------------ lookups

    def subscription(self, sub: str) -> Subscription:
        found = self.subscriptions.get(sub.lower())
        if found is None:
            raise ArmError(404, "SubscriptionNotFound", f"The subscription '{sub}' could not be found.")
        return found

    def resource_group(self, sub: str, rg: str) -> ResourceGroup:
        found = self.subscription(sub).resource_groups.get(rg.lower())
        if found is None:
            raise ArmError(404, "ResourceGroupNotFound", f"Resource group '{rg}' could not be found.")
        return found

    def vm(self, sub: str, rg: str, name: str) -> VirtualMachine:
        found = self.resource_group(sub, rg).vms.get(name.lower())
        if found is None or found.deleted(self.clock.now()):
            raise resource_not_found("Microsoft.Compute/virtualMachines", name, rg)
        return found

    def disk(self, sub: str, rg: str, name: str) -> ManagedDisk:
        found = self.resource_group(sub, rg).disks.get(name.lower())
        if found is None or (found.vm is not None and found.vm.deleted(self.clock.now())):
            raise resource_not_found("Microsoft.Compute/disks", name, rg)
        return found

    def snapshot(self, sub: str, rg: str, name: str) -> Snapshot:
        found = self.resource_group(sub, rg).snapshots.get(name.lower())
        if found is None:
            raise resource_not_found("Microsoft.Compute/snapshots", name, rg)
        return found

    def extension(self, sub: str, rg: str, vm_name: str, name: str, now: datetime) -> tuple[VirtualMachine, Extension]:
        vm = self.vm(sub, rg, vm_name)
        vm.live_extensions(now)
        ext = vm.extensions.get(name.lower())
        if ext is None:
            raise resource_not_found("Microsoft.Compute/virtualMachines", f"{vm_name}/extensions/{name}", rg)
        return vm, ext

    def vms_named(self, name: str, resource_group: str | None = None) -> list[VirtualMachine]:
        """Every VM with this name (any subscription), optionally in one resource group."""
        return [
            vm
            for sub in self.subscriptions.values()
            for rg in sub.resource_groups.values()
            if resource_group is None or rg.name.lower() == resource_group.lower()
            for key, vm in rg.vms.items()
            if key == name.lower()
        ]

    def vault(self, sub: str, rg: str, name: str) -> KeyVault:
        found = self.resource_group(sub, rg).vaults.get(name.lower())
        if found is None:
            raise resource_not_found("Microsoft.KeyVault/vaults", name, rg)
        return found

    def vault_by_id(self, resource_id: str) -> KeyVault | None:
        m = _VAULT_ID.match(resource_id.strip())
        if not m:
            return None
        sub = self.subscriptions.get(m["sub"].lower())
        rg = sub.resource_groups.get(m["rg"].lower()) if sub else None
        return rg.vaults.get(m["name"].lower()) if rg else None

    def recovery_vault(self, sub: str, rg: str, name: str) -> RecoveryVault:
        found = self.resource_group(sub, rg).recovery_vaults.get(name.lower())
        if found is None:
            raise resource_not_found("Microsoft.RecoveryServices/vaults", name, rg)
        return found

    def protected_item(self, sub: str, rg: str, vault_name: str, container: str, item: str) -> ProtectedItem:
        vault = self.recovery_vault(sub, rg, vault_name)
        found = vault.item(container, item)
        if found is None or found.vm.deleted(self.clock.now()):
            raise resource_not_found("Microsoft.RecoveryServices/vaults", f"{vault_name}/protectedItems/{item}", rg)
        return found

    def protection_of(self, vm_id: str) -> ProtectedItem | None:
        """The protected item of the VM with this ARM id, in any vault of its subscription."""
        for sub in self.subscriptions.values():
            for rg in sub.resource_groups.values():
                for vault in rg.recovery_vaults.values():
                    for item in vault.items.values():
                        if item.vm.id.lower() == vm_id.rstrip("/").lower():
                            return item
        return None

    # ------------------------------------------------------------------------------------------ async operations

    def operation(self, sub: str, op_id: str) -> AsyncOperation:
        self.subscription(sub)
        op = self.operations.get(op_id)
        if op is None or op.subscription_id.lower() != sub.lower():
            raise ArmError(404, "ResourceNotFound", f"The operation '{op_id}' was not found.")
        return op

    def new_operation(
        self, sub: str, location: str, now: datetime, seconds: float, error: tuple[str, str] | None = None
    ) -> AsyncOperation:
        op = AsyncOperation(
            id=str(uuid.uuid4()),
            subscription_id=sub,
            location=normalize_location(location),
            started_at=now,
            done_at=now + timedelta(seconds=seconds),
            error=error,
        )
        self.operations[op.id] = op
        return op

    # ------------------------------------------------------------------------------------------ disks' data

    def ade_marker(self, disk: ManagedDisk) -> bool:
        """Whether ADE ever encrypted this disk (M-2; not shown in ARM JSON, as in Azure)."""
        with self.lock:
            return disks.ade_marker(disk, self.clock.now())

    def verify_copy(self, source: ManagedDisk, target: ManagedDisk) -> disks.CopyCheck:
        """Compare a copied disk with its source range by range, by checksums (docs/ade-migration.md step 5)."""
        with self.lock:
            return disks.verify_copy(source, target)

    # ------------------------------------------------------------------------------------------ faults

    def inject(self, fault: Fault) -> ActiveFault:
        """Activate a fault; world-changing kinds take effect on the named VMs right away."""
        with self.lock:
            now = self.clock.now()
            vms = self.vms_named(fault.vm, fault.resource_group) if fault.vm else []
            if fault.vm and not vms:
                raise ArmError(404, "ResourceNotFound", f"No VM named '{fault.vm}' in the fleet.")
            names = [n for vm in vms for n in (vm.name, *vm.disk_names)] + ([fault.disk] if fault.disk else [])
            active = self.faults.add(fault, names, now)
            if fault.kind == "sas_expiry":
                disks.expire_grants(self, active.names, now + timedelta(seconds=fault.after_s))
            if fault.kind in WORLD_KINDS:
                at = now + timedelta(seconds=fault.after_s)
                for vm in vms:
                    if fault.kind == "encryption_stuck":
                        vm.ade.stuck_percent = fault.percent
                    elif fault.kind == "restart_pending":
                        vm.ade.restart_pending = True
                    elif fault.kind == "vm_deallocated":
                        vm.deallocated_at = at
                        vm.ade.halted_at = at
                    elif fault.kind == "vm_deleted":
                        vm.deleted_at = at
            return active

    def clear_faults(self) -> None:
        """Drop every fault; a stuck or reboot-waiting guest resumes (deallocated/deleted VMs stay so)."""
        with self.lock:
            for active in self.faults.clear():
                if active.kind in ("encryption_stuck", "restart_pending"):
                    for vm in self.vms_named(str(active.fault.vm), active.fault.resource_group):
                        vm.ade.stuck_percent = None
                        vm.ade.restart_pending = False
