"""``adeflow migrate report`` for one VM (``adeflow.client.migration_reports.vm_migration``) on the time-skipping
server: a run waiting for a person is listed "in progress (<phase>)", not awaited; a finished one gives its result.
(A rollout's runs are found through visibility, which the time-skipping server lacks: tests/e2e/test_demo_migrate.py.)
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import pytest
from temporalio.testing import WorkflowEnvironment

from activities.azure.clients import AzureClients
from adeflow.client.migration_reports import NoMigrations, vm_migration
from adeflow.domain.migration import MigrationOutcome, MigrationPhase
from adeflow.domain.model import VmRef
from adeflow.reports.migration_report import report_json, report_markdown
from azuresim.server import SimServer
from tests.support.fleets import SUB, vm
from tests.support.migration_runs import (
    REBUILD,
    RG,
    migrate_request,
    migration_fleet,
    os_encrypted_vm,
    running,
    until_phase,
)
from tests.support.servers import SimFactory

pytestmark = pytest.mark.migration

Azure = Callable[[SimServer], AzureClients]


async def test_a_waiting_run_is_in_progress_with_its_phase_and_a_refused_one_gives_its_rule(
    fresh_time_skipping_env: WorkflowEnvironment, make_sim: SimFactory, azure_for: Azure
) -> None:
    env = fresh_time_skipping_env
    sim = make_sim(
        migration_fleet([os_encrypted_vm("app-01"), vm("plain-01", data_disks=[{"lun": 0, "size_gb": 16}])]), 60
    )
    with pytest.raises(NoMigrations, match="app-01: no migration run"):
        await vm_migration(env.client, VmRef(SUB, RG, "app-01"))

    async with running(env, azure_for(sim), migrate_request("app-01", rebuild=REBUILD)) as handle:
        waiting = await until_phase(env, handle, MigrationPhase.AWAIT_DATA_MOVED)
        assert waiting.phase is MigrationPhase.AWAIT_DATA_MOVED, waiting.detail
        report = await asyncio.wait_for(vm_migration(env.client, VmRef(SUB, RG, "app-01")), 30)  # never awaited
    assert report.counts()["in-progress"] == 1 and not report.results
    (listed,) = report.open
    assert (listed.vm.name, listed.phase) == ("app-01", "await-data-moved")  # M-4: the owner moves the data
    assert "confirm_data_moved" in listed.detail
    assert "| app-01 | rg-web | in progress (await-data-moved) |" in report_markdown(report)

    async with running(env, azure_for(sim), migrate_request("plain-01")) as handle:
        await handle.result()
    report = await vm_migration(env.client, VmRef(SUB, RG, "plain-01"))
    (result,) = report.results
    assert (result.outcome, result.rule) == (MigrationOutcome.REFUSED, "M-2")
    data = json.loads(report_json(report))
    assert data["scope"] == f"{SUB}/{RG}/plain-01"
    assert (data["vms"][0]["status"], data["vms"][0]["rule"], data["in_progress"]) == ("refused", "M-2", [])
