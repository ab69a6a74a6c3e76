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
from temporalio.common import MetricMeter

with workflow.unsafe.imports_passed_through():
    from adeflow.domain.migration import MigrationOutcome, MigrationPhase
    from adeflow.domain.model import BackupMethod, Outcome, Phase

DURATION_BUCKETS_S = (60, 300, 900, 1800, 3600, 2 * 3600, 4 * 3600, 8 * 3600, 16 * 3600, 24 * 3600, 48 * 3600)
"""Seconds; ADE passes take minutes (data) to many hours (a large OS disk), far past the SDK's default buckets."""
ENCRYPTION_DURATION = "adeflow_encryption_duration_seconds"
BACKUP_DURATION = "adeflow_backup_duration_seconds"
VMS_FINISHED = ("adeflow_vms_finished", "VM runs finished, by outcome")
PHASES_ENTERED = ("adeflow_vm_phases_entered", "VM runs that entered a phase")

_ENDINGS = (Phase.DONE, Phase.FAILED, Phase.REFUSED)
VM_RUNS: dict[str, tuple[tuple[StrEnum, ...], tuple[StrEnum, ...]]] = {
    "EncryptVmWorkflow": (
        (Outcome.ENCRYPTED, Outcome.REFUSED, Outcome.FAILED),
        (Phase.PREFLIGHT, Phase.BACKUP, Phase.PLAN, Phase.ENABLE, Phase.ENCRYPTING, Phase.VERIFY, *_ENDINGS),
    ),
    "DisableEncryptionWorkflow": (
        (Outcome.DISABLED, Outcome.REFUSED, Outcome.FAILED),
        (Phase.PREFLIGHT, Phase.BACKUP, Phase.DISABLE, Phase.DECRYPTING, Phase.REMOVE, *_ENDINGS),
    ),
    "RemoveExtensionWorkflow": (
        (Outcome.EXTENSION_REMOVED, Outcome.REFUSED, Outcome.FAILED),
        (Phase.PREFLIGHT, Phase.REMOVE, *_ENDINGS),
    ),
    "CreateVmFromEncryptedVhdWorkflow": (
        (Outcome.ENCRYPTED, Outcome.REFUSED, Outcome.FAILED),
        (Phase.PREFLIGHT, Phase.CREATE, Phase.VERIFY, *_ENDINGS),
    ),
    "MigrateToHostEncryptionWorkflow": (tuple(MigrationOutcome), tuple(MigrationPhase)),
}
"""Each per-VM workflow type's outcomes and phases: the label values its counters can take."""


def register_at_zero(meter: MetricMeter, namespace: str, task_queue: str) -> None:
    """Create every series of the VM-run counters at 0 when a worker starts, with the labels the workflows' own
    meter adds (namespace, task queue, workflow type): a dashboard shows 0 failed VMs, not "no data", until the
    first VM run ends, and ``increase()`` counts the first one (a series born at 1 has no increase)."""
    scoped = meter.with_additional_attributes({"namespace": namespace, "task_queue": task_queue})
    finished, entered = scoped.create_counter(*VMS_FINISHED), scoped.create_counter(*PHASES_ENTERED)
    for workflow_type, (outcomes, phases) in VM_RUNS.items():
        for outcome in outcomes:
            finished.add(0, {"outcome": outcome.value, "workflow_type": workflow_type})
        for phase in phases:
            entered.add(0, {"phase": phase.value, "workflow_type": workflow_type})


class Timed(Protocol):
    """A phase's timing: the ADE runs' ``PhaseTiming`` and the migration's ``MigrationPhaseTiming``."""

    @property
    def phase(self) -> StrEnum: ...

    @property
    def seconds(self) -> float: ...


def phase_entered(phase: StrEnum) -> None:
    workflow.metric_meter().create_counter(*PHASES_ENTERED).add(1, {"phase": phase.value})


def vm_finished(outcome: str, timings: Sequence[Timed], backup: BackupMethod | None = None) -> None:
    """One VM run ended: count it by outcome, and record how long its backup and encryption phases took."""
    meter = workflow.metric_meter()
    meter.create_counter(*VMS_FINISHED).add(1, {"outcome": outcome})
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
