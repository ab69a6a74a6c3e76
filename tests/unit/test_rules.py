"""The ADE rules as pure functions; each test names the rule id it proves."""

from __future__ import annotations

from dataclasses import replace

import pytest

from adeflow.domain import rules
from adeflow.domain.model import KeyEncryptionKey, Refusal, VolumeState, VolumeType
from tests.support.domain_facts import ade_extension, disk, request, status, vault, vm_facts


def reasons(refusals: list[Refusal]) -> list[tuple[str, str]]:
    return [(r.rule, r.reason) for r in refusals]


def test_eligible_vm_passes_preflight() -> None:
    assert rules.preflight(request(VolumeType.ALL), vm_facts(data_disks=2), vault()) == []


def test_r_pre_1_non_linux_is_refused() -> None:
    refusals = rules.check_vm_eligibility(vm_facts(os_type="Windows"), VolumeType.OS)
    assert reasons(refusals) == [("R-PRE-1", "not-linux")]
    assert "Linux VMs only" in refusals[0].message


def test_r_lim_4a_basic_tier_is_refused() -> None:
    assert reasons(rules.check_vm_eligibility(vm_facts(size="Basic_A1"), VolumeType.OS)) == [("R-LIM-4a", "basic-tier")]


def test_r_lim_4i_ephemeral_os_disk_is_refused() -> None:
    facts = vm_facts(os_disk=replace(disk("web-01-osdisk"), ephemeral=True, managed_disk_id=""))
    assert reasons(rules.check_vm_eligibility(facts, VolumeType.OS)) == [("R-LIM-4i", "ephemeral-os-disk")]


@pytest.mark.parametrize(
    ("sku", "expected"),
    [("UltraSSD_LRS", ("R-LIM-4w", "ultra-disk")), ("PremiumV2_LRS", ("R-LIM-4x", "premium-ssd-v2-disk"))],
)
def test_r_lim_4w_4x_unsupported_disk_types_are_refused(sku: str, expected: tuple[str, str]) -> None:
    facts = vm_facts(data_disks=1)
    facts = replace(facts, data_disks=[disk("web-01-datadisk-0", lun=0, sku=sku)])
    refusals = rules.check_vm_eligibility(facts, VolumeType.ALL)
    assert reasons(refusals) == [expected]
    assert "LUN 0" in refusals[0].message


def test_r_lim_4t_encryption_at_host_is_refused() -> None:
    assert reasons(rules.check_vm_eligibility(vm_facts(encryption_at_host=True), VolumeType.OS)) == [
        ("R-LIM-4t", "encryption-at-host")
    ]


def test_r_lim_4t_sse_with_customer_managed_key_is_refused() -> None:
    des = "/subscriptions/x/resourceGroups/rg/providers/Microsoft.Compute/diskEncryptionSets/des-1"
    facts = vm_facts(os_disk=replace(disk("web-01-osdisk"), disk_encryption_set_id=des))
    refusals = rules.check_vm_eligibility(facts, VolumeType.OS)
    assert reasons(refusals) == [("R-LIM-4t", "sse-customer-managed-key")]
    assert des in refusals[0].message


def test_r_lim_4s_write_accelerator_is_refused() -> None:
    facts = vm_facts(os_disk=replace(disk("web-01-osdisk"), write_accelerator=True))
    assert reasons(rules.check_vm_eligibility(facts, VolumeType.OS)) == [("R-LIM-4s", "write-accelerator")]


def test_r_lim_4c_scale_set_member_refused_for_os_but_allowed_for_data() -> None:
    facts = vm_facts(data_disks=1, scale_set_id="/subscriptions/x/.../virtualMachineScaleSets/ss")
    assert reasons(rules.check_vm_eligibility(facts, VolumeType.ALL)) == [("R-LIM-4c", "scale-set-os-volume")]
    assert rules.check_vm_eligibility(facts, VolumeType.DATA) == []


