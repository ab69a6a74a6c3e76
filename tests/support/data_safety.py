"""The data-safety invariants of docs/original-design.md §5, checked on the simulator's request log (what Azure was
asked).

Shared by the property test and the chaos tests: whatever happened to workers, servers or the network, the
log must never show a dangerous write.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from azuresim.requestlog import RequestRecord

_EXT = re.compile(r"/virtualMachines/(?P<vm>[^/]+)/extensions/", re.IGNORECASE)
_SNAPSHOT = re.compile(r"/snapshots/(?P<name>[^/]+)$", re.IGNORECASE)
_BACKUP = re.compile(r";(?P<vm>[^;/]+)/backup$", re.IGNORECASE)
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
