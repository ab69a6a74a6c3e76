"""The two Azure roles grant exactly the ARM actions their worker's activities use, no more, no fewer.

``deploy/adeflow-operator-role.json`` is the everyday (encrypt) worker's: it must never hold
``Microsoft.Compute/virtualMachines/write``; ``deploy/adeflow-vm-create-role.json`` is the create worker's, the
only one that writes VMs (``ADEFLOW_WORKER_ROLE``, ``activities/registry.py``). The operations come from the
simulator's request log (it names every request it answers, e.g. ``VirtualMachineExtensions_CreateOrUpdate``)
after running every registered activity through the product's flows, each role's flows on a worker of that role
only; ``OPERATION_ACTIONS`` maps them to RBAC actions. When an operation, an activity or an action is added
anywhere, one of these tests fails and its message says exactly what to add where.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import WorkflowHandle
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

from activities.azure.arm_metrics import arm_action
from activities.azure.clients import AzureClients
from activities.backup import BackupActivities
from activities.campaign import CampaignActivities
from activities.migration_vm import MigrationVmActivities
from activities.registry import create_activities, encrypt_activities
from activities.vm_search import VmSearchActivities
from adeflow.client.vm_runs import start_create_from_vhd
from adeflow.domain.campaign_plan.payloads import FactsBatch, KekQuery
from adeflow.domain.fleet_query import VmQuery
from adeflow.domain.migration import (
    CleanupPolicy,
    DeleteVmRequest,
    MigrationInput,
    MigrationOutcome,
    MigrationPhase,
    PowerAction,
    PowerRequest,
)
from adeflow.domain.model import (
    DisableInput,
    EncryptVmInput,
    KeyEncryptionKey,
    RemoveExtensionInput,
    RestartPolicy,
    SnapshotRequest,
    VmRef,
    VolumeType,
)
from adeflow.inputs.settings import Settings, TemporalSettings
from azuresim.clock import SimClock
from azuresim.fleet import FleetSpec
from azuresim.requestlog import RequestRecord
from azuresim.server import SimServer
from tests.support.create_from_vhd import KEK_URL, create_request
from tests.support.create_from_vhd import fleet as vhd_fleet
from tests.support.fleets import SUB, VAULT_ID, fleet_dict
from tests.support.migration_runs import send, until_phase
from tests.support.servers import sim_settings
from worker.main import build_workers
from workflows.disable_encryption import DisableEncryptionWorkflow
from workflows.encrypt_vm import EncryptVmWorkflow
from workflows.migrate_vm import MigrateToHostEncryptionWorkflow
from workflows.remove_extension import RemoveExtensionWorkflow

pytestmark = [pytest.mark.e2e, pytest.mark.deploy]

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
ROLE_FILES = {"encrypt": DEPLOY / "adeflow-operator-role.json", "create": DEPLOY / "adeflow-vm-create-role.json"}
"""The Azure role of each worker role (``ADEFLOW_WORKER_ROLE``)."""
ROLE_ACTIVITIES: dict[str, Callable[[AzureClients], Sequence[Callable[..., Any]]]] = {
    "encrypt": encrypt_activities,
    "create": create_activities,
}
VM_WRITE = "Microsoft.Compute/virtualMachines/write"
THIS_FILE = "tests/deploy/test_operator_role.py"

OPERATION_ACTIONS: dict[str, str] = {
    # Compute
    "VirtualMachines_Get": "Microsoft.Compute/virtualMachines/read",
    "VirtualMachines_List": "Microsoft.Compute/virtualMachines/read",
    "VirtualMachines_ListAll": "Microsoft.Compute/virtualMachines/read",
    "VirtualMachines_InstanceView": "Microsoft.Compute/virtualMachines/instanceView/read",
    "VirtualMachines_CreateOrUpdate": "Microsoft.Compute/virtualMachines/write",
    "VirtualMachines_Restart": "Microsoft.Compute/virtualMachines/restart/action",
    "VirtualMachineExtensions_List": "Microsoft.Compute/virtualMachines/extensions/read",
    "VirtualMachineExtensions_Get": "Microsoft.Compute/virtualMachines/extensions/read",
    "VirtualMachineExtensions_CreateOrUpdate": "Microsoft.Compute/virtualMachines/extensions/write",
    "VirtualMachineExtensions_Delete": "Microsoft.Compute/virtualMachines/extensions/delete",
    "Disks_Get": "Microsoft.Compute/disks/read",
    "Disks_CreateOrUpdate": "Microsoft.Compute/disks/write",
    "Disks_Delete": "Microsoft.Compute/disks/delete",
    "Disks_GrantAccess": "Microsoft.Compute/disks/beginGetAccess/action",
    "Disks_RevokeAccess": "Microsoft.Compute/disks/endGetAccess/action",
    "DiskOperations_Get": "Microsoft.Compute/locations/DiskOperations/read",
    "Snapshots_Get": "Microsoft.Compute/snapshots/read",
    "Snapshots_List": "Microsoft.Compute/snapshots/read",
    "Snapshots_ListByResourceGroup": "Microsoft.Compute/snapshots/read",
    "Snapshots_CreateOrUpdate": "Microsoft.Compute/snapshots/write",
    "Snapshots_Delete": "Microsoft.Compute/snapshots/delete",
    "AsyncOperation_Get": "Microsoft.Compute/locations/operations/read",
    "VirtualMachines_Deallocate": "Microsoft.Compute/virtualMachines/deallocate/action",
    "VirtualMachines_Start": "Microsoft.Compute/virtualMachines/start/action",
    "VirtualMachines_Delete": "Microsoft.Compute/virtualMachines/delete",
    "ResourceSkus_List": "Microsoft.Compute/skus/read",
    # Subscription features and provider registration (M-5); the simulator registers Microsoft.Compute only
    "Features_List": "Microsoft.Features/providers/features/read",
    "Features_Get": "Microsoft.Features/providers/features/read",
    "Features_Register": "Microsoft.Features/providers/features/register/action",
    "Providers_Get": "Microsoft.Resources/subscriptions/providers/read",
    "Providers_Register": "Microsoft.Compute/register/action",
    # Network (M-7)
    "VirtualNetworks_Get": "Microsoft.Network/virtualNetworks/read",
    "VirtualNetworks_List": "Microsoft.Network/virtualNetworks/read",
    "VirtualNetworks_CreateOrUpdate": "Microsoft.Network/virtualNetworks/write",
    "Subnets_Get": "Microsoft.Network/virtualNetworks/subnets/read",
    "Subnets_List": "Microsoft.Network/virtualNetworks/subnets/read",
    "Subnets_CreateOrUpdate": "Microsoft.Network/virtualNetworks/subnets/write",
    "NetworkInterfaces_Get": "Microsoft.Network/networkInterfaces/read",
    "NetworkInterfaces_List": "Microsoft.Network/networkInterfaces/read",
    "NetworkInterfaces_CreateOrUpdate": "Microsoft.Network/networkInterfaces/write",
    "NetworkInterfaces_Delete": "Microsoft.Network/networkInterfaces/delete",
    "NetworkOperation_Get": "Microsoft.Network/locations/operations/read",
    # Key Vault (management plane)
    "Vaults_Get": "Microsoft.KeyVault/vaults/read",
    "Vaults_Update": "Microsoft.KeyVault/vaults/write",
    # Scale sets (R-LIM-4c): read only; no activity calls them today
    "VirtualMachineScaleSets_Get": "Microsoft.Compute/virtualMachineScaleSets/read",
    "VirtualMachineScaleSets_List": "Microsoft.Compute/virtualMachineScaleSets/read",
    "VirtualMachineScaleSets_ListAll": "Microsoft.Compute/virtualMachineScaleSets/read",
    "VirtualMachineScaleSetVMs_List": "Microsoft.Compute/virtualMachineScaleSets/virtualMachines/read",
    "VirtualMachineScaleSetVMs_Get": "Microsoft.Compute/virtualMachineScaleSets/virtualMachines/read",
    "Secrets_Get": "Microsoft.KeyVault/vaults/secrets/read",
    "Keys_Get": "Microsoft.KeyVault/vaults/keys/read",
    "Keys_GetVersion": "Microsoft.KeyVault/vaults/keys/versions/read",
    # Resource Graph: a query is a POST, but RBAC names it a read
    "Resources": "Microsoft.ResourceGraph/resources/read",
    # Recovery Services Backup
    "BackupStatus_Get": "Microsoft.RecoveryServices/locations/backupStatus/action",
    "BackupProtectedItems_List": "Microsoft.RecoveryServices/Vaults/backupProtectedItems/read",
    "ProtectedItems_Get": "Microsoft.RecoveryServices/Vaults/backupFabrics/protectionContainers/protectedItems/read",
    "Backups_Trigger": (
        "Microsoft.RecoveryServices/Vaults/backupFabrics/protectionContainers/protectedItems/backup/action"
    ),
    "ProtectedItemOperationStatuses_Get": (
        "Microsoft.RecoveryServices/Vaults/backupFabrics/protectionContainers/protectedItems/operationsStatus/read"
    ),
    "ProtectedItemOperationResults_Get": (
        "Microsoft.RecoveryServices/Vaults/backupFabrics/protectionContainers/protectedItems/operationResults/read"
    ),
    "RecoveryPoints_List": (
        "Microsoft.RecoveryServices/Vaults/backupFabrics/protectionContainers/protectedItems/recoveryPoints/read"
    ),
    "JobDetails_Get": "Microsoft.RecoveryServices/Vaults/backupJobs/read",
    "BackupJobs_List": "Microsoft.RecoveryServices/Vaults/backupJobs/read",
    # Azure Policy
    "PolicyAssignments_List": "Microsoft.Authorization/policyAssignments/read",
    "PolicyAssignments_ListForResourceGroup": "Microsoft.Authorization/policyAssignments/read",
    "PolicyAssignments_Get": "Microsoft.Authorization/policyAssignments/read",
    "PolicyDefinitions_GetBuiltIn": "Microsoft.Authorization/policyDefinitions/read",
    # Resource Manager: only `adeflow worker --check` lists subscriptions (ARM shows those the caller has a role in)
    "Subscriptions_List": "Microsoft.Resources/subscriptions/read",
}
"""Simulator operation name -> the RBAC action ARM checks for it (Azure resource provider operations list)."""

SAS_DATA_PLANE = {"GetBlobProperties", "GetPageRanges", "PutPageFromURL", "PutPage", "ClearPage"}
"""A disk's page-blob requests (the migration's copy): authorized by the SAS that beginGetAccess returned, not by
RBAC, so no role action; the SAS itself needs the disks/beginGetAccess action."""

NO_ARM_CALLS: dict[str, str] = {
    "find_running_vm_runs": "asks Temporal which VM runs are running, not ARM",
    "write_campaign_report": "writes the report files on the worker",
    "post_campaign_webhook": "posts to the operator's webhook, not ARM",
}
"""Registered activities that send no ARM request, so no flow needs to run them for this test."""

LINKED_ACCESS: dict[str, dict[str, str]] = {
    "encrypt": {},
    "create": {
        "Microsoft.Network/networkInterfaces/join/action": (
            "VirtualMachines_CreateOrUpdate (create from an encrypted VHD) attaches an existing network interface; "
            "ARM checks join on it (LinkedAuthorizationFailed otherwise)"
        ),
        "Microsoft.Network/virtualNetworks/subnets/join/action": (
            "NetworkInterfaces_CreateOrUpdate (the migrated VM's new NIC, M-7) places the NIC in the source's "
            "subnet; ARM checks join on the subnet"
        ),
    },
}
"""Actions a role needs although no request names them (ARM linked-access checks), with the reason."""


def _sample_path(pattern: str) -> str:
    """A readable path from a route regex: ``(?P<vm>[^/]+)`` -> ``{vm}``, optional repeats dropped."""
    previous = None
    while previous != pattern:
        previous = pattern
        pattern = re.sub(
            r"\(\?P<(\w+)>([^()]*)\)", lambda m: m[2] if "/" in m[2] and "[" not in m[2] else f"{{{m[1]}}}", pattern
        )
        pattern = re.sub(r"\(\?:[^()]*\)[*+?]*\??", "", pattern)
    return pattern.lstrip("^").rstrip("$").replace("\\.", ".")


def role(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(ROLE_FILES[name].read_text())
    return data


def granted(name: str) -> set[str]:
    """Actions of the role, lower case (RBAC compares them case-insensitively)."""
    return {action.lower() for action in role(name)["Actions"]}


@pytest.mark.parametrize("name", ROLE_FILES)
def test_role_file_is_a_custom_role_definition(name: str) -> None:
    data = role(name)
    assert data["IsCustom"] is True and data["Name"]
    assert set(data) >= {"Name", "IsCustom", "Description", "Actions", "NotActions", "AssignableScopes"}
    assert all("*" not in action for action in data["Actions"]), "least privilege: no wildcards"
    assert len(granted(name)) == len(data["Actions"]), "an action is listed twice"
    assert data["AssignableScopes"], "az role definition create needs at least one assignable scope"
    assert data["Name"] != role("create" if name == "encrypt" else "encrypt")["Name"], "two roles, two names"


def test_only_the_create_role_may_write_vms() -> None:
    """The everyday worker cannot create or rewrite a VM; the create worker's identity can (and is the only one)."""
    assert VM_WRITE.lower() not in granted("encrypt"), f"{ROLE_FILES['encrypt'].name} must not grant {VM_WRITE}"
    assert VM_WRITE.lower() in granted("create")
    assert "microsoft.network/networkinterfaces/join/action" not in granted("encrypt")


