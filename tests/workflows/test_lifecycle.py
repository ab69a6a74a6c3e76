"""Lifecycle paths on the time-skipping server against the simulator: Azure Backup, policy, re-enable for a new
data disk, EncryptFormatAll, restarts, disable-before-remove and extension failures. Tests name rule ids."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from activities.azure.clients import AzureClients
from adeflow.domain import rules
from adeflow.domain.model import (
    BackupMethod,
    DisableInput,
    DisableResult,
    Outcome,
    RemoveExtensionInput,
    RemoveExtensionResult,
    RestartPolicy,
    VolumeType,
)
from azuresim.server import SimServer
from tests.support.encrypt_vm_runs import operations, request, run
from tests.support.fleets import SUB, fleet_dict, vm
from tests.support.servers import SimFactory, new_worker
from workflows.disable_encryption import DisableEncryptionWorkflow
from workflows.encrypt_vm import EncryptVmWorkflow
from workflows.remove_extension import RemoveExtensionWorkflow

Azure = Callable[[SimServer], AzureClients]
SECRET_POLICY = "/providers/Microsoft.Authorization/policyDefinitions/342e8053-e12e-4c44-be01-c3c2f318400f"


def ref(name: str) -> Any:
    return request(name).vm


async def run_disable(env: WorkflowEnvironment, clients: AzureClients, req: DisableInput) -> DisableResult:
    async with new_worker(env, clients) as worker:
        return await env.client.execute_workflow(
            DisableEncryptionWorkflow.run, req, id=f"disable/{uuid.uuid4()}", task_queue=worker.task_queue
        )


async def run_remove(
    env: WorkflowEnvironment, clients: AzureClients, req: RemoveExtensionInput
) -> RemoveExtensionResult:
    async with new_worker(env, clients) as worker:
        return await env.client.execute_workflow(
            RemoveExtensionWorkflow.run, req, id=f"remove/{uuid.uuid4()}", task_queue=worker.task_queue
        )


async def test_r_bak_2_protected_vm_is_backed_up_by_azure_backup_before_enable(
    time_skipping_env: WorkflowEnvironment, make_sim: SimFactory, azure_for: Azure
) -> None:
    fleet = fleet_dict(
        [vm("bk-01"), vm("bk-02")],
        recovery_vaults=[{"name": "rsv-eastus", "protected_vms": [{"vm": "bk-01"}]}],
        backup_seconds=120,
    )
    sim = make_sim(fleet, 60, 300)
    protected, _ = await run(time_skipping_env, azure_for(sim), request("bk-01"))
    assert protected.outcome is Outcome.ENCRYPTED, protected.message
    assert protected.backup is BackupMethod.AZURE_BACKUP
    assert protected.recovery_point_id and protected.backup_job_id and protected.snapshot_ids == []
    ops = operations(sim)
    assert ops.index("Backups_Trigger") < ops.index("VirtualMachineExtensions_CreateOrUpdate")
    assert "Snapshots_CreateOrUpdate" not in ops

    unprotected, _ = await run(time_skipping_env, azure_for(sim), request("bk-02"))
    assert unprotected.backup is BackupMethod.SNAPSHOT and len(unprotected.snapshot_ids) == 1


async def test_r_bak_2_failed_backup_job_stops_before_enable(
    time_skipping_env: WorkflowEnvironment, make_sim: SimFactory, azure_for: Azure
) -> None:
    fleet = fleet_dict(
        [vm("bk-03")], recovery_vaults=[{"name": "rsv-eastus", "protected_vms": [{"vm": "bk-03"}]}], backup_seconds=60
    )
    sim = make_sim(fleet, 60, 300)
    sim.inject({"kind": "backup_job_failure", "vm": "bk-03"})
    result, _ = await run(time_skipping_env, azure_for(sim), request("bk-03"))
    assert (result.outcome, result.reason) == (Outcome.FAILED, "backup-job-failed")
    assert "bk-03" in result.message and "R-BAK-2" in result.message
    assert "VirtualMachineExtensions_CreateOrUpdate" not in operations(sim)


async def test_r_lim_4y_secret_validity_deny_policy_refuses_without_writes(
    time_skipping_env: WorkflowEnvironment, make_sim: SimFactory, azure_for: Azure
) -> None:
    fleet = fleet_dict(
        [vm("pol-01")],
        policy_assignments=[{"name": "secrets-max-validity", "policy_definition_id": SECRET_POLICY, "effect": "Deny"}],
    )
    sim = make_sim(fleet, 60, 300)
    result, _ = await run(time_skipping_env, azure_for(sim), request("pol-01"))
    assert (result.outcome, result.rule) == (Outcome.REFUSED, "R-LIM-4y")
    assert all(r.method == "GET" for r in sim.requests())


async def test_r_new_2_new_data_disk_on_os_encrypted_vm_is_encrypted_with_volume_type_all(
    time_skipping_env: WorkflowEnvironment, make_sim: SimFactory, azure_for: Azure
) -> None:
    sim = make_sim(fleet_dict([vm("nd-01", data_disks=[{"lun": 0, "size_gb": 16}])]), 60, 300)
    clients = azure_for(sim)
    first, _ = await run(time_skipping_env, clients, request("nd-01", VolumeType.OS))
    assert first.outcome is Outcome.ENCRYPTED and first.encrypted_disks == ["nd-01-osdisk"]

    unconfirmed, _ = await run(time_skipping_env, clients, request("nd-01"))
    assert (unconfirmed.outcome, unconfirmed.rule) == (Outcome.REFUSED, "R-NEW-1")

    second, _ = await run(time_skipping_env, clients, request("nd-01", confirmations=["data-disks-mounted-in-fstab"]))
    assert second.outcome is Outcome.ENCRYPTED, second.message
    assert second.volume_type is VolumeType.ALL  # R-NEW-2: OS -> All
    assert second.sequence_version != first.sequence_version  # R-NEW-4
    assert sorted(second.encrypted_disks) == ["nd-01-datadisk-0", "nd-01-osdisk"]
    assert operations(sim).count("Snapshots_CreateOrUpdate") == 4  # backed up before each enable (R-BAK-2)


async def test_r_efa_1_format_all_sends_the_format_all_operation_only_when_acknowledged(
    time_skipping_env: WorkflowEnvironment, make_sim: SimFactory, azure_for: Azure
) -> None:
    sim = make_sim(fleet_dict([vm("efa-01", data_disks=[{"lun": 0, "size_gb": 512}])]), 60, 300)
    clients = azure_for(sim)
    refused, _ = await run(time_skipping_env, clients, request("efa-01", VolumeType.DATA, encrypt_format_all=True))
    assert (refused.outcome, refused.rule) == (Outcome.REFUSED, "R-EFA-1")
    assert sim.writes_for("efa-01") == []

    acknowledged = request(
        "efa-01", VolumeType.DATA, encrypt_format_all=True, acknowledge_data_loss=rules.FORMAT_ALL_ACKNOWLEDGEMENT
    )
    result, _ = await run(time_skipping_env, clients, acknowledged)
    assert result.outcome is Outcome.ENCRYPTED, result.message
    ext = await clients.compute(SUB).virtual_machine_extensions.get("rg-web", "efa-01", "AzureDiskEncryptionForLinux")
    assert ext.as_dict()["properties"]["settings"]["EncryptionOperation"] == "EnableEncryptionFormatAll"


async def test_r_ena_2_restart_pending_with_policy_auto_restarts_and_finishes(
    time_skipping_env: WorkflowEnvironment, make_sim: SimFactory, azure_for: Azure
) -> None:
    sim = make_sim(fleet_dict([vm("rp-01")]), 60, 300)
    sim.inject({"kind": "restart_pending", "vm": "rp-01"})
    result, _ = await run(time_skipping_env, azure_for(sim), request("rp-01", restart_policy=RestartPolicy.AUTO))
    assert result.outcome is Outcome.ENCRYPTED, result.message
    assert "VirtualMachines_Restart" in operations(sim)


async def test_r_ena_2_restart_pending_with_policy_never_fails_without_restarting(
    time_skipping_env: WorkflowEnvironment, make_sim: SimFactory, azure_for: Azure
) -> None:
    sim = make_sim(fleet_dict([vm("rp-02")]), 60, 300)
    sim.inject({"kind": "restart_pending", "vm": "rp-02"})
    result, _ = await run(time_skipping_env, azure_for(sim), request("rp-02", restart_policy=RestartPolicy.NEVER))
    assert (result.outcome, result.reason) == (Outcome.FAILED, "vm-restart-pending")
    assert "VirtualMachines_Restart" not in operations(sim)


async def test_r_ena_2_restart_pending_with_policy_ask_waits_for_the_operator(
    time_skipping_env: WorkflowEnvironment, make_sim: SimFactory, azure_for: Azure
) -> None:
    sim = make_sim(fleet_dict([vm("rp-03")]), 60, 300)
    sim.inject({"kind": "restart_pending", "vm": "rp-03"})
    async with new_worker(time_skipping_env, azure_for(sim)) as worker:
        handle: WorkflowHandle[EncryptVmWorkflow, Any] = await time_skipping_env.client.start_workflow(
            EncryptVmWorkflow.run, request("rp-03"), id=f"ask/{uuid.uuid4()}", task_queue=worker.task_queue
        )
        for _ in range(300):  # nobody awaits a result here, so skip the poll intervals by hand
            if "approve" in (await handle.query(EncryptVmWorkflow.progress)).detail:
                break
            await time_skipping_env.sleep(timedelta(minutes=5))
        assert "VirtualMachines_Restart" not in operations(sim)
        answer = await handle.execute_update(EncryptVmWorkflow.approve_restart, "alice")
        assert "alice" in answer
        result = await handle.result()
    assert result.outcome is Outcome.ENCRYPTED, result.message
    assert "VirtualMachines_Restart" in operations(sim)


async def test_extension_failure_surfaces_the_extension_message_and_keeps_snapshots(
    time_skipping_env: WorkflowEnvironment, make_sim: SimFactory, azure_for: Azure
) -> None:
    sim = make_sim(fleet_dict([vm("ef-01")]), 60, 300)
    sim.inject({"kind": "extension_failure", "vm": "ef-01", "message": "Failed to install cryptsetup package(s)"})
    result, _ = await run(time_skipping_env, azure_for(sim), request("ef-01"))
    assert (result.outcome, result.reason) == (Outcome.FAILED, "extension-provisioning-failed")
    assert "cryptsetup" in result.message and "ef-01" in result.message
    assert len(result.snapshot_ids) == 1


async def test_r_dis_2_r_dis_5_disable_completes_before_the_extension_is_removed(
    time_skipping_env: WorkflowEnvironment, make_sim: SimFactory, azure_for: Azure
) -> None:
    data = [{"lun": 0, "size_gb": 16}]
    sim = make_sim(fleet_dict([vm("dis-01", data_disks=data, encrypted={"data": True})]), 60, 300)
    result = await run_disable(time_skipping_env, azure_for(sim), DisableInput(ref("dis-01"), poll_interval_s=300))
    assert result.outcome is Outcome.DISABLED, result.message
    assert result.extension_removed and not result.reinstalled_extension
    ops = operations(sim)
    put, delete = ops.index("VirtualMachineExtensions_CreateOrUpdate"), ops.index("VirtualMachineExtensions_Delete")
    assert put < delete
    # R-DIS-5: removal is the DELETE of the AzureDiskEncryptionForLinux extension, after the disable (R-DIS-2).
    assert sim.requests()[delete].path.endswith("/extensions/AzureDiskEncryptionForLinux")
    # The status read that saw decryption finish comes before the DELETE.
    assert max(i for i, op in enumerate(ops[:delete]) if op == "VirtualMachineExtensions_Get") > put


async def test_r_dis_3_disable_refused_when_os_volume_is_encrypted(
    time_skipping_env: WorkflowEnvironment, make_sim: SimFactory, azure_for: Azure
) -> None:
    data = [{"lun": 0, "size_gb": 16}]
    sim = make_sim(fleet_dict([vm("dis-02", data_disks=data, encrypted={"os": True, "data": True})]), 60, 300)
    result = await run_disable(time_skipping_env, azure_for(sim), DisableInput(ref("dis-02")))
    assert (result.outcome, result.rule) == (Outcome.REFUSED, "R-DIS-3")
    assert sim.writes_for("dis-02") == []


async def test_r_dis_2_removed_extension_with_encrypted_disks_is_reinstalled_to_disable(
    time_skipping_env: WorkflowEnvironment, make_sim: SimFactory, azure_for: Azure
) -> None:
    data = [{"lun": 0, "size_gb": 16}]
    sim = make_sim(fleet_dict([vm("dis-03", data_disks=data, encrypted={"data": True})]), 60, 300)
    clients = azure_for(sim)
    leave = await run_remove(time_skipping_env, clients, RemoveExtensionInput(ref("dis-03"), leave_encrypted=True))
    assert leave.outcome is Outcome.EXTENSION_REMOVED and "ENCRYPTED" in leave.message

    result = await run_disable(time_skipping_env, clients, DisableInput(ref("dis-03"), poll_interval_s=300))
    assert result.outcome is Outcome.DISABLED, result.message
    assert result.reinstalled_extension and result.extension_removed


async def test_r_dis_2_remove_extension_refused_while_encrypted(
    time_skipping_env: WorkflowEnvironment, make_sim: SimFactory, azure_for: Azure
) -> None:
    sim = make_sim(fleet_dict([vm("rm-01", encrypted={"os": True})]), 60, 300)
    result = await run_remove(time_skipping_env, azure_for(sim), RemoveExtensionInput(ref("rm-01")))
    assert (result.outcome, result.rule) == (Outcome.REFUSED, "R-DIS-2")
    assert sim.writes_for("rm-01") == []
