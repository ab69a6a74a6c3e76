"""The disk-copy activities of a migration (docs/ade-migration.md, M-1/M-2/M-3/M-7) against the simulator, with the
real azure-mgmt-compute and azure-storage-blob clients: Upload disks, the sparse copy and its verification, resume
from a heartbeated checkpoint, SAS renewal, ServerBusy, and the refusals."""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections.abc import Callable
from typing import Any

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.azure.clients import AzureClients
from activities.migration_disks import MigrationDiskActivities
from adeflow.domain import migration
from adeflow.domain.migration import CopyCheckpoint, DiskCopyRequest, DiskCopyResult, UploadDiskRequest
from adeflow.domain.model import VmRef
from azuresim.server import SimServer
from azuresim.state.disks import disk_state as state_of
from tests.support.servers import SimFactory

pytestmark = pytest.mark.migration

Azure = Callable[[SimServer], AzureClients]

SUB = "6f1c3a52-8d11-4c4e-9a7e-0000000000c0"
RG = "rg-copy"
PROVIDERS = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers"
MIB = 1024 * 1024
GIB = 1024 * MIB
RUNS = 48
"""The data disk holds 48 written runs of 1 MiB, 8 MiB apart, in 1 GiB: a sparse disk."""
DATA = "src-datadisk-0"
ALLOCATED = RUNS * MIB + 512
"""What a sparse copy moves: the written runs and the VHD footer."""


def fleet(**sim: Any) -> dict[str, Any]:
    """``src`` (deallocated by the tests before a copy), ``busy`` (running), and a foreign disk named like a
    target (``taken-datadisk-0-eah``)."""
    runs = [{"offset_mib": 8 * i, "length_mib": 1} for i in range(RUNS)]
    return {
        "sim": {"disk_queue_s": 3600, **sim},
        "subscriptions": [
            {
                "id": SUB,
                "resource_groups": [
                    {
                        "name": RG,
                        "location": "eastus",
                        "vms": [
                            {
                                "name": "src",
                                "tags": {"team": "web"},
                                "os_disk": {"size_gb": 30, "written_extents": [{"offset_mib": 0, "length_mib": 6}]},
                                "data_disks": [{"lun": 0, "size_gb": 1, "written_extents": runs}],
                            },
                            {"name": "busy", "data_disks": [{"lun": 0, "size_gb": 1}]},
                            {"name": "taken", "data_disks": [{"lun": 0, "size_gb": 1}]},
                        ],
                        "disks": [{"name": "taken-datadisk-0-eah", "size_gb": 1, "os_type": None}],
                    }
                ],
            }
        ],
    }


def disk_id(name: str) -> str:
    return f"{PROVIDERS}/Microsoft.Compute/disks/{name}"


def vm_ref(name: str) -> VmRef:
    return VmRef(SUB, RG, name)


def upload_request(vm: str, disk: str, *, size: int = GIB, os_disk: bool = False, **body: Any) -> UploadDiskRequest:
    props: dict[str, Any] = {"creationData": {"createOption": "Upload", "uploadSizeBytes": size + 512}}
    if os_disk:
        props.update(osType="Linux", hyperVGeneration="V2")
    vm_id = f"{PROVIDERS}/Microsoft.Compute/virtualMachines/{vm}"
    full = {
        "location": "eastus",
        "sku": {"name": "Premium_LRS"},
        "tags": {"team": "web", migration.MIGRATED_FROM_TAG: vm_id},
        "properties": props,
        **body,
    }
    return UploadDiskRequest(vm_ref(vm), disk_id(disk), disk_id(f"{disk}-eah"), full)


def copy_request(disk: str, *, size: int = GIB, **overrides: Any) -> DiskCopyRequest:
    base: dict[str, Any] = {
        "source_disk_id": disk_id(disk),
        "target_disk_id": disk_id(f"{disk}-eah"),
        "source_size_bytes": size,
        "sas_duration_s": 4 * 3600,
        "parallelism": 4,
        "checkpoint_bytes": 8 * MIB,
        "max_chunk_bytes": MIB,
    }
    return DiskCopyRequest(**{**base, **overrides})


