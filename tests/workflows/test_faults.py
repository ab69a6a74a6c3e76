"""How EncryptVmWorkflow reacts to every fault the simulator can inject (azuresim/faults.py).

Each test runs the real workflow on the time-skipping server against a simulator with one fault and asserts
what an operator cares about: retried and encrypted anyway (the fault visible in the request log), surfaced
with one line naming the VM, the rule and the fix, or failed with the VM left as it was (no extension PUT).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from azure.mgmt.recoveryservicesbackup.models import BackupRequestResource
from temporalio.testing import WorkflowEnvironment

from activities.azure.clients import AzureClients
from adeflow.domain.model import BackupMethod, EncryptVmResult, Outcome, RestartPolicy, VolumeType
from adeflow.domain.polling import POWER_CHECK_EVERY
from azuresim.requestlog import RequestRecord
from azuresim.server import SimServer
from tests.support.encrypt_vm_runs import operations, request, run
from tests.support.fleets import SUB, fleet_dict, vm
from tests.support.servers import SimFactory

pytestmark = pytest.mark.faults
Azure = Callable[[SimServer], AzureClients]
PUT_EXTENSION = "VirtualMachineExtensions_CreateOrUpdate"
STATUS_READ = "VirtualMachineExtensions_Get"


def of_vm(sim: SimServer, vm_name: str) -> list[RequestRecord]:
    return [r for r in sim.requests() if f"/{vm_name}".lower() in r.path.lower()]


def assert_surfaced(result: EncryptVmResult, *words: str) -> None:
    """One line an operator can act on: the VM's name, a fix, and whatever else the fault must mention."""
    assert result.message.startswith(f"{result.vm.name}: "), result.message
    assert "Fix:" in result.message and "\n" not in result.message, result.message
    for word in words:
        assert word in result.message, (word, result.message)


async def test_throttle_storm_is_ridden_out_honouring_retry_after(
    time_skipping_env: WorkflowEnvironment, make_sim: SimFactory, azure_for: Azure
) -> None:
    sim = make_sim(fleet_dict([vm("thr-01")]), 60, 300)
    sim.inject({"kind": "throttle", "vm": "thr-01", "count": 4, "retry_after": 1})
    result, _ = await run(time_skipping_env, azure_for(sim), request("thr-01"))

    assert result.outcome is Outcome.ENCRYPTED, result.message
    calls = of_vm(sim, "thr-01")
    throttled = [i for i, r in enumerate(calls) if r.status == 429]
    assert len(throttled) == 4
    for i in throttled:  # the next call came only after the Retry-After second
        assert (calls[i + 1].real_time - calls[i].real_time).total_seconds() >= 0.9


async def test_server_error_burst_is_retried_and_the_put_applied_once(
    time_skipping_env: WorkflowEnvironment, make_sim: SimFactory, azure_for: Azure
) -> None:
    sim = make_sim(fleet_dict([vm("5xx-01")]), 60, 300)
    sim.inject({"kind": "server_error", "vm": "5xx-01", "status": 503, "count": 2})
    sim.inject({"kind": "server_error", "operation": PUT_EXTENSION, "status": 500, "count": 1})
    result, _ = await run(time_skipping_env, azure_for(sim), request("5xx-01"))

    assert result.outcome is Outcome.ENCRYPTED, result.message
    assert [r.status for r in of_vm(sim, "5xx-01")].count(503) == 2
    assert [r.status for r in sim.requests() if r.operation == PUT_EXTENSION] == [500, 201]


async def test_dropped_connections_are_retried_without_a_second_encryption_pass(
    time_skipping_env: WorkflowEnvironment, make_sim: SimFactory, azure_for: Azure
) -> None:
    sim = make_sim(fleet_dict([vm("drop-01")]), 60, 300)
    sim.inject({"kind": "drop_connection", "operation": PUT_EXTENSION, "count": 1})
    sim.inject({"kind": "drop_connection", "operation": STATUS_READ, "count": 2})
    result, _ = await run(time_skipping_env, azure_for(sim), request("drop-01"))

    assert result.outcome is Outcome.ENCRYPTED, result.message
    # The dropped PUT never reached the extension; the one that did is the only encryption pass (invariant 2).
    assert [r.status for r in sim.requests() if r.operation == PUT_EXTENSION] == [0, 201]
    assert [r.status for r in sim.requests() if r.operation == STATUS_READ].count(0) == 2


async def test_extension_failure_surfaces_the_extensions_own_message_and_the_fix(
    time_skipping_env: WorkflowEnvironment, make_sim: SimFactory, azure_for: Azure
) -> None:
    sim = make_sim(fleet_dict([vm("ext-01")]), 60, 300)
    own = "Failed to encrypt data volumes with error: device mapper creation failed (dm-crypt)"
    sim.inject({"kind": "extension_failure", "vm": "ext-01", "message": own})
    result, _ = await run(time_skipping_env, azure_for(sim), request("ext-01"))

    assert (result.outcome, result.reason) == (Outcome.FAILED, "extension-provisioning-failed")
    assert_surfaced(result, own, "R-NEW-1", "R-BAK-1")
    assert "VMExtensionProvisioningError" not in result.message  # ARM's wrapper is peeled off
    assert len(result.snapshot_ids) == 1  # the way back is in the result
    assert operations(sim).count(PUT_EXTENSION) == 1  # failed once, not retried into a loop


