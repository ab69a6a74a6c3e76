"""Support matrix, re-enable, EncryptFormatAll, disable/remove and policy rules; each test names its rule id."""

from __future__ import annotations

from dataclasses import replace

import pytest

from adeflow.domain import rules
from adeflow.domain.model import (
    BackupPolicy,
    BackupWaiver,
    DiskFacts,
    EncryptionStatus,
    ExtensionFacts,
    ImageRef,
    PolicyFinding,
    Refusal,
    VolumeState,
    VolumeType,
)
from tests.support.domain_facts import ade_extension, disk, request, status, vault, vm_facts


def ids(refusals: list[Refusal]) -> list[tuple[str, str]]:
    return [(r.rule, r.reason) for r in refusals]


def test_r_pre_1_unlisted_image_is_refused_unless_overridden() -> None:
    facts = vm_facts(image=ImageRef("SUSE", "sles-15-sp5", "gen2"))
    assert ids(rules.check_support_matrix(facts, VolumeType.OS, allow_unlisted=False)) == [
        ("R-PRE-1", "unsupported-image")
    ]
    assert rules.check_support_matrix(facts, VolumeType.OS, allow_unlisted=True) == []


def test_r_pre_1_data_only_image_refuses_os_volume_but_allows_data() -> None:
    facts = vm_facts(image=ImageRef("RedHat", "RHEL", "6.8"), data_disks=1)
    assert ids(rules.check_support_matrix(facts, VolumeType.ALL, False)) == [("R-PRE-1", "image-data-only")]
    assert rules.check_support_matrix(facts, VolumeType.DATA, False) == []


@pytest.mark.parametrize(
    ("sku", "supported"), [("9_4", True), ("8_9", True), ("8-lvm-gen2", True), ("7_3", False), ("9_1", False)]
)
def test_r_pre_1_rhel_versions_follow_the_support_table(sku: str, supported: bool) -> None:
    facts = vm_facts(image=ImageRef("RedHat", "RHEL", sku))
    assert (rules.check_support_matrix(facts, VolumeType.OS, False) == []) is supported


def test_r_pre_1_os_volume_needs_8_gib_of_memory() -> None:
    small = vm_facts(size="Standard_B2s")  # 4 GiB
    assert ids(rules.check_support_matrix(small, VolumeType.OS, False)) == [("R-PRE-1", "not-enough-memory")]
    assert rules.check_support_matrix(small, VolumeType.DATA, False) == []


def test_r_pre_1_unknown_size_is_refused_unless_overridden() -> None:
    facts = vm_facts(size="Standard_Z99_weird")
    assert ids(rules.check_support_matrix(facts, VolumeType.OS, False)) == [("R-PRE-1", "unknown-size")]
    assert rules.check_support_matrix(facts, VolumeType.OS, True) == []


@pytest.mark.parametrize("size", ["Standard_L8s_v3", "Standard_HB120rs_v3"])
def test_r_lim_4o_nvme_local_sizes_are_refused(size: str) -> None:
    assert ids(rules.check_support_matrix(vm_facts(size=size), VolumeType.OS, False)) == [
        ("R-LIM-4o", "unsupported-size")
    ]


def test_r_lim_4o_nvme_disk_controller_is_refused() -> None:
    assert ("R-LIM-4o", "nvme-disk-controller") in ids(
        rules.check_vm_eligibility(vm_facts(disk_controller_type="NVMe"), VolumeType.OS)
    )


def test_r_lim_4d_custom_image_is_refused() -> None:
    facts = vm_facts(image=ImageRef(custom_image_id="/subscriptions/x/.../galleries/g/images/i/versions/1"))
    assert ids(rules.check_support_matrix(facts, VolumeType.OS, False)) == [("R-LIM-4d", "custom-image")]


def test_r_lim_4u_ever_ade_vm_with_encryption_at_host_is_refused() -> None:
    facts = vm_facts(encryption_at_host=True, os_disk=replace(disk("web-01-osdisk"), ade_settings_version="1.1"))
    assert ("R-LIM-4u", "ade-vm-moved-to-sse") in ids(rules.check_vm_eligibility(facts, VolumeType.OS))


def test_r_lim_4y_secret_validity_policy_with_deny_is_refused_audit_is_not() -> None:
    definition = "/providers/Microsoft.Authorization/policyDefinitions/342e8053-e12e-4c44-be01-c3c2f318400f"
    deny = PolicyFinding("/subscriptions/x/providers/Microsoft.Authorization/policyAssignments/a", definition, "Deny")
    assert ids(rules.check_policies([deny])) == [("R-LIM-4y", "secret-policy-deny")]
    assert rules.check_policies([replace(deny, effect="Audit")]) == []


