"""The new resources (Upload disks, NICs, the VM with encryption at host) as ARM bodies, and the check after them.

Bodies are plain dicts in ARM's REST shape (what ``Disk``/``NetworkInterface``/``VirtualMachine`` SDK models
deserialize from), so the activities only send them. The new VM copies the recorded source: size, zone, tags plus
``adeflow-migrated-from``, the LUNs; its disks are attached (M-3) or created from the image (M-4).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from adeflow.domain.migration.copy import upload_size_bytes
from adeflow.domain.migration.payloads import (
    MIGRATED_FROM_TAG,
    MigrationInput,
    NicPolicy,
    RebuildSpec,
    SourceDisk,
    SourceVmDefinition,
)
from adeflow.domain.model import VmRef


def resource_id(vm: VmRef, provider_type: str, name: str) -> str:
    return f"/subscriptions/{vm.subscription_id}/resourceGroups/{vm.resource_group}/providers/{provider_type}/{name}"


@dataclass(frozen=True)
class DiskPlan:
    """A source disk and the Upload disk that replaces it (M-1/M-2)."""

    source: SourceDisk
    target_name: str
    target_id: str
    upload_size_bytes: int


def plan_disks(request: MigrationInput, source: SourceVmDefinition) -> list[DiskPlan]:
    plans = []
    for disk in source.disks:
        name = request.targets.disk(disk.name)
        target_id = resource_id(request.vm, "Microsoft.Compute/disks", name)
        plans.append(DiskPlan(disk, name, target_id, upload_size_bytes(disk.size_bytes)))
    return plans


def target_tags(source: SourceVmDefinition) -> dict[str, str]:
    """The source's tags plus the link back to it (a retry and an operator find the source by it)."""
    return {**source.tags, MIGRATED_FROM_TAG: source.resource_id}


def upload_disk_body(plan: DiskPlan, source: SourceVmDefinition) -> dict[str, Any]:
    """``PUT .../disks/{new}`` with ``createOption: Upload`` (state ``ReadyToUpload``); OS type, Hyper-V generation and
    the Trusted Launch security type for the OS disk, which the VM boots from."""
    props: dict[str, Any] = {
        "creationData": {"createOption": "Upload", "uploadSizeBytes": plan.upload_size_bytes},
    }
    if plan.source.is_os:
        props["osType"] = source.os_type
        props["hyperVGeneration"] = source.hyper_v_generation
        if source.security_type:
            props["securityProfile"] = {"securityType": source.security_type}
    body: dict[str, Any] = {
        "location": source.location,
        "sku": {"name": plan.source.sku},
        "tags": target_tags(source),
        "properties": props,
    }
    zone = plan.source.zone or source.zone
    if zone:
        body["zones"] = [zone]
    return body


def nic_ids(request: MigrationInput, source: SourceVmDefinition) -> list[str]:
    """The new VM's NICs: the source's (``reuse``) or one new NIC per source NIC (``new``), primary first."""
    if request.nic_policy is NicPolicy.REUSE:
        return [n.nic_id for n in source.nics]
    return [
        resource_id(request.vm, "Microsoft.Network/networkInterfaces", request.targets.nic(request.vm, i))
        for i in range(len(source.nics))
    ]


def new_nic_bodies(request: MigrationInput, source: SourceVmDefinition) -> dict[str, dict[str, Any]]:
    """NIC policy ``new``: name -> body, each NIC in its source NIC's subnet with a dynamic private IP."""
    if request.nic_policy is NicPolicy.REUSE:
        return {}
    bodies: dict[str, dict[str, Any]] = {}
    for i, nic in enumerate(source.nics):
        props: dict[str, Any] = {
            "ipConfigurations": [
                {
                    "name": "ipconfig1",
                    "properties": {
                        "subnet": {"id": nic.subnet_id},
                        "privateIPAllocationMethod": "Dynamic",
                        "primary": True,
                    },
                }
            ],
            "enableAcceleratedNetworking": nic.accelerated_networking,
        }
        if nic.network_security_group_id:
            props["networkSecurityGroup"] = {"id": nic.network_security_group_id}
        bodies[request.targets.nic(request.vm, i)] = {
            "location": source.location,
            "tags": target_tags(source),
            "properties": props,
        }
    return bodies


def _vm_shell(source: SourceVmDefinition, nics: list[str], storage: dict[str, Any]) -> dict[str, Any]:
    primary = next((i for i, n in enumerate(source.nics) if n.primary), 0)
    security: dict[str, Any] = {"encryptionAtHost": True}
    if source.security_type:
        security["securityType"] = source.security_type
        security["uefiSettings"] = {"secureBootEnabled": source.secure_boot, "vTpmEnabled": source.vtpm}
    props: dict[str, Any] = {
        "hardwareProfile": {"vmSize": source.size},
        "storageProfile": storage,
        "securityProfile": security,
        "networkProfile": {
            "networkInterfaces": [
                {"id": nic, "properties": {"primary": i == primary, "deleteOption": "Detach"}}
                for i, nic in enumerate(nics)
            ]
        },
        "diagnosticsProfile": {"bootDiagnostics": {"enabled": source.boot_diagnostics}},
    }
    if source.availability_set_id:
        props["availabilitySet"] = {"id": source.availability_set_id}
    body: dict[str, Any] = {"location": source.location, "tags": target_tags(source), "properties": props}
    if source.zone:
        body["zones"] = [source.zone]
    return body


