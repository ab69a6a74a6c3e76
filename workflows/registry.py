"""The workflow types a worker registers."""

from workflows.disable_encryption import DisableEncryptionWorkflow
from workflows.encrypt_vm import EncryptVmWorkflow
from workflows.remove_extension import RemoveExtensionWorkflow

WORKFLOWS = (EncryptVmWorkflow, DisableEncryptionWorkflow, RemoveExtensionWorkflow)
