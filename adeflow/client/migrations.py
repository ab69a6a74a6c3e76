"""A fleet's migration off ADE as one rollout (issue 16, "Fleets"): start it from a migration manifest, send people's
decisions to a wave's (or named) VMs at once, and read each VM's phase.

The rollout is an ordinary ``FleetRolloutWorkflow`` of kind ``migrate`` (waves, canary, failure budget; ``adeflow
rollout pause|resume|cancel`` steer it); its VM runs are ``MigrateToHostEncryptionWorkflow`` on the create task
queue. A bulk decision is one update per VM run (``adeflow.client.migration_runs.decide``): each run validates and
records it for itself (who, when), so one VM's refusal is that VM's answer and never stops the others.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from temporalio.client import Client, WorkflowQueryFailedError
from temporalio.service import RPCError, RPCStatusCode

from adeflow.client.connect import no_worker
from adeflow.client.errors import OperationFailed
from adeflow.client.migration_runs import DECISIONS, DecisionRefused, decide
from adeflow.client.rollouts import (
    OPEN,
    QUERY_TIMEOUT,
    RolloutHandle,
    RolloutUnavailable,
    rollout_handle,
    start_rollout,
    status_name,
)
from adeflow.domain import vocabulary
from adeflow.domain.migration import MigrationPhase
from adeflow.domain.migration.fleet import MigrationManifest
from adeflow.domain.migration.fleet_rollout import build_migration_rollout, choose_for_decision
from adeflow.domain.rollout import RolloutInput, RolloutMember
from adeflow.inputs.settings import Settings
from workflows.fleet_rollout import FleetRolloutWorkflow
from workflows.steps import OUTCOME_KEY, PHASE_KEY, RESOURCE_GROUP_KEY, VM_KEY

MIGRATION_WORKFLOW = "MigrateToHostEncryptionWorkflow"
ENDED = (MigrationPhase.DONE, MigrationPhase.FAILED, MigrationPhase.REFUSED)
LIVE_PHASES = tuple(p.value for p in MigrationPhase if p not in ENDED)
"""Phases a running migration can be in: one count each while the rollout runs."""
PARALLEL_DECISIONS = 20
"""Updates in flight at once: a wave of hundreds of VMs must not open hundreds of calls at the same moment."""


def migration_rollout_request(manifest: MigrationManifest, rollout_id: str, settings: Settings) -> RolloutInput:
    """The rollout of ``manifest``, its migrations on the create queue (only the create worker writes VMs, disks)."""
    return build_migration_rollout(rollout_id, manifest, settings.temporal.create_queue)


async def start_migration_rollout(client: Client, request: RolloutInput, task_queue: str) -> RolloutHandle:
    """Start the rollout on ``task_queue`` (or attach to the one running under its id), as ``rollout start`` does."""
    return await start_rollout(client, request, task_queue)


@dataclass(frozen=True)
class DecisionAnswer:
    """One VM's part in a bulk decision: the run's answer (recorded, for whom, when), its refusal, or why nothing
    was sent to it."""

    vm: str
    text: str
    sent: bool
    refused: bool = False

    @property
    def line(self) -> str:
        if self.refused:
            return f"refused  {self.text}"
        return f"recorded {self.text}" if self.sent else f"skipped  {self.vm}: {self.text}"


async def members(client: Client, rollout_id: str, wave: int | None = None) -> list[RolloutMember]:
    """The rollout's VMs (one wave's, or all) with their status: asked of the running rollout (needs a worker; a
    closed rollout has no migration left to decide on)."""
    handle = rollout_handle(client, rollout_id)
    try:
        description = await handle.describe()
    except RPCError as exc:
        if exc.status is RPCStatusCode.NOT_FOUND:
            raise RolloutUnavailable(f"no rollout {rollout_id} (adeflow rollout list shows the known ones)") from None
        raise
    if description.status not in OPEN:
        raise RolloutUnavailable(
            f"rollout {rollout_id} has ended ({status_name(description.status)}): "
            "no migration of it waits for a decision"
        )
    try:
        return await handle.query(FleetRolloutWorkflow.members, -1 if wave is None else wave, rpc_timeout=QUERY_TIMEOUT)
    except WorkflowQueryFailedError as exc:
        raise RolloutUnavailable(f"rollout {rollout_id}: {exc}") from None
    except RPCError as exc:
        if exc.status in (RPCStatusCode.CANCELLED, RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.FAILED_PRECONDITION):
            queue = description.task_queue
            raise RolloutUnavailable(f"rollout {rollout_id}: no worker answered: {no_worker(queue)}") from None
        raise


async def decide_many(
    client: Client,
    rollout_id: str,
    decision: str,
    operator: str,
    *,
    wave: int | None = None,
    vms: Sequence[str] = (),
) -> list[DecisionAnswer]:
    """Send ``decision`` (a key of ``DECISIONS``) to the running migrations of one wave, of the named VMs, or of the
    whole rollout; every VM's answer, refusal or reason for being skipped, in the rollout's order."""
    if decision not in DECISIONS:
        raise OperationFailed(f"no decision {decision!r}; one of {', '.join(DECISIONS)}")
    choice = choose_for_decision(await members(client, rollout_id, wave), list(vms))
    gate = asyncio.Semaphore(PARALLEL_DECISIONS)

    async def one(member: RolloutMember) -> DecisionAnswer:
        async with gate:
            try:
                return DecisionAnswer(member.vm.name, await decide(client, member.vm, decision, operator), True)
            except DecisionRefused as refusal:
                return DecisionAnswer(member.vm.name, str(refusal), True, refused=True)

    answers = list(await asyncio.gather(*(one(m) for m in choice.send)))
    return answers + [DecisionAnswer(name, why, False) for name, why in choice.skipped]


@dataclass(frozen=True)
class MigrationRow:
    """One VM's migration in the rollout as visibility shows it (no worker needed): its phase and outcome."""

    vm: str
    resource_group: str
    phase: str
    outcome: str
    status: str
    workflow_id: str


