"""Failures in histories: expected ones (a benign "still encrypting", a final classified failure) carry no stack
trace, unexpected ones keep theirs; and a failed run's reason in one line for operators."""

from __future__ import annotations

import itertools

import pytest
from temporalio.api.failure.v1 import Failure
from temporalio.client import WorkflowFailureError
from temporalio.converter import DataConverter
from temporalio.exceptions import (
    ActivityError,
    ApplicationError,
    ApplicationErrorCategory,
    CancelledError,
    TerminatedError,
    TimeoutError,
    TimeoutType,
)

from adeflow.client.codec import data_converter
from adeflow.client.failures import QuietBenignFailureConverter, failure_reason


def _raised(error: ApplicationError) -> ApplicationError:
    try:
        raise error
    except ApplicationError as caught:
        return caught


def _failure(error: ApplicationError) -> Failure:
    converter = data_converter(None)
    failure = Failure()
    converter.failure_converter.to_failure(_raised(error), converter.payload_converter, failure)
    return failure


def test_still_encrypting_poll_failure_has_no_stack_trace_but_keeps_its_message_and_details() -> None:
    failure = _failure(
        ApplicationError(
            "still encrypting vm-1: os: EncryptionInProgress",
            "os: EncryptionInProgress, data: Encrypted",
            type="EncryptionInProgress",
            category=ApplicationErrorCategory.BENIGN,
        )
    )
    assert failure.stack_trace == ""
    assert failure.message == "still encrypting vm-1: os: EncryptionInProgress"
    assert failure.application_failure_info.type == "EncryptionInProgress"
    assert len(failure.application_failure_info.details.payloads) == 1


def test_a_real_failure_keeps_its_stack_trace() -> None:
    failure = _failure(ApplicationError("vm-1: extension failed", type="extension-provisioning-failed"))
    assert "test_failures.py" in failure.stack_trace


def test_a_final_classified_failure_shows_its_message_without_stack_traces() -> None:
    """A non-retryable ApplicationError is an expected outcome (ARM's 404 with its code, a failed operation): the
    activity's result in the UI is its message, not Python frames, down the whole cause chain."""
    try:
        try:
            raise OSError("HTTP 404 from the Azure SDK")
        except OSError as sdk_error:
            raise ApplicationError(
                "reading VM web-01: ARM answered 404 ResourceNotFound", type="ResourceNotFound", non_retryable=True
            ) from sdk_error
    except ApplicationError as error:
        failure = _convert(error, data_converter(None))
    assert failure.message == "reading VM web-01: ARM answered 404 ResourceNotFound"
    assert failure.application_failure_info.type == "ResourceNotFound"
    assert (failure.stack_trace, failure.cause.stack_trace) == ("", "")
    assert failure.cause.message == "HTTP 404 from the Azure SDK"


class _EncodingAttributes(QuietBenignFailureConverter):
    """Failure messages and traces moved into an (encryptable) payload, as payload encryption may ask."""

    def __init__(self) -> None:
        super().__init__(encode_common_attributes=True)


def test_with_encoded_failure_attributes_the_trace_is_dropped_inside_them_too() -> None:
    converter = DataConverter(failure_converter_class=_EncodingAttributes)
    failure = _convert(_raised(ApplicationError("refused", type="precondition-broken", non_retryable=True)), converter)
    attributes = converter.payload_converter.from_payloads([failure.encoded_attributes])[0]
    assert attributes == {"message": "refused", "stack_trace": ""}


def test_an_unexpected_error_keeps_its_stack_trace() -> None:
    try:
        raise KeyError("properties")
    except KeyError as error:
        failure = _convert(error, data_converter(None))
    assert "test_failures.py" in failure.stack_trace


def _convert(error: BaseException, converter: DataConverter) -> Failure:
    failure = Failure()
    converter.failure_converter.to_failure(error, converter.payload_converter, failure)
    return failure


def _activity(name: str) -> ActivityError:
    return ActivityError(
        "Activity task failed",
        scheduled_event_id=5,
        started_event_id=6,
        identity="worker",
        activity_type=name,
        activity_id="1",
        retry_state=None,
    )


def _chain(*errors: BaseException) -> BaseException:
    for outer, inner in itertools.pairwise(errors):
        outer.__cause__ = inner
    return errors[0]


@pytest.mark.parametrize(
    ("chain", "reason"),
    [
        (
            _chain(
                WorkflowFailureError(cause=_activity("find_vms")),
                _activity("find_vms"),
                ApplicationError("selector m.yaml:3: ARM answered 404", type="SubscriptionNotFound"),
            ),
            "find_vms failed: SubscriptionNotFound: selector m.yaml:3: ARM answered 404",
        ),
        (
            _chain(WorkflowFailureError(cause=TerminatedError("by alice")), TerminatedError("by alice")),
            "terminated: by alice",
        ),
        (
            _chain(WorkflowFailureError(cause=CancelledError()), CancelledError()),
            "cancelled",
        ),
        (
            _chain(
                WorkflowFailureError(
                    cause=TimeoutError("", type=TimeoutType.START_TO_CLOSE, last_heartbeat_details=[])
                ),
                TimeoutError("", type=TimeoutType.START_TO_CLOSE, last_heartbeat_details=[]),
            ),
            "timed out (start-to-close)",
        ),
    ],
)
def test_failure_reason_names_the_step_and_the_innermost_cause(chain: BaseException, reason: str) -> None:
    assert failure_reason(chain) == reason
