"""The shape every per-VM workflow shares, written once: its id, the result so far, how a run ends, what it tells.

``VmRunWorkflow`` is the base of the four per-VM workflows (encrypt, disable, remove the extension, create from a
VHD), which then hold only their runbook. It tags the VM's search attributes, tracks the phases, answers the
``progress`` query, and ends a run in one of three ways: refused (nothing was changed; the rule and the fix),
failed (a step ended it; what had been done, e.g. snapshot ids, is still in the result) or finished. Every ending
sets ``AdeOutcome`` (and, for a refusal or a failure, ``AdeRule``: the rule id or reason code, so the UI's list says
why without opening the run), counts the VM in ``adeflow_vms_finished`` and logs one line, whichever workflow it is.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from enum import StrEnum
from typing import Generic, TypeVar

from temporalio import workflow

from workflows import metrics

with workflow.unsafe.imports_passed_through():
    from adeflow.domain.model import (
        BackupMethod,
        Outcome,
        Phase,
        PhaseTiming,
        Refusal,
        VmRef,
        VmRunProgress,
        VmRunResult,
    )
    from workflows.steps import (
        OUTCOME_KEY,
        RESOURCE_GROUP_KEY,
        ROLLOUT_KEY,
        RULE_KEY,
        SUBSCRIPTION_KEY,
        VM_KEY,
        PhaseTracker,
        StepFailed,
        vm_phases,
    )

ResultT = TypeVar("ResultT", bound=VmRunResult)
PhaseT = TypeVar("PhaseT", bound=StrEnum)
TimingT = TypeVar("TimingT", bound=metrics.Timed)


def vm_workflow_id(kind: str, vm: VmRef) -> str:
    """``<kind>/<vm>/<rg>/<subscription>``, lower-cased: the VM's name first (operators scan the UI list for it),
    and one id per VM and kind, so two runs of a kind cannot overlap on one VM. ARM names are case-insensitive,
    so ``Web-01`` and ``web-01`` are one VM and must give one id, not two runs."""
    return f"{kind}/{vm.name}/{vm.resource_group}/{vm.subscription_id}".lower()


def tag_vm(vm: VmRef, rollout_id: str) -> None:
    """Search attributes that let operators find a VM's runs in the UI (AdeVmName, AdeSubscription, ...)."""
    attributes = [
        VM_KEY.value_set(vm.name),
        RESOURCE_GROUP_KEY.value_set(vm.resource_group),
        SUBSCRIPTION_KEY.value_set(vm.subscription_id),
    ]
    if rollout_id:
        attributes.append(ROLLOUT_KEY.value_set(rollout_id))
    workflow.upsert_search_attributes(attributes)


class RunShell(Generic[PhaseT, TimingT]):
    """What every per-VM run does whatever its result type: the phase tracker, the VM's search attributes, and the
    ending (last phase, ``AdeOutcome``, the finished-VMs metric, one log line). The ADE runs build on it through
    :class:`VmRunWorkflow`; the migration (``workflows.migrate_vm``) directly, with its own phases and result."""

    def __init__(self, tracker: PhaseTracker[PhaseT, TimingT]) -> None:
        self.tracker = tracker

    def start(self, vm: VmRef, rollout_id: str, reading: str) -> None:
        """Tag the VM and enter the first phase (``reading`` says what is read first)."""
        tag_vm(vm, rollout_id)
        self.enter(self.tracker.phase, reading)

    def enter(self, phase: PhaseT, detail: str) -> None:
        self.tracker.enter(phase, detail)

    def end(
        self, vm: VmRef, phase: PhaseT, outcome: str, detail: str, backup: BackupMethod | None, why: str = ""
    ) -> None:
        """The run's last phase, its ``AdeOutcome`` (and ``AdeRule`` when ``why`` names a rule or reason: a refusal
        or a failure), the finished-VMs metric and one log line."""
        self.enter(phase, detail)
        attributes = [OUTCOME_KEY.value_set(outcome)]
        if why:
            attributes.append(RULE_KEY.value_set(why))
        workflow.upsert_search_attributes(attributes)
        metrics.vm_finished(outcome, self.tracker.timings, backup)
        workflow.logger.info("%s: %s", vm.name, outcome, extra={"vm": vm.name})


class VmRunWorkflow(RunShell[Phase, PhaseTiming], Generic[ResultT]):
    """Base of a per-VM workflow; the subclass's ``@workflow.run`` calls :meth:`execute` with its runbook."""

    def __init__(self, blank: ResultT) -> None:
        super().__init__(vm_phases())
        self.done = blank
        """What has been done to the VM so far; a failed or refused result still says it."""

    @workflow.query(description="The run's phase and what it is doing, in plain words.")
    def progress(self) -> VmRunProgress:
        """The phase and a plain-words line for operators (``adeflow vm status``, the UI's query tab)."""
        return VmRunProgress(self.tracker.phase, self.tracker.detail)

    async def execute(
        self, vm: VmRef, rollout_id: str, reading: str, runbook: Callable[[], Awaitable[ResultT]]
    ) -> ResultT:
        """Tag the VM, enter ``preflight`` (``reading`` says what is read first), then run the runbook; a step
        that fails (:class:`StepFailed`) ends the run as failed, with what was done so far."""
        self.done = replace(self.done, vm=vm)
        self.start(vm, rollout_id, reading)
        try:
            return await runbook()
        except StepFailed as failure:
            return self.fail(failure)

    def refuse(self, refusals: Sequence[Refusal]) -> ResultT:
        """Nothing was changed on the VM: the first refusal's rule and reason, every refusal's words and fix."""
        first = refusals[0]
        message = " ".join(r.render(self.done.vm) for r in refusals)
        return self.finish(
            replace(self.done, outcome=Outcome.REFUSED, reason=first.reason, rule=first.rule, message=message),
            Phase.REFUSED,
        )

    def fail(self, failure: StepFailed) -> ResultT:
        return self.finish(
            replace(self.done, outcome=Outcome.FAILED, reason=failure.reason, message=failure.message), Phase.FAILED
        )

    def finish(self, result: ResultT, phase: Phase = Phase.DONE) -> ResultT:
        """The run's last phase, its ``AdeOutcome`` and ``AdeRule`` (one upsert, so histories recorded before
        ``AdeRule`` existed replay unchanged), the finished-VMs metric and one log line; the result carries the
        phases' timings."""
        why = result.rule or result.reason if result.outcome in (Outcome.REFUSED, Outcome.FAILED) else ""
        detail = result.message or result.outcome.value
        self.end(result.vm, phase, result.outcome.value, detail, result.backup_method, why)
        self.done = replace(result, timings=list(self.tracker.timings))
        return self.done
