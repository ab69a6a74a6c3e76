"""The simulator's VM create around a customer-encrypted OS disk (R-VHD-1) and its Key Vault secret/key reads.

Driven by the real SDK where the product uses it, and over raw HTTPS for status codes, headers and the ARM
error contract. No official example exists for a VM create with ``encryptionSettings`` (arm-examples/README):
the PUT's answer is compared with the VM resource example (VirtualMachine_Get.json), the secret and key
answers with the key names of the official getSecret.json / getKeyVersion.json examples.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from azure.core.exceptions import HttpResponseError
from azure.mgmt.compute import ComputeManagementClient
from azure.mgmt.compute.models import VirtualMachine
from azure.mgmt.keyvault import KeyVaultManagementClient

from activities.azure.credentials import StaticTokenCredential
from azuresim.clock import SimClock
from azuresim.fleet import FleetSpec
from azuresim.server import SimServer
from azuresim.state.keyvault import object_version
from tests.support.arm_examples import EXAMPLES, shape_errors

SUB = "6f1c3a52-8d11-4c4e-9a7e-000000000001"
RG = f"/subscriptions/{SUB}/resourceGroups/rg-vhd"
VMS = f"{RG}/providers/Microsoft.Compute/virtualMachines"
VAULT_ID = f"{RG}/providers/Microsoft.KeyVault/vaults/kv-vhd-eastus"
NO_ADE_VAULT_ID = f"{RG}/providers/Microsoft.KeyVault/vaults/kv-vhd-noade"
VM_API, KV_API = "2026-04-01", "2026-05-15"
SECRET_URL = (
    f"https://kv-vhd-eastus.vault.azure.net/secrets/vhd-bek/{object_version('kv-vhd-eastus', 'secrets', 'vhd-bek')}"
)
KEK_URL = f"https://kv-vhd-eastus.vault.azure.net/keys/kek/{object_version('kv-vhd-eastus', 'keys', 'kek')}"
DISKS = [f"vhd-os-{i}" for i in range(1, 9)]

FLEET: dict[str, Any] = {
    "subscriptions": [
        {
            "id": SUB,
            "resource_groups": [
                {
                    "name": "rg-vhd",
                    "location": "eastus",
                    "key_vaults": [
                        {
                            "name": "kv-vhd-eastus",
                            "secrets": [{"name": "vhd-bek", "tags": {"DiskEncryptionKeyFileName": "x"}}],
                            "keys": [{"name": "kek"}, {"name": "ec-key", "kty": "EC", "key_size": 256}],
                        },
                        {
                            "name": "kv-vhd-noade",
                            "enabled_for_disk_encryption": False,
                            "secrets": [{"name": "vhd-bek"}],
                        },
                    ],
                    "disks": [
                        *({"name": n, "source_uri": f"https://acct.blob.core.windows.net/vhds/{n}.vhd"} for n in DISKS),
                        {"name": "vhd-west", "location": "westus2"},
                    ],
                    "vms": [{"name": "old-01"}],
                    "network_interfaces": [{"name": f"nic-{n}"} for n in DISKS],
                }
            ],
        }
    ]
}


def disk_id(name: str) -> str:
    return f"{RG}/providers/Microsoft.Compute/disks/{name}"


def nic_id(disk: str) -> str:
    """Each disk's VM gets its own NIC (one NIC serves one VM)."""
    return f"{RG}/providers/Microsoft.Network/networkInterfaces/nic-{disk}"


