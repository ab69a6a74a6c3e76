"""Reading ARM JSON (as the SDK's ``as_dict()`` returns it) into adeflow's facts.

Pure functions, so they are tested on the official example payloads as well as on simulator answers.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from adeflow.domain.model import (
    DiskFacts,
    EncryptionStatus,
    ExtensionFacts,
    ImageRef,
    ProgressMark,
    VmFacts,
    VmRef,
    VolumeState,
)

Json = Mapping[str, Any]

_ENCRYPTED_CODE = "encryptionstate/encrypted"


def _get(data: Json | None, *path: str) -> Any:
    node: Any = data
    for key in path:
        if not isinstance(node, Mapping):
            return None
        node = node.get(key)
    return node


_VOLUME_STATES = {state.value.lower(): state for state in VolumeState}
_EXCERPT = 60


def _volume_state(value: object) -> VolumeState:
    """The extension's words in any casing (``encrypted``, ``ENCRYPTED``); anything else is ``Unknown``."""
    return _VOLUME_STATES.get(str(value).strip().lower(), VolumeState.UNKNOWN)


def _excerpt(text: str) -> str:
    flat = " ".join(text.split())
    return repr(flat if len(flat) <= _EXCERPT else flat[:_EXCERPT] + "...")


def read_substatus(substatuses: object) -> tuple[VolumeState, VolumeState, str]:
    """``(os, data, why unreadable)`` from ``substatuses[0].message`` (docs/arm-reference.md §0.1).

    Keys in any order and casing, values in any casing. What cannot be read becomes ``Unknown`` as the CLI shows
    it, and the third item says why (empty when both values were read): an absent substatus, a message that is not
    JSON (older extension versions), a missing key or a value the extension is not known to send.
    """
    unknown = VolumeState.UNKNOWN
    first = substatuses[0] if isinstance(substatuses, list) and substatuses else None
    if not isinstance(first, Mapping):
        return unknown, unknown, "no substatus"
    message = first.get("message")
    if not isinstance(message, str) or not message.strip():
        return unknown, unknown, "empty substatus message"
    try:
        parsed = json.loads(message)
    except ValueError:
        return unknown, unknown, f"substatus message is not JSON: {_excerpt(message)}"
    if not isinstance(parsed, Mapping):
        return unknown, unknown, f"substatus message is not a JSON object: {_excerpt(message)}"
    values = {str(key).strip().lower(): value for key, value in parsed.items()}
    states: list[VolumeState] = []
    problems: list[str] = []
    for key in ("os", "data"):
        if key not in values:
            problems.append(f"no {key!r} key")
            states.append(unknown)
            continue
        state = _volume_state(values[key])
        if state is unknown:
            problems.append(f"unknown {key} value {_excerpt(str(values[key]))}")
        states.append(state)
    return states[0], states[1], "; ".join(problems)


_PERCENT = re.compile(r"(\d{1,3})(?:\.\d+)?\s*%")
_DATA_VOLUME = re.compile(r"data volume\s+(\d+)\s*/\s*(\d+)", re.IGNORECASE)
_OS_VOLUME = re.compile(r"\bos\b", re.IGNORECASE)


def parse_progress(instance_view: Json | None) -> ProgressMark | None:
    """The progress percent of a running operation, where the extension gives one.

    A ``percent``/``progress`` number in the substatus JSON is of the whole operation; a ``NN%`` in the status
    or substatus message (``Encrypting data volume 2/3: 40%``, ``Encrypting OS volume: 12%``) is of the volume
    it names. None when nothing says: the poll schedule then goes by the volume sizes (``adeflow.domain.polling``).
    """
    statuses = _get(instance_view, "statuses") or []
    substatuses = _get(instance_view, "substatuses") or []
    messages = [str(entry.get("message") or "") for entry in [*statuses[:1], *substatuses[:1]]]
    try:
        substatus = json.loads(messages[-1]) if substatuses else None
    except ValueError:
        substatus = None
    for key, value in substatus.items() if isinstance(substatus, Mapping) else ():
        if str(key).lower() in ("percent", "progress", "percentage") and isinstance(value, int | float):
            return ProgressMark(int(value))
    for message in messages:
        found = _PERCENT.search(message)
        if found is None:
            continue
        percent = int(found.group(1))
        data = _DATA_VOLUME.search(message)
        if data is not None:
            return ProgressMark(percent, "data", int(data.group(1)), int(data.group(2)))
        return ProgressMark(percent, "os" if _OS_VOLUME.search(message) else "")
    return None


def parse_extension_status(instance_view: Json | None, sequence_version: str = "") -> EncryptionStatus:
    """``substatuses[0].message`` JSON gives os/data; ``statuses[0]`` gives level and the readable message.

    Clients fall back to ``Unknown`` when the JSON is absent or malformed (docs/arm-reference.md §0.1); so do we,
    and the status says why (``unreadable``) so the rules can decide from the top-level status instead.
    """
    statuses = _get(instance_view, "statuses") or []
    top: Json = statuses[0] if statuses and isinstance(statuses[0], Mapping) else {}
    os_state, data_state, unreadable = read_substatus(_get(instance_view, "substatuses"))
    return EncryptionStatus(
        os=os_state,
        data=data_state,
        message=str(top.get("message") or ""),
        level=str(top.get("level") or ""),
        code=str(top.get("code") or ""),
        sequence_version=sequence_version,
        unreadable=unreadable,
        progress=parse_progress(instance_view),
    )


