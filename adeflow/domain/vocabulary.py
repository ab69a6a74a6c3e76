"""The names adeflow's parts must agree on, in one place: search attributes, failure reason codes, confirmations.

Plain strings (stdlib only): the workflows build their ``SearchAttributeKey`` objects from these names, the
activities raise ``ApplicationError(type=...)`` with these codes, and the namespace set-up registers these
attributes. A name changed here changes everywhere at once; a name spelled out elsewhere drifts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

# -- search attributes (Keyword; registered on the namespace before a worker runs) ---------------------------------

ROLLOUT_ID: Final = "AdeRolloutId"
SUBSCRIPTION: Final = "AdeSubscription"
RESOURCE_GROUP: Final = "AdeResourceGroup"
VM_NAME: Final = "AdeVmName"
PHASE: Final = "AdePhase"
"""A VM run's current ``Phase`` value (``preflight`` ... ``done``)."""
OUTCOME: Final = "AdeOutcome"
"""A VM run's ``Outcome`` value, set when it ends."""
VOLUME_TYPE: Final = "AdeVolumeType"
RULE: Final = "AdeRule"
"""Why a run did not succeed, readable in the UI's list without opening it: a refusal's rule id (``R-LIM-4a``)
or a failure's reason code (``snapshot-failed``, ARM's own code); a rollout's halt reason (``Reason.CANARY_FAILED``,
``Reason.FAILURE_BUDGET_EXCEEDED``). Unset while all goes well."""

SEARCH_ATTRIBUTES: Final[dict[str, str]] = {
    ROLLOUT_ID: "Keyword",
    SUBSCRIPTION: "Keyword",
    RESOURCE_GROUP: "Keyword",
    VM_NAME: "Keyword",
    PHASE: "Keyword",
    OUTCOME: "Keyword",
    VOLUME_TYPE: "Keyword",
    RULE: "Keyword",
}
"""Custom search attributes adeflow's workflows set, name to indexed type; a namespace must have them first.
Every one is a Keyword, and SQL visibility (PostgreSQL, MySQL, SQLite) allows at most 10 Keyword attributes per
namespace (``MAX_KEYWORD_ATTRIBUTES``): adding one more is a deliberate choice, checked by a test."""

MAX_KEYWORD_ATTRIBUTES: Final = 10
"""SQL visibility's limit of custom Keyword search attributes per namespace."""


# -- failure reason codes ------------------------------------------------------------------------------------------