def vm_body(disk: str, *, secret_url: str = SECRET_URL, vault_id: str = VAULT_ID, kek: bool = False) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "enabled": True,
        "diskEncryptionKey": {"secretUrl": secret_url, "sourceVault": {"id": vault_id}},
    }
    if kek:
        settings["keyEncryptionKey"] = {"keyUrl": KEK_URL, "sourceVault": {"id": VAULT_ID}}
    return {
        "location": "eastus",
        "properties": {
            "hardwareProfile": {"vmSize": "Standard_D2s_v5"},
            "storageProfile": {
                "osDisk": {
                    "osType": "Linux",
                    "name": disk,
                    "createOption": "Attach",
                    "caching": "ReadWrite",
                    "managedDisk": {"id": disk_id(disk)},
                    "encryptionSettings": settings,
                }
            },
            "networkProfile": {"networkInterfaces": [{"id": nic_id(disk), "properties": {"primary": True}}]},
        },
    }


class Env:
    def __init__(self, server: SimServer) -> None:
        self.server = server
        common: dict[str, Any] = {
            "base_url": server.base_url,
            "connection_verify": str(server.ca_path),
            "polling_interval": 0.05,
        }
        self.compute = ComputeManagementClient(StaticTokenCredential("t"), SUB, **common)
        self.keyvault = KeyVaultManagementClient(StaticTokenCredential("t"), SUB, **common)
        self.session = requests.Session()
        self.session.headers["Authorization"] = "Bearer vhd"

    def call(self, method: str, path: str, api: str, body: Any = None, raw: bytes | None = None) -> Any:
        data = raw if raw is not None else (json.dumps(body) if body is not None else None)
        headers = {"Content-Type": "application/json"} if data is not None else {}
        return self.session.request(
            method,
            f"{self.server.base_url}{path}?api-version={api}",
            data=data,
            headers=headers,
            verify=str(self.server.ca_path),
        )


@pytest.fixture(scope="module")
def env() -> Iterator[Env]:
    server = SimServer(FleetSpec.model_validate(FLEET), clock=SimClock(scale=3600.0))
    server.start_in_thread()
    server.set_throttling(enabled=False)
    try:
        yield Env(server)
    finally:
        server.stop()


def _error(resp: Any, status: int, code: str) -> None:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"error"} and body["error"]["code"] == code and body["error"]["message"]


def test_r_vhd_1_sdk_create_attaches_the_disk_and_the_vm_reports_it_encrypted(env: Env) -> None:
    poller = env.compute.virtual_machines.begin_create_or_update(
        "rg-vhd", "vhd-01", VirtualMachine(vm_body("vhd-os-1", kek=True))
    )
    vm = poller.result().as_dict()
    os_disk = vm["properties"]["storageProfile"]["osDisk"]
    assert vm["properties"]["provisioningState"] == "Succeeded"
    assert os_disk["createOption"] == "Attach" and os_disk["managedDisk"]["id"] == disk_id("vhd-os-1")
    assert os_disk["encryptionSettings"]["enabled"] is True
    assert os_disk["encryptionSettings"]["diskEncryptionKey"]["secretUrl"] == SECRET_URL
    assert os_disk["encryptionSettings"]["keyEncryptionKey"]["keyUrl"] == KEK_URL
    assert "osProfile" not in vm["properties"] and "imageReference" not in vm["properties"]["storageProfile"]

    view = env.compute.virtual_machines.instance_view("rg-vhd", "vhd-01").as_dict()
    disk_view = next(d for d in view["disks"] if d["name"] == "vhd-os-1")
    assert {"EncryptionState/encrypted"} <= {s["code"] for s in disk_view["statuses"]}
    assert disk_view["encryptionSettings"][0]["diskEncryptionKey"]["secretUrl"] == SECRET_URL

    disk = env.compute.disks.get("rg-vhd", "vhd-os-1").as_dict()
    assert disk["properties"]["diskState"] == "Attached" and disk["managedBy"].endswith("/virtualMachines/vhd-01")
    assert disk["properties"]["creationData"]["createOption"] == "Import"