async def test_encryption_stuck_at_a_percentage_fails_at_the_deadline_with_the_last_progress(
    time_skipping_env: WorkflowEnvironment, make_sim: SimFactory, azure_for: Azure
) -> None:
    sim = make_sim(fleet_dict([vm("stuck-01", data_disks=[{"lun": 0, "size_gb": 64}])]), 60, 300)
    sim.inject({"kind": "encryption_stuck", "vm": "stuck-01", "percent": 37})
    # Each status read advances this simulator by one 5-minute interval: 37 % of the data volume is 28 reads in.
    deadline = request("stuck-01", VolumeType.ALL, adaptive_polling=True)  # the 72-hour default
    result, _ = await run(time_skipping_env, azure_for(sim), deadline)

    assert (result.outcome, result.reason) == (Outcome.FAILED, "encryption-deadline-exceeded")
    assert_surfaced(result, "within 72 h", "Encrypting data volume 1/1: 37%", "R-LIM-2", "R-BAK-1")
    polls = [r for r in sim.requests() if r.operation == STATUS_READ]
    # stuck: the schedule backs off to its sparse cap (adeflow.domain.polling.QUIET_FACTOR x 5 min), so 72 h cost
    # a few dozen reads, not the 864 of fixed 5-minute polls; then it stopped
    assert 28 <= len(polls) <= 60, len(polls)
    assert operations(sim).count(PUT_EXTENSION) == 1


async def test_restart_pending_is_restarted_by_policy_or_surfaced_with_the_fix(
    time_skipping_env: WorkflowEnvironment, make_sim: SimFactory, azure_for: Azure
) -> None:
    sim = make_sim(fleet_dict([vm("rp-auto"), vm("rp-never")]), 60, 300)
    clients = azure_for(sim)
    sim.inject({"kind": "restart_pending", "vm": "rp-auto"})
    sim.inject({"kind": "restart_pending", "vm": "rp-never"})

    restarted, _ = await run(time_skipping_env, clients, request("rp-auto", restart_policy=RestartPolicy.AUTO))
    assert restarted.outcome is Outcome.ENCRYPTED, restarted.message
    assert [r.status for r in sim.writes_for("rp-auto/restart")] == [202]

    left, _ = await run(time_skipping_env, clients, request("rp-never", restart_policy=RestartPolicy.NEVER))
    assert (left.outcome, left.reason) == (Outcome.FAILED, "vm-restart-pending")
    assert_surfaced(left, "VMRestartPending", "R-ENA-2", "az vm restart")
    assert sim.writes_for("rp-never/restart") == []


async def test_vm_deallocated_mid_encryption_is_surfaced_within_minutes_not_polled_to_the_deadline(
    time_skipping_env: WorkflowEnvironment, make_sim: SimFactory, azure_for: Azure
) -> None:
    sim = make_sim(fleet_dict([vm("dealloc-01")]), 60, 300)
    sim.inject({"kind": "vm_deallocated", "vm": "dealloc-01", "after_s": 3600})  # an hour into a 3-hour OS pass
    result, _ = await run(time_skipping_env, azure_for(sim), request("dealloc-01", adaptive_polling=True))

    assert (result.outcome, result.reason) == (Outcome.FAILED, "vm-not-running")
    assert_surfaced(result, "deallocat", "az vm start", "R-LIM-2")  # deallocating or deallocated
    calls = of_vm(sim, "dealloc-01")
    deallocated_at = sim.state.vm(SUB, "rg-web", "dealloc-01").deallocated_at
    assert deallocated_at is not None
    reads_after = [r for r in calls if r.operation == STATUS_READ and r.sim_time >= deallocated_at]
    assert len(reads_after) <= POWER_CHECK_EVERY  # noticed within a few polls, not at the 72 h deadline
    assert "VirtualMachines_InstanceView" in [r.operation for r in calls]
    assert [r.operation for r in calls if r.method != "GET"][-1] == PUT_EXTENSION  # nothing done to it after


async def test_vm_deleted_mid_encryption_is_surfaced_with_its_name_and_what_is_left(
    time_skipping_env: WorkflowEnvironment, make_sim: SimFactory, azure_for: Azure
) -> None:
    sim = make_sim(fleet_dict([vm("gone-01")]), 60, 300)
    sim.inject({"kind": "vm_deleted", "vm": "gone-01", "after_s": 3600})
    result, _ = await run(time_skipping_env, azure_for(sim), request("gone-01", adaptive_polling=True))

    assert (result.outcome, result.reason) == (Outcome.FAILED, "vm-deleted")
    assert_surfaced(result, "was deleted during encryption", "adeflow snapshots delete")
    assert "disappeared" not in result.message  # it is the VM that went, not just the extension
    assert len(result.snapshot_ids) == 1
    assert 404 in [r.status for r in of_vm(sim, "gone-01") if r.operation == STATUS_READ]


