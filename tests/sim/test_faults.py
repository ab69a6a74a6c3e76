"""Every fault kind through the real SDK clients (and the /_sim/faults control endpoint)."""

from __future__ import annotations

import json
import ssl
import time
import urllib.request
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from azure.core.exceptions import (
    HttpResponseError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.mgmt.compute import ComputeManagementClient
from azure.mgmt.keyvault import KeyVaultManagementClient
from azure.mgmt.recoveryservicesbackup import RecoveryServicesBackupClient

from activities.azure.credentials import StaticTokenCredential
from azuresim.faults import Fault, FaultPlan
from tests.support.frozen_sim import SUB1, SUB2, Sim, ade_extension, ade_settings

pytestmark = pytest.mark.faults
ADE = "AzureDiskEncryptionForLinux"
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "faults-storm.yaml"


def compute(sim: Sim, sub: str = SUB1) -> ComputeManagementClient:
    return ComputeManagementClient(StaticTokenCredential("t"), sub, retry_total=0, **sim.common)


def ext_state(sim: Sim, vm: str) -> tuple[dict[str, Any], dict[str, str]]:
    ext = sim.compute.virtual_machine_extensions.get("rg-web", vm, ADE, expand="instanceView").as_dict()
    iv = ext["properties"]["instanceView"]
    return iv["statuses"][0], json.loads(iv["substatuses"][0]["message"])


def enable(sim: Sim, vm: str, seq: str, **settings: Any) -> Any:
    with sim.fast():
        poller = sim.compute.virtual_machine_extensions.begin_create_or_update(
            "rg-web", vm, ADE, ade_extension(ade_settings(SequenceVersion=seq, **settings))
        )
        return poller.result()


def control(sim: Sim, method: str, path: str, body: Any = None) -> Any:
    ctx = ssl.create_default_context(cafile=str(sim.server.ca_path))
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(sim.server.base_url + path, data=data, method=method)
    with urllib.request.urlopen(req, context=ctx) as resp:
        return json.loads(resp.read())


def test_throttle_storm_count_and_duration(sim: Sim) -> None:
    c = compute(sim)
    fid = sim.server.inject(Fault(kind="throttle", vm="web-02", count=2, retry_after=3))
    assert fid.startswith("fault-")
    for _ in range(2):
        with pytest.raises(HttpResponseError) as err:
            c.virtual_machines.get("rg-web", "web-02")
        assert err.value.status_code == 429 and err.value.response.headers["Retry-After"] == "3"
    assert c.virtual_machines.get("rg-web", "web-02").name == "web-02"
    assert c.virtual_machines.get("rg-web", "web-01").name == "web-01"  # other VMs unaffected
    sim.server.inject({"kind": "throttle", "duration_s": 0.3, "operation": "Disks_Get"})
    with pytest.raises(HttpResponseError):
        c.disks.get("rg-web", "web-01-osdisk")
    assert c.virtual_machines.get("rg-web", "web-01").name == "web-01"
    time.sleep(0.35)
    assert c.disks.get("rg-web", "web-01-osdisk").name == "web-01-osdisk"
    statuses = [r.status for r in sim.server.requests()]
    assert statuses.count(429) == 3


def test_server_error_burst_and_seeded_probability(sim: Sim) -> None:
    c = compute(sim)
    sim.server.inject({"kind": "server_error", "vm": "web-02", "status": 502, "count": 1})
    with pytest.raises(HttpResponseError) as err:
        c.virtual_machines.get("rg-web", "web-02")
    assert err.value.status_code == 502 and err.value.error is not None and err.value.error.code == "BadGateway"
    # The SDK's own retry policy rides over a 503 burst.
    sim.server.inject({"kind": "server_error", "vm": "web-02", "status": 503, "count": 1})
    retrying = ComputeManagementClient(StaticTokenCredential("t"), SUB1, retry_backoff_factor=0.01, **sim.common)
    assert retrying.virtual_machines.get("rg-web", "web-02").name == "web-02"

    def pattern() -> list[int]:
        sim.server.clear_faults()
        sim.server.state.faults.reseed(42)
        sim.server.inject({"kind": "server_error", "vm": "web-02", "status": 500, "probability": 0.5})
        out = []
        for _ in range(12):
            try:
                c.virtual_machines.get("rg-web", "web-02")
                out.append(200)
            except HttpResponseError as exc:
                out.append(exc.status_code or 0)
        return out

    first = pattern()
    assert first == pattern() and 200 in first and 500 in first
    sim.server.clear_faults()


def test_drop_connection(sim: Sim) -> None:
    c = compute(sim)
    sim.server.inject({"kind": "drop_connection", "operation": "VirtualMachines_InstanceView", "count": 1})
    with pytest.raises((ServiceResponseError, ServiceRequestError)):
        c.virtual_machines.instance_view("rg-web", "web-02")
    assert c.virtual_machines.instance_view("rg-web", "web-02").statuses
    dropped = [r for r in sim.server.requests() if r.operation == "VirtualMachines_InstanceView"]
    assert [r.status for r in dropped] == [0, 200]


def test_extension_failure(sim: Sim) -> None:
    sim.server.inject(
        {"kind": "extension_failure", "vm": "web-04", "message": "Failed to encrypt data volumes with error: boom"}
    )
    with pytest.raises(HttpResponseError) as err:
        enable(sim, "web-04", "ef-1")
    assert err.value.error is not None and err.value.error.code == "VMExtensionProvisioningError"
    assert err.value.error.message == (
        "VM has reported a failure when processing extension 'AzureDiskEncryptionForLinux'. "
        'Error message: "Failed to encrypt data volumes with error: boom".'
    )
    status, _ = ext_state(sim, "web-04")
    assert (status["code"], status["level"]) == ("ProvisioningState/failed/100", "Error")
    assert status["message"] == "Failed to encrypt data volumes with error: boom"
    # Only the next enable fails.
    assert enable(sim, "web-04", "ef-2").properties.provisioning_state == "Succeeded"


def test_encryption_stuck(sim: Sim) -> None:
    sim.server.inject({"kind": "encryption_stuck", "vm": "web-01", "percent": 37})
    enable(sim, "web-01", "stuck-1")
    sim.clock.advance(48 * 3600)
    status, state = ext_state(sim, "web-01")
    assert status["message"] == "Encrypting data volume 1/1: 37%"
    assert state == {"data": "EncryptionInProgress", "os": "EncryptionInProgress"}
    sim.clock.advance(48 * 3600)
    assert ext_state(sim, "web-01")[0]["message"] == "Encrypting data volume 1/1: 37%"
    sim.server.clear_faults()


def test_restart_pending(sim: Sim) -> None:
    sim.server.inject({"kind": "restart_pending", "vm": "web-02"})
    enable(sim, "web-02", "rp-1")
    t0 = sim.run_start("web-02")
    sim.advance_to(t0 + timedelta(seconds=120 + 30 * 360 + 10))
    status, state = ext_state(sim, "web-02")
    assert state["os"] == "VMRestartPending"
    assert status["message"] == "OS disk successfully encrypted, please reboot the VM"
    sim.clock.advance(24 * 3600)
    assert ext_state(sim, "web-02")[1]["os"] == "VMRestartPending"
    with sim.fast():
        sim.compute.virtual_machines.begin_restart("rg-web", "web-02").result()
    restart = sim.server.writes_for("web-02/restart")[-1]
    assert (restart.operation, restart.status) == ("VirtualMachines_Restart", 202)
    status, state = ext_state(sim, "web-02")
    assert state["os"] == "Encrypted" and status["message"] == "Encryption succeeded for all volumes"


def test_vm_deallocated(sim: Sim) -> None:
    enable(sim, "web-05", "da-1")
    t0 = sim.run_start("web-05")
    sim.advance_to(t0 + timedelta(seconds=120 + 1000))
    before = ext_state(sim, "web-05")
    sim.server.inject({"kind": "vm_deallocated", "vm": "web-05", "after_s": 100})
    sim.clock.advance(101)
    iv = sim.compute.virtual_machines.instance_view("rg-web", "web-05").as_dict()
    assert iv["statuses"][-1]["code"] == "PowerState/deallocated"
    sim.clock.advance(48 * 3600)
    status, state = ext_state(sim, "web-05")
    assert state == before[1] == {"data": "NotMounted", "os": "EncryptionInProgress"}
    assert status["message"] == before[0]["message"]
    with pytest.raises(HttpResponseError) as err:
        enable(sim, "web-05", "da-2")
    assert err.value.status_code == 409


def test_vm_deleted(sim: Sim) -> None:
    c2 = compute(sim, SUB2)
    sim.server.inject({"kind": "vm_deleted", "vm": "app-01", "after_s": 60})
    assert c2.virtual_machines.get("rg-west", "app-01").name == "app-01"
    sim.clock.advance(61)
    for call in (
        lambda: c2.virtual_machines.get("rg-west", "app-01"),
        lambda: list(c2.virtual_machine_extensions.list("rg-west", "app-01").value or []),
        lambda: c2.disks.get("rg-west", "app-01-osdisk"),
    ):
        with pytest.raises(ResourceNotFoundError) as err:
            call()
        assert err.value.error is not None and err.value.error.code == "ResourceNotFound"


def test_keyvault_denied(sim: Sim) -> None:
    kv = KeyVaultManagementClient(StaticTokenCredential("t"), SUB1, retry_total=0, **sim.common)
    sim.server.inject({"kind": "keyvault_denied", "vault": "kv-ade-eastus", "count": 1})
    with pytest.raises(HttpResponseError) as err:
        kv.vaults.get("rg-web", "kv-ade-eastus")
    assert err.value.status_code == 403 and err.value.error is not None
    assert err.value.error.code == "AuthorizationFailed"
    assert "does not have authorization to perform action 'Microsoft.KeyVault/vaults/read'" in err.value.error.message
    assert kv.vaults.get("rg-web", "kv-ade-eastus").name == "kv-ade-eastus"


def test_snapshot_failure(sim: Sim) -> None:
    sim.server.inject({"kind": "snapshot_failure", "vm": "web-03"})
    disk = f"/subscriptions/{SUB1}/resourceGroups/rg-web/providers/Microsoft.Compute/disks/web-03-osdisk"
    body = {"location": "eastus", "properties": {"creationData": {"createOption": "Copy", "sourceResourceId": disk}}}
    with sim.fast(), pytest.raises(HttpResponseError) as err:
        sim.compute.snapshots.begin_create_or_update("rg-web", "snap-web-03", body).result()
    assert err.value.error is not None and err.value.error.code == "InternalDiskManagementError"
    assert sim.compute.snapshots.get("rg-web", "snap-web-03").provisioning_state == "Failed"
    sim.server.clear_faults()


def test_backup_job_failure(sim: Sim) -> None:
    sim.server.inject({"kind": "backup_job_failure", "vm": "web-01", "message": "Snapshot operation failed."})
    backup: RecoveryServicesBackupClient = sim.backup
    container, item = "IaasVMContainer;iaasvmcontainerv2;rg-web;web-01", "VM;iaasvmcontainerv2;rg-web;web-01"
    headers = backup.backups.trigger(
        "rsv-web",
        "rg-web",
        "Azure",
        container,
        item,
        {"properties": {"objectType": "IaasVMBackupRequest"}},
        cls=lambda resp, _d, _h: resp.http_response.headers,
    )
    op_id = headers["Azure-AsyncOperation"].split("/operationsStatus/")[1].split("?")[0]
    sim.clock.advance(3600)
    status = backup.protected_item_operation_statuses.get("rsv-web", "rg-web", "Azure", container, item, op_id)
    job = backup.job_details.get("rsv-web", "rg-web", status.properties.job_id).as_dict()
    assert job["properties"]["status"] == "Failed"
    assert job["properties"]["errorDetails"][0]["errorString"] == "Snapshot operation failed."
    got = backup.protected_items.get("rsv-web", "rg-web", "Azure", container, item).as_dict()
    assert got["properties"]["lastBackupStatus"] == "Failed"


def test_control_endpoint_and_faults_file(sim: Sim) -> None:
    sim.server.clear_faults()
    created = control(sim, "POST", "/_sim/faults", {"kind": "throttle", "vm": "web-06", "count": 1})
    assert created["ids"][0].startswith("fault-")
    listed = control(sim, "GET", "/_sim/faults")
    assert [f["fault"]["kind"] for f in listed["faults"]] == ["throttle"]
    assert control(sim, "DELETE", "/_sim/faults") == {"faults": []}
    plan = FaultPlan.from_file(EXAMPLE)
    assert plan.seed == 7 and {f.kind for f in plan.initial} >= {"throttle", "server_error"}
