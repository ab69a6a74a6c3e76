"""Conformance with the official example payloads (tests/fixtures/arm-examples) over raw HTTPS.

For each served operation with an example: same status code; every key in our body exists in the example at the
same path with the same JSON type (apart from the listed, SDK-documented extras); the keys that matter are there;
LRO headers as the example shows. Plus the ARM error contract for bad api-versions, ids, bodies and missing
resources.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests

import azuresim.providers.disks
from tests.support.arm_examples import EXAMPLES, Raw, shape_errors
from tests.support.frozen_sim import SUB1, Sim, ade_extension, ade_settings

pytestmark = pytest.mark.conformance

RG = f"/subscriptions/{SUB1}/resourceGroups/rg-web"
VM = f"{RG}/providers/Microsoft.Compute/virtualMachines"
RSV = f"{RG}/providers/Microsoft.RecoveryServices/vaults/rsv-web"
ITEM = (
    f"{RSV}/backupFabrics/Azure/protectionContainers/IaasVMContainer;iaasvmcontainerv2;rg-web;web-01"
    "/protectedItems/VM;iaasvmcontainerv2;rg-web;web-01"
)
VM_API, DISK_API, KV_API, BK_API = "2026-04-01", "2026-03-02", "2026-05-15", "2026-10-01"

_DISK_EXTRAS = {  # Disk/Snapshot model fields (azure-mgmt-compute 39 DiskProperties/SnapshotProperties, Sku.tier)
    ".properties.diskSizeBytes",
    ".properties.diskState",
    ".properties.encryptionSettingsCollection.encryptionSettingsVersion",
    ".properties.networkAccessPolicy",
    ".properties.publicNetworkAccess",
    ".properties.uniqueId",
    ".properties.completionPercent",
    ".properties.incremental",
    # DiskProperties.disk_iops_read_write / disk_m_bps_read_write / tier: real traffic has them on fixed-SKU disks
    ".properties.diskIOPSReadWrite",
    ".properties.diskMBpsReadWrite",
    ".properties.tier",
    ".sku",
    ".sku.tier",
}
# Keys we send that the example does not show, each documented in the SDK model of the operation.
EXTRAS: dict[str, set[str]] = {
    "VirtualMachines_Get": {
        ".properties.osProfile.linuxConfiguration",  # OSProfile.linux_configuration (the example is Windows)
        ".properties.osProfile.allowExtensionOperations",  # OSProfile.allow_extension_operations (real traffic)
        ".properties.osProfile.requireGuestProvisionSignal",  # OSProfile.require_guest_provision_signal
        ".properties.securityProfile",  # VirtualMachineProperties.security_profile
        ".properties.storageProfile.dataDisks[].deleteOption",  # DataDisk.delete_option
        ".properties.storageProfile.dataDisks[].writeAcceleratorEnabled",
        ".properties.storageProfile.osDisk.deleteOption",  # OSDisk.delete_option
        ".properties.storageProfile.osDisk.writeAcceleratorEnabled",
        ".properties.storageProfile.diskControllerType",  # StorageProfile.disk_controller_type
        ".properties.storageProfile.imageReference.exactVersion",  # ImageReference.exact_version
        ".properties.storageProfile.osDisk.managedDisk.id",  # ManagedDiskParameters.id
        ".properties.storageProfile.dataDisks[].managedDisk.id",
        ".properties.storageProfile.dataDisks[].toBeDetached",  # DataDisk.to_be_detached
        ".properties.networkProfile.networkInterfaces[].properties",  # NetworkInterfaceReference.properties
        ".properties.networkProfile.networkInterfaces[].properties.primary",
        ".resources",  # VirtualMachine.resources (extensions)
        ".tags",
    },
    "VirtualMachines_InstanceView": {
        ".computerName",
        ".osName",
        ".osVersion",
        ".disks[].encryptionSettings",
        ".extensions[].statuses[].time",  # InstanceViewStatus.time
        ".extensions[].substatuses",  # VirtualMachineExtensionInstanceView.substatuses
    },
    "VirtualMachineExtensions_Get": {".tags"},
    "Disks_Get": {".managedBy", ".tags", *_DISK_EXTRAS},
    "Snapshots_Get": _DISK_EXTRAS,
    # The create example's 202 body is minimal; ours is the whole Snapshot (the keys of Snapshot_Get.json).
    "Snapshots_CreateOrUpdate": {
        *_DISK_EXTRAS,
        ".properties.creationData.sourceUniqueId",
        ".properties.diskSizeGB",
        ".properties.encryption",
        ".properties.encryptionSettingsCollection",
        ".properties.hyperVGeneration",
        ".properties.osType",
        ".properties.timeCreated",
        ".tags",
        ".type",
    },
    "Vaults_Get": {  # VaultProperties fields the preview example leaves out
        ".properties.enableRbacAuthorization",
        ".properties.enableSoftDelete",
        ".properties.softDeleteRetentionInDays",
    },
    "JobDetails_Get": {".properties.extendedInfo.progressPercentage"},  # AzureIaaSVMJobExtendedInfo
}
# Keys of the example that must be in ours.
REQUIRED: dict[str, list[str]] = {
    "VirtualMachines_Get": [
        "id",
        "name",
        "type",
        "location",
        "properties.vmId",
        "properties.hardwareProfile.vmSize",
        "properties.storageProfile.osDisk.managedDisk.storageAccountType",
        "properties.provisioningState",
    ],
    "VirtualMachines_InstanceView": ["disks", "extensions", "statuses", "vmAgent.vmAgentVersion"],
    "VirtualMachineExtensions_CreateOrUpdate": ["id", "name", "type", "location", "properties.provisioningState"],
    "VirtualMachineExtensions_Get": [
        "id",
        "name",
        "type",
        "location",
        "properties.publisher",
        "properties.type",
        "properties.typeHandlerVersion",
        "properties.provisioningState",
        "properties.instanceView.statuses",
        "properties.instanceView.substatuses",
    ],
    "Disks_Get": [
        "id",
        "name",
        "type",
        "location",
        "sku.name",
        "properties.diskSizeGB",
        "properties.provisioningState",
    ],
    "Snapshots_CreateOrUpdate": ["name", "location", "properties.creationData.sourceResourceId"],
    "Snapshots_Get": ["id", "name", "type", "location", "properties.creationData", "properties.provisioningState"],
    "Vaults_Get": [
        "id",
        "name",
        "type",
        "location",
        "properties.enabledForDiskEncryption",
        "properties.vaultUri",
        "properties.tenantId",
    ],
    "ProtectedItems_Get": [
        "id",
        "name",
        "type",
        "properties.virtualMachineId",
        "properties.protectionState",
        "properties.lastBackupTime",
        "properties.policyId",
    ],
    "BackupProtectedItems_List": ["value"],
    "ProtectedItemOperationStatuses_Get": ["id", "name", "status", "startTime"],
    "JobDetails_Get": ["id", "name", "type", "properties.status", "properties.extendedInfo.tasksList"],
}


@dataclass(frozen=True)
class Case:
    operation: str
    example: str
    status: str
    method: str
    path: str
    api: str
    body: Any = None
    headers: tuple[str, ...] = ()
    list_key: str | None = None


CASES = [
    Case("VirtualMachines_Get", "VirtualMachine_Get.json", "200", "GET", f"{VM}/web-01", VM_API),
    Case(
        "VirtualMachines_InstanceView",
        "VirtualMachine_Get_InstanceView.json",
        "200",
        "GET",
        f"{VM}/web-03/instanceView",
        VM_API,
    ),
    Case(
        "VirtualMachineExtensions_CreateOrUpdate",
        "VirtualMachineExtension_CreateOrUpdate_MaximumSet_Gen.json",
        "201",
        "PUT",
        f"{VM}/web-02/extensions/AzureDiskEncryptionForLinux",
        VM_API,
        ade_extension(ade_settings(SequenceVersion="conf-1")),
        ("Azure-AsyncOperation",),
    ),
    Case(
        "VirtualMachineExtensions_Get",
        "VirtualMachineExtension_Get_MaximumSet_Gen.json",
        "200",
        "GET",
        f"{VM}/web-03/extensions/AzureDiskEncryptionForLinux?$expand=instanceView",
        VM_API,
    ),
    Case(
        "VirtualMachineExtensions_Delete",
        "VirtualMachineExtension_Delete_MaximumSet_Gen.json",
        "202",
        "DELETE",
        f"{VM}/web-04/extensions/Legacy",
        VM_API,
        headers=("Location",),
    ),
    Case(
        "VirtualMachineExtensions_Delete",
        "VirtualMachineExtension_Delete_MaximumSet_Gen.json",
        "204",
        "DELETE",
        f"{VM}/web-04/extensions/NeverExisted",
        VM_API,
    ),
    Case("Disks_Get", "Disk_Get.json", "200", "GET", f"{RG}/providers/Microsoft.Compute/disks/web-03-osdisk", DISK_API),
    Case(
        "Snapshots_CreateOrUpdate",
        "Snapshot_Create_FromAnExistingSnapshot.json",
        "202",
        "PUT",
        f"{RG}/providers/Microsoft.Compute/snapshots/conf-snap",
        DISK_API,
        {
            "location": "eastus",
            "properties": {
                "creationData": {
                    "createOption": "Copy",
                    "sourceResourceId": f"{RG}/providers/Microsoft.Compute/disks/web-03-osdisk",
                }
            },
        },
        ("Azure-AsyncOperation", "Location"),
    ),
    Case(
        "Snapshots_Get",
        "Snapshot_Get.json",
        "200",
        "GET",
        f"{RG}/providers/Microsoft.Compute/snapshots/conf-snap",
        DISK_API,
    ),
    Case(
        "Snapshots_Get",
        "Snapshot_GetIncrementalSnapshot.json",
        "200",
        "GET",
        f"{RG}/providers/Microsoft.Compute/snapshots/conf-snap-inc",
        DISK_API,
    ),
    Case(
        "Vaults_Get", "getVault.json", "200", "GET", f"{RG}/providers/Microsoft.KeyVault/vaults/kv-ade-eastus", KV_API
    ),
    Case("ProtectedItems_Get", "Compute_ProtectedItem_Get.json", "200", "GET", ITEM, BK_API),
    Case(
        "BackupProtectedItems_List",
        "BackupProtectedItems_List.json",
        "200",
        "GET",
        f"{RSV}/backupProtectedItems?$filter=backupManagementType eq 'AzureIaasVM' and itemType eq 'VM'",
        BK_API,
    ),
    Case(
        "Backups_Trigger",
        "TriggerBackup_Post.json",
        "202",
        "POST",
        f"{ITEM}/backup",
        BK_API,
        {"properties": {"objectType": "IaasVMBackupRequest"}},
        ("Azure-AsyncOperation", "Location", "Retry-After"),
    ),
    Case(
        "ProtectedItemOperationResults_Get",
        "ProtectedItemOperationResults.json",
        "202",
        "GET",
        f"{ITEM}/operationResults/{{op}}",
        BK_API,
        headers=("Azure-AsyncOperation", "Location", "Retry-After"),
    ),
    Case(
        "ProtectedItemOperationStatuses_Get",
        "ProtectedItemOperationStatus.json",
        "200",
        "GET",
        f"{ITEM}/operationsStatus/{{op}}",
        BK_API,
        list_key="after-op",
    ),
    Case(
        "ProtectedItemOperationResults_Get",
        "ProtectedItemOperationResults.json",
        "204",
        "GET",
        f"{ITEM}/operationResults/{{op}}",
        BK_API,
        list_key="after-op",
    ),
    Case("JobDetails_Get", "GetJobDetails.json", "200", "GET", f"{RSV}/backupJobs/{{job}}", BK_API),
]


def _has(body: Any, dotted: str) -> bool:
    for part in dotted.split("."):
        if not isinstance(body, dict) or part not in body:
            return False
        body = body[part]
    return True


@pytest.fixture(scope="module")
def raw(sim: Sim) -> Iterator[Raw]:
    sim.server.set_throttling(enabled=False)
    r = Raw(sim)
    # A legacy extension to delete, an incremental snapshot to read.
    sim.server.state.vm(SUB1, "rg-web", "web-04").extensions["legacy"] = __import__(
        "azuresim.state.compute", fromlist=["Extension"]
    ).Extension("Legacy", "eastus", "Contoso", "Legacy", "1.0")
    inc = {
        "location": "eastus",
        "properties": {
            "incremental": True,
            "creationData": {
                "createOption": "Copy",
                "sourceResourceId": f"{RG}/providers/Microsoft.Compute/disks/web-03-osdisk",
            },
        },
    }
    assert r.call("PUT", f"{RG}/providers/Microsoft.Compute/snapshots/conf-snap-inc", DISK_API, inc).status_code == 202
    yield r


def _example(case: Case) -> dict[str, Any]:
    data = json.loads((EXAMPLES / case.example).read_text())
    assert data.get("operationId", case.operation) == case.operation or case.example.startswith(
        ("Compute_", "ProtectedItem", "GetJob", "getVault", "Disk_", "Snapshot_Get", "VirtualMachine_")
    )
    response: dict[str, Any] = data["responses"][case.status]
    return response


STATE: dict[str, str] = {}


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.operation}-{c.status}-{c.example.removesuffix('.json')}")
def test_conformance(raw: Raw, sim: Sim, case: Case) -> None:
    expected = _example(case)
    if case.list_key == "after-op":
        sim.clock.advance(60)
    path = case.path.replace("{op}", STATE.get("op", "x")).replace("{job}", STATE.get("job", "x"))
    resp = raw.call(case.method, path, case.api, case.body)
    assert str(resp.status_code) == case.status, resp.text
    for header in case.headers:
        assert resp.headers.get(header), f"{header} missing"
    if case.operation == "Backups_Trigger":
        STATE["op"] = resp.headers["Azure-AsyncOperation"].split("/operationsStatus/")[1].split("?")[0]
    if case.operation == "ProtectedItemOperationStatuses_Get":
        STATE["job"] = resp.json()["properties"]["jobId"]
    if "body" not in expected:
        assert not resp.content, "the example has no body"
        return
    ours = resp.json()
    errors = [e.replace("[]", "[]") for e in shape_errors(ours, expected["body"])]
    errors = [e for e in errors if e not in EXTRAS.get(case.operation, set())]
    assert errors == [], f"{case.operation}: keys not in {case.example} (or of another type): {errors}"
    for key in REQUIRED.get(case.operation, []):
        assert _has(ours, key), f"{case.operation}: {key} missing"


# ---------------------------------------------------------------------------------------------- error contract


def _error(resp: Any, status: int | tuple[int, ...], code: str | None = None) -> None:
    statuses = status if isinstance(status, tuple) else (status,)
    assert resp.status_code in statuses, resp.text
    body = resp.json()
    assert set(body) == {"error"} and isinstance(body["error"]["code"], str) and body["error"]["message"]
    if code:
        assert body["error"]["code"] == code


@pytest.mark.parametrize(
    ("path", "api"),
    [
        (f"{VM}/web-01", "2019-01-01"),
        (ITEM, "2016-12-01"),
        (f"/subscriptions/{SUB1}/providers/Microsoft.Authorization/policyAssignments", "2020-01-01"),
    ],
)
def test_unknown_api_version(raw: Raw, path: str, api: str) -> None:
    _error(raw.call("GET", path, api), 400, "InvalidApiVersionParameter")


def test_missing_api_version(raw: Raw) -> None:
    _error(raw.call("GET", f"{VM}/web-01", None), 400, "MissingApiVersionParameter")


@pytest.mark.parametrize(
    "path",
    [
        f"/subscriptions/{SUB1}/resourceGroups/providers/Microsoft.Compute/virtualMachines/web-01",
        f"{RG}/providers/Microsoft.Compute/virtualMachines/web-01/extensions/AzureDiskEncryptionForLinux/x",
        f"{RSV}/backupFabrics/Azure/protectedItems/VM;iaasvmcontainerv2;rg-web;web-01",
    ],
)
def test_malformed_ids(raw: Raw, path: str) -> None:
    _error(raw.call("GET", path, VM_API), (400, 404))


@pytest.mark.parametrize(
    ("path", "api"),
    [
        (f"{VM}/nope", VM_API),
        (f"{VM}/web-01/extensions/nope", VM_API),
        (f"{RG}/providers/Microsoft.Compute/disks/nope", DISK_API),
        (f"{RG}/providers/Microsoft.Compute/snapshots/nope", DISK_API),
        (f"{RG}/providers/Microsoft.KeyVault/vaults/nope", KV_API),
        (f"{RG}/providers/Microsoft.RecoveryServices/vaults/nope/backupJobs", BK_API),
        (f"{RSV}/backupJobs/00000000-0000-0000-0000-000000000000", BK_API),
    ],
)
def test_missing_resources(raw: Raw, path: str, api: str) -> None:
    _error(raw.call("GET", path, api), 404, "ResourceNotFound")


@pytest.mark.parametrize(
    ("method", "path", "api", "payload"),
    [
        ("PUT", f"{VM}/web-01/extensions/X", VM_API, b"{not json"),
        ("PUT", f"{RG}/providers/Microsoft.Compute/snapshots/bad", DISK_API, b"[1, 2]"),
        ("POST", f"{ITEM}/backup", BK_API, b'{"properties": {"objectType": "Nope"}}'),
        (
            "POST",
            f"/subscriptions/{SUB1}/providers/Microsoft.RecoveryServices/locations/eastus/backupStatus",
            BK_API,
            b"{}",
        ),
    ],
)
def test_invalid_body(raw: Raw, method: str, path: str, api: str, payload: bytes) -> None:
    _error(raw.call(method, path, api, raw=payload), 400, "InvalidRequestContent")


def test_unauthenticated(raw: Raw) -> None:
    resp = requests.get(raw.base + f"{VM}/web-01?api-version={VM_API}", verify=str(raw.sim.server.ca_path))
    _error(resp, 401, "AuthenticationFailed")


# ---------------------------------------------------------------------------------------------- snapshot lists


@pytest.mark.parametrize(
    ("operation", "path"),
    [
        ("Snapshots_ListByResourceGroup", f"{RG}/providers/Microsoft.Compute/snapshots"),
        ("Snapshots_List", f"/subscriptions/{SUB1}/providers/Microsoft.Compute/snapshots"),
    ],
)
def test_snapshot_lists_page_like_arm(raw: Raw, operation: str, path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """``{"value": [...], "nextLink"}`` pages whose items are shaped like the Snapshots_Get examples.

    The fixtures hold no list example (upstream has Snapshot_ListByResourceGroup.json and
    Snapshot_ListBySubscription.json, not copied), so each item is held to the Get examples instead.
    """
    monkeypatch.setattr(azuresim.providers.disks, "SNAPSHOT_PAGE", 1)
    disk = f"{RG}/providers/Microsoft.Compute/disks/web-01-osdisk"
    body = {"location": "eastus", "properties": {"creationData": {"createOption": "Copy", "sourceResourceId": disk}}}
    created = raw.call("PUT", f"{RG}/providers/Microsoft.Compute/snapshots/conf-list", DISK_API, body)
    assert created.status_code in (200, 202), created.text
    examples = {
        incremental: json.loads((EXAMPLES / name).read_text())["responses"]["200"]["body"]
        for incremental, name in ((False, "Snapshot_Get.json"), (True, "Snapshot_GetIncrementalSnapshot.json"))
    }
    resp = raw.call("GET", path, DISK_API)
    names: list[str] = []
    while True:
        assert resp.status_code == 200, resp.text
        page = resp.json()
        assert set(page) <= {"value", "nextLink"} and isinstance(page["value"], list)
        for item in page["value"]:
            example = examples[bool(item["properties"].get("incremental"))]
            errors = [e for e in shape_errors(item, example) if e not in EXTRAS["Snapshots_Get"]]
            assert errors == [], f"{operation}: keys not in the Snapshots_Get examples: {errors}"
            assert all(_has(item, key) for key in REQUIRED["Snapshots_Get"])
            names.append(item["name"])
        if "nextLink" not in page:
            break
        assert page["nextLink"].startswith("https://") and f"api-version={DISK_API}" in page["nextLink"]
        resp = raw.session.get(page["nextLink"], verify=raw.verify)  # the SDK follows nextLink as given
    assert "conf-list" in names and len(names) == len(set(names)) >= 2
    _error(raw.call("GET", path + "?$skiptoken=not-a-token", DISK_API), 400, "InvalidSkipToken")
