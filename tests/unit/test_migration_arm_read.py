"""The migration's ARM readers (adeflow/domain/migration/arm_read.py) on ARM's own examples: the source recorded for
a rollback, its re-creation body (M-7 NIC reuse), the size's encryption-at-host capability (M-6), the new VM's
check facts."""

from __future__ import annotations

import json
from typing import Any

import pytest

from adeflow.domain.migration import MIGRATED_FROM_TAG
from adeflow.domain.migration.arm_read import (
    ade_vault_id,
    host_encryption_support,
    parse_existing_target,
    parse_new_vm,
    parse_source_definition,
    source_recreate_body,
)
from adeflow.domain.model import VmRef
from tests.support.arm_examples import EXAMPLES

pytestmark = pytest.mark.migration

PREFIX = "/subscriptions/{subscription-id}/resourceGroups/myResourceGroup/providers"
NIC_ID = f"{PREFIX}/Microsoft.Network/networkInterfaces/{{myNIC}}"


def example(name: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((EXAMPLES / name).read_text())["responses"]["200"]["body"]
    return body


def source() -> Any:
    vm = example("VirtualMachine_Get.json")
    disk = example("Disk_Get.json")
    disks = {
        f"{PREFIX}/Microsoft.Compute/disks/myOsDisk".lower(): {
            **disk,
            "id": f"{PREFIX}/Microsoft.Compute/disks/myOsDisk",
        }
    }
    nics = {NIC_ID.lower(): {**example("NetworkInterfaceGet.json"), "id": NIC_ID}}
    return parse_source_definition(VmRef("{subscription-id}", "myResourceGroup", "myVM"), vm, disks, nics)


def test_the_source_is_recorded_whole_for_a_rollback() -> None:
    recorded = source()
    assert (recorded.size, recorded.location, recorded.tags) == ("Standard_DS3_v2", "West US", {"myTag1": "tagValue1"})
    assert recorded.os_disk.lun is None and recorded.os_disk.name == "myOsDisk"
    assert [(d.name, d.lun) for d in recorded.data_disks] == [("myDataDisk0", 0), ("myDataDisk1", 1)]
    assert recorded.data_disks[1].size_bytes == 100 * 1024**3  # from the VM model when no disk resource was read
    nic = recorded.nics[0]
    assert (nic.private_ip, nic.primary, nic.accelerated_networking) == ("172.20.2.4", True, True)
    assert nic.subnet_id.endswith("/virtualNetworks/rg1-vnet/subnets/default")
    assert recorded.availability_set_id.endswith("/availabilitySets/my-AvailabilitySet")
    assert recorded.extensions == ["CustomScriptExtension"]
    model = recorded.model
    assert "resources" not in model
    assert not {"vmId", "provisioningState", "timeCreated", "instanceView"} & set(model["properties"])


def test_m7_rollback_body_attaches_the_kept_disks_and_nics_without_image_or_os_profile() -> None:
    body = source_recreate_body(source())
    props = body["properties"]
    assert "osProfile" not in props and "imageReference" not in props["storageProfile"]
    os_disk = props["storageProfile"]["osDisk"]
    assert (os_disk["createOption"], os_disk["osType"], os_disk["name"]) == ("Attach", "Windows", "myOsDisk")
    assert os_disk["managedDisk"] == {"id": f"{PREFIX}/Microsoft.Compute/disks/myOsDisk"}
    assert [(d["lun"], d["createOption"]) for d in props["storageProfile"]["dataDisks"]] == [
        (0, "Attach"),
        (1, "Attach"),
    ]
    assert props["networkProfile"]["networkInterfaces"][0]["id"] == NIC_ID
    assert props["hardwareProfile"] == {"vmSize": "Standard_DS3_v2"}
    assert body["tags"] == {"myTag1": "tagValue1"} and body["location"] == "West US"


def test_m6_size_capability_from_resource_skus() -> None:
    skus = example("ListAvailableResourceSkusForARegion.json")["value"]
    assert host_encryption_support(skus, "Standard_A0", "West US") is False  # listed, capability absent
    assert host_encryption_support(skus, "Standard_A0", "eastus") is None  # not offered there
    supported = {
        "resourceType": "virtualMachines",
        "name": "Standard_D4s_v5",
        "locations": ["eastus"],
        "capabilities": [{"name": "EncryptionAtHostSupported", "value": "True"}],
    }
    assert host_encryption_support([supported], "standard_d4s_v5", "East US") is True
    assert host_encryption_support([supported], "Standard_D8s_v5", "eastus") is None


def test_new_vm_facts_and_targets_found_under_a_planned_name() -> None:
    vm = example("VirtualMachine_Get.json")
    vm["properties"]["instanceView"] = example("VirtualMachine_Get_InstanceView.json")
    vm["tags"] = {MIGRATED_FROM_TAG: "/subscriptions/s/resourceGroups/r/providers/x/virtualMachines/src"}
    facts = parse_new_vm(vm)
    assert facts.exists and facts.power_state == "running" and facts.provisioning_state == "Succeeded"
    assert not facts.encryption_at_host  # the example has no securityProfile.encryptionAtHost
    assert facts.disk_ids[0].endswith("/disks/myOsDisk") and len(facts.disk_ids) == 3
    assert parse_new_vm(None).exists is False
    target = parse_existing_target("vm", "myVM", vm)
    assert target.migrated_from.endswith("/virtualMachines/src") and target.create_option == ""
    disk = parse_existing_target("disk", "d", {"id": "x", "properties": {"creationData": {"createOption": "Copy"}}})
    assert (disk.create_option, disk.ade_marker, disk.migrated_from) == ("Copy", False, "")


def test_the_ade_vault_is_read_from_the_disks_when_the_extension_is_gone() -> None:
    vault = "/subscriptions/s/resourceGroups/r/providers/Microsoft.KeyVault/vaults/kv"
    stamped = {
        "properties": {
            "encryptionSettingsCollection": {
                "enabled": True,
                "encryptionSettings": [{"diskEncryptionKey": {"sourceVault": {"id": vault}, "secretUrl": "u"}}],
            }
        }
    }
    assert ade_vault_id([{"properties": {}}, stamped]) == vault
    assert ade_vault_id([{"properties": {}}]) == ""
