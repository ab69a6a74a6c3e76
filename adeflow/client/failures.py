"""How failures are written into histories, and read back for operators.

Expected failures carry no Python stack trace: a benign ApplicationError (``EncryptionInProgress`` of the
poll-by-retry, docs/original-design.md §4) is a status report, and a non-retryable one is a classified outcome
(ARM's 403/404/409 with its code, a failed Azure operation, a refused precondition) whose message already says what
happened and what to do. Their traces (about 1.4 KB of SDK, interceptor and Azure SDK frames, through the whole
cause chain) said nothing to an operator reading the activity's result in the UI, and made a run that polled at
least once about 11 % larger (BENCHMARKS.md, history bytes). The worker's log keeps the trace of every failed
activity (the SDK logs it), and every other failure (an unexpected exception, a retryable error) keeps its trace
in the history too.
"""

from __future__ import annotations

from typing import Any

from temporalio.api.failure.v1 import Failure
from temporalio.client import WorkflowFailureError
from temporalio.converter import DefaultFailureConverter, PayloadConverter
from temporalio.exceptions import (
    ActivityError,
    ApplicationError,
    ApplicationErrorCategory,
    CancelledError,
    ChildWorkflowError,
    TerminatedError,
    TimeoutError,
)


def expected(exception: BaseException) -> bool:
    """A failure adeflow raised on purpose and explained in its message: benign, or final (non-retryable)."""
    return isinstance(exception, ApplicationError) and (
        exception.category is ApplicationErrorCategory.BENIGN or exception.non_retryable
    )


def _drop_traces(failure: Failure, payload_converter: PayloadConverter) -> None:
    """Clear the stack trace of ``failure`` and its causes, also inside encoded attributes (failure encryption)."""
    level: Failure | None = failure
    while level is not None:
        level.stack_trace = ""
        if level.HasField("encoded_attributes"):
            attributes: dict[str, Any] = payload_converter.from_payloads([level.encoded_attributes])[0]
            if attributes.get("stack_trace"):
                attributes["stack_trace"] = ""
                level.encoded_attributes.CopyFrom(payload_converter.to_payloads([attributes])[0])
        level = level.cause if level.HasField("cause") else None


class QuietBenignFailureConverter(DefaultFailureConverter):
    """The SDK's converter, without stack traces for expected failures (:func:`expected`)."""

    def to_failure(self, exception: BaseException, payload_converter: PayloadConverter, failure: Failure) -> None:
        super().to_failure(exception, payload_converter, failure)
        if expected(exception):
            _drop_traces(failure, payload_converter)


def failure_reason(error: BaseException) -> str:
    """Why a workflow run did not complete, in one line: the innermost cause, with the step that failed.

    ``WorkflowFailureError -> ActivityError(find_vms) -> ApplicationError(SubscriptionNotFound)`` reads
    ``find_vms failed: SubscriptionNotFound: <adeflow's message>`` (the error adeflow raised, not the Azure SDK's
    exception behind it)."""
    steps: list[str] = []
    level: BaseException | None = error
    last: BaseException = error
    while level is not None:
        if isinstance(level, ActivityError):
            steps.append(f"{level.activity_type} failed")
        elif isinstance(level, ChildWorkflowError):
            steps.append(f"{level.workflow_type} {level.workflow_id} failed")
        last = level
        level = level.cause if isinstance(level, WorkflowFailureError | ActivityError | ChildWorkflowError) else None
    if isinstance(last, TerminatedError):
        what = f"terminated: {last.message}"
    elif isinstance(last, CancelledError):
        what = "cancelled"
    elif isinstance(last, TimeoutError):
        what = f"timed out ({last.type.name.lower().replace('_', '-')})" if last.type else "timed out"
        if isinstance(last.cause, ApplicationError):
            what += f" after: {last.cause.message}"
    elif isinstance(last, ApplicationError) and last.type:
        what = f"{last.type}: {last.message}"
    else:
        what = str(last).strip().splitlines()[0] if str(last).strip() else type(last).__name__
    return ": ".join([*steps, what])
