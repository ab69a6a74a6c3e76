"""Reading ARM JSON (the SDK models' ``as_dict()``, REST shape) into the migration's facts, and the one body built
from a recorded VM: the source re-created for a rollback (M-7, NIC ``reuse``).

Pure functions, so the activities only fetch and the tests feed simulator answers or official examples.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from adeflow.domain.migration.new_vm import NewVmFacts
from adeflow.domain.migration.payloads import (
    MIGRATED_FROM_TAG,
    ExistingTarget,
    SourceDisk,
    SourceNic,
    SourceVmDefinition,
)
from adeflow.domain.model import VmRef

Json = Mapping[str, Any]
GIB = 1024**3

_READ_ONLY_PROPERTIES = ("instanceView", "provisioningState", "vmId", "timeCreated")
"""Properties ARM reports but a PUT must not send back: dropped from the recorded model."""
_ATTACH_DISK_KEYS = ("name", "lun", "caching", "writeAcceleratorEnabled", "deleteOption", "toBeDetached")


def _get(data: Json | None, *path: str) -> Any:
    node: Any = data
    for key in path:
        if not isinstance(node, Mapping):
            return None
        node = node.get(key)
    return node


def _text(data: Json | None, *path: str) -> str:
    value = _get(data, *path)
    return "" if value is None else str(value)


def power_state(vm: Json | None) -> str:
    """``running``, ``deallocated``, ...: the ``PowerState/`` status of the instance view (empty: none reported)."""
    for status in _get(vm, "properties", "instanceView", "statuses") or []:
        code = str(status.get("code") or "")
        if code.startswith("PowerState/"):
            return code[len("PowerState/") :]
    return ""


def ade_marker(disk: Json | None) -> bool:
    """M-2: ADE settings on the disk resource, enabled or not: the disk was ADE-encrypted once."""
    return bool(_get(disk, "properties", "encryptionSettingsCollection"))


def parse_source_disk(entry: Json, disk: Json | None) -> SourceDisk:
    """One disk of the VM model (``storageProfile.osDisk`` or a ``dataDisks`` entry) and its disk resource."""
    size = _get(disk, "properties", "diskSizeBytes")
    if not size:  # older answers give GiB only
        size = int(_get(disk, "properties", "diskSizeGB") or entry.get("diskSizeGB") or 0) * GIB
    zones = _get(disk, "zones") or []
    lun = entry.get("lun")
    return SourceDisk(
        disk_id=_text(entry, "managedDisk", "id"),
        name=str(entry.get("name") or _get(disk, "name") or ""),
        lun=None if lun is None else int(lun),
        size_bytes=int(size),
        sku=_text(disk, "sku", "name") or _text(entry, "managedDisk", "storageAccountType") or "Premium_LRS",
        caching=str(entry.get("caching") or ""),
        ade_marker=ade_marker(disk),
        delete_option=str(entry.get("deleteOption") or "Detach"),
        zone=str(zones[0]) if zones else "",
    )


def parse_source_nic(entry: Json, nic: Json | None) -> SourceNic:
    """A ``networkProfile.networkInterfaces`` entry and the NIC resource (its primary IP configuration)."""
    configs = _get(nic, "properties", "ipConfigurations") or []
    primary = next((c for c in configs if _get(c, "properties", "primary")), configs[0] if configs else {})
    return SourceNic(
        nic_id=str(entry.get("id") or ""),
        subnet_id=_text(primary, "properties", "subnet", "id"),
        primary=_get(entry, "properties", "primary") is not False,
        private_ip=_text(primary, "properties", "privateIPAddress"),
        network_security_group_id=_text(nic, "properties", "networkSecurityGroup", "id"),
        accelerated_networking=bool(_get(nic, "properties", "enableAcceleratedNetworking")),
        delete_option=_text(entry, "properties", "deleteOption") or "Detach",
    )


def recorded_model(vm: Json) -> dict[str, Any]:
    """The VM's ARM body as a PUT could send it again: without the instance view, read-only fields and the
    extensions (``resources``), which are their own resources."""
    model = {k: v for k, v in vm.items() if k != "resources"}
    props = dict(_get(vm, "properties") or {})
    for key in _READ_ONLY_PROPERTIES:
        props.pop(key, None)
    model["properties"] = props
    return model


def parse_source_definition(
    ref: VmRef, vm: Json, disks: Mapping[str, Json], nics: Mapping[str, Json]
) -> SourceVmDefinition:
    """The source as recorded before anything changes; ``disks`` and ``nics`` are resources by lower-cased id."""
    props: Json = vm.get("properties") or {}
    storage: Json = props.get("storageProfile") or {}
    os_entry: Json = storage.get("osDisk") or {}
    os_resource = disks.get(_text(os_entry, "managedDisk", "id").lower())
    security: Json = props.get("securityProfile") or {}
    zones = vm.get("zones") or []
    nic_entries = _get(props, "networkProfile", "networkInterfaces") or []
    extensions = [str(_get(r, "properties", "type") or r.get("name") or "") for r in vm.get("resources") or [] if r]
    return SourceVmDefinition(
        vm=ref,
        resource_id=str(vm.get("id") or ref.resource_id),
        location=str(vm.get("location") or ""),
        size=_text(props, "hardwareProfile", "vmSize"),
        os_disk=parse_source_disk(os_entry, os_resource),
        data_disks=[
            parse_source_disk(entry, disks.get(_text(entry, "managedDisk", "id").lower()))
            for entry in storage.get("dataDisks") or []
        ],
        nics=[parse_source_nic(entry, nics.get(str(entry.get("id") or "").lower())) for entry in nic_entries],
        zone=str(zones[0]) if zones else "",
        tags={str(k): str(v) for k, v in (vm.get("tags") or {}).items()},
        os_type=str(os_entry.get("osType") or "Linux"),
        hyper_v_generation=_text(os_resource, "properties", "hyperVGeneration") or "V1",
        security_type=str(security.get("securityType") or ""),
        secure_boot=bool(_get(security, "uefiSettings", "secureBootEnabled")),
        vtpm=bool(_get(security, "uefiSettings", "vTpmEnabled")),
        availability_set_id=_text(props, "availabilitySet", "id"),
        boot_diagnostics=bool(_get(props, "diagnosticsProfile", "bootDiagnostics", "enabled")),
        extensions=[e for e in extensions if e],
        model=recorded_model(vm),
    )


def parse_existing_target(kind: str, name: str, body: Json) -> ExistingTarget:
    """A resource found under one of the target names (``vm``, ``disk`` or ``nic``)."""
    return ExistingTarget(
        kind=kind,
        name=name,
        resource_id=str(body.get("id") or ""),
        migrated_from=str((body.get("tags") or {}).get(MIGRATED_FROM_TAG) or ""),
        ade_marker=ade_marker(body) if kind == "disk" else False,
        create_option=_text(body, "properties", "creationData", "createOption") if kind == "disk" else "",
    )


def parse_new_vm(vm: Json | None) -> NewVmFacts:
    """The new VM (GET with instance view); None: it does not exist."""
    if vm is None:
        return NewVmFacts(exists=False)
    props: Json = vm.get("properties") or {}
    storage: Json = props.get("storageProfile") or {}
    entries = [storage.get("osDisk") or {}, *(storage.get("dataDisks") or [])]
    return NewVmFacts(
        exists=True,
        resource_id=str(vm.get("id") or ""),
        provisioning_state=str(props.get("provisioningState") or ""),
        encryption_at_host=_get(props, "securityProfile", "encryptionAtHost") is True,
        power_state=power_state(vm),
        disk_ids=[_text(e, "managedDisk", "id") for e in entries if _text(e, "managedDisk", "id")],
        tags={str(k): str(v) for k, v in (vm.get("tags") or {}).items()},
    )


def _location(text: str) -> str:
    return text.replace(" ", "").lower()


def host_encryption_support(skus: Iterable[Json], size: str, location: str) -> bool | None:
    """M-6 from Resource SKUs: ``EncryptionAtHostSupported`` of the size in the region; None when not listed."""
    for sku in skus:
        if str(sku.get("resourceType") or "").lower() != "virtualmachines":
            continue
        if str(sku.get("name") or "").lower() != size.lower():
            continue
        if _location(location) not in {_location(str(loc)) for loc in sku.get("locations") or []}:
            continue
        capabilities = {str(c.get("name")): str(c.get("value")) for c in sku.get("capabilities") or []}
        return capabilities.get("EncryptionAtHostSupported", "False").lower() == "true"
    return None


def _attach(entry: Json) -> dict[str, Any]:
    kept: dict[str, Any] = {k: entry[k] for k in _ATTACH_DISK_KEYS if k in entry}
    kept.pop("toBeDetached", None)
    kept["createOption"] = "Attach"
    kept["managedDisk"] = {"id": _text(entry, "managedDisk", "id")}
    return kept


def source_recreate_body(source: SourceVmDefinition) -> dict[str, Any]:
    """Rollback after the source VM object was deleted (NIC ``reuse``): the recorded VM attached to its own kept
    disks and NICs (``createOption: Attach``, no image, no OS profile: the OS disk already holds the system)."""
    model = source.model
    props: Json = model.get("properties") or {}
    storage: Json = props.get("storageProfile") or {}
    os_entry: Json = storage.get("osDisk") or {}
    new_props: dict[str, Any] = {
        key: props[key]
        for key in (
            "hardwareProfile",
            "networkProfile",
            "securityProfile",
            "diagnosticsProfile",
            "availabilitySet",
            "additionalCapabilities",
            "licenseType",
        )
        if props.get(key) is not None
    }
    os_disk = _attach(os_entry)
    os_disk["osType"] = str(os_entry.get("osType") or source.os_type)
    new_props["storageProfile"] = {
        "osDisk": os_disk,
        "dataDisks": [_attach(entry) for entry in storage.get("dataDisks") or []],
    }
    body: dict[str, Any] = {"location": model.get("location") or source.location, "properties": new_props}
    for key in ("tags", "zones"):
        if model.get(key):
            body[key] = model[key]
    return body


def ade_vault_id(disks: Iterable[Json]) -> str:
    """The vault named by the disks' ADE settings (``diskEncryptionKey.sourceVault``): the extension may be gone."""
    for disk in disks:
        for settings in _get(disk, "properties", "encryptionSettingsCollection", "encryptionSettings") or []:
            vault = _text(settings, "diskEncryptionKey", "sourceVault", "id")
            if vault:
                return vault
    return ""
