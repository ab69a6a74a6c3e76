"""CampaignWorkflow: one scheduled campaign run (docs/original-design.md §1.4, §4): inventory, plan, rollout, report.

Started by a Temporal Schedule (``campaign/<name>``; overlap skip or buffer-one, so never two runs of a campaign at
once). Thin and deterministic: the decisions are ``adeflow.domain.campaign_plan``'s, the Azure reads and the report are
activities, and the VMs that need work go to one ``FleetRolloutWorkflow`` child, with its waves, failure budget and
operator control. The rollout id is the campaign's name plus the schedule's action time, so it is the same on every
replay and never repeats across runs; a VM that another run is encrypting is left to it and reported.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeKey
from temporalio.exceptions import ActivityError, ChildWorkflowError, WorkflowAlreadyStartedError

with workflow.unsafe.imports_passed_through():
    from activities.campaign import CampaignActivities
    from adeflow.domain.campaign_plan.decisions import plan_campaign
    from adeflow.domain.campaign_plan.keks import keks_in_use
    from adeflow.domain.campaign_plan.payloads import (
        CampaignInput,
        CampaignKind,
        CampaignProgress,
        CampaignReport,
        CampaignResult,
        FactsBatch,
        KekQuery,
        KekVersion,
        VmPlan,
        VmReading,
        VmRunQuery,
        WebhookRequest,
    )
    from adeflow.domain.campaign_plan.run import (
        campaign_run_name,
        mark_elsewhere,
        needing_work,
        rollout_vms,
        scheduled_time,
        summarise,
    )
    from adeflow.domain.model import KeyEncryptionKey, VmRef
    from adeflow.domain.rollout import RolloutInput, RolloutResult, VmNote, build_rollout_input
    from workflows.encrypt_vm import encrypt_vm_workflow_id
    from workflows.fleet_rollout import FleetRolloutWorkflow, resolve_selectors, rollout_workflow_id
    from workflows.steps import ARM_CALL

SCHEDULED_START = SearchAttributeKey.for_datetime("TemporalScheduledStartTime")
"""Set by the schedule on each run it starts: the action's nominal time (before jitter)."""
FACTS_WINDOW = 4
"""Facts batches in flight at once; with ``facts_parallel`` reads each, well inside the ARM read budget."""
WEBHOOK_RETRY = RetryPolicy(maximum_attempts=5, initial_interval=timedelta(seconds=5))


