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
    acknowledged_format_all: set[str] = field(default_factory=set)
    leave_encrypted: set[str] = field(default_factory=set)


def _state(detail: str, volume: str) -> str:
    match = re.search(rf"\b{volume}=(\S+)", detail)
    return match.group(1) if match else ""


def violations(records: Iterable[RequestRecord], expect: Expectations) -> list[str]:
    """Every breach of: no enable without a prior backup (or waiver), no disable while the OS volume is
    encrypted (R-DIS-3), no extension removal while anything is encrypted (R-DIS-2), no EncryptFormatAll
    without the operator's acknowledgement (R-EFA-1/2). An empty list means the log is safe."""
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
                disks = {d.lower() for d in expect.disks.get(vm, [])}
                if vm not in expect.waived and vm not in backed_up and not disks <= snapshotted.get(vm, set()):
                    found.append(f"#{r.seq} {vm}: {operation} without a backup of every disk (R-BAK-2)")
                if "format-all" in r.detail and vm not in expect.acknowledged_format_all:
                    found.append(f"#{r.seq} {vm}: EncryptFormatAll without acknowledgement (R-EFA-1)")
                snapshotted.pop(vm, None)  # the next enable of this VM needs a backup of its own
                backed_up.discard(vm)
            elif operation == "DisableEncryption" and _state(r.detail, "os") in HOLDS_DATA:
                found.append(f"#{r.seq} {vm}: DisableEncryption while {r.detail} (R-DIS-3)")
    return found
