"""The ADE extension model end to end through the SDK: stamping, progress, transient error, idempotency."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from tests.support.frozen_sim import Sim, ade_extension, ade_settings

ADE = "AzureDiskEncryptionForLinux"


def ext_view(sim: Sim, vm: str) -> tuple[dict[str, Any], dict[str, Any], dict[str, str]]:
    ext = sim.compute.virtual_machine_extensions.get("rg-web", vm, ADE, expand="instanceView").as_dict()
    iv = ext["properties"]["instanceView"]
    return iv["statuses"][0], iv["substatuses"][0], json.loads(iv["substatuses"][0]["message"])


def enable(sim: Sim, vm: str, **settings: Any) -> Any:
    with sim.fast():
        poller = sim.compute.virtual_machine_extensions.begin_create_or_update(
            "rg-web", vm, ADE, ade_extension(ade_settings(**settings))
        )
        return poller.result()


def test_enable_all_full_timeline(sim: Sim) -> None:
    with pytest.raises(ResourceNotFoundError):
        sim.compute.virtual_machine_extensions.get("rg-web", "web-01", ADE)
    result = enable(sim, "web-01")
    assert result.properties.provisioning_state == "Succeeded"
    put = sim.server.writes_for("web-01/extensions")[-1]
    assert put.status == 201 and put.operation == "VirtualMachineExtensions_CreateOrUpdate"
    t0 = sim.run_start("web-01")
    # Stamped: disks and instance view carry the settings; the VM model's osDisk does not.
    disk = sim.compute.disks.get("rg-web", "web-01-osdisk").as_dict()
    esc = disk["properties"]["encryptionSettingsCollection"]
    secret = esc["encryptionSettings"][0]["diskEncryptionKey"]["secretUrl"]
    assert secret.startswith("https://kv-ade-eastus.vault.azure.net/secrets/")
    iv = sim.compute.virtual_machines.instance_view("rg-web", "web-01").as_dict()
    for d in iv["disks"]:
        assert d["statuses"][-1]["code"] == "EncryptionState/encrypted"
        assert d["encryptionSettings"][0]["enabled"] is True
    vm = sim.compute.virtual_machines.get("rg-web", "web-01").as_dict()
    assert "encryptionSettings" not in vm["properties"]["storageProfile"]["osDisk"]
    # Data pass (64 GB at 10 GB/h).
    sim.advance_to(t0 + timedelta(seconds=120 + 3600))
    status, sub, state = ext_view(sim, "web-01")
    assert status["code"] == "ProvisioningState/succeeded" and status["message"].startswith(
        "Encrypting data volume 1/1"
    )
    assert sub["code"].startswith("ComponentStatus/Microsoft.Azure.Security.AzureDiskEncryptionForLinux/succeeded")
    assert state == {"data": "EncryptionInProgress", "os": "EncryptionInProgress"}
    # OS pass on Ubuntu 22.04: the deliberate "stripped down OS" error first.
    os_start = t0 + timedelta(seconds=120 + 64 * 360)
    sim.advance_to(os_start + timedelta(seconds=30))
    status, _, state = ext_view(sim, "web-01")
    assert (status["level"], status["code"]) == ("Error", "ProvisioningState/failed/19")
    assert status["displayStatus"] == "Provisioning failed"
    assert status["message"] == "Restarted extension from stripped down OS"
    assert state["os"] == "EncryptionInProgress"
    vm_iv = sim.compute.virtual_machines.get("rg-web", "web-01", expand="instanceView").as_dict()
    [vm_ext] = [e for e in vm_iv["properties"]["instanceView"]["extensions"] if e["name"] == ADE]
    assert vm_ext["statuses"][0]["message"] == "Restarted extension from stripped down OS"
    assert vm_ext["type"] == "Microsoft.Azure.Security.AzureDiskEncryptionForLinux"
    sim.advance_to(os_start + timedelta(seconds=700))
    status, _, state = ext_view(sim, "web-01")
    assert status["level"] == "Info" and status["message"] == "Encrypting OS volume: 6%"
    sim.advance_to(os_start + timedelta(hours=3, seconds=1))
    status, _, state = ext_view(sim, "web-01")
    assert status["message"] == "Encryption succeeded for all volumes"
    assert state == {"data": "Encrypted", "os": "Encrypted"}


def test_identical_reput_does_not_restart(sim: Sim) -> None:
    t0 = sim.run_start("web-01")
    before = ext_view(sim, "web-01")[0]["message"]
    result = enable(sim, "web-01")
    assert result.properties.provisioning_state == "Succeeded"
    assert sim.server.writes_for("web-01/extensions")[-1].status == 200
    assert sim.run_start("web-01") == t0
    assert ext_view(sim, "web-01")[0]["message"] == before


def test_new_sequence_after_completion_reevaluates(sim: Sim) -> None:
    enable(sim, "web-01", SequenceVersion="seq-2")
    t1 = sim.run_start("web-01")
    sim.advance_to(t1 + timedelta(seconds=121))
    status, _, state = ext_view(sim, "web-01")
    assert status["message"] == "Encryption succeeded for all volumes"
    assert state == {"data": "Encrypted", "os": "Encrypted"}


def test_new_sequence_while_running_is_rejected(sim: Sim) -> None:
    enable(sim, "web-02", VolumeType="OS")
    t0 = sim.run_start("web-02")
    enable(sim, "web-02", VolumeType="OS", SequenceVersion="seq-2")
    assert sim.run_start("web-02") == t0
    status, _, state = ext_view(sim, "web-02")
    assert status["message"] == "An operation is already in progress. Please wait for it to complete."
    assert state["os"] == "EncryptionInProgress" and state["data"] == "NotMounted"
    sim.advance_to(t0 + timedelta(seconds=120 + 3 * 3600 + 1))
    status, _, state = ext_view(sim, "web-02")
    assert status["message"] == "Encryption succeeded for OS volume" and state["os"] == "Encrypted"


def test_disable_refused_when_os_encrypted(sim: Sim) -> None:
    with sim.fast(), pytest.raises(HttpResponseError) as exc:
        sim.compute.virtual_machine_extensions.begin_create_or_update(
            "rg-web",
            "web-01",
            ADE,
            ade_extension({"EncryptionOperation": "DisableEncryption", "VolumeType": "Data", "SequenceVersion": "d1"}),
        ).result()
    assert "VMExtensionProvisioningError" in str(exc.value)
    assert "Disabling encryption is not supported when OS volume is encrypted." in str(exc.value)
    status, _, state = ext_view(sim, "web-01")
    assert status["level"] == "Error" and "Disabling encryption is not supported" in status["message"]
    assert state["os"] == "Encrypted"


def test_data_only_encrypt_then_disable(sim: Sim) -> None:
    enable(sim, "web-04", VolumeType="Data")
    t0 = sim.run_start("web-04")
    sim.advance_to(t0 + timedelta(seconds=120 + 2 * 3600 + 1800))
    status, _, state = ext_view(sim, "web-04")
    assert status["message"] == "Encrypting data volume 2/2: 50%"
    assert state == {"data": "EncryptionInProgress", "os": "NotEncrypted"}
    sim.advance_to(t0 + timedelta(seconds=120 + 3 * 3600))
    assert ext_view(sim, "web-04")[2] == {"data": "Encrypted", "os": "NotEncrypted"}
    assert (
        "encryptionSettingsCollection" not in sim.compute.disks.get("rg-web", "web-04-osdisk").as_dict()["properties"]
    )

    with sim.fast():
        sim.compute.virtual_machine_extensions.begin_create_or_update(
            "rg-web",
            "web-04",
            ADE,
            ade_extension({"EncryptionOperation": "DisableEncryption", "VolumeType": "DATA", "SequenceVersion": "d1"}),
        ).result()
    t1 = sim.run_start("web-04")
    sim.advance_to(t1 + timedelta(seconds=120 + 3600))
    status, _, state = ext_view(sim, "web-04")
    assert status["message"] == "Decrypting data volume 1/2: 50%" and state["data"] == "DecryptionInProgress"
    sim.advance_to(t1 + timedelta(seconds=120 + 3 * 3600))
    status, _, state = ext_view(sim, "web-04")
    assert status["message"] == "Decryption succeeded" and state["data"] == "NotEncrypted"
    disk = sim.compute.disks.get("rg-web", "web-04-datadisk-0").as_dict()
    assert "encryptionSettingsCollection" not in disk["properties"]


def test_vault_not_enabled_for_disk_encryption_fails(sim: Sim) -> None:
    settings = ade_settings("kv-no-ade", sub="6f1c3a52-8d11-4c4e-9a7e-000000000002", rg="rg-west")
    with sim.fast(), pytest.raises(HttpResponseError) as exc:
        sim.compute2.virtual_machine_extensions.begin_create_or_update(
            "rg-west", "app-01", ADE, ade_extension(settings, "westus2")
        ).result()
    assert "not enabled for disk encryption" in str(exc.value)


def test_kek_is_stamped(sim: Sim) -> None:
    kek = "https://kv-ade-eastus.vault.azure.net/keys/kek/0123456789abcdef0123456789abcdef"
    vault_id = ade_settings()["KeyVaultResourceId"]
    enable(sim, "web-05", VolumeType="OS", KeyEncryptionKeyURL=kek, KekVaultResourceId=vault_id)
    esc = sim.compute.disks.get("rg-web", "web-05-osdisk").as_dict()["properties"]["encryptionSettingsCollection"]
    assert esc["encryptionSettings"][0]["keyEncryptionKey"] == {"keyUrl": kek, "sourceVault": {"id": vault_id}}


def test_other_extensions_list_and_delete(sim: Sim) -> None:
    body = {
        "location": "eastus",
        "properties": {
            "publisher": "Microsoft.Azure.Extensions",
            "type": "CustomScript",
            "typeHandlerVersion": "2.1",
            "settings": {"commandToExecute": "true"},
        },
    }
    with sim.fast():
        ext = sim.compute.virtual_machine_extensions.begin_create_or_update("rg-web", "web-02", "cse", body).result()
    assert ext.properties.provisioning_state == "Succeeded"
    names = {e.name for e in sim.compute.virtual_machine_extensions.list("rg-web", "web-02").value}
    assert names == {"cse", ADE}
    with sim.fast():
        sim.compute.virtual_machine_extensions.begin_delete("rg-web", "web-02", "cse").result()
    with pytest.raises(ResourceNotFoundError):
        sim.compute.virtual_machine_extensions.get("rg-web", "web-02", "cse")
    deletes = [r for r in sim.server.writes_for("web-02/extensions/cse") if r.method == "DELETE"]
    assert [r.status for r in deletes] == [202]
    sim.compute.virtual_machine_extensions.begin_delete("rg-web", "web-02", "cse").result()
    assert sim.server.writes_for("web-02/extensions/cse")[-1].status == 204