def deallocate(sim: SimServer, vm: str) -> None:
    sim.inject({"kind": "vm_deallocated", "vm": vm, "after_s": 0})


def slow_down(sim: SimServer, disk: str, mib_per_s: float) -> None:
    """The disk's page-blob throughput in MiB per simulated second."""
    sim.state.disk(SUB, RG, disk).mb_per_s = mib_per_s


def copied_bytes_on_the_service(sim: SimServer) -> int:
    """Bytes every accepted Put Page From URL wrote (the simulator's request log): re-copies included."""
    total = 0
    for record in sim.requests():
        found = re.search(r"target=\S+ bytes=(\d+)-(\d+)", record.detail)
        if record.operation == "PutPageFromURL" and record.status == 201 and found:
            total += int(found[2]) + 1 - int(found[1])
    return total


def disk_state(sim: SimServer, name: str) -> str:
    return state_of(sim.state.disk(SUB, RG, name), sim.clock.now())


async def ready(sim: SimServer, azure: Azure, disk: str = DATA, **upload: Any) -> MigrationDiskActivities:
    """The source VM deallocated and the Upload disk created, as the workflow does before a copy."""
    deallocate(sim, "src")
    activities = MigrationDiskActivities(azure(sim))
    await ActivityEnvironment().run(activities.create_upload_disk, upload_request("src", disk, **upload))
    return activities


def assert_faithful(sim: SimServer, source: str, result: DiskCopyResult) -> None:
    check = sim.state.verify_copy(sim.state.disk(SUB, RG, source), sim.state.disk(SUB, RG, f"{source}-eah"))
    assert check.ok, check
    assert result.allocated_bytes == ALLOCATED if source == DATA else True
    assert result.ranges > 0 and result.checksums_compared == result.ranges  # the simulator sends each digest
    assert disk_state(sim, source) == "Reserved", "the read SAS is revoked (the disk of a deallocated VM)"
    assert disk_state(sim, f"{source}-eah") == "Unattached", "the upload ended (endGetAccess)"


# -- the sparse copy ---------------------------------------------------------------------------------------------


async def test_m_3_copies_only_the_written_ranges_and_verifies(make_sim: SimFactory, azure_for: Azure) -> None:
    """A sparse 1 GiB disk (48 MiB written): only the written ranges are sent, at most 1 MiB per call as asked,
    the copy verified and both SAS revoked, with their windows as evidence."""
    sim = make_sim(fleet(), scale=60)
    activities = await ready(sim, azure_for)
    result = await ActivityEnvironment().run(activities.copy_disk, copy_request(DATA))

    assert_faithful(sim, DATA, result)
    assert result.copied_bytes == result.allocated_bytes == ALLOCATED
    assert copied_bytes_on_the_service(sim) <= 1.01 * ALLOCATED
    puts = [r for r in sim.requests() if r.operation == "PutPageFromURL"]
    assert len(puts) == RUNS + 1  # one call per 1 MiB run, one for the footer
    assert (result.resumed_from_bytes, result.sas_renewals) == (0, 0)
    assert sorted(w.access for w in result.sas_windows) == ["Read", "Write"]
    assert all(w.revoked_at is not None and w.duration_s == 4 * 3600 for w in result.sas_windows)
    # The Blob clients ride the ARM clients' session: one TLS trust (the simulator's CA), one connection pool.
    arm = {r.connection for r in sim.requests() if r.operation.startswith("Disks_")}
    data = {r.connection for r in sim.requests() if r.operation in ("GetPageRanges", "PutPageFromURL")}
    assert arm & data and len(arm | data) <= 6, (arm, data)


async def test_m_3_os_disk_upload_carries_os_type_and_generation(make_sim: SimFactory, azure_for: Azure) -> None:
    sim = make_sim(fleet(), scale=60)
    activities = await ready(sim, azure_for, "src-osdisk", size=30 * GIB, os_disk=True)
    target = sim.state.disk(SUB, RG, "src-osdisk-eah")
    assert (target.os_type, target.hyper_v_generation, target.upload_size_bytes) == ("Linux", "V2", 30 * GIB + 512)
    assert target.tags[migration.MIGRATED_FROM_TAG].endswith("/virtualMachines/src")
    result = await ActivityEnvironment().run(
        activities.copy_disk, copy_request("src-osdisk", size=30 * GIB, max_chunk_bytes=4 * MIB)
    )
    assert_faithful(sim, "src-osdisk", result)
    assert result.allocated_bytes == 6 * MIB + 512 and result.copied_bytes == result.allocated_bytes