async def migration_rows(client: Client, rollout_id: str) -> list[MigrationRow]:
    """The rollout's migrations, one row per VM (its newest run), by the ``AdeRolloutId`` search attribute."""
    query = f'{vocabulary.ROLLOUT_ID}="{rollout_id}" AND WorkflowType="{MIGRATION_WORKFLOW}"'
    rows: dict[str, MigrationRow] = {}
    async for execution in client.list_workflows(query):  # newest first: a retried VM keeps its latest run
        attributes = execution.typed_search_attributes
        status = execution.status.name.lower().replace("_", "-") if execution.status else "unknown"
        row = MigrationRow(
            attributes.get(VM_KEY) or execution.id,
            attributes.get(RESOURCE_GROUP_KEY) or "",
            attributes.get(PHASE_KEY) or "",
            attributes.get(OUTCOME_KEY) or "",
            status,
            execution.id,
        )
        rows.setdefault(execution.id, row)
    return sorted(rows.values(), key=lambda r: (r.resource_group, r.vm))


async def running_by_migration_phase(client: Client, rollout_id: str) -> dict[str, int]:
    """Running migrations per phase (``AdePhase``), counted by visibility like ``rollouts.running_by_phase``."""
    base = (
        f'{vocabulary.ROLLOUT_ID}="{rollout_id}" AND WorkflowType="{MIGRATION_WORKFLOW}" AND ExecutionStatus="Running"'
    )
    try:
        counts = await asyncio.gather(
            *(client.count_workflows(f'{base} AND {vocabulary.PHASE}="{p}"') for p in LIVE_PHASES)
        )
    except RPCError as exc:
        if exc.status is RPCStatusCode.INVALID_ARGUMENT:  # a server without the search attributes
            raise OperationFailed(f"cannot count the migrations of rollout {rollout_id}: {exc.message}") from None
        raise
    return {phase: c.count for phase, c in zip(LIVE_PHASES, counts, strict=True) if c.count}
