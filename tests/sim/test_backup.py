"""Recovery Services Backup through the real RecoveryServicesBackupClient."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from tests.support.frozen_sim import SUB1, Sim

CONTAINER = "IaasVMContainer;iaasvmcontainerv2;rg-web;web-03"
ITEM = "VM;iaasvmcontainerv2;rg-web;web-03"
VAULT_ID = f"/subscriptions/{SUB1}/resourceGroups/rg-web/providers/Microsoft.RecoveryServices/vaults/rsv-web"


def vm_id(name: str) -> str:
    return f"/subscriptions/{SUB1}/resourceGroups/rg-web/providers/Microsoft.Compute/virtualMachines/{name}"


def test_backup_status(sim: Sim) -> None:
    got = sim.backup.backup_status.get("eastus", {"resourceId": vm_id("web-03"), "resourceType": "VM"}).as_dict()
    assert got == {
        "protectionStatus": "Protected",
        "vaultId": VAULT_ID,
        "fabricName": "Azure",
        "containerName": CONTAINER,
        "protectedItemName": ITEM,
        "policyName": "DefaultPolicy",
    }
    other = sim.backup.backup_status.get("eastus", {"resourceId": vm_id("web-02"), "resourceType": "VM"})
    assert other.protection_status == "NotProtected"


def test_list_and_get_protected_items(sim: Sim) -> None:
    items = list(
        sim.backup.backup_protected_items.list(
            "rsv-web", "rg-web", filter="backupManagementType eq 'AzureIaasVM' and itemType eq 'VM'"
        )
    )
    assert sorted(i.as_dict()["properties"]["friendlyName"] for i in items) == ["web-01", "web-03", "web-05"]
    assert list(sim.backup.backup_protected_items.list("rsv-web", "rg-web", filter="itemType eq 'SQLDataBase'")) == []
    item = sim.backup.protected_items.get("rsv-web", "rg-web", "Azure", CONTAINER, ITEM).as_dict()
    props = item["properties"]
    assert item["name"] == ITEM
    assert props["virtualMachineId"] == vm_id("web-03") == props["sourceResourceId"]
    assert props["protectionState"] == "Protected" and props["policyId"].endswith("/backupPolicies/DefaultPolicy")
    # The lower-case container form of the examples is accepted too.
    assert sim.backup.protected_items.get("rsv-web", "rg-web", "Azure", CONTAINER.lower(), ITEM.lower()).name == ITEM
    with pytest.raises(ResourceNotFoundError):
        sim.backup.protected_items.get("rsv-web", "rg-web", "Azure", "IaasVMContainer;x;y;z", "VM;x;y;z")


def trigger(sim: Sim) -> Any:
    return sim.backup.backups.trigger(
        "rsv-web",
        "rg-web",
        "Azure",
        CONTAINER,
        ITEM,
        {"properties": {"objectType": "IaasVMBackupRequest", "recoveryPointExpiryTimeInUTC": "2030-01-01T00:00:00Z"}},
        cls=lambda pipeline_response, deserialized, headers: pipeline_response.http_response.headers,
    )


def test_on_demand_backup_timeline(sim: Sim) -> None:
    before = {p.name for p in sim.backup.recovery_points.list("rsv-web", "rg-web", "Azure", CONTAINER, ITEM)}
    t0 = sim.clock.now()
    headers = trigger(sim)
    async_url, location = headers["Azure-AsyncOperation"], headers["Location"]
    assert f"/protectedItems/{ITEM}/operationsStatus/" in async_url
    assert f"/protectedItems/{ITEM}/operationResults/" in location
    assert int(headers["Retry-After"]) >= 1
    op_id = async_url.split("/operationsStatus/")[1].split("?")[0]
    ops, results = sim.backup.protected_item_operation_statuses, sim.backup.protected_item_operation_results
    assert ops.get("rsv-web", "rg-web", "Azure", CONTAINER, ITEM, op_id).status == "InProgress"
    status_code = results.get(
        "rsv-web", "rg-web", "Azure", CONTAINER, ITEM, op_id, cls=lambda r, d, h: r.http_response.status_code
    )
    assert status_code == 202
    # A second trigger while the job runs is refused.
    with pytest.raises(HttpResponseError) as err:
        trigger(sim)
    assert err.value.status_code == 409

    sim.advance_to(t0 + timedelta(seconds=31))
    status = ops.get("rsv-web", "rg-web", "Azure", CONTAINER, ITEM, op_id)
    assert status.status == "Succeeded"
    job_id = status.properties.job_id
    code = results.get(
        "rsv-web", "rg-web", "Azure", CONTAINER, ITEM, op_id, cls=lambda r, d, h: r.http_response.status_code
    )
    assert code == 204

    sim.advance_to(t0 + timedelta(seconds=900))
    job = sim.backup.job_details.get("rsv-web", "rg-web", job_id).as_dict()["properties"]
    assert job["jobType"] == "AzureIaaSVMJob" and job["status"] == "InProgress" and job["operation"] == "Backup"
    assert job["extendedInfo"]["progressPercentage"] == 50.0
    assert [t["status"] for t in job["extendedInfo"]["tasksList"]] == ["Completed", "InProgress"]
    assert job["entityFriendlyName"] == "web-03"
    assert {p.name for p in sim.backup.recovery_points.list("rsv-web", "rg-web", "Azure", CONTAINER, ITEM)} == before

    sim.advance_to(t0 + timedelta(seconds=1800))
    job = sim.backup.job_details.get("rsv-web", "rg-web", job_id).as_dict()["properties"]
    assert job["status"] == "Completed" and job["duration"] == "PT1800S"
    assert job["extendedInfo"]["progressPercentage"] == 100.0
    points = list(sim.backup.recovery_points.list("rsv-web", "rg-web", "Azure", CONTAINER, ITEM))
    new = [p for p in points if p.name not in before]
    assert len(new) == 1
    props = new[0].properties.as_dict()
    assert props["objectType"] == "IaasVMRecoveryPoint" and props["recoveryPointType"] == "AppConsistent"
    assert props["isSourceVMEncrypted"] is True  # web-03 starts encrypted
    listed = list(
        sim.backup.backup_jobs.list("rsv-web", "rg-web", filter="operation eq 'Backup' and status eq 'Completed'")
    )
    assert job_id in [j.name for j in listed]
    item = sim.backup.protected_items.get("rsv-web", "rg-web", "Azure", CONTAINER, ITEM).as_dict()["properties"]
    assert item["lastBackupStatus"] == "Completed" and item["lastBackupTime"].startswith(t0.strftime("%Y-%m-%dT%H"))
