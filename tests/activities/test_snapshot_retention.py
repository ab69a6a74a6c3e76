"""``adeflow snapshots list|delete`` against the simulator: only adeflow-tagged snapshots, across pages, idempotent.

The snapshots are taken by the real ``snapshot_disks`` activity (so the tags are the ones a run writes), 20 and
5 days ago by the simulator's clock; a hand-made snapshot without adeflow's tags sits among them and must
survive everything.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from azure.mgmt.compute.models import Snapshot
from click.testing import CliRunner, Result
from temporalio.testing import ActivityEnvironment

import azuresim.providers.disks
from activities.azure.clients import AzureClients
from activities.backup import BackupActivities
from activities.snapshot_retention import (
    DeleteOutcome,
    SnapshotQuery,
    delete_snapshots,
    list_snapshots,
    retained_snapshot,
)
from adeflow.cli.main import cli
from adeflow.domain.model import SnapshotRequest, VmRef
from azuresim.clock import SimClock
from azuresim.fleet import FleetSpec
from azuresim.server import SimServer
from tests.support.fleets import SUB, fleet_dict
from tests.support.servers import sim_settings

DISKS = f"/subscriptions/{SUB}/resourceGroups/{{rg}}/providers/Microsoft.Compute/disks/{{disk}}"
OLD = {"app-01-osdisk-ade-old00001", "app-01-datadisk-0-ade-old00001"}
NEW = {"app-01-osdisk-ade-new00001", "app-01-datadisk-0-ade-new00001", "app-02-osdisk-ade-new00001"}
DB = {"db-01-osdisk-ade-new00001"}
UNTAGGED = {"manual-before-upgrade", "ops-tagged"}


@dataclass
class World:
    sim: SimServer
    env: dict[str, str]

    def names(self) -> set[str]:
        return {
            s.name for rg in self.sim.state.subscription(SUB).resource_groups.values() for s in rg.snapshots.values()
        }

    def cli(self, *args: str, answer: str | None = None) -> Result:
        return CliRunner().invoke(cli, ["snapshots", *args, "--subscription", SUB], env=self.env, input=answer)


def _fleet() -> dict[str, Any]:
    fleet = fleet_dict(
        [{"name": "app-01", "data_disks": [{"lun": 0, "size_gb": 16}]}, {"name": "app-02"}], snapshot_seconds=0
    )
    fleet["subscriptions"][0]["resource_groups"].append(
        {"name": "rg-db", "location": "eastus", "vms": [{"name": "db-01"}]}
    )
    return fleet


def _clients(sim: SimServer) -> AzureClients:
    settings = sim_settings(sim).azure
    return AzureClients(replace(settings, lro_poll_seconds=0.05))


async def _take(clients: AzureClients, rg: str, vm: str, disks: list[str], run_tag: str) -> None:
    ids = [DISKS.format(rg=rg, disk=d) for d in disks]
    request = SnapshotRequest(VmRef(SUB, rg, vm), "eastus", ids, run_tag)
    await ActivityEnvironment().run(BackupActivities(clients).snapshot_disks, request)


async def _populate(sim: SimServer) -> None:
    clients = _clients(sim)
    try:
        await _take(clients, "rg-web", "app-01", ["app-01-osdisk", "app-01-datadisk-0"], "old00001")
        source = {"createOption": "Copy", "sourceResourceId": DISKS.format(rg="rg-web", disk="app-02-osdisk")}
        for name, tags in (("manual-before-upgrade", None), ("ops-tagged", {"adeflow-vm": "app-02", "owner": "ops"})):
            body: dict[str, Any] = {"location": "eastus", "properties": {"creationData": source}}
            if tags:
                body["tags"] = tags
            poller = await clients.compute(SUB).snapshots.begin_create_or_update("rg-web", name, Snapshot(body))
            await poller.result()
        sim.clock.advance(15 * 86400)
        await _take(clients, "rg-web", "app-01", ["app-01-osdisk", "app-01-datadisk-0"], "new00001")
        await _take(clients, "rg-web", "app-02", ["app-02-osdisk"], "new00001")
        await _take(clients, "rg-db", "db-01", ["db-01-osdisk"], "new00001")
    finally:
        await clients.close()


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    """Snapshots 20 and 5 days old (simulated clock started 20 days back) and two not taken by adeflow."""
    # several nextLink pages for a handful of snapshots
    monkeypatch.setattr(azuresim.providers.disks, "SNAPSHOT_PAGE", 2)
    clock = SimClock(scale=1.0, start=datetime.now(UTC) - timedelta(days=20))
    sim = SimServer(FleetSpec.model_validate(_fleet()), clock=clock, state_dir=tmp_path / "sim")
    sim.start_in_thread()
    try:
        asyncio.run(_populate(sim))
        env = {
            "ADEFLOW_ARM_ENDPOINT": sim.base_url,
            "ADEFLOW_ARM_CA_FILE": str(sim.ca_path),
            "ADEFLOW_ARM_STATIC_TOKEN": "sim-token",
            "ADEFLOW_LRO_POLL_SECONDS": "0.05",
        }
        yield World(sim, env)
    finally:
        sim.stop()


def test_list_shows_only_adeflow_snapshots_across_pages_and_filters(world: World) -> None:
    assert world.names() == OLD | NEW | DB | UNTAGGED
    listed = world.cli("list", "--json")
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.output)
    assert {r["name"] for r in rows} == OLD | NEW | DB
    assert {r["name"] for r in rows[:2]} == OLD  # oldest first
    by_name = {r["name"]: r for r in rows}
    assert by_name["app-02-osdisk-ade-new00001"]["vm"] == "app-02"
    assert by_name["app-02-osdisk-ade-new00001"]["run"] == "new00001"
    assert 19 < by_name["app-01-osdisk-ade-old00001"]["age_days"] < 21
    pages = [r for r in world.sim.requests() if r.operation == "Snapshots_List"]
    assert len(pages) == 4  # 8 snapshots, 2 per page: the CLI followed every nextLink

    def names(*args: str) -> set[str]:
        result = world.cli("list", "--json", *args)
        assert result.exit_code == 0, result.output
        return {r["name"] for r in json.loads(result.output)}

    assert names("--older-than", "10") == OLD
    assert names("--vm", "app-02") == {"app-02-osdisk-ade-new00001"}
    assert names("--resource-group", "rg-db") == DB
    assert "Snapshots_ListByResourceGroup" in [r.operation for r in world.sim.requests()]

    table = world.cli("list", "--older-than", "10")
    assert table.exit_code == 0 and "app-01-osdisk-ade-old00001" in table.output and "2 snapshot(s)" in table.output
    header, *rows = table.output.splitlines()[:3]
    assert header.startswith("NAME ") and "  RESOURCE GROUP  " in header and all(r.startswith("app-01-") for r in rows)
    assert "\x1b" not in table.output and "─" not in table.output  # a pipe gets plain columns (issue 15)


def test_delete_asks_first_and_removes_only_what_matches(world: World) -> None:
    declined = world.cli("delete", "--older-than", "10", answer="n\n")
    assert declined.exit_code == 1 and "app-01-osdisk-ade-old00001" in declined.output
    assert world.names() == OLD | NEW | DB | UNTAGGED
    assert not [r for r in world.sim.requests() if r.operation == "Snapshots_Delete"]

    confirmed = world.cli("delete", "--older-than", "10", answer="y\n")
    assert confirmed.exit_code == 0, confirmed.output
    assert world.names() == NEW | DB | UNTAGGED
    assert "2 deleted" in confirmed.output

    everything = world.cli("delete", "--yes", "--json")
    assert everything.exit_code == 0, everything.output
    assert world.names() == UNTAGGED  # never a snapshot without adeflow's tags
    again = world.cli("delete", "--yes")
    assert again.exit_code == 0 and "nothing to delete" in again.output


def test_delete_is_idempotent_and_rechecks_the_tags_before_deleting(world: World) -> None:
    async def scenario() -> list[DeleteOutcome]:
        clients = _clients(world.sim)
        try:
            found = await list_snapshots(clients, SnapshotQuery((SUB,), vm="app-02"), datetime.now(UTC))
            assert [s.name for s in found] == ["app-02-osdisk-ade-new00001"]
            gone = await clients.compute(SUB).snapshots.begin_delete("rg-web", found[0].name)
            await gone.result()  # deleted by someone else in between
            untagged = await clients.compute(SUB).snapshots.get("rg-web", "manual-before-upgrade")
            body = untagged.as_dict()
            forged = retained_snapshot({**body, "tags": {"adeflow-purpose": "pre-ade", "adeflow-run": "x"}})
            assert forged is not None  # as if it had been listed while it still carried the tags
            results = await delete_snapshots(clients, [found[0], forged])
            again = await delete_snapshots(clients, [found[0]])
            return [r.outcome for r in results + again]
        finally:
            await clients.close()

    outcomes = asyncio.run(scenario())
    assert outcomes == [DeleteOutcome.ALREADY_GONE, DeleteOutcome.NOT_ADEFLOWS, DeleteOutcome.ALREADY_GONE]
    assert world.names() >= UNTAGGED


def test_bad_input_exits_2_and_touches_nothing(world: World) -> None:
    no_subscription = CliRunner().invoke(cli, ["snapshots", "list"], env={**world.env, "ADEFLOW_SUBSCRIPTION": ""})
    assert no_subscription.exit_code == 2 and "--subscription" in no_subscription.output
    negative = world.cli("delete", "--older-than", "-1", "--yes")
    assert negative.exit_code == 2
    assert not [r for r in world.sim.requests() if r.method == "DELETE"]
