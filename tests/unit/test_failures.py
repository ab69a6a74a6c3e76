"""Failures in histories: a benign "still encrypting" carries no stack trace, real failures keep theirs."""

from __future__ import annotations

from temporalio.api.failure.v1 import Failure
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory

from adeflow.client.codec import data_converter


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
