"""FleetRolloutWorkflow: encrypt a fleet in waves, as child EncryptVmWorkflows (docs/original-design.md §4, "Fan-out"),
or migrate it off ADE, as child MigrateToHostEncryptionWorkflows (``RolloutKind.MIGRATE``, issue 16).

A sliding window of children (never near the 2,000 pending-children limit), deterministic child ids
(``encrypt/<vm>/<rg>/<sub>``, so one VM never runs twice at once, whoever started it), ``ABANDON`` so children
outlive the parent's continue-as-new, and completion reported by signal to the rollout's workflow id, which
reaches whichever run is current. Decisions are in ``adeflow.domain.rollout.RolloutBook``.

A VM run reports (``vm_finished``) just before it returns, so the rollout completes only after its VM runs have
closed: whoever reads the result (a report, a campaign) finds every VM run closed. It leaves a memo
(``RolloutMemo``) with what its result lacks, so a closed rollout is read without a worker.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import ActivityError, ApplicationError, WorkflowAlreadyStartedError

with workflow.unsafe.imports_passed_through():
    from adeflow.domain.campaign_plan.payloads import RunningVmRun, VmRunQuery
    from adeflow.domain.fleet_query import VmQueryResult
    from adeflow.domain.migration.fleet_rollout import migration_child_input
    from adeflow.domain.model import VmRef
    from adeflow.domain.rollout import (
        RolloutBook,
        RolloutInput,
        RolloutKind,
        RolloutMember,
        RolloutProgress,
        RolloutResult,
        RolloutStage,
        Slot,
        VmFinished,
        VmStatus,
        with_selected,
    )
    from adeflow.domain.run_labels import encrypt_details, encrypt_summary, migrate_details, migrate_summary
    from workflows.encrypt_vm import EncryptVmWorkflow, encrypt_vm_workflow_id
    from workflows.migrate_vm import MigrateToHostEncryptionWorkflow, migrate_workflow_id
    from workflows.steps import ARM_CALL, ROLLOUT_KEY, RULE_KEY

SELECTOR_TIMEOUT = timedelta(minutes=10)
"""A Resource Graph query over many subscriptions pages 1,000 rows at a time; 10,000 VMs is ten pages."""
CONTINUE_AS_NEW_EVERY = 2000
"""History events per run before continuing as new, below the server's 4,096 suggestion with headroom."""
CLOSE_BEFORE_COMPLETION = "vm-runs-closed-before-completion"
"""``workflow.patched`` id: rollouts recorded before it completed on the last report, without these commands."""
CLOSE_CHECKS_S = (1, 2, 4, 8, 16, 32, 60, 60, 60)
"""Pauses between looks at VM runs that an earlier run (before continue-as-new) started; they close about a
second after reporting, so the first look normally finds them closed. After the last, the rollout completes and
names the runs still open (a VM run stuck open must not hold the rollout forever)."""
MEMO_KEY = "rollout"


@dataclass(frozen=True)
class RolloutMemo:
    """Left on the closed rollout (its memo) for what ``RolloutResult`` does not carry: read without a worker."""

    wave: int = 0
    log: list[str] = field(default_factory=list)
    selected: list[str] = field(default_factory=list)
    still_open: list[str] = field(default_factory=list)
    """VM runs still open when the rollout completed (gave up waiting), by workflow id."""


async def resolve_selectors(request: RolloutInput) -> tuple[RolloutInput, list[str]]:
    """The request with the VMs its selectors name now (one ``find_vms`` activity per selector, in parallel)."""
    results = await asyncio.gather(
        *(
            workflow.execute_activity(
                "find_vms",
                selector.query,
                result_type=VmQueryResult,
                start_to_close_timeout=SELECTOR_TIMEOUT,
                retry_policy=ARM_CALL,
                summary=f"find VMs: {selector.query.describe()}",
            )
            for selector in request.selectors
        )
    )
    return with_selected(request, list(results))


def rollout_workflow_id(rollout_id: str) -> str:
    return f"rollout/{rollout_id}"