def _caching(disk: SourceDisk) -> str:
    return disk.caching or ("ReadWrite" if disk.is_os else "None")


def attached_vm_body(source: SourceVmDefinition, disks: list[DiskPlan], nics: list[str]) -> dict[str, Any]:
    """M-3: ``PUT .../virtualMachines/{new}`` attaching the copied disks at the source's LUNs, encryption at host on."""
    by_source = {d.source.disk_id.lower(): d for d in disks}
    os_plan = by_source[source.os_disk.disk_id.lower()]

    def attach(plan: DiskPlan) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "name": plan.target_name,
            "createOption": "Attach",
            "caching": _caching(plan.source),
            "managedDisk": {"id": plan.target_id},
            "deleteOption": "Detach",
        }
        if plan.source.lun is not None:
            entry["lun"] = plan.source.lun
        return entry

    storage = {
        "osDisk": {"osType": source.os_type, **attach(os_plan)},
        "dataDisks": [attach(by_source[d.disk_id.lower()]) for d in source.data_disks],
    }
    return _vm_shell(source, nics, storage)


def rebuilt_vm_body(
    request: MigrationInput, source: SourceVmDefinition, spec: RebuildSpec, nics: list[str]
) -> dict[str, Any]:
    """M-4: a new VM from the image with encryption at host; empty data disks at the source's LUNs and sizes, for the
    owner to restore the data into (adeflow cannot move it)."""
    image = spec.image
    reference: dict[str, Any] = (
        {"id": image.custom_image_id}
        if image.custom_image_id
        else {
            "publisher": image.publisher,
            "offer": image.offer,
            "sku": image.sku,
            "version": image.version or "latest",
        }
    )
    name = request.targets.vm(request.vm)
    storage: dict[str, Any] = {
        "imageReference": reference,
        "osDisk": {
            "name": request.targets.disk(source.os_disk.name),
            "createOption": "FromImage",
            "caching": _caching(source.os_disk),
            "managedDisk": {"storageAccountType": source.os_disk.sku},
            "deleteOption": "Detach",
        },
        "dataDisks": [
            {
                "name": request.targets.disk(d.name),
                "lun": d.lun,
                "createOption": "Empty",
                "diskSizeGB": -(-d.size_bytes // (1024**3)),
                "caching": _caching(d),
                "managedDisk": {"storageAccountType": d.sku},
                "deleteOption": "Detach",
            }
            for d in source.data_disks
        ],
    }
    body = _vm_shell(source, nics, storage)
    body["properties"]["osProfile"] = {
        "computerName": name[:64],
        "adminUsername": spec.admin_username,
        "linuxConfiguration": {
            "disablePasswordAuthentication": True,
            "ssh": {
                "publicKeys": [
                    {"path": f"/home/{spec.admin_username}/.ssh/authorized_keys", "keyData": spec.ssh_public_key}
                ]
            },
        },
    }
    return body


# -- the check after the PUT ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewVmFacts:
    """The new VM as ARM shows it after its creation (GET with instance view)."""

    exists: bool
    resource_id: str = ""
    provisioning_state: str = ""
    encryption_at_host: bool = False
    power_state: str = ""
    disk_ids: list[str] = field(default_factory=list)
    """The managed disk ids attached (OS first)."""
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class NewVmVerdict:
    ok: bool
    message: str


def verify_new_vm(
    name: str, source: SourceVmDefinition, created: NewVmFacts, expected_disk_ids: list[str] | None = None
) -> NewVmVerdict:
    """``securityProfile.encryptionAtHost`` true, provisioned, running, the expected disks attached and the link to
    the source in its tags; anything else sends the run to its rollback."""
    if not created.exists:
        return NewVmVerdict(False, f"{name}: the VM is not there after its creation succeeded.")
    if created.provisioning_state.lower() != "succeeded":
        return NewVmVerdict(False, f"{name}: provisioning state is {created.provisioning_state or 'unknown'}.")
    if not created.encryption_at_host:
        return NewVmVerdict(False, f"{name}: securityProfile.encryptionAtHost is not true.")
    state = created.power_state.lower().removeprefix("powerstate/")
    if state != "running":
        return NewVmVerdict(False, f"{name}: the VM is {state or 'in an unknown power state'}, not running.")
    if expected_disk_ids is not None:
        attached = {d.lower() for d in created.disk_ids}
        absent = [d.rsplit("/", 1)[-1] for d in expected_disk_ids if d.lower() not in attached]
        if absent:
            return NewVmVerdict(False, f"{name}: disk(s) {', '.join(absent)} are not attached.")
    if created.tags.get(MIGRATED_FROM_TAG, "").lower() != source.resource_id.lower():
        return NewVmVerdict(False, f"{name}: the {MIGRATED_FROM_TAG} tag does not name the source VM.")
    return NewVmVerdict(True, f"{name}: running with encryption at host, migrated from {source.vm.name}.")
