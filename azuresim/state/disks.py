"""Managed disks' own writes and access, their state, the ADE marker and the copy check (docs/ade-migration.md).

- Disks_CreateOrUpdate with ``creationData.createOption``:
  ``Upload`` (``uploadSizeBytes``: the disk plus the 512-byte VHD footer, between 20 MiB + 512 and 32 TiB + 512
  bytes, the size without the footer a whole number of MiB, else 400 ``BadRequest``; ``osType`` and
  ``hyperVGeneration`` for an OS disk), ``Copy`` (``sourceResourceId``: a disk or a snapshot; the copy has the
  source's bytes and its ADE marker, M-2) and ``Empty`` (``diskSizeGB``). 202 with a DiskOperations LRO.
- Disks_Delete: 409 ``OperationNotAllowed`` while attached to a VM or while its SAS access is open.
- Disks_GrantAccess (``beginGetAccess``, ``{"access": "Read"|"Write", "durationInSeconds": n}``): an LRO whose
  output is ``{"accessSAS": url}`` on the simulator's own host (:mod:`azuresim.state.pageblob`). Read access to a
  disk attached to a running VM is refused as Azure does: 409 ``Conflict`` "Access not permitted because disk … is
  currently attached to running VM …". Write access only for an ``Upload`` disk. Granting again (e.g. after the
  SAS expired) hands out a new SAS; the older ones stay valid until they expire.
- Disks_RevokeAccess (``endGetAccess``): every SAS of the disk stops working; an upload ends.

``diskState``: ``ReadyToUpload`` → ``ActiveUpload`` (write SAS granted) → ``Unattached`` (after endGetAccess) for
an Upload disk; ``ActiveSAS`` while a read SAS is open; otherwise ``Attached`` (running VM), ``Reserved``
(deallocated VM) or ``Unattached``.

The ADE marker (M-2, Microsoft's "UDE flag") is not shown in ARM JSON, as in Azure: :func:`ade_marker` reads it.

Sources: the DiskRP REST specs and examples (Disk_Create_UploadDisk, Disk_BeginGetAccess, Disk_EndGetAccess); the
upload-size and running-VM messages as Azure returns them (quoted in Azure Storage Explorer issues 3029 and 6654).
Inferred, with no published example: the text of the upload-size range error, 409 ``OperationNotAllowed`` for Write
access to a disk not created for upload and for deleting a disk whose access is open.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from azuresim.errors import ArmError
from azuresim.fleet import ExtentSpec
from azuresim.state.compute import DISK_ID, GIB, VHD_FOOTER, DiskAccess, ManagedDisk, Snapshot
from azuresim.state.extents import Extent, ExtentMap
from azuresim.state.operations import WriteResult

if TYPE_CHECKING:
    from azuresim.state.world import SimState

MIB = 1024 * 1024
MIN_UPLOAD_BYTES = 20 * MIB + VHD_FOOTER
MAX_UPLOAD_BYTES = 32 * 1024 * 1024 * MIB + VHD_FOOTER
DISK_CREATE_SECONDS = 5.0
DISK_DELETE_SECONDS = 5.0
ACCESS_SECONDS = 2.0
DISK_SKUS = (
    "Standard_LRS",
    "Premium_LRS",
    "StandardSSD_LRS",
    "UltraSSD_LRS",
    "Premium_ZRS",
    "StandardSSD_ZRS",
    "PremiumV2_LRS",
)
SPREAD_CHUNKS = 16
_SNAPSHOT_ID = re.compile(
    r"^/?subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)/providers/Microsoft\.Compute/snapshots/"
    r"(?P<name>[^/]+)$",
    re.IGNORECASE,
)


# --------------------------------------------------------------------------------------------- reading a disk


def ade_marker(disk: ManagedDisk, now: datetime) -> bool:
    """Whether ADE ever encrypted (stamped) the disk; latched on ``disk.ade_marker`` (M-2).

    ADE's timeline is evaluated lazily, so the flag is latched when read and when a run is folded
    (``AdeState.marked``); a disk created around ADE settings (R-VHD-1) has it too.
    """
    vm = disk.vm
    if not disk.ade_marker and vm is not None:
        attached = vm.attached is not None and vm.attached.disk is disk and vm.attached.encryption is not None
        if attached or disk.name in vm.ade.marked or disk.name in vm.ade.stamps_at(now):
            disk.ade_marker = True
    return disk.ade_marker


def detach(disk: ManagedDisk, now: datetime) -> None:
    """Detach a disk from its VM (a VM deleted with its disks kept): the ADE marker is latched first."""
    ade_marker(disk, now)
    disk.vm = None


def disk_state(disk: ManagedDisk, now: datetime) -> str:
    """``properties.diskState`` (see the module docstring)."""
    if disk.access is not None:
        return "ActiveUpload" if disk.access.level == "Write" else "ActiveSAS"
    if disk.upload_size_bytes is not None and not disk.uploaded:
        return "ReadyToUpload"
    vm = disk.vm
    if vm is not None and not vm.deleted(now):
        return "Reserved" if vm.deallocated(now) else "Attached"
    return "Unattached"


def provisioning_state(disk: ManagedDisk, now: datetime) -> str:
    if disk.operation is None or disk.operation.finished(now):
        return "Succeeded"
    return "Updating"


def footer(disk: ManagedDisk) -> Extent:
    """The VHD footer page behind the disk's bytes (written: a copy must carry it)."""
    return Extent(disk.size_bytes, disk.size_bytes + VHD_FOOTER, f"footer:{disk.unique_id}")