def test_every_operation_the_simulator_serves_has_an_action(tmp_path: Path) -> None:
    routes = SimServer(FleetSpec.model_validate(fleet_dict([])), state_dir=tmp_path).app.routes
    missing = []
    for route in routes:
        if route.operation not in OPERATION_ACTIONS:
            path = _sample_path(route.pattern.pattern)
            suggestion = arm_action(route.method, f"https://management.azure.com{path}")
            missing.append(
                f"  {route.operation} ({route.method} {path}): add "
                f'"{route.operation}": "{suggestion}" to OPERATION_ACTIONS in {THIS_FILE} (check the name in the '
                "resource provider's operations list); if an activity calls it, the flows below will then ask for "
                "it in the role of the worker that runs that activity"
            )
    assert not missing, "the simulator serves operations the role test cannot map:\n" + "\n".join(missing)


@dataclass
class Flows:
    sim: SimServer
    records: dict[str, list[RequestRecord]]
    """ARM requests by the worker role whose activities sent them."""
    activities_run: dict[str, set[str]]


def _fleet() -> dict[str, Any]:
    """One resource group with a VM per flow, and the Key Vault objects and imported disk of the VHD flow."""
    image = {"publisher": "Canonical", "offer": "0001-com-ubuntu-server-jammy", "sku": "22_04-lts-gen2"}
    vm = {"size": "Standard_D4s_v5", "image": image}
    data = [{"lun": 0, "size_gb": 16}]
    spec = vhd_fleet(
        vms=[
            {"name": "snap-01", **vm, "data_disks": data, "tags": {"ade": "wave-1"}},
            {"name": "bk-01", **vm},
            {"name": "rp-01", **vm},
            {"name": "dis-01", **vm, "data_disks": data, "encrypted": {"data": True}},
            {"name": "rm-01", **vm, "data_disks": data, "encrypted": {"data": True}},
            {"name": "mig-01", **vm, "data_disks": data, "encrypted": {"data": True}},
            {"name": "del-01", **vm},
        ]
    )
    spec["subscriptions"][0]["encryption_at_host_feature"] = "NotRegistered"  # the migration registers it (M-5)
    spec["subscriptions"][0]["resource_groups"][0]["recovery_vaults"] = [
        {"name": "rsv-eastus", "protected_vms": [{"vm": "bk-01"}, {"vm": "mig-01"}]}
    ]
    spec["sim"]["backup_seconds"] = 120
    spec["sim"]["feature_registration_seconds"] = 60
    spec["sim"]["provider_registration_seconds"] = 30
    return spec