class Reason:
    """Why a run failed: ``ApplicationError.type`` of an activity and ``StepFailed.reason`` of a workflow step,
    shown to operators in results, rollout notes and reports. One convention: kebab-case.

    A non-retryable ARM answer passes through with ARM's own error code (``AuthorizationFailed``, ...): that is
    Azure's vocabulary, which operators search for as is. Refusals carry their own reason next to their rule id
    (``adeflow.domain.rules``).
    """

    ACTIVITY_FAILED: Final = "activity-failed"
    """A step failed in a way no other code names (the message says what)."""
    ARM_OUTAGE_BUDGET_EXCEEDED: Final = "arm-outage-budget-exceeded"
    PRECONDITION_BROKEN: Final = "precondition-broken"
    """What the run's own checks guarantee did not hold: a bug, reported as a failed run rather than a stuck one."""
    VERIFICATION_FAILED: Final = "verification-failed"

    # backup gate (R-BAK-2)
    SNAPSHOT_FAILED: Final = "snapshot-failed"
    BACKUP_CONFLICT: Final = "backup-conflict"
    BACKUP_TRIGGER_FAILED: Final = "backup-trigger-failed"
    BACKUP_JOB_FAILED: Final = "backup-job-failed"
    RECOVERY_POINT_MISSING: Final = "recovery-point-missing"

    # the extension and the wait for it
    EXTENSION_PROVISIONING_FAILED: Final = "extension-provisioning-failed"
    EXTENSION_ERROR: Final = "extension-error"
    EXTENSION_MISSING: Final = "extension-missing"
    SUBSTATUS_UNREADABLE: Final = "substatus-unreadable"
    STILL_WORKING: Final = "still-working"
    """Not a failure: the poll-by-retry's "not done yet" (benign, retried until the run's deadline)."""
    SUPERSEDED: Final = "superseded"
    VM_RESTART_PENDING: Final = "vm-restart-pending"
    VM_NOT_RUNNING: Final = "vm-not-running"
    VM_DELETED: Final = "vm-deleted"
    ENCRYPTION_DEADLINE_EXCEEDED: Final = "encryption-deadline-exceeded"
    DISABLE_DEADLINE_EXCEEDED: Final = "disable-deadline-exceeded"

    # creating a VM from an encrypted VHD (R-VHD-1)
    VM_NAME_TAKEN: Final = "vm-name-taken"
    VM_PROVISIONING_FAILED: Final = "vm-provisioning-failed"

    # campaigns
    REPORT_NOT_WRITTEN: Final = "report-not-written"

    # migration to encryption at host (docs/ade-migration.md, M-1 .. M-8): refusals and failures
    NEVER_ADE: Final = "never-ade"
    """M-2: no ADE marker, nothing to migrate: encryption at host can be enabled in place."""
    ALREADY_ENCRYPTION_AT_HOST: Final = "already-encryption-at-host"
    NOT_LINUX: Final = "not-linux"
    LEGACY_ADE: Final = "legacy-ade"
    OS_VOLUME_ENCRYPTED: Final = "os-volume-encrypted"
    """M-4: the OS volume cannot be decrypted (R-LIM-3), so its disks cannot be copied into a working VM."""
    IMAGE_MISSING: Final = "image-missing"
    FEATURE_NOT_REGISTERED: Final = "feature-not-registered"
    SIZE_WITHOUT_HOST_ENCRYPTION: Final = "size-without-host-encryption"
    SIZE_UNKNOWN: Final = "size-unknown"
    NOT_AN_UPLOAD_DISK: Final = "not-an-upload-disk"
    """M-1/M-2: a target disk made by Copy, from a snapshot or by import keeps the ADE marker."""
    TARGET_CARRIES_ADE_MARKER: Final = "target-carries-ade-marker"
    TARGET_NAME_TAKEN: Final = "target-name-taken"
    TARGET_IS_SOURCE: Final = "target-is-source"
    UNMANAGED_DISK: Final = "unmanaged-disk"
    DOWNTIME_NOT_APPROVED: Final = "downtime-not-approved"
    DOWNTIME_WINDOW_MISSED: Final = "downtime-window-missed"
    SOURCE_DISK_IN_USE: Final = "source-disk-in-use"
    """M-7: a source disk is copied only from a deallocated VM (its disks must not change, ARM refuses the SAS)."""
    SOURCE_DEFINITION_MISSING: Final = "source-definition-missing"
    SOURCE_DELETE_OPTION: Final = "source-delete-option"
    """Deleting the source VM object would delete its disks or NICs with it (``deleteOption: Delete``)."""
    CLEANUP_NOT_APPROVED: Final = "cleanup-not-approved"
    NEW_VM_NOT_VERIFIED: Final = "new-vm-not-verified"
    OWNER_NOT_CONFIRMED: Final = "owner-not-confirmed"
    VAULT_STILL_USED: Final = "vault-still-used"
    MIGRATION_INPUT_INVALID: Final = "migration-input-invalid"
    COPY_INCOMPLETE: Final = "copy-incomplete"
    COPY_CHECKSUM_MISMATCH: Final = "copy-checksum-mismatch"
    COPY_SIZE_MISMATCH: Final = "copy-size-mismatch"
    SAS_EXPIRED: Final = "sas-expired"
    """A disk SAS kept expiring right after it was granted again: no copy progress between renewals."""
    COPY_STALLED: Final = "copy-stalled"
    """The data plane kept answering ServerBusy (or failing) with no page copied for too long; retried."""
    ROLLBACK_FAILED: Final = "rollback-failed"
    # rollouts: why a rollout halted (its AdeRule while halted)
    CANARY_FAILED: Final = "canary-failed"
    FAILURE_BUDGET_EXCEEDED: Final = "failure-budget-exceeded"


# -- confirmations: guest-side checks an operator vouches for ---------------------------------------------------


@dataclass(frozen=True)
class GuestCheck:
    """A limitation only the guest can reveal; ARM cannot see it, so an operator must vouch for it."""

    name: str
    rule: str
    description: str


NEW_DISK_CONFIRMATION: Final = "data-disks-mounted-in-fstab"
"""R-NEW-1: every data disk is formatted, mounted and in /etc/fstab; needed for any re-enable (a new disk)."""

GUEST_CHECKS: Final[dict[str, GuestCheck]] = {
    check.name: check
    for check in (
        GuestCheck("no-nested-mounts", "R-LIM-4p", "no nested mount points (e.g. /1st/data/2nd)"),
        GuestCheck("no-data-drive-over-os-folder", "R-LIM-4q", "no data drive mounted on top of an OS folder"),
        GuestCheck("no-lvm-root-on-data-disk", "R-LIM-4r", "the root logical volume is not extended onto a data disk"),
        GuestCheck("no-kdump", "R-LIM-4m", "kernel crash dump (kdump) is not in use"),
        GuestCheck("no-oracle-acfs", "R-LIM-4n", "no Oracle ACFS"),
        GuestCheck("no-nfs", "R-LIM-4g", "no NFS mounts to encrypt"),
        GuestCheck("no-azure-files", "R-LIM-4f", "no Azure Files shares to encrypt"),
        GuestCheck("no-shared-filesystems", "R-LIM-4j", "no shared/distributed file systems (DFS, GFS, DRBD, CephFS)"),
        GuestCheck("no-dynamic-volumes", "R-LIM-4h", "no dynamic volumes"),
        GuestCheck("not-in-failover-cluster", "R-LIM-4v", "the VM is not in a failover cluster"),
        GuestCheck("not-a-custom-image", "R-LIM-4d", "the OS is an unmodified marketplace image, not a custom image"),
        GuestCheck(
            NEW_DISK_CONFIRMATION,
            "R-NEW-1",
            "every data disk is formatted, mounted and listed in /etc/fstab by a persistent name",
        ),
    )
}
"""Every confirmation an operator may give (``--confirm``, ``confirmations:`` in manifests and campaigns), by name."""
