"""How a run ends when Azure or the guest fails it, in words an operator can act on.

Each message names what happened, the rule, and what to do (docs/original-design.md §5.5); the activities prefix the
VM's name. The extension's own words are quoted first, then the fix, always with the way back (R-BAK-1).
"""

from __future__ import annotations

import re

_ARM_EXTENSION_WRAPPER = re.compile(r'Error message:\s*"(?P<own>.*)"\s*\.?\s*$', re.DOTALL)

_RECOVERY = "The snapshots or backup taken before the run are the way back if a volume was left half-done (R-BAK-1)."

_EXTENSION_FIXES: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(r"Disabling encryption is not supported", re.IGNORECASE),
        "the OS volume is encrypted, so ADE cannot disable encryption on this VM (R-DIS-3); keep it encrypted.",
    ),
    (
        re.compile(r"key ?vault|KEK|not enabled for disk encryption", re.IGNORECASE),
        "correct the Key Vault or KEK settings the message names (R-PRE-2, R-ENA-3), then run again.",
    ),
    (
        re.compile(r"Not enough memory", re.IGNORECASE),
        "resize the VM to at least 8 GB of memory for the OS pass (R-PRE-1), run again, and size it down after.",
    ),
    (
        re.compile(r"not supported|Kernel version|Minimum supported version", re.IGNORECASE),
        "the image or kernel is outside ADE's support list (R-PRE-1): upgrade the kernel or use a supported image.",
    ),
    (
        re.compile(r"package|cryptsetup", re.IGNORECASE),
        "let the guest reach its package repositories (cryptsetup and its dependencies), then run again.",
    ),
    (
        re.compile(r"unmount", re.IGNORECASE),
        "stop the processes holding files on the OS disk (R-LIM-2), restore the VM, then run again.",
    ),
    (
        re.compile(r"volume type", re.IGNORECASE),
        "request the volume type the VM had before, or All (R-NEW-2).",
    ),
    (
        re.compile(r"data volume", re.IGNORECASE),
        "make sure every data disk is formatted, mounted and in /etc/fstab and that no process holds it (R-NEW-1), "
        "then run again.",
    ),
)


def _sentence(text: str) -> str:
    """``text`` ending in exactly one full stop, so quoted Azure messages read as sentences in ours."""
    text = text.strip().rstrip(".")
    return f"{text}." if text else ""


def extension_own_message(arm_message: str) -> str:
    """The extension's own words inside ARM's ``VMExtensionProvisioningError`` wrapper (docs/arm-reference.md §c)."""
    text = " ".join(arm_message.split())
    found = _ARM_EXTENSION_WRAPPER.search(text)
    return found["own"].strip() if found else text


def extension_failure_fix(message: str) -> str:
    """What to do about an extension failure, from its message (docs/arm-reference.md §c), always with the way back."""
    for pattern, fix in _EXTENSION_FIXES:
        if pattern.search(message):
            return f"{fix} {_RECOVERY}"
    return (
        "read the extension log in the guest (/var/log/azure/Microsoft.Azure.Security.AzureDiskEncryptionForLinux/), "
        f"fix the cause, then run again (a new run uses a new sequence version, R-NEW-4). {_RECOVERY}"
    )


def explain_extension_failure(vm_name: str, arm_message: str) -> str:
    """One line for a failed extension PUT: the extension's own message first, then the fix."""
    own = extension_own_message(arm_message)
    return f"{vm_name}: the ADE extension failed: {_sentence(own)} Fix: {extension_failure_fix(own)}"


def snapshot_failure_message(vm_name: str, disk_name: str, snapshot_name: str, detail: str) -> str:
    """A snapshot of the R-BAK-2 gate failed: nothing was changed on the VM, and encryption does not start."""
    return (
        f"{vm_name}: snapshot {snapshot_name} of disk {disk_name} failed: {_sentence(detail)} Nothing was changed "
        "on the VM: encryption does not start without a verified backup (R-BAK-2). Fix: run again once the disk "
        "service recovers (new snapshots are taken), or protect the VM with Azure Backup (backup policy "
        "azure-backup); remove the failed snapshot with adeflow snapshots delete."
    )


def backup_conflict_message(vm_name: str, detail: str) -> str:
    """Azure Backup refused an on-demand backup (409) and no running backup job of the VM could be found to join."""
    return (
        f"{vm_name}: Azure Backup refused the on-demand backup ({detail}) and no running backup job of the VM was "
        "found to wait for; encryption does not start without a verified backup (R-BAK-2). Fix: wait until the "
        "vault's operation on the VM has ended (Backup jobs in the portal), then run again."
    )