@pytest.mark.parametrize(
    ("previous", "expected"), [("OS", VolumeType.ALL), ("All", VolumeType.ALL), ("Data", VolumeType.DATA)]
)
def test_r_new_2_reenable_volume_type_follows_the_previous_one(previous: str, expected: VolumeType) -> None:
    encrypted = ade_extension(volume_type=previous, encryption_operation="EnableEncryption")
    decision = rules.decide_volume_type(None, vm_facts(data_disks=1, ade_extension=encrypted))
    assert (decision.volume_type, decision.reenable) == (expected, True)


def test_r_new_2_a_different_requested_type_is_refused() -> None:
    encrypted = ade_extension(volume_type="All", encryption_operation="EnableEncryption")
    decision = rules.decide_volume_type(VolumeType.DATA, vm_facts(data_disks=1, ade_extension=encrypted))
    assert decision.refusal is not None and decision.refusal.rule == "R-NEW-2"


def test_r_new_1_reenable_needs_the_new_disk_confirmation() -> None:
    encrypted = ade_extension(
        volume_type="Data",
        encryption_operation="EnableEncryption",
        status=status(VolumeState.NOT_ENCRYPTED, VolumeState.ENCRYPTED),
    )
    facts = vm_facts(data_disks=2, ade_extension=encrypted)
    assert ("R-NEW-1", "new-disk-not-confirmed") in ids(rules.preflight(request(), facts, vault()))
    confirmed = request(confirmations=["data-disks-mounted-in-fstab"])
    assert rules.preflight(confirmed, facts, vault()) == []


FAILED = "Failed to encrypt data volumes with error: device mapper creation failed (dm-crypt)"


def enable(provisioning_state: str, volume_type: str = "All", **overrides: object) -> ExtensionFacts:
    """The extension as an earlier EnableEncryption left it, in ``provisioning_state``."""
    return ade_extension(
        volume_type=volume_type,
        encryption_operation="EnableEncryption",
        provisioning_state=provisioning_state,
        **overrides,
    )


@pytest.mark.parametrize(
    "reported",
    [
        status(VolumeState.NOT_ENCRYPTED, VolumeState.NOT_ENCRYPTED, FAILED, "Error"),
        status(VolumeState.UNKNOWN, VolumeState.UNKNOWN, FAILED, "Error"),
        None,  # no instance view at all
    ],
)
def test_r_new_1_a_failed_enable_that_encrypted_nothing_is_tried_again_as_a_first_enable(
    reported: EncryptionStatus | None,
) -> None:
    facts = vm_facts(data_disks=1, ade_extension=enable("Failed", status=reported))
    assert rules.current_volume_type(facts) is None
    decision = rules.decide_volume_type(VolumeType.ALL, facts)
    assert (decision.volume_type, decision.reenable, decision.refusal) == (VolumeType.ALL, False, None)
    assert rules.preflight(request(VolumeType.ALL), facts, vault()) == []  # no R-NEW-1 new-disk refusal


def test_r_new_2_a_failed_enable_that_encrypted_nothing_does_not_pin_the_volume_type() -> None:
    facts = vm_facts(data_disks=1, ade_extension=enable("Failed", "Data"))
    assert rules.decide_volume_type(VolumeType.ALL, facts).refusal is None  # was Data: only a done enable binds


OS_DISK = disk("web-01-osdisk")
DATA_DISK = disk("web-01-datadisk-0", lun=0, size_gb=64)


@pytest.mark.parametrize(
    ("reported", "os_disk", "data_disk", "previous"),
    [
        (status(VolumeState.ENCRYPTED, VolumeState.NOT_ENCRYPTED, FAILED, "Error"), OS_DISK, DATA_DISK, "All"),
        (status(VolumeState.ENCRYPTED, VolumeState.NOT_MOUNTED, FAILED, "Error"), OS_DISK, DATA_DISK, "OS"),
        (status(VolumeState.VM_RESTART_PENDING, VolumeState.UNKNOWN, FAILED, "Error"), OS_DISK, DATA_DISK, "OS"),
        (None, replace(OS_DISK, instance_view_encrypted=True), DATA_DISK, "OS"),
        (None, replace(OS_DISK, ade_settings_version="1.1"), DATA_DISK, "All"),
        (None, OS_DISK, replace(DATA_DISK, ade_settings_version="1.1"), "Data"),
        (status(VolumeState.NOT_ENCRYPTED, VolumeState.ENCRYPTED, FAILED, "Error"), OS_DISK, DATA_DISK, "Data"),
    ],
)
def test_r_new_2_a_failed_enable_that_encrypted_a_volume_is_a_re_enable_needing_r_new_1(
    reported: EncryptionStatus | None, os_disk: DiskFacts, data_disk: DiskFacts, previous: str
) -> None:
    """A volume is encrypted (or a disk stamped): R-NEW-2 fixes the volume type, R-NEW-1 wants the disks ready."""
    ext = enable("Failed", previous, status=reported)
    facts = replace(vm_facts(ade_extension=ext, os_disk=os_disk), data_disks=[data_disk])
    assert rules.current_volume_type(facts) is VolumeType(previous)
    decision = rules.decide_volume_type(None, facts)
    target = VolumeType.DATA if previous == "Data" else VolumeType.ALL
    assert (decision.volume_type, decision.reenable) == (target, True)
    assert ("R-NEW-1", "new-disk-not-confirmed") in ids(rules.preflight(request(), facts, vault()))