# -- resume --------------------------------------------------------------------------------------------------------


async def test_m_3_a_killed_copy_resumes_from_its_checkpoint(make_sim: SimFactory, azure_for: Azure) -> None:
    """The attempt is killed mid-copy; the next one starts from the checkpoint the first heartbeated and re-copies
    at most one checkpoint (8 MiB) of what the first had sent."""
    sim = make_sim(fleet(), scale=60)
    activities = await ready(sim, azure_for)
    slow_down(sim, DATA, 0.5)  # 30 MiB per real second at scale 60
    request = copy_request(DATA)

    first = ActivityEnvironment()
    beats: list[tuple[Any, ...]] = []
    first.on_heartbeat = lambda *details: beats.append(details)
    task = asyncio.create_task(first.run(activities.copy_disk, request))
    while copied_bytes_on_the_service(sim) < 20 * MIB:
        await asyncio.sleep(0.02)
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    killed_at = copied_bytes_on_the_service(sim)
    saved = migration.checkpoint_from_details(beats[-1], sim.state.disk(SUB, RG, f"{DATA}-eah").unique_id)
    assert saved is not None and 0 < saved.copied_below < GIB and 0 < saved.bytes_copied < ALLOCATED
    assert disk_state(sim, f"{DATA}-eah") == "ActiveUpload", "a retryable end leaves the upload open"

    second = ActivityEnvironment()
    second.info = dataclasses.replace(second.info, heartbeat_details=list(beats[-1]))
    result = await second.run(activities.copy_disk, request)
    assert_faithful(sim, DATA, result)
    recopied = copied_bytes_on_the_service(sim) - ALLOCATED
    assert 0 <= recopied <= request.checkpoint_bytes, (recopied, killed_at)
    assert 0 < result.resumed_from_bytes < ALLOCATED
    assert result.copied_bytes >= ALLOCATED


async def test_m_3_a_checkpoint_is_checked_not_trusted(make_sim: SimFactory, azure_for: Azure) -> None:
    """A checkpoint for another disk of the same name is ignored; one that claims ranges the target does not hold
    fails the verification (copy-incomplete, non-retryable) and both SAS are revoked."""
    sim = make_sim(fleet(), scale=60)
    activities = await ready(sim, azure_for)
    request = copy_request(DATA)
    lying = CopyCheckpoint(24 * 8 * MIB, [], 24 * MIB)

    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, heartbeat_details=["copying", lying, "another-disk-unique-id"])
    other = await env.run(activities.copy_disk, request)
    assert other.resumed_from_bytes == 0 and other.copied_bytes == ALLOCATED

    # A fresh Upload disk, and a checkpoint for it that claims half of the copy done.
    fresh = await _fresh_target(sim, azure_for, activities)
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, heartbeat_details=["copying", dataclasses.asdict(lying), fresh])
    with pytest.raises(ApplicationError) as err:
        await env.run(activities.copy_disk, request)
    assert err.value.type == "copy-incomplete" and err.value.non_retryable
    assert "M-3" in err.value.message and "src" in err.value.message and f"{DATA}-eah" in err.value.message
    assert disk_state(sim, DATA) == "Reserved" and disk_state(sim, f"{DATA}-eah") == "Unattached"


async def _fresh_target(sim: SimServer, azure: Azure, activities: MigrationDiskActivities) -> str:
    """Delete the copy target and create it again; its new uniqueId."""
    compute = azure(sim).compute(SUB)
    await (await compute.disks.begin_delete(RG, f"{DATA}-eah")).result()
    await ActivityEnvironment().run(activities.create_upload_disk, upload_request("src", DATA))
    return sim.state.disk(SUB, RG, f"{DATA}-eah").unique_id


# -- SAS expiry, ServerBusy ----------------------------------------------------------------------------------------


