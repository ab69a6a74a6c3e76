"""Migration off ADE (docs/ade-migration.md): the path each VM takes and every refusal before and during a
migration, by rule id (M-1 .. M-8). Pure functions, no Temporal, no Azure."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from adeflow.domain import migration
from adeflow.domain.migration import (
    ApprovalKind,
    CleanupPolicy,
    DowntimeStatus,
    DowntimeWindow,
    ExistingTarget,
    FeatureAction,
    FeatureState,
    MigrationFacts,
    MigrationPath,
    NicPolicy,
    PathPolicy,
    SourceAdeState,
    TargetNames,
)
from adeflow.domain.model import KeyVaultLookup, Refusal, VmFacts, VolumeState
from adeflow.domain.vocabulary import Reason
from tests.support.domain_facts import VAULT_ID, ade_extension, status
from tests.support.migration_facts import (
    REBUILD,
    T0,
    VM,
    approval,
    data_only_vm,
    migration_facts,
    migration_input,
    never_ade_vm,
    os_encrypted_vm,
    source_definition,
)

pytestmark = pytest.mark.migration

ROOT = Path(__file__).resolve().parents[2]


def ids(refusals: list[Refusal]) -> list[tuple[str, str]]:
    return [(r.rule, r.reason) for r in refusals]


def decrypted_vm() -> VmFacts:
    """ADE disabled on the data volumes, extension still there, disks decrypted: the marker stays (M-2)."""
    vm = data_only_vm()
    assert vm.ade_extension is not None
    ext = replace(
        vm.ade_extension,
        encryption_operation="DisableEncryption",
        status=status(VolumeState.NOT_ENCRYPTED, VolumeState.NOT_ENCRYPTED),
    )
    return replace(vm, ade_extension=ext, data_disks=[replace(d, instance_view_encrypted=False) for d in vm.data_disks])


def busy_vm() -> VmFacts:
    """The data volumes are being decrypted right now (R-LIM-2)."""
    vm = data_only_vm()
    assert vm.ade_extension is not None
    ext = replace(vm.ade_extension, status=status(VolumeState.NOT_ENCRYPTED, VolumeState.DECRYPTION_IN_PROGRESS))
    return replace(vm, ade_extension=ext)


def legacy_vm() -> VmFacts:
    return replace(data_only_vm(), ade_extension=ade_extension("0.1", has_aad_settings=True, volume_type="Data"))


# -- the path (M-2, M-3, M-4) ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("vm", "policy", "rebuild", "state", "path", "disable_first", "remove"),
    [
        (data_only_vm(), PathPolicy.AUTO, None, SourceAdeState.DATA_ONLY, MigrationPath.COPY_DISKS, True, True),
        (decrypted_vm(), PathPolicy.AUTO, None, SourceAdeState.DATA_ONLY, MigrationPath.COPY_DISKS, False, True),
        (
            replace(decrypted_vm(), ade_extension=None),
            PathPolicy.COPY_DISKS,
            None,
            SourceAdeState.DATA_ONLY,
            MigrationPath.COPY_DISKS,
            False,
            False,
        ),
        (data_only_vm(), PathPolicy.REBUILD, REBUILD, SourceAdeState.DATA_ONLY, MigrationPath.REBUILD, False, False),
        (os_encrypted_vm(), PathPolicy.AUTO, REBUILD, SourceAdeState.OS_ENCRYPTED, MigrationPath.REBUILD, False, False),
        (legacy_vm(), PathPolicy.AUTO, REBUILD, SourceAdeState.LEGACY, MigrationPath.REBUILD, False, False),
    ],
    ids=["data-only", "decrypted", "extension-removed", "data-only-rebuild", "os-encrypted", "legacy-rebuild"],
)
def test_m_3_m_4_each_ade_history_takes_its_path(
    vm: VmFacts,
    policy: PathPolicy,
    rebuild: migration.RebuildSpec | None,
    state: SourceAdeState,
    path: MigrationPath,
    disable_first: bool,
    remove: bool,
) -> None:
    request = migration_input(path_policy=policy, rebuild=rebuild)
    decision = migration.decide_path(request, migration_facts(vm))
    assert decision.refusal is None
    assert (decision.source.state, decision.path) == (state, path)
    assert (decision.disable_first, decision.remove_extension) == (disable_first, remove)
    if path is MigrationPath.REBUILD:
        assert decision.notes == [migration.SOFTWARE_CANNOT_MOVE_DATA]


@pytest.mark.parametrize(
    ("vm", "policy", "rebuild", "expected"),
    [
        (os_encrypted_vm(), PathPolicy.AUTO, None, ("M-4", Reason.IMAGE_MISSING)),
        (os_encrypted_vm(), PathPolicy.COPY_DISKS, REBUILD, ("M-4", Reason.OS_VOLUME_ENCRYPTED)),
        (data_only_vm(), PathPolicy.REBUILD, None, ("M-4", Reason.IMAGE_MISSING)),
        (legacy_vm(), PathPolicy.AUTO, None, ("M-3", Reason.LEGACY_ADE)),
        (legacy_vm(), PathPolicy.COPY_DISKS, REBUILD, ("M-3", Reason.LEGACY_ADE)),
        (never_ade_vm(), PathPolicy.AUTO, None, ("M-2", Reason.NEVER_ADE)),
        (never_ade_vm(encryption_at_host=True), PathPolicy.AUTO, None, ("M-2", Reason.ALREADY_ENCRYPTION_AT_HOST)),
        (never_ade_vm(os_type="Windows"), PathPolicy.AUTO, None, ("R-PRE-1", Reason.NOT_LINUX)),
        (busy_vm(), PathPolicy.AUTO, None, ("R-LIM-2", "operation-in-progress")),
    ],
    ids=[
        "os-no-image",
        "os-copy-forced",
        "rebuild-no-image",
        "legacy-no-image",
        "legacy-copy",
        "never-ade",
        "already-eah",
        "windows",
        "busy",
    ],
)
def test_m_2_m_3_m_4_refused_paths_name_their_rule(
    vm: VmFacts, policy: PathPolicy, rebuild: migration.RebuildSpec | None, expected: tuple[str, str]
) -> None:
    decision = migration.decide_path(migration_input(path_policy=policy, rebuild=rebuild), migration_facts(vm))
    assert decision.path is MigrationPath.NONE and decision.refusal is not None
    assert (decision.refusal.rule, decision.refusal.reason) == expected
    assert decision.refusal.fix


def test_m_2_a_vm_that_never_had_ade_is_pointed_to_enabling_encryption_at_host_in_place() -> None:
    refusal = migration.decide_path(migration_input(), migration_facts(never_ade_vm())).refusal
    assert refusal is not None and "securityProfile.encryptionAtHost=true" in refusal.fix
    # The marker alone (ADE once, disks decrypted and extension gone) still forces the copy: M-2 never forgets.
    marked = migration_facts(never_ade_vm(), definition=source_definition())
    assert migration.decide_path(migration_input(), marked).path is MigrationPath.COPY_DISKS


def test_m_4_says_plainly_that_software_cannot_move_the_data() -> None:
    refusal = migration.decide_path(migration_input(), migration_facts(os_encrypted_vm())).refusal
    assert refusal is not None and "cannot move the application data" in refusal.fix
    assert "owner" in migration.SOFTWARE_CANNOT_MOVE_DATA


# -- preflight (M-1, M-5, M-6, names, vault, input) ------------------------------------------------------------------


def test_preflight_of_a_ready_data_only_vm_refuses_nothing() -> None:
    result = migration.preflight(migration_input(), migration_facts())
    assert result.refusals == []
    assert result.path is MigrationPath.COPY_DISKS and result.feature is FeatureAction.READY
    assert any("AzureMonitorLinuxAgent" in n for n in result.notes)


@pytest.mark.parametrize(
    ("state", "register", "action", "refused"),
    [
        (FeatureState.REGISTERED, False, FeatureAction.READY, False),
        (FeatureState.REGISTERING, False, FeatureAction.WAIT, False),
        (FeatureState.NOT_REGISTERED, True, FeatureAction.REGISTER, False),
        (FeatureState.NOT_REGISTERED, False, FeatureAction.REFUSE, True),
        (FeatureState.UNREGISTERED, False, FeatureAction.REFUSE, True),
        (FeatureState.parse("something-new"), False, FeatureAction.REFUSE, True),
    ],
)
def test_m_5_feature_not_registered_refused_unless_register_feature(
    state: FeatureState, register: bool, action: FeatureAction, refused: bool
) -> None:
    assert migration.feature_action(state, register) is action
    result = migration.preflight(migration_input(register_feature=register), migration_facts(feature=state))
    assert ids(result.refusals) == ([("M-5", Reason.FEATURE_NOT_REGISTERED)] if refused else [])
    if refused:
        assert "--register-feature" in result.refusals[0].fix


@pytest.mark.parametrize(
    ("supported", "expected"),
    [(True, []), (False, [("M-6", Reason.SIZE_WITHOUT_HOST_ENCRYPTION)]), (None, [("M-6", Reason.SIZE_UNKNOWN)])],
)
def test_m_6_size_without_encryption_at_host_is_refused_with_resize(
    supported: bool | None, expected: list[tuple[str, str]]
) -> None:
    result = migration.preflight(migration_input(), migration_facts(size_supports_host_encryption=supported))
    assert ids(result.refusals) == expected
    if supported is False:
        assert "Resize" in result.refusals[0].fix and "EncryptionAtHostSupported" in result.refusals[0].fix


def _taken(
    kind: str, name: str, migrated_from: str = "", create_option: str = "", ade_marker: bool = False
) -> ExistingTarget:
    return ExistingTarget(kind, name, f"/x/{name}", migrated_from, ade_marker, create_option)


@pytest.mark.parametrize(
    ("request_kw", "existing", "expected"),
    [
        ({}, [], []),
        ({"targets": TargetNames(vm_name="web-01")}, [], [("M-1", Reason.TARGET_IS_SOURCE)]),
        ({"targets": TargetNames(disk_suffix="")}, [], [("M-1", Reason.TARGET_IS_SOURCE)] * 4),
        ({}, [_taken("vm", "web-01-eah")], [("M-1", Reason.TARGET_NAME_TAKEN)]),
        ({}, [_taken("disk", "web-01-osdisk-eah", migrated_from="/other/vm")], [("M-1", Reason.TARGET_NAME_TAKEN)]),
        ({}, [_taken("vm", "web-01-eah", migrated_from=VM.resource_id)], []),
        ({}, [_taken("disk", "web-01-osdisk-eah", migrated_from=VM.resource_id, create_option="Upload")], []),
        (
            {},
            [_taken("disk", "web-01-osdisk-eah", migrated_from=VM.resource_id, create_option="Copy", ade_marker=True)],
            [("M-2", Reason.TARGET_CARRIES_ADE_MARKER)],
        ),
        ({"nic_policy": NicPolicy.REUSE}, [_taken("nic", "web-01-eah-nic0")], []),
        ({}, [_taken("nic", "web-01-eah-nic0")], [("M-1", Reason.TARGET_NAME_TAKEN)]),
    ],
    ids=[
        "free",
        "vm-named-like-source",
        "disks-named-like-source",
        "vm-taken",
        "disk-taken-by-other",
        "vm-adopted",
        "disk-adopted",
        "adopted-copy-disk",
        "reuse-needs-no-nic-name",
        "nic-taken",
    ],
)
def test_m_1_target_names_free_or_adopted_from_this_migration(
    request_kw: dict[str, object], existing: list[ExistingTarget], expected: list[tuple[str, str]]
) -> None:
    result = migration.preflight(migration_input(**request_kw), migration_facts(existing_targets=existing))
    assert ids(result.refusals) == expected


def test_m_7_nic_reuse_is_refused_on_the_rebuild_path_where_the_owner_still_needs_the_source() -> None:
    request = migration_input(nic_policy=NicPolicy.REUSE, rebuild=REBUILD)
    result = migration.preflight(request, migration_facts(os_encrypted_vm()))
    assert ids(result.refusals) == [("M-7", Reason.MIGRATION_INPUT_INVALID)]
    assert (
        migration.preflight(replace(request, nic_policy=NicPolicy.NEW), migration_facts(os_encrypted_vm())).refusals
        == []
    )
    assert migration.preflight(migration_input(nic_policy=NicPolicy.REUSE), migration_facts()).refusals == []


def test_preflight_refuses_an_unreachable_vault_and_bad_input_all_at_once() -> None:
    facts = migration_facts(vault=KeyVaultLookup(None, "403 Forbidden", denied=True))
    request = migration_input(
        downtime_window=DowntimeWindow(T0, T0 - timedelta(hours=1)),
        copy_parallelism=0,
        checkpoint_bytes=1024,
        sas_duration_s=60,
        rebuild=replace(REBUILD, ssh_public_key="not a key"),
    )
    result = migration.preflight(request, facts)
    assert ("R-PRE-2", "vault-access-denied") in ids(result.refusals)
    assert [r.rule for r in result.refusals if r.reason == Reason.MIGRATION_INPUT_INVALID] == [
        "M-7",
        "M-3",
        "M-3",
        "M-3",
        "M-4",
    ]
    assert result.path is MigrationPath.NONE
    assert not migration.check_vault_reachable(replace(facts, vault_id="", vault=None))


# -- M-1/M-2: new disks by Upload only -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("create_option", "source", "refused"),
    [
        ("Upload", "", False),
        ("upload", "", False),
        ("Copy", VM.resource_id, True),
        ("Restore", "/snap", True),
        ("", "", True),
    ],
)
def test_m_1_m_2_new_disks_only_by_upload_never_copy_or_snapshot(
    create_option: str, source: str, refused: bool
) -> None:
    refusals = migration.check_upload_only("web-01-osdisk-eah", create_option, source)
    assert ids(refusals) == ([("M-2", Reason.NOT_AN_UPLOAD_DISK)] if refused else [])


def test_m_2_the_disk_bodies_sent_are_upload_bodies() -> None:
    request, source = migration_input(), source_definition()
    for plan in migration.plan_disks(request, source):
        body = migration.upload_disk_body(plan, source)
        assert migration.check_new_disk_body(plan.target_name, body) == []
        copy = {
            **body,
            "properties": {"creationData": {"createOption": "Copy", "sourceResourceId": plan.source.disk_id}},
        }
        assert ids(migration.check_new_disk_body(plan.target_name, copy)) == [("M-2", Reason.NOT_AN_UPLOAD_DISK)]


# -- M-7: downtime -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("window", "nic", "approved", "now", "status"),
    [
        (None, NicPolicy.NEW, False, T0, DowntimeStatus.WAIT_FOR_APPROVAL),
        (None, NicPolicy.NEW, True, T0, DowntimeStatus.ALLOWED),
        (
            DowntimeWindow(T0, T0 + timedelta(hours=4)),
            NicPolicy.NEW,
            False,
            T0 - timedelta(hours=1),
            DowntimeStatus.WAIT_FOR_WINDOW,
        ),
        (
            DowntimeWindow(T0, T0 + timedelta(hours=4)),
            NicPolicy.NEW,
            False,
            T0 + timedelta(hours=1),
            DowntimeStatus.ALLOWED,
        ),
        (
            DowntimeWindow(T0, T0 + timedelta(hours=4)),
            NicPolicy.NEW,
            False,
            T0 + timedelta(hours=4),
            DowntimeStatus.MISSED,
        ),
        (DowntimeWindow(None, None), NicPolicy.NEW, False, T0, DowntimeStatus.ALLOWED),
        (DowntimeWindow(T0, None), NicPolicy.REUSE, False, T0, DowntimeStatus.WAIT_FOR_APPROVAL),
        (DowntimeWindow(T0, None), NicPolicy.REUSE, True, T0, DowntimeStatus.ALLOWED),
    ],
    ids=[
        "no-window",
        "approved",
        "before-window",
        "in-window",
        "window-over",
        "open-window",
        "reuse-window",
        "reuse-approved",
    ],
)
def test_m_7_deallocation_needs_an_approval_or_an_open_window(
    window: DowntimeWindow | None, nic: NicPolicy, approved: bool, now: datetime, status: DowntimeStatus
) -> None:
    request = migration_input(downtime_window=window, nic_policy=nic)
    approvals = [approval(ApprovalKind.DOWNTIME)] if approved else []
    gate = migration.downtime_gate(request, approvals, now)
    assert gate.status is status
    refusals = migration.check_deallocate(request, approvals, now)
    expected = {
        DowntimeStatus.ALLOWED: [],
        DowntimeStatus.MISSED: [("M-7", Reason.DOWNTIME_WINDOW_MISSED)],
    }.get(status, [("M-7", Reason.DOWNTIME_NOT_APPROVED)])
    assert ids(refusals) == expected
    if status is DowntimeStatus.WAIT_FOR_WINDOW:
        assert gate.wait_until == T0


def test_m_7_an_anonymous_approval_does_not_count() -> None:
    gate = migration.downtime_gate(migration_input(), [approval(ApprovalKind.DOWNTIME, by="  ")], T0)
    assert gate.status is DowntimeStatus.WAIT_FOR_APPROVAL


@pytest.mark.parametrize(
    ("power_state", "refused"),
    [("deallocated", False), ("PowerState/deallocated", False), ("running", True), ("stopped", True), ("", True)],
)
def test_m_7_no_copy_from_a_disk_of_a_vm_that_is_not_deallocated(power_state: str, refused: bool) -> None:
    refusals = migration.check_copy_source("web-01-datadisk-0", power_state)
    assert ids(refusals) == ([("M-7", Reason.SOURCE_DISK_IN_USE)] if refused else [])


def test_m_7_nic_reuse_deletes_the_source_vm_object_only_under_approval_with_its_definition_recorded() -> None:
    reuse = migration_input(nic_policy=NicPolicy.REUSE)
    definition = source_definition()
    approved = [approval(ApprovalKind.DOWNTIME)]
    assert migration.check_delete_source_vm_object(reuse, approved, definition, "deallocated") == []
    assert ids(migration.check_delete_source_vm_object(reuse, [], definition, "deallocated")) == [
        ("M-7", Reason.DOWNTIME_NOT_APPROVED)
    ]
    assert ids(migration.check_delete_source_vm_object(reuse, approved, None, "deallocated")) == [
        ("M-7", Reason.SOURCE_DEFINITION_MISSING)
    ]
    assert ids(migration.check_delete_source_vm_object(reuse, approved, definition, "running")) == [
        ("M-7", Reason.SOURCE_DISK_IN_USE)
    ]
    deleting = replace(definition, os_disk=replace(definition.os_disk, delete_option="Delete"))
    refusals = migration.check_delete_source_vm_object(reuse, approved, deleting, "deallocated")
    assert ids(refusals) == [("M-8", Reason.SOURCE_DELETE_OPTION)] and "web-01-osdisk" in refusals[0].message
    new_nic = migration.check_delete_source_vm_object(migration_input(), approved, definition, "deallocated")
    assert ids(new_nic) == [("M-8", Reason.CLEANUP_NOT_APPROVED)]


# -- M-8: cleanup --------------------------------------------------------------------------------------------------

ALL_APPROVED = [approval(ApprovalKind.NEW_VM_WORKS), approval(ApprovalKind.CLEANUP)]


@pytest.mark.parametrize(
    ("approvals", "verified", "expected"),
    [
        (ALL_APPROVED, True, []),
        (ALL_APPROVED, False, [("M-8", Reason.NEW_VM_NOT_VERIFIED)]),
        ([approval(ApprovalKind.CLEANUP)], True, [("M-8", Reason.OWNER_NOT_CONFIRMED)]),
        ([approval(ApprovalKind.NEW_VM_WORKS)], True, [("M-8", Reason.CLEANUP_NOT_APPROVED)]),
        (
            [approval(ApprovalKind.DOWNTIME)],
            False,
            [
                ("M-8", Reason.NEW_VM_NOT_VERIFIED),
                ("M-8", Reason.OWNER_NOT_CONFIRMED),
                ("M-8", Reason.CLEANUP_NOT_APPROVED),
            ],
        ),
    ],
)
def test_m_8_cleanup_only_after_verification_confirmation_and_recorded_approval(
    approvals: list[migration.Approval], verified: bool, expected: list[tuple[str, str]]
) -> None:
    source = source_definition()
    plan = migration.plan_cleanup(migration_input(), source, approvals, verified, ["/new/nic"])
    assert ids(plan.refusals) == expected
    assert ids(migration.check_delete_source_disk(source.os_disk.disk_id, approvals, verified)) == expected
    if expected:
        assert (plan.vm_ids, plan.disk_ids, plan.nic_ids) == ([], [], [])
    else:
        assert plan.vm_ids == [VM.resource_id]
        assert plan.disk_ids == [d.disk_id for d in source.disks]
        assert plan.nic_ids == [source.nics[0].nic_id]


def test_m_8_cleanup_policy_and_the_vault_reset() -> None:
    source = source_definition()
    keep_disks = migration_input(cleanup=CleanupPolicy(delete_source_disks=False, reset_vault_disk_encryption=True))
    reused = [source.nics[0].nic_id.upper()]
    plan = migration.plan_cleanup(keep_disks, source, ALL_APPROVED, True, reused, VAULT_ID, [])
    assert (plan.disk_ids, plan.nic_ids, plan.vault_id) == ([], [], VAULT_ID)
    still_used = migration.plan_cleanup(keep_disks, source, ALL_APPROVED, True, reused, VAULT_ID, ["db-01"])
    assert ids(still_used.refusals) == [("M-8", Reason.VAULT_STILL_USED)] and still_used.vm_ids == []
    no_reset = migration.plan_cleanup(migration_input(), source, ALL_APPROVED, True, [], VAULT_ID, ["db-01"])
    assert no_reset.refusals == [] and no_reset.vault_id == ""


# -- every M- rule is named by a test --------------------------------------------------------------------------------


def test_every_m_rule_of_the_migration_doc_is_named_in_a_test_name() -> None:
    documented = sorted(set(re.findall(r"^- (M-\d)\b", (ROOT / "docs" / "ade-migration.md").read_text(), re.M)))
    assert documented == [f"M-{i}" for i in range(1, 9)]
    names = " ".join(re.findall(r"def (test_\w+)", Path(__file__).read_text()))
    assert [m for m in documented if m.lower().replace("-", "_") + "_" not in names] == []


def test_migration_facts_builder_is_a_data_only_vm() -> None:
    facts: MigrationFacts = migration_facts()
    assert migration.classify_source(facts).state is SourceAdeState.DATA_ONLY
    assert migration.ever_ade(facts)
