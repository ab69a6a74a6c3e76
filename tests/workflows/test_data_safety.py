"""Property: over random fleets, random operator inputs and random faults, the simulator's request log never
shows a dangerous write (tests/support/data_safety.py: R-BAK-2, R-DIS-2, R-DIS-3, R-EFA-1).
Seeded, so a failure replays.

Operator inputs include a backup waived without a statement (R-BAK-2), for encrypt and for disable: such a run
is refused (or fails) and never writes; it never leaves a run stuck on a failing workflow task either."""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment

from activities.azure.clients import AzureClients
from adeflow.domain.model import (
    BackupPolicy,
    BackupWaiver,
    DisableInput,
    EncryptVmInput,
    Outcome,
    RemoveExtensionInput,
    RestartPolicy,
    VmRef,
    VolumeType,
)
from adeflow.domain.rules import FORMAT_ALL_ACKNOWLEDGEMENT
from azuresim.server import SimServer
from tests.support.data_safety import Expectations, violations
from tests.support.fleets import SUB, VAULT_ID, fleet_dict, vm
from tests.support.servers import SimFactory, new_worker
from workflows.disable_encryption import DisableEncryptionWorkflow
from workflows.encrypt_vm import EncryptVmWorkflow
from workflows.remove_extension import RemoveExtensionWorkflow

SEEDS = [11, 23, 37, 41]
FAULTS = ["extension_failure", "snapshot_failure", "backup_job_failure", "throttle", "server_error", None, None]
WAIVE_UNSTATED = "waive-unstated"
"""Backup policy waive, but the waiver has no statement (or is missing): R-BAK-2 must refuse it."""
POLICIES: list[BackupPolicy | str] = [BackupPolicy.AUTO, BackupPolicy.SNAPSHOT, BackupPolicy.WAIVE, WAIVE_UNSTATED]


def backup_choice(rng: random.Random) -> tuple[BackupPolicy, BackupWaiver | None]:
    """A random backup policy and waiver as an operator might give them, statement-less waivers included."""
    policy = rng.choice(POLICIES)
    if policy == WAIVE_UNSTATED:
        return BackupPolicy.WAIVE, rng.choice([None, BackupWaiver("ops", ""), BackupWaiver("ops", "   ")])
    if policy is BackupPolicy.WAIVE:
        return BackupPolicy.WAIVE, BackupWaiver("ops", "covered by job 7")
    return BackupPolicy(policy), None


def stated(waiver: BackupWaiver | None) -> bool:
    return waiver is not None and bool(waiver.statement.strip())


def random_case(rng: random.Random, tag: str) -> tuple[list[dict[str, Any]], list[EncryptVmInput], Expectations]:
    specs: list[dict[str, Any]] = []
    inputs: list[EncryptVmInput] = []
    expect = Expectations(disks={})
    for i in range(6):
        name = f"p{tag}-{i}"
        disks = [
            {"lun": lun, "size_gb": rng.choice([8, 16]), "mounted": rng.random() > 0.15}
            for lun in range(rng.randint(0, 2))
        ]
        encrypted = rng.choice([{}, {}, {"data": True}, {"os": True, "data": True}, {"os": True}])
        specs.append(vm(name, data_disks=disks, encrypted=encrypted))
        expect.disks[name] = [f"{name}-osdisk", *(f"{name}-datadisk-{d['lun']}" for d in disks)]
        policy, waiver = backup_choice(rng)
        format_all = rng.random() < 0.3
        acknowledged = format_all and rng.random() < 0.5
        if stated(waiver):
            expect.waived.add(name)
        if acknowledged:
            expect.acknowledged_format_all.add(name)
        inputs.append(
            EncryptVmInput(
                vm=VmRef(SUB, "rg-web", name),
                key_vault_id=VAULT_ID,
                volume_type=rng.choice([None, VolumeType.OS, VolumeType.DATA, VolumeType.ALL]),
                backup_policy=policy,
                backup_waiver=waiver,
                restart_policy=RestartPolicy.AUTO,
                encrypt_format_all=format_all,
                acknowledge_data_loss=FORMAT_ALL_ACKNOWLEDGEMENT if acknowledged else "",
                confirmations=["data-disks-mounted-in-fstab"] if rng.random() < 0.5 else [],
                poll_interval_s=300,
            )
        )
    return specs, inputs, expect


