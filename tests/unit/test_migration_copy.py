"""Migration off ADE (docs/ade-migration.md): the sparse page-range copy (chunks, checkpoints, resume, verification,
ideal time), the new resources' ARM bodies and the check of the new VM (M-3, M-4), the readiness view, and the
payloads' round trip through Temporal's data converter."""

from __future__ import annotations

import itertools
import random
from dataclasses import replace
from datetime import date, timedelta

import pytest
from temporalio.converter import DataConverter

from adeflow.domain import migration
from adeflow.domain.campaign_plan.state import ADE_RETIREMENT, RetirementPath
from adeflow.domain.migration import (
    MAX_PUT_PAGE_BYTES,
    MIB,
    MIGRATED_FROM_TAG,
    ApprovalKind,
    CopyCheckpoint,
    DiskMapping,
    MigrationFacts,
    MigrationInput,
    MigrationOutcome,
    MigrationPath,
    MigrationResult,
    NewVmFacts,
    NicPolicy,
    PageRange,
    RangeDigest,
    ReadinessEntry,
    SasWindow,
)
from adeflow.domain.model import VmRef
from tests.support.domain_facts import SUB
from tests.support.migration_facts import (
    GIB,
    REBUILD,
    T0,
    VM,
    approval,
    migration_facts,
    migration_input,
    source_definition,
)

pytestmark = pytest.mark.migration

SIZE = 32 * GIB
LIMIT = migration.upload_size_bytes(SIZE)


