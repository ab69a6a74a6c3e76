"""EncryptVmWorkflow on the time-skipping test server, driving the real SDK against the ARM simulator."""

from __future__ import annotations

import time
from collections.abc import Callable

from temporalio.testing import WorkflowEnvironment

from activities.azure.clients import AzureClients
from adeflow.domain.model import (
    BackupMethod,
    BackupPolicy,
    BackupWaiver,
    Outcome,
    VolumeType,
)
from azuresim.server import SimServer
from tests.support.encrypt_vm_runs import operations, request, run
from tests.support.fleets import fleet_dict, vm
from tests.support.servers import SimFactory


async def test_multi_hour_encryption_finishes_in_seconds(
    time_skipping_env: WorkflowEnvironment, make_sim: SimFactory, azure_for: Callable[[SimServer], AzureClients]
) -> None:
    # The simulator's clock follows the workflow's: each status read is one 5-minute poll interval.
    fleet = fleet_dict([vm("web-01", os_disk={"size_gb": 30}, data_disks=[{"lun": 0, "size_gb": 32}])])
    sim = make_sim(fleet, scale=60, status_read_tick=300)
    real_start = time.monotonic()

    result, _ = await run(time_skipping_env, azure_for(sim), request("web-01", VolumeType.ALL))

    assert result.outcome is Outcome.ENCRYPTED, result.message
    assert sorted(result.encrypted_disks) == ["web-01-datadisk-0", "web-01-osdisk"]
    encrypting = next(t for t in result.timings if t.phase.value == "encrypting")
    assert encrypting.seconds >= 6 * 3600  # 62 GB at 10 GB per hour, in workflow time
    assert time.monotonic() - real_start < 60
    assert result.status is not None and result.status.os.value == "Encrypted"
    # R-LIM-2: the Ubuntu 22.04 flow reports "Restarted extension from stripped down OS" mid-run; not terminal.
    assert [t.phase.value for t in result.timings] == ["preflight", "backup", "plan", "enable", "encrypting", "verify"]


async def test_history_stays_flat_however_long_encryption_polls(
    time_skipping_env: WorkflowEnvironment, make_sim: SimFactory, azure_for: Callable[[SimServer], AzureClients]
) -> None:
    """A 3-hour and a 12-hour OS pass give histories of the same length (retry-as-poll, docs/original-design.md §4)."""
    sizes = {"short-01": 30, "long-01": 120}
    sim = make_sim(fleet_dict([vm(name, os_disk={"size_gb": gb}) for name, gb in sizes.items()]), 60, 300)
    lengths = {}
    for name in sizes:
        result, handle = await run(time_skipping_env, azure_for(sim), request(name))
        assert result.outcome is Outcome.ENCRYPTED, result.message
        lengths[name] = len([event async for event in handle.fetch_history_events()])
    polls = sum(1 for r in sim.requests() if r.operation == "VirtualMachineExtensions_Get")
    assert polls > 150  # 15 h of 5-minute polls in all
    assert lengths["short-01"] == lengths["long-01"] < 150, lengths


async def test_r_bak_2_snapshots_of_every_disk_precede_the_extension_put(
    time_skipping_env: WorkflowEnvironment, make_sim: SimFactory, azure_for: Callable[[SimServer], AzureClients]
) -> None:
    disks = [{"lun": 0, "size_gb": 16}, {"lun": 1, "size_gb": 16}]
    sim = make_sim(fleet_dict([vm("db-01", data_disks=disks)]))
    result, _ = await run(time_skipping_env, azure_for(sim), request("db-01", VolumeType.DATA))

    assert result.outcome is Outcome.ENCRYPTED, result.message
    assert result.backup is BackupMethod.SNAPSHOT
    assert len(result.snapshot_ids) == 3
    ops = operations(sim)
    put = ops.index("VirtualMachineExtensions_CreateOrUpdate")
    snapshot_puts = [i for i, op in enumerate(ops) if op == "Snapshots_CreateOrUpdate"]
    assert len(snapshot_puts) == 3 and max(snapshot_puts) < put
    snapshot_done = [i for i, op in enumerate(ops) if op == "DiskOperations_Get"]
    assert any(i < put for i in snapshot_done)


