"""The page-blob data plane behind a disk's SAS, through ``azure-storage-blob``'s aio ``BlobClient`` (it sends
``x-ms-version`` and parses the XML): properties, page ranges with paging, Put Page From URL with the Blob
service's limits and errors, SAS checks on the scaled clock, ServerBusy and SAS-expiry faults, per-disk throughput.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest
import requests
from azure.core.exceptions import HttpResponseError
from azure.mgmt.compute.aio import ComputeManagementClient

from activities.azure.clients import AzureClients
from azuresim.clock import SimClock
from azuresim.fleet import FleetSpec
from azuresim.server import SimServer
from azuresim.state.compute import ManagedDisk
from tests.support.disk_copy import (
    GIB,
    MIB,
    PAGE_CALL,
    RG,
    SUB,
    blob_client,
    create_upload_disk,
    grant,
    migration_fleet,
    revoke,
)
from tests.support.servers import sim_settings

pytestmark = pytest.mark.migration


@pytest.fixture(scope="module")
def server() -> Iterator[SimServer]:
    sim = SimServer(FleetSpec.model_validate(migration_fleet()), clock=SimClock(scale=60))
    sim.start_in_thread()
    sim.set_throttling(enabled=False)
    for vm in ("ade-data", "ade-none", "many"):
        sim.inject({"kind": "vm_deallocated", "vm": vm})
    yield sim
    sim.stop()


@pytest.fixture(scope="module")
async def compute(server: SimServer) -> AsyncIterator[ComputeManagementClient]:
    clients = AzureClients(sim_settings(server).azure)
    yield clients.compute(SUB)
    await clients.close()


@pytest.fixture(autouse=True)
def no_faults(server: SimServer) -> Iterator[None]:
    yield
    server.clear_faults()


def state_disk(server: SimServer, name: str) -> ManagedDisk:
    return server.state.disk(SUB, RG, name)


def code_of(error: HttpResponseError) -> str:
    """The Blob service's error code as the SDK read it (``StorageErrorCode`` or a string)."""
    code = getattr(error, "error_code", None)
    return str(getattr(code, "value", code) or error.response.headers.get("x-ms-error-code"))


async def test_blob_client_reads_properties_and_page_ranges(
    server: SimServer, compute: ComputeManagementClient
) -> None:
    """Get Blob Properties and Get Page Ranges as the SDK parses them: the disk plus its VHD footer; the written
    ranges of the fleet file (``written_gb: 0.25``) and the footer; a range query."""
    sas = await grant(compute, "loose", "Read")
    async with blob_client(server, sas) as blob:
        props = await blob.get_blob_properties()
        assert (props.size, props.blob_type) == (GIB + 512, "PageBlob")
        listed = [(r.start, r.end) async for r in blob.list_page_ranges()]
        assert listed == [(0, 256 * MIB - 1), (GIB, GIB + 511)]
        with pytest.deprecated_call():  # the older call, still in use
            ranges, cleared = await blob.get_page_ranges()
            some, _ = await blob.get_page_ranges(offset=255 * MIB, length=2 * MIB)
        assert [(r["start"], r["end"]) for r in ranges] == listed and cleared == []
        assert [(r["start"], r["end"]) for r in some] == [(255 * MIB, 256 * MIB - 1)]
    await revoke(compute, "loose")


async def test_list_page_ranges_pages_with_markers(server: SimServer, compute: ComputeManagementClient) -> None:
    sas = await grant(compute, "many-datadisk-1", "Read")
    async with blob_client(server, sas) as blob:
        pages = [
            [(r.start, r.end) async for r in page] async for page in blob.list_page_ranges(results_per_page=7).by_page()
        ]
    assert [len(p) for p in pages] == [7, 7, 7, 7, 7, 6]
    flat = [r for page in pages for r in page]
    assert flat[:2] == [(0, MIB - 1), (8 * MIB, 9 * MIB - 1)] and flat[-1] == (GIB, GIB + 511)
    await revoke(compute, "many-datadisk-1")


@pytest.fixture
async def pair(server: SimServer, compute: ComputeManagementClient) -> AsyncIterator[tuple[str, str]]:
    """A read SAS on ``ade-none-datadisk-0`` and a write SAS on a new Upload disk of the same size."""
    name = f"target-{len(server.state.resource_group(SUB, RG).disks)}"
    await create_upload_disk(compute, name, 4 * GIB + 512)
    source, target = await grant(compute, "ade-none-datadisk-0", "Read"), await grant(compute, name, "Write")
    yield source, target
    await revoke(compute, name)
    await revoke(compute, "ade-none-datadisk-0")


def raw_put(server: SimServer, url: str, headers: dict[str, str]) -> requests.Response:
    session = requests.Session()
    session.trust_env = False
    base = {"x-ms-version": "2025-01-05", "x-ms-page-write": "update", "Content-Length": "0"}
    return session.put(url + "&comp=page", headers={**base, **headers}, verify=str(server.ca_path))


