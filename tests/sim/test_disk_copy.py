"""The simulator's disk side of a migration to encryption at host (docs/ade-migration.md), through the real
``azure-mgmt-compute`` aio client and ``azure-storage-blob`` aio clients: Upload disks, SAS grants as LROs, the
disk states, Copy disks and snapshots, and the ADE marker (M-2) that only an Upload disk filled by page copies is
free of."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import timedelta

import pytest
import requests
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.compute.aio import ComputeManagementClient

from activities.azure.clients import AzureClients
from azuresim.clock import SimClock
from azuresim.fleet import FleetSpec
from azuresim.server import SimServer
from azuresim.state.compute import ManagedDisk
from azuresim.state.disks import ade_marker
from tests.support.disk_copy import (
    DISK_API,
    GIB,
    LONG_SAS_S,
    MIB,
    RG,
    RG_ID,
    SUB,
    copy_written_ranges,
    create_upload_disk,
    disk_id,
    grant,
    migration_fleet,
    revoke,
    upload_body,
)
from tests.support.frozen_sim import ade_extension, ade_settings
from tests.support.servers import sim_settings

pytestmark = pytest.mark.migration

VAULT = "kv-mig-eastus"


@pytest.fixture(scope="module")
def server() -> Iterator[SimServer]:
    sim = SimServer(FleetSpec.model_validate(migration_fleet()), clock=SimClock(scale=60))
    sim.start_in_thread()
    sim.set_throttling(enabled=False)
    yield sim
    sim.stop()


@pytest.fixture(scope="module")
async def compute(server: SimServer) -> AsyncIterator[ComputeManagementClient]:
    clients = AzureClients(sim_settings(server).azure)
    yield clients.compute(SUB)
    await clients.close()


def state_disk(server: SimServer, name: str) -> ManagedDisk:
    return server.state.disk(SUB, RG, name)


async def test_upload_disk_ready_active_unattached(server: SimServer, compute: ComputeManagementClient) -> None:
    """Step 1-4 of the disk copy: an Upload OS disk (size + 512, osType, hyperVGeneration), ReadyToUpload →
    ActiveUpload with a write SAS on the simulator's host → Unattached after endGetAccess."""
    size = 30 * GIB + 512
    poller = await compute.disks.begin_create_or_update(
        RG, "up-os", upload_body(size, os_type="Linux", generation="V2")
    )
    disk = (await poller.result()).as_dict()
    props = disk["properties"]
    assert props["creationData"] == {"createOption": "Upload", "uploadSizeBytes": size}
    assert (props["diskState"], props["provisioningState"]) == ("ReadyToUpload", "Succeeded")
    assert (props["diskSizeBytes"], props["diskSizeGB"]) == (30 * GIB, 30)
    assert (props["osType"], props["hyperVGeneration"]) == ("Linux", "V2")

    url = await grant(compute, "up-os", "Write")
    unique_id = props["uniqueId"]
    assert url.startswith(f"{server.base_url}/_blob/{unique_id}/abcd?")
    assert "sp=rw" in url and "se=" in url and "sig=" in url
    assert (await compute.disks.get(RG, "up-os")).properties.disk_state == "ActiveUpload"

    await revoke(compute, "up-os")
    assert (await compute.disks.get(RG, "up-os")).properties.disk_state == "Unattached"
    assert not ade_marker(state_disk(server, "up-os"), server.clock.now())


@pytest.mark.parametrize(
    ("size", "message"),
    [
        (20 * MIB, "must be between 20972032 bytes"),
        (32 * 1024 * GIB + MIB + 512, "must be between 20972032 bytes"),
        (30 * GIB + 1024, "must be a multiple of MiB"),
        (30 * GIB, "must be a multiple of MiB"),
    ],
)
async def test_upload_size_rules(compute: ComputeManagementClient, size: int, message: str) -> None:
    """Azure's rules: 20 MiB + 512 ≤ uploadSizeBytes ≤ 32 TiB + 512, and the size less the footer whole MiB."""
    with pytest.raises(HttpResponseError) as caught:
        await compute.disks.begin_create_or_update(RG, "up-bad", upload_body(size))
    assert caught.value.status_code == 400 and caught.value.error is not None
    assert caught.value.error.code == "BadRequest" and message in caught.value.error.message