def test_put_answers_201_with_azure_asyncoperation_then_200_for_the_identical_put(env: Env) -> None:
    first = env.call("PUT", f"{VMS}/vhd-02", VM_API, vm_body("vhd-os-2"))
    assert first.status_code == 201, first.text
    assert first.headers.get("Azure-AsyncOperation") and first.json()["properties"]["provisioningState"] == "Creating"
    again = env.call("PUT", f"{VMS}/vhd-02", VM_API, vm_body("vhd-os-2"))
    assert again.status_code == 200 and again.headers.get("Azure-AsyncOperation")
    ops = [r.operation for r in env.server.requests() if "/virtualMachines/vhd-02" in r.path]
    assert ops == ["VirtualMachines_CreateOrUpdate", "VirtualMachines_CreateOrUpdate"]
    changed = vm_body("vhd-os-2")
    changed["properties"]["hardwareProfile"]["vmSize"] = "Standard_D4s_v5"
    _error(env.call("PUT", f"{VMS}/vhd-02", VM_API, changed), 409, "PropertyChangeNotAllowed")


# Keys of our PUT answer that VirtualMachine_Get.json does not show, each in the SDK 39 model.
VM_EXTRAS = {
    ".properties.storageProfile.osDisk.encryptionSettings",  # OSDisk.encryption_settings (DiskEncryptionSettings)
    ".properties.storageProfile.osDisk.deleteOption",
    ".properties.storageProfile.osDisk.writeAcceleratorEnabled",
    ".properties.storageProfile.diskControllerType",
    ".properties.networkProfile.networkInterfaces[].properties",
    ".properties.networkProfile.networkInterfaces[].properties.primary",
    ".properties.networkProfile.networkInterfaces[].properties.deleteOption",  # NetworkInterfaceReference
}


def test_r_vhd_1_put_answer_is_shaped_like_the_official_vm_example(env: Env) -> None:
    example = json.loads((EXAMPLES / "VirtualMachine_Get.json").read_text())["responses"]["200"]["body"]
    resp = env.call("PUT", f"{VMS}/vhd-03", VM_API, vm_body("vhd-os-3"))
    assert resp.status_code == 201, resp.text
    ours = resp.json()
    errors = [e for e in shape_errors(ours, example) if e not in VM_EXTRAS]
    assert errors == [], f"keys not in VirtualMachine_Get.json (or of another type): {errors}"
    for key in ("id", "name", "type", "location", "properties"):
        assert key in ours
    props = ours["properties"]
    assert props["vmId"] and props["hardwareProfile"]["vmSize"] and props["storageProfile"]["osDisk"]["managedDisk"]


def test_secret_get_has_the_official_example_keys_and_never_a_value(env: Env) -> None:
    resp = env.call("GET", f"{VAULT_ID}/secrets/vhd-bek", KV_API)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert {"id", "name", "type", "location", "properties"} <= set(body)
    assert body["type"] == "Microsoft.KeyVault/vaults/secrets"
    assert set(body["properties"]) == {"attributes", "secretUri", "secretUriWithVersion"}
    assert set(body["properties"]["attributes"]) == {"enabled", "created", "updated"}
    assert body["properties"]["secretUriWithVersion"] == SECRET_URL
    secret = env.keyvault.secrets.get("rg-vhd", "kv-vhd-eastus", "vhd-bek")
    assert secret.properties.value is None and secret.tags == {"DiskEncryptionKeyFileName": "x"}
    _error(env.call("GET", f"{VAULT_ID}/secrets/nope", KV_API), 404, "ResourceNotFound")


def test_key_version_get_has_the_official_example_keys(env: Env) -> None:
    version = KEK_URL.rsplit("/", 1)[1]
    key = env.keyvault.keys.get_version("rg-vhd", "kv-vhd-eastus", "kek", version).as_dict()
    assert key["type"] == "Microsoft.KeyVault/vaults/keys/versions" and key["name"] == version
    assert set(key["properties"]) == {"attributes", "keyOps", "keySize", "keyUri", "keyUriWithVersion", "kty"}
    assert key["properties"]["kty"] == "RSA"
    with pytest.raises(HttpResponseError) as err:
        env.keyvault.keys.get_version("rg-vhd", "kv-vhd-eastus", "kek", "0" * 32)
    assert err.value.status_code == 404