@pytest.mark.parametrize(
    "reported", [None, status(VolumeState.NOT_ENCRYPTED, VolumeState.NOT_MOUNTED, "Encryption succeeded")]
)
def test_r_new_2_a_succeeded_enable_counts_even_with_nothing_encrypted(reported: EncryptionStatus | None) -> None:
    """Data with no mounted data disk succeeds and encrypts nothing: attaching one later is the R-NEW-1 case."""
    facts = vm_facts(data_disks=1, ade_extension=enable("Succeeded", "Data", status=reported))
    assert rules.current_volume_type(facts) is VolumeType.DATA
    decision = rules.decide_volume_type(None, facts)
    assert (decision.volume_type, decision.reenable) == (VolumeType.DATA, True)
    assert ("R-NEW-1", "new-disk-not-confirmed") in ids(rules.preflight(request(), facts, vault()))


@pytest.mark.parametrize("state", ["Creating", "Updating"])
def test_r_new_1_an_enable_still_being_applied_is_refused_as_busy_not_as_a_new_disk(state: str) -> None:
    """R-LIM-2: ARM is still applying an enable that has encrypted nothing yet: wait, then a first enable."""
    nothing_yet = status(VolumeState.NOT_ENCRYPTED, VolumeState.NOT_MOUNTED)
    facts = vm_facts(ade_extension=enable(state, "OS", status=nothing_yet))
    assert rules.current_volume_type(facts) is None
    assert ids(rules.preflight(request(), facts, vault())) == [("R-LIM-2", "operation-in-progress")]


def test_r_new_2_an_enable_still_being_applied_that_is_encrypting_keeps_its_volume_type() -> None:
    running = status(VolumeState.ENCRYPTION_IN_PROGRESS, VolumeState.NOT_MOUNTED)
    facts = vm_facts(data_disks=1, ade_extension=enable("Updating", "OS", status=running))
    assert rules.current_volume_type(facts) is VolumeType.OS
    assert rules.decide_volume_type(None, facts).volume_type is VolumeType.ALL
    assert ids(rules.preflight(request(), facts, vault()))[0] == ("R-LIM-2", "operation-in-progress")


def test_r_efa_1_format_all_needs_the_exact_acknowledgement() -> None:
    refusals = rules.check_format_all(request(VolumeType.DATA, encrypt_format_all=True), VolumeType.DATA)
    assert ids(refusals) == [("R-EFA-1", "format-all-not-acknowledged")]
    acknowledged = request(
        VolumeType.DATA, encrypt_format_all=True, acknowledge_data_loss=rules.FORMAT_ALL_ACKNOWLEDGEMENT
    )
    assert rules.check_format_all(acknowledged, VolumeType.DATA) == []
    settings = rules.plan_enable_settings(acknowledged, vault(), VolumeType.DATA, "s")
    assert settings.encryption_operation == "EnableEncryptionFormatAll"


def test_r_efa_4_format_all_only_with_volume_type_data() -> None:
    req = request(VolumeType.ALL, encrypt_format_all=True, acknowledge_data_loss=rules.FORMAT_ALL_ACKNOWLEDGEMENT)
    assert ids(rules.check_format_all(req, VolumeType.ALL)) == [("R-EFA-4", "format-all-needs-data")]


def test_r_efa_4_plan_lists_qualifying_and_left_alone_disks() -> None:
    facts = vm_facts(data_disks=2)
    facts = replace(facts, data_disks=[replace(facts.data_disks[0], instance_view_encrypted=True), facts.data_disks[1]])
    plan = rules.plan_format_all(facts)
    assert plan.qualifying == ["web-01-datadisk-1"]
    assert plan.left_alone == [("web-01-osdisk", "OS/root/boot disk"), ("web-01-datadisk-0", "already encrypted")]


