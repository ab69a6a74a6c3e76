"""``adeflow campaign create|update|list|describe|pause|unpause|trigger|backfill|delete|history``.

Exit codes as everywhere: 0 success, 1 the operation failed (no such campaign, Temporal unreachable), 2 a bad
campaign file (nothing created or changed).
"""

from __future__ import annotations

import getpass
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import click
from temporalio.client import Client, ScheduleAlreadyRunningError, ScheduleDescription

from adeflow.cli.tables import echo_table
from adeflow.client import campaigns
from adeflow.client.session import run_temporal
from adeflow.inputs.campaign_file import CampaignError, CampaignFile, load_campaign
from adeflow.inputs.settings import Settings
from adeflow.reports.campaign_report import counts_line

T = TypeVar("T")


def _load(path: Path) -> CampaignFile:
    """A bad campaign file changes nothing: every problem is printed at once and the exit code is 2."""
    try:
        return load_campaign(path)
    except CampaignError as exc:
        click.echo(str(exc), err=True)
        sys.exit(2)


def _run(work: Callable[[Client, Settings], Awaitable[T]]) -> T:
    return run_temporal(work)  # CampaignNotFound, an unreachable Temporal: one line, exit 1 (adeflow.cli.main)


def _time_zone(description: ScheduleDescription) -> str | None:
    return description.schedule.spec.time_zone_name


def _echo_next(description: ScheduleDescription, count: int = 5) -> None:
    times = campaigns.local_times(campaigns.next_runs(description, count), _time_zone(description))
    state = description.schedule.state
    if state.paused:
        click.echo("paused: no scheduled runs until unpaused" + (f" ({state.note})" if state.note else ""))
    if times:
        click.echo("next runs:")
        for line in times:
            click.echo(f"  {line}")


def _describe_schedule(description: ScheduleDescription) -> list[str]:
    spec = description.schedule.spec
    policy = description.schedule.policy
    when = campaigns.schedule_times(description)
    jitter = f", jitter {spec.jitter}" if spec.jitter else ""
    return [
        f"schedule {description.id}: {' | '.join(when) or '-'} ({spec.time_zone_name or 'UTC'}{jitter})",
        f"overlap {policy.overlap.name.lower().replace('_', '-')}, catch-up window {policy.catchup_window}",
    ]


operator_option = click.option(
    "--operator", default=lambda: getpass.getuser(), show_default="current user", help="Recorded in the note."
)


@click.group()
def campaign() -> None:
    """Recurring ADE work on Temporal Schedules: rotate-kek, drift and audit campaigns."""


@campaign.command()
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--paused", is_flag=True, help="Create it paused (trigger it by hand, unpause later).")
def create(path: Path, paused: bool) -> None:
    """Validate the campaign file PATH and put it on a schedule; prints the next run times."""
    spec = _load(path)

    async def go(client: Client, settings: Settings) -> None:
        try:
            description = await campaigns.create(client, spec, settings.temporal.task_queue, paused=paused)
        except ScheduleAlreadyRunningError:
            click.echo(f"campaign {spec.name} exists already: adeflow campaign update {path}", err=True)
            sys.exit(1)
        click.echo(f"campaign {spec.name} ({spec.kind.value}) created: {spec.schedule.describe()}")
        for line in _describe_schedule(description):
            click.echo(f"  {line}")
        _echo_next(description)

    _run(go)


@campaign.command()
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def update(path: Path) -> None:
    """Replace a campaign's schedule, policy and fleet from PATH (a paused campaign stays paused)."""
    spec = _load(path)

    async def go(client: Client, settings: Settings) -> None:
        description = await campaigns.update(client, spec, settings.temporal.task_queue)
        click.echo(f"campaign {spec.name} ({spec.kind.value}) updated: {spec.schedule.describe()}")
        _echo_next(description)

    _run(go)


@campaign.command(name="list")
def list_command() -> None:
    """Every campaign with its state and next run."""

    found = _run(lambda client, settings: campaigns.list_campaigns(client))
    if not found:
        click.echo("no campaigns (adeflow campaign create FILE)")
        return
    rows = [
        (
            item.name,
            "paused" if item.paused else "active",
            f"{item.next_runs[0]:%Y-%m-%d %H:%M} UTC" if item.next_runs and not item.paused else "-",
            f"{item.last_run:%Y-%m-%d %H:%M} UTC" if item.last_run else "-",
            item.note,
        )
        for item in found
    ]
    echo_table(("CAMPAIGN", "STATE", "NEXT RUN", "LAST RUN", "NOTE"), rows)


