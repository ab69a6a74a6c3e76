"""Conformance with real ARM traffic: the Azure CLI's recorded responses (tests/fixtures/azure-cli-recordings).

The module replays, against the simulator over raw HTTPS, the requests of each vendored interaction in the same
order and phase (a PUT that starts an LRO, the status while it runs, after it ends, the final GET) and compares
every answer with the recorded one key by key (tests/support/cli_recordings.py). Each difference must be on the
allow-list below with the reason it is not a fault of the simulator; anything else fails.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.support.arm_examples import Raw
from tests.support.cli_recordings import Recorded, header_diff, load, recording_files, shape_diff
from tests.support.frozen_sim import SUB1, Sim, ade_extension, ade_settings

pytestmark = pytest.mark.conformance

E2E, DISK, EXT = "test_vm_disk_encryption_e2e.json", "test_vm_managed_disk.json", "test_vm_extension.json"
STATE = "test_vm_create_state_modifications.json"
RG = f"/subscriptions/{SUB1}/resourceGroups/rg-web"
VM = f"{RG}/providers/Microsoft.Compute/virtualMachines"
DISKS = f"{RG}/providers/Microsoft.Compute/disks"
SNAPSHOTS = f"{RG}/providers/Microsoft.Compute/snapshots"
VM_API, DISK_API, KV_API = "2026-04-01", "2026-03-02", "2026-05-15"
ADE = "AzureDiskEncryptionForLinux"
LONG_ENOUGH = 3600.0  # simulated seconds: every LRO the scenario starts has ended by then

RECORDED = {name: load(name) for name in (E2E, DISK, EXT, STATE)}
ALL = [rec for recs in RECORDED.values() for rec in recs]

# -------------------------------------------------------------------------------------- allowed differences
# Each entry: a difference `shape_diff`/`header_diff` reports, and why it is not a simulator fault.
RETRY_AFTER = {
    # The simulator paces SDK pollers on its scaled clock (azuresim.http.retry_after); the recorded Compute and disk
    # RP answers had none, so the CLI's SDK slept its default 30 s (the recording's poll times show it).
    "extra header Retry-After": "simulator pacing on a scaled clock",
}
VM_KEYS = {
    # Keys of the same model that the recorded VMs happened not to have.
    "extra .properties.diagnosticsProfile": "VirtualMachineProperties.diagnostics_profile (boot diagnostics on)",
    "extra .properties.storageProfile.osDisk.writeAcceleratorEnabled": "OSDisk.write_accelerator_enabled",
    "extra .properties.networkProfile.networkInterfaces[].properties": "NetworkInterfaceReference.properties",
    # ARM's etag on VMs (api 2024-11-01+) is not simulated: nothing in adeflow sends If-Match.
    "missing .etag": "no optimistic concurrency in the simulator",
}
WINDOWS_VM = {
    **VM_KEYS,
    # The e2e recording encrypts the CLI test's Windows VM; the simulated fleet is Linux (ADE for Linux).
    "missing .properties.osProfile.windowsConfiguration": "Windows VM recorded, Linux VM simulated",
    "extra .properties.osProfile.linuxConfiguration": "Linux VM simulated (compared with the Linux recording)",
    "extra .properties.securityProfile.encryptionAtHost": "SecurityProfile.encryption_at_host (M-3 reads it)",
}
INSTANCE_VIEW_TIMES = {
    "extra .properties.instanceView.extensions[].statuses[].time": "InstanceViewStatus.time, set by the guest",
    "extra .properties.instanceView.extensions[].substatuses[].time": "InstanceViewStatus.time, set by the guest",
}
# The 202 of a disk RP PUT: ARM echoes the request with provisioningState "Updating" and its internal
# isArmResource flag (in no SDK model); the simulator answers the resource it is creating. The SDK discards a 202
# body and reads the resource with the final GET, compared below (Disks_Get, Snapshots_Get) without these entries.
ACCEPTED_BODY = {
    "missing .properties.isArmResource": "internal disk RP flag, in no SDK model",
    "extra .id": "the resource as created",
    "extra .type": "the resource as created",
    "extra .sku.tier": "the resource as created",
    "extra .properties.diskSizeBytes": "the resource as created",
    "extra .properties.diskState": "the resource as created",
    "extra .properties.encryption": "the resource as created",
    "extra .properties.networkAccessPolicy": "the resource as created",
    "extra .properties.timeCreated": "the resource as created",
    "extra .properties.uniqueId": "the resource as created",
}
DISK_ACCEPTED = {
    "extra .properties.diskIOPSReadWrite": "the disk as created",
    "extra .properties.diskMBpsReadWrite": "the disk as created",
    "extra .properties.publicNetworkAccess": "the disk as created (the recorded request did not send it)",
    "extra .properties.tier": "the disk as created",
}
COMPLETION_PERCENT = (
    "SnapshotProperties.completion_percent (official Snapshot examples); newer than the recorded 2021-12-01"
)
SNAPSHOT_ACCEPTED = {
    "extra .name": "the snapshot as created (ARM's 202 echo has no name)",
    "extra .properties.completionPercent": COMPLETION_PERCENT,
    "extra .properties.diskSizeGB": "the snapshot as created (size of the source disk)",
    "extra .properties.incremental": "the snapshot as created",
}
ALLOWED: dict[str, dict[str, str]] = {
    "VirtualMachines_Get": {
        **WINDOWS_VM,
        "extra .resources": "VirtualMachine.resources: ARM lists a VM's extensions; the recorded VM had none yet",
    },
    "VirtualMachines_Get ($expand=instanceView)": {**WINDOWS_VM, **INSTANCE_VIEW_TIMES},
    "VirtualMachines_Get ($expand=instanceView, Linux)": {
        **VM_KEYS,
        # The recorded VM is an old CentOS 7.5 image with an unmanaged (VHD) OS disk, created without Trusted Launch.
        "missing .properties.storageProfile.osDisk.vhd": "unmanaged disks are retired (31 March 2026); managed here",
        "extra .properties.storageProfile.osDisk.managedDisk": "the fleet's OS disks are managed",
        "extra .properties.storageProfile.diskControllerType": "sent by ARM for the e2e recording's newer VM",
        "extra .properties.securityProfile": "the fleet's VMs are Trusted Launch (e2e recording shows the shape)",
    },
    "VirtualMachines_InstanceView": {
        "extra .extensions[].statuses[].time": "InstanceViewStatus.time, set by the guest",
        "extra .extensions[].substatuses[].time": "InstanceViewStatus.time, set by the guest",
    },
    "VirtualMachineExtensions_CreateOrUpdate": RETRY_AFTER,
    "VirtualMachineExtensions_CreateOrUpdate (update)": RETRY_AFTER,
    "AsyncOperation_Get": RETRY_AFTER,
    "AsyncOperation_Get (extension delete, running)": RETRY_AFTER,
    "VirtualMachineExtensions_Delete": RETRY_AFTER,
    "VirtualMachines_Deallocate": RETRY_AFTER,
    "AsyncOperation_Get (deallocate, running)": RETRY_AFTER,
    "Disks_CreateOrUpdate": {**RETRY_AFTER, **ACCEPTED_BODY, **DISK_ACCEPTED},
    "Disks_GrantAccess": RETRY_AFTER,
    "Snapshots_CreateOrUpdate": {**RETRY_AFTER, **ACCEPTED_BODY, **SNAPSHOT_ACCEPTED},
    "DiskOperations_Get (snapshot create, finished)": {
        "extra .properties.output.properties.completionPercent": COMPLETION_PERCENT,
    },
    "Snapshots_Get": {"extra .properties.completionPercent": COMPLETION_PERCENT},
}


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: Any


def _answer(resp: Any) -> Answer:
    return Answer(resp.status_code, dict(resp.headers), resp.json() if resp.content else None)


@pytest.fixture(scope="module")
def traffic(sim: Sim) -> Iterator[dict[str, Answer]]:
    """The simulator's answers to the recorded requests, by ``Recorded.key`` (plus the derived instance view)."""
    sim.server.set_throttling(enabled=False)
    raw = Raw(sim)
    answers: dict[str, Answer] = {}
    e2e, disk = RECORDED[E2E], RECORDED[DISK]

    def keep(rec: Recorded, resp: Any) -> Any:
        answers[rec.key] = _answer(resp)
        return resp

    # test_vm_disk_encryption_e2e: a VM without ADE, the Key Vault, enable (201), poll while running and after, the
    # extension, a VM with ADE done (expanded instance view), then a second PUT on an existing extension (200).
    keep(e2e[0], raw.call("GET", f"{VM}/web-02", VM_API))
    keep(e2e[1], raw.call("GET", f"{RG}/providers/Microsoft.KeyVault/vaults/kv-ade-eastus", KV_API))
    put = keep(e2e[2], raw.call("PUT", f"{VM}/web-02/extensions/{ADE}", VM_API, ade_extension(ade_settings())))
    keep(e2e[3], raw.get_url(put.headers["Azure-AsyncOperation"]))
    sim.clock.advance(LONG_ENOUGH)
    keep(e2e[4], raw.get_url(put.headers["Azure-AsyncOperation"]))
    keep(e2e[5], raw.call("GET", f"{VM}/web-02/extensions/{ADE}", VM_API))
    keep(e2e[6], raw.call("GET", f"{VM}/web-03?$expand=instanceView", VM_API))
    answers["VirtualMachines_InstanceView"] = _answer(raw.call("GET", f"{VM}/web-03/instanceView", VM_API))
    disable = ade_extension(ade_settings(EncryptionOperation="DisableEncryption", VolumeType="Data"))
    keep(e2e[7], raw.call("PUT", f"{VM}/web-03/extensions/{ADE}", VM_API, disable))

    # test_vm_managed_disk: an empty disk (202, status, GET), a read grant (202, status, Location), a snapshot of
    # the disk (202, status, GET).
    body = {
        "location": "eastus",
        "tags": {"tag1": "d1"},
        "sku": {"name": "Premium_LRS"},
        "properties": {"hyperVGeneration": "V1", "creationData": {"createOption": "Empty"}, "diskSizeGB": 1},
    }
    put = keep(disk[0], raw.call("PUT", f"{DISKS}/d1", DISK_API, body))
    sim.clock.advance(LONG_ENOUGH)
    keep(disk[1], raw.get_url(put.headers["Azure-AsyncOperation"]))
    keep(disk[2], raw.call("GET", f"{DISKS}/d1", DISK_API))
    grant = keep(
        disk[3], raw.call("POST", f"{DISKS}/d1/beginGetAccess", DISK_API, {"access": "Read", "durationInSeconds": 10})
    )
    sim.clock.advance(LONG_ENOUGH)
    keep(disk[4], raw.get_url(grant.headers["Azure-AsyncOperation"]))
    keep(disk[5], raw.get_url(grant.headers["Location"]))
    snap = {
        "location": "eastus",
        "tags": {},
        "sku": {"name": "Premium_LRS"},
        "properties": {"creationData": {"createOption": "Copy", "sourceResourceId": f"{DISKS}/d1"}},
    }
    put = keep(disk[6], raw.call("PUT", f"{SNAPSHOTS}/s2", DISK_API, snap))
    sim.clock.advance(LONG_ENOUGH)
    keep(disk[7], raw.get_url(put.headers["Azure-AsyncOperation"]))
    keep(disk[8], raw.call("GET", f"{SNAPSHOTS}/s2", DISK_API))

    # test_vm_extension: an extension set without settings (read back), then deleted (202, status running, ended).
    ext = RECORDED[EXT]
    agent = f"{VM}/web-05/extensions/AzureMonitorLinuxAgent"
    body = {
        "location": "eastus",
        "properties": {
            "publisher": "Microsoft.Azure.Monitor",
            "type": "AzureMonitorLinuxAgent",
            "typeHandlerVersion": "1.0",
            "autoUpgradeMinorVersion": True,
            "enableAutomaticUpgrade": True,
            "forceUpdateTag": "79925964-91c3-4d76-9f6e-126e365002b4",
        },
    }
    assert raw.call("PUT", agent, VM_API, body).status_code == 201
    sim.clock.advance(LONG_ENOUGH)
    keep(ext[0], raw.call("GET", agent, VM_API))
    delete = keep(ext[1], raw.call("DELETE", agent, VM_API))
    keep(ext[2], raw.get_url(delete.headers["Azure-AsyncOperation"]))
    sim.clock.advance(LONG_ENOUGH)
    keep(ext[3], raw.get_url(delete.headers["Azure-AsyncOperation"]))

    # test_vm_create_state_modifications: a restart's Location once done, the Linux VM expanded, a deallocate.
    power = RECORDED[STATE]
    restart = raw.call("POST", f"{VM}/web-04/restart", VM_API)
    assert restart.status_code == 202, restart.text
    sim.clock.advance(LONG_ENOUGH)
    keep(power[0], raw.get_url(restart.headers["Location"]))
    keep(power[1], raw.call("GET", f"{VM}/web-04?$expand=instanceView", VM_API))
    deallocate = keep(power[2], raw.call("POST", f"{VM}/web-04/deallocate", VM_API))
    keep(power[3], raw.get_url(deallocate.headers["Azure-AsyncOperation"]))
    yield answers