async def test_page_writes_follow_the_blob_service_rules(server: SimServer, pair: tuple[str, str]) -> None:
    """At most 4 MiB, 512-byte aligned, inside the blob (416 InvalidPageRange); equal source and target lengths."""
    source, target = pair
    async with blob_client(server, target) as blob:
        with pytest.raises(HttpResponseError) as too_big:
            await blob.upload_pages_from_url(source, offset=0, length=PAGE_CALL + 512, source_offset=0)
        assert (too_big.value.status_code, code_of(too_big.value)) == (416, "InvalidPageRange")
        with pytest.raises(HttpResponseError) as outside:
            await blob.upload_pages_from_url(source, offset=4 * GIB, length=1024, source_offset=0)
        assert (outside.value.status_code, code_of(outside.value)) == (416, "InvalidPageRange")
        await blob.upload_pages_from_url(source, offset=0, length=PAGE_CALL, source_offset=0)
    unaligned = raw_put(server, target, {"x-ms-range": "bytes=100-611", "x-ms-copy-source": source,
                                         "x-ms-source-range": "bytes=0-511"})  # fmt: skip
    assert (unaligned.status_code, unaligned.headers["x-ms-error-code"]) == (416, "InvalidPageRange")
    assert "<Code>InvalidPageRange</Code>" in unaligned.text
    uneven = raw_put(server, target, {"x-ms-range": "bytes=0-1023", "x-ms-copy-source": source,
                                      "x-ms-source-range": "bytes=0-511"})  # fmt: skip
    assert (uneven.status_code, uneven.headers["x-ms-error-code"]) == (400, "InvalidHeaderValue")
    assert "<HeaderName>x-ms-source-range</HeaderName>" in uneven.text


async def test_sas_checks(server: SimServer, compute: ComputeManagementClient, pair: tuple[str, str]) -> None:
    """A read SAS cannot write; a tampered signature, an expired SAS (scaled clock) or one revoked by endGetAccess
    is refused; a bad source SAS is CannotVerifyCopySource with the source's status and code."""
    source, target = pair
    async with blob_client(server, source) as reader:
        with pytest.raises(HttpResponseError) as read_only:
            await reader.upload_pages_from_url(source, offset=0, length=512, source_offset=0)
        assert (read_only.value.status_code, code_of(read_only.value)) == (403, "AuthorizationPermissionMismatch")
    async with blob_client(server, target.replace("sig=", "sig=x")) as forged:
        with pytest.raises(HttpResponseError) as bad_sig:
            await forged.get_blob_properties()
        assert (bad_sig.value.status_code, code_of(bad_sig.value)) == (403, "AuthenticationFailed")

    short_source = await grant(compute, "ade-none-datadisk-0", "Read", 120)
    server.clock.advance(121)
    async with blob_client(server, target) as blob:
        with pytest.raises(HttpResponseError) as stale_source:
            await blob.upload_pages_from_url(short_source, offset=0, length=512, source_offset=0)
        assert (stale_source.value.status_code, code_of(stale_source.value)) == (403, "CannotVerifyCopySource")
        headers = stale_source.value.response.headers
        assert (headers["x-ms-copy-source-status-code"], headers["x-ms-copy-source-error-code"]) == (
            "403",
            "AuthenticationFailed",
        )
        await blob.upload_pages_from_url(source, offset=0, length=512, source_offset=0)  # the long SAS still works

    short_target = await grant(compute, target_name(server, target), "Write", 120)
    server.clock.advance(121)
    async with blob_client(server, short_target) as expired:
        with pytest.raises(HttpResponseError) as too_late:
            await expired.upload_pages_from_url(source, offset=0, length=512, source_offset=0)
        assert (too_late.value.status_code, code_of(too_late.value)) == (403, "AuthenticationFailed")
        assert "Signature not valid in the specified time frame" in str(too_late.value.message)

    await revoke(compute, "ade-none-datadisk-0")
    async with blob_client(server, source) as revoked:
        with pytest.raises(HttpResponseError) as gone:
            await revoked.get_blob_properties()
        assert (gone.value.status_code, code_of(gone.value)) == (403, "AuthenticationFailed")


def target_name(server: SimServer, sas: str) -> str:
    container = sas.split("/_blob/", 1)[1].split("/", 1)[0]
    return server.state.blobs.containers[container].name


async def test_server_busy_storm_through_the_control_endpoint(server: SimServer, pair: tuple[str, str]) -> None:
    """Fault ``server_busy`` (POST /_sim/faults): page writes to one disk answer 503 ServerBusy with Retry-After
    while it lasts; reads of the disk and other operations are not affected."""
    source, target = pair
    disk = target_name(server, target)
    fault = {"kind": "server_busy", "disk": disk, "operation": "PutPageFromURL", "count": 2, "retry_after": 3}
    session = requests.Session()
    session.trust_env = False
    assert session.post(f"{server.base_url}/_sim/faults", json=fault, verify=str(server.ca_path)).status_code == 201
    async with blob_client(server, target) as blob:
        for _ in range(2):
            with pytest.raises(HttpResponseError) as busy:
                await blob.upload_pages_from_url(source, offset=0, length=512, source_offset=0)
            assert (busy.value.status_code, code_of(busy.value)) == (503, "ServerBusy")
            assert busy.value.response.headers["Retry-After"] == "3"
            assert (await blob.get_blob_properties()).size == 4 * GIB + 512
        await blob.upload_pages_from_url(source, offset=0, length=512, source_offset=0)


