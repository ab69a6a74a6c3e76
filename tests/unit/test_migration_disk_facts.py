"""What the disk-copy activities read and decide without a server (docs/ade-migration.md, M-1/M-2/M-3): ARM's disk
body, the Upload disk request and its adoption on retry, the data plane's checksums, the checkpoint a retried attempt
inherits through Temporal's converter, and the Blob retry bound."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from azure.core.pipeline.transport import HttpRequest
from temporalio.converter import DataConverter

from activities.azure.blob import MAX_BLOB_PAUSE_S, BoundedBlobRetry
from adeflow.domain import migration
from adeflow.domain.migration import CopyCheckpoint, ExistingTarget, PageRange, RangeDigest
from tests.support.arm_examples import EXAMPLES
from tests.support.migration_facts import VM, migration_input, source_definition

pytestmark = pytest.mark.migration

MIB = 1024 * 1024


def test_m_2_a_disk_body_is_read_in_both_spellings() -> None:
    """ARM's own example (REST keys) and an SDK ``as_dict()``-style body (snake_case, flattened) read alike."""
    example = json.loads((EXAMPLES / "Disk_Get.json").read_text())["responses"]["200"]["body"]
    rest = migration.parse_copy_disk(example)
    assert rest.managed_by.endswith("/virtualMachines/TestVM414689371c88843d65ec")
    assert rest.create_option == "FromImage" and rest.ade_marker, "encryption settings on the disk: the M-2 marker"

    sdk = migration.parse_copy_disk(
        {
            "id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/disks/d-eah",
            "name": "d-eah",
            "tags": {migration.MIGRATED_FROM_TAG: "/vm/src"},
            "disk_size_bytes": 4 * MIB,
            "disk_state": "ActiveUpload",
            "unique_id": "u-1",
            "creation_data": {"create_option": "Upload", "upload_size_bytes": 4 * MIB + 512},
        }
    )
    assert (sdk.size_bytes, sdk.upload_size_bytes, sdk.unique_id) == (4 * MIB, 4 * MIB + 512, "u-1")
    assert sdk.open_for_upload and not sdk.ade_marker and sdk.migrated_from == "/vm/src"
    assert sdk.as_existing_target() == ExistingTarget("disk", "d-eah", sdk.disk_id, "/vm/src", False, "Upload")


def test_m_1_the_upload_disk_request_carries_the_planned_body() -> None:
    source = source_definition()
    plan = migration.plan_disks(migration_input(), source)[0]
    request = migration.upload_disk_request(VM, plan, source)
    assert request.target_disk_id == plan.target_id and request.target_name == plan.target_name
    assert request.source_name == plan.source.name
    assert request.upload_size_bytes == plan.source.size_bytes + 512
    assert request.migrated_from == source.resource_id
    assert migration.check_new_disk_body(request.target_name, request.body) == []


@pytest.mark.parametrize(
    ("found", "size", "reason"),
    [
        (ExistingTarget("disk", "d-eah", "/d", "/vm/src", False, "Upload"), 1024 + 512, ""),
        (ExistingTarget("disk", "d-eah", "/d", "", False, "Upload"), 1024 + 512, "target-name-taken"),
        (ExistingTarget("disk", "d-eah", "/d", "/VM/SRC", False, "Copy"), 1024 + 512, "target-carries-ade-marker"),
        (ExistingTarget("disk", "d-eah", "/d", "/vm/src", False, "Empty"), 1024 + 512, "not-an-upload-disk"),
        (ExistingTarget("disk", "d-eah", "/d", "/vm/src", False, "Upload"), 2048 + 512, "copy-size-mismatch"),
    ],
)
def test_m_1_m_2_a_retry_adopts_only_its_own_upload_disk_of_the_planned_size(
    found: ExistingTarget, size: int, reason: str
) -> None:
    refusals = migration.check_adopt_upload_disk(found, "/vm/src", size, 1024 + 512)
    assert [r.reason for r in refusals] == ([reason] if reason else [])
    assert all(r.rule in ("M-1", "M-2") and "d-eah" in r.message for r in refusals)


def test_m_3_checksums_per_listed_range() -> None:
    digests = migration.parse_range_digests("0-4095=aa, 8388608-14680063=bb,junk,5-1=zz,  512-1023=")
    assert digests == [RangeDigest(0, 4096, "aa"), RangeDigest(8 * MIB, 6 * MIB, "bb")]
    ranges = [PageRange(0, 4096), PageRange(8 * MIB, 6 * MIB), PageRange(32 * MIB, 512)]
    assert migration.with_digests(ranges, digests) == [*digests, RangeDigest(32 * MIB, 512, "")]


async def test_m_3_the_checkpoint_survives_temporals_converter_and_names_its_disk() -> None:
    """Heartbeat details come back as plain JSON values: the checkpoint is rebuilt from them, for the same target
    disk only (a disk deleted and created again under the name has another uniqueId)."""
    saved = CopyCheckpoint(64 * MIB, [PageRange(80 * MIB, 4 * MIB)], 70 * MIB)
    converter = DataConverter.default
    payloads = await converter.encode(["copying", saved, "unique-1"])
    details = await converter.decode(payloads)
    assert isinstance(details[1], dict)
    assert migration.checkpoint_from_details(details, "unique-1") == saved
    assert migration.checkpoint_from_details(details, "unique-2") is None
    assert migration.checkpoint_from_details(["copying"], "unique-1") is None
    assert migration.checkpoint_from_details(["copying", "garbage", "unique-1"], "unique-1") is None


class _Response:
    def __init__(self, headers: dict[str, str]) -> None:
        self.headers = headers
        self.status_code = 503


def _settings(policy: BoundedBlobRetry) -> dict[str, Any]:
    settings = {
        "total": 5,
        "connect": 3,
        "read": 3,
        "status": 5,
        "retry_secondary": False,
        "mode": None,
        "hosts": None,
        "body_position": None,
        "count": 0,
        "history": [],
    }
    settings["deadline"] = time.monotonic() + policy.budget_s
    return settings


def test_m_3_blob_retries_wait_what_the_service_asks_within_the_call_budget() -> None:
    """ServerBusy names a Retry-After: the next try waits exactly that (capped), never past the call's budget;
    without one, 1, 2, 4 s."""
    policy = BoundedBlobRetry(budget_s=10)
    request = HttpRequest("PUT", "https://sim/_blob/c/abcd?sig=x")
    settings = _settings(policy)
    assert policy.increment(settings, request, _Response({"Retry-After": "3"}))
    assert policy.get_backoff_time(settings) == 3
    assert not policy.increment(settings, request, _Response({"Retry-After": "30"})), "past the 10 s budget"

    fresh = _settings(BoundedBlobRetry())
    assert BoundedBlobRetry().increment(fresh, request, _Response({"Retry-After": "600"}))
    assert fresh["pause"] == MAX_BLOB_PAUSE_S
    backoff = _settings(policy)
    pauses = []
    for _ in range(3):
        assert policy.increment(backoff, request, _Response({}))
        pauses.append(backoff["pause"])
    assert pauses == [1.0, 2.0, 4.0]
