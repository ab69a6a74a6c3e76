"""A stand-in for the per-VM run, registered under its name, for tests of the rollout's own mechanics.

Kept in a module of its own with few imports: the workflow sandbox re-imports the module of every workflow.
"""

from __future__ import annotations

import contextlib
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from adeflow.domain.model import EncryptVmInput
    from adeflow.domain.rollout import VmFinished
    from workflows.steps import StepFailed, call


@workflow.defn(name="EncryptVmWorkflow")
class StandInVmRun:
    """Takes one poll interval, then reports like the real VM run; names containing 'bad' fail."""

    @workflow.run
    async def run(self, request: EncryptVmInput) -> None:
        await workflow.sleep(timedelta(seconds=request.poll_interval_s))
        outcome = "failed" if "bad" in request.vm.name else "encrypted"
        event = VmFinished(request.rollout_index, outcome, reason="stand-in" if outcome == "failed" else "")
        with contextlib.suppress(ApplicationError):  # nobody listens (a run started outside any rollout)
            await workflow.get_external_workflow_handle(request.notify_workflow_id).signal("vm_finished", event)


@workflow.defn
class OutageProbe:
    """One ARM step (``workflows.steps.call``) whose activity never reaches ARM: what an operator sees."""

    @workflow.run
    async def run(self, vm_name: str) -> str:
        try:
            await call(UnreachableArm.read_vm, vm_name, timedelta(minutes=1), during=f"reading VM {vm_name}")
        except StepFailed as failed:
            return f"{failed.reason}: {failed.message}"
        return "reached"


class UnreachableArm:
    """An ARM activity (a method, as ``call`` takes them) whose endpoint always refuses the connection."""

    @activity.defn(name="unreachable_arm")
    async def read_vm(self, vm_name: str) -> None:
        raise ConnectionRefusedError(f"ARM endpoint refused the connection (reading {vm_name})")
