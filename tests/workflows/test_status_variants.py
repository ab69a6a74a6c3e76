"""EncryptVmWorkflow end to end (real SDK → simulator → workflow, time-skipping server) against every way the ADE
extension words its status, and against changes made to the VM from outside mid-run (``/_sim/vms/{vm}/...``).

Variants come from the fleet file (``extension_status``, azuresim/fleet.py); outside changes from the control
endpoint with ``after_s``, i.e. an hour of simulated time into a run whose OS pass takes three.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment

from activities.azure.clients import AzureClients
from adeflow.domain.model import DisableInput, Outcome, VmRef, VolumeType
from azuresim.requestlog import RequestRecord
from azuresim.server import SimServer
from tests.support.encrypt_vm_runs import request, run
from tests.support.fleets import SUB, fleet_dict, vm
from tests.support.servers import SimFactory, new_worker
from tests.support.sim_control import change_vm
from workflows.disable_encryption import DisableEncryptionWorkflow

Azure = Callable[[SimServer], AzureClients]
STATUS_READ = "VirtualMachineExtensions_Get"
DATA = [{"lun": 0, "size_gb": 16}]
UNREADABLE = "substatus was unreadable, so this was decided from its top-level status"


def status_reads(sim: SimServer, name: str, since: datetime | None = None) -> list[RequestRecord]:
    return [
        r
        for r in sim.requests()
        if r.operation == STATUS_READ
        and f"/{name}/".lower() in r.path.lower()
        and (since is None or r.sim_time >= since)
    ]


def finished_at(sim: SimServer, name: str) -> datetime:
    """When the guest finished the run (simulated time), from the simulator's own timeline."""
    ade = sim.state.vm(SUB, "rg-web", name).ade
    return ade.progress(sim.state.clock.now()).finished_at


def assert_one_line(message: str, vm_name: str, *words: str) -> None:
    assert message.startswith(f"{vm_name}: ") and "\n" not in message and "Fix:" in message, message
    for word in words:
        assert word in message, (word, message)


# -- the extension's status variants ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("wording", "note"),
    [
        ({"substatus": "keys_reordered"}, False),  # {"os": ..., "data": ...}
        ({"value_case": "lower", "rename_values": {"EncryptionInProgress": "Encrypting"}}, False),  # casing, unknown
        ({"substatus": "plain_text"}, True),  # older extension versions: no JSON at all
        ({"substatus": "unparseable", "substatus_when": "finished"}, True),  # "succeeded" over truncated JSON
        ({"substatus": "absent", "substatus_when": "finished", "value_case": "upper"}, True),
    ],
    ids=["keys-reordered", "casing-and-unknown-values", "not-json", "succeeded-unparseable", "succeeded-absent"],
)
async def test_status_variant_encrypts_deciding_from_what_is_readable(
    time_skipping_env: WorkflowEnvironment,
    make_sim: SimFactory,
    azure_for: Azure,
    wording: dict[str, Any],
    note: bool,
) -> None:
    """R-ENA-4 from what is readable: the substatus in any key order or casing; when it cannot be read, the final
    top-level status ("Encryption succeeded for all volumes") and the disks, and the result says so. Never polled
    until the 72 h deadline: the first read after the guest finished decides."""
    sim = make_sim(fleet_dict([vm("var-01", data_disks=DATA, extension_status=wording)]), 60, 300)
    result, _ = await run(time_skipping_env, azure_for(sim), request("var-01", VolumeType.ALL))

    assert result.outcome is Outcome.ENCRYPTED, result.message
    assert (UNREADABLE in result.message) is note, result.message
    assert result.status is not None and bool(result.status.unreadable) is note
    assert (
        len(status_reads(sim, "var-01", since=finished_at(sim, "var-01"))) <= 3
    )  # the deciding read, then verification
    assert sorted(result.encrypted_disks) == ["var-01-datadisk-0", "var-01-osdisk"]


async def test_transient_errors_mid_run_keep_polling_and_encrypt(
    time_skipping_env: WorkflowEnvironment, make_sim: SimFactory, azure_for: Azure
) -> None:
    """arm-reference §c: the stripped-down OS restart (code 19) and three failed /oldroot unmounts (code 22, "Attempt
    #n to unmount /oldroot failed...") are statuses at level Error the extension recovers from by itself."""
    wording = {"stripdown": True, "unmount_attempts": 3, "unmount_retry_seconds": 900}
    sim = make_sim(fleet_dict([vm("tr-01", extension_status=wording)], stripdown_seconds=1200), 60, 300)
    result, _ = await run(time_skipping_env, azure_for(sim), request("tr-01", VolumeType.OS))

    assert result.outcome is Outcome.ENCRYPTED, result.message
    ade = sim.state.vm(SUB, "rg-web", "tr-01").ade
    assert ade.run is not None
    os_start = ade.run.started_at.timestamp() + 120
    in_stripdown = [r for r in status_reads(sim, "tr-01") if 0 <= r.sim_time.timestamp() - os_start < 1200]
    in_unmount = [r for r in status_reads(sim, "tr-01") if 1200 <= r.sim_time.timestamp() - os_start < 1200 + 2700]
    assert len(in_stripdown) >= 2 and len(in_unmount) >= 6  # polled through both, not failed on them