async def test_read_sas_refused_on_disk_of_running_vm(server: SimServer, compute: ComputeManagementClient) -> None:
    """M-7: no copy from a disk its VM is still writing; Azure's own 409 Conflict. Deallocated: ActiveSAS."""
    with pytest.raises(HttpResponseError) as caught:
        await compute.disks.begin_grant_access(RG, "busy-datadisk-0", {"access": "Read", "durationInSeconds": 60})
    assert caught.value.status_code == 409 and caught.value.error is not None
    assert caught.value.error.code == "Conflict"
    assert caught.value.error.message == (
        "Access not permitted because disk busy-datadisk-0 is currently attached to running VM "
        f"{RG_ID}/providers/Microsoft.Compute/virtualMachines/busy."
    )
    server.inject({"kind": "vm_deallocated", "vm": "busy"})
    assert (await compute.disks.get(RG, "busy-datadisk-0")).properties.disk_state == "Reserved"
    url = await grant(compute, "busy-datadisk-0", "Read")
    assert "sp=r&" in url
    assert (await compute.disks.get(RG, "busy-datadisk-0")).properties.disk_state == "ActiveSAS"
    await revoke(compute, "busy-datadisk-0")
    assert (await compute.disks.get(RG, "busy-datadisk-0")).properties.disk_state == "Reserved"


async def test_write_access_only_for_upload_disks(compute: ComputeManagementClient) -> None:
    with pytest.raises(HttpResponseError) as caught:
        await compute.disks.begin_grant_access(RG, "loose", {"access": "Write", "durationInSeconds": 60})
    assert caught.value.status_code == 409 and caught.value.error is not None
    assert caught.value.error.code == "OperationNotAllowed" and "createOption Upload" in caught.value.error.message


def test_grant_access_lro_shape(server: SimServer) -> None:
    """As Disk_BeginGetAccess.json (azure-rest-api-specs DiskRP): 202 with Location (monitor) and
    Azure-AsyncOperation on DiskOperations; the status carries properties.output, the monitor URL the AccessUri."""
    session = requests.Session()
    session.headers["Authorization"] = "Bearer t"
    session.trust_env = False  # the simulator's CA, not a CA bundle from the environment
    session.verify = str(server.ca_path)
    base = f"{server.base_url}{disk_id('loose')}"
    resp = session.post(
        f"{base}/beginGetAccess?api-version={DISK_API}", json={"access": "Read", "durationInSeconds": 9}
    )
    assert resp.status_code == 202 and not resp.content
    status_url, monitor_url = resp.headers["Azure-AsyncOperation"], resp.headers["Location"]
    assert "/providers/Microsoft.Compute/locations/eastus/DiskOperations/" in status_url
    assert monitor_url == status_url + "&monitor=true" and resp.headers["Retry-After"]
    server.clock.advance(10)
    status = session.get(status_url).json()
    assert status["status"] == "Succeeded" and set(status) == {"name", "status", "startTime", "endTime", "properties"}
    sas = session.get(monitor_url).json()
    assert sas == {"accessSAS": status["properties"]["output"]["accessSAS"]}
    end = session.post(f"{base}/endGetAccess?api-version={DISK_API}")
    assert end.status_code == 202 and "DiskOperations" in end.headers["Location"]
    server.clock.advance(10)
    assert session.get(end.headers["Location"]).status_code == 200


async def test_ade_marker_set_by_encryption_kept_after_decryption(
    server: SimServer, compute: ComputeManagementClient
) -> None:
    """M-2: the marker appears once ADE has stamped the disk and survives a completed disable, whether or not
    anyone looked while the disk was encrypted (``ade-quiet``)."""
    disk, quiet = state_disk(server, "ade-none-datadisk-0"), state_disk(server, "ade-quiet-datadisk-0")
    assert not server.state.ade_marker(disk)
    ext = ade_extension(ade_settings(VAULT, sub=SUB, rg=RG, VolumeType="Data"))
    for vm in ("ade-none", "ade-quiet"):
        await compute.virtual_machine_extensions.begin_create_or_update(RG, vm, "AzureDiskEncryptionForLinux", ext)
    server.clock.advance(6 * 3600)
    assert (await compute.disks.get(RG, "ade-none-datadisk-0")).properties.encryption_settings_collection
    assert server.state.ade_marker(disk)

    disable = ade_extension(
        ade_settings(VAULT, sub=SUB, rg=RG, VolumeType="Data", EncryptionOperation="DisableEncryption")
    )
    for vm in ("ade-none", "ade-quiet"):
        await compute.virtual_machine_extensions.begin_create_or_update(RG, vm, "AzureDiskEncryptionForLinux", disable)
    server.clock.advance(6 * 3600)
    for name in ("ade-none-datadisk-0", "ade-quiet-datadisk-0"):
        assert (await compute.disks.get(RG, name)).properties.encryption_settings_collection is None
    assert server.state.ade_marker(disk), "M-2: decryption does not clear the marker"
    assert not quiet.ade_marker and server.state.ade_marker(quiet), "latched by ADE itself, not by a reader"