async def test_m_3_sas_expiring_mid_copy_is_renewed(make_sim: SimFactory, azure_for: Azure) -> None:
    """Both SAS expire after 60 simulated seconds, mid-copy: the copy grants each again and goes on."""
    sim = make_sim(fleet(), scale=60)
    activities = await ready(sim, azure_for)
    slow_down(sim, DATA, 0.5)  # about 100 simulated seconds of copying
    for disk in (DATA, f"{DATA}-eah"):
        sim.inject({"kind": "sas_expiry", "disk": disk, "after_s": 60, "count": 1})
    result = await ActivityEnvironment().run(activities.copy_disk, copy_request(DATA))
    assert_faithful(sim, DATA, result)
    assert result.sas_renewals == 2
    assert sorted(w.access for w in result.sas_windows) == ["Read", "Read", "Write", "Write"]
    assert all(w.revoked_at is not None for w in result.sas_windows)
    codes = {(r.operation, r.status) for r in sim.requests()}
    assert ("PutPageFromURL", 403) in codes


async def test_m_3_a_sas_that_never_works_fails_final_and_ends_the_upload(
    make_sim: SimFactory, azure_for: Azure
) -> None:
    """Every read SAS of the source is dead on arrival (a clock far off, say): after a few renewals without progress
    the copy fails (sas-expired, non-retryable), revokes both SAS and says the partial target must be deleted."""
    sim = make_sim(fleet(), scale=60)
    activities = await ready(sim, azure_for)
    sim.inject({"kind": "sas_expiry", "disk": DATA, "after_s": 0, "count": 100})
    with pytest.raises(ApplicationError) as err:
        await ActivityEnvironment().run(activities.copy_disk, copy_request(DATA))
    assert err.value.type == "sas-expired" and err.value.non_retryable
    assert "VM src" in err.value.message and "M-3" in err.value.message
    assert f"delete disk {DATA}-eah" in err.value.message
    grants = [r for r in sim.requests() if r.operation == "Disks_GrantAccess" and DATA + "/" in r.path + "/"]
    assert len(grants) == 4, "the first grant and three renewals"
    assert disk_state(sim, DATA) == "Reserved" and disk_state(sim, f"{DATA}-eah") == "Unattached"


async def test_m_3_a_server_busy_storm_still_completes(make_sim: SimFactory, azure_for: Azure) -> None:
    """30 Put Page From URL answers of 503 ServerBusy (Retry-After 1 s): the SDK waits what the service asks,
    the copy completes and verifies."""
    sim = make_sim(fleet(), scale=60)
    activities = await ready(sim, azure_for)
    sim.inject(
        {"kind": "server_busy", "disk": f"{DATA}-eah", "operation": "PutPageFromURL", "count": 30, "retry_after": 1}
    )
    result = await ActivityEnvironment().run(activities.copy_disk, copy_request(DATA))
    assert_faithful(sim, DATA, result)
    busy = [r for r in sim.requests() if r.operation == "PutPageFromURL" and r.status == 503]
    assert len(busy) == 30
    assert result.copied_bytes == ALLOCATED


async def test_m_3_a_stalled_copy_fails_retryable_and_keeps_the_upload_open(
    make_sim: SimFactory, azure_for: Azure
) -> None:
    """A storm that outlasts the stall limit fails the attempt (copy-stalled, retryable): the source's read SAS is
    revoked, the target's upload stays open; the next attempt completes the copy."""
    sim = make_sim(fleet(), scale=60)
    await ready(sim, azure_for)
    activities = MigrationDiskActivities(azure_for(sim), stall_s=2.0)
    sim.inject(
        {"kind": "server_busy", "disk": f"{DATA}-eah", "operation": "PutPageFromURL", "count": 10_000, "retry_after": 1}
    )
    env = ActivityEnvironment()
    beats: list[tuple[Any, ...]] = []
    env.on_heartbeat = lambda *details: beats.append(details)
    with pytest.raises(ApplicationError) as err:
        await env.run(activities.copy_disk, copy_request(DATA))
    assert err.value.type == "copy-stalled" and not err.value.non_retryable
    assert "M-3" in err.value.message and "VM src" in err.value.message
    assert disk_state(sim, DATA) == "Reserved" and disk_state(sim, f"{DATA}-eah") == "ActiveUpload"

    sim.clear_faults()
    again = ActivityEnvironment()
    again.info = dataclasses.replace(again.info, heartbeat_details=list(beats[-1]))
    result = await again.run(activities.copy_disk, copy_request(DATA))
    assert_faithful(sim, DATA, result)