def _ref(name: str) -> VmRef:
    return VmRef(SUB, "rg-web", name)


async def _activity_types(handle: WorkflowHandle[Any, Any]) -> set[str]:
    return {
        event.activity_task_scheduled_event_attributes.activity_type.name
        async for event in handle.fetch_history_events()
        if event.HasField("activity_task_scheduled_event_attributes")
    }


async def _migration(env: WorkflowEnvironment, queue: str) -> set[str]:
    """A data-only VM off ADE (M-3), the feature registered on the way (M-5), the approvals given, the cleanup with
    the vault reset asked (kept: other VMs use the vault)."""
    request = MigrationInput(
        _ref("mig-01"),
        register_feature=True,
        poll_interval_s=300,
        reminder_interval_s=7 * 24 * 3600.0,
        cleanup=CleanupPolicy(reset_vault_disk_encryption=True),
    )
    handle = await env.client.start_workflow(
        MigrateToHostEncryptionWorkflow.run, request, id=f"role/{uuid.uuid4()}", task_queue=queue
    )
    await send(handle, MigrateToHostEncryptionWorkflow.approve_downtime)
    await until_phase(env, handle, MigrationPhase.AWAIT_OWNER)
    await send(handle, MigrateToHostEncryptionWorkflow.confirm_new_vm)
    await until_phase(env, handle, MigrationPhase.AWAIT_CLEANUP)
    await send(handle, MigrateToHostEncryptionWorkflow.approve_cleanup)
    result = await handle.result()
    assert result.outcome is MigrationOutcome.MIGRATED, result.message
    return await _activity_types(handle)


