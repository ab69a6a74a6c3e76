"""Campaigns on Temporal Schedules, client side: create, update, steer and read them (the CLI and tests use this).

One schedule per campaign, ``campaign/<name>``; its action starts :class:`~workflows.campaign.CampaignWorkflow` with
the campaign file resolved into a :class:`~adeflow.domain.campaign_plan.payloads.CampaignInput`, so the file is read
once, when the schedule is created or updated, and every run works from what was validated then. The overlap policy
is SKIP or BUFFER_ONE, never ALLOW_ALL: two runs of one campaign must never plan over the same VMs at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleBackfill,
    ScheduleCalendarSpec,
    ScheduleDescription,
    ScheduleHandle,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
    ScheduleState,
    ScheduleUpdate,
    ScheduleUpdateInput,
    WorkflowExecutionStatus,
    WorkflowFailureError,
)
from temporalio.service import RPCError, RPCStatusCode

from adeflow.client.errors import OperationFailed
from adeflow.client.failures import failure_reason
from adeflow.inputs.campaign_file import CampaignFile, Overlap, schedule_id
from workflows.campaign import CampaignWorkflow

DEFAULT_CATCHUP = timedelta(hours=1)
"""Temporal's default is a year: after an outage a campaign should run once, late, not replay every missed slot."""
OVERLAP = {Overlap.SKIP: ScheduleOverlapPolicy.SKIP, Overlap.BUFFER_ONE: ScheduleOverlapPolicy.BUFFER_ONE}
PREFIX = "campaign/"


class CampaignNotFound(OperationFailed, LookupError):
    """No schedule for that campaign name."""


def build_schedule(campaign: CampaignFile, task_queue: str, *, paused: bool = False) -> Schedule:
    """The schedule for a validated campaign file: spec, overlap policy, and the workflow it starts."""
    plan = campaign.schedule
    spec = ScheduleSpec(
        cron_expressions=list(plan.cron),
        intervals=[ScheduleIntervalSpec(every=timedelta(seconds=plan.interval_s))] if plan.interval_s else [],
        time_zone_name=plan.time_zone,
        jitter=timedelta(seconds=plan.jitter_s) if plan.jitter_s else None,
    )
    catchup = timedelta(seconds=plan.catchup_window_s) if plan.catchup_window_s else DEFAULT_CATCHUP
    return Schedule(
        action=ScheduleActionStartWorkflow(
            CampaignWorkflow.run,
            campaign.to_input(),
            id=campaign.schedule_id,
            task_queue=task_queue,
            static_summary=f"Campaign {campaign.name} ({campaign.kind.value})",
        ),
        spec=spec,
        policy=SchedulePolicy(overlap=OVERLAP[campaign.overlap], catchup_window=catchup),
        state=ScheduleState(note=schedule_note(campaign), paused=paused),
    )


def schedule_note(campaign: CampaignFile) -> str:
    """Shown by ``temporal schedule describe`` and the UI; ``campaign list`` reads the kind from it."""
    note = f"{campaign.kind.value} campaign from {campaign.source}"
    return f"{note}: {campaign.description}" if campaign.description else note


def handle(client: Client, name: str) -> ScheduleHandle:
    return client.get_schedule_handle(schedule_id(name))


async def create(
    client: Client, campaign: CampaignFile, task_queue: str, *, paused: bool = False
) -> ScheduleDescription:
    """Create the schedule (``ScheduleAlreadyRunningError`` if the campaign exists: use update)."""
    created = await client.create_schedule(
        campaign.schedule_id,
        build_schedule(campaign, task_queue, paused=paused),
        memo={"campaign": campaign.name, "kind": campaign.kind.value, "source": campaign.source},
    )
    return await created.describe()


async def update(client: Client, campaign: CampaignFile, task_queue: str) -> ScheduleDescription:
    """Replace spec, policy and action from the file; a paused campaign stays paused."""
    target = client.get_schedule_handle(campaign.schedule_id)

    def change(current: ScheduleUpdateInput) -> ScheduleUpdate:
        paused = current.description.schedule.state.paused
        return ScheduleUpdate(schedule=build_schedule(campaign, task_queue, paused=paused))

    await _existing(target)
    await target.update(change)
    return await target.describe()


async def _existing(target: ScheduleHandle) -> ScheduleDescription:
    try:
        return await target.describe()
    except RPCError as exc:
        if exc.status is RPCStatusCode.NOT_FOUND:
            raise CampaignNotFound(f"no campaign {target.id.removeprefix(PREFIX)} (schedule {target.id})") from None
        raise


async def describe(client: Client, name: str) -> ScheduleDescription:
    return await _existing(handle(client, name))


async def pause(client: Client, name: str, note: str) -> ScheduleDescription:
    target = handle(client, name)
    await _existing(target)
    await target.pause(note=note)
    return await target.describe()


async def unpause(client: Client, name: str, note: str) -> ScheduleDescription:
    target = handle(client, name)
    await _existing(target)
    await target.unpause(note=note)
    return await target.describe()


async def trigger(client: Client, name: str) -> ScheduleDescription:
    """Run now, under the schedule's own overlap policy: a run still going means this one is skipped (or buffered)."""
    target = handle(client, name)
    await _existing(target)
    await target.trigger()
    return await target.describe()