@workflow.defn
class FleetRolloutWorkflow:
    @workflow.init
    def __init__(self, request: RolloutInput) -> None:
        """The book exists before any handler runs: after continue-as-new, ``vm_finished`` signals from VM runs
        that ended meanwhile are delivered in the new run's very first activation, before ``run`` starts."""
        self._early: list[VmFinished] = []
        self._book: RolloutBook | None = None
        self._children: dict[int, workflow.ChildWorkflowHandle[Any, Any]] = {}
        """VM runs this run started, by slot: awaited before the rollout completes."""
        self._inherited: list[int] = []
        """Slots whose VM run an earlier run started and that were running when this run began."""
        self._closing = False
        """Done, waiting for the last VM runs to close: no operator command may change the book any more."""
        self._rule_shown = workflow.info().typed_search_attributes.get(RULE_KEY) or ""
        """The ``AdeRule`` value set (a continued-as-new run starts with its predecessor's)."""
        self._migrates = request.kind is RolloutKind.MIGRATE
        if request.state is not None:
            request.state.runs += 1
            running = VmStatus.RUNNING.value
            self._inherited = [i for i, status in enumerate(request.state.statuses) if status == running]
        if not (request.selectors and request.state is None):  # else the book waits for the selectors' VMs
            self._book = RolloutBook(request, request.state)

    @property
    def book(self) -> RolloutBook:
        if self._book is None:
            raise ApplicationError("the rollout is still finding the VMs its selectors name; ask again shortly")
        return self._book

    @workflow.run
    async def run(self, request: RolloutInput) -> RolloutResult:
        if self._book is None:
            request, selected = await self._resolve_selectors(request)
            self._book = RolloutBook(request, None)
            self.book.state.selected = selected
            for event in self._early:  # none expected: no VM run exists before the book; kept for safety
                self.book.mark_finished(event)
        if not self.book.state.started_at:
            self.book.state.started_at = workflow.now().isoformat()
        workflow.upsert_search_attributes([ROLLOUT_KEY.value_set(request.rollout_id)])
        while True:
            # All starts of a round go out in one workflow task: fewer round trips and history events.
            await asyncio.gather(*(self._launch(request, slot) for slot in self.book.next_launches()))
            self._publish()
            if self.book.done():
                break
            if self._history_full() and workflow.all_handlers_finished():
                workflow.continue_as_new(replace(request, state=self.book.state))
            await workflow.wait_condition(
                lambda: bool(self.book.next_launches()) or self.book.done() or self._history_full()
            )
        await workflow.wait_condition(workflow.all_handlers_finished)
        if workflow.patched(CLOSE_BEFORE_COMPLETION):
            self._closing = True
            still_open = await self._vm_runs_closed()
            state = self.book.state
            workflow.upsert_memo({MEMO_KEY: RolloutMemo(state.wave, list(state.log), list(state.selected), still_open)})
        self._publish()
        return self.book.result()

    async def _vm_runs_closed(self) -> list[str]:
        """Wait until every VM run of the rollout has closed; returns the ids of any still open after the last look.

        Runs this run started are awaited by handle (their close is in this history). Runs an earlier run started
        are not this run's children: they are looked up by id (``find_running_vm_runs``), and one counts as ours
        unless it belongs to another rollout (it may be an operator's single-VM run started since ours closed)."""
        if self._children:
            workflow.set_current_details(f"**{self.book.stage().value}**: waiting for the last VM runs to close")
            await asyncio.gather(*self._children.values(), return_exceptions=True)  # failures were reported already
        earlier = [self.book.slots[i].vm for i in self._inherited if i not in self._children]
        for pause in (*CLOSE_CHECKS_S, None):
            if not earlier:
                return []
            ids = [self._vm_run_id(vm) for vm in earlier]
            workflow.set_current_details(
                f"**{self.book.stage().value}**: waiting for {len(earlier)} VM runs of earlier runs to close"
            )
            try:
                running = await workflow.execute_activity(
                    "find_running_vm_runs",
                    VmRunQuery(earlier, ids),
                    result_type=list[RunningVmRun],
                    start_to_close_timeout=timedelta(minutes=1),
                    schedule_to_close_timeout=timedelta(minutes=5),
                    retry_policy=ARM_CALL,
                    summary=f"look whether {len(earlier)} VM runs have closed",
                )
            except ActivityError as err:
                workflow.logger.warning("could not check that %d VM runs closed: %s", len(earlier), err.cause or err)
                return ids
            rollout_id = self.book.request.rollout_id
            earlier = [run.vm for run in running if run.rollout_id in ("", rollout_id)]
            if earlier and pause is not None:
                await workflow.sleep(timedelta(seconds=pause))
        return [self._vm_run_id(vm) for vm in earlier]

    def _vm_run_id(self, vm: VmRef) -> str:
        """The VM run's id: lower-cased (one run per VM however its name is spelled). Rollouts that started their
        VM runs before that change keep the ids they used, so their histories replay. A migrate rollout's runs are
        migrations (``migrate/...``: that kind came after the change, so it has no old ids)."""
        if self._migrates:
            return migrate_workflow_id(vm)
        if workflow.patched("lowercase-vm-ids"):
            return encrypt_vm_workflow_id(vm)
        return f"encrypt/{vm.name}/{vm.resource_group}/{vm.subscription_id}"

    async def _resolve_selectors(self, request: RolloutInput) -> tuple[RolloutInput, list[str]]:
        """Ask Azure which VMs the selectors name, once: the answer is in history, so the fleet is fixed for the
        rollout's lifetime and a replay sees the same VMs. A selector Azure refuses fails the rollout clearly."""
        workflow.set_current_details(f"finding the VMs of {len(request.selectors)} selector(s)")
        return await resolve_selectors(request)

    def _history_full(self) -> bool:
        info = workflow.info()
        return info.is_continue_as_new_suggested() or info.get_current_history_length() > CONTINUE_AS_NEW_EVERY

    async def _launch(self, request: RolloutInput, slot: Slot) -> None:
        try:
            self._children[slot.index] = await self._start_vm_run(request, slot)
        except WorkflowAlreadyStartedError:
            self.book.mark_elsewhere(slot.index)
            return
        if self.book.status(slot.index) is VmStatus.PENDING:  # the child may already have reported back
            self.book.mark_started(slot.index)

    async def _start_vm_run(self, request: RolloutInput, slot: Slot) -> workflow.ChildWorkflowHandle[Any, Any]:
        """The slot's VM run, reporting back here (``vm_finished``): an encryption, or for a migrate rollout a
        migration (issue 16), on the queue the client chose (the create queue: its worker may write VMs and disks).
        Either way the VM counts in the waves, canary and failure budget alike."""
        run: Any
        summary: Callable[[Any], str]
        details: Callable[[Any], str]
        if self._migrates:
            vm_input: Any = migration_child_input(request, slot, workflow.info().workflow_id)
            run, summary, details = MigrateToHostEncryptionWorkflow.run, migrate_summary, migrate_details
        else:
            settings = request.settings[slot.settings_index]
            vm_input = settings.to_encrypt_input(slot.vm, request.policy, request.rollout_id)
            vm_input = replace(vm_input, notify_workflow_id=workflow.info().workflow_id, rollout_index=slot.index)
            run, summary, details = EncryptVmWorkflow.run, encrypt_summary, encrypt_details
        return await workflow.start_child_workflow(
            run,
            vm_input,
            id=self._vm_run_id(slot.vm),
            task_queue=request.task_queue or workflow.info().task_queue,
            parent_close_policy=workflow.ParentClosePolicy.ABANDON,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
            static_summary=summary(vm_input),
            static_details=details(vm_input),
        )

    def _publish(self) -> None:
        """Current details, and ``AdeRule`` while halted (the reason code), so the UI's list says why."""
        counts = self.book.counts()
        workflow.set_current_details(
            f"**{self.book.stage().value}** wave {self.book.state.wave}: "
            + ", ".join(f"{name} {n}" for name, n in counts.items() if n)
            + (f" — {self.book.state.halted}" if self.book.state.halted else "")
        )
        reason = self.book.state.halted_reason
        if reason != self._rule_shown:
            workflow.upsert_search_attributes([RULE_KEY.value_set(reason) if reason else RULE_KEY.value_unset()])
            self._rule_shown = reason

    # -- messages --------------------------------------------------------------------------------------------

    @workflow.signal(description="A VM run reports how it ended (sent by the VM run itself).")
    def vm_finished(self, event: VmFinished) -> None:
        if self._book is None:
            self._early.append(event)
        else:
            self._book.mark_finished(event)
            self._publish()  # a halt shows at once (AdeRule, current details), not at the next launch

    @workflow.query(description="Counts, wave, ETA, failures, refusals and the rollout's log.")
    def progress(self) -> RolloutProgress:
        return self.book.progress()

    @workflow.query(description="The rollout's VMs, their wave (0: the canary) and status; argument: a wave or -1.")
    def members(self, wave: int) -> list[RolloutMember]:
        """What bulk decisions pick their VMs from (``adeflow migrate approve --wave N``): a query, no history."""
        return self.book.members(None if wave < 0 else wave)

    @workflow.update(description="Start no new VMs; running VMs finish. Argument: the operator's name.")
    def pause(self, operator: str) -> str:
        return self._steered(self.book.pause(operator))

    @pause.validator
    def _check_pause(self, operator: str) -> None:
        _need_operator(operator)
        self._need_open()
        if self.book.stage() is not RolloutStage.RUNNING:
            raise ValueError(f"cannot pause: the rollout is {self.book.stage().value}")

    @workflow.update(
        description="Continue a paused or halted rollout (accepts the failures so far). Argument: the operator's name."
    )
    def resume(self, operator: str) -> str:
        return self._steered(self.book.resume(operator))

    @resume.validator
    def _check_resume(self, operator: str) -> None:
        _need_operator(operator)
        self._need_open()
        if self.book.stage() not in (RolloutStage.PAUSED, RolloutStage.HALTED):
            raise ValueError(f"cannot resume: the rollout is {self.book.stage().value}")

    @workflow.update(description="Start no new VMs and end once running VMs finish. Argument: the operator's name.")
    def cancel(self, operator: str) -> str:
        return self._steered(self.book.cancel(operator))

    @cancel.validator
    def _check_cancel(self, operator: str) -> None:
        _need_operator(operator)
        self._need_open()
        if self.book.stage() in (RolloutStage.CANCELLING, RolloutStage.CANCELLED, RolloutStage.COMPLETED):
            raise ValueError(f"cannot cancel: the rollout is {self.book.stage().value}")

    @workflow.update(description="Queue the failed VMs again and lift a halt. Argument: the operator's name.")
    def retry_failed(self, operator: str) -> str:
        return self._steered(self.book.retry_failed(operator))

    @retry_failed.validator
    def _check_retry(self, operator: str) -> None:
        _need_operator(operator)
        self._need_open()
        if self.book.state.cancelled:
            raise ValueError("cannot retry: the rollout was cancelled")
        if not self.book.counts()["failed"]:
            raise ValueError("no failed VMs to retry")

    @workflow.update(description="Leave a pending VM out of the rollout. Arguments: the VM (name or id), the operator.")
    def skip(self, vm: str, operator: str) -> str:
        return self._steered(self.book.skip(vm, operator))

    def _steered(self, answer: str) -> str:
        self._publish()
        return answer

    @skip.validator
    def _check_skip(self, vm: str, operator: str) -> None:
        _need_operator(operator)
        self._need_open()
        slot = self.book.find(vm)
        if slot is None:
            raise ValueError(f"{vm} is not in rollout {self.book.request.rollout_id}")
        if self.book.status(slot.index) is not VmStatus.PENDING:
            status = self.book.status(slot.index).name.lower()
            raise ValueError(f"{slot.vm.name} cannot be skipped: it is {status}")

    def _need_open(self) -> None:
        if self._closing:
            raise ValueError(f"the rollout is {self.book.stage().value}; it is waiting for its last VM runs to close")


def _need_operator(operator: str) -> None:
    if not operator.strip():
        raise ValueError("name the operator (it is recorded in the rollout's log)")
