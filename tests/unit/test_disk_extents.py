"""The simulator's disk content model: sparse checksummed extents, copies that carry their source's checksums,
the copy check range by range, and the fleet file's "used data" (docs/ade-migration.md, the disk copy)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from azuresim.fleet import DataDiskSpec, FleetSpec
from azuresim.state.compute import ManagedDisk
from azuresim.state.disks import fleet_pages, verify_copy
from azuresim.state.extents import ZEROS, Extent, ExtentMap

pytestmark = pytest.mark.migration

MIB = 1024 * 1024
GIB = 1024 * MIB


def disk(name: str, size_gb: int = 1) -> ManagedDisk:
    return ManagedDisk("sub", "rg", name, "eastus", size_gb, "Premium_LRS", datetime(2028, 1, 1, tzinfo=UTC))


def test_writes_merge_runs_of_one_stream_and_split_what_they_cover() -> None:
    pages = ExtentMap([Extent(0, 100, "a", 0), Extent(100, 200, "a", 100), Extent(300, 400, "b", 0)])
    assert [(e.start, e.end, e.content) for e in pages] == [(0, 200, "a"), (300, 400, "b")]
    pages.write(150, 350, [Extent(160, 170, "c", 5)])
    assert [(e.start, e.end, e.content, e.origin) for e in pages] == [
        (0, 150, "a", 0),
        (150, 160, ZEROS, 0),
        (160, 170, "c", 5),
        (170, 350, ZEROS, 0),
        (350, 400, "b", 50),
    ]
    assert pages.ranges() == [(0, 400)] and pages.written_bytes == 400
    pages.clear(0, 160)
    assert pages.ranges() == [(160, 400)]


def test_a_copied_range_carries_the_source_checksums() -> None:
    source = ExtentMap([Extent(0, 8 * MIB, "data", 0), Extent(20 * MIB, 21 * MIB, "data", 20 * MIB)])
    target = ExtentMap()
    for lo in (0, 4 * MIB, 20 * MIB):
        target.copy_from(source, lo, lo, min(4 * MIB, 21 * MIB - lo))
    assert [e.checksum for e in target] == [e.checksum for e in source]
    for lo, hi in source.ranges():
        assert target.fingerprint(lo, hi) == source.fingerprint(lo, hi)
    shifted = ExtentMap()
    shifted.copy_from(source, 0, MIB, MIB)
    assert shifted.fingerprint(MIB, 2 * MIB) == source.fingerprint(0, MIB), "equal bytes, wherever they lie"
    assert shifted.fingerprint(MIB, 2 * MIB) != source.fingerprint(MIB, 2 * MIB)


def test_zeros_copied_from_unwritten_pages_equal_unwritten_pages() -> None:
    source = ExtentMap([Extent(MIB, 2 * MIB, "data", 0)])
    target = ExtentMap()
    target.copy_from(source, 0, 0, 4 * MIB)
    assert target.ranges() == [(0, 4 * MIB)], "Put Page From URL writes every page of its range"
    assert target.fingerprint(0, 4 * MIB) == source.fingerprint(0, 4 * MIB)


def test_verify_copy_finds_missing_wrong_and_extra_ranges() -> None:
    source, good, partial, extra = disk("src"), disk("good"), disk("partial"), disk("extra")
    source.pages = fleet_pages(source, None, None, 0.3)
    for target in (good, partial, extra):
        target.upload_size_bytes = source.blob_bytes
        for lo, hi in source.pages.ranges():
            target.pages.copy_from(source.pages, lo, lo, hi - lo)
    partial.pages.clear(0, 512)
    extra.pages.write(GIB - MIB, GIB - MIB + 512, [Extent(GIB - MIB, GIB - MIB + 512, "stray", 0)])
    assert verify_copy(source, good).ok
    found = verify_copy(source, partial)
    assert not found.ok and found.mismatched == (source.pages.ranges()[0],) and not found.extra_data
    found = verify_copy(source, extra)
    assert not found.ok and found.mismatched == () and found.extra_data
    small = disk("small")
    small.upload_size_bytes = source.blob_bytes - MIB
    assert not verify_copy(source, small).size_matches


def test_fleet_disks_default_to_a_written_fraction_spread_over_the_disk() -> None:
    d = disk("d", size_gb=100)
    pages = fleet_pages(d, None, None, 0.3)
    ranges = pages.ranges()
    assert len(ranges) == 17 and ranges[-1] == (100 * GIB, 100 * GIB + 512), "16 runs and the VHD footer"
    assert pages.written_bytes == round(100 * 1024 * 0.3) * MIB + 512
    assert fleet_pages(d, 0, None, 0.3).ranges() == [(100 * GIB, 100 * GIB + 512)]
    assert fleet_pages(d, 100, None, 0.3).ranges() == [(0, 100 * GIB + 512)]


@pytest.mark.parametrize(
    ("spec", "error"),
    [
        ({"written_gb": 5}, "exceeds the disk's 4 GB"),
        ({"written_gb": 1, "written_extents": []}, "not both"),
        ({"written_extents": [{"offset_mib": 0, "length_mib": 10}, {"offset_mib": 5, "length_mib": 1}]}, "overlap"),
        ({"written_extents": [{"offset_mib": 4090, "length_mib": 10}]}, "beyond the disk"),
    ],
)
def test_fleet_file_refuses_impossible_written_data(spec: dict[str, Any], error: str) -> None:
    with pytest.raises(ValidationError, match=error):
        DataDiskSpec.model_validate({"lun": 0, "size_gb": 4, **spec})


def test_fleet_file_takes_written_data_and_throughput_settings() -> None:
    fleet = FleetSpec.model_validate(
        {
            "sim": {"disk_mb_per_s": 60, "disk_queue_s": 2, "disk_written_fraction": 0.1},
            "subscriptions": [
                {
                    "id": "6f1c3a52-8d11-4c4e-9a7e-000000000001",
                    "resource_groups": [
                        {
                            "name": "rg",
                            "location": "eastus",
                            "vms": [{"name": "vm", "os_disk": {"written_gb": 2.5}}],
                            "disks": [{"name": "d", "written_extents": [{"offset_mib": 0, "length_mib": 1}]}],
                        }
                    ],
                }
            ],
        }
    )
    assert fleet.sim.disk_mb_per_s == 60 and fleet.sim.disk_written_fraction == 0.1
    vm = fleet.subscriptions[0].resource_groups[0].vms[0]
    assert vm.os_disk.written_gb == 2.5