async def backfill(client: Client, name: str, start: datetime, end: datetime) -> ScheduleDescription:
    """Runs for the action times in [start, end), under the schedule's overlap policy (so one at a time)."""
    target = handle(client, name)
    await _existing(target)
    await target.backfill(ScheduleBackfill(start_at=start, end_at=end))
    return await target.describe()


async def delete(client: Client, name: str) -> None:
    """Delete the schedule; a run in progress (and its rollout) goes on."""
    target = handle(client, name)
    await _existing(target)
    await target.delete()


@dataclass(frozen=True)
class CampaignListing:
    name: str
    note: str
    paused: bool
    next_runs: list[datetime]
    last_run: datetime | None


async def list_campaigns(client: Client) -> list[CampaignListing]:
    found: list[CampaignListing] = []
    async for entry in await client.list_schedules():
        if not entry.id.startswith(PREFIX):
            continue
        state = entry.schedule.state if entry.schedule else None
        recent = entry.info.recent_actions if entry.info else []
        found.append(
            CampaignListing(
                name=entry.id.removeprefix(PREFIX),
                note=(state.note or "") if state else "",
                paused=bool(state.paused) if state else False,
                next_runs=list(entry.info.next_action_times) if entry.info else [],
                last_run=recent[-1].scheduled_at if recent else None,
            )
        )
    return sorted(found, key=lambda c: c.name)


@dataclass(frozen=True)
class CampaignRun:
    """One past or running run of a campaign, from visibility and the memo it leaves when it ends."""

    workflow_id: str
    status: str
    started: datetime | None
    closed: datetime | None
    actions: dict[str, int] = field(default_factory=dict)
    rollout_id: str = ""
    rollout_counts: dict[str, int] = field(default_factory=dict)
    reports: list[str] = field(default_factory=list)
    reason: str = ""
    """Why a run that ended without a result did (failed, terminated, timed out, cancelled), in one line."""


ENDED_WITHOUT_RESULT = (
    WorkflowExecutionStatus.FAILED,
    WorkflowExecutionStatus.TERMINATED,
    WorkflowExecutionStatus.TIMED_OUT,
    WorkflowExecutionStatus.CANCELED,
)


async def _reason(client: Client, workflow_id: str, run_id: str | None) -> str:
    """The failure of a closed run, read from its close event (no worker needed)."""
    try:
        await client.get_workflow_handle(workflow_id, run_id=run_id).result(follow_runs=False)
    except WorkflowFailureError as failed:
        return failure_reason(failed)
    return ""


async def history(client: Client, name: str, limit: int = 20) -> list[CampaignRun]:
    """Runs the schedule started (the ``TemporalScheduledById`` attribute Temporal sets), newest first."""
    query = f'TemporalScheduledById="{schedule_id(name)}" AND WorkflowType="CampaignWorkflow"'
    runs: list[CampaignRun] = []
    async for execution in client.list_workflows(query, limit=limit):
        memo: dict[str, Any] = dict(await execution.memo())
        status = execution.status.name.lower() if execution.status else "unknown"
        ended_badly = execution.status in ENDED_WITHOUT_RESULT
        runs.append(
            CampaignRun(
                workflow_id=execution.id,
                status=status,
                started=execution.start_time,
                closed=execution.close_time if execution.status != WorkflowExecutionStatus.RUNNING else None,
                actions=dict(memo.get("actions") or {}),
                rollout_id=str(memo.get("rollout_id") or ""),
                rollout_counts=dict(memo.get("rollout_counts") or {}),
                reports=list(memo.get("reports") or []),
                reason=await _reason(client, execution.id, execution.run_id) if ended_badly else "",
            )
        )
    return runs


_FULL = {"minute": (0, 59), "hour": (0, 23), "day_of_month": (1, 31), "month": (1, 12), "day_of_week": (0, 6)}


def calendar_text(calendar: ScheduleCalendarSpec) -> str:
    """A calendar back in cron's five fields: the server stores cron expressions as calendars."""
    fields: list[str] = []
    for name, (low, high) in _FULL.items():
        ranges: Sequence[ScheduleRange] = getattr(calendar, name)
        parts: list[str] = []
        for r in ranges:
            end, step = max(r.end, r.start), r.step or 1
            text = str(r.start) if end == r.start else f"{r.start}-{end}"
            text = "*" if (r.start, end) == (low, high) else text
            parts.append(text + (f"/{step}" if step > 1 else ""))
        fields.append(",".join(parts) or "*")
    return " ".join(fields)


def schedule_times(description: ScheduleDescription) -> list[str]:
    """The schedule's specs in words: cron fields (from calendars) and intervals."""
    spec = description.schedule.spec
    return [
        *spec.cron_expressions,
        *(calendar_text(c) for c in spec.calendars),
        *(f"every {i.every}" for i in spec.intervals),
    ]


def next_runs(description: ScheduleDescription, count: int = 5) -> list[datetime]:
    return list(description.info.next_action_times)[:count]


def local_times(times: list[datetime], time_zone: str | None) -> list[str]:
    """Each time in the campaign's zone and in UTC, as operators compare them with change windows."""
    if not time_zone or time_zone == "UTC":
        return [f"{t.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC" for t in times]
    zone = ZoneInfo(time_zone)
    return [f"{t.astimezone(zone):%Y-%m-%d %H:%M:%S %Z} ({t.astimezone(UTC):%H:%M} UTC)" for t in times]