async def test_key_vault_access_denied_refuses_naming_the_vault_and_the_permission(
    time_skipping_env: WorkflowEnvironment, make_sim: SimFactory, azure_for: Azure
) -> None:
    sim = make_sim(fleet_dict([vm("kv-01")]), 60, 300)
    sim.inject({"kind": "keyvault_denied", "vault": "kv-ade-eastus"})
    result, _ = await run(time_skipping_env, azure_for(sim), request("kv-01"))

    assert (result.outcome, result.rule, result.reason) == (Outcome.REFUSED, "R-PRE-2", "vault-access-denied")
    assert_surfaced(result, "Key Vault 'kv-ade-eastus'", "403 AuthorizationFailed", "Microsoft.KeyVault/vaults/read")
    assert [r.status for r in sim.requests() if r.operation == "Vaults_Get"] == [403]
    assert all(r.method == "GET" for r in sim.requests())  # refused: nothing changed (docs/original-design.md §5.5)


async def test_snapshot_failure_fails_before_enable_and_leaves_the_vm_as_it_was(
    time_skipping_env: WorkflowEnvironment, make_sim: SimFactory, azure_for: Azure
) -> None:
    sim = make_sim(fleet_dict([vm("snap-01", data_disks=[{"lun": 0, "size_gb": 16}])]), 60, 300)
    sim.inject({"kind": "snapshot_failure", "vm": "snap-01"})
    result, _ = await run(time_skipping_env, azure_for(sim), request("snap-01", VolumeType.ALL))

    assert (result.outcome, result.reason) == (Outcome.FAILED, "snapshot-failed")
    assert_surfaced(result, "R-BAK-2", "InternalDiskManagementError", "Nothing was changed on the VM")
    assert PUT_EXTENSION not in operations(sim)
    assert all("/virtualMachines/" not in r.path for r in sim.requests() if r.method != "GET")
    # Terminal at once: each snapshot PUT sent once, not re-sent by retries of a failed operation.
    assert operations(sim).count("Snapshots_CreateOrUpdate") == 2


async def test_backup_job_failure_fails_before_enable_and_leaves_the_vm_as_it_was(
    time_skipping_env: WorkflowEnvironment, make_sim: SimFactory, azure_for: Azure
) -> None:
    fleet = fleet_dict(
        [vm("bkf-01")], recovery_vaults=[{"name": "rsv-eastus", "protected_vms": [{"vm": "bkf-01"}]}], backup_seconds=60
    )
    sim = make_sim(fleet, 60, 300)
    sim.inject({"kind": "backup_job_failure", "vm": "bkf-01", "message": "Snapshot operation failed."})
    result, _ = await run(time_skipping_env, azure_for(sim), request("bkf-01"))

    assert (result.outcome, result.reason) == (Outcome.FAILED, "backup-job-failed")
    assert_surfaced(result, "Snapshot operation failed.", "R-BAK-2", "Nothing was changed on the VM")
    assert PUT_EXTENSION not in operations(sim) and "Snapshots_CreateOrUpdate" not in operations(sim)
    assert operations(sim).count("Backups_Trigger") == 1


async def test_r_bak_2_backup_already_running_409_waits_for_that_job_instead_of_failing(
    time_skipping_env: WorkflowEnvironment, make_sim: SimFactory, azure_for: Azure
) -> None:
    """Azure Backup answers an on-demand trigger with 409 while a job of the item runs: the run joins that job."""
    fleet = fleet_dict(
        [vm("bk-409")],
        recovery_vaults=[{"name": "rsv-eastus", "protected_vms": [{"vm": "bk-409"}]}],
        backup_seconds=120,
    )
    sim = make_sim(fleet, 60, 300)
    clients = azure_for(sim)
    container, item = "IaasVMContainer;iaasvmcontainerv2;rg-web;bk-409", "VM;iaasvmcontainerv2;rg-web;bk-409"
    await clients.backup(SUB).backups.trigger(  # the schedule's (or a colleague's) backup is running
        "rsv-eastus",
        "rg-web",
        "Azure",
        container,
        item,
        BackupRequestResource({"properties": {"objectType": "IaasVMBackupRequest"}}),
    )
    running = list(sim.state.recovery_vault(SUB, "rg-web", "rsv-eastus").jobs)

    result, _ = await run(time_skipping_env, clients, request("bk-409"))

    assert result.outcome is Outcome.ENCRYPTED, result.message
    assert (result.backup, result.backup_job_id) == (BackupMethod.AZURE_BACKUP, running[0])
    assert result.recovery_point_id
    trigger = next(r for r in sim.requests() if r.operation == "Backups_Trigger" and r.status == 409)
    joined = next(r for r in sim.requests() if r.operation == "BackupJobs_List")
    put = next(r for r in sim.requests() if r.operation == PUT_EXTENSION)
    assert trigger.seq < joined.seq < put.seq
    assert list(sim.state.recovery_vault(SUB, "rg-web", "rsv-eastus").jobs) == running  # no second backup
