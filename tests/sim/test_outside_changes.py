"""Changes from outside a run (``POST /_sim/vms/{vm}/{change}``) and the extension's status variants, read back
through the real SDK clients: what an operator's ``az`` command or another tool would leave behind mid-run."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from azure.core.exceptions import ResourceNotFoundError

from tests.support.fleets import fleet_dict, vm
from tests.support.frozen_sim import FROZEN, Sim, ade_extension, ade_settings
from tests.support.servers import SimFactory
from tests.support.sim_control import ControlError, change_vm

ADE = "AzureDiskEncryptionForLinux"
DATA = [{"lun": 0, "size_gb": 16}]
STRIPDOWN_S = 7200


@pytest.fixture
def sim(make_sim: SimFactory) -> Iterator[Sim]:
    fleet = fleet_dict(
        [
            vm("enc-01", data_disks=DATA, encrypted={"data": True}, tags={"owner": "web"}),
            vm("run-01", data_disks=DATA, os_disk={"size_gb": 64}),
            vm("old-01", data_disks=DATA, extension_status={"substatus": "plain_text"}),
        ],
        stripdown_seconds=STRIPDOWN_S,  # longer than the SDK's PUT takes on the fast clock
    )
    yield Sim(make_sim(fleet, FROZEN))


def enable(sim: Sim, name: str, volume_type: str = "All") -> Any:
    with sim.fast():
        body = ade_extension(ade_settings(VolumeType=volume_type))
        return sim.compute.virtual_machine_extensions.begin_create_or_update("rg-web", name, ADE, body).result()


def view(sim: Sim, name: str) -> dict[str, Any]:
    ext = sim.compute.virtual_machine_extensions.get("rg-web", name, ADE, expand="instanceView").as_dict()
    iv: dict[str, Any] = ext["properties"]["instanceView"]
    return iv


def power(sim: Sim, name: str) -> str:
    statuses = sim.compute.virtual_machines.instance_view("rg-web", name).as_dict()["statuses"]
    return next(s["code"] for s in statuses if s["code"].startswith("PowerState/"))


# -- control endpoint: one test per change ----------------------------------------------------------------------------


def test_remove_extension_later_leaves_the_disks_encrypted(sim: Sim) -> None:
    """R-DIS-2: an operator's ``az vm extension delete`` (without disabling) removes the extension, not the keys."""
    answer = change_vm(sim.server, "enc-01", "remove-extension", after_s=600)
    assert (answer["applied"], answer["change"]) == (False, f"remove extension {ADE}")
    assert view(sim, "enc-01")["name"] == ADE  # not yet
    sim.clock.advance(600)
    with pytest.raises(ResourceNotFoundError):
        view(sim, "enc-01")
    disk = sim.compute.disks.get("rg-web", "enc-01-datadisk-0").as_dict()["properties"]
    assert disk["encryptionSettingsCollection"]["enabled"] is True
    with pytest.raises(ControlError) as missing:  # nothing to remove any more
        change_vm(sim.server, "enc-01", "remove-extension")
    assert missing.value.status == 404


def test_deallocate_mid_run_stops_the_guest_and_the_progress(sim: Sim) -> None:
    enable(sim, "run-01")
    start = sim.run_start("run-01")
    sim.advance_to(start + timedelta(seconds=600))
    change_vm(sim.server, "run-01", "deallocate")
    before = view(sim, "run-01")["statuses"][0]["message"]
    sim.clock.advance(6 * 3600)
    assert power(sim, "run-01") == "PowerState/deallocated"
    assert view(sim, "run-01")["statuses"][0]["message"] == before  # R-LIM-2: nothing moves in a stopped guest
    assert json.loads(view(sim, "run-01")["substatuses"][0]["message"])["os"] == "EncryptionInProgress"


def test_attach_disk_adds_an_unencrypted_unmounted_data_disk(sim: Sim) -> None:
    """R-NEW-1: attached is not enough; the guest has not formatted or mounted it, so ADE leaves it alone."""
    change_vm(sim.server, "enc-01", "attach-disk", lun=3, size_gb=64, sku="StandardSSD_LRS")
    model = sim.compute.virtual_machines.get("rg-web", "enc-01").as_dict()["properties"]
    disks = {d["lun"]: d for d in model["storageProfile"]["dataDisks"]}
    assert sorted(disks) == [0, 3] and disks[3]["diskSizeGB"] == 64
    new = sim.compute.disks.get("rg-web", "enc-01-datadisk-3").as_dict()["properties"]
    assert new["diskState"] == "Attached" and "encryptionSettingsCollection" not in new
    assert json.loads(view(sim, "enc-01")["substatuses"][0]["message"])["data"] == "Encrypted"
    with pytest.raises(ControlError) as taken:
        change_vm(sim.server, "enc-01", "attach-disk", lun=3)
    assert taken.value.status == 409
    with pytest.raises(ControlError) as bad:
        change_vm(sim.server, "enc-01", "attach-disk", lun=4, sku="Floppy")
    assert bad.value.status == 400


