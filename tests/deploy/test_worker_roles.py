"""``ADEFLOW_WORKER_ROLE``: the everyday worker never registers what writes VMs; the create worker does, on its own
task queue, so each can run with its own Azure role (``deploy/*-role.json``, checked in test_operator_role.py)."""

from __future__ import annotations

import re
import uuid

import pytest
from temporalio.testing import WorkflowEnvironment

from activities.azure.clients import AzureClients
from activities.registry import build_activities, create_activities, encrypt_activities
from adeflow.inputs.settings import Settings
from worker.main import CREATE_WORKFLOWS, ENCRYPT_WORKFLOWS, build_workers
from workflows.create_from_vhd import CreateVmFromEncryptedVhdWorkflow
from workflows.migrate_vm import MigrateToHostEncryptionWorkflow
from workflows.registry import WORKFLOWS

pytestmark = [pytest.mark.workflow, pytest.mark.deploy]


def _names(activities: object) -> set[str]:
    return {fn.__temporal_activity_definition.name for fn in activities}  # type: ignore[attr-defined]


def test_the_two_sets_split_everything_and_only_the_create_set_writes_vms() -> None:
    clients = AzureClients(Settings().azure)
    encrypt, create = _names(encrypt_activities(clients)), _names(create_activities(clients))
    assert encrypt | create == _names(build_activities(clients))
    assert len(build_activities(clients)) == len(encrypt | create)  # an activity in both sets is registered once
    # Shared: only the ADE steps the migration's M-3 path runs on the create worker (none writes a VM).
    assert encrypt & create == {
        "find_backup_protection",
        "run_azure_backup",
        "snapshot_disks",
        "put_encryption_extension",
        "remove_encryption_extension",
        "await_encryption",
    }
    vm_writes = {"create_vm_from_vhd", "create_migrated_vm", "delete_vm_object", "cleanup_source", "set_vm_power"}
    assert vm_writes <= create and not vm_writes & encrypt
    assert set(ENCRYPT_WORKFLOWS) | set(CREATE_WORKFLOWS) == set(WORKFLOWS)
    assert not set(ENCRYPT_WORKFLOWS) & set(CREATE_WORKFLOWS)
    assert {CreateVmFromEncryptedVhdWorkflow, MigrateToHostEncryptionWorkflow} <= set(CREATE_WORKFLOWS)


def test_role_settings() -> None:
    default = Settings.from_env({}).temporal
    assert (default.worker_role, default.create_queue) == ("all", "adeflow")
    split = Settings.from_env({"ADEFLOW_WORKER_ROLE": "Encrypt", "ADEFLOW_CREATE_TASK_QUEUE": "adeflow-create"})
    assert (split.temporal.worker_role, split.temporal.create_queue) == ("encrypt", "adeflow-create")
    with pytest.raises(ValueError, match=re.escape("ADEFLOW_WORKER_ROLE='vm' must be all, encrypt or create")):
        Settings.from_env({"ADEFLOW_WORKER_ROLE": "vm"})


@pytest.mark.parametrize("role", ["encrypt", "create"])
def test_a_split_role_needs_its_own_create_queue(role: str) -> None:
    """Else runs that create VMs would land on the everyday worker, which cannot serve them, and wait forever."""
    with pytest.raises(ValueError, match=f"ADEFLOW_WORKER_ROLE={role} needs ADEFLOW_CREATE_TASK_QUEUE set"):
        Settings.from_env({"ADEFLOW_WORKER_ROLE": role})
    with pytest.raises(ValueError, match="other than ADEFLOW_TASK_QUEUE=ade"):
        Settings.from_env(
            {"ADEFLOW_WORKER_ROLE": role, "ADEFLOW_TASK_QUEUE": "ade", "ADEFLOW_CREATE_TASK_QUEUE": "ade"}
        )


@pytest.mark.parametrize(
    ("env", "queues"),
    [
        ({}, ["q"]),
        ({"ADEFLOW_CREATE_TASK_QUEUE": "q-create"}, ["q", "q-create"]),
        ({"ADEFLOW_WORKER_ROLE": "encrypt", "ADEFLOW_CREATE_TASK_QUEUE": "q-create"}, ["q"]),
        ({"ADEFLOW_WORKER_ROLE": "create", "ADEFLOW_CREATE_TASK_QUEUE": "q-create"}, ["q-create"]),
    ],
)
async def test_workers_poll_the_queues_of_their_role(
    time_skipping_env: WorkflowEnvironment, env: dict[str, str], queues: list[str]
) -> None:
    unique = f"roles-{uuid.uuid4().hex[:8]}"  # a client refuses two workers on one queue, even unstarted ones
    env = {name: value.replace("q", unique) for name, value in env.items()}
    queues = [queue.replace("q", unique) for queue in queues]
    settings = Settings.from_env({"ADEFLOW_TASK_QUEUE": unique, **env})
    clients = AzureClients(settings.azure)
    try:
        workers = build_workers(time_skipping_env.client, settings, clients)
        assert [worker.task_queue for worker in workers] == queues
    finally:
        await clients.close()
