"""Issue 18's resources through the real SDK: VM scale sets (Uniform instances, Flexible members), the disk controller
type and local NVMe disks, legacy dual-pass ADE as ARM shows it, and size names compared case-insensitively; with
what the product's rules make of each answer (R-LIM-4c, R-LIM-4o, R-LIM-1)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from azure.core.exceptions import HttpResponseError
from azure.mgmt.compute import ComputeManagementClient
from pydantic import ValidationError

from activities.azure.clients import AzureClients
from activities.azure.credentials import StaticTokenCredential
from activities.vm_search import find_vms
from adeflow.domain import rules
from adeflow.domain.arm_parse import parse_vm_facts
from adeflow.domain.fleet_query import VmQuery
from adeflow.domain.model import VmFacts, VmRef, VolumeType
from azuresim.clock import SimClock
from azuresim.fleet import FleetSpec
from azuresim.server import SimServer
from tests.support.arm_examples import EXAMPLES, shape_errors
from tests.support.fleets import UBUNTU_2204
from tests.support.servers import SimFactory

SUB = "6f1c3a52-8d11-4c4e-9a7e-000000000001"
RG = f"/subscriptions/{SUB}/resourceGroups/rg-ss"
COMPUTE = f"{RG}/providers/Microsoft.Compute"
VM_API = "2026-04-01"


def _fleet(**changes: Any) -> dict[str, Any]:
    group: dict[str, Any] = {
        "name": "rg-ss",
        "location": "eastus",
        "key_vaults": [{"name": "kv-ss-eastus"}],
        "scale_sets": [
            {"name": "ss-uni", "orchestration_mode": "Uniform", "capacity": 3, "zones": ["1", "2", "3"]},
            {"name": "ss-flex", "orchestration_mode": "Flexible", "size": "Standard_D4s_v5"},
        ],
        "vms": [
            {"name": "flex-01", "size": "Standard_D4s_v5", "image": UBUNTU_2204, "scale_set": "ss-flex"},
            {"name": "flex-02", "size": "Standard_D4s_v5", "image": UBUNTU_2204, "scale_set": "ss-flex"},
            {"name": "nvme-01", "size": "Standard_E4bs_v5", "image": UBUNTU_2204, "disk_controller_type": "NVMe"},
            {"name": "v6-01", "size": "Standard_D2ds_v6", "image": UBUNTU_2204},
            {
                "name": "legacy-01",
                "size": "Standard_D4s_v5",
                "image": UBUNTU_2204,
                "data_disks": [{"lun": 0, "size_gb": 32}],
                "encrypted": {"os": True, "data": True, "dual_pass": True},
            },
        ],
        "disks": [{"name": "att-os-1"}, {"name": "att-os-2"}],
        "network_interfaces": [{"name": "nic-1"}, {"name": "nic-2"}],
    }
    group.update(changes)
    return {"subscriptions": [{"id": SUB, "resource_groups": [group]}]}


class Env:
    def __init__(self, server: SimServer) -> None:
        self.server = server
        common: dict[str, Any] = {
            "base_url": server.base_url,
            "connection_verify": str(server.ca_path),
            "polling_interval": 0.05,
        }
        self.compute = ComputeManagementClient(StaticTokenCredential("t"), SUB, **common)
        self.session = requests.Session()
        self.session.headers["Authorization"] = "Bearer resources"

    def call(self, method: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body) if body is not None else None
        headers = {"Content-Type": "application/json"} if data is not None else {}
        url = f"{self.server.base_url}{path}?api-version={VM_API}"
        return self.session.request(method, url, data=data, headers=headers, verify=str(self.server.ca_path))

    def facts(self, name: str) -> VmFacts:
        """What the product's inventory reads of a VM: the VM with its instance view, its disks, the ADE extension."""
        vm = self.compute.virtual_machines.get("rg-ss", name, expand="instanceView").as_dict()
        storage = vm["properties"]["storageProfile"]
        entries = [storage["osDisk"], *storage["dataDisks"]]
        disks = {
            e["managedDisk"]["id"].lower(): self.compute.disks.get("rg-ss", e["name"]).as_dict()
            for e in entries
            if e.get("managedDisk", {}).get("id")
        }
        extension = next((r for r in vm.get("resources", []) if r["name"] == "AzureDiskEncryptionForLinux"), None)
        return parse_vm_facts(VmRef(SUB, "rg-ss", name), vm, disks, extension)


