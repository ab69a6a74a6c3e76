"""Reading a running operation: keep waiting, stop with success, or fail the run, from one status read.

The workflow polls the extension status and asks these functions; a transient error the extension recovers from
by itself is not a failure, a stopped VM or a passed deadline is, with a message that says what to do.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from adeflow.domain.model import EncryptionStatus, VolumeState, VolumeType
from adeflow.domain.rules.messages import _sentence, extension_failure_fix
from adeflow.domain.rules.verification import (
    UNREADABLE_NOTE,
    required_volumes_encrypted,
    top_level_reports_decrypted,
    top_level_reports_encrypted,
)
from adeflow.domain.vocabulary import Reason


class ProgressKind(StrEnum):
    DONE = "done"
    WAITING = "waiting"
    FAILED = "failed"


@dataclass(frozen=True)
class ProgressVerdict:
    kind: ProgressKind
    message: str
    reason: str = ""


# Mid-run error statuses that the Linux extension recovers from by itself (docs/arm-reference.md §c): failing the
# workflow on them would abandon a VM in the middle of its OS pass.
_TRANSIENT_EXTENSION_ERRORS = (
    re.compile(r"Restarted extension from stripped down OS", re.IGNORECASE),
    re.compile(r"Attempt #\d+ to unmount", re.IGNORECASE),
    re.compile(r"An operation is already in progress", re.IGNORECASE),
)


NOT_RUNNING_POWER_STATES = frozenset({"deallocated", "deallocating", "stopped", "stopping"})


def is_transient_extension_error(message: str) -> bool:
    return any(pattern.search(message) for pattern in _TRANSIENT_EXTENSION_ERRORS)


def extension_removed_verdict(doing: str) -> ProgressVerdict:
    """The extension resource went away mid-run (someone ran ``az vm extension delete``): nothing reports progress
    any more, so the run ends now instead of polling a 404 until its deadline."""
    return ProgressVerdict(
        ProgressKind.FAILED,
        f"the ADE extension was removed from the VM during {doing}, so nothing reports its progress any more; "
        "removing the extension does not undo encryption, the disks keep whatever state they reached (R-DIS-1, "
        "R-DIS-2). The VM was left as it is. Fix: read its state with adeflow vm status (az vm encryption show), "
        "then run again to finish (the run puts the extension back), or restore from the backup taken before the "
        "run (R-BAK-1).",
        Reason.EXTENSION_MISSING,
    )


def _extension_problem(status: EncryptionStatus, doing: str) -> ProgressVerdict | None:
    """A vanished extension or a non-transient error status ends any wait."""
    if not status.extension_present:
        return extension_removed_verdict(doing)
    if status.level.lower() == "error" and not is_transient_extension_error(status.message):
        reported = status.message or status.code
        return ProgressVerdict(
            ProgressKind.FAILED,
            f"the ADE extension reported an error: {_sentence(reported)} Fix: {extension_failure_fix(reported)}",
            Reason.EXTENSION_ERROR,
        )
    return None


def assess_encryption_progress(status: EncryptionStatus, volume_type: VolumeType) -> ProgressVerdict:
    """Decide from one status read whether to keep waiting, stop with success, or fail the run."""
    problem = _extension_problem(status, "encryption")
    if problem is not None:
        return problem
    if VolumeState.VM_RESTART_PENDING in (status.os, status.data):
        return ProgressVerdict(
            ProgressKind.FAILED,
            "the OS volume is encrypted but the VM must be restarted to finish (VMRestartPending, R-ENA-2). "
            "Fix: restart the VM (az vm restart), then check it with adeflow vm status; or run again with "
            "restart policy auto or ask.",
            Reason.VM_RESTART_PENDING,
        )
    if required_volumes_encrypted(status, volume_type):
        return ProgressVerdict(ProgressKind.DONE, status.describe())
    return _unreadable_substatus(status, volume_type) or ProgressVerdict(ProgressKind.WAITING, status.describe())


def _unreadable_substatus(status: EncryptionStatus, volume_type: VolumeType) -> ProgressVerdict | None:
    """An unreadable substatus under a final top-level status: decide now, do not poll until the deadline.

    ``None`` (keep waiting) while the top-level status is not final either; the deadline bounds that wait.
    """
    if not status.unreadable:
        return None
    finished = top_level_reports_encrypted(status, volume_type)
    if finished is None:
        return None
    if finished:
        return ProgressVerdict(ProgressKind.DONE, f"{status.describe()}; {UNREADABLE_NOTE}")
    return ProgressVerdict(
        ProgressKind.FAILED,
        f"the ADE extension finished ({_sentence(status.message)}) but not for volume type {volume_type.value}, "
        f"and its substatus was unreadable ({status.unreadable}), so nothing says the rest was encrypted "
        "(docs/arm-reference.md §0.1; R-ENA-4). The VM was left as it is. Fix: read the state with adeflow vm "
        "status (az vm encryption show) and run again for the volumes still missing.",
        Reason.SUBSTATUS_UNREADABLE,
    )


def assess_disable_progress(status: EncryptionStatus) -> ProgressVerdict:
    """Disable is done when data reports NotEncrypted/NotMounted and no decryption is running (R-DIS-2)."""
    if not status.extension_present:
        return extension_removed_verdict("decryption")
    if status.level.lower() == "error" and not is_transient_extension_error(status.message):
        return ProgressVerdict(
            ProgressKind.FAILED,
            f"the ADE extension reported an error: {status.message or status.code}",
            Reason.EXTENSION_ERROR,
        )
    if status.data in (VolumeState.NOT_ENCRYPTED, VolumeState.NOT_MOUNTED):
        return ProgressVerdict(ProgressKind.DONE, status.describe())
    if status.unreadable and top_level_reports_decrypted(status):
        return ProgressVerdict(ProgressKind.DONE, f"{status.describe()}; {UNREADABLE_NOTE}")
    return ProgressVerdict(ProgressKind.WAITING, status.describe())


def _doing(operation: str) -> str:
    return "decryption" if operation == "DisableEncryption" else "encryption"


def wait_deadline_verdict(operation: str, deadline_s: float, last_seen: str) -> ProgressVerdict:
    """The run's deadline passed while the extension still reported work (e.g. stuck at a percentage, R-LIM-2)."""
    doing = _doing(operation)
    return ProgressVerdict(
        ProgressKind.FAILED,
        f"{doing} did not finish within {deadline_s / 3600:g} h (the run's deadline); last seen: "
        f"{_sentence(last_seen or 'no status')} The VM was left as it is: the extension may still be working, or "
        "be stuck in the guest (R-LIM-2). Fix: follow it with adeflow vm status (az vm encryption show); if it no "
        "longer moves, read the extension log in the guest and restore from the backup taken before the run "
        "(R-BAK-1) before running again; for large data disks allow a longer deadline.",
        Reason.DISABLE_DEADLINE_EXCEEDED if doing == "decryption" else Reason.ENCRYPTION_DEADLINE_EXCEEDED,
    )


def assess_power_state(power_state: str, operation: str) -> ProgressVerdict | None:
    """ADE works inside the guest: on a stopped or deallocated VM nothing moves, so waiting only burns the deadline."""
    state = power_state.lower()
    if state not in NOT_RUNNING_POWER_STATES:
        return None
    return ProgressVerdict(
        ProgressKind.FAILED,
        f"the VM was {state} during {_doing(operation)}; ADE works inside the guest and cannot go on while the VM "
        "is not running (R-LIM-2). The VM was left as it is. Fix: start the VM (az vm start) and follow the "
        "extension with adeflow vm status; if it does not resume, restore from the backup taken before the run "
        "(R-BAK-1) and run again.",
        Reason.VM_NOT_RUNNING,
    )


def vm_deleted_verdict(operation: str) -> ProgressVerdict:
    """The VM itself is gone (not just the extension): say so, and what is left to clean up."""
    return ProgressVerdict(
        ProgressKind.FAILED,
        f"the VM was deleted during {_doing(operation)}; there is nothing left to do for it. The snapshots or "
        "backup taken before the run remain (R-BAK-1). Fix: none for the VM; remove its snapshots with adeflow "
        "snapshots delete once they are no longer needed.",
        Reason.VM_DELETED,
    )