async def test_sas_expiry_fault(server: SimServer, compute: ComputeManagementClient, pair: tuple[str, str]) -> None:
    """Fault ``sas_expiry``: the disk's SAS expire ``after_s`` simulated seconds after injection, and the next grant
    (``count: 1``) lives no longer; the grant after it is whole again (a copy renews its SAS and goes on)."""
    source, target = pair
    disk = target_name(server, target)
    server.inject({"kind": "sas_expiry", "disk": disk, "after_s": 30, "count": 1})
    server.clock.advance(31)
    async with blob_client(server, target) as blob:
        with pytest.raises(HttpResponseError) as expired:
            await blob.upload_pages_from_url(source, offset=0, length=512, source_offset=0)
        assert (expired.value.status_code, code_of(expired.value)) == (403, "AuthenticationFailed")
    await grant(compute, disk, "Write")
    renewed = await grant(compute, disk, "Write")
    access = state_disk(server, disk).access
    assert access is not None
    lifetimes = [(g.expires_at - g.granted_at).total_seconds() for g in access.grants]
    assert lifetimes[-2:] == [30.0, 30 * 24 * 3600.0]
    async with blob_client(server, renewed) as blob:
        await blob.upload_pages_from_url(source, offset=0, length=512, source_offset=0)


@pytest.fixture
def real_time(server: SimServer) -> Iterator[None]:
    """The clock at real speed and a short disk queue (0.2 s), so that queueing is measurable."""
    scale, queue = server.clock.scale, server.state.blobs.queue_s
    server.clock.scale, server.state.blobs.queue_s = 1.0, 0.2
    yield
    server.clock.scale, server.state.blobs.queue_s = scale, queue


async def test_throughput_per_disk_on_the_scaled_clock(
    server: SimServer, pair: tuple[str, str], real_time: None
) -> None:
    """A page write is answered when its transfer would end at the disk's MiB/s (simulated time); writes queued
    beyond ``sim.disk_queue_s`` answer 503 ServerBusy with Retry-After, as a storage target over its limit."""
    source, target = pair
    disk = state_disk(server, target_name(server, target))
    disk.mb_per_s = 80.0
    per_call = PAGE_CALL / (80 * MIB)
    async with blob_client(server, target) as blob:
        started = server.clock.now()
        await blob.upload_pages_from_url(source, offset=0, length=PAGE_CALL, source_offset=0)
        assert (server.clock.now() - started).total_seconds() >= per_call

        async def one(i: int) -> str:
            try:
                await blob.upload_pages_from_url(source, offset=i * PAGE_CALL, length=PAGE_CALL, source_offset=0)
            except HttpResponseError as exc:
                assert int(exc.response.headers["Retry-After"]) >= 1
                return code_of(exc)
            return "ok"

        started = server.clock.now()
        outcomes = await asyncio.gather(*(one(i) for i in range(16)))
        elapsed = (server.clock.now() - started).total_seconds()
    ok = outcomes.count("ok")
    assert set(outcomes) == {"ok", "ServerBusy"} and ok >= 5, outcomes
    assert elapsed >= ok * per_call, "the accepted writes took their transfer time, one after the other"


async def test_put_page_and_clear_pages(server: SimServer, compute: ComputeManagementClient) -> None:
    await create_upload_disk(compute, "direct", 64 * MIB + 512)
    sas = await grant(compute, "direct", "Write")
    async with blob_client(server, sas) as blob:
        await blob.upload_page(b"\x01" * 4096, offset=8192, length=4096)
        await blob.upload_page(b"\x02" * 512, offset=64 * MIB, length=512)
        assert [(r.start, r.end) async for r in blob.list_page_ranges()] == [(8192, 12287), (64 * MIB, 64 * MIB + 511)]
        await blob.clear_page(offset=8192, length=1024)
        left = [(r.start, r.end) async for r in blob.list_page_ranges()]
        assert left == [(9216, 12287), (64 * MIB, 64 * MIB + 511)]
    await revoke(compute, "direct")


async def test_copy_is_logged_without_its_sas(server: SimServer, pair: tuple[str, str]) -> None:
    source, target = pair
    async with blob_client(server, target) as blob:
        await blob.upload_pages_from_url(source, offset=100 * MIB, length=PAGE_CALL, source_offset=100 * MIB)
    record = [r for r in server.requests() if r.operation == "PutPageFromURL"][-1]
    assert record.status == 201 and record.method == "PUT" and "sig" not in record.path
    assert record.detail == (
        f"source=ade-none-datadisk-0 bytes={100 * MIB}-{104 * MIB - 1} "
        f"target={target_name(server, target)} bytes={100 * MIB}-{104 * MIB - 1}"
    )