# -- refusals and adoption -----------------------------------------------------------------------------------------


async def test_m_7_a_disk_of_a_running_vm_is_not_copied(make_sim: SimFactory, azure_for: Azure) -> None:
    sim = make_sim(fleet(), scale=60)
    activities = MigrationDiskActivities(azure_for(sim))
    await ActivityEnvironment().run(activities.create_upload_disk, upload_request("busy", "busy-datadisk-0"))
    with pytest.raises(ApplicationError) as err:
        await ActivityEnvironment().run(activities.copy_disk, copy_request("busy-datadisk-0"))
    assert err.value.type == "source-disk-in-use" and err.value.non_retryable
    assert "M-7" in err.value.message and "VM busy" in err.value.message and "Fix: Deallocate" in err.value.message
    assert not [r for r in sim.requests() if r.operation == "Disks_GrantAccess"]


async def test_m_1_create_upload_disk_adopts_its_own_disk_and_refuses_others(
    make_sim: SimFactory, azure_for: Azure
) -> None:
    """A retried create adopts the disk its earlier attempt made (one PUT); a foreign disk of the target's name, or a
    body with createOption Copy (M-2: it would keep the ADE marker), is refused before any write."""
    sim = make_sim(fleet(), scale=60)
    activities = MigrationDiskActivities(azure_for(sim))
    request = upload_request("src", DATA)
    first = await ActivityEnvironment().run(activities.create_upload_disk, request)
    second = await ActivityEnvironment().run(activities.create_upload_disk, request)
    assert (first.created, second.created) == (True, False)
    assert first.disk_state == second.disk_state == "ReadyToUpload"
    assert [r.operation for r in sim.writes_for(f"{DATA}-eah")] == ["Disks_CreateOrUpdate"]

    with pytest.raises(ApplicationError) as foreign:
        await ActivityEnvironment().run(activities.create_upload_disk, upload_request("taken", "taken-datadisk-0"))
    assert foreign.value.type == "target-name-taken" and "M-1" in foreign.value.message
    assert "VM taken" in foreign.value.message

    copy_body = upload_request("src", "src-osdisk", size=30 * GIB).body
    copy_body["properties"] = {"creationData": {"createOption": "Copy", "sourceResourceId": disk_id("src-osdisk")}}
    copy = dataclasses.replace(upload_request("src", "src-osdisk", size=30 * GIB), body=copy_body)
    with pytest.raises(ApplicationError) as marked:
        await ActivityEnvironment().run(activities.create_upload_disk, copy)
    assert marked.value.type == "not-an-upload-disk" and "M-2" in marked.value.message
    assert sim.writes_for("src-osdisk-eah") == []


async def test_m_2_copy_refuses_a_target_that_is_not_an_upload_disk(make_sim: SimFactory, azure_for: Azure) -> None:
    """A target made by Copy (with our tag, say by hand) carries the source's ADE marker: never written into."""
    sim = make_sim(fleet(), scale=60)
    deallocate(sim, "src")
    compute = azure_for(sim).compute(SUB)
    tags = upload_request("src", DATA).body["tags"]
    body = {"location": "eastus", "tags": tags, "properties": {"creationData": {"createOption": "Copy",
            "sourceResourceId": disk_id(DATA)}}}  # fmt: skip
    await (await compute.disks.begin_create_or_update(RG, f"{DATA}-eah", body)).result()
    with pytest.raises(ApplicationError) as err:
        await ActivityEnvironment().run(MigrationDiskActivities(azure_for(sim)).copy_disk, copy_request(DATA))
    assert err.value.type == "not-an-upload-disk" and "M-2" in err.value.message
    assert not [r for r in sim.requests() if r.operation == "Disks_GrantAccess"]
