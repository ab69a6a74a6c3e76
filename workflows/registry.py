"""The workflow types a worker registers."""

from workflows.encrypt_vm import EncryptVmWorkflow

WORKFLOWS = (EncryptVmWorkflow,)