@pytest.mark.parametrize("seed", SEEDS)
async def test_no_dangerous_write_whatever_the_fleet_inputs_and_faults(
    seed: int,
    time_skipping_env: WorkflowEnvironment,
    make_sim: SimFactory,
    azure_for: Callable[[SimServer], AzureClients],
) -> None:
    rng = random.Random(seed)
    specs, inputs, expect = random_case(rng, str(seed))
    recovery = [{"name": "rsv-eastus", "protected_vms": [{"vm": s["name"]} for s in specs if rng.random() < 0.3]}]
    sim = make_sim(fleet_dict(specs, recovery_vaults=recovery, backup_seconds=120), 60, 300)
    for spec in specs:
        kind = rng.choice(FAULTS)
        if kind in ("throttle", "server_error"):
            sim.inject({"kind": kind, "count": rng.randint(1, 4), "probability": 0.5})
        elif kind is not None:
            sim.inject({"kind": kind, "vm": spec["name"]})
    env = time_skipping_env
    unstated: list[Any] = []
    """Results of the runs whose backup was waived without a statement."""
    async with new_worker(env, azure_for(sim)) as worker:

        async def run(workflow: Any, arg: Any) -> Any:
            return await env.client.execute_workflow(
                workflow, arg, id=f"safety/{uuid.uuid4()}", task_queue=worker.task_queue
            )

        # One at a time: the Java time-skipping server was seen to stop skipping with several polling runs open.
        for request in inputs:
            result = await run(EncryptVmWorkflow.run, request)
            if request.backup_policy is BackupPolicy.WAIVE and not stated(request.backup_waiver):
                unstated.append(result)
        for request in inputs:  # then an operator disables or removes on some of them, in random order
            choice = rng.choice(["disable", "remove", None])
            if choice == "disable":
                policy, waiver = backup_choice(rng)
                if stated(waiver):
                    expect.disable_waived.add(request.vm.name)
                disable = DisableInput(request.vm, backup_policy=policy, backup_waiver=waiver, poll_interval_s=300)
                result = await run(DisableEncryptionWorkflow.run, disable)
                if policy is BackupPolicy.WAIVE and not stated(waiver):
                    unstated.append(result)
            elif choice == "remove":
                await run(RemoveExtensionWorkflow.run, RemoveExtensionInput(request.vm))
    records = sim.requests()
    assert any(r.operation == "VirtualMachineExtensions_CreateOrUpdate" for r in records)  # something was written
    assert violations(records, expect) == []

    # R-BAK-2: a waiver without a statement never lets a run change the VM (refused, or failed before any write).
    assert [(r.vm.name, r.outcome) for r in unstated if r.outcome not in (Outcome.REFUSED, Outcome.FAILED)] == []


def test_the_checker_flags_each_kind_of_breach() -> None:
    """The invariants have teeth: a log with each breach is reported, rule by rule."""
    from datetime import UTC, datetime

    from azuresim.requestlog import RequestRecord

    now = datetime.now(UTC)
    ext = f"/subscriptions/{SUB}/resourceGroups/rg-web/providers/Microsoft.Compute/virtualMachines/v1/extensions/ADE"

    def rec(seq: int, method: str, op: str, detail: str) -> RequestRecord:
        return RequestRecord(seq, method, ext, op, 200, "x", now, now, detail)

    put = "VirtualMachineExtensions_CreateOrUpdate"
    log = [
        rec(1, "PUT", put, "EnableEncryptionFormatAll Data seq=1 format-all os=NotEncrypted data=NotEncrypted"),
        rec(2, "PUT", put, "DisableEncryption Data seq=2 os=Encrypted data=Encrypted"),
        rec(3, "DELETE", "VirtualMachineExtensions_Delete", "os=NotEncrypted data=Encrypted"),
    ]
    found = violations(log, Expectations(disks={"v1": ["v1-osdisk"]}))
    assert [f.rsplit("(", 1)[-1] for f in found] == ["R-BAK-2)", "R-EFA-1)", "R-BAK-2)", "R-DIS-3)", "R-DIS-2)"]