async def test_snapshot_and_copy_keep_ade_marker_upload_copy_does_not(
    server: SimServer, compute: ComputeManagementClient
) -> None:
    """M-2: a snapshot and a Copy disk (of the disk or of the snapshot) carry the marker and the bytes; a new Upload
    disk filled range by range by Put Page From URL holds the same bytes and no marker."""
    source = state_disk(server, "ade-data-datadisk-0")
    assert server.state.ade_marker(source)
    snap_body = {
        "location": "eastus",
        "properties": {"creationData": {"createOption": "Copy", "sourceResourceId": disk_id(source.name)}},
    }
    await (await compute.snapshots.begin_create_or_update(RG, "ade-data-snap", snap_body)).result()
    snapshot = server.state.snapshot(SUB, RG, "ade-data-snap")
    assert snapshot.ade_marker
    for name, source_id in (("copy-of-disk", disk_id(source.name)), ("copy-of-snap", snapshot.id)):
        body = {
            "location": "eastus",
            "properties": {"creationData": {"createOption": "Copy", "sourceResourceId": source_id}},
        }
        created = await (await compute.disks.begin_create_or_update(RG, name, body)).result()
        assert created.properties.creation_data.create_option == "Copy"
        copy = state_disk(server, name)
        assert server.state.ade_marker(copy), f"M-2: {name} keeps the marker"
        assert server.state.verify_copy(source, copy).ok

    server.inject({"kind": "vm_deallocated", "vm": "ade-data"})
    size = (await compute.disks.get(RG, source.name)).properties.disk_size_bytes
    await create_upload_disk(compute, "ade-data-data0-eah", size + 512)
    source_sas = await grant(compute, source.name, "Read")
    target_sas = await grant(compute, "ade-data-data0-eah", "Write")
    copied = await copy_written_ranges(server, source_sas, target_sas)
    await revoke(compute, "ade-data-data0-eah")
    await revoke(compute, source.name)
    target = state_disk(server, "ade-data-data0-eah")
    check = server.state.verify_copy(source, target)
    assert check.ok and check.ranges_checked == 4 and copied == check.bytes_checked == 14 * MIB + 512
    assert copied == source.pages.written_bytes, "only written ranges are copied"
    assert not server.state.ade_marker(target), "M-2: an Upload disk filled by page copies is free of the marker"


async def test_delete_disk_refused_while_attached_or_accessed(compute: ComputeManagementClient) -> None:
    with pytest.raises(HttpResponseError) as attached:
        await compute.disks.begin_delete(RG, "many-datadisk-1")
    assert attached.value.status_code == 409 and "is attached to VM" in str(attached.value.message)
    await create_upload_disk(compute, "to-delete", GIB + 512)
    await grant(compute, "to-delete", "Write", LONG_SAS_S)
    with pytest.raises(HttpResponseError) as accessed:
        await compute.disks.begin_delete(RG, "to-delete")
    assert accessed.value.status_code == 409 and "endGetAccess" in str(accessed.value.message)
    await revoke(compute, "to-delete")
    await (await compute.disks.begin_delete(RG, "to-delete")).result()
    with pytest.raises(ResourceNotFoundError):
        await compute.disks.get(RG, "to-delete")


async def test_grant_again_after_expiry_hands_out_a_new_sas(
    server: SimServer, compute: ComputeManagementClient
) -> None:
    """An upload whose SAS expired goes on with a new grant (the disk stays ActiveUpload until endGetAccess)."""
    await create_upload_disk(compute, "renew", GIB + 512)
    first = await grant(compute, "renew", "Write", 600)
    disk = state_disk(server, "renew")
    assert disk.access is not None
    server.clock.advance(601)
    assert (await compute.disks.get(RG, "renew")).properties.disk_state == "ActiveUpload"
    second = await grant(compute, "renew", "Write", 600)
    assert second != first and disk.access is not None
    assert [g.expires_at > server.clock.now() for g in disk.access.grants] == [False, True]
    assert disk.access.grants[1].expires_at - disk.access.grants[1].granted_at == timedelta(seconds=600)
    await revoke(compute, "renew")
