"""MigrateToHostEncryptionWorkflow (docs/ade-migration.md, M-1 .. M-8) on the time-skipping server, the real SDK
against the simulator; the people's decisions are updates sent by the test."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from temporalio.client import WorkflowExecutionStatus, WorkflowUpdateFailedError
from temporalio.common import SearchAttributeKey
from temporalio.testing import WorkflowEnvironment

from activities.azure.clients import AzureClients
from adeflow.domain import vocabulary
from adeflow.domain.migration import (
    ApprovalKind,
    CleanupPolicy,
    DowntimeWindow,
    MigrationOutcome,
    MigrationPath,
    MigrationPhase,
    NicPolicy,
)
from azuresim.server import SimServer
from tests.support.data_safety import migration_violations
from tests.support.fleets import SUB, VAULT_ID, vm
from tests.support.migration_runs import (
    REBUILD,
    RG,
    AfterActivity,
    data_vm,
    migrate_request,
    migrated,
    migration_fleet,
    os_encrypted_vm,
    progress,
    reminders,
    running,
    send,
    until_phase,
)
from tests.support.servers import SimFactory
from workflows.migrate_vm import MigrateToHostEncryptionWorkflow as Migrate

pytestmark = pytest.mark.migration

Azure = Callable[[SimServer], AzureClients]


def writes(sim: SimServer) -> list[str]:
    return [f"{r.method} {r.operation}" for r in sim.requests() if r.method != "GET"]


async def test_m3_data_only_vm_migrates_end_to_end_with_every_approval_recorded(
    fresh_time_skipping_env: WorkflowEnvironment, make_sim: SimFactory, azure_for: Azure
) -> None:
    env = fresh_time_skipping_env
    sim = make_sim(migration_fleet([data_vm("web-01", data_disks=2, tags={"owner": "team-web"})]), 60, 300)
    source = migrated(sim, "web-01", "web-01-eah")
    async with running(env, azure_for(sim), migrate_request("web-01")) as handle:
        assert handle.id == f"migrate/web-01/{RG}/{SUB}"
        source.downtime_sent_at = await send(handle, Migrate.approve_downtime, "ops@example.com")
        waiting = await until_phase(env, handle, MigrationPhase.AWAIT_OWNER)
        assert waiting.phase is MigrationPhase.AWAIT_OWNER, waiting.detail
        assert waiting.waiting_since is not None and "confirm_new_vm" in waiting.detail
        assert waiting.bytes_copied >= waiting.bytes_allocated > 0
        with pytest.raises(WorkflowUpdateFailedError):  # M-8: no cleanup approval before the owner's word
            await send(handle, Migrate.approve_cleanup)
        await send(handle, Migrate.confirm_new_vm, "owner@example.com")
        await until_phase(env, handle, MigrationPhase.AWAIT_CLEANUP)
        source.cleanup_sent_at = await send(handle, Migrate.approve_cleanup, "ops@example.com")
        result = await handle.result()

    assert (result.outcome, result.path) == (MigrationOutcome.MIGRATED, MigrationPath.COPY_DISKS), result.message
    assert result.new_vm_id.endswith("/virtualMachines/web-01-eah")
    assert [(a.kind, a.by) for a in result.approvals] == [
        (ApprovalKind.DOWNTIME, "ops@example.com"),
        (ApprovalKind.NEW_VM_WORKS, "owner@example.com"),
        (ApprovalKind.CLEANUP, "ops@example.com"),
    ]
    phases = [t.phase.value for t in result.timings]
    assert phases == [
        "preflight",
        "backup",
        "disable",
        "decrypting",
        "remove",
        "deallocate",  # the downtime was approved before the run needed it: no wait (M-7)
        "create-disks",
        "copying",
        "verify-copy",
        "create-vm",
        "verify-vm",
        "await-owner",
        "await-cleanup",
        "cleanup",
    ]
    # Sparse copy (M-3): the written ranges only, every disk mapped at its LUN.
    assert sorted((d.lun is None, d.lun) for d in result.disks) == [(False, 0), (False, 1), (True, None)]
    assert 0 <= result.bytes_allocated - (3 + 2 + 2) * 1024**3 <= 3 * 512  # the written GBs (a page each of slack)
    assert result.copied_over_allocated <= 1.01
    assert all(d.verified and d.target_disk_id.endswith("-eah") for d in result.disks)
    assert {w.access for w in result.sas_windows} == {"Read", "Write"}
    assert all(w.revoked_at is not None for w in result.sas_windows)
    # The new VM runs with encryption at host on disks free of the ADE marker (M-2); the source is gone (M-8).
    group = sim.state.resource_group(SUB, RG)
    new = group.vms["web-01-eah"]
    assert new.spec.encryption_at_host and new.power_state(sim.state.clock.now()) == "running"
    assert not any(sim.state.ade_marker(d) for d in [new.os_disk, *new.data_disks] if d is not None)
    assert new.spec.tags["owner"] == "team-web"
    assert "web-01" not in group.vms and not any(d in group.disks for d in ("web-01-osdisk", "web-01-datadisk-0"))
    assert sorted(i.rsplit("/", 1)[-1] for i in result.deleted) == sorted(
        ["web-01", "web-01-nic", "web-01-osdisk", "web-01-datadisk-0", "web-01-datadisk-1"]
    )
    assert migration_violations(sim.requests(), {"web-01": source}) == []


@pytest.mark.parametrize(
    ("spec", "feature", "rule", "reason"),
    [
        (data_vm("nf-01"), "NotRegistered", "M-5", "feature-not-registered"),
        (data_vm("small-01", size="Standard_D2_v2"), "Registered", "M-6", "size-without-host-encryption"),
        (vm("plain-01", data_disks=[{"lun": 0, "size_gb": 16}]), "Registered", "M-2", "never-ade"),
    ],
    ids=["m5-feature", "m6-size", "never-ade"],
)
async def test_refusals_name_the_rule_and_write_nothing(
    fresh_time_skipping_env: WorkflowEnvironment,
    make_sim: SimFactory,
    azure_for: Azure,
    spec: dict[str, object],
    feature: str,
    rule: str,
    reason: str,
) -> None:
    sim = make_sim(migration_fleet([spec], feature=feature), 60, 300)
    name = str(spec["name"])
    async with running(fresh_time_skipping_env, azure_for(sim), migrate_request(name)) as handle:
        result = await handle.result()
        assert (await progress(handle)).phase is MigrationPhase.REFUSED
        described = (await handle.describe()).typed_search_attributes
        assert described.get(SearchAttributeKey.for_keyword(vocabulary.RULE)) == rule  # the UI's list says why
    assert (result.outcome, result.rule, result.reason) == (MigrationOutcome.REFUSED, rule, reason), result.message
    assert "Fix:" in result.message and name in result.message and result.refusals
    assert writes(sim) == []


async def test_m5_register_feature_registers_propagates_and_goes_on(
    fresh_time_skipping_env: WorkflowEnvironment, make_sim: SimFactory, azure_for: Azure
) -> None:
    env = fresh_time_skipping_env
    sim = make_sim(migration_fleet([data_vm("nf-02")], feature="NotRegistered"), 60, 300)
    async with running(env, azure_for(sim), migrate_request("nf-02", register_feature=True)) as handle:
        waiting = await until_phase(env, handle, MigrationPhase.AWAIT_DOWNTIME)
        assert waiting.phase is MigrationPhase.AWAIT_DOWNTIME, waiting.detail
    ops = writes(sim)
    assert ops.index("POST Features_Register") < ops.index("POST Providers_Register")
    assert ops.index("POST Providers_Register") < ops.index("PUT VirtualMachineExtensions_CreateOrUpdate")
    assert sim.state.subscription(SUB).registrations.encryption_at_host_enabled(sim.state.clock.now())


async def test_owner_never_confirms_the_run_waits_visibly_with_reminders_and_deletes_nothing(
    fresh_time_skipping_env: WorkflowEnvironment, make_sim: SimFactory, azure_for: Azure
) -> None:
    env = fresh_time_skipping_env
    sim = make_sim(migration_fleet([data_vm("web-02")]), 60, 300)
    six_hourly = migrate_request("web-02", reminder_interval_s=6 * 3600.0)
    async with running(env, azure_for(sim), six_hourly) as handle:
        await send(handle, Migrate.approve_downtime)
        await until_phase(env, handle, MigrationPhase.AWAIT_OWNER)
        before = await progress(handle)  # the clock is held again: it moves only with env.sleep
        await env.sleep(timedelta(hours=31))
        waiting = await progress(handle)
        assert waiting.phase is MigrationPhase.AWAIT_OWNER
        assert "still waiting for the owner" in waiting.detail, waiting.detail
        assert reminders(waiting.detail) - reminders(before.detail) in (5, 6), (before.detail, waiting.detail)
        assert waiting.waiting_since == before.waiting_since is not None
        assert (await handle.describe()).status is WorkflowExecutionStatus.RUNNING
        for early in (Migrate.approve_cleanup, Migrate.keep_source):
            with pytest.raises(WorkflowUpdateFailedError):
                await send(handle, early)
    assert not [op for op in writes(sim) if op.startswith("DELETE") and "Extensions" not in op]
    assert "web-02" in sim.state.resource_group(SUB, RG).vms


async def test_owner_confirms_but_cleanup_declined_keeps_every_source_resource(
    fresh_time_skipping_env: WorkflowEnvironment, make_sim: SimFactory, azure_for: Azure
) -> None:
    env = fresh_time_skipping_env
    sim = make_sim(migration_fleet([data_vm("web-03")]), 60, 300)
    source = migrated(sim, "web-03", "web-03-eah")
    async with running(env, azure_for(sim), migrate_request("web-03")) as handle:
        source.downtime_sent_at = await send(handle, Migrate.approve_downtime)
        await until_phase(env, handle, MigrationPhase.AWAIT_OWNER)
        await send(handle, Migrate.confirm_new_vm, "owner@example.com")
        await until_phase(env, handle, MigrationPhase.AWAIT_CLEANUP)
        await send(handle, Migrate.keep_source, "ops@example.com")
        result = await handle.result()
    assert result.outcome is MigrationOutcome.MIGRATED and "kept" in result.message
    assert result.deleted == []
    assert not [op for op in writes(sim) if op.startswith("DELETE") and "Extensions" not in op]
    group = sim.state.resource_group(SUB, RG)
    assert "web-03" in group.vms and "web-03-osdisk" in group.disks
    assert migration_violations(sim.requests(), {"web-03": source}) == []


async def test_nic_reuse_deletes_only_the_source_vm_object_under_the_downtime_approval(
    fresh_time_skipping_env: WorkflowEnvironment, make_sim: SimFactory, azure_for: Azure
) -> None:
    env = fresh_time_skipping_env
    sim = make_sim(migration_fleet([data_vm("web-04")]), 60, 300)
    source = migrated(sim, "web-04", "web-04-eah", nic_reuse=True)
    ip = sim.state.resource_group(SUB, RG).nics["web-04-nic"].ip_configurations[0].address
    async with running(env, azure_for(sim), migrate_request("web-04", nic_policy=NicPolicy.REUSE)) as handle:
        source.downtime_sent_at = await send(handle, Migrate.approve_downtime)
        waiting = await until_phase(env, handle, MigrationPhase.AWAIT_OWNER)
        assert waiting.phase is MigrationPhase.AWAIT_OWNER, waiting.detail
    group = sim.state.resource_group(SUB, RG)
    assert "web-04" not in group.vms and "web-04-osdisk" in group.disks  # the VM object only (M-7)
    nic = group.nics["web-04-nic"]
    assert nic.vm is group.vms["web-04-eah"] and nic.ip_configurations[0].address == ip
    assert migration_violations(sim.requests(), {"web-04": source}) == []


@pytest.mark.parametrize("nic_policy", [NicPolicy.NEW, NicPolicy.REUSE])
async def test_rollback_when_the_new_vm_fails_verification_brings_the_source_back(
    fresh_time_skipping_env: WorkflowEnvironment, make_sim: SimFactory, azure_for: Azure, nic_policy: NicPolicy
) -> None:
    """The host deallocates the new VM right after its creation: verification fails (not running), the source runs
    again (with NIC reuse re-created from its recorded definition on its kept disks and NIC), nothing is deleted."""
    env = fresh_time_skipping_env
    sim = make_sim(migration_fleet([data_vm("web-05", tags={"owner": "team-web"})]), 60, 300)
    source = migrated(sim, "web-05", "web-05-eah", nic_reuse=nic_policy is NicPolicy.REUSE)
    group = sim.state.resource_group(SUB, RG)
    ip = group.nics["web-05-nic"].ip_configurations[0].address
    evicted = AfterActivity("create_migrated_vm", lambda: sim.inject({"kind": "vm_deallocated", "vm": "web-05-eah"}))
    request = migrate_request("web-05", nic_policy=nic_policy)
    async with running(env, azure_for(sim), request, [evicted]) as handle:
        source.downtime_sent_at = await send(handle, Migrate.approve_downtime)
        result = await handle.result()

    assert (result.outcome, result.reason) == (MigrationOutcome.ROLLED_BACK, "new-vm-not-verified"), result.message
    assert "web-05-eah" in result.message and "not running" in result.message
    assert [t.phase.value for t in result.timings][-2:] == ["create-vm", "verify-vm"]  # then rollback, its last
    now = sim.state.clock.now()
    back = group.vms["web-05"]
    assert back.power_state(now) == "running"
    assert sorted(d.name for d in [back.os_disk, *back.data_disks] if d is not None) == [
        "web-05-datadisk-0",
        "web-05-osdisk",
    ]
    assert group.nics["web-05-nic"].vm is back and group.nics["web-05-nic"].ip_configurations[0].address == ip
    assert back.spec.tags["owner"] == "team-web"
    if nic_policy is NicPolicy.REUSE:
        assert "web-05-eah" not in group.vms and "re-created web-05" in result.message
    else:
        assert group.vms["web-05-eah"].power_state(now) == "deallocated"  # kept for inspection, not running twice
    assert all(f"web-05{suffix}" in group.disks for suffix in ("-osdisk", "-osdisk-eah", "-datadisk-0-eah"))
    assert result.deleted == [] and migration_violations(sim.requests(), {"web-05": source}) == []


async def test_m4_os_encrypted_vm_is_rebuilt_from_the_image_and_waits_for_the_data_moved(
    fresh_time_skipping_env: WorkflowEnvironment, make_sim: SimFactory, azure_for: Azure
) -> None:
    env = fresh_time_skipping_env
    sim = make_sim(migration_fleet([os_encrypted_vm("db-01")]), 60, 300)
    source = migrated(sim, "db-01", "db-01-eah")
    async with running(env, azure_for(sim), migrate_request("db-01", rebuild=REBUILD)) as handle:
        with pytest.raises(WorkflowUpdateFailedError):  # M-4 never stops the source: no downtime to approve
            await until_phase(env, handle, MigrationPhase.AWAIT_DATA_MOVED)
            await send(handle, Migrate.approve_downtime)
        waiting = await progress(handle)
        assert waiting.phase is MigrationPhase.AWAIT_DATA_MOVED, waiting.detail
        assert "cannot move the application data" in waiting.detail
        with pytest.raises(WorkflowUpdateFailedError):  # the owner confirms the VM only once the data moved
            await send(handle, Migrate.confirm_new_vm, "owner@example.com")
        await send(handle, Migrate.confirm_data_moved, "owner@example.com")
        await until_phase(env, handle, MigrationPhase.AWAIT_OWNER)
        await send(handle, Migrate.confirm_new_vm, "owner@example.com")
        await until_phase(env, handle, MigrationPhase.AWAIT_CLEANUP)
        source.cleanup_sent_at = await send(handle, Migrate.approve_cleanup, "ops@example.com")
        result = await handle.result()

    assert (result.outcome, result.path) == (MigrationOutcome.MIGRATED, MigrationPath.REBUILD), result.message
    assert [a.kind for a in result.approvals] == [
        ApprovalKind.DATA_MOVED,
        ApprovalKind.NEW_VM_WORKS,
        ApprovalKind.CLEANUP,
    ]
    assert [t.phase.value for t in result.timings] == [
        "preflight",
        "create-vm",
        "verify-vm",
        "await-data-moved",
        "verify-vm",
        "await-owner",
        "await-cleanup",
        "cleanup",
    ]
    assert result.disks == [] and any("cannot move the application data" in n for n in result.notes)
    group = sim.state.resource_group(SUB, RG)
    new = group.vms["db-01-eah"]
    assert new.spec.encryption_at_host and new.power_state(sim.state.clock.now()) == "running"
    assert sorted(d.name for d in [new.os_disk, *new.data_disks] if d is not None) == [
        "db-01-datadisk-0-eah",
        "db-01-osdisk-eah",
    ]
    assert "db-01" not in group.vms and "db-01-osdisk" not in group.disks
    assert not [r for r in sim.requests() if r.operation in ("VirtualMachines_Deallocate", "Disks_GrantAccess")]
    assert migration_violations(sim.requests(), {"db-01": source}) == []


async def test_m7_a_downtime_window_in_the_manifest_stops_the_source_when_it_opens_without_an_approval(
    fresh_time_skipping_env: WorkflowEnvironment, make_sim: SimFactory, azure_for: Azure
) -> None:
    env = fresh_time_skipping_env
    sim = make_sim(migration_fleet([data_vm("web-06")]), 60, 300)
    opens = await env.get_current_time() + timedelta(hours=30)
    request = migrate_request("web-06", downtime_window=DowntimeWindow(start=opens, end=opens + timedelta(hours=4)))
    async with running(env, azure_for(sim), request) as handle:
        await until_phase(env, handle, MigrationPhase.AWAIT_OWNER)  # through the window's wait (time skips)
        await send(handle, Migrate.confirm_new_vm, "owner@example.com")
        await until_phase(env, handle, MigrationPhase.AWAIT_CLEANUP)
        await send(handle, Migrate.keep_source, "ops@example.com")
        result = await handle.result()
    assert result.outcome is MigrationOutcome.MIGRATED, result.message
    assert [a.kind for a in result.approvals] == [ApprovalKind.NEW_VM_WORKS]  # no downtime approval was needed
    assert any("inside the downtime window" in n for n in result.notes)
    waited = next(t for t in result.timings if t.phase is MigrationPhase.AWAIT_DOWNTIME)
    assert (
        waited.finished_at >= opens
        and next(t for t in result.timings if t.phase is MigrationPhase.DEALLOCATE).started_at >= opens
    )


@pytest.mark.parametrize("others_use_the_vault", [False, True], ids=["last-ade-vm", "vault-still-used"])
async def test_m8_cleanup_turns_the_vaults_disk_encryption_off_only_when_no_other_ade_vm_uses_it(
    fresh_time_skipping_env: WorkflowEnvironment, make_sim: SimFactory, azure_for: Azure, others_use_the_vault: bool
) -> None:
    """M-8: ``reset_vault_disk_encryption`` turns ``enabledForDiskEncryption`` off after the approved cleanup, but a
    vault that still unlocks another ADE VM keeps it (that VM would not boot), and the result says so."""
    env = fresh_time_skipping_env
    others = [data_vm("web-09")] if others_use_the_vault else []
    sim = make_sim(migration_fleet([data_vm("web-08"), *others]), 60, 300)
    source = migrated(sim, "web-08", "web-08-eah")
    request = migrate_request("web-08", cleanup=CleanupPolicy(reset_vault_disk_encryption=True))
    async with running(env, azure_for(sim), request) as handle:
        source.downtime_sent_at = await send(handle, Migrate.approve_downtime)
        await until_phase(env, handle, MigrationPhase.AWAIT_OWNER)
        await send(handle, Migrate.confirm_new_vm, "owner@example.com")
        await until_phase(env, handle, MigrationPhase.AWAIT_CLEANUP)
        source.cleanup_sent_at = await send(handle, Migrate.approve_cleanup)
        result = await handle.result()
    assert result.outcome is MigrationOutcome.MIGRATED, result.message
    vault = sim.state.vault(SUB, RG, "kv-ade-eastus")
    assert vault.enabled_for_disk_encryption is others_use_the_vault
    assert result.vault_reset == ("" if others_use_the_vault else VAULT_ID)
    if others_use_the_vault:
        assert any("web-09" in note and "M-8" in note for note in result.notes), result.notes
    assert ("PATCH Vaults_Update" in writes(sim)) is not others_use_the_vault
    assert migration_violations(sim.requests(), {"web-08": source}) == []
