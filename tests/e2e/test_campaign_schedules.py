"""Campaign schedules on a real Temporal dev server (the time-skipping server has no schedules): the spec and
overlap policy a campaign file becomes, and a second trigger while a run is going being skipped. One dev server for
the module; the CLI runs in a thread against it, as an operator would run it. (``dev_env``: tests/e2e/conftest.py.)"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from click.testing import CliRunner, Result
from temporalio.client import ScheduleActionStartWorkflow, ScheduleOverlapPolicy
from temporalio.testing import WorkflowEnvironment

from activities.azure.clients import AzureClients
from adeflow.cli.main import cli
from adeflow.client import campaigns
from adeflow.inputs.campaign_file import load_campaign, parse_campaign_text
from azuresim.server import SimServer
from tests.support.servers import SimFactory, new_worker

pytestmark = pytest.mark.campaign

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture
def cli_env(dev_env: WorkflowEnvironment) -> Iterator[Callable[..., Any]]:
    """``adeflow ...`` against the dev server, in a thread (the CLI runs its own event loop)."""
    address = dev_env.client.service_client.config.target_host
    env = {"ADEFLOW_TEMPORAL_ADDRESS": address, "ADEFLOW_TEMPORAL_NAMESPACE": dev_env.client.namespace}

    async def run(*args: str) -> Result:
        return await asyncio.to_thread(CliRunner().invoke, cli, list(args), env=env, catch_exceptions=False)

    yield run


def renamed(kind: str, tmp_path: Path, **changes: Any) -> Path:
    """A copy of an example campaign with a name of its own (the dev server outlives each test's schedules)."""
    data = yaml.safe_load((EXAMPLES / f"campaign-{kind}.yaml").read_text())
    data.update(name=f"{data['name']}-{uuid.uuid4().hex[:6]}", notify={"report_dir": str(tmp_path / "reports")})
    data.update(changes)
    path = tmp_path / f"campaign-{kind}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


async def test_schedule_gets_the_campaign_spec_and_overlap_policy(
    dev_env: WorkflowEnvironment, cli_env: Callable[..., Any], tmp_path: Path
) -> None:
    path = renamed("rotate-kek", tmp_path)
    name = load_campaign(path).name
    created = await cli_env("campaign", "create", str(path), "--paused")
    assert created.exit_code == 0, created.output
    assert "next runs:" in created.output and " UTC)" in created.output  # in the campaign's zone, and in UTC

    described = await campaigns.describe(dev_env.client, name)
    spec, policy, action = described.schedule.spec, described.schedule.policy, described.schedule.action
    assert (campaigns.schedule_times(described), spec.time_zone_name) == (["0 2 * * 1"], "Europe/Berlin")
    assert spec.jitter == timedelta(minutes=10)
    assert (policy.overlap, policy.catchup_window) == (ScheduleOverlapPolicy.SKIP, timedelta(hours=1))
    assert isinstance(action, ScheduleActionStartWorkflow)
    assert (action.workflow, action.id) == ("CampaignWorkflow", f"campaign/{name}")
    assert described.schedule.state.paused
    for when in described.info.next_action_times[:3]:  # Mondays 02:00 Berlin, up to 10 minutes of jitter late
        local = when.astimezone(ZoneInfo("Europe/Berlin"))
        assert (local.weekday(), local.hour, local.minute < 10) == (0, 2, True), local

    # update: buffer-one and an interval, from an edited file; a paused campaign stays paused
    path.write_text(path.read_text().replace("overlap: skip", "overlap: buffer-one"))
    edited = parse_campaign_text(path.read_text(), source=str(path), base_dir=tmp_path)
    assert (await cli_env("campaign", "update", str(path))).exit_code == 0
    described = await campaigns.describe(dev_env.client, name)
    assert described.schedule.policy.overlap is campaigns.OVERLAP[edited.overlap] is ScheduleOverlapPolicy.BUFFER_ONE
    assert described.schedule.state.paused

    listed = await cli_env("campaign", "list")
    assert name in listed.output and "paused" in listed.output and "rotate-kek campaign from" in listed.output
    assert (await cli_env("campaign", "unpause", name)).exit_code == 0
    assert not (await campaigns.describe(dev_env.client, name)).schedule.state.paused
    assert (await cli_env("campaign", "delete", name)).exit_code == 0
    missing = await cli_env("campaign", "describe", name)
    assert missing.exit_code == 1 and "no campaign" in missing.output

    bad = tmp_path / "bad.yaml"
    bad.write_text(path.read_text().replace("kind: rotate-kek", "kind: rotate"))
    refused = await cli_env("campaign", "create", str(bad))
    assert refused.exit_code == 2 and f"{bad}:" in refused.output and "kind: must be one of" in refused.output


async def test_a_second_trigger_while_a_run_is_going_is_skipped(
    dev_env: WorkflowEnvironment,
    cli_env: Callable[..., Any],
    make_sim: SimFactory,
    azure_for: Callable[[SimServer], AzureClients],
    tmp_path: Path,
) -> None:
    sim = make_sim(yaml.safe_load((EXAMPLES / "campaign-fleet.yaml").read_text()), 600, 300)
    path = renamed("audit", tmp_path)
    name = load_campaign(path).name
    worker = new_worker(dev_env, azure_for(sim))
    created = await campaigns.create(dev_env.client, load_campaign(path), worker.task_queue, paused=True)
    assert created.schedule.policy.overlap is ScheduleOverlapPolicy.SKIP

    # No worker yet, so the first run cannot end before the second trigger arrives.
    assert (await cli_env("campaign", "trigger", name)).exit_code == 0
    await _eventually(lambda: _running(dev_env, name))
    second = await cli_env("campaign", "trigger", name)
    assert second.exit_code == 0 and "a run is still going" in second.output
    await _eventually(lambda: _skipped(dev_env, name))

    async with worker:
        running = (await campaigns.describe(dev_env.client, name)).info.running_actions
        run_id = running[0].workflow_id
        result = await dev_env.client.get_workflow_handle(run_id).result()
    info = (await campaigns.describe(dev_env.client, name)).info
    assert (info.num_actions, info.num_actions_skipped_overlap) == (1, 1)
    assert result["actions"] == {"none": 16}
    assert sim.requests() and all(r.method == "GET" for r in sim.requests())

    await _eventually(lambda: _listed(dev_env, name))
    history = await cli_env("campaign", "history", name)
    assert history.exit_code == 0, history.output
    assert "1 runs started, 1 skipped for overlap" in history.output
    assert f"campaign/{name}-" in history.output and "completed" in history.output
    assert "VMs: none 16" in history.output
    reports = [line.split("report ", 1)[1] for line in history.output.splitlines() if "  report " in line]
    assert len(reports) == 3 and all(Path(p).is_file() for p in reports)
    await campaigns.delete(dev_env.client, name)


async def _running(env: WorkflowEnvironment, name: str) -> bool:
    return bool((await campaigns.describe(env.client, name)).info.running_actions)


async def _skipped(env: WorkflowEnvironment, name: str) -> bool:
    return (await campaigns.describe(env.client, name)).info.num_actions_skipped_overlap >= 1


async def _listed(env: WorkflowEnvironment, name: str) -> bool:
    runs = await campaigns.history(env.client, name)
    return bool(runs) and runs[0].status == "completed"


async def _eventually(check: Callable[[], Any], timeout_s: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.2)


def _readme_campaign_example() -> Path:
    """The campaign file the README's ``campaign create`` example names."""
    readme = (EXAMPLES.parent / "README.md").read_text()
    return EXAMPLES.parent / re.findall(r"adeflow campaign create (examples/\S+\.yaml)", readme)[0]


async def test_the_readme_campaign_example_runs_against_the_demo_fleet(
    dev_env: WorkflowEnvironment,
    cli_env: Callable[..., Any],
    make_sim: SimFactory,
    azure_for: Callable[[SimServer], AzureClients],
    tmp_path: Path,
) -> None:
    """The README's campaign example targets the fleet ``adeflow demo`` serves (it used to name a subscription the
    demo does not have, so it failed there): created and triggered as written, its run completes."""
    sim = make_sim(yaml.safe_load((EXAMPLES / "demo-fleet.yaml").read_text()), 20000, 0)
    example = _readme_campaign_example()
    data = yaml.safe_load(example.read_text())
    data.update(name=f"{data['name']}-{uuid.uuid4().hex[:6]}", notify={"report_dir": str(tmp_path / "reports")})
    data["manifest"] = str(example.parent / data["manifest"])
    path = tmp_path / example.name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    name = load_campaign(path).name
    async with new_worker(dev_env, azure_for(sim)) as worker:
        await campaigns.create(dev_env.client, load_campaign(path), worker.task_queue, paused=True)
        assert (await cli_env("campaign", "trigger", name)).exit_code == 0
        await _eventually(lambda: _closed(dev_env, name), timeout_s=120)
    history = await cli_env("campaign", "history", name)
    assert history.exit_code == 0, history.output
    assert "completed" in history.output and "reason:" not in history.output, history.output
    assert "rollout " in history.output  # the demo fleet's unencrypted VMs went to a rollout
    await campaigns.delete(dev_env.client, name)


async def test_history_says_why_a_run_failed(
    dev_env: WorkflowEnvironment,
    cli_env: Callable[..., Any],
    make_sim: SimFactory,
    azure_for: Callable[[SimServer], AzureClients],
    tmp_path: Path,
) -> None:
    """A campaign whose selector names a subscription Azure does not know: the run fails, and ``campaign history``
    shows why (it showed only "failed")."""
    sim = make_sim(yaml.safe_load((EXAMPLES / "demo-fleet.yaml").read_text()), 600, 300)
    path = renamed("drift", tmp_path)
    name = load_campaign(path).name
    async with new_worker(dev_env, azure_for(sim)) as worker:
        await campaigns.create(dev_env.client, load_campaign(path), worker.task_queue, paused=True)
        assert (await cli_env("campaign", "trigger", name)).exit_code == 0
        await _eventually(lambda: _closed(dev_env, name), timeout_s=60)
    history = await cli_env("campaign", "history", name)
    assert history.exit_code == 0, history.output
    assert "  failed  " in history.output, history.output
    reason = next(line for line in history.output.splitlines() if line.startswith("  reason: "))
    assert "find_vms failed" in reason and "6f1c3a52-8d11-4c4e-9a7e-00000000c0de" in reason, reason
    assert "Traceback" not in history.output
    await campaigns.delete(dev_env.client, name)


async def _closed(env: WorkflowEnvironment, name: str) -> bool:
    runs = await campaigns.history(env.client, name)
    return bool(runs) and runs[0].status not in ("running", "unknown")