@workflow.defn
class CampaignWorkflow:
    def __init__(self) -> None:
        self._progress = CampaignProgress("starting", "")

    @workflow.query(description="The campaign run's stage, what it is doing, and its counts so far.")
    def progress(self) -> CampaignProgress:
        return self._progress

    def _stage(
        self, stage: str, detail: str, *, total: int = 0, actions: dict[str, int] | None = None, rollout_id: str = ""
    ) -> None:
        """The ``progress`` query's answer and the UI's current details, in one place."""
        previous = self._progress
        self._progress = CampaignProgress(
            stage,
            detail,
            total or previous.total,
            actions if actions is not None else previous.actions,
            rollout_id or previous.rollout_id,
        )
        workflow.set_current_details(f"**{stage}**: {detail}")

    @workflow.run
    async def run(self, request: CampaignInput) -> CampaignResult:
        at = _action_time()
        run = campaign_run_name(request.name, at)
        self._stage("inventory", f"{request.kind.value} campaign {request.name}: finding the fleet's VMs")
        fleet, selected = await _resolve_selectors(request.fleet)
        vms = [
            (VmRef(t.subscription_id, t.resource_group, n), t.settings_index) for t in fleet.targets for n in t.names
        ]
        readings = await self._read_facts(request, [vm for vm, _ in vms])
        target = KeyEncryptionKey(request.rotate.key_url, request.rotate.vault_id) if request.rotate else None
        keks = await workflow.execute_activity_method(
            CampaignActivities.read_kek_versions,
            KekQuery(keks_in_use(readings), target),
            start_to_close_timeout=timedelta(minutes=5),
            retry_policy=ARM_CALL,
            summary="read KEK versions",
        )

        self._stage("plan", f"deciding for {len(vms)} VMs")
        plans = plan_campaign(request, [(r, index) for r, (_, index) in zip(readings, vms, strict=True)], keks, now())
        plans = await _leave_busy_vms(plans)
        self._stage("plan", f"{len(needing_work(plans))} of {len(plans)} VMs need work", total=len(plans))

        rollout: RolloutResult | None = None
        notes: list[str] = []
        if request.kind is not CampaignKind.AUDIT and needing_work(plans):
            rollout, note = await self._rollout(request, run, plans, keks.target)
            notes += [note] if note else []
        result = summarise(request, run, at, plans, rollout, notes)

        self._stage("report", f"writing the report to {request.report_dir}", actions=result.actions)
        report = CampaignReport(
            result=result,
            plans=plans,
            selected=selected,
            target_kek=keks.target.url if keks.target and request.rotate else "",
            rollout_notes=_rollout_notes(rollout),
            report_dir=request.report_dir,
            source=request.source,
        )
        written = await workflow.execute_activity_method(
            CampaignActivities.write_campaign_report,
            report,
            start_to_close_timeout=timedelta(minutes=2),
            retry_policy=RetryPolicy(maximum_attempts=5),
            summary=f"write {run}.json/.csv/.md",
        )
        result = replace(result, reports=written.paths)
        if request.webhook_url:
            result = replace(result, webhook=await _post_webhook(request.webhook_url, result))
        workflow.upsert_memo(
            {
                "campaign": request.name,
                "kind": request.kind.value,
                "run": run,
                "actions": result.actions,
                "rollout_id": result.rollout_id,
                "rollout_counts": result.rollout_counts,
                "reports": result.reports,
            }
        )
        self._stage("done", f"{result.total} VMs: " + ", ".join(f"{k} {v}" for k, v in sorted(result.actions.items())))
        return result

    async def _read_facts(self, request: CampaignInput, vms: list[VmRef]) -> list[VmReading]:
        """Batches of ``facts_batch`` VMs, ``FACTS_WINDOW`` batches at a time: bounded load on ARM and history."""
        size = max(1, request.facts_batch)
        batches = [vms[i : i + size] for i in range(0, len(vms), size)]
        readings: list[VmReading] = []
        for start in range(0, len(batches), FACTS_WINDOW):
            self._stage("inventory", f"reading the facts of {len(vms)} VMs ({len(readings)} read)")
            results = await asyncio.gather(
                *(
                    workflow.execute_activity_method(
                        CampaignActivities.read_campaign_facts,
                        FactsBatch(batch, request.facts_parallel),
                        start_to_close_timeout=timedelta(minutes=10),
                        heartbeat_timeout=timedelta(minutes=2),
                        retry_policy=ARM_CALL,
                        summary=f"read facts of {len(batch)} VMs",
                    )
                    for batch in batches[start : start + FACTS_WINDOW]
                )
            )
            for result in results:
                readings += result
        return readings

    async def _rollout(
        self, request: CampaignInput, run: str, plans: list[VmPlan], target: KekVersion | None
    ) -> tuple[RolloutResult | None, str]:
        """One rollout child for the VMs that need work; ABANDON, so it outlives a terminated campaign run."""
        vms = rollout_vms(plans, request.fleet.settings, target)
        child = replace(build_rollout_input(run, request.fleet.policy, vms), task_queue=request.fleet.task_queue)
        self._stage("rollout", f"rollout {run}: {len(vms)} VMs", rollout_id=run)
        try:
            handle = await workflow.start_child_workflow(
                FleetRolloutWorkflow.run,
                child,
                id=rollout_workflow_id(run),
                parent_close_policy=workflow.ParentClosePolicy.ABANDON,
                static_summary=f"Campaign {request.name} ({request.kind.value}): {len(vms)} VMs",
            )
        except WorkflowAlreadyStartedError:
            return None, f"rollout {run} already exists (an earlier attempt of this run started it); see it there"
        try:
            return await handle, ""
        except ChildWorkflowError as err:
            return None, f"rollout {run} ended without a result: {err.cause or err}"


def now() -> datetime:
    return workflow.now()


def _action_time() -> datetime:
    """The schedule's action time: its search attribute, else the suffix of the workflow id, else the start."""
    info = workflow.info()
    return (
        info.typed_search_attributes.get(SCHEDULED_START)
        or scheduled_time(info.workflow_id)
        or info.workflow_start_time
    )


async def _resolve_selectors(fleet: RolloutInput) -> tuple[RolloutInput, list[str]]:
    """Ask Azure which VMs the selectors name now: each run sees the fleet as it is (new VMs are drift too)."""
    if not fleet.selectors:
        return fleet, []
    return await resolve_selectors(fleet)


async def _leave_busy_vms(plans: list[VmPlan]) -> list[VmPlan]:
    """A VM that another run encrypts now is left to it (its run id is ``encrypt/<vm>/<rg>/<sub>``)."""
    work = needing_work(plans)
    if not work:
        return plans
    running = await workflow.execute_activity_method(
        CampaignActivities.find_running_vm_runs,
        VmRunQuery([p.vm for p in work], [encrypt_vm_workflow_id(p.vm) for p in work]),
        start_to_close_timeout=timedelta(minutes=5),
        retry_policy=ARM_CALL,
        summary=f"look for runs of {len(work)} VMs elsewhere",
    )
    return mark_elsewhere(plans, running)


def _rollout_notes(rollout: RolloutResult | None) -> list[VmNote]:
    return [*rollout.refusals, *rollout.failures] if rollout else []


async def _post_webhook(url: str, result: CampaignResult) -> str:
    """A webhook that fails is reported in the result; it does not fail a run whose work is done."""
    try:
        return await workflow.execute_activity_method(
            CampaignActivities.post_campaign_webhook,
            WebhookRequest(url, result),
            start_to_close_timeout=timedelta(seconds=60),
            retry_policy=WEBHOOK_RETRY,
            summary="post the summary to the webhook",
        )
    except ActivityError as err:
        return f"failed: {err.cause or err}"
