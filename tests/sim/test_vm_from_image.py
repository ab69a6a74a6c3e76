"""The simulator's VM PUT from an image (azuresim/state/vm_image.py), as the M-4 rebuild sends it: the OS disk from
the image, empty data disks, encryption at host on fresh disks; a refused PUT leaves no disk behind."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError
from azure.mgmt.compute import ComputeManagementClient
from azure.mgmt.compute.models import VirtualMachine

from activities.azure.credentials import StaticTokenCredential
from azuresim.clock import SimClock
from azuresim.fleet import FleetSpec
from azuresim.server import SimServer
from tests.support.fleets import SUB, fleet_dict, vm

pytestmark = pytest.mark.migration

RG = "rg-web"
NICS = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Network/networkInterfaces"
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl ops@example"


@pytest.fixture(scope="module")
def sim() -> Iterator[tuple[SimServer, ComputeManagementClient]]:
    fleet = fleet_dict([vm("web-01")])
    fleet["subscriptions"][0]["resource_groups"][0]["network_interfaces"] = [{"name": "nic-a"}, {"name": "nic-b"}]
    server = SimServer(FleetSpec.model_validate(fleet), clock=SimClock(scale=3600))
    server.start_in_thread()
    client = ComputeManagementClient(
        StaticTokenCredential("t"),
        SUB,
        base_url=server.base_url,
        connection_verify=str(server.ca_path),
        polling_interval=0.05,
    )
    try:
        yield server, client
    finally:
        server.stop()


def image_body(nic: str, *, size: str = "Standard_D4s_v5", keys: bool = True) -> dict[str, Any]:
    linux: dict[str, Any] = {"disablePasswordAuthentication": True}
    if keys:
        linux["ssh"] = {"publicKeys": [{"path": "/home/azureuser/.ssh/authorized_keys", "keyData": KEY}]}
    return {
        "location": "eastus",
        "tags": {"adeflow-migrated-from": "src"},
        "properties": {
            "hardwareProfile": {"vmSize": size},
            "storageProfile": {
                "imageReference": {"publisher": "Canonical", "offer": "ubuntu-24_04-lts", "sku": "server"},
                "osDisk": {"name": f"{nic}-os", "createOption": "FromImage", "managedDisk": {}},
                "dataDisks": [{"name": f"{nic}-data", "lun": 2, "createOption": "Empty", "diskSizeGB": 64}],
            },
            "osProfile": {"computerName": "new", "adminUsername": "azureuser", "linuxConfiguration": linux},
            "securityProfile": {"encryptionAtHost": True},
            "networkProfile": {"networkInterfaces": [{"id": f"{NICS}/{nic}", "properties": {"primary": True}}]},
        },
    }


def test_m4_vm_from_an_image_gets_fresh_disks_and_encryption_at_host(
    sim: tuple[SimServer, ComputeManagementClient],
) -> None:
    _, compute = sim
    body = image_body("nic-a")
    made = compute.virtual_machines.begin_create_or_update(RG, "new-01", VirtualMachine(body)).result().as_dict()
    props = made["properties"]
    assert props["securityProfile"]["encryptionAtHost"] is True and props["provisioningState"] == "Succeeded"
    assert [(d["lun"], d["name"]) for d in props["storageProfile"]["dataDisks"]] == [(2, "nic-a-data")]
    disk = compute.disks.get(RG, "nic-a-os").as_dict()
    assert disk["properties"]["osType"] == "Linux" and disk["managedBy"].endswith("/virtualMachines/new-01")
    assert compute.disks.get(RG, "nic-a-data").as_dict()["properties"]["diskSizeGB"] == 64
    again = compute.virtual_machines.begin_create_or_update(RG, "new-01", VirtualMachine(body)).result()
    assert again.as_dict()["properties"]["vmId"] == props["vmId"]  # the identical PUT is a retry


@pytest.mark.parametrize(
    ("size", "keys", "code"),
    [("Standard_D2_v2", True, "InvalidParameter"), ("Standard_D4s_v5", False, "InvalidParameter")],
    ids=["m6-size-without-eah", "no-ssh-key"],
)
def test_a_refused_image_put_leaves_no_disk_behind(
    sim: tuple[SimServer, ComputeManagementClient], size: str, keys: bool, code: str
) -> None:
    server, compute = sim
    with pytest.raises(HttpResponseError) as refused:
        compute.virtual_machines.begin_create_or_update(
            RG, "new-02", VirtualMachine(image_body("nic-b", size=size, keys=keys))
        )
    assert refused.value.status_code == 400 and refused.value.error is not None
    assert refused.value.error.code == code
    assert not {"nic-b-os", "nic-b-data"} & set(server.state.resource_group(SUB, RG).disks)