def _without(body: dict[str, Any], *path: str) -> dict[str, Any]:
    copied = copy.deepcopy(body)
    node = copied
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    return copied


def _with(body: dict[str, Any], value: Any, *path: str) -> dict[str, Any]:
    copied = copy.deepcopy(body)
    node = copied
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return copied


OS_DISK = ("properties", "storageProfile", "osDisk")
GOOD = vm_body("vhd-os-8")
BAD_VERSION = SECRET_URL.rsplit("/", 1)[0] + "/" + "0" * 32


@pytest.mark.parametrize(
    ("name", "body", "status", "code"),
    [
        ("bad-01", _without(GOOD, "location"), 400, "LocationRequired"),
        ("bad-02", _with(GOOD, {"computerName": "x"}, "properties", "osProfile"), 400, "InvalidParameter"),
        ("bad-03", _with(GOOD, "FromImage", *OS_DISK, "createOption"), 400, "InvalidParameter"),
        ("bad-04", _without(GOOD, *OS_DISK, "osType"), 400, "InvalidParameter"),
        ("bad-05", _with(GOOD, {"uri": "https://a.blob.core.windows.net/v/os.vhd"}, *OS_DISK, "vhd"), 400,
         "OperationNotAllowed"),
        ("bad-06", _with(GOOD, {"id": disk_id("nope")}, *OS_DISK, "managedDisk"), 404, "ResourceNotFound"),
        ("bad-07", _with(GOOD, {"id": disk_id("old-01-osdisk")}, *OS_DISK, "managedDisk"), 409, "OperationNotAllowed"),
        ("bad-08", _with(GOOD, {"id": disk_id("vhd-west")}, *OS_DISK, "managedDisk"), 400, "InvalidParameter"),
        ("bad-09", vm_body("vhd-os-8", vault_id=NO_ADE_VAULT_ID,
                           secret_url=SECRET_URL.replace("kv-vhd-eastus", "kv-vhd-noade")), 400,
         "KeyVaultAccessForbidden"),
        ("bad-10", vm_body("vhd-os-8", vault_id=NO_ADE_VAULT_ID), 400, "KeyVaultAccessForbidden"),
        ("bad-11", vm_body("vhd-os-8", secret_url=BAD_VERSION), 400, "KeyVaultSecretDoesNotExist"),
        ("bad-12", vm_body("vhd-os-8", secret_url=SECRET_URL.rsplit("/", 1)[0]), 400, "InvalidParameter"),
        ("bad-13", _without(GOOD, *OS_DISK, "encryptionSettings", "diskEncryptionKey", "sourceVault"), 400,
         "InvalidParameter"),
        ("bad-14", _with(GOOD, {"networkInterfaces": []}, "properties", "networkProfile"), 400, "InvalidParameter"),
        ("old-01", GOOD, 409, "PropertyChangeNotAllowed"),
    ],
)  # fmt: skip
def test_invalid_create_bodies_get_arm_errors_and_create_nothing(
    env: Env, name: str, body: dict[str, Any], status: int, code: str
) -> None:
    _error(env.call("PUT", f"{VMS}/{name}", VM_API, body), status, code)
    if name != "old-01":
        _error(env.call("GET", f"{VMS}/{name}", VM_API), 404, "ResourceNotFound")
    assert env.compute.disks.get("rg-vhd", "vhd-os-8").as_dict()["properties"]["diskState"] == "Unattached"


def test_create_body_errors_of_the_http_layer(env: Env) -> None:
    _error(env.call("PUT", f"{VMS}/bad-20", VM_API, raw=b"{not json"), 400, "InvalidRequestContent")
    _error(env.call("PUT", f"{VMS}/bad-20", "2019-01-01", GOOD), 400, "InvalidApiVersionParameter")
