"""EncryptVmWorkflow against issue 18's simulated resources (real SDK → simulator → workflow): a VM left by the
previous, dual-pass ADE release (R-LIM-1) and the members of a Flexible VM scale set (R-LIM-4c)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from temporalio.testing import WorkflowEnvironment

from activities.azure.clients import AzureClients
from adeflow.domain.model import Outcome, VolumeType
from azuresim.server import SimServer
from tests.support.encrypt_vm_runs import request, run
from tests.support.fleets import fleet_dict, vm
from tests.support.servers import SimFactory


def _with_scale_sets(fleet: dict[str, Any], *scale_sets: dict[str, Any]) -> dict[str, Any]:
    fleet["subscriptions"][0]["resource_groups"][0]["scale_sets"] = list(scale_sets)
    return fleet


async def test_r_lim_1_dual_pass_vm_is_refused_from_the_vm_model_and_disks_alone(
    time_skipping_env: WorkflowEnvironment, make_sim: SimFactory, azure_for: Callable[[SimServer], AzureClients]
) -> None:
    """The AAD-era extension is gone; ARM still shows ``osDisk.encryptionSettings`` and settings version 1.0."""
    legacy = vm(
        "legacy-01",
        data_disks=[{"lun": 0, "size_gb": 32}],
        encrypted={"os": True, "data": True, "dual_pass": True, "extension_removed": True},
    )
    sim = make_sim(fleet_dict([legacy]))
    result, _ = await run(time_skipping_env, azure_for(sim), request("legacy-01", VolumeType.ALL))

    assert (result.outcome, result.rule, result.reason) == (Outcome.REFUSED, "R-LIM-1", "legacy-aad-release")
    assert "previous ADE release" in result.message
    assert sim.writes_for("legacy-01") == []
    assert all(r.method == "GET" for r in sim.requests())


async def test_r_lim_4c_flexible_scale_set_member_data_only(
    time_skipping_env: WorkflowEnvironment, make_sim: SimFactory, azure_for: Callable[[SimServer], AzureClients]
) -> None:
    """A Flexible member is an ordinary VM naming its set: its OS volume is refused, its data volumes encrypt."""
    members = [vm(f"flex-0{i}", scale_set="ss-flex", data_disks=[{"lun": 0, "size_gb": 16}]) for i in (1, 2)]
    fleet = _with_scale_sets(fleet_dict(members), {"name": "ss-flex", "orchestration_mode": "Flexible"})
    sim = make_sim(fleet)
    clients = azure_for(sim)

    refused, _ = await run(time_skipping_env, clients, request("flex-01", VolumeType.ALL))
    assert (refused.outcome, refused.rule, refused.reason) == (Outcome.REFUSED, "R-LIM-4c", "scale-set-os-volume")
    assert "virtualMachineScaleSets/ss-flex" in refused.message
    assert sim.writes_for("flex-01") == []

    data, _ = await run(time_skipping_env, clients, request("flex-02", VolumeType.DATA))
    assert data.outcome is Outcome.ENCRYPTED, data.message
    assert data.encrypted_disks == ["flex-02-datadisk-0"]