def fleet_pages(
    disk: ManagedDisk, written_gb: float | None, extents: list[ExtentSpec] | None, fraction: float
) -> ExtentMap:
    """A fleet disk's content: its written extents (given, or ``written_gb``/``fraction`` of it spread over the disk
    in up to 16 runs) of one stream, and its VHD footer."""
    size_mib = disk.size_bytes // MIB
    if extents is not None:
        runs = [(e.offset_mib, e.offset_mib + e.length_mib) for e in extents]
    else:
        total = round((written_gb * 1024) if written_gb is not None else size_mib * fraction)
        runs = _spread(size_mib, total)
    content = f"data:{disk.unique_id}"
    pieces = [Extent(lo * MIB, hi * MIB, content, lo * MIB) for lo, hi in runs]
    return ExtentMap([*pieces, footer(disk)])


def _spread(size_mib: int, total_mib: int) -> list[tuple[int, int]]:
    if total_mib <= 0:
        return []
    if total_mib >= size_mib:
        return [(0, size_mib)]
    n = min(SPREAD_CHUNKS, max(1, total_mib // 256))
    stride, per = size_mib // n, total_mib // n
    runs = [(i * stride, i * stride + min(per, stride)) for i in range(n - 1)]
    last = (n - 1) * stride
    runs.append((last, min(size_mib, last + total_mib - per * (n - 1))))
    return runs


# --------------------------------------------------------------------------------------------- writes


def _bad(message: str) -> ArmError:
    return ArmError(400, "InvalidParameter", message)


def _check_upload_size(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _bad("Required parameter 'creationData.uploadSizeBytes' is missing (null).")
    if not MIN_UPLOAD_BYTES <= value <= MAX_UPLOAD_BYTES:
        raise ArmError(
            400,
            "BadRequest",
            f"The upload size in bytes {value} must be between {MIN_UPLOAD_BYTES} bytes (20 MiB + 512 bytes for the "
            f"VHD footer) and {MAX_UPLOAD_BYTES} bytes (32 TiB + 512 bytes for the VHD footer).",
        )
    if (value - VHD_FOOTER) % MIB:
        raise ArmError(
            400,
            "BadRequest",
            f"The upload size in bytes {value} - 512 bytes for the VHD footer ({value - VHD_FOOTER} in this case) "
            "must be a multiple of MiB.",
        )
    return value


def _source(state: SimState, source_id: str) -> ManagedDisk | Snapshot:
    m = DISK_ID.match(source_id) or _SNAPSHOT_ID.match(source_id)
    if m is None:
        raise _bad(f"The value '{source_id}' of parameter 'creationData.sourceResourceId' is invalid.")
    if "/snapshots/" in source_id.lower():
        return state.snapshot(m["sub"], m["rg"], m["name"])
    return state.disk(m["sub"], m["rg"], m["name"])


def put_disk(
    state: SimState, sub: str, rg_name: str, name: str, body: dict[str, Any], now: datetime
) -> tuple[WriteResult, ManagedDisk]:
    """Disks_CreateOrUpdate (module docstring): 202 with an LRO for a new disk, 200 for a tags update."""
    rg = state.resource_group(sub, rg_name)
    props = body.get("properties")
    if not isinstance(props, dict):
        raise ArmError(400, "InvalidRequestContent", "The request content is missing 'properties'.")
    creation = props.get("creationData")
    if not isinstance(creation, dict) or not creation.get("createOption"):
        raise _bad("Required parameter 'creationData' is missing (null).")
    option = str(creation["createOption"])
    tags = {str(k): str(v) for k, v in body["tags"].items()} if isinstance(body.get("tags"), dict) else {}
    existing = rg.disks.get(name.lower())
    if existing is not None and not (existing.vm is not None and existing.vm.deleted(now)):
        was = str((existing.creation or {}).get("createOption", ""))
        if was.lower() != option.lower():
            raise ArmError(
                409, "PropertyChangeNotAllowed", "Changing property 'creationData.createOption' is not allowed."
            )
        existing.tags = tags
        running = existing.operation is not None and not existing.operation.finished(now)
        return WriteResult(200, existing.operation if running else None), existing
    sku_body = body.get("sku")
    sku = str(sku_body["name"]) if isinstance(sku_body, dict) and sku_body.get("name") else "Standard_LRS"
    if sku not in DISK_SKUS:
        raise _bad(f"The value '{sku}' of parameter 'sku.name' is invalid.")
    os_type = props.get("osType")
    if os_type is not None and os_type not in ("Linux", "Windows"):
        raise _bad(f"The value '{os_type}' of parameter 'osType' is invalid.")
    generation = props.get("hyperVGeneration")
    if generation is not None and generation not in ("V1", "V2"):
        raise _bad(f"The value '{generation}' of parameter 'hyperVGeneration' is invalid.")
    disk = ManagedDisk(
        subscription_id=state.subscription(sub).id,
        resource_group=rg.name,
        name=name,
        location=str(body.get("location") or rg.location),
        size_gb=1,
        sku=sku,
        time_created=now,
        os_type=os_type,
        zones=[str(z) for z in body.get("zones") or []],
        creation={"createOption": option},
        hyper_v_generation=generation,
        tags=tags,
    )
    seconds = DISK_CREATE_SECONDS
    if option.lower() == "upload":
        disk.upload_size_bytes = _check_upload_size(creation.get("uploadSizeBytes"))
        disk.creation = {"createOption": "Upload", "uploadSizeBytes": disk.upload_size_bytes}
        disk.size_gb = math.ceil(disk.size_bytes / GIB)
    elif option.lower() == "copy":
        source_id = str(creation.get("sourceResourceId") or "")
        source = _source(state, source_id)
        origin = source.source if isinstance(source, Snapshot) else source
        disk.size_gb = origin.size_gb
        disk.os_type = os_type or origin.os_type
        disk.hyper_v_generation = generation or origin.hyper_v_generation or ("V2" if disk.os_type else None)
        disk.pages = source.pages.copy()
        disk.ade_marker = source.ade_marker if isinstance(source, Snapshot) else ade_marker(source, now)
        disk.creation = {"createOption": "Copy", "sourceResourceId": source.id, "sourceUniqueId": source.unique_id}
        seconds = state.snapshot_seconds
    elif option.lower() == "empty":
        size = props.get("diskSizeGB")
        if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
            raise _bad("Required parameter 'diskSizeGB' is missing (null).")
        disk.size_gb = size
        disk.creation = {"createOption": "Empty"}
        disk.pages = ExtentMap([footer(disk)])
    else:
        raise _bad(f"The simulator creates disks with createOption Upload, Copy or Empty, not '{option}'.")
    disk.operation = state.new_operation(sub, disk.location, now, seconds)
    rg.disks[name.lower()] = disk
    return WriteResult(202, disk.operation), disk


def delete_disk(state: SimState, sub: str, rg_name: str, name: str, now: datetime) -> WriteResult:
    """Disks_Delete: 202 LRO (the disk is gone at once), 204 when there is none."""
    rg = state.resource_group(sub, rg_name)
    disk = rg.disks.get(name.lower())
    if disk is None or (disk.vm is not None and disk.vm.deleted(now)):
        return WriteResult(204)
    if disk.vm is not None:
        raise ArmError(409, "OperationNotAllowed", f"Disk {disk.name} is attached to VM {disk.vm.id}.")
    if disk.access is not None:
        raise ArmError(
            409,
            "OperationNotAllowed",
            f"Disk {disk.name} is in state {disk_state(disk, now)}; revoke its access (endGetAccess) before deleting.",
        )
    del rg.disks[name.lower()]
    state.blobs.containers.pop(disk.unique_id, None)
    return WriteResult(202, state.new_operation(sub, disk.location, now, DISK_DELETE_SECONDS))


def grant_access(
    state: SimState, sub: str, rg: str, name: str, body: dict[str, Any], now: datetime, base_url: str
) -> WriteResult:
    """Disks_GrantAccess (module docstring); the LRO's output holds ``accessSAS``."""
    disk = state.disk(sub, rg, name)
    level = str(body.get("access") or "").capitalize()
    if level not in ("Read", "Write"):
        raise _bad(f"The value '{body.get('access')}' of parameter 'access' is invalid: use Read or Write.")
    seconds = body.get("durationInSeconds")
    if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds <= 0:
        raise _bad("Required parameter 'durationInSeconds' is missing or not a positive integer.")
    current = disk_state(disk, now)
    vm = disk.vm
    if level == "Read":
        if vm is not None and not vm.deleted(now) and not vm.deallocated(now):
            raise ArmError(
                409,
                "Conflict",
                f"Access not permitted because disk {disk.name} is currently attached to running VM {vm.id}.",
            )
        if current in ("ReadyToUpload", "ActiveUpload"):
            raise ArmError(409, "OperationNotAllowed", f"Disk {disk.name} is in state {current}: grant Write access.")
    elif current not in ("ReadyToUpload", "ActiveUpload"):
        raise ArmError(
            409,
            "OperationNotAllowed",
            f"Write access can only be granted to a disk created with createOption Upload in state ReadyToUpload or "
            f"ActiveUpload; disk {disk.name} is in state {current}.",
        )
    if disk.access is None:
        disk.access = DiskAccess(level)
    short = state.faults.take_disk("sas_expiry", disk.name)
    lifetime = min(float(seconds), short.fault.after_s) if short is not None else float(seconds)
    url = state.blobs.grant(disk, disk.access, now, lifetime, base_url)
    op = state.new_operation(sub, disk.location, now, ACCESS_SECONDS)
    op.output = {"accessSAS": url}
    return WriteResult(202, op)


def revoke_access(state: SimState, sub: str, rg: str, name: str, now: datetime) -> WriteResult:
    """Disks_RevokeAccess: every SAS of the disk stops working; an upload (ActiveUpload) ends → Unattached."""
    disk = state.disk(sub, rg, name)
    if disk.access is not None:
        if disk.access.level == "Write":
            disk.uploaded = True
        disk.access = None
    return WriteResult(202, state.new_operation(sub, disk.location, now, ACCESS_SECONDS))


def expire_grants(state: SimState, names: frozenset[str], at: datetime) -> None:
    """Fault ``sas_expiry``: the SAS of these disks (every disk when ``names`` is empty) expire at ``at``."""
    for disk in state.blobs.containers.values():
        if disk.access is not None and (not names or disk.name.lower() in names):
            for grant in disk.access.grants:
                grant.expires_at = min(grant.expires_at, at)


# --------------------------------------------------------------------------------------------- the copy check


@dataclass(frozen=True)
class CopyCheck:
    """What :func:`verify_copy` found: a copy is good when sizes match and every source range came across."""

    source: str
    target: str
    size_matches: bool
    ranges_checked: int
    bytes_checked: int
    mismatched: tuple[tuple[int, int], ...]
    """Source ranges (start, end) whose bytes the target does not hold."""
    extra_data: bool
    """The target holds data where the source has none."""

    @property
    def ok(self) -> bool:
        return self.size_matches and not self.mismatched and not self.extra_data


def verify_copy(source: ManagedDisk, target: ManagedDisk) -> CopyCheck:
    """Compare the target with the source, range by range, by their extents' checksums (docs/ade-migration.md)."""
    end = max(source.blob_bytes, target.blob_bytes)
    ranges = source.pages.ranges(0, source.blob_bytes)
    mismatched = tuple(r for r in ranges if source.pages.fingerprint(*r) != target.pages.fingerprint(*r))
    whole = source.pages.fingerprint(0, end) == target.pages.fingerprint(0, end)
    return CopyCheck(
        source=source.name,
        target=target.name,
        size_matches=source.blob_bytes == target.blob_bytes,
        ranges_checked=len(ranges),
        bytes_checked=sum(hi - lo for lo, hi in ranges),
        mismatched=mismatched,
        extra_data=not mismatched and not whole,
    )