def test_tags_merge_or_replace(sim: Sim) -> None:
    change_vm(sim.server, "enc-01", "tags", tags={"change": "CHG-1"})
    assert sim.compute.virtual_machines.get("rg-web", "enc-01").tags == {"owner": "web", "change": "CHG-1"}
    change_vm(sim.server, "enc-01", "tags", tags={"only": "this"}, replace=True)
    assert sim.compute.virtual_machines.get("rg-web", "enc-01").tags == {"only": "this"}


def test_unknown_change_or_vm_is_refused(sim: Sim) -> None:
    for name, change, status in (("enc-01", "reboot-twice", 404), ("nobody", "deallocate", 404)):
        with pytest.raises(ControlError) as refused:
            change_vm(sim.server, name, change)
        assert refused.value.status == status
    with pytest.raises(ControlError) as bad:
        change_vm(sim.server, "enc-01", "extension-status", substatus="yaml")
    assert bad.value.status == 400


# -- the extension's status variants: fleet file and control endpoint --------------------------------------------------


@pytest.mark.parametrize(
    ("wording", "expected"),
    [
        ({"substatus": "keys_reordered"}, '{"os": "Encrypted", "data": "Encrypted"}'),
        ({"value_case": "lower"}, '{"data": "encrypted", "os": "encrypted"}'),
        ({"value_case": "upper", "substatus": "keys_reordered"}, '{"os": "ENCRYPTED", "data": "ENCRYPTED"}'),
        ({"rename_values": {"Encrypted": "Done"}}, '{"data": "Done", "os": "Done"}'),
        ({"substatus": "plain_text"}, "Encryption succeeded for all volumes"),
        ({"substatus": "unparseable"}, '{"data": "Encrypted"'),
        ({"substatus": "absent"}, None),
    ],
)
def test_status_variants_at_the_end_of_a_run(sim: Sim, wording: dict[str, Any], expected: str | None) -> None:
    change_vm(sim.server, "run-01", "extension-status", **wording)
    enable(sim, "run-01", "All")
    sim.advance_to(sim.run_start("run-01") + timedelta(hours=12))
    iv = view(sim, "run-01")
    assert iv["statuses"][0]["message"] == "Encryption succeeded for all volumes"
    if expected is None:
        assert "substatuses" not in iv
    else:
        assert iv["substatuses"][0]["message"].startswith(expected)


def test_unparseable_only_once_finished(sim: Sim) -> None:
    """``substatus_when: finished``: JSON while running, truncated JSON under the final "succeeded"."""
    change_vm(sim.server, "run-01", "extension-status", substatus="unparseable", substatus_when="finished")
    enable(sim, "run-01", "Data")
    start = sim.run_start("run-01")
    sim.advance_to(start + timedelta(seconds=600))
    assert json.loads(view(sim, "run-01")["substatuses"][0]["message"])["data"] == "EncryptionInProgress"
    sim.advance_to(start + timedelta(hours=3))
    with pytest.raises(ValueError):
        json.loads(view(sim, "run-01")["substatuses"][0]["message"])


def test_plain_text_substatus_from_the_fleet_file(sim: Sim) -> None:
    """Older extension versions: the substatus is the readable message, not JSON (docs/arm-reference.md §0.1)."""
    enable(sim, "old-01", "Data")
    sim.advance_to(sim.run_start("old-01") + timedelta(seconds=600))
    iv = view(sim, "old-01")
    assert iv["substatuses"][0]["message"] == iv["statuses"][0]["message"].strip()
    assert iv["substatuses"][0]["message"].startswith("Encrypting data volume 1/1")


def test_unmount_retries_then_success_with_their_real_code(sim: Sim) -> None:
    """arm-reference §c: code 22 "Attempt #n to unmount /oldroot failed..." per attempt after the stripped-down OS
    restart (code 19), then the OS pass goes on: transient errors the extension recovers from by itself."""
    change_vm(sim.server, "run-01", "extension-status", unmount_attempts=2, unmount_retry_seconds=1800)
    enable(sim, "run-01", "OS")
    os_start = sim.run_start("run-01") + timedelta(seconds=120)
    seen = []
    for offset in (STRIPDOWN_S - 1800, STRIPDOWN_S + 900, STRIPDOWN_S + 2700, STRIPDOWN_S + 3600 + 900):
        sim.advance_to(os_start + timedelta(seconds=offset))
        top = view(sim, "run-01")["statuses"][0]
        seen.append((top["code"], top["message"][:35]))
    assert seen == [
        ("ProvisioningState/failed/19", "Restarted extension from stripped d"),
        ("ProvisioningState/failed/22", "Attempt #1 to unmount /oldroot fail"),
        ("ProvisioningState/failed/22", "Attempt #2 to unmount /oldroot fail"),
        ("ProvisioningState/succeeded", "Encrypting OS volume: 50%"),  # the pass goes on, with its percent
    ]
    sim.advance_to(os_start + timedelta(hours=8))
    assert view(sim, "run-01")["statuses"][0]["message"] == "Encryption succeeded for OS volume"