def _name(rec: Recorded) -> str:
    return f"{rec.operation} ({rec.variant})" if rec.variant else rec.operation


def _diffs(rec: Recorded, ours: Answer) -> list[str]:
    diffs = header_diff(ours.headers, rec.headers)
    if rec.body is not None:
        diffs += shape_diff(ours.body, rec.body)
    return diffs


def _instance_view_diffs(traffic: dict[str, Answer]) -> list[str]:
    recorded = RECORDED[E2E][6]
    assert recorded.variant == "$expand=instanceView"
    return shape_diff(traffic["VirtualMachines_InstanceView"].body, recorded.body["properties"]["instanceView"])


@pytest.mark.parametrize("rec", ALL, ids=lambda rec: rec.key)
def test_simulator_answers_like_recorded_arm(traffic: dict[str, Answer], rec: Recorded) -> None:
    ours = traffic[rec.key]
    assert ours.status == rec.status, f"{rec.key}: {ours.status} where ARM answered {rec.status}: {ours.body}"
    if rec.body is None:
        assert ours.body is None, f"{rec.key}: ARM answered without a body"
    allowed = ALLOWED.get(_name(rec), {})
    unexplained = [d for d in _diffs(rec, ours) if d not in allowed]
    assert not unexplained, f"{rec.key} ({rec.command}) differs from ARM: {unexplained}"


