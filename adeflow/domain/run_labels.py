"""What the Temporal UI shows of a run before anyone opens it: its static summary (one line, in the list and on
top of the run's page) and static details (Markdown, the run's page), set when the run starts.

One place for the words, so a run started by the CLI and the same run started by a rollout read alike. The
details hold the settings an operator checks first (VM, volume type, backup policy, restart policy, rollout); the
summary only what the workflow id and the search attributes already show in plain text (VM name, resource group,
volume type), so it may stay readable when payloads are encrypted (``adeflow.client.vm_runs``).
"""

from __future__ import annotations

from adeflow.domain.migration.payloads import DowntimeWindow, MigrationInput
from adeflow.domain.model import (
    BackupPolicy,
    BackupWaiver,
    CreateFromVhdInput,
    DisableInput,
    EncryptVmInput,
    RemoveExtensionInput,
    VmRef,
)
from adeflow.domain.rollout import RolloutInput, RolloutKind

ENCRYPTED_NOTE = "payloads encrypted: open them with the codec server"
"""Appended to a summary kept readable while the run's payloads (its details too) are encrypted."""


def _rows(vm: VmRef, *rows: tuple[str, str]) -> str:
    lines = [f"**VM** {vm.name} · resource group {vm.resource_group} · subscription {vm.subscription_id}"]
    lines += [f"**{name}** {value}" for name, value in rows if value]
    return "\n\n".join(lines)


def _backup(policy: BackupPolicy, waiver: BackupWaiver | None) -> str:
    if waiver is not None:
        return f"{policy.value}: waived by {waiver.operator} (R-BAK-2): {waiver.statement}"
    return policy.value


def _rollout(rollout_id: str) -> str:
    return rollout_id or "none (a single-VM run)"


def encrypt_summary(request: EncryptVmInput) -> str:
    volume = request.volume_type.value if request.volume_type else "volume type from the disks"
    return f"Encrypt {request.vm.name} ({volume}) in {request.vm.resource_group}"


def encrypt_details(request: EncryptVmInput) -> str:
    return _rows(
        request.vm,
        ("Volume type", request.volume_type.value if request.volume_type else "not given: OS (R-ENA-3 for data)"),
        ("Backup policy", _backup(request.backup_policy, request.backup_waiver)),
        ("Restart policy", request.restart_policy.value),
        ("Key Vault", request.key_vault_id.rsplit("/", 1)[-1]),
        ("KEK", request.kek.key_url if request.kek else "none"),
        ("Confirmations", ", ".join(request.confirmations)),
        ("Rollout", _rollout(request.rollout_id)),
    )


def disable_summary(request: DisableInput) -> str:
    then = ", then remove the extension" if request.remove_extension else ""
    return f"Disable ADE (data) on {request.vm.name} in {request.vm.resource_group}{then}"


def disable_details(request: DisableInput) -> str:
    return _rows(
        request.vm,
        ("Volume type", "Data (R-DIS-3: an encrypted OS volume cannot be decrypted)"),
        ("Backup policy", _backup(request.backup_policy, request.backup_waiver)),
        ("Then", "remove the extension (R-DIS-2, R-DIS-5)" if request.remove_extension else "keep the extension"),
        ("Rollout", _rollout(request.rollout_id)),
    )


def remove_extension_summary(request: RemoveExtensionInput) -> str:
    return f"Remove the ADE extension from {request.vm.name} in {request.vm.resource_group}"


def remove_extension_details(request: RemoveExtensionInput) -> str:
    disks = "may stay encrypted (operator's choice)" if request.leave_encrypted else "decrypted first (R-DIS-2)"
    return _rows(request.vm, ("Disks", disks))


def create_from_vhd_summary(request: CreateFromVhdInput) -> str:
    return f"Create {request.vm.name} from an encrypted VHD in {request.vm.resource_group}"


def create_from_vhd_details(request: CreateFromVhdInput) -> str:
    return _rows(
        request.vm,
        ("OS disk", request.os_disk_id.rsplit("/", 1)[-1]),
        ("Size", request.size),
        ("Key Vault", request.key_vault_id.rsplit("/", 1)[-1]),
        ("KEK", request.kek.key_url if request.kek else "none"),
        ("Rollout", _rollout(request.rollout_id)),
    )


def rollout_labels(request: RolloutInput) -> tuple[str, str]:
    """A rollout's summary and details: its size, its selectors, its canary and waves."""
    vms = sum(len(t.names) for t in request.targets)
    selectors = len(request.selectors)
    policy = request.policy
    found = f" and the VMs of {selectors} selector(s)" if selectors else ""
    migrates = request.kind is RolloutKind.MIGRATE
    what = "Migration rollout" if migrates else "Rollout"
    summary = f"{what} {request.rollout_id}: {vms} VMs{found}, canary first"
    details = "\n\n".join(
        [
            f"**Rollout** {request.rollout_id}",
            *(["**VM runs** migrate to encryption at host (M-1 .. M-8)"] if migrates else []),
            f"**VMs** {vms} listed" + (f", plus those {selectors} selector(s) find at the start" if selectors else ""),
            f"**Canary** the first {policy.canary} VM(s) of each subscription; the other waves wait for it",
            f"**Waves** {', '.join(str(w) for w in policy.waves) or 'all at once'} VMs, then the last size again",
            f"**Concurrency** {policy.concurrency} VMs, {policy.per_subscription_concurrency} per subscription",
        ]
    )
    return summary, details


def migrate_summary(request: MigrationInput) -> str:
    return f"Migrate {request.vm.name} to encryption at host in {request.vm.resource_group}"


def migrate_details(request: MigrationInput) -> str:
    window = request.downtime_window
    return _rows(
        request.vm,
        ("Path", request.path_policy.value),
        ("New VM", request.targets.vm(request.vm)),
        ("NIC", request.nic_policy.value),
        ("Downtime", "an operator's approval (M-7)" if window is None else _window(window)),
        ("Backup policy", _backup(request.backup_policy, request.backup_waiver)),
        ("Rollout", _rollout(request.rollout_id)),
    )


def _window(window: DowntimeWindow) -> str:
    start = f"{window.start:%Y-%m-%d %H:%M} UTC" if window.start else "now"
    end = f"{window.end:%Y-%m-%d %H:%M} UTC" if window.end else "open-ended"
    return f"window from {start} to {end} (M-7)"