@campaign.command(name="describe")
@click.argument("name")
def describe_command(name: str) -> None:
    """A campaign's schedule, policy, state, recent runs and next run times."""

    async def go(client: Client, settings: Settings) -> None:
        description = await campaigns.describe(client, name)
        info = description.info
        click.echo(f"campaign {name}: {description.schedule.state.note or ''}".rstrip())
        for line in _describe_schedule(description):
            click.echo(f"  {line}")
        click.echo(
            f"  runs {info.num_actions}, skipped for overlap {info.num_actions_skipped_overlap}, "
            f"missed (catch-up window) {info.num_actions_missed_catchup_window}"
        )
        for running in info.running_actions:
            click.echo(f"  running: {getattr(running, 'workflow_id', running)}")
        for action in info.recent_actions[-5:]:
            started = getattr(action.action, "workflow_id", "")
            click.echo(f"  recent: {action.scheduled_at:%Y-%m-%d %H:%M:%S} UTC -> {started}")
        _echo_next(description, 10)

    _run(go)


def _state_command(name: str, doc: str) -> click.Command:
    @click.command(name=name, help=doc)
    @click.argument("campaign_name")
    @operator_option
    @click.option("--note", default="", help="Why (kept on the schedule).")
    def command(campaign_name: str, operator: str, note: str) -> None:
        text = f"{name}d by {operator}" + (f": {note}" if note else "")

        async def go(client: Client, settings: Settings) -> None:
            change = campaigns.pause if name == "pause" else campaigns.unpause
            description = await change(client, campaign_name, text)
            click.echo(f"campaign {campaign_name}: {text}")
            _echo_next(description)

        _run(go)

    return command


campaign.add_command(_state_command("pause", "Stop scheduled runs (a run in progress goes on)."))
campaign.add_command(_state_command("unpause", "Resume scheduled runs."))


@campaign.command()
@click.argument("name")
def trigger(name: str) -> None:
    """Run a campaign now; with a run still going, the overlap policy skips (or buffers) this one."""

    async def go(client: Client, settings: Settings) -> None:
        before = await campaigns.describe(client, name)
        description = await campaigns.trigger(client, name)
        click.echo(f"campaign {name}: triggered")
        if before.info.running_actions:
            policy = before.schedule.policy.overlap.name.lower().replace("_", "-")
            going = getattr(before.info.running_actions[0], "workflow_id", "")
            click.echo(f"  a run is still going ({going}); overlap {policy}")
        _echo_next(description)

    _run(go)


def _when(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise click.BadParameter(f"{text!r}: use ISO 8601, e.g. 2026-11-01T02:00:00Z") from exc
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@campaign.command()
@click.argument("name")
@click.option("--start", "start", required=True, help="ISO 8601 (UTC unless it says otherwise).")
@click.option("--end", "end", required=True, help="ISO 8601; the action times in [start, end) run.")
def backfill(name: str, start: str, end: str) -> None:
    """Run the action times a campaign would have had between START and END, one at a time."""
    begin, finish = _when(start), _when(end)
    if finish <= begin:
        raise click.BadParameter("--end must be after --start")

    async def go(client: Client, settings: Settings) -> None:
        description = await campaigns.backfill(client, name, begin, finish)
        click.echo(f"campaign {name}: backfill {begin.isoformat()} .. {finish.isoformat()} requested")
        _echo_next(description)

    _run(go)


@campaign.command()
@click.argument("name")
def delete(name: str) -> None:
    """Delete a campaign's schedule; a run in progress and its rollout go on."""

    async def go(client: Client, settings: Settings) -> None:
        await campaigns.delete(client, name)
        click.echo(f"campaign {name} deleted (past runs stay in history)")

    _run(go)


@campaign.command(name="history")
@click.argument("name")
@click.option("--limit", default=20, show_default=True)
def history_command(name: str, limit: int) -> None:
    """Past runs of a campaign, newest first: outcome counts, rollout and report paths."""

    async def go(client: Client, settings: Settings) -> None:
        description = await campaigns.describe(client, name)
        info = description.info
        click.echo(
            f"campaign {name}: {info.num_actions} runs started, {info.num_actions_skipped_overlap} skipped for overlap"
        )
        runs = await campaigns.history(client, name, limit)
        if not runs:
            click.echo("  no runs yet")
        for run in runs:
            started = f"{run.started:%Y-%m-%d %H:%M:%S} UTC" if run.started else "-"
            click.echo(f"{run.workflow_id}  {run.status}  started {started}")
            if run.reason:
                click.echo(f"  reason: {run.reason}")
            if run.actions:
                click.echo(f"  VMs: {counts_line(run.actions)}")
            if run.rollout_id:
                click.echo(f"  rollout {run.rollout_id}: {counts_line(run.rollout_counts)}")
            for report in run.reports:
                click.echo(f"  report {report}")

    _run(go)
