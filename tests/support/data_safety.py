"""The data-safety invariants of docs/original-design.md §5 and of the migration (docs/ade-migration.md M-7, M-8),
checked on the simulator's request log (what Azure was asked).

Shared by the property test and the chaos tests: whatever happened to workers, servers or the network, the
log must never show a dangerous write.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from azuresim.requestlog import RequestRecord

_EXT = re.compile(r"/virtualMachines/(?P<vm>[^/]+)/extensions/", re.IGNORECASE)
_SNAPSHOT = re.compile(r"/snapshots/(?P<name>[^/]+)$", re.IGNORECASE)
_BACKUP = re.compile(r";(?P<vm>[^;/]+)/backup$", re.IGNORECASE)
_NAME = re.compile(r"/(?P<kind>virtualMachines|disks|networkInterfaces)/(?P<name>[^/]+)", re.IGNORECASE)
OK = {200, 201, 202, 204}
HOLDS_DATA = {"Encrypted", "EncryptionInProgress", "DecryptionInProgress", "VMRestartPending"}
"""Volume states in which removing the extension or disabling leaves a volume locked or half-done."""


@dataclass
class Expectations:
    """What the operator allowed: per VM name (lower case)."""

    disks: dict[str, list[str]]
    """Every managed disk of each VM, by name."""
    waived: set[str] = field(default_factory=set)
    """VMs whose encryption was waived with an operator's statement (R-BAK-2)."""
    disable_waived: set[str] = field(default_factory=set)
    """VMs whose disable was waived with an operator's statement (R-BAK-2)."""
    acknowledged_format_all: set[str] = field(default_factory=set)
    leave_encrypted: set[str] = field(default_factory=set)


def _state(detail: str, volume: str) -> str:
    match = re.search(rf"\b{volume}=(\S+)", detail)
    return match.group(1) if match else ""


def violations(records: Iterable[RequestRecord], expect: Expectations) -> list[str]:
    """Every breach of: no enable or disable without a backup of the VM taken since its last ADE write (or a
    waiver with a statement, R-BAK-2), no disable while the OS volume is encrypted (R-DIS-3), no extension removal
    while anything is encrypted (R-DIS-2), no EncryptFormatAll without the operator's acknowledgement (R-EFA-1/2).
    An empty list means the log is safe."""
    found: list[str] = []
    snapshotted: dict[str, set[str]] = {}
    backed_up: set[str] = set()
    for r in records:
        if r.status not in OK:
            continue
        if r.operation == "Snapshots_CreateOrUpdate" and (m := _SNAPSHOT.search(r.path)):
            for vm, disks in expect.disks.items():
                for disk in disks:
                    if m["name"].lower().startswith(disk.lower() + "-ade"):
                        snapshotted.setdefault(vm, set()).add(disk.lower())
        elif r.operation == "Backups_Trigger" and (m := _BACKUP.search(r.path)):
            backed_up.add(m["vm"].lower())
        elif (m := _EXT.search(r.path)) and r.method in ("PUT", "DELETE"):
            vm = m["vm"].lower()
            if r.method == "DELETE":
                encrypted = [v for v in ("os", "data") if _state(r.detail, v) in HOLDS_DATA]
                if encrypted and vm not in expect.leave_encrypted:
                    found.append(f"#{r.seq} {vm}: extension removed while {r.detail} (R-DIS-2)")
                continue
            operation = r.detail.split(" ", 1)[0]
            if operation.startswith("EnableEncryption"):
                if vm not in expect.waived and not _backed_up(vm, expect, snapshotted, backed_up):
                    found.append(f"#{r.seq} {vm}: {operation} without a backup of every disk (R-BAK-2)")
                if "format-all" in r.detail and vm not in expect.acknowledged_format_all:
                    found.append(f"#{r.seq} {vm}: EncryptFormatAll without acknowledgement (R-EFA-1)")
                snapshotted.pop(vm, None)  # the next enable of this VM needs a backup of its own
                backed_up.discard(vm)
            elif operation == "DisableEncryption":
                if vm not in expect.disable_waived and not _backed_up(vm, expect, snapshotted, backed_up):
                    found.append(f"#{r.seq} {vm}: DisableEncryption without a backup of every disk (R-BAK-2)")
                if _state(r.detail, "os") in HOLDS_DATA:
                    found.append(f"#{r.seq} {vm}: DisableEncryption while {r.detail} (R-DIS-3)")
                snapshotted.pop(vm, None)
                backed_up.discard(vm)
    return found


