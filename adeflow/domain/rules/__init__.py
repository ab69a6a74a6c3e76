"""The ADE rules as pure functions, one module per concern (rule ids from ``docs/ade-linux-rules.md``).

Workflows call these to decide; activities only fetch and apply. Keeping every decision here means each rule
is unit-tested without Temporal or Azure, and an operator-facing refusal always names its rule. Callers use
``from adeflow.domain import rules`` and ``rules.<name>``: the public names of the modules are re-exported here.

- :mod:`~adeflow.domain.rules.eligibility`: preflight; VM, disk, size, support-matrix, policy, vault, guest checks
- :mod:`~adeflow.domain.rules.volume_type`: the volume type of a first enable or a re-enable (R-NEW-*)
- :mod:`~adeflow.domain.rules.settings`: the enable and disable settings, the EncryptFormatAll plan (R-EFA-*)
- :mod:`~adeflow.domain.rules.progress`: reading a running operation, transient errors, power state, deadline
- :mod:`~adeflow.domain.rules.verification`: what is encrypted, the disks in scope, the final check (R-ENA-4)
- :mod:`~adeflow.domain.rules.lifecycle`: disable and remove-extension checks (R-DIS-*)
- :mod:`~adeflow.domain.rules.messages`: extension failures explained, snapshot and backup failures
"""

from __future__ import annotations

from adeflow.domain.rules.eligibility import (
    PLATFORM_KEY,
    PREMIUM_V2_SKU,
    SECRET_POLICY_DEFINITIONS,
    ULTRA_SKU,
    backup_waiver_missing,
    check_backup_policy,
    check_ever_encrypted_now_sse,
    check_key_vault,
    check_not_busy,
    check_policies,
    check_support_matrix,
    check_vm_eligibility,
    is_legacy_ade,
    key_vault_not_found,
    normalise_region,
    preflight,
    sku_is,
    unconfirmed_guest_checks,
    waiver_on_record,
)
from adeflow.domain.rules.lifecycle import (
    check_disable,
    check_remove_extension,
)
from adeflow.domain.rules.messages import (
    backup_conflict_message,
    explain_extension_failure,
    extension_failure_fix,
    extension_own_message,
    snapshot_failure_message,
)
from adeflow.domain.rules.progress import (
    NOT_RUNNING_POWER_STATES,
    ProgressKind,
    ProgressVerdict,
    assess_disable_progress,
    assess_encryption_progress,
    assess_power_state,
    is_transient_extension_error,
    vm_deleted_verdict,
    wait_deadline_verdict,
)
from adeflow.domain.rules.settings import (
    FORMAT_ALL_ACKNOWLEDGEMENT,
    FormatAllPlan,
    check_format_all,
    plan_disable_settings,
    plan_enable_settings,
    plan_format_all,
)
from adeflow.domain.rules.verification import (
    VerificationVerdict,
    ade_took_effect,
    data_volumes_encrypted,
    disks_in_scope,
    os_volume_encrypted,
    required_volumes_encrypted,
    unreadable_substatus_note,
    verify_encryption,
)
from adeflow.domain.rules.volume_type import (
    VolumeTypeDecision,
    check_new_disk_confirmed,
    current_volume_type,
    decide_volume_type,
)
from adeflow.domain.vocabulary import GUEST_CHECKS, GuestCheck

__all__ = [
    "FORMAT_ALL_ACKNOWLEDGEMENT",
    "GUEST_CHECKS",
    "NOT_RUNNING_POWER_STATES",
    "PLATFORM_KEY",
    "PREMIUM_V2_SKU",
    "SECRET_POLICY_DEFINITIONS",
    "ULTRA_SKU",
    "FormatAllPlan",
    "GuestCheck",
    "ProgressKind",
    "ProgressVerdict",
    "VerificationVerdict",
    "VolumeTypeDecision",
    "ade_took_effect",
    "assess_disable_progress",
    "assess_encryption_progress",
    "assess_power_state",
    "backup_conflict_message",
    "backup_waiver_missing",
    "check_backup_policy",
    "check_disable",
    "check_ever_encrypted_now_sse",
    "check_format_all",
    "check_key_vault",
    "check_new_disk_confirmed",
    "check_not_busy",
    "check_policies",
    "check_remove_extension",
    "check_support_matrix",
    "check_vm_eligibility",
    "current_volume_type",
    "data_volumes_encrypted",
    "decide_volume_type",
    "disks_in_scope",
    "explain_extension_failure",
    "extension_failure_fix",
    "extension_own_message",
    "is_legacy_ade",
    "is_transient_extension_error",
    "key_vault_not_found",
    "normalise_region",
    "os_volume_encrypted",
    "plan_disable_settings",
    "plan_enable_settings",
    "plan_format_all",
    "preflight",
    "required_volumes_encrypted",
    "sku_is",
    "snapshot_failure_message",
    "unconfirmed_guest_checks",
    "unreadable_substatus_note",
    "verify_encryption",
    "vm_deleted_verdict",
    "wait_deadline_verdict",
    "waiver_on_record",
]