async def test_r_bak_2_waiver_is_recorded_and_replaces_snapshots(
    time_skipping_env: WorkflowEnvironment, make_sim: SimFactory, azure_for: Callable[[SimServer], AzureClients]
) -> None:
    sim = make_sim(fleet_dict([vm("web-03")]))
    waiver = BackupWaiver(operator="alice", statement="Azure Backup job 42 of 2026-11-28 covers web-03")
    result, _ = await run(
        time_skipping_env, azure_for(sim), request("web-03", backup_policy=BackupPolicy.WAIVE, backup_waiver=waiver)
    )

    assert result.outcome is Outcome.ENCRYPTED, result.message
    assert (result.backup, result.backup_waiver, result.snapshot_ids) == (BackupMethod.WAIVED, waiver, [])
    assert "Snapshots_CreateOrUpdate" not in operations(sim)


async def test_refused_vm_is_left_untouched(
    time_skipping_env: WorkflowEnvironment, make_sim: SimFactory, azure_for: Callable[[SimServer], AzureClients]
) -> None:
    sim = make_sim(fleet_dict([vm("ultra-01", data_disks=[{"lun": 0, "size_gb": 64, "sku": "UltraSSD_LRS"}])]))
    result, _ = await run(time_skipping_env, azure_for(sim), request("ultra-01", VolumeType.ALL))

    assert (result.outcome, result.rule, result.reason) == (Outcome.REFUSED, "R-LIM-4w", "ultra-disk")
    assert "ultra-01" in result.message and "Fix:" in result.message
    assert sim.writes_for("ultra-01") == []
    assert all(r.method == "GET" for r in sim.requests())


async def test_r_pre_2_vault_not_enabled_for_disk_encryption_refuses(
    time_skipping_env: WorkflowEnvironment, make_sim: SimFactory, azure_for: Callable[[SimServer], AzureClients]
) -> None:
    sim = make_sim(fleet_dict([vm("web-04")], vault_enabled=False))
    result, _ = await run(time_skipping_env, azure_for(sim), request("web-04"))
    assert (result.outcome, result.rule, result.reason) == (
        Outcome.REFUSED,
        "R-PRE-2",
        "vault-not-enabled-for-disk-encryption",
    )
    assert all(r.method == "GET" for r in sim.requests())


async def test_r_ena_3_data_disks_without_volume_type_refuses(
    time_skipping_env: WorkflowEnvironment, make_sim: SimFactory, azure_for: Callable[[SimServer], AzureClients]
) -> None:
    sim = make_sim(fleet_dict([vm("web-05", data_disks=[{"lun": 0, "size_gb": 16}])]))
    result, _ = await run(time_skipping_env, azure_for(sim), request("web-05"))
    assert (result.outcome, result.rule, result.reason) == (Outcome.REFUSED, "R-ENA-3", "volume-type-required")


async def test_missing_vm_fails_with_its_name(
    time_skipping_env: WorkflowEnvironment, make_sim: SimFactory, azure_for: Callable[[SimServer], AzureClients]
) -> None:
    sim = make_sim(fleet_dict([vm("web-06")]))
    result, _ = await run(time_skipping_env, azure_for(sim), request("no-such-vm"))
    assert result.outcome is Outcome.FAILED
    assert "no-such-vm" in result.message and "404" in result.message


async def test_r_new_1_unmounted_data_disk_fails_verification_and_keeps_snapshot_ids(
    time_skipping_env: WorkflowEnvironment, make_sim: SimFactory, azure_for: Callable[[SimServer], AzureClients]
) -> None:
    disks = [{"lun": 0, "size_gb": 16}, {"lun": 1, "size_gb": 16, "mounted": False}]
    sim = make_sim(fleet_dict([vm("app-03", data_disks=disks)]))
    result, _ = await run(time_skipping_env, azure_for(sim), request("app-03", VolumeType.ALL))

    assert (result.outcome, result.reason) == (Outcome.FAILED, "verification-failed")
    assert "app-03-datadisk-1" in result.message and "R-NEW-1" in result.message
    assert result.backup is BackupMethod.SNAPSHOT and len(result.snapshot_ids) == 3
    assert result.sequence_version