@pytest.fixture(scope="module")
def env() -> Iterator[Env]:
    server = SimServer(FleetSpec.model_validate(_fleet()), clock=SimClock(scale=3600.0))
    server.start_in_thread()
    server.set_throttling(enabled=False)
    try:
        yield Env(server)
    finally:
        server.stop()


def _reasons(facts: VmFacts, volume_type: VolumeType | None) -> list[tuple[str, str]]:
    return [(r.rule, r.reason) for r in rules.check_vm_eligibility(facts, volume_type)]


# ------------------------------------------------------------------------------------------------ scale sets


def test_uniform_scale_set_serves_its_instances_under_the_set_not_as_vms(env: Env) -> None:
    ss = env.compute.virtual_machine_scale_sets.get("rg-ss", "ss-uni").as_dict()
    assert (ss["properties"]["orchestrationMode"], ss["sku"]["capacity"]) == ("Uniform", 3)
    assert ss["id"] == f"{COMPUTE}/virtualMachineScaleSets/ss-uni"
    assert ss["properties"]["upgradePolicy"]["mode"] == "Manual"

    instances = [i.as_dict() for i in env.compute.virtual_machine_scale_set_vms.list("rg-ss", "ss-uni")]
    assert [i["instanceId"] for i in instances] == ["0", "1", "2"]
    assert [i["zones"] for i in instances] == [["1"], ["2"], ["3"]]
    one = env.compute.virtual_machine_scale_set_vms.get("rg-ss", "ss-uni", "1").as_dict()
    assert one["id"] == f"{COMPUTE}/virtualMachineScaleSets/ss-uni/virtualMachines/1"
    assert one["type"] == "Microsoft.Compute/virtualMachines" and one["name"] == "ss-uni_1"
    assert one["properties"]["storageProfile"]["diskControllerType"] == "SCSI"

    vm_names = {vm.name for vm in env.compute.virtual_machines.list("rg-ss")}
    assert not any(name.startswith("ss-uni") for name in vm_names)
    with pytest.raises(HttpResponseError) as missing:
        env.compute.virtual_machine_scale_set_vms.get("rg-ss", "ss-uni", "7")
    assert missing.value.status_code == 404


def test_r_lim_4c_flexible_members_are_vms_naming_the_set_and_refused_for_the_os_volume(env: Env) -> None:
    ss = env.compute.virtual_machine_scale_sets.get("rg-ss", "SS-FLEX").as_dict()
    assert (ss["properties"]["orchestrationMode"], ss["sku"]["capacity"]) == ("Flexible", 2)
    assert "upgradePolicy" not in ss["properties"]
    listed = {s.name for s in env.compute.virtual_machine_scale_sets.list("rg-ss")}
    assert listed == {"ss-uni", "ss-flex"}
    assert {s.name for s in env.compute.virtual_machine_scale_sets.list_all()} == listed

    vm = env.compute.virtual_machines.get("rg-ss", "flex-01").as_dict()
    assert vm["properties"]["virtualMachineScaleSet"]["id"] == ss["id"]
    facts = env.facts("flex-01")
    assert facts.scale_set_id == ss["id"]
    assert _reasons(facts, VolumeType.ALL) == [("R-LIM-4c", "scale-set-os-volume")]
    assert _reasons(facts, VolumeType.DATA) == []

    refused = env.call("GET", f"{COMPUTE}/virtualMachineScaleSets/ss-flex/virtualMachines")
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "OperationNotAllowed"


async def test_r_lim_4c_inventory_takes_flexible_members_and_ignores_scale_sets_and_uniform_instances(
    make_sim: SimFactory, azure_for: Callable[[SimServer], AzureClients]
) -> None:
    """Resource Graph keeps scale sets in ``Resources`` and Uniform instances in ``ComputeResources``; a selector
    over either must not break on them (an instance id is not a VM id: it used to fail the whole selector)."""
    clients = azure_for(make_sim(_fleet()))
    listed = "Resources | where type startswith 'microsoft.compute/virtualmachine' | project id, name, type"
    result = await find_vms(clients, VmQuery(resource_graph=listed, subscriptions=[SUB]))
    assert {"flex-01", "flex-02", "legacy-01"} <= {ref.name for ref in result.vms}
    assert sorted(i.rsplit("/", 1)[-1] for i in result.ignored) == ["ss-flex", "ss-uni"]

    instances = await find_vms(clients, VmQuery(resource_graph="ComputeResources | project id", subscriptions=[SUB]))
    assert instances.vms == []
    assert [i.split("/virtualMachineScaleSets/")[1] for i in instances.ignored] == [
        "ss-uni/virtualMachines/0",
        "ss-uni/virtualMachines/1",
        "ss-uni/virtualMachines/2",
    ]
    tagged = await find_vms(clients, VmQuery(subscription_id=SUB, resource_group="rg-ss"))
    assert {"flex-01", "flex-02"} <= {ref.name for ref in tagged.vms}