def test_instance_view_answers_like_the_recorded_expanded_vm(traffic: dict[str, Answer]) -> None:
    """VirtualMachines_InstanceView answers what ARM embeds as ``properties.instanceView`` in the expanded GET."""
    assert traffic["VirtualMachines_InstanceView"].status == 200
    allowed = ALLOWED["VirtualMachines_InstanceView"]
    unexplained = [d for d in _instance_view_diffs(traffic) if d not in allowed]
    assert not unexplained, f"VirtualMachines_InstanceView differs from ARM: {unexplained}"


def test_the_allow_list_holds_only_differences_that_occur(traffic: dict[str, Answer]) -> None:
    """An entry that no comparison needs is stale (the simulator was fixed, or a name is mistyped): remove it."""
    seen: dict[str, set[str]] = {"VirtualMachines_InstanceView": set(_instance_view_diffs(traffic))}
    for rec in ALL:
        seen.setdefault(_name(rec), set()).update(_diffs(rec, traffic[rec.key]))
    stale = {name: sorted(set(entries) - seen.get(name, set())) for name, entries in ALLOWED.items()}
    stale = {name: entries for name, entries in stale.items() if entries}
    assert not stale, f"allow-list entries no comparison needs: {stale}"


def test_every_vendored_interaction_is_compared(traffic: dict[str, Answer]) -> None:
    """No silent pass: every vendored file is replayed, and each of its interactions has an answer to compare."""
    assert sorted(RECORDED) == sorted(p.name for p in recording_files())
    vendored = sum(len(load(p.name)) for p in recording_files())
    assert len(ALL) == vendored >= 25
    assert {rec.key for rec in ALL} <= set(traffic)
    assert len(traffic) == vendored + 1  # + the instance view derived from the expanded VM GET
