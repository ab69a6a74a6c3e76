"""The disks a copy reads and creates, as the copy activities see them: ARM's disk body parsed, the Upload disk
request (M-1/M-2), and what the data plane says on the side (per-range checksums, the checkpoint of an earlier
attempt).

Pure parsing and decisions; the activities (``activities/migration_disks.py``) only read and send.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from adeflow.domain.migration.copy import CopyCheckpoint, PageRange, RangeDigest
from adeflow.domain.migration.new_vm import DiskPlan, upload_disk_body
from adeflow.domain.migration.payloads import MIGRATED_FROM_TAG, ExistingTarget, SourceVmDefinition
from adeflow.domain.model import VmRef

UPLOAD_STATES: Final = frozenset({"readytoupload", "activeupload"})
"""An Upload disk still open for writes; after ``endGetAccess`` it is ``Unattached`` and can never be written again."""

RANGE_DIGESTS_HEADER: Final = "x-azuresim-page-digests"
"""A Get Page Ranges answer's checksum of each listed range, ``<start>-<end>=<digest>`` (end inclusive) separated by
commas. Azure sends no such header, so there every range is "covered, not compared"; the ARM simulator sends it, so
a copy there is compared range by range (docs/ade-migration.md, the disk copy, step 5)."""


@dataclass(frozen=True)
class CopyDiskFacts:
    """A managed disk as the copy reads it (``Disks_Get``)."""

    disk_id: str
    name: str
    size_bytes: int
    """``diskSizeBytes``, without the VHD footer."""
    disk_state: str = ""
    provisioning_state: str = ""
    create_option: str = ""
    upload_size_bytes: int = 0
    unique_id: str = ""
    managed_by: str = ""
    """The VM the disk is attached to (empty: none)."""
    migrated_from: str = ""
    """The ``adeflow-migrated-from`` tag: a disk this migration created."""
    ade_marker: bool = False
    """Encryption settings on the disk (even disabled ones): ADE stamped it (M-2)."""
    source_resource_id: str = ""

    @property
    def open_for_upload(self) -> bool:
        return self.disk_state.lower() in UPLOAD_STATES

    def as_existing_target(self) -> ExistingTarget:
        return ExistingTarget("disk", self.name, self.disk_id, self.migrated_from, self.ade_marker, self.create_option)


def parse_copy_disk(body: Mapping[str, Any]) -> CopyDiskFacts:
    """Read a ``Disks_Get`` body (REST shape or the SDK's ``as_dict()``: both spellings of each key are accepted)."""
    nested = body.get("properties")
    props: Mapping[str, Any] = nested if isinstance(nested, Mapping) else body
    creation = _field(props, "creationData", "creation_data")
    creation = creation if isinstance(creation, Mapping) else {}
    tags = body.get("tags") if isinstance(body.get("tags"), Mapping) else {}
    settings = _field(props, "encryptionSettingsCollection", "encryption_settings_collection")
    return CopyDiskFacts(
        disk_id=str(body.get("id") or ""),
        name=str(body.get("name") or ""),
        size_bytes=_int(_field(props, "diskSizeBytes", "disk_size_bytes")),
        disk_state=str(_field(props, "diskState", "disk_state") or ""),
        provisioning_state=str(_field(props, "provisioningState", "provisioning_state") or ""),
        create_option=str(_field(creation, "createOption", "create_option") or ""),
        upload_size_bytes=_int(_field(creation, "uploadSizeBytes", "upload_size_bytes")),
        unique_id=str(_field(props, "uniqueId", "unique_id") or ""),
        managed_by=str(_field(body, "managedBy", "managed_by") or ""),
        migrated_from=str((tags or {}).get(MIGRATED_FROM_TAG) or ""),
        ade_marker=bool(settings),
        source_resource_id=str(_field(creation, "sourceResourceId", "source_resource_id") or ""),
    )


def _field(data: Mapping[str, Any], rest: str, sdk: str) -> Any:
    return data.get(rest, data.get(sdk))


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


# -- the Upload disk -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UploadDiskRequest:
    """Create one new disk for the copy (M-1/M-2): ``body`` is :func:`upload_disk_body`'s, sent as it is."""

    vm: VmRef
    """The source VM (named in messages; its resource id is the ``adeflow-migrated-from`` tag)."""
    source_disk_id: str
    target_disk_id: str
    body: dict[str, Any] = field(default_factory=dict)

    @property
    def target_name(self) -> str:
        return self.target_disk_id.rstrip("/").rsplit("/", 1)[-1]

    @property
    def source_name(self) -> str:
        return self.source_disk_id.rstrip("/").rsplit("/", 1)[-1]

    @property
    def migrated_from(self) -> str:
        tags = self.body.get("tags")
        return str(tags.get(MIGRATED_FROM_TAG) or "") if isinstance(tags, Mapping) else ""

    @property
    def upload_size_bytes(self) -> int:
        props = self.body.get("properties")
        creation = props.get("creationData") if isinstance(props, Mapping) else None
        return _int(creation.get("uploadSizeBytes")) if isinstance(creation, Mapping) else 0


def upload_disk_request(vm: VmRef, plan: DiskPlan, source: SourceVmDefinition) -> UploadDiskRequest:
    return UploadDiskRequest(vm, plan.source.disk_id, plan.target_id, upload_disk_body(plan, source))


@dataclass(frozen=True)
class UploadDiskResult:
    disk_id: str
    disk_state: str
    created: bool
    """False: the disk of an earlier attempt of this migration was adopted (no second PUT)."""


# -- what the data plane says on the side --------------------------------------------------------------------------


def parse_range_digests(header: str) -> list[RangeDigest]:
    """:data:`RANGE_DIGESTS_HEADER`'s value; malformed items are skipped (they only cost a comparison)."""
    found: list[RangeDigest] = []
    for item in header.split(","):
        span, _, digest = item.strip().partition("=")
        start, _, end = span.partition("-")
        if digest and start.isdigit() and end.isdigit() and int(end) >= int(start):
            found.append(RangeDigest(int(start), int(end) + 1 - int(start), digest.strip()))
    return found


def with_digests(ranges: Sequence[PageRange], digests: Sequence[RangeDigest]) -> list[RangeDigest]:
    """Listed ranges with the checksum the listing gave for exactly that range (empty where it gave none)."""
    by_span = {(d.offset, d.length): d.digest for d in digests}
    return [RangeDigest(r.offset, r.length, by_span.get((r.offset, r.length), "")) for r in ranges]


def checkpoint_from_details(details: Sequence[Any], target_unique_id: str) -> CopyCheckpoint | None:
    """The checkpoint an earlier attempt heartbeated (``details[1]``), if it was for this very target disk
    (``details[2]``, its ``uniqueId``): a disk deleted and created again under the same name starts from zero.

    Heartbeat details come back without type hints, so a :class:`CopyCheckpoint` arrives as a dict."""
    if len(details) < 3 or not target_unique_id or details[2] != target_unique_id:
        return None
    raw = details[1]
    if isinstance(raw, CopyCheckpoint):
        return raw
    if not isinstance(raw, Mapping):
        return None
    above = raw.get("done_above")
    ranges = [
        PageRange(_int(r.get("offset")), _int(r.get("length")))
        for r in (above if isinstance(above, list) else [])
        if isinstance(r, Mapping)
    ]
    return CopyCheckpoint(_int(raw.get("copied_below")), ranges, _int(raw.get("bytes_copied")))