def test_r_bak_2_waive_without_a_statement_is_refused() -> None:
    assert ids(rules.check_backup_policy(request(backup_policy=BackupPolicy.WAIVE))) == [
        ("R-BAK-2", "backup-waiver-missing")
    ]
    waived = request(backup_policy=BackupPolicy.WAIVE, backup_waiver=BackupWaiver("alice", "job 42"))
    assert rules.check_backup_policy(waived) == []


@pytest.mark.parametrize("os_state", [VolumeState.ENCRYPTED, VolumeState.ENCRYPTION_IN_PROGRESS])
def test_r_dis_3_r_lim_3_r_lim_4b_no_disable_while_the_os_volume_is_encrypted(os_state: VolumeState) -> None:
    ext = ade_extension(status=status(os_state, VolumeState.ENCRYPTED))
    refusals = rules.check_disable(vm_facts(data_disks=1, ade_extension=ext))
    assert ids(refusals) == [("R-DIS-3", "os-volume-encrypted")]
    assert "R-LIM-3" in refusals[0].message and "R-LIM-4b" in refusals[0].message  # neither OS nor data volumes


def test_r_ena_1_enable_is_the_azure_disk_encryption_for_linux_extension_with_the_clis_settings() -> None:
    from activities.extension import extension_body
    from adeflow.domain.model import ExtensionRequest, VmRef

    settings = rules.plan_enable_settings(request(), vault(), VolumeType.ALL, "seq-1")
    body = extension_body(ExtensionRequest(VmRef("s", "rg", "web-01"), "eastus", settings)).as_dict()["properties"]
    assert (body["publisher"], body["type"], body["typeHandlerVersion"]) == (
        "Microsoft.Azure.Security",
        "AzureDiskEncryptionForLinux",
        "1.1",
    )
    assert body["settings"]["EncryptionOperation"] == "EnableEncryption"
    assert body["settings"]["VolumeType"] == "All" and body["settings"]["SequenceVersion"] == "seq-1"


def test_r_dis_3_os_disk_stamp_alone_also_blocks_disable() -> None:
    facts = vm_facts(data_disks=1, os_disk=replace(disk("web-01-osdisk"), instance_view_encrypted=True))
    assert ids(rules.check_disable(facts)) == [("R-DIS-3", "os-volume-encrypted")]


def test_r_dis_1_disable_allowed_for_data_only_encryption_even_without_extension() -> None:
    facts = vm_facts(data_disks=1)
    facts = replace(facts, data_disks=[replace(facts.data_disks[0], instance_view_encrypted=True)])
    assert rules.check_disable(facts) == []  # extension removed, disks encrypted: re-add to disable (R-DIS-2)
    assert ids(rules.check_disable(vm_facts(data_disks=1))) == [("R-DIS-1", "nothing-encrypted")]


def test_r_dis_2_remove_refused_while_encrypted_unless_leave_encrypted() -> None:
    ext = ade_extension(status=status(VolumeState.NOT_ENCRYPTED, VolumeState.ENCRYPTED))
    facts = vm_facts(data_disks=1, ade_extension=ext)
    assert ids(rules.check_remove_extension(facts, leave_encrypted=False)) == [("R-DIS-2", "still-encrypted")]
    assert rules.check_remove_extension(facts, leave_encrypted=True) == []


def test_r_dis_4_disable_settings_match_az_cli() -> None:
    assert rules.plan_disable_settings("seq-9").public_settings() == {
        "VolumeType": "Data",
        "EncryptionOperation": "DisableEncryption",
        "SequenceVersion": "seq-9",
    }


def test_r_dis_2_disable_done_only_when_data_no_longer_encrypted() -> None:
    decrypting = status(VolumeState.NOT_ENCRYPTED, VolumeState.DECRYPTION_IN_PROGRESS)
    assert rules.assess_disable_progress(decrypting).kind is rules.ProgressKind.WAITING
    done = status(VolumeState.NOT_ENCRYPTED, VolumeState.NOT_ENCRYPTED)
    assert rules.assess_disable_progress(done).kind is rules.ProgressKind.DONE


def test_guest_only_checks_are_listed_until_confirmed() -> None:
    unconfirmed = {c.name for c in rules.unconfirmed_guest_checks(["no-kdump"])}
    assert "no-kdump" not in unconfirmed
    assert {"no-nested-mounts", "not-in-failover-cluster", "no-nfs"} <= unconfirmed
    assert {c.rule for c in rules.GUEST_CHECKS.values()} >= {"R-LIM-4p", "R-LIM-4q", "R-LIM-4r", "R-LIM-4m"}