@pytest.fixture(scope="module")
async def sim_and_flows(
    time_skipping_env: WorkflowEnvironment, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Flows]:
    """Every flow of the product once, against one simulator, each on a worker of its role only.

    Encrypt worker: snapshot and Azure Backup gates, a restart, disable-then-remove, a plain remove, a rollout's VM
    selectors (tags and Resource Graph), and a campaign's fact and KEK reads. Create worker: a VM created from an
    encrypted VHD, started as the CLI starts it (on the create task queue); a VM migrated to encryption at host
    (M-3 with the feature registered), the rollback's start and a lone VM-object delete."""
    sim = SimServer(
        FleetSpec.model_validate(_fleet()),
        clock=SimClock(scale=60, status_read_tick=300),
        state_dir=tmp_path_factory.mktemp("sim"),
    )
    sim.start_in_thread()
    sim.inject({"kind": "restart_pending", "vm": "rp-01"})
    clients = AzureClients(sim_settings(sim).azure)
    queue = f"role-{uuid.uuid4()}"
    temporal = TemporalSettings(task_queue=queue, create_task_queue=f"{queue}-create")
    client = time_skipping_env.client
    ran: dict[str, set[str]] = {"encrypt": set(), "create": set()}
    records: dict[str, list[RequestRecord]] = {}
    try:
        settings = Settings(temporal=replace(temporal, worker_role="encrypt"))
        (worker,) = build_workers(client, settings, clients)
        async with worker:
            fixed = {"poll_interval_s": 300, "adaptive_polling": False}  # this simulator ticks once per status read
            encrypt = [
                EncryptVmInput(_ref("snap-01"), VAULT_ID, VolumeType.ALL, **fixed),
                EncryptVmInput(_ref("bk-01"), VAULT_ID, **fixed),
                EncryptVmInput(_ref("rp-01"), VAULT_ID, restart_policy=RestartPolicy.AUTO, **fixed),
            ]
            for request in encrypt:
                handle = await client.start_workflow(
                    EncryptVmWorkflow.run, request, id=f"role/{uuid.uuid4()}", task_queue=queue
                )
                await handle.result()
                ran["encrypt"] |= await _activity_types(handle)
            disable = await client.start_workflow(
                DisableEncryptionWorkflow.run,
                DisableInput(_ref("dis-01"), poll_interval_s=300),
                id=f"role/{uuid.uuid4()}",
                task_queue=queue,
            )
            await disable.result()
            ran["encrypt"] |= await _activity_types(disable)
            remove = await client.start_workflow(
                RemoveExtensionWorkflow.run,
                RemoveExtensionInput(_ref("rm-01"), leave_encrypted=True),
                id=f"role/{uuid.uuid4()}",
                task_queue=queue,
            )
            await remove.result()
            ran["encrypt"] |= await _activity_types(remove)
        # A rollout resolves its selectors with this activity when it starts.
        search = VmSearchActivities(clients)
        for query in (
            VmQuery(subscription_id=SUB, resource_group="rg-web", tags={"ade": "wave-1"}),
            VmQuery(subscription_id=SUB, tags={"ade": "wave-1"}),
            VmQuery(resource_graph="Resources | where tags.ade == 'wave-1' | project id", subscriptions=[SUB]),
        ):
            assert (await ActivityEnvironment().run(search.find_vms, query)).vms == [_ref("snap-01")]
        ran["encrypt"].add("find_vms")
        # A campaign reads the fleet's facts in batches and the KEK versions in use (and its target's current one).
        campaign = CampaignActivities(clients)
        readings = await ActivityEnvironment().run(campaign.read_campaign_facts, FactsBatch([_ref("snap-01")]))
        assert readings[0].facts is not None, readings
        kek = KeyEncryptionKey(KEK_URL, VAULT_ID)
        current = KeyEncryptionKey(KEK_URL.rsplit("/", 1)[0], VAULT_ID)
        keks = await ActivityEnvironment().run(campaign.read_kek_versions, KekQuery([kek], current))
        assert keks.target is not None and not keks.target.problem and not keks.versions[0].problem, keks
        ran["encrypt"] |= {"read_campaign_facts", "read_kek_versions"}
        records["encrypt"] = sim.requests()

        settings = Settings(temporal=replace(temporal, worker_role="create"))
        (worker,) = build_workers(client, settings, clients)
        async with worker:
            request = create_request("vhd-01", kek=KeyEncryptionKey(KEK_URL, VAULT_ID))
            create = await start_create_from_vhd(client, settings, request)
            created = await create.result()
            assert not created.failed, created.message
            ran["create"] |= await _activity_types(create.handle)
            ran["create"] |= await _migration(time_skipping_env, settings.temporal.create_queue)
        # A migration's backup gate by snapshots (mig-01 had Azure Backup); its rollback: the source started again, a
        # VM object deleted alone (NIC reuse, M-7).
        vm_side, del_01 = MigrationVmActivities(clients), _ref("del-01")
        disk = del_01.resource_id.replace("virtualMachines/del-01", "disks/del-01-osdisk")
        snapshot = SnapshotRequest(del_01, "eastus", [disk], "role")
        await ActivityEnvironment().run(BackupActivities(clients).snapshot_disks, snapshot)
        await ActivityEnvironment().run(vm_side.set_vm_power, PowerRequest(del_01, PowerAction.START))
        await ActivityEnvironment().run(vm_side.delete_vm_object, DeleteVmRequest(del_01, "role test"))
        ran["create"] |= {"snapshot_disks", "set_vm_power", "delete_vm_object"}
        records["create"] = sim.requests()[len(records["encrypt"]) :]
        yield Flows(sim, records, ran)
    finally:
        await clients.close()
        sim.stop()