def _backed_up(vm: str, expect: Expectations, snapshotted: dict[str, set[str]], backed_up: set[str]) -> bool:
    """An Azure Backup was triggered, or every disk of the VM was snapshotted, since the VM's last ADE write."""
    disks = {d.lower() for d in expect.disks.get(vm, [])}
    return vm in backed_up or disks <= snapshotted.get(vm, set())


# -- the migration (M-7, M-8) ----------------------------------------------------------------------------------------


@dataclass
class MigratedVm:
    """One source VM of a migration, as the test drove it. Times are the real time just before the test *sent* an
    approval (the product cannot have acted on it earlier); None: never sent."""

    new_vm: str
    disks: list[str]
    nics: list[str] = field(default_factory=list)
    nic_reuse: bool = False
    downtime_sent_at: datetime | None = None
    cleanup_sent_at: datetime | None = None


def _named(path: str, kind: str) -> str:
    found = [m["name"].lower() for m in _NAME.finditer(path) if m["kind"].lower() == kind.lower()]
    return found[-1] if found else ""


def migration_violations(records: Iterable[RequestRecord], sources: dict[str, MigratedVm]) -> list[str]:
    """Every breach of: no copy (read SAS, even one ARM refused) of a disk whose VM was not deallocated since it last
    ran (M-7); no delete of a source VM, disk or NIC before the new VM was created and read back (verified) and the
    cleanup approval sent (M-8), except the source VM object under NIC reuse, which needs the downtime approval sent
    and the source deallocated (M-7). ``sources`` by source VM name (lower case). Empty: the log is safe."""
    found: list[str] = []
    created: set[str] = set()
    verified: set[str] = set()
    stopped: set[str] = set()
    disk_owner = {d.lower(): vm for vm, s in sources.items() for d in s.disks}
    nic_owner = {n.lower(): vm for vm, s in sources.items() for n in s.nics}
    for r in sorted(records, key=lambda rec: rec.seq):
        vm = _named(r.path, "virtualMachines")
        if r.operation == "Disks_GrantAccess":
            owner = disk_owner.get(_named(r.path, "disks"))
            if owner is not None and owner not in stopped:
                found.append(f"#{r.seq} {owner}: read SAS on {_named(r.path, 'disks')} while the VM may run (M-7)")
            continue
        if r.status not in OK:
            continue
        if r.operation == "VirtualMachines_CreateOrUpdate":
            created.add(vm)
        elif r.operation == "VirtualMachines_Get" and vm in created:
            verified.add(vm)
        elif r.operation == "VirtualMachines_Deallocate":
            stopped.add(vm)
        elif r.operation in ("VirtualMachines_Start", "VirtualMachines_Restart"):
            stopped.discard(vm)
        elif r.operation == "VirtualMachines_Delete" and vm in sources:
            source = sources[vm]
            if source.nic_reuse:
                if not _sent_before(source.downtime_sent_at, r) or vm not in stopped:
                    found.append(f"#{r.seq} {vm}: VM object deleted without the downtime approval or running (M-7)")
            elif not _cleanup_allowed(source, verified, r):
                found.append(f"#{r.seq} {vm}: source VM deleted before verification and cleanup approval (M-8)")
        elif r.operation in ("Disks_Delete", "NetworkInterfaces_Delete"):
            name = _named(r.path, "disks" if r.operation == "Disks_Delete" else "networkInterfaces")
            owner = (disk_owner if r.operation == "Disks_Delete" else nic_owner).get(name)
            if owner is not None and not _cleanup_allowed(sources[owner], verified, r):
                found.append(f"#{r.seq} {owner}: {name} deleted before verification and cleanup approval (M-8)")
    return found


def _sent_before(sent: datetime | None, record: RequestRecord) -> bool:
    return sent is not None and record.real_time >= sent


def _cleanup_allowed(source: MigratedVm, verified: set[str], record: RequestRecord) -> bool:
    return source.new_vm.lower() in verified and _sent_before(source.cleanup_sent_at, record)
