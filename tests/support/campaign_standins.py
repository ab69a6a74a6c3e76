"""A VM run that another rollout is doing, registered under the VM run's name: it waits, with no timer, until the
test ends it. Kept in a module of its own with few imports: the workflow sandbox re-imports it."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from adeflow.domain.model import EncryptVmInput


@workflow.defn(name="EncryptVmWorkflow")
class BusyVmRun:
    """No timer and no pending task while it waits, so the time-skipping server keeps skipping other runs' time."""

    def __init__(self) -> None:
        self._released = False

    @workflow.run
    async def run(self, request: EncryptVmInput) -> None:
        await workflow.wait_condition(lambda: self._released)

    @workflow.signal
    def release(self) -> None:
        self._released = True