def parse_extension(ext: Json) -> ExtensionFacts:
    """An extension resource (``VirtualMachineExtensions_Get`` with ``$expand=instanceView``)."""
    props: Json = ext.get("properties") or {}
    settings: Json = props.get("settings") or {}
    sequence_version = str(settings.get("SequenceVersion") or "")
    instance_view = props.get("instanceView")
    return ExtensionFacts(
        name=str(ext.get("name") or ""),
        publisher=str(props.get("publisher") or ""),
        extension_type=str(props.get("type") or ""),
        type_handler_version=str(props.get("typeHandlerVersion") or ""),
        provisioning_state=str(props.get("provisioningState") or ""),
        sequence_version=sequence_version,
        volume_type=str(settings.get("VolumeType") or ""),
        encryption_operation=str(settings.get("EncryptionOperation") or ""),
        has_aad_settings=any(key.lower().startswith("aadclient") for key in settings),
        status=parse_extension_status(instance_view, sequence_version) if instance_view else None,
        key_vault_resource_id=str(settings.get("KeyVaultResourceId") or ""),
        key_encryption_key_url=str(settings.get("KeyEncryptionKeyURL") or ""),
        kek_vault_resource_id=str(settings.get("KekVaultResourceId") or ""),
    )


def _disk(
    entry: Json,
    *,
    is_os: bool,
    disk_resource: Json | None,
    encrypted_in_view: set[str],
) -> DiskFacts:
    managed: Json = entry.get("managedDisk") or {}
    name = str(entry.get("name") or "")
    res_props: Json = _get(disk_resource, "properties") or {}
    sku = str(managed.get("storageAccountType") or _get(disk_resource, "sku", "name") or "")
    size = entry.get("diskSizeGB") or res_props.get("diskSizeGB") or 0
    return DiskFacts(
        name=name,
        is_os=is_os,
        lun=None if is_os else int(entry.get("lun", 0)),
        size_gb=int(size),
        storage_account_type=sku,
        managed_disk_id=str(managed.get("id") or ""),
        ephemeral=str(_get(entry, "diffDiskSettings", "option") or "").lower() == "local",
        write_accelerator=bool(entry.get("writeAcceleratorEnabled")),
        disk_encryption_set_id=str(
            _get(managed, "diskEncryptionSet", "id") or _get(res_props, "encryption", "diskEncryptionSetId") or ""
        ),
        encryption_type=str(_get(res_props, "encryption", "type") or ""),
        ade_settings_version=str(_get(res_props, "encryptionSettingsCollection", "encryptionSettingsVersion") or ""),
        instance_view_encrypted=name.lower() in encrypted_in_view,
    )


def _encrypted_disks_in_view(instance_view: Json | None) -> set[str]:
    names: set[str] = set()
    for disk in _get(instance_view, "disks") or []:
        codes = {str(s.get("code") or "").lower() for s in disk.get("statuses") or []}
        if _ENCRYPTED_CODE in codes:
            names.add(str(disk.get("name") or "").lower())
    return names


def parse_vm_facts(
    ref: VmRef,
    vm: Json,
    disk_resources: Mapping[str, Json],
    extension: Json | None,
) -> VmFacts:
    """Merge the VM (with ``instanceView``), its managed disk resources (by id, lower-cased) and the ADE extension."""
    props: Json = vm.get("properties") or {}
    storage: Json = props.get("storageProfile") or {}
    instance_view = props.get("instanceView")
    encrypted_in_view = _encrypted_disks_in_view(instance_view)

    def disk_resource(entry: Json) -> Json | None:
        disk_id = str(_get(entry, "managedDisk", "id") or "").lower()
        return disk_resources.get(disk_id)

    os_entry: Json = storage.get("osDisk") or {}
    image: Json = storage.get("imageReference") or {}
    power = [
        str(s.get("code"))[len("PowerState/") :]
        for s in _get(instance_view, "statuses") or []
        if str(s.get("code") or "").startswith("PowerState/")
    ]
    return VmFacts(
        ref=ref,
        vm_id=str(vm.get("id") or ref.resource_id),
        location=str(vm.get("location") or ""),
        size=str(_get(props, "hardwareProfile", "vmSize") or ""),
        os_type=str(os_entry.get("osType") or ""),
        image=ImageRef(
            publisher=str(image.get("publisher") or ""),
            offer=str(image.get("offer") or ""),
            sku=str(image.get("sku") or ""),
            version=str(image.get("version") or ""),
            custom_image_id=str(image.get("id") or ""),
        ),
        os_disk=_disk(os_entry, is_os=True, disk_resource=disk_resource(os_entry), encrypted_in_view=encrypted_in_view),
        data_disks=[
            _disk(entry, is_os=False, disk_resource=disk_resource(entry), encrypted_in_view=encrypted_in_view)
            for entry in storage.get("dataDisks") or []
        ],
        security_type=str(_get(props, "securityProfile", "securityType") or ""),
        encryption_at_host=bool(_get(props, "securityProfile", "encryptionAtHost")),
        scale_set_id=str(_get(props, "virtualMachineScaleSet", "id") or ""),
        disk_controller_type=str(storage.get("diskControllerType") or ""),
        power_state=power[0] if power else "",
        legacy_os_encryption_settings=bool(_get(os_entry, "encryptionSettings", "enabled")),
        ade_extension=parse_extension(extension) if extension is not None else None,
    )
