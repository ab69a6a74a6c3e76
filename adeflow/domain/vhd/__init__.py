"""R-VHD-1, a new VM from a customer-encrypted VHD: the checks and the request, as pure functions.

The VM is created around the managed disk imported from the VHD (``createOption: Attach``) with the VM-model
``osDisk.encryptionSettings`` that PowerShell's ``Set-AzVMOSDisk -DiskEncryptionKeyUrl -DiskEncryptionKeyVaultId``
writes: the versioned secret URL and its vault, plus the KEK and its vault when the secret is wrapped. The
platform reads that secret at every boot, so a bad reference yields a VM that never starts: everything ARM can
confirm is checked before the PUT. No backup gate (R-BAK-*): nothing existing is changed, the disk is only
attached. Note that ``az vm encryption`` treats a VM with VM-model encryption settings as the earlier ADE
release (docs/arm-reference.md §a.1), so ``adeflow vm encrypt`` later refuses such a VM by R-LIM-1.

Modules: :mod:`.facts` (what ARM shows), :mod:`.checks` (the refusals), :mod:`.request` (the PUT and the check after
it); their public names are re-exported here, so callers use ``vhd.<name>``.
"""

from __future__ import annotations

from adeflow.domain.vhd.checks import (
    PASSPHRASE_TAG,
    check_facts,
    check_kek_input,
    check_request,
    notes,
    vm_location,
)
from adeflow.domain.vhd.facts import (
    CreatedVmFacts,
    ImportedDiskFacts,
    KeyFacts,
    SecretFacts,
    VhdCreateFacts,
    VhdKeyRefs,
    key_refs,
    parse_created_vm,
    parse_imported_disk,
)
from adeflow.domain.vhd.request import (
    Verdict,
    VmCreateOutcome,
    VmCreateRequest,
    build_vm_body,
    encryption_settings,
    verify_created,
)

__all__ = [
    "PASSPHRASE_TAG",
    "CreatedVmFacts",
    "ImportedDiskFacts",
    "KeyFacts",
    "SecretFacts",
    "Verdict",
    "VhdCreateFacts",
    "VhdKeyRefs",
    "VmCreateOutcome",
    "VmCreateRequest",
    "build_vm_body",
    "check_facts",
    "check_kek_input",
    "check_request",
    "encryption_settings",
    "key_refs",
    "notes",
    "parse_created_vm",
    "parse_imported_disk",
    "verify_created",
    "vm_location",
]
