"""How failures are written into histories: expected "not yet" failures carry no stack trace.

A benign ApplicationError (``EncryptionInProgress`` of the poll-by-retry, docs/original-design.md §4) is a status
report, not a bug: its stack trace (about 1.4 KB of SDK and interceptor frames) said nothing to an operator in the
UI, and it sat in every VM run's history as the last attempt's ``lastFailure``, making a run that polled at least once
about 11 % larger than one that did not (BENCHMARKS.md, history bytes). Every other failure keeps its trace.
"""

from __future__ import annotations

from temporalio.api.failure.v1 import Failure
from temporalio.converter import DefaultFailureConverter, PayloadConverter
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory


class QuietBenignFailureConverter(DefaultFailureConverter):
    def to_failure(self, exception: BaseException, payload_converter: PayloadConverter, failure: Failure) -> None:
        super().to_failure(exception, payload_converter, failure)
        if isinstance(exception, ApplicationError) and exception.category is ApplicationErrorCategory.BENIGN:
            failure.stack_trace = ""
