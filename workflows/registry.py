"""The workflow types a worker registers, and the sandbox they run in."""

from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from workflows.campaign import CampaignWorkflow
from workflows.create_from_vhd import CreateVmFromEncryptedVhdWorkflow
from workflows.disable_encryption import DisableEncryptionWorkflow
from workflows.encrypt_vm import EncryptVmWorkflow
from workflows.fleet_rollout import FleetRolloutWorkflow
from workflows.migrate_vm import MigrateToHostEncryptionWorkflow
from workflows.remove_extension import RemoveExtensionWorkflow

WORKFLOWS = (
    EncryptVmWorkflow,
    DisableEncryptionWorkflow,
    RemoveExtensionWorkflow,
    FleetRolloutWorkflow,
    CreateVmFromEncryptedVhdWorkflow,
    CampaignWorkflow,
    MigrateToHostEncryptionWorkflow,
)


def workflow_runner() -> SandboxedWorkflowRunner:
    """The sandbox with adeflow's domain and activity modules passed through.

    They are deterministic at import (data tables load once) and re-importing them per workflow would cost time
    and break type-hint resolution of payload dataclasses that refer to each other across modules.
    """
    return SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules("adeflow", "activities", "azure", "yaml")
    )
