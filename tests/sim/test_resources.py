"""VMs, disks, snapshots, vaults, errors and the request log, through the real SDK clients."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.core.rest import HttpRequest

from tests.support.frozen_sim import SUB1, Sim


def raw(sim: Sim, method: str, path: str, body: Any = None, token: str | None = "t") -> tuple[int, Any]:
    """A request without the SDK (to test auth and api-version handling)."""
    ctx = ssl.create_default_context(cafile=str(sim.server.ca_path))
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(sim.server.base_url + path, data=data, method=method)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, context=ctx) as resp:
            text = resp.read()
            return resp.status, json.loads(text) if text else None
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


VM01 = f"/subscriptions/{SUB1}/resourceGroups/rg-web/providers/Microsoft.Compute/virtualMachines/web-01"


def test_vm_get_with_instance_view(sim: Sim) -> None:
    vm = sim.compute.virtual_machines.get("rg-web", "web-01", expand="instanceView")
    body = vm.as_dict()
    assert body["id"].endswith("/virtualMachines/web-01")
    props = body["properties"]
    assert props["hardwareProfile"]["vmSize"] == "Standard_D2s_v5"
    assert props["storageProfile"]["osDisk"]["managedDisk"]["id"].endswith("/disks/web-01-osdisk")
    assert "encryptionSettings" not in props["storageProfile"]["osDisk"]
    assert props["storageProfile"]["dataDisks"][0]["lun"] == 0
    assert props["securityProfile"]["securityType"] == "TrustedLaunch"
    iv = props["instanceView"]
    assert [s["code"] for s in iv["statuses"]] == ["ProvisioningState/succeeded", "PowerState/running"]
    assert {d["name"] for d in iv["disks"]} == {"web-01-osdisk", "web-01-datadisk-0"}
    assert vm.properties.instance_view.vm_agent.vm_agent_version
    plain = sim.compute.virtual_machines.get("rg-web", "web-02").as_dict()
    assert "instanceView" not in plain["properties"]


def test_ineligibility_signals_in_vm_model(sim: Sim) -> None:
    props = sim.compute.virtual_machines.get("rg-web", "web-06").as_dict()["properties"]
    os_disk = props["storageProfile"]["osDisk"]
    assert os_disk["diffDiskSettings"] == {"option": "Local", "placement": "CacheDisk"}
    assert "id" not in os_disk["managedDisk"]
    data = props["storageProfile"]["dataDisks"][0]
    assert data["managedDisk"]["storageAccountType"] == "UltraSSD_LRS"
    assert data["managedDisk"]["diskEncryptionSet"]["id"].endswith("des-1")
    assert props["securityProfile"] == {"encryptionAtHost": True}
    with pytest.raises(ResourceNotFoundError):
        sim.compute.disks.get("rg-web", "web-06-osdisk")
    disk = sim.compute.disks.get("rg-web", "web-06-datadisk-2").as_dict()
    assert disk["properties"]["encryption"]["type"] == "EncryptionAtRestWithCustomerKey"


def test_instance_view_operation(sim: Sim) -> None:
    iv = sim.compute.virtual_machines.instance_view("rg-web", "web-02").as_dict()
    assert iv["disks"][0]["statuses"][-1]["code"] == "EncryptionState/notEncrypted"
    assert iv["disks"][0]["statuses"][-1]["displayStatus"] == "Disk is not encrypted"


def test_disk_get(sim: Sim) -> None:
    disk = sim.compute.disks.get("rg-web", "web-02-osdisk").as_dict()
    assert disk["sku"]["name"] == "Premium_LRS"
    props = disk["properties"]
    assert props["diskSizeGB"] == 30 and props["osType"] == "Linux"
    assert props["encryption"] == {"type": "EncryptionAtRestWithPlatformKey"}
    assert props["diskState"] == "Attached" and props["provisioningState"] == "Succeeded"
    assert disk["managedBy"].endswith("/virtualMachines/web-02")
    assert "encryptionSettingsCollection" not in props


def test_preencrypted_vm_has_stamps_and_extension(sim: Sim) -> None:
    disk = sim.compute.disks.get("rg-web", "web-03-datadisk-0").as_dict()
    esc = disk["properties"]["encryptionSettingsCollection"]
    assert esc["enabled"] is True and esc["encryptionSettingsVersion"] == "1.1"
    assert esc["encryptionSettings"][0]["diskEncryptionKey"]["sourceVault"]["id"].endswith("/vaults/kv-ade-eastus")
    ext = sim.compute.virtual_machine_extensions.get(
        "rg-web", "web-03", "AzureDiskEncryptionForLinux", expand="instanceView"
    )
    iv = ext.properties.instance_view
    assert json.loads(iv.substatuses[0].message) == {"data": "Encrypted", "os": "Encrypted"}
    assert iv.statuses[0].message == "Encryption succeeded for all volumes"


def test_snapshot_lifecycle(sim: Sim) -> None:
    disk = sim.compute.disks.get("rg-web", "web-03-osdisk")
    body = {
        "location": "eastus",
        "sku": {"name": "Standard_ZRS"},
        "properties": {"incremental": True, "creationData": {"createOption": "Copy", "sourceResourceId": disk.id}},
        "tags": {"purpose": "pre-ade"},
    }
    with sim.fast():
        snap = sim.compute.snapshots.begin_create_or_update("rg-web", "web-03-pre-ade", body).result()
    assert snap.properties.provisioning_state == "Succeeded"
    got = sim.compute.snapshots.get("rg-web", "web-03-pre-ade").as_dict()
    props = got["properties"]
    assert props["incremental"] is True and props["incrementalSnapshotFamilyId"]
    assert props["creationData"]["sourceResourceId"] == disk.id
    assert props["creationData"]["sourceUniqueId"] == disk.properties.unique_id
    assert props["diskSizeBytes"] == 30 * 1024**3 and props["completionPercent"] == 100.0
    assert props["encryptionSettingsCollection"]["encryptionSettingsVersion"] == "1.1"
    assert got["tags"] == {"purpose": "pre-ade"}
    # Idempotent re-PUT: 200, no new operation.
    before = len(sim.server.writes_for("web-03-pre-ade"))
    with sim.fast():
        sim.compute.snapshots.begin_create_or_update("rg-web", "web-03-pre-ade", body).result()
    writes = sim.server.writes_for("web-03-pre-ade")
    assert len(writes) == before + 1 and writes[-1].status == 200
    sim.compute.snapshots.begin_delete("rg-web", "web-03-pre-ade").result()
    with pytest.raises(ResourceNotFoundError):
        sim.compute.snapshots.get("rg-web", "web-03-pre-ade")


def test_snapshot_of_missing_disk_is_404(sim: Sim) -> None:
    missing = f"/subscriptions/{SUB1}/resourceGroups/rg-web/providers/Microsoft.Compute/disks/nope"
    body = {"location": "eastus", "properties": {"creationData": {"createOption": "Copy", "sourceResourceId": missing}}}
    with pytest.raises(ResourceNotFoundError):
        sim.compute.snapshots.begin_create_or_update("rg-web", "snap-x", body)


def test_vault_get(sim: Sim) -> None:
    vault = sim.keyvault.vaults.get("rg-web", "kv-ade-eastus")
    assert vault.location == "eastus"
    assert vault.properties.enabled_for_disk_encryption is True
    assert vault.properties.vault_uri == "https://kv-ade-eastus.vault.azure.net/"
    assert vault.properties.sku.name == "standard" and vault.properties.provisioning_state == "Succeeded"
    other = sim.keyvault2.vaults.get("rg-west", "kv-no-ade")
    assert other.properties.enabled_for_disk_encryption is False


def test_not_found_errors(sim: Sim) -> None:
    with pytest.raises(ResourceNotFoundError) as exc:
        sim.compute.virtual_machines.get("rg-web", "web-99")
    assert exc.value.error is not None and exc.value.error.code == "ResourceNotFound"
    assert (
        exc.value.error.message
        == "The Resource 'Microsoft.Compute/virtualMachines/web-99' under resource group 'rg-web' was not found."
    )
    with pytest.raises(ResourceNotFoundError) as exc:
        sim.compute.virtual_machines.get("rg-nope", "web-01")
    assert exc.value.error is not None and exc.value.error.code == "ResourceGroupNotFound"
    status, body = raw(
        sim,
        "GET",
        "/subscriptions/00000000-0000-0000-0000-000000000009/resourceGroups/x"
        "/providers/Microsoft.Compute/virtualMachines/y?api-version=2026-04-01",
    )
    assert status == 404 and body["error"]["code"] == "SubscriptionNotFound"


def test_api_version_and_auth_errors(sim: Sim) -> None:
    status, body = raw(sim, "GET", VM01 + "?api-version=2019-01-01")
    assert status == 400 and body["error"]["code"] == "InvalidApiVersionParameter"
    status, body = raw(sim, "GET", VM01 + "?api-version=2026-04-01", token=None)
    assert status == 401 and body["error"]["code"] == "AuthenticationFailed"
    response = sim.compute.send_request(
        HttpRequest(
            "PUT",
            VM01 + "/extensions/x?api-version=2026-04-01",
            content=b"{not json",
            headers={"Content-Type": "application/json"},
        )
    )
    assert response.status_code == 400 and response.json()["error"]["code"] == "InvalidRequestContent"
    with pytest.raises(HttpResponseError):
        sim.compute.disks.get("rg-web", "web-01-osdisk", api_version="2020-01-01")


def test_request_log_counts_operations(sim: Sim) -> None:
    before = sim.server.requests()
    sim.compute.virtual_machines.get("rg-web", "web-01")
    sim.compute.disks.get("rg-web", "web-01-osdisk")
    after = sim.server.requests()
    new = after[len(before) :]
    assert [r.operation for r in new] == ["VirtualMachines_Get", "Disks_Get"]
    assert new[0].api_version == "2026-04-01" and new[1].api_version == "2026-03-02"
    assert new[1].seq == new[0].seq + 1
    status, summary = raw(sim, "GET", "/_sim/requests", token=None)
    assert status == 200 and summary["total"] == len(sim.server.requests())
    assert summary["by_operation"]["VirtualMachines_Get"] >= 1
    assert not any(r.path.startswith("/_sim/") for r in sim.server.requests())


def test_clock_control_endpoints(sim: Sim) -> None:
    before = sim.clock.now()
    status, body = raw(sim, "POST", "/_sim/clock/advance", {"seconds": 60}, token=None)
    assert status == 200
    assert (sim.clock.now() - before).total_seconds() >= 60
    status, body = raw(sim, "GET", "/_sim/clock", token=None)
    assert status == 200 and body["scale"] == sim.clock.scale
    status, body = raw(sim, "POST", "/_sim/clock/scale", {"scale": 1e-9}, token=None)
    assert status == 200 and body["scale"] == 1e-9