def sparse_ranges(seed: int, count: int, size: int = SIZE) -> list[tuple[int, int]]:
    """Written ranges as Get Page Ranges reports them: 512-aligned, some longer than 4 MiB, gaps between."""
    rng = random.Random(seed)
    offsets = sorted(rng.sample(range(0, size // (16 * MIB)), count))
    return [
        (o * 16 * MIB + rng.randrange(0, 64) * 512, rng.choice([512, 64 * 1024, 3 * MIB, 9 * MIB])) for o in offsets
    ]


def covered(ranges: list[PageRange]) -> list[PageRange]:
    return migration.normalise_ranges(ranges, LIMIT)


# -- the copy plan ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ranges", "chunks"),
    [
        ([(0, 10 * MIB)], [(0, 4 * MIB), (4 * MIB, 4 * MIB), (8 * MIB, 2 * MIB)]),
        ([(100, 1000)], [(0, 1536)]),
        ([(8192, 512), (0, 4096), (4096, 512)], [(0, 4608), (8192, 512)]),
        ([(0, 2 * MIB), (MIB, 3 * MIB)], [(0, 4 * MIB)]),
        ([(LIMIT - 512, 4096), (5, 0)], [(LIMIT - 512, 512)]),
        ([], []),
    ],
    ids=["split-at-4mib", "widened-to-pages", "sorted-and-merged", "overlapping", "clipped", "empty"],
)
def test_m_3_copy_plan_chunks_at_most_4_mib_page_aligned_in_order(
    ranges: list[tuple[int, int]], chunks: list[tuple[int, int]]
) -> None:
    assert [(c.offset, c.length) for c in migration.plan_chunks(ranges, LIMIT)] == chunks


def test_m_3_copy_plan_covers_exactly_the_written_ranges_of_a_sparse_disk() -> None:
    ranges = sparse_ranges(7, 300)
    chunks = migration.plan_chunks(ranges, LIMIT)
    assert all(c.length <= MAX_PUT_PAGE_BYTES and c.offset % 512 == 0 and c.length % 512 == 0 for c in chunks)
    assert all(a.end <= b.offset for a, b in itertools.pairwise(chunks))
    assert covered(chunks) == migration.normalise_ranges(ranges, LIMIT)
    assert sum(c.length for c in chunks) == migration.allocated_bytes(ranges, LIMIT) < SIZE // 10
    with pytest.raises(ValueError, match="multiple of 512"):
        migration.plan_chunks(ranges, LIMIT, max_chunk=8 * MIB)


def test_m_3_upload_size_is_the_source_size_plus_the_vhd_footer() -> None:
    assert migration.upload_size_bytes(SIZE) == SIZE + 512
    for bad in (0, -512, SIZE + 1):
        with pytest.raises(ValueError, match="multiple of 512"):
            migration.upload_size_bytes(bad)


def run_copy(
    chunks: list[PageRange], checkpoint_bytes: int, start: CopyCheckpoint | None, stop_after: int | None, seed: int
) -> tuple[CopyCheckpoint | None, list[PageRange]]:
    """A copy attempt: 8 calls in flight finishing in random order, a checkpoint heartbeated whenever one is due;
    ``stop_after`` calls finished, the worker is killed: only the last heartbeated checkpoint survives."""
    rng = random.Random(seed)
    tracker = migration.CopyTracker(chunks, LIMIT, checkpoint_bytes, start)
    heartbeat, written, issued = start, [], 0
    pending: list[int] = []
    while not tracker.finished:
        while issued < len(chunks) and len(pending) < 8:
            pending.append(issued)
            issued += 1
        index = pending.pop(rng.randrange(len(pending)))
        written.append(chunks[index])
        tracker.record(index)
        if stop_after is not None and len(written) >= stop_after:
            return heartbeat, written
        if tracker.due():
            heartbeat = tracker.checkpoint()
    return tracker.checkpoint(), written


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_m_3_a_resumed_copy_recopies_at_most_one_checkpoint(seed: int) -> None:
    """Two worker kills: each resumed attempt starts from the last heartbeated checkpoint and re-copies at most
    ``checkpoint_bytes`` of what the killed attempt had done; in the end every written range is on the target."""
    ranges = sparse_ranges(seed, 200)
    plan = migration.plan_chunks(ranges, LIMIT)
    every = 64 * MIB
    checkpoint: CopyCheckpoint | None = None
    written: list[PageRange] = []
    for attempt, stop_after in enumerate([len(plan) // 3, len(plan) // 3, None]):
        todo = migration.remaining_chunks(plan, checkpoint, LIMIT)
        before = migration.done_bytes(plan, checkpoint, LIMIT)
        saved, copied = run_copy(todo, every, checkpoint, stop_after, seed * 10 + attempt)
        assert saved is not None
        written += copied
        if stop_after is not None:
            lost = before + sum(c.length for c in copied) - migration.done_bytes(plan, saved, LIMIT)
            assert 0 < lost <= every  # the kill did lose work: the bound is tested, not vacuous
        checkpoint = saved
    assert checkpoint is not None and checkpoint.copied_below == LIMIT and checkpoint.done_above == []
    assert covered(written) == migration.normalise_ranges(ranges, LIMIT)
    recopied = sum(c.length for c in written) - migration.allocated_bytes(ranges, LIMIT)
    assert 0 < recopied <= 2 * every
    # What the heartbeats recorded: every written byte once, plus the re-copies they saw (not the lost work).
    assert migration.allocated_bytes(ranges, LIMIT) <= checkpoint.bytes_copied <= sum(c.length for c in written)


def test_m_3_a_checkpoint_stays_small_on_a_very_sparse_disk() -> None:
    plan = migration.plan_chunks(sparse_ranges(11, 1500, size=1024 * GIB), 1024 * GIB + 512)
    tracker = migration.CopyTracker(plan, 1024 * GIB + 512, 4 * MIB)
    for index in range(len(plan) // 2):
        tracker.record(index)
    tracker.record(len(plan) - 1)  # one call finished far ahead
    checkpoint = tracker.checkpoint()
    assert checkpoint.copied_below == plan[len(plan) // 2].offset
    assert checkpoint.done_above == [plan[-1]]


def test_m_3_a_resumed_checkpoint_keeps_what_an_earlier_attempt_finished_ahead() -> None:
    plan = migration.plan_chunks([(0, 64 * MIB)], LIMIT)
    start = CopyCheckpoint(8 * MIB, [PageRange(40 * MIB, 4 * MIB)], 12 * MIB)
    todo = migration.remaining_chunks(plan, start, LIMIT)
    assert PageRange(40 * MIB, 4 * MIB) not in todo and todo[0] == PageRange(8 * MIB, 4 * MIB)
    assert migration.done_bytes(plan, start, LIMIT) == 12 * MIB
    tracker = migration.CopyTracker(todo, LIMIT, 4 * MIB, start)
    tracker.record(0)
    assert tracker.due()
    assert tracker.checkpoint() == CopyCheckpoint(12 * MIB, [PageRange(40 * MIB, 4 * MIB)], 16 * MIB)
    assert not tracker.due()


class _CountingChunks(list[PageRange]):
    """The planned calls, counting how often the tracker looks at one."""

    reads = 0

    def __iter__(self):  # type: ignore[no-untyped-def]
        for item in super().__iter__():
            _CountingChunks.reads += 1
            yield item

    def __getitem__(self, index):  # type: ignore[no-untyped-def]
        _CountingChunks.reads += 1
        return super().__getitem__(index)


def test_m_3_a_checkpoint_costs_the_calls_in_flight_not_the_whole_disk() -> None:
    """Each checkpoint used to scan every planned call: on a 1 TiB disk fully written (262144 calls, 4096 checkpoints
    of 256 MiB) 10^9 looks, 45 s of CPU. It looks only between the watermark and the last call done (64 GiB here)."""
    chunks = _CountingChunks(migration.plan_chunks([(0, 64 * GIB)], 64 * GIB + 512))
    tracker = migration.CopyTracker(chunks, 64 * GIB + 512, 256 * MIB)
    _CountingChunks.reads = 0
    for index in range(len(chunks)):
        tracker.record(index)
        if tracker.due():
            tracker.checkpoint()
    assert tracker.finished and tracker.checkpoint().copied_below == 64 * GIB + 512
    assert _CountingChunks.reads < 4 * len(chunks), _CountingChunks.reads


def test_m_3_ideal_copy_time_under_a_per_disk_throughput_limit() -> None:
    per_disk = [600 * MIB, 300 * MIB, 300 * MIB]
    assert migration.ideal_copy_seconds(per_disk, 60 * MIB) == 10.0
    assert migration.ideal_copy_seconds(per_disk, 60 * MIB, concurrent_disks=1) == 20.0
    assert migration.ideal_copy_seconds([], 60 * MIB) == 0.0


# -- verification of a copy ----------------------------------------------------------------------------------------

SOURCE = [RangeDigest(0, 4096, "a1"), RangeDigest(8 * MIB, 6 * MIB, "b2"), RangeDigest(SIZE, 512, "")]


@pytest.mark.parametrize(
    ("target_size", "target", "digests", "ok", "reason"),
    [
        (SIZE, [PageRange(0, 4096), PageRange(8 * MIB, 6 * MIB), PageRange(SIZE, 512)], SOURCE, True, ""),
        (
            SIZE + 512,
            [PageRange(0, 4096), PageRange(8 * MIB, 4 * MIB), PageRange(12 * MIB, 2 * MIB), PageRange(SIZE, 512)],
            SOURCE,
            True,
            "",
        ),
        (SIZE, [PageRange(0, 4096), PageRange(SIZE, 512)], SOURCE, False, "copy-incomplete"),
        (
            SIZE,
            [PageRange(0, 4096), PageRange(8 * MIB, 6 * MIB), PageRange(SIZE, 512)],
            [RangeDigest(0, 4096, "a1"), RangeDigest(8 * MIB, 6 * MIB, "zz")],
            False,
            "copy-checksum-mismatch",
        ),
        (SIZE - 512, [], SOURCE, False, "copy-size-mismatch"),
    ],
    ids=["equal", "split-target-with-footer", "range-missing", "checksum-differs", "size-differs"],
)
def test_m_3_copy_verification_covers_every_range_and_compares_checksums(
    target_size: int, target: list[PageRange], digests: list[RangeDigest], ok: bool, reason: str
) -> None:
    verdict = migration.verify_copy(SIZE, target_size, SOURCE, target, digests)
    assert (verdict.ok, verdict.reason) == (ok, reason)
    if reason == "copy-incomplete":
        assert verdict.missing == [PageRange(8 * MIB, 6 * MIB)]
    if ok:
        assert verdict.unchecked == 1 and "2 checksum(s) equal" in verdict.message


# -- the new resources and the check after the VM's creation ---------------------------------------------------------


def test_m_3_the_new_vm_attaches_the_copied_disks_at_the_same_luns_with_encryption_at_host() -> None:
    request, source = migration_input(), source_definition()
    disks = migration.plan_disks(request, source)
    nics = migration.nic_ids(request, source)
    body = migration.attached_vm_body(source, disks, nics)
    props = body["properties"]
    assert props["securityProfile"]["encryptionAtHost"] is True
    assert props["securityProfile"]["securityType"] == "TrustedLaunch"
    assert props["hardwareProfile"]["vmSize"] == source.size and body["zones"] == ["1"]
    assert body["tags"] == {"owner": "team-web", "env": "prod", MIGRATED_FROM_TAG: VM.resource_id}
    os_disk = props["storageProfile"]["osDisk"]
    assert (os_disk["createOption"], os_disk["managedDisk"]["id"]) == ("Attach", disks[0].target_id)
    assert os_disk["name"] == "web-01-osdisk-eah" and "lun" not in os_disk
    assert [(d["lun"], d["name"], d["createOption"]) for d in props["storageProfile"]["dataDisks"]] == [
        (0, "web-01-datadisk-0-eah", "Attach"),
        (1, "web-01-datadisk-1-eah", "Attach"),
    ]
    assert props["networkProfile"]["networkInterfaces"][0]["id"].endswith("/networkInterfaces/web-01-eah-nic0")
    nic_bodies = migration.new_nic_bodies(request, source)
    subnet = nic_bodies["web-01-eah-nic0"]["properties"]["ipConfigurations"][0]["properties"]["subnet"]["id"]
    assert subnet == source.nics[0].subnet_id
    reuse = migration_input(nic_policy=NicPolicy.REUSE)
    assert migration.nic_ids(reuse, source) == [source.nics[0].nic_id] and migration.new_nic_bodies(reuse, source) == {}
    os_body = migration.upload_disk_body(disks[0], source)
    assert os_body["properties"] == {
        "creationData": {"createOption": "Upload", "uploadSizeBytes": 32 * GIB + 512},
        "osType": "Linux",
        "hyperVGeneration": "V2",
        "securityProfile": {"securityType": "TrustedLaunch"},
    }
    assert "osType" not in migration.upload_disk_body(disks[1], source)["properties"]


def test_m_4_the_rebuilt_vm_comes_from_the_image_with_empty_data_disks_at_the_same_luns() -> None:
    request, source = migration_input(rebuild=REBUILD), source_definition()
    body = migration.rebuilt_vm_body(request, source, REBUILD, migration.nic_ids(request, source))
    storage = body["properties"]["storageProfile"]
    assert storage["imageReference"]["offer"] == "ubuntu-24_04-lts" and storage["osDisk"]["createOption"] == "FromImage"
    assert [(d["lun"], d["createOption"], d["diskSizeGB"]) for d in storage["dataDisks"]] == [
        (0, "Empty", 64),
        (1, "Empty", 64),
    ]
    assert body["properties"]["securityProfile"]["encryptionAtHost"] is True
    ssh = body["properties"]["osProfile"]["linuxConfiguration"]["ssh"]["publicKeys"][0]
    assert ssh == {"path": "/home/azureuser/.ssh/authorized_keys", "keyData": REBUILD.ssh_public_key}


GOOD_VM = NewVmFacts(
    exists=True,
    resource_id=VM.resource_id + "-eah",
    provisioning_state="Succeeded",
    encryption_at_host=True,
    power_state="PowerState/running",
    disk_ids=["/d/web-01-osdisk-eah"],
    tags={MIGRATED_FROM_TAG: VM.resource_id},
)


@pytest.mark.parametrize(
    ("created", "ok", "says"),
    [
        (GOOD_VM, True, "running with encryption at host"),
        (replace(GOOD_VM, encryption_at_host=False), False, "encryptionAtHost is not true"),
        (replace(GOOD_VM, power_state="stopped"), False, "not running"),
        (replace(GOOD_VM, provisioning_state="Failed"), False, "provisioning state is Failed"),
        (NewVmFacts(exists=False), False, "not there"),
        (replace(GOOD_VM, disk_ids=[]), False, "not attached"),
        (replace(GOOD_VM, tags={}), False, MIGRATED_FROM_TAG),
    ],
    ids=["good", "no-eah", "stopped", "failed", "missing", "disk-missing", "no-link"],
)
def test_m_3_new_vm_verification_needs_encryption_at_host_and_running(created: NewVmFacts, ok: bool, says: str) -> None:
    verdict = migration.verify_new_vm("web-01-eah", source_definition(), created, ["/d/WEB-01-osdisk-eah"])
    assert verdict.ok is ok and says in verdict.message


# -- readiness -----------------------------------------------------------------------------------------------------


def test_readiness_counts_vms_per_path_and_per_month_left_until_ade_retires() -> None:
    def vm(name: str) -> VmRef:
        return VmRef(SUB, "rg", name)

    entries = [
        ReadinessEntry(vm("a"), RetirementPath.DISABLE_THEN_HOST, date(2027, 3, 10)),
        ReadinessEntry(vm("b"), RetirementPath.DISABLE_THEN_HOST, date(2027, 3, 20)),
        ReadinessEntry(vm("c"), RetirementPath.REBUILD, date(2028, 9, 20)),
        ReadinessEntry(vm("d"), RetirementPath.REBUILD),
        ReadinessEntry(vm("e"), RetirementPath.DISABLE_THEN_HOST, migrated=True),
        ReadinessEntry(vm("f"), RetirementPath.NO_ADE),
        ReadinessEntry(vm("g"), RetirementPath.READY),
    ]
    view = migration.readiness(entries, date(2026, 12, 1))
    assert view.retirement == ADE_RETIREMENT and view.days_left == (ADE_RETIREMENT - date(2026, 12, 1)).days
    assert view.months_left == 21
    assert view.per_path == {"disable-then-encryption-at-host": 3, "encryption-at-host": 1, "no-ade": 1, "rebuild": 2}
    assert (view.to_migrate, view.migrated, view.late, view.pace_per_month) == (4, 1, 1, 1)
    assert [(m.month, m.months_left, m.counts) for m in view.per_month] == [
        ("2027-03", 18, {"disable-then-encryption-at-host": 2}),
        ("2028-09", 0, {"rebuild": 1}),
    ]
    assert view.unscheduled == {"rebuild": 1}
    assert migration.readiness(entries, ADE_RETIREMENT + timedelta(days=40)).pace_per_month == 4


# -- payloads ------------------------------------------------------------------------------------------------------


def test_migration_payloads_round_trip_through_temporal() -> None:
    converter = DataConverter.default.payload_converter
    request = migration_input(rebuild=REBUILD, downtime_window=migration.DowntimeWindow(T0, T0 + timedelta(hours=2)))
    facts = migration_facts()
    result = MigrationResult(
        vm=VM,
        outcome=MigrationOutcome.MIGRATED,
        path=MigrationPath.COPY_DISKS,
        new_vm_id=VM.resource_id + "-eah",
        disks=[DiskMapping("/d/src", "/d/dst", 0, SIZE, allocated_bytes=100 * MIB, copied_bytes=101 * MIB)],
        sas_windows=[SasWindow("/d/src", "Read", T0, 14400, T0 + timedelta(hours=1))],
        approvals=[approval(ApprovalKind.DOWNTIME), approval(ApprovalKind.CLEANUP)],
        timings=[migration.MigrationPhaseTiming(migration.MigrationPhase.COPYING, T0, T0 + timedelta(minutes=5))],
    )
    checkpoint = CopyCheckpoint(4 * MIB, [PageRange(12 * MIB, 4 * MIB)], 8 * MIB)
    values = [request, facts, result, checkpoint]
    back = converter.from_payloads(
        converter.to_payloads(values), [MigrationInput, MigrationFacts, MigrationResult, CopyCheckpoint]
    )
    assert back == values
    assert result.copied_over_allocated == pytest.approx(1.01)
    assert result.timings[0].seconds == 300.0
