"""adeflow's own workflow metrics, on the worker's Prometheus endpoint beside the SDK's.

Recorded through ``workflow.metric_meter()``, which drops everything while a history replays, so a worker
restart or a cache eviction never counts a VM twice. The SDK labels them with ``workflow_type``, ``namespace``
and ``task_queue``. Durations are workflow time: the real elapsed time in production (and the simulated time
under the time-skipping test server).
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from typing import Protocol

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from adeflow.domain.model import BackupMethod, Phase

DURATION_BUCKETS_S = (60, 300, 900, 1800, 3600, 2 * 3600, 4 * 3600, 8 * 3600, 16 * 3600, 24 * 3600, 48 * 3600)
"""Seconds; ADE passes take minutes (data) to many hours (a large OS disk), far past the SDK's default buckets."""
ENCRYPTION_DURATION = "adeflow_encryption_duration_seconds"
BACKUP_DURATION = "adeflow_backup_duration_seconds"


class Timed(Protocol):
    """A phase's timing: the ADE runs' ``PhaseTiming`` and the migration's ``MigrationPhaseTiming``."""

    @property
    def phase(self) -> StrEnum: ...

    @property
    def seconds(self) -> float: ...


def phase_entered(phase: StrEnum) -> None:
    workflow.metric_meter().create_counter("adeflow_vm_phases_entered", "VM runs that entered a phase").add(
        1, {"phase": phase.value}
    )


def vm_finished(outcome: str, timings: Sequence[Timed], backup: BackupMethod | None = None) -> None:
    """One VM run ended: count it by outcome, and record how long its backup and encryption phases took."""
    meter = workflow.metric_meter()
    meter.create_counter("adeflow_vms_finished", "VM runs finished, by outcome").add(1, {"outcome": outcome})
    for timing in timings:
        # Values, not identity: the migration's own ``decrypting`` phase counts here too.
        if timing.phase.value in (Phase.ENCRYPTING.value, Phase.DECRYPTING.value):
            meter.create_histogram_float(
                ENCRYPTION_DURATION, "Time from the extension PUT to the end of encryption (or decryption)", "s"
            ).record(timing.seconds, {"outcome": outcome})
        elif timing.phase.value == Phase.BACKUP.value and backup is not None:
            meter.create_histogram_float(
                BACKUP_DURATION, "Time the pre-encryption backup gate took, by method", "s"
            ).record(timing.seconds, {"method": backup.value})