@pytest.mark.parametrize(
    "facts_change",
    [
        {"ade_extension": ade_extension("0.1")},
        {"ade_extension": ade_extension("1.1", has_aad_settings=True)},
        {"legacy_os_encryption_settings": True},
        {"os_disk": replace(disk("web-01-osdisk"), ade_settings_version="1.0")},
    ],
)
def test_r_lim_1_previous_aad_release_is_refused(facts_change: dict[str, object]) -> None:
    refusals = rules.check_vm_eligibility(vm_facts(**facts_change), VolumeType.OS)
    assert reasons(refusals) == [("R-LIM-1", "legacy-aad-release")]


def test_r_pre_2_vault_not_enabled_for_disk_encryption() -> None:
    refusals = rules.check_key_vault(vm_facts(), vault(enabled_for_disk_encryption=False))
    assert reasons(refusals) == [("R-PRE-2", "vault-not-enabled-for-disk-encryption")]
    assert "--enabled-for-disk-encryption true" in refusals[0].fix


def test_r_pre_2_vault_in_other_region_or_subscription() -> None:
    refusals = rules.check_key_vault(vm_facts(), vault(location="West Europe", subscription_id="other-sub"))
    assert reasons(refusals) == [
        ("R-PRE-2", "vault-subscription-mismatch"),
        ("R-PRE-2", "vault-region-mismatch"),
    ]


def test_r_pre_2_region_comparison_ignores_case_and_spaces() -> None:
    assert rules.check_key_vault(vm_facts(location="eastus"), vault(location="East US")) == []


def test_r_ena_3_volume_type_required_when_vm_has_data_disks() -> None:
    decision = rules.decide_volume_type(None, vm_facts(data_disks=1))
    assert decision.volume_type is None
    assert decision.refusal is not None
    assert (decision.refusal.rule, decision.refusal.reason) == ("R-ENA-3", "volume-type-required")


def test_r_ena_3_volume_type_defaults_to_os_without_data_disks() -> None:
    assert rules.decide_volume_type(None, vm_facts()).volume_type is VolumeType.OS


def test_r_ena_3_data_requested_without_data_disks_is_refused() -> None:
    decision = rules.decide_volume_type(VolumeType.DATA, vm_facts())
    assert decision.refusal is not None and decision.refusal.reason == "no-data-disks"


def test_r_lim_2_vm_with_running_operation_is_refused() -> None:
    busy = ade_extension(status=status(VolumeState.ENCRYPTION_IN_PROGRESS, VolumeState.NOT_MOUNTED))
    assert reasons(rules.check_not_busy(vm_facts(ade_extension=busy))) == [("R-LIM-2", "operation-in-progress")]


def test_refusal_renders_vm_rule_and_fix() -> None:
    refusal = rules.check_vm_eligibility(vm_facts(size="Basic_A1"), VolumeType.OS)[0]
    text = refusal.render(vm_facts().ref)
    assert text.startswith("web-01: refused by R-LIM-4a")
    assert "Fix:" in text


def test_r_ena_3_settings_match_az_cli_keys_and_values() -> None:
    kek = KeyEncryptionKey("https://kv-ade-eastus.vault.azure.net/keys/kek/0123", vault().resource_id)
    settings = rules.plan_enable_settings(request(VolumeType.ALL, kek=kek), vault(), VolumeType.ALL, "seq-1")
    assert settings.public_settings() == {
        "EncryptionOperation": "EnableEncryption",
        "KeyVaultURL": "https://kv-ade-eastus.vault.azure.net",
        "KeyVaultResourceId": vault().resource_id,
        "KeyEncryptionKeyURL": "https://kv-ade-eastus.vault.azure.net/keys/kek/0123",
        "KekVaultResourceId": vault().resource_id,
        "KeyEncryptionAlgorithm": "RSA-OAEP",
        "VolumeType": "All",
        "SequenceVersion": "seq-1",
    }


