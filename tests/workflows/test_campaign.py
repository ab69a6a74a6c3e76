"""CampaignWorkflow on the time-skipping server against the campaign sample fleet (examples/campaign-fleet.yaml).

One server per test: KEK ages count from the workflow's clock, which a server shared with runs that skipped time
would have moved on (years, after a run ends with nothing left to wait for).

Each kind's plan on a fleet with known drift (exact VM sets, read from the real simulator through the real SDK),
rotate-kek and drift changing exactly the intended VMs (simulator request log and state), an audit writing
nothing, and a VM that another run is encrypting left to it and reported.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.azure.clients import AzureClients
from adeflow.domain.campaign_plan.payloads import CampaignInput, CampaignResult
from adeflow.domain.model import EncryptVmInput, VmRef
from azuresim.server import SimServer
from tests.support.campaign_standins import BusyVmRun
from tests.support.campaigns import campaign, campaign_fleet
from tests.support.servers import SimFactory, new_worker
from workflows.campaign import CampaignWorkflow
from workflows.encrypt_vm import encrypt_vm_workflow_id
from workflows.registry import workflow_runner
from workflows.steps import ROLLOUT_KEY

pytestmark = pytest.mark.campaign

SUB = "6f1c3a52-8d11-4c4e-9a7e-00000000c0de"
RG = "rg-campaign"
TARGET = "https://kv-camp-eastus.vault.azure.net/keys/kek-ade/4d3e5f60718293a4b5c6d7e8f90a1b2c"
STALE = {"cmp-stale-01", "cmp-stale-02", "cmp-otherkey-01", "cmp-nokek-01"}
DRIFTED = {"cmp-newdisk-01", "cmp-newdisk-02", "cmp-noext-01", "cmp-plain-01", "cmp-plain-02"}
WRITES = ("PUT", "PATCH", "POST", "DELETE")


async def run_campaign(
    env: WorkflowEnvironment, clients: AzureClients, request: CampaignInput
) -> tuple[CampaignResult, dict[str, Any]]:
    """One campaign run (as a schedule would start it) and its JSON report."""
    async with new_worker(env, clients) as worker:
        result = await env.client.execute_workflow(
            CampaignWorkflow.run,
            request,
            id=f"campaign/{request.name}-{uuid.uuid4().hex[:6]}",
            task_queue=worker.task_queue,
        )
    report = json.loads(Path(next(p for p in result.reports if p.endswith(".json"))).read_text())
    return result, report


def vms_where(report: dict[str, Any], column: str, prefix: str) -> set[str]:
    return {row["vm"] for row in report["vms"] if row[column].startswith(prefix)}


def writes(sim: SimServer) -> list[str]:
    """Every ARM request that changes something (Resource Graph queries are POSTs but read-only)."""
    return [f"{r.method} {r.path}" for r in sim.requests() if r.method in WRITES and r.operation != "Resources"]


def written_vms(sim: SimServer) -> set[str]:
    return {
        r.path.split("/virtualMachines/")[1].split("/")[0]
        for r in sim.requests()
        if r.method == "PUT" and r.operation == "VirtualMachineExtensions_CreateOrUpdate"
    }


def ade_settings(sim: SimServer, name: str) -> dict[str, Any]:
    ext = sim.state.vm(SUB, RG, name).extensions.get("azurediskencryptionforlinux")
    return dict(ext.settings) if ext is not None else {}


async def test_audit_writes_nothing_and_reports_what_each_kind_would_do(
    fresh_time_skipping_env: WorkflowEnvironment,
    make_sim: SimFactory,
    azure_for: Callable[[SimServer], AzureClients],
    tmp_path: Path,
) -> None:
    sim = make_sim(campaign_fleet(), 600, 300)
    result, report = await run_campaign(fresh_time_skipping_env, azure_for(sim), campaign("audit", tmp_path))

    assert writes(sim) == []  # an audit changes nothing, anywhere
    assert (result.total, result.actions, result.rollout_id) == (16, {"none": 16}, "")
    assert vms_where(report, "rotate", "rotate-kek") == STALE
    assert vms_where(report, "drift", "re-enable") == {"cmp-newdisk-01", "cmp-newdisk-02"}
    assert vms_where(report, "drift", "reinstall-extension") == {"cmp-noext-01"}
    assert vms_where(report, "drift", "encrypt") == {"cmp-plain-01", "cmp-plain-02"}
    assert vms_where(report, "drift", "skip") == {"cmp-legacy-01", "cmp-win-01"}
    assert "cmp-untagged-01" not in {row["vm"] for row in report["vms"]}
    # Retirement readiness: data-only ADE is disabled first, an encrypted OS volume means a rebuild.
    assert result.retirement == {
        "rebuild": 11,
        "disable-then-encryption-at-host": 1,
        "no-ade": 3,
        "encryption-at-host": 1,
    }
    assert vms_where(report, "retirement", "disable-then") == {"cmp-data-01"}
    assert report["retirement"]["ade_retirement"] == "2028-09-15"
    markdown = Path(next(p for p in result.reports if p.endswith(".md"))).read_text()
    assert "Retirement readiness: ADE retires 2028-09-15" in markdown
    assert Path(next(p for p in result.reports if p.endswith(".csv"))).read_text().count("\n") == 17


async def test_rotate_kek_rotates_only_the_stale_vms_with_new_sequence_versions(
    fresh_time_skipping_env: WorkflowEnvironment,
    make_sim: SimFactory,
    azure_for: Callable[[SimServer], AzureClients],
    tmp_path: Path,
) -> None:
    sim = make_sim(campaign_fleet(), 600, 300)
    names = [vm["name"] for vm in campaign_fleet()["subscriptions"][0]["resource_groups"][0]["vms"]]
    before = {name: ade_settings(sim, name) for name in names}

    result, report = await run_campaign(fresh_time_skipping_env, azure_for(sim), campaign("rotate-kek", tmp_path))

    assert vms_where(report, "action", "rotate-kek") == STALE
    assert result.rollout_counts == {"encrypted": 4}, result
    assert written_vms(sim) == STALE  # no other VM got an extension PUT
    changed = {name for name in names if ade_settings(sim, name) != before[name]}
    assert changed == STALE
    for name in STALE:
        after = ade_settings(sim, name)
        assert after["KeyEncryptionKeyURL"] == TARGET
        assert after["SequenceVersion"] not in ("", before[name].get("SequenceVersion"))  # R-NEW-4
        stamps = sim.state.vm(SUB, RG, name).ade.stamps_at(sim.clock.now())
        assert stamps and {s.kek_url for s in stamps.values()} == {TARGET}
    # The rotation's backup gate (R-BAK-2) snapshotted the rotated VMs, and nothing else was written.
    assert all(sim.writes_for(name) == [] for name in set(names) - STALE)
    assert all(any(r.operation == "Snapshots_CreateOrUpdate" for r in sim.writes_for(name)) for name in STALE)
    assert result.rollout_id.startswith("rotate-kek-weekly-")


async def test_drift_encrypts_the_drifted_vms_and_leaves_one_encrypting_elsewhere(
    fresh_time_skipping_env: WorkflowEnvironment,
    make_sim: SimFactory,
    azure_for: Callable[[SimServer], AzureClients],
    tmp_path: Path,
) -> None:
    sim = make_sim(campaign_fleet(), 600, 300)
    busy = VmRef(SUB, RG, "cmp-plain-02")
    # Another rollout's run for cmp-plain-02, still running when the campaign looks.
    async with Worker(
        fresh_time_skipping_env.client,
        task_queue=f"other-{uuid.uuid4()}",
        workflows=[BusyVmRun],
        workflow_runner=workflow_runner(),
    ) as other_worker:
        other = await fresh_time_skipping_env.client.start_workflow(
            BusyVmRun.run,
            EncryptVmInput(vm=busy, key_vault_id=""),
            id=encrypt_vm_workflow_id(busy),
            task_queue=other_worker.task_queue,
            search_attributes=TypedSearchAttributes([SearchAttributePair(ROLLOUT_KEY, "other-rollout")]),
        )
        try:
            result, report = await run_campaign(fresh_time_skipping_env, azure_for(sim), campaign("drift", tmp_path))
        finally:
            with contextlib.suppress(RPCError):  # already ended, should the server have timed it out
                await other.signal(BusyVmRun.release)

    assert vms_where(report, "action", "elsewhere") == {"cmp-plain-02"}
    row = next(r for r in report["vms"] if r["vm"] == "cmp-plain-02")
    assert "other-rollout" in row["reason"]
    repaired = DRIFTED - {"cmp-plain-02"}
    assert {
        r["vm"] for r in report["vms"] if r["action"] in ("encrypt", "re-enable", "reinstall-extension")
    } == repaired
    assert result.rollout_counts == {"encrypted": 4}, result
    assert written_vms(sim) == repaired
    assert sim.writes_for("cmp-plain-02") == []
    after = ade_settings(sim, "cmp-newdisk-02")
    assert after["VolumeType"] == "All"  # R-NEW-2: OS -> All for the new data disk
    assert ade_settings(sim, "cmp-noext-01")["VolumeType"] == "All"  # R-DIS-2: the extension is back
