"""How a run ends when Azure or the guest fails it: the pure decisions behind tests/workflows/test_faults.py."""

from __future__ import annotations

import pytest

from adeflow.domain import rules
from adeflow.domain.model import VolumeState, VolumeType
from tests.support.domain_facts import VAULT_ID, status

ARM_WRAPPED = (
    "VM has reported a failure when processing extension 'AzureDiskEncryptionForLinux'. "
    'Error message: "Failed to install cryptsetup package(s)".'
)


def test_extension_own_message_is_peeled_out_of_arms_wrapper() -> None:
    assert rules.extension_own_message(ARM_WRAPPED) == "Failed to install cryptsetup package(s)"
    assert rules.extension_own_message("  plain\nmessage ") == "plain message"


@pytest.mark.parametrize(
    ("message", "hint"),
    [
        ("Failed to install cryptsetup package(s)", "package repositories"),
        ("Not enough memory for enabling encryption on OS volume. 8 GB memory is recommended.", "8 GB"),
        ("Distro ubuntu 16.04 is not supported for OS encryption", "R-PRE-1"),
        ("Failed to encrypt OS volume with error: Could not unmount /oldroot in 10 attempts", "R-LIM-2"),
        ("Failed to encrypt data volumes with error: device mapper creation failed", "R-NEW-1"),
        ("Moving from volume type Data to volume type OS is not allowed", "R-NEW-2"),
        ("KeyVault 'kv-1' is not enabled for disk encryption.", "R-PRE-2"),
        ("Disabling encryption is not supported when OS volume is encrypted", "R-DIS-3"),
        ("something nobody has seen before", "/var/log/azure/"),
    ],
)
def test_extension_failures_get_a_fix_and_always_the_way_back(message: str, hint: str) -> None:
    fix = rules.extension_failure_fix(message)
    assert hint in fix and "R-BAK-1" in fix


def test_explained_extension_failure_is_one_line_with_vm_own_message_and_fix() -> None:
    text = rules.explain_extension_failure("web-01", ARM_WRAPPED)
    assert text.startswith("web-01: the ADE extension failed: Failed to install cryptsetup package(s). Fix: ")
    assert "VM has reported" not in text and "\n" not in text


def test_terminal_extension_status_error_carries_a_fix() -> None:
    verdict = rules.assess_encryption_progress(
        status(VolumeState.ENCRYPTION_IN_PROGRESS, VolumeState.NOT_MOUNTED, "Failed to install cryptsetup", "Error"),
        VolumeType.OS,
    )
    assert verdict.reason == "extension-error" and "Fix:" in verdict.message


def test_r_ena_2_restart_pending_names_the_rule_and_the_fix() -> None:
    verdict = rules.assess_encryption_progress(
        status(VolumeState.VM_RESTART_PENDING, VolumeState.NOT_MOUNTED), VolumeType.OS
    )
    assert verdict.reason == "vm-restart-pending"
    assert "R-ENA-2" in verdict.message and "Fix:" in verdict.message


@pytest.mark.parametrize(
    ("operation", "reason", "doing"),
    [
        ("EnableEncryption", "encryption-deadline-exceeded", "encryption did not finish within 6 h"),
        ("DisableEncryption", "disable-deadline-exceeded", "decryption did not finish within 6 h"),
    ],
)
def test_r_lim_2_deadline_quotes_the_last_status_and_says_the_vm_was_left_alone(
    operation: str, reason: str, doing: str
) -> None:
    last = "os: EncryptionInProgress, data: EncryptionInProgress (Encrypting data volume 1/1: 37%)"
    verdict = rules.wait_deadline_verdict(operation, 6 * 3600, last)
    assert (verdict.kind, verdict.reason) == (rules.ProgressKind.FAILED, reason)
    assert doing in verdict.message and "37%)." in verdict.message
    assert "left as it is" in verdict.message and "R-LIM-2" in verdict.message and "Fix:" in verdict.message
    assert "last seen: no status." in rules.wait_deadline_verdict(operation, 3600, "").message


@pytest.mark.parametrize("state", ["deallocated", "Deallocating", "stopped", "stopping"])
def test_r_lim_2_a_vm_that_is_not_running_ends_the_wait(state: str) -> None:
    verdict = rules.assess_power_state(state, "EnableEncryption")
    assert verdict is not None and verdict.reason == "vm-not-running"
    assert state.lower() in verdict.message and "az vm start" in verdict.message


@pytest.mark.parametrize("state", ["running", "starting", ""])
def test_a_running_or_unknown_power_state_keeps_waiting(state: str) -> None:
    assert rules.assess_power_state(state, "EnableEncryption") is None


def test_deleted_vm_is_told_apart_from_a_missing_extension() -> None:
    verdict = rules.vm_deleted_verdict("EnableEncryption")
    assert verdict.reason == "vm-deleted" and "VM was deleted" in verdict.message and "R-BAK-1" in verdict.message


def test_r_pre_2_denied_vault_read_names_the_vault_and_the_permission() -> None:
    denied = rules.key_vault_not_found(VAULT_ID, "ARM answered 403 AuthorizationFailed: no", denied=True)
    assert (denied.rule, denied.reason) == ("R-PRE-2", "vault-access-denied")
    assert "'kv-ade-eastus'" in denied.message and "Microsoft.KeyVault/vaults/read" in denied.fix
    assert rules.key_vault_not_found(VAULT_ID, "ARM answered 404").reason == "vault-not-found"


def test_r_bak_2_snapshot_failure_says_nothing_changed_and_what_to_do() -> None:
    text = rules.snapshot_failure_message(
        "web-01", "web-01-osdisk", "web-01-osdisk-ade-1", "InternalError: retry later."
    )
    assert text.startswith(
        "web-01: snapshot web-01-osdisk-ade-1 of disk web-01-osdisk failed: InternalError: retry later. "
    )
    assert "Nothing was changed" in text and "R-BAK-2" in text and "Fix:" in text and ".." not in text


def test_r_bak_2_backup_conflict_without_a_job_to_join_is_surfaced() -> None:
    text = rules.backup_conflict_message("web-01", "409 UserErrorBackupOperationInProgress: busy")
    assert text.startswith("web-01: ") and "R-BAK-2" in text and "Fix:" in text