def test_r_ena_3_without_kek_sends_null_url_and_empty_vault_like_az() -> None:
    settings = rules.plan_enable_settings(request(VolumeType.OS), vault(), VolumeType.OS, "seq-1").public_settings()
    assert settings["KeyEncryptionKeyURL"] is None
    assert settings["KekVaultResourceId"] == ""


@pytest.mark.parametrize(
    ("volume_type", "os", "data", "kind"),
    [
        (VolumeType.OS, VolumeState.ENCRYPTED, VolumeState.NOT_ENCRYPTED, rules.ProgressKind.DONE),
        (VolumeType.OS, VolumeState.ENCRYPTION_IN_PROGRESS, VolumeState.NOT_MOUNTED, rules.ProgressKind.WAITING),
        (VolumeType.DATA, VolumeState.NOT_ENCRYPTED, VolumeState.ENCRYPTED, rules.ProgressKind.DONE),
        (VolumeType.DATA, VolumeState.NOT_ENCRYPTED, VolumeState.ENCRYPTION_IN_PROGRESS, rules.ProgressKind.WAITING),
        (VolumeType.ALL, VolumeState.ENCRYPTION_IN_PROGRESS, VolumeState.ENCRYPTED, rules.ProgressKind.WAITING),
        (VolumeType.ALL, VolumeState.ENCRYPTED, VolumeState.NOT_MOUNTED, rules.ProgressKind.DONE),
        (VolumeType.ALL, VolumeState.ENCRYPTED, VolumeState.ENCRYPTED, rules.ProgressKind.DONE),
    ],
)
def test_r_ena_4_progress_is_done_only_when_requested_volumes_are_encrypted(
    volume_type: VolumeType, os: VolumeState, data: VolumeState, kind: rules.ProgressKind
) -> None:
    assert rules.assess_encryption_progress(status(os, data), volume_type).kind is kind


@pytest.mark.parametrize(
    "message",
    [
        "Restarted extension from stripped down OS",
        "Attempt #3 to unmount /oldroot failed with error: target is busy",
        "An operation is already in progress. Please wait for it to complete.",
    ],
)
def test_r_lim_2_transient_extension_errors_keep_waiting(message: str) -> None:
    verdict = rules.assess_encryption_progress(
        status(VolumeState.ENCRYPTION_IN_PROGRESS, VolumeState.NOT_MOUNTED, message, level="Error"), VolumeType.OS
    )
    assert verdict.kind is rules.ProgressKind.WAITING


def test_terminal_extension_error_fails_with_its_message() -> None:
    message = "Failed to encrypt OS volume with error: Could not unmount /oldroot in 10 attempts"
    verdict = rules.assess_encryption_progress(
        status(VolumeState.ENCRYPTION_IN_PROGRESS, VolumeState.NOT_MOUNTED, message, level="Error"), VolumeType.OS
    )
    assert verdict.kind is rules.ProgressKind.FAILED
    assert message in verdict.message


def test_vm_restart_pending_is_surfaced_not_waited_on_forever() -> None:
    verdict = rules.assess_encryption_progress(
        status(VolumeState.VM_RESTART_PENDING, VolumeState.NOT_MOUNTED), VolumeType.OS
    )
    assert (verdict.kind, verdict.reason) == (rules.ProgressKind.FAILED, "vm-restart-pending")


def test_r_ena_4_verification_needs_every_disk_in_scope_stamped() -> None:
    done = ade_extension(status=status(VolumeState.ENCRYPTED, VolumeState.ENCRYPTED))
    facts = vm_facts(data_disks=2, ade_extension=done)
    stamped_os = replace(facts.os_disk, instance_view_encrypted=True)
    stamped_data = [replace(facts.data_disks[0], instance_view_encrypted=True), facts.data_disks[1]]
    partial = replace(facts, os_disk=stamped_os, data_disks=stamped_data)
    verdict = rules.verify_encryption(partial, VolumeType.ALL)
    assert not verdict.ok
    assert verdict.missing_disks == ["web-01-datadisk-1"]
    assert "R-NEW-1" in verdict.message
    assert rules.verify_encryption(partial, VolumeType.OS).ok
