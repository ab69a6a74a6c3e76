"""The simulator's compute side of leaving ADE (docs/ade-migration.md): the EncryptionAtHost feature (M-5), Resource
SKUs (M-6), the new VM with encryption at host from attached disks (M-2, M-3), deallocate/start/delete (M-7, M-8)
and the NIC policy (M-7), through the real SDK clients the product will use: azure-mgmt-compute 39,
azure-mgmt-resource-features 1.0 (aio FeatureClient), azure-mgmt-resource 26 (providers) and azure-mgmt-network 33.1.

The clock is frozen between steps; tests move it by hand or let it run fast while a poller waits.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from azure.core.exceptions import HttpResponseError
from azure.mgmt.compute import ComputeManagementClient
from azure.mgmt.compute.models import VirtualMachine
from azure.mgmt.network import NetworkManagementClient
from azure.mgmt.resource.features.aio import FeatureClient
from azure.mgmt.resource.resources import ResourceManagementClient

from activities.azure.credentials import AsyncStaticTokenCredential, StaticTokenCredential
from azuresim.clock import SimClock
from azuresim.fleet import FleetSpec
from azuresim.server import SimServer
from azuresim.state.compute import DEALLOCATE_SECONDS, VM_DELETE_SECONDS
from azuresim.state.network import NIC_RESERVATION_SECONDS
from tests.support.arm_examples import EXAMPLES, shape_errors
from tests.support.frozen_sim import FAST, FROZEN

pytestmark = pytest.mark.migration

SUB = "6f1c3a52-8d11-4c4e-9a7e-0000000000e1"
SUB_NF = "6f1c3a52-8d11-4c4e-9a7e-0000000000e2"
RG, RG_NF = "rg-mig", "rg-nf"
PREFIX = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers"
VM_API, SKU_API, NET_API = "2026-04-01", "2021-07-01", "2026-03-01"
FEATURE = "/providers/Microsoft.Features/providers/Microsoft.Compute/features/EncryptionAtHost"
REPO = Path(__file__).resolve().parents[2]


def _disk(name: str, *, os: bool = True, zone: str | None = "1", size_gb: int = 32) -> dict[str, Any]:
    return {"name": name, "size_gb": size_gb, "os_type": "Linux" if os else None, "zones": [zone] if zone else []}


FLEET: dict[str, Any] = {
    "sim": {"feature_registration_seconds": 600, "provider_registration_seconds": 60},
    "subscriptions": [
        {
            "id": SUB,
            "resource_groups": [
                {
                    "name": RG,
                    "location": "eastus",
                    "virtual_networks": [
                        {
                            "name": "vnet-mig",
                            "address_prefix": "10.20.0.0/16",
                            "subnets": [
                                {"name": "app", "address_prefix": "10.20.1.0/24"},
                                {"name": "db", "address_prefix": "10.20.2.0/24"},
                            ],
                        }
                    ],
                    "vms": [
                        {
                            "name": "src-01",
                            "size": "Standard_D4s_v5",
                            "zones": ["1"],
                            "subnet": "vnet-mig/app",
                            "data_disks": [{"lun": 0, "size_gb": 64}, {"lun": 3, "size_gb": 32}],
                            "tags": {"app": "billing"},
                        },
                        {"name": "db-01", "size": "Standard_E4s_v5", "subnet": "vnet-mig/db"},
                    ],
                    "disks": [
                        _disk("new-os-1"),
                        _disk("new-data-1-0", os=False, size_gb=64),
                        _disk("new-data-1-3", os=False),
                        _disk("ade-os-2"),
                        _disk("ade-data-2-0", os=False),
                        _disk("west-zone-2", zone="2"),
                        _disk("life-os"),
                        _disk("gone-os"),
                        _disk("gone-data-0", os=False),
                        _disk("res-os"),
                    ],
                    "network_interfaces": [
                        {"name": "nic-ade", "subnet": "vnet-mig/app"},
                        {"name": "nic-life", "subnet": "vnet-mig/app"},
                        {"name": "nic-gone", "subnet": "vnet-mig/app"},
                        {"name": "nic-res", "subnet": "vnet-mig/app", "private_ip": "10.20.1.200"},
                    ],
                }
            ],
        },
        {
            "id": SUB_NF,
            "encryption_at_host_feature": "NotRegistered",
            "resource_groups": [
                {
                    "name": RG_NF,
                    "location": "westeurope",
                    "disks": [_disk("nf-os", zone=None)],
                    "network_interfaces": [{"name": "nf-nic"}],
                }
            ],
        },
    ],
}


def nic_id(name: str, *, sub: str = SUB, rg: str = RG) -> str:
    return f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Network/networkInterfaces/{name}"


def disk_id(name: str, *, sub: str = SUB, rg: str = RG) -> str:
    return f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Compute/disks/{name}"


def vm_body(
    os_disk: str,
    nic: str,
    data: dict[int, str] | None = None,
    *,
    eah: bool = True,
    size: str = "Standard_D4s_v5",
    zone: str | None = "1",
    sub: str = SUB,
    rg: str = RG,
    location: str = "eastus",
    delete_option: str | None = None,
) -> dict[str, Any]:
    """The new VM of a migration: OS and data disks attached, encryption at host, zone, tags, one NIC."""
    extra = {"deleteOption": delete_option} if delete_option else {}
    body: dict[str, Any] = {
        "location": location,
        "tags": {"app": "billing", "migratedFrom": f"{PREFIX}/Microsoft.Compute/virtualMachines/src-01"},
        "properties": {
            "hardwareProfile": {"vmSize": size},
            "storageProfile": {
                "osDisk": {
                    "osType": "Linux",
                    "createOption": "Attach",
                    "managedDisk": {"id": disk_id(os_disk, sub=sub, rg=rg)},
                    **extra,
                },
                "dataDisks": [
                    {"lun": lun, "createOption": "Attach", "managedDisk": {"id": disk_id(name)}, **extra}
                    for lun, name in (data or {}).items()
                ],
            },
            "securityProfile": {"encryptionAtHost": eah},
            "networkProfile": {
                "networkInterfaces": [{"id": nic_id(nic, sub=sub, rg=rg), "properties": {"primary": True, **extra}}]
            },
            "diagnosticsProfile": {"bootDiagnostics": {"enabled": True}},
        },
    }
    if zone:
        body["zones"] = [zone]
    return body


class Env:
    """The server, the SDK clients of both subscriptions, raw HTTPS, and the clock."""

    def __init__(self, server: SimServer) -> None:
        self.server = server
        self.clock = server.clock
        self.common: dict[str, Any] = {
            "base_url": server.base_url,
            "connection_verify": str(server.ca_path),
            "polling_interval": 0.05,
        }
        credential = StaticTokenCredential("t")
        self.compute = ComputeManagementClient(credential, SUB, **self.common)
        self.compute_nf = ComputeManagementClient(credential, SUB_NF, **self.common)
        self.network = NetworkManagementClient(credential, SUB, **self.common)
        self.resources_nf = ResourceManagementClient(credential, SUB_NF, **self.common)
        self.session = requests.Session()
        self.session.headers["Authorization"] = "Bearer t"

    def features(self, sub: str) -> FeatureClient:
        return FeatureClient(AsyncStaticTokenCredential("t"), sub, **self.common)

    def call(self, method: str, path: str, api: str, body: Any = None, query: str = "") -> requests.Response:
        return self.session.request(
            method,
            f"{self.server.base_url}{path}?api-version={api}{query}",
            json=body,
            verify=str(self.server.ca_path),
        )

    @contextmanager
    def fast(self) -> Iterator[None]:
        self.clock.scale = FAST
        try:
            yield
        finally:
            self.clock.scale = FROZEN

    def create(self, name: str, body: dict[str, Any], client: ComputeManagementClient | None = None) -> Any:
        with self.fast():
            poller = (client or self.compute).virtual_machines.begin_create_or_update(RG, name, VirtualMachine(body))
            return poller.result().as_dict()

    def power(self, name: str) -> str:
        view = self.compute.virtual_machines.instance_view(RG, name).as_dict()
        return next(s["code"] for s in view["statuses"] if s["code"].startswith("PowerState/"))


@pytest.fixture(scope="module")
def env() -> Iterator[Env]:
    server = SimServer(FleetSpec.model_validate(FLEET), clock=SimClock(scale=FROZEN))
    server.start_in_thread()
    server.set_throttling(enabled=False)
    try:
        yield Env(server)
    finally:
        server.stop()


def _refused(exc: pytest.ExceptionInfo[HttpResponseError], status: int, code: str) -> str:
    assert exc.value.status_code == status, exc.value
    assert exc.value.error is not None and exc.value.error.code == code, exc.value
    return str(exc.value.error.message)


def _error(resp: requests.Response, status: int, code: str) -> str:
    assert resp.status_code == status, resp.text
    assert resp.json()["error"]["code"] == code, resp.text
    return str(resp.json()["error"]["message"])


# ------------------------------------------------------------------------------------------ M-5 features


async def test_m5_feature_registration_goes_registering_then_registered_on_the_clock(env: Env) -> None:
    async with env.features(SUB_NF) as client, env.features(SUB) as registered:
        assert (await registered.features.get("Microsoft.Compute", "EncryptionAtHost")).properties.state == "Registered"
        before = await client.features.get("Microsoft.Compute", "EncryptionAtHost")
        assert before.properties.state == "NotRegistered"
        assert before.name == "Microsoft.Compute/EncryptionAtHost"
        assert before.id == f"/subscriptions/{SUB_NF}{FEATURE}"
        assert before.type == "Microsoft.Features/providers/features"
        started = await client.features.register("Microsoft.Compute", "EncryptionAtHost")
        assert started.properties.state == "Registering"
        env.clock.advance(300)
        again = await client.features.register("microsoft.compute", "encryptionathost")  # idempotent
        assert again.properties.state == "Registering"
        env.clock.advance(301)
        done = await client.features.get("Microsoft.Compute", "EncryptionAtHost")
        assert done.properties.state == "Registered"
        listed = [f async for f in client.features.list("Microsoft.Compute")]
        assert [(f.name, f.properties.state) for f in listed] == [("Microsoft.Compute/EncryptionAtHost", "Registered")]
    ops = [r.operation for r in env.server.requests() if "Microsoft.Features" in r.path]
    assert "Features_Register" in ops and {r.api_version for r in env.server.requests() if "Features" in r.path} == {
        "2021-07-01"
    }


def test_m5_eah_vm_refused_until_the_feature_is_registered_and_the_provider_reregistered(env: Env) -> None:
    body = vm_body("nf-os", "nf-nic", sub=SUB_NF, rg=RG_NF, location="westeurope", zone=None)
    state = env.server.state.subscription(SUB_NF).registrations
    feature = state.feature("Microsoft.Compute", "EncryptionAtHost")
    assert feature is not None
    for step in ("before", "registered-not-propagated"):
        with pytest.raises(HttpResponseError) as exc:
            env.compute_nf.virtual_machines.begin_create_or_update(RG_NF, "nf-vm", VirtualMachine(body))
        message = _refused(exc, 400, "InvalidParameter")
        assert message == (
            "The property 'securityProfile.encryptionAtHost' is not valid because the "
            "'Microsoft.Compute/EncryptionAtHost' feature is not enabled for this subscription."
        ), step
        if step == "before" and feature.done_at is None:
            state.register_feature("Microsoft.Compute", "EncryptionAtHost", env.clock.now(), 0)
        env.clock.advance(1)
    provider = env.resources_nf.providers.register("Microsoft.Compute")
    assert provider.namespace == "Microsoft.Compute" and provider.registration_state == "Registering"
    env.clock.advance(61)
    assert env.resources_nf.providers.get("Microsoft.Compute").registration_state == "Registered"
    with env.fast():
        vm = (
            env.compute_nf.virtual_machines.begin_create_or_update(RG_NF, "nf-vm", VirtualMachine(body))
            .result()
            .as_dict()
        )
    assert vm["properties"]["securityProfile"]["encryptionAtHost"] is True
    with pytest.raises(HttpResponseError) as unknown:
        env.resources_nf.providers.get("Microsoft.Nope")
    _refused(unknown, 404, "InvalidResourceNamespace")


# ------------------------------------------------------------------------------------------ M-6 resource SKUs


def _caps(sku: dict[str, Any]) -> dict[str, str]:
    return {c["name"]: c["value"] for c in sku["capabilities"]}


def test_m6_resource_skus_report_encryption_at_host_support_per_size(env: Env) -> None:
    skus = [s.as_dict() for s in env.compute.resource_skus.list(filter="location eq 'eastus'")]
    vms = {s["name"]: s for s in skus if s["resourceType"] == "virtualMachines"}
    assert all(s["locations"] == ["eastus"] for s in vms.values())
    verdicts = {name: _caps(vms[name])["EncryptionAtHostSupported"] for name in vms}
    for name in ("Basic_A1", "Standard_A2_v2", "Standard_D2_v2", "Standard_G5", "Standard_M128ms"):
        assert verdicts[name] == "False", name
    for name in ("Standard_D2s_v3", "Standard_D4s_v5", "Standard_E4s_v5", "Standard_F4s_v2", "Standard_B2s"):
        assert verdicts[name] == "True", name
    d4 = _caps(vms["Standard_D4s_v5"])
    assert (d4["vCPUs"], d4["MemoryGB"], vms["Standard_D4s_v5"]["family"]) == ("4", "16", "standardDSv5Family")
    assert _caps(vms["Basic_A1"])["MemoryGB"] == "1.75"
    used: set[str] = set()
    for path in sorted((REPO / "examples").glob("*.yaml")):
        document = yaml.safe_load(path.read_text())
        if isinstance(document, dict) and "subscriptions" in document:
            fleet = FleetSpec.model_validate(document)
            used |= {vm.size for sub in fleet.subscriptions for rg in sub.resource_groups for vm in rg.vms}
    assert used and used <= set(vms), f"sizes of examples/*.yaml missing from Resource SKUs: {used - set(vms)}"
    assert list(env.compute.resource_skus.list(filter="location eq 'nowhere'")) == []
    assert {r.api_version for r in env.server.requests() if r.operation == "ResourceSkus_List"} == {SKU_API}


def test_m6_resource_skus_shaped_like_the_official_example(env: Env) -> None:
    example = json.loads((EXAMPLES / "ListAvailableResourceSkusForARegion.json").read_text())["responses"]["200"]
    resp = env.call("GET", f"/subscriptions/{SUB}/providers/Microsoft.Compute/skus", SKU_API)
    assert resp.status_code == 200 and "nextLink" not in resp.json()
    ours = resp.json()
    assert {s["locations"][0] for s in ours["value"]} == {"eastus", "westeurope"}  # the fleet's regions
    # ResourceSku.restrictions (SDK model) is always present in Azure's answers; the example omits it.
    errors = [e for e in shape_errors(ours, example["body"]) if e != ".value[].restrictions"]
    assert errors == []
    _error(env.call("GET", f"/subscriptions/{SUB}/providers/Microsoft.Compute/skus", "2019-01-01"), 400,
           "InvalidApiVersionParameter")  # fmt: skip


def test_m6_eah_vm_refused_for_a_size_without_support_and_unknown_sizes(env: Env) -> None:
    for size, needle in (("Standard_D2_v2", "does not support encryption at host"), ("Standard_Z9", "not valid")):
        with pytest.raises(HttpResponseError) as exc:
            env.compute.virtual_machines.begin_create_or_update(
                RG, "small-01", VirtualMachine(vm_body("life-os", "nic-life", size=size))
            )
        assert needle in _refused(exc, 400, "InvalidParameter")
    assert env.compute.disks.get(RG, "life-os").as_dict()["properties"]["diskState"] == "Unattached"


# ------------------------------------------------------------------------------------------ the new VM


def test_m3_new_vm_with_eah_from_attached_disks_in_a_new_nic_of_the_source_subnet(env: Env) -> None:
    source_nic = env.network.network_interfaces.get(RG, "src-01-nic").as_dict()
    subnet = source_nic["properties"]["ipConfigurations"][0]["properties"]["subnet"]["id"]
    assert subnet.endswith("/virtualNetworks/vnet-mig/subnets/app")
    source_ip = source_nic["properties"]["ipConfigurations"][0]["properties"]["privateIPAddress"]
    with env.fast():
        new_nic = env.network.network_interfaces.begin_create_or_update(
            RG,
            "src-01-eah-nic",
            {"location": "eastus", "properties": {"ipConfigurations": [{"name": "ipconfig1", "properties": {
                "subnet": {"id": subnet}, "privateIPAllocationMethod": "Dynamic"}}]}},
        ).result().as_dict()  # fmt: skip
    new_ip = new_nic["properties"]["ipConfigurations"][0]["properties"]["privateIPAddress"]
    assert new_ip != source_ip and new_ip.startswith("10.20.1.")
    assert "virtualMachine" not in new_nic["properties"]

    body = vm_body("new-os-1", "src-01-eah-nic", {0: "new-data-1-0", 3: "new-data-1-3"})
    vm = env.create("src-01-eah", body)
    props = vm["properties"]
    assert props["provisioningState"] == "Succeeded" and props["securityProfile"]["encryptionAtHost"] is True
    assert vm["zones"] == ["1"] and vm["tags"]["migratedFrom"].endswith("/virtualMachines/src-01")
    assert props["storageProfile"]["osDisk"]["managedDisk"]["id"] == disk_id("new-os-1")
    luns = {d["lun"]: d["managedDisk"]["id"] for d in props["storageProfile"]["dataDisks"]}
    assert luns == {0: disk_id("new-data-1-0"), 3: disk_id("new-data-1-3")}
    assert props["networkProfile"]["networkInterfaces"][0]["id"] == nic_id("src-01-eah-nic")
    got = env.compute.virtual_machines.get(RG, "src-01-eah").as_dict()
    assert got["properties"]["securityProfile"]["encryptionAtHost"] is True and got["properties"]["vmId"]
    assert got["properties"]["vmId"] != env.compute.virtual_machines.get(RG, "src-01").as_dict()["properties"]["vmId"]
    assert env.power("src-01-eah") == "PowerState/running"
    for name in ("new-os-1", "new-data-1-0", "new-data-1-3"):
        disk = env.compute.disks.get(RG, name).as_dict()
        assert disk["properties"]["diskState"] == "Attached" and disk["managedBy"].endswith("/src-01-eah")
    held = env.network.network_interfaces.get(RG, "src-01-eah-nic").as_dict()["properties"]
    assert held["virtualMachine"]["id"].endswith("/virtualMachines/src-01-eah") and held["primary"] is True
    again = env.call("PUT", f"{PREFIX}/Microsoft.Compute/virtualMachines/src-01-eah", VM_API, body)
    assert again.status_code == 200  # the identical PUT is a retry


def test_m2_disks_with_the_ade_marker_refuse_eah_but_attach_without_it(env: Env) -> None:
    with env.server.state.lock:
        env.server.state.disk(SUB, RG, "ade-data-2-0").ade_marker = True
    body = vm_body("ade-os-2", "nic-ade", {0: "ade-data-2-0"})
    with pytest.raises(HttpResponseError) as exc:
        env.compute.virtual_machines.begin_create_or_update(RG, "ade-eah", VirtualMachine(body))
    message = _refused(exc, 409, "OperationNotAllowed")
    assert disk_id("ade-data-2-0") in message and "ever had Azure Disk Encryption enabled" in message
    assert env.compute.disks.get(RG, "ade-os-2").as_dict()["properties"]["diskState"] == "Unattached"
    assert "virtualMachine" not in env.network.network_interfaces.get(RG, "nic-ade").as_dict()["properties"]
    # The same disks without EAH (a rollback re-creating the source from its own disks) are fine.
    vm = env.create("ade-back", vm_body("ade-os-2", "nic-ade", {0: "ade-data-2-0"}, eah=False))
    assert vm["properties"].get("securityProfile", {}).get("encryptionAtHost") in (None, False)


def test_create_refusals_attached_disk_zone_name_taken_and_nic_in_use(env: Env) -> None:
    vms = f"{PREFIX}/Microsoft.Compute/virtualMachines"
    attached = vm_body("src-01-osdisk", "nic-life")
    assert _error(env.call("PUT", f"{vms}/x-01", VM_API, attached), 409, "OperationNotAllowed").endswith(
        "/virtualMachines/src-01'."
    )
    other_zone = _error(env.call("PUT", f"{vms}/x-02", VM_API, vm_body("west-zone-2", "nic-life")), 400,
                        "InvalidParameter")  # fmt: skip
    assert "zone 2" in other_zone
    busy = _error(env.call("PUT", f"{vms}/x-03", VM_API, vm_body("life-os", "db-01-nic")), 400, "NicInUse")
    assert nic_id("db-01-nic") in busy and "/virtualMachines/db-01" in busy
    _error(env.call("PUT", f"{vms}/x-04", VM_API, vm_body("life-os", "no-such-nic")), 400, "InvalidResourceReference")
    _error(env.call("PUT", f"{vms}/db-01", VM_API, vm_body("life-os", "nic-life")), 409, "PropertyChangeNotAllowed")
    for name in ("x-01", "x-02", "x-03", "x-04"):
        _error(env.call("GET", f"{vms}/{name}", VM_API), 404, "ResourceNotFound")
    _error(env.call("DELETE", f"{PREFIX}/Microsoft.Network/networkInterfaces/db-01-nic", NET_API), 400, "NicInUse")


# ------------------------------------------------------------------------------------------ power and lifecycle


def test_m7_deallocate_then_start_with_power_states_in_the_instance_view(env: Env) -> None:
    env.create("life-01", vm_body("life-os", "nic-life"))
    vm_path = f"{PREFIX}/Microsoft.Compute/virtualMachines/life-01"
    resp = env.call("POST", f"{vm_path}/deallocate", VM_API)
    assert resp.status_code == 202 and resp.headers["Azure-AsyncOperation"]
    assert env.power("life-01") == "PowerState/deallocating"
    assert env.compute.virtual_machines.get(RG, "life-01").as_dict()["properties"]["provisioningState"] == "Updating"
    _error(env.call("POST", f"{vm_path}/start", VM_API), 409, "OperationNotAllowed")
    env.clock.advance(DEALLOCATE_SECONDS)
    assert env.power("life-01") == "PowerState/deallocated"
    with env.fast():
        env.compute.virtual_machines.begin_deallocate(RG, "life-01").result()  # already deallocated: idempotent
        env.compute.virtual_machines.begin_start(RG, "life-01").result()
    assert env.power("life-01") == "PowerState/running"
    with env.fast():
        env.compute.virtual_machines.begin_deallocate(RG, "life-01").result()
    assert env.power("life-01") == "PowerState/deallocated"
    ops = {r.operation for r in env.server.requests() if "/life-01/" in r.path}
    assert {"VirtualMachines_Deallocate", "VirtualMachines_Start"} <= ops


def test_m8_delete_keeps_disks_and_nics_by_default_and_deletes_them_when_asked(env: Env) -> None:
    env.create("gone-01", vm_body("gone-os", "nic-gone", {0: "gone-data-0"}, delete_option="Delete"))
    vm = env.compute.virtual_machines.get(RG, "gone-01").as_dict()["properties"]
    assert vm["storageProfile"]["osDisk"]["deleteOption"] == "Delete"
    assert vm["networkProfile"]["networkInterfaces"][0]["properties"]["deleteOption"] == "Delete"
    with env.fast():
        env.compute.virtual_machines.begin_delete(RG, "gone-01").result()
    for name in ("gone-os", "gone-data-0"):
        with pytest.raises(HttpResponseError) as exc:
            env.compute.disks.get(RG, name)
        assert exc.value.status_code == 404
    with pytest.raises(HttpResponseError) as nic:
        env.network.network_interfaces.get(RG, "nic-gone")
    assert nic.value.status_code == 404
    # The source VM of a migration is deleted with its disks and NIC kept (default Detach).
    with env.fast():
        env.compute.virtual_machines.begin_delete(RG, "ade-back").result()
    assert env.compute.disks.get(RG, "ade-os-2").as_dict()["properties"]["diskState"] == "Unattached"
    assert "virtualMachine" not in env.network.network_interfaces.get(RG, "nic-ade").as_dict()["properties"]
    assert env.call("DELETE", f"{PREFIX}/Microsoft.Compute/virtualMachines/ade-back", VM_API).status_code == 204


def test_m7_reused_nic_keeps_its_ip_only_after_the_old_vm_is_gone_and_the_reservation_passed(env: Env) -> None:
    vms = f"{PREFIX}/Microsoft.Compute/virtualMachines"
    env.create("res-old", vm_body("res-os", "nic-res"))
    assert env.call("DELETE", f"{vms}/res-old", VM_API).status_code == 202
    assert env.compute.virtual_machines.get(RG, "res-old").as_dict()["properties"]["provisioningState"] == "Deleting"
    _error(env.call("PUT", f"{vms}/res-new", VM_API, vm_body("res-os", "nic-res")), 409, "OperationNotAllowed")
    env.clock.advance(VM_DELETE_SECONDS)
    _error(env.call("GET", f"{vms}/res-old", VM_API), 404, "ResourceNotFound")
    message = _error(env.call("PUT", f"{vms}/res-new", VM_API, vm_body("res-os", "nic-res")), 400,
                     "NicReservedForAnotherVm")  # fmt: skip
    assert message.endswith("/virtualMachines/res-old")
    _error(env.call("DELETE", f"{PREFIX}/Microsoft.Network/networkInterfaces/nic-res", NET_API), 400,
           "NicReservedForAnotherVm")  # fmt: skip
    env.clock.advance(NIC_RESERVATION_SECONDS)
    vm = env.create("res-new", vm_body("res-os", "nic-res"))
    assert vm["properties"]["networkProfile"]["networkInterfaces"][0]["id"] == nic_id("nic-res")
    config = env.network.network_interfaces.get(RG, "nic-res").as_dict()["properties"]["ipConfigurations"][0]
    assert config["properties"]["privateIPAddress"] == "10.20.1.200"


# ------------------------------------------------------------------------------------------ network


def test_fleet_vms_have_nics_in_their_subnet_with_a_back_reference(env: Env) -> None:
    vm = env.compute.virtual_machines.get(RG, "src-01").as_dict()
    assert vm["properties"]["networkProfile"]["networkInterfaces"][0]["id"] == nic_id("src-01-nic")
    nic = env.network.network_interfaces.get(RG, "src-01-nic").as_dict()
    assert nic["properties"]["virtualMachine"]["id"] == vm["id"]
    assert nic["properties"]["ipConfigurations"][0]["properties"]["privateIPAddress"].startswith("10.20.1.")
    db = env.network.network_interfaces.get(RG, "db-01-nic").as_dict()["properties"]["ipConfigurations"][0]
    assert db["properties"]["privateIPAddress"] == "10.20.2.4"  # the first usable address of the db subnet
    names = {n.name for n in env.network.network_interfaces.list(RG)}
    assert {"src-01-nic", "db-01-nic", "nic-res"} <= names
    subnet = env.network.subnets.get(RG, "vnet-mig", "db").as_dict()
    assert subnet["properties"]["addressPrefix"] == "10.20.2.0/24" and subnet["properties"]["ipConfigurations"]
    example = json.loads((EXAMPLES / "NetworkInterfaceGet.json").read_text())["responses"]["200"]["body"]
    ours = env.call("GET", f"{PREFIX}/Microsoft.Network/networkInterfaces/src-01-nic", NET_API).json()
    # NetworkInterface.tags and .resource_guid (SDK 33.1 model) are not in the example.
    assert [e for e in shape_errors(ours, example) if e not in (".tags", ".properties.resourceGuid")] == []


def test_network_writes_refused_as_azure_does(env: Env) -> None:
    with env.fast():
        net = env.network.virtual_networks.begin_create_or_update(
            RG,
            "vnet-new",
            {"location": "eastus", "properties": {"addressSpace": {"addressPrefixes": ["10.30.0.0/16"]},
             "subnets": [{"name": "a", "properties": {"addressPrefix": "10.30.0.0/24"}}]}},
        ).result().as_dict()  # fmt: skip
    assert [s["name"] for s in net["properties"]["subnets"]] == ["a"]
    vnet = f"{PREFIX}/Microsoft.Network/virtualNetworks/vnet-new"
    outside = {"properties": {"addressPrefix": "10.31.0.0/24"}}
    _error(env.call("PUT", f"{vnet}/subnets/b", NET_API, outside), 400, "NetcfgSubnetRangeOutsideVnet")
    overlap = {"properties": {"addressPrefix": "10.30.0.128/25"}}
    _error(env.call("PUT", f"{vnet}/subnets/b", NET_API, overlap), 400, "NetcfgSubnetRangesOverlap")
    nic = {"location": "eastus", "properties": {"ipConfigurations": [{"name": "c", "properties": {
        "subnet": {"id": f"{vnet}/subnets/a"}, "privateIPAllocationMethod": "Static",
        "privateIPAddress": "10.20.1.200"}}]}}  # fmt: skip
    _error(env.call("PUT", f"{PREFIX}/Microsoft.Network/networkInterfaces/n-1", NET_API, nic), 400,
           "PrivateIPAddressNotInSubnet")  # fmt: skip
    nic["properties"]["ipConfigurations"][0]["properties"]["subnet"]["id"] = f"{vnet}/subnets/zz"
    _error(env.call("PUT", f"{PREFIX}/Microsoft.Network/networkInterfaces/n-1", NET_API, nic), 400,
           "InvalidResourceReference")  # fmt: skip
    assert env.call("DELETE", f"{PREFIX}/Microsoft.Network/networkInterfaces/n-1", NET_API).status_code == 204