@pytest.mark.conformance
@pytest.mark.parametrize(
    ("path", "example", "extras"),
    [
        (
            f"{COMPUTE}/virtualMachineScaleSets/ss-uni",
            "VirtualMachineScaleSet_Get_WithUserData.json",
            {  # VirtualMachineScaleSet(Properties) / VirtualMachineScaleSetStorageProfile fields of SDK 39
                ".properties.orchestrationMode",
                ".properties.uniqueId",
                ".properties.timeCreated",
                ".properties.virtualMachineProfile.storageProfile.diskControllerType",
                ".zones",
            },
        ),
        (
            f"{COMPUTE}/virtualMachineScaleSets/ss-uni/virtualMachines/0",
            "VirtualMachineScaleSetVM_Get_WithUserData.json",
            {  # VirtualMachineScaleSetVM.instance_id / .sku / .zones, StorageProfile.disk_controller_type
                ".instanceId",
                ".sku",
                ".sku.name",
                ".sku.tier",
                ".zones",
                ".properties.storageProfile.diskControllerType",
                ".properties.osProfile.linuxConfiguration",  # the example is Windows
            },
        ),
    ],
)
def test_scale_set_answers_are_shaped_like_the_official_examples(
    env: Env, path: str, example: str, extras: set[str]
) -> None:
    expected = json.loads((EXAMPLES / example).read_text())["responses"]["200"]["body"]
    resp = env.call("GET", path)
    assert resp.status_code == 200, resp.text
    assert [e for e in shape_errors(resp.json(), expected) if e not in extras] == []


# ------------------------------------------------------------------------------------- controllers, local NVMe


def test_r_lim_4o_disk_controller_type_and_local_nvme_disks_as_arm_shows_them(env: Env) -> None:
    controllers = {
        name: env.compute.virtual_machines.get("rg-ss", name).as_dict()["properties"]["storageProfile"]
        for name in ("flex-01", "nvme-01", "v6-01")
    }
    assert {n: s["diskControllerType"] for n, s in controllers.items()} == {
        "flex-01": "SCSI",
        "nvme-01": "NVMe",  # asked for on an Ebsv5 (SCSI or NVMe)
        "v6-01": "NVMe",  # v6 sizes have NVMe only
    }
    assert _reasons(env.facts("nvme-01"), VolumeType.DATA) == [("R-LIM-4o", "nvme-disk-controller")]
    v6 = rules.check_support_matrix(env.facts("v6-01"), VolumeType.DATA, allow_unlisted=False)
    assert [(r.rule, r.reason) for r in v6] == [("R-LIM-4o", "unsupported-size")]

    skus = {s.name: s.as_dict() for s in env.compute.resource_skus.list(filter="location eq 'eastus'")}
    caps = {name: {c["name"]: c["value"] for c in sku["capabilities"]} for name, sku in skus.items()}
    assert (caps["Standard_L16s_v3"]["NvmeDiskSizeInMiB"], caps["Standard_L16s_v3"]["NvmeSizePerDiskInMiB"]) == (
        str(2 * 1831424),
        "1831424",
    )
    assert caps["Standard_D2ds_v6"]["MaxResourceVolumeMB"] == "0" and int(caps["Standard_D2ds_v6"]["NvmeDiskSizeInMiB"])
    assert (caps["Standard_D2s_v5"]["MaxResourceVolumeMB"], caps["Standard_D2ds_v5"]["MaxResourceVolumeMB"]) == (
        "0",
        "32768",
    )
    assert {n: caps[n]["DiskControllerTypes"] for n in ("Standard_D2s_v5", "Standard_E2bs_v5", "Standard_D2s_v6")} == {
        "Standard_D2s_v5": "SCSI",
        "Standard_E2bs_v5": "SCSI, NVMe",
        "Standard_D2s_v6": "NVMe",
    }
    assert "NvmeDiskSizeInMiB" not in caps["Standard_D2s_v5"]


