"""ARM JSON to facts, on the official example payloads (tests/fixtures/arm-examples)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from adeflow.domain.arm_parse import parse_extension, parse_extension_status, parse_vm_facts
from adeflow.domain.model import VmRef, VolumeState

EXAMPLES = Path(__file__).resolve().parents[1] / "fixtures" / "arm-examples"


def example(name: str, status: str = "200") -> dict[str, Any]:
    body: dict[str, Any] = json.loads((EXAMPLES / name).read_text())["responses"][status]["body"]
    return body


def test_vm_get_example_parses_size_disks_and_os() -> None:
    vm = example("VirtualMachine_Get.json")
    facts = parse_vm_facts(VmRef("sub", "rg", "myVM"), vm, {}, None)
    assert facts.size == "Standard_DS3_v2"
    assert facts.os_disk.is_os and facts.os_disk.name == "myOsDisk"
    assert facts.os_disk.storage_account_type == "Premium_LRS"
    assert [d.lun for d in facts.data_disks] == [0, 1]
    assert facts.ade_extension is None


def test_substatus_json_gives_os_and_data_states_in_any_key_order() -> None:
    view = {
        "statuses": [{"code": "ProvisioningState/succeeded", "level": "Info", "message": "OS disk encryption started"}],
        "substatuses": [{"message": '{"data": "Encrypted", "os": "EncryptionInProgress"}'}],
    }
    status = parse_extension_status(view)
    assert (status.os, status.data) == (VolumeState.ENCRYPTION_IN_PROGRESS, VolumeState.ENCRYPTED)
    assert status.describe() == "os: EncryptionInProgress, data: Encrypted (OS disk encryption started)"


def test_missing_or_malformed_substatus_is_unknown_like_the_cli() -> None:
    assert parse_extension_status({"statuses": [], "substatuses": [{"message": "not json"}]}).os is VolumeState.UNKNOWN
    assert parse_extension_status({}).data is VolumeState.UNKNOWN


def test_extension_example_parses_version_and_state() -> None:
    ext = parse_extension(example("VirtualMachineExtension_Get_MaximumSet_Gen.json"))
    assert ext.provisioning_state
    assert ext.type_handler_version


def test_aad_client_id_in_settings_marks_the_legacy_release() -> None:
    ext = parse_extension(
        {
            "name": "AzureDiskEncryptionForLinux",
            "properties": {"typeHandlerVersion": "1.1", "settings": {"AADClientID": "x"}},
        }
    )
    assert ext.has_aad_settings
