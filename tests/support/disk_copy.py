"""A fleet for the disk-copy tests (docs/ade-migration.md) and the SDK calls a copy makes: an Upload disk, SAS grants
through ``azure-mgmt-compute`` aio, and ``azure-storage-blob`` aio clients on the SAS URLs (as the product will)."""

from __future__ import annotations

from typing import Any

from azure.mgmt.compute.aio import ComputeManagementClient
from azure.storage.blob.aio import BlobClient

from azuresim.server import SimServer

SUB = "6f1c3a52-8d11-4c4e-9a7e-000000000001"
RG = "rg-mig"
RG_ID = f"/subscriptions/{SUB}/resourceGroups/{RG}"
DISK_API = "2026-03-02"
MIB = 1024 * 1024
GIB = 1024 * MIB
PAGE_CALL = 4 * MIB
"""The most one Put Page From URL may copy."""
LONG_SAS_S = 30 * 24 * 3600
"""A SAS duration that outlives any test, whatever the clock's scale."""

SPARSE = [
    {"offset_mib": 0, "length_mib": 10},
    {"offset_mib": 100, "length_mib": 3},
    {"offset_mib": 2048, "length_mib": 1},
]


def migration_fleet(**sim: Any) -> dict[str, Any]:
    """VMs whose disks a migration copies: ``ade-data`` (data volumes encrypted by ADE), ``ade-none`` and
    ``ade-quiet`` (never encrypted), ``busy`` (running, not to be copied), ``many`` (a data disk written in 40
    small runs), and a standalone disk ``loose``."""
    many = [{"offset_mib": 8 * i, "length_mib": 1} for i in range(40)]
    return {
        "sim": sim,
        "subscriptions": [
            {
                "id": SUB,
                "resource_groups": [
                    {
                        "name": RG,
                        "location": "eastus",
                        "key_vaults": [{"name": "kv-mig-eastus"}],
                        "vms": [
                            {
                                "name": "ade-data",
                                "os_disk": {"size_gb": 30, "written_gb": 3},
                                "data_disks": [{"lun": 0, "size_gb": 4, "written_extents": SPARSE}],
                                "encrypted": {"data": True},
                            },
                            {"name": "ade-none", "data_disks": [{"lun": 0, "size_gb": 4, "written_extents": SPARSE}]},
                            {"name": "ade-quiet", "data_disks": [{"lun": 0, "size_gb": 4}]},
                            {"name": "busy", "data_disks": [{"lun": 0, "size_gb": 4}]},
                            {"name": "many", "data_disks": [{"lun": 1, "size_gb": 1, "written_extents": many}]},
                        ],
                        "disks": [{"name": "loose", "size_gb": 1, "written_gb": 0.25, "os_type": None}],
                    }
                ],
            }
        ],
    }


def disk_id(name: str) -> str:
    return f"{RG_ID}/providers/Microsoft.Compute/disks/{name}"


def upload_body(upload_size_bytes: int, *, os_type: str | None = None, generation: str | None = None) -> dict[str, Any]:
    """Disks_CreateOrUpdate for an Upload disk (step 1 of the disk copy)."""
    props: dict[str, Any] = {"creationData": {"createOption": "Upload", "uploadSizeBytes": upload_size_bytes}}
    if os_type:
        props["osType"] = os_type
    if generation:
        props["hyperVGeneration"] = generation
    return {"location": "eastus", "sku": {"name": "Premium_LRS"}, "properties": props}


async def create_upload_disk(compute: ComputeManagementClient, name: str, upload_size_bytes: int) -> None:
    await (await compute.disks.begin_create_or_update(RG, name, upload_body(upload_size_bytes))).result()


async def grant(compute: ComputeManagementClient, disk: str, access: str, seconds: int = LONG_SAS_S) -> str:
    """beginGetAccess through the SDK's LRO; the SAS URL."""
    poller = await compute.disks.begin_grant_access(RG, disk, {"access": access, "durationInSeconds": seconds})
    result = await poller.result()
    assert result.access_sas
    return str(result.access_sas)


async def revoke(compute: ComputeManagementClient, disk: str) -> None:
    await (await compute.disks.begin_revoke_access(RG, disk)).result()


def blob_client(server: SimServer, sas_url: str) -> BlobClient:
    """``BlobClient.from_blob_url`` on a SAS, trusting the simulator's CA; no SDK retries, so a test sees each
    answer (the product chooses its own retry policy)."""
    return BlobClient.from_blob_url(sas_url, connection_verify=str(server.ca_path), retry_total=0)


async def copy_written_ranges(server: SimServer, source_sas: str, target_sas: str) -> int:
    """What ``azcopy copy --blob-type PageBlob`` does: list the source's page ranges and Put Page From URL each,
    at most 4 MiB per call. Returns the bytes copied."""
    copied = 0
    async with blob_client(server, source_sas) as source, blob_client(server, target_sas) as target:
        async for page in source.list_page_ranges():
            offset = page.start
            while offset <= page.end:
                length = min(PAGE_CALL, page.end + 1 - offset)
                await target.upload_pages_from_url(source_sas, offset=offset, length=length, source_offset=offset)
                offset += length
                copied += length
    return copied