@pytest.mark.parametrize("name", ROLE_FILES)
def test_flows_ran_every_registered_activity(sim_and_flows: Flows, name: str) -> None:
    activities = ROLE_ACTIVITIES[name](AzureClients(Settings().azure))
    registered = {fn.__temporal_activity_definition.name for fn in activities}  # type: ignore[attr-defined]
    missing = sorted(registered - sim_and_flows.activities_run[name] - NO_ARM_CALLS.keys())
    assert not missing, (
        f"activities {missing} are registered for the {name} worker (activities/registry.py) but no flow in "
        f"{THIS_FILE} runs them on it, so their ARM calls are not checked against its role: add a flow that runs "
        "each to the sim_and_flows fixture (or, if one sends no ARM request, list it in NO_ARM_CALLS with the reason)"
    )


@pytest.mark.parametrize("name", ROLE_FILES)
def test_role_grants_every_action_its_activities_use(sim_and_flows: Flows, name: str) -> None:
    records = sim_and_flows.records[name]
    assert records, f"the {name} flows sent no ARM request"
    unmapped = sorted({r.operation for r in records} - OPERATION_ACTIONS.keys() - SAS_DATA_PLANE)
    assert not unmapped, f"add {unmapped} to OPERATION_ACTIONS in {THIS_FILE}"
    have = granted(name) | {a.lower() for a in LINKED_ACCESS[name]}
    lacking: dict[str, RequestRecord] = {}
    for record in records:
        if record.operation in SAS_DATA_PLANE:
            continue
        action = OPERATION_ACTIONS[record.operation]
        if action.lower() not in have:
            lacking.setdefault(action, record)
    assert not lacking, "\n".join(
        f'{ROLE_FILES[name].name} lacks "{action}": add it to "Actions" (the {name} worker\'s activities sent '
        f"{r.operation}: {r.method} {r.path})"
        for action, r in sorted(lacking.items())
    )


@pytest.mark.parametrize("name", ROLE_FILES)
def test_role_grants_nothing_its_activities_do_not_use(sim_and_flows: Flows, name: str) -> None:
    records = sim_and_flows.records[name]
    used = {OPERATION_ACTIONS[r.operation].lower() for r in records if r.operation in OPERATION_ACTIONS}
    extra = sorted(a for a in role(name)["Actions"] if a.lower() not in used and a not in LINKED_ACCESS[name])
    assert not extra, (
        f"{ROLE_FILES[name].name} grants {extra}, which no activity of the {name} worker used in the flows: remove "
        f"them (least privilege), or add the flow that needs them, or list them in LINKED_ACCESS[{name!r}] in "
        f"{THIS_FILE} with the reason"
    )