# -- changes from outside, mid-run ------------------------------------------------------------------------------------


async def test_r_dis_2_extension_removed_mid_run_fails_at_once_naming_the_vm_and_rule(
    time_skipping_env: WorkflowEnvironment, make_sim: SimFactory, azure_for: Azure
) -> None:
    sim = make_sim(fleet_dict([vm("rm-01")]), 60, 300)
    removal = change_vm(sim, "rm-01", "remove-extension", after_s=3600, extension="AzureDiskEncryptionForLinux")
    result, _ = await run(time_skipping_env, azure_for(sim), request("rm-01"))

    assert (result.outcome, result.reason) == (Outcome.FAILED, "extension-missing")
    assert_one_line(result.message, "rm-01", "removed from the VM during encryption", "R-DIS-2", "R-BAK-1")
    after = status_reads(sim, "rm-01", since=datetime.fromisoformat(removal["at"]))
    # the first read that meets the removal ends the run, not the 72 h deadline (a read's time is taken after its tick)
    assert [r.status for r in after][-1:] == [404] and [r.status for r in after].count(404) == 1 and len(after) <= 2
    assert len(result.snapshot_ids) == 1


async def test_vm_deallocated_mid_run_from_outside_is_vm_not_running(
    time_skipping_env: WorkflowEnvironment, make_sim: SimFactory, azure_for: Azure
) -> None:
    sim = make_sim(fleet_dict([vm("da-01")]), 60, 300)
    change_vm(sim, "da-01", "deallocate", after_s=3600)
    result, _ = await run(time_skipping_env, azure_for(sim), request("da-01"))

    assert (result.outcome, result.reason) == (Outcome.FAILED, "vm-not-running")
    assert_one_line(result.message, "da-01", "deallocated", "R-LIM-2", "az vm start")
    deallocated_at = sim.state.vm(SUB, "rg-web", "da-01").deallocated_at
    assert deallocated_at is not None
    assert len(status_reads(sim, "da-01", since=deallocated_at)) <= 3  # within a few polls


async def test_tags_changed_mid_run_break_nothing(
    time_skipping_env: WorkflowEnvironment, make_sim: SimFactory, azure_for: Azure
) -> None:
    sim = make_sim(fleet_dict([vm("tag-01", tags={"owner": "web"})]), 60, 300)
    change_vm(sim, "tag-01", "tags", after_s=3600, tags={"change": "CHG-42"})
    result, _ = await run(time_skipping_env, azure_for(sim), request("tag-01"))

    assert result.outcome is Outcome.ENCRYPTED, result.message
    assert sim.state.vm(SUB, "rg-web", "tag-01").spec.tags == {"owner": "web", "change": "CHG-42"}


async def test_disk_attached_mid_run_is_reported_unencrypted_with_r_new_1(
    time_skipping_env: WorkflowEnvironment, make_sim: SimFactory, azure_for: Azure
) -> None:
    """An operator attaches a disk while ADE runs: the guest never mounted it, so ADE did not encrypt it, and the
    run's verification names it and the rule instead of reporting the VM encrypted (R-NEW-1, R-ENA-4)."""
    sim = make_sim(fleet_dict([vm("at-01", data_disks=DATA)]), 60, 300)
    change_vm(sim, "at-01", "attach-disk", after_s=3600, lun=5, size_gb=32)
    result, _ = await run(time_skipping_env, azure_for(sim), request("at-01", VolumeType.ALL))

    assert (result.outcome, result.reason) == (Outcome.FAILED, "verification-failed")
    assert "at-01-datadisk-5" in result.message and "R-NEW-1" in result.message, result.message


async def test_disable_with_an_unreadable_substatus_ends_on_decryption_succeeded_and_says_so(
    time_skipping_env: WorkflowEnvironment, make_sim: SimFactory, azure_for: Azure
) -> None:
    """R-DIS-2 order kept, decided from the top-level "Decryption succeeded" over a plain-text substatus."""
    wording = {"substatus": "plain_text"}
    fleet = fleet_dict([vm("dis-01", data_disks=DATA, encrypted={"data": True}, extension_status=wording)])
    sim = make_sim(fleet, 60, 300)
    req = DisableInput(VmRef(SUB, "rg-web", "dis-01"), poll_interval_s=300)
    async with new_worker(time_skipping_env, azure_for(sim)) as worker:
        result = await time_skipping_env.client.execute_workflow(
            DisableEncryptionWorkflow.run, req, id=f"disable/{uuid.uuid4()}", task_queue=worker.task_queue
        )

    assert result.outcome is Outcome.DISABLED, result.message
    assert UNREADABLE in result.message and "substatus message is not JSON" in result.message, result.message
    assert result.extension_removed