def _attach(disk: str, nic: str, size: str, controller: str | None) -> dict[str, Any]:
    storage: dict[str, Any] = {
        "osDisk": {
            "osType": "Linux",
            "name": disk,
            "createOption": "Attach",
            "managedDisk": {"id": f"{COMPUTE}/disks/{disk}"},
        }
    }
    if controller is not None:
        storage["diskControllerType"] = controller
    return {
        "location": "eastus",
        "properties": {
            "hardwareProfile": {"vmSize": size},
            "storageProfile": storage,
            "networkProfile": {
                "networkInterfaces": [
                    {"id": f"{RG}/providers/Microsoft.Network/networkInterfaces/{nic}", "properties": {"primary": True}}
                ]
            },
        },
    }


def test_put_compares_size_names_and_controller_values_case_insensitively(env: Env) -> None:
    refused = env.call(
        "PUT", f"{COMPUTE}/virtualMachines/put-01", _attach("att-os-1", "nic-1", "standard_d2s_v5", "NVMe")
    )
    assert refused.status_code == 400, refused.text
    assert "DiskControllerTypes" in refused.json()["error"]["message"]
    bad = env.call("PUT", f"{COMPUTE}/virtualMachines/put-01", _attach("att-os-1", "nic-1", "Standard_D2s_v5", "IDE"))
    assert bad.status_code == 400 and "diskControllerType" in bad.json()["error"]["message"]

    made = env.call(
        "PUT", f"{COMPUTE}/virtualMachines/put-01", _attach("att-os-1", "nic-1", "STANDARD_E2BS_V5", "nvme")
    )
    assert made.status_code == 201, made.text
    props = made.json()["properties"]
    assert (props["hardwareProfile"]["vmSize"], props["storageProfile"]["diskControllerType"]) == (
        "Standard_E2bs_v5",
        "NVMe",
    )
    default = env.call(
        "PUT", f"{COMPUTE}/virtualMachines/put-02", _attach("att-os-2", "nic-2", "standard_d2s_v6", None)
    )
    assert default.status_code == 201, default.text
    assert default.json()["properties"]["storageProfile"]["diskControllerType"] == "NVMe"


# ----------------------------------------------------------------------------------------- legacy dual-pass


def test_r_lim_1_legacy_dual_pass_as_arm_shows_it(env: Env) -> None:
    vm = env.compute.virtual_machines.get("rg-ss", "legacy-01").as_dict()
    os_disk = vm["properties"]["storageProfile"]["osDisk"]
    assert os_disk["encryptionSettings"]["enabled"] is True
    assert os_disk["encryptionSettings"]["diskEncryptionKey"]["sourceVault"]["id"].endswith("/vaults/kv-ss-eastus")
    for name in ("legacy-01-osdisk", "legacy-01-datadisk-0"):
        collection = env.compute.disks.get("rg-ss", name).as_dict()["properties"]["encryptionSettingsCollection"]
        assert (collection["enabled"], collection["encryptionSettingsVersion"]) == (True, "1.0"), name
    ext = env.compute.virtual_machine_extensions.get("rg-ss", "legacy-01", "AzureDiskEncryptionForLinux").as_dict()
    assert ext["properties"]["typeHandlerVersion"] == "0.1" and "AADClientID" in ext["properties"]["settings"]

    facts = env.facts("legacy-01")
    assert facts.legacy_os_encryption_settings and {d.ade_settings_version for d in facts.disks} == {"1.0"}
    assert rules.is_legacy_ade(facts)
    assert ("R-LIM-1", "legacy-aad-release") in _reasons(facts, VolumeType.ALL)
    # A single-pass VM of the same fleet is not mistaken for one (settings version 1.1, nothing in the VM model).
    assert not rules.is_legacy_ade(env.facts("flex-01"))


# ------------------------------------------------------------------------------------------------ fleet file


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"vms": [{"name": "m-01", "scale_set": "ss-uni"}]}, "is Uniform; only Flexible ones have VMs"),
        ({"vms": [{"name": "m-01", "scale_set": "ss-none"}]}, "no scale set 'ss-none'"),
        (
            {"vms": [{"name": "m-01", "scale_set": "ss-flex", "scale_set_id": "/x"}]},
            "give scale_set or scale_set_id, not both",
        ),
    ],
)
def test_fleet_file_refuses_members_of_unknown_or_uniform_scale_sets(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        FleetSpec.model_validate(_fleet(**changes))


def test_fleet_file_refuses_a_controller_the_size_does_not_have() -> None:
    fleet = FleetSpec.model_validate(
        _fleet(vms=[{"name": "m-01", "size": "Standard_D4s_v5", "disk_controller_type": "NVMe"}])
    )
    with pytest.raises(ValueError, match="supports disk controllers SCSI, not NVMe"):
        SimServer(fleet, clock=SimClock(scale=1.0))
