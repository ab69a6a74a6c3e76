"""A whole fleet migrated as one rollout: the rollout machinery (waves, canary, failure budget, pause/resume/cancel)
with ``MigrateToHostEncryptionWorkflow`` as its VM run (issue 16, "Fleets").

Pure functions: the rollout's input from a migration manifest, each VM run's input, the report a migration sends
its rollout when it ends, and which of a rollout's VMs a bulk decision goes to. Kept out of
``adeflow.domain.migration``'s re-exports: it builds on ``adeflow.domain.rollout``, which builds on the migration's
settings.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from adeflow.domain.migration.evidence import MigrationOutcome, MigrationResult
from adeflow.domain.migration.fleet import MigrationManifest
from adeflow.domain.migration.payloads import MigrationInput
from adeflow.domain.rollout import (
    COUNT_NAMES,
    RolloutInput,
    RolloutKind,
    RolloutMember,
    Slot,
    VmFinished,
    VmStatus,
    compact_fleet,
)

SUCCESS = COUNT_NAMES[VmStatus.ENCRYPTED]
"""The rollout's one success count, which a migrate rollout shows as ``migrated``."""
RUNNING = COUNT_NAMES[VmStatus.RUNNING]


def build_migration_rollout(rollout_id: str, manifest: MigrationManifest, task_queue: str = "") -> RolloutInput:
    """The rollout of a migration manifest: its VMs and selectors, each with its backup settings (R-BAK-2, before
    the M-3 disable) and its ``migrate`` settings under one index. ``task_queue``: where the migrations run (the
    create queue: only the create worker may write VMs and disks)."""
    vms = [(entry.vm.ref, (entry.vm.settings, entry.migration)) for entry in manifest.vms]
    selectors = [
        (entry.selector.query(manifest.source), (entry.selector.settings, entry.migration))
        for entry in manifest.selectors
    ]
    pairs, targets, kept = compact_fleet(vms, selectors)
    return RolloutInput(
        rollout_id=rollout_id,
        policy=manifest.rollout,
        settings=[vm_settings for vm_settings, _ in pairs],
        targets=targets,
        task_queue=task_queue,
        selectors=kept,
        kind=RolloutKind.MIGRATE,
        migrations=[migration for _, migration in pairs],
    )


def migration_child_input(request: RolloutInput, slot: Slot, notify_workflow_id: str) -> MigrationInput:
    """The VM run's input: its settings index's ``migrate`` and backup settings, the rollout's timing, and whom to
    tell when it ends."""
    vm_settings = request.settings[slot.settings_index]
    migration = request.migrations[slot.settings_index]
    made = migration.to_input(slot.vm, vm_settings, request.policy, request.rollout_id)
    return replace(made, notify_workflow_id=notify_workflow_id, rollout_index=slot.index)


ROLLOUT_OUTCOMES: dict[MigrationOutcome, str] = {
    MigrationOutcome.MIGRATED: "migrated",
    MigrationOutcome.REFUSED: "refused",
    MigrationOutcome.FAILED: "failed",
    MigrationOutcome.ROLLED_BACK: "rolled-back",
}
"""How each outcome reaches the rollout (``RolloutBook.mark_finished``: migrated succeeds, refused is a refusal,
failed and rolled-back spend the failure budget)."""


def finished_report(index: int, result: MigrationResult) -> VmFinished:
    """What a migration tells its rollout when it ends: the outcome, the rule or reason, words, how long it took."""
    return VmFinished(
        index=index,
        outcome=ROLLOUT_OUTCOMES[result.outcome],
        reason=result.reason,
        rule=result.rule,
        message=result.message[:500],
        seconds=sum(t.seconds for t in result.timings),
    )


def migration_counts(counts: dict[str, int]) -> dict[str, int]:
    """A rollout's counts as a migrate rollout says them (``migrated`` for the success count), same order."""
    return {("migrated" if name == SUCCESS else name): n for name, n in counts.items()}


@dataclass(frozen=True)
class BulkChoice:
    """The VMs a bulk decision goes to (their migration is running) and the others asked for, with why not."""

    send: list[RolloutMember] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    """(VM name, why no decision goes to it)."""


def _matches(member: RolloutMember, needle: str) -> bool:
    ref = member.vm
    return needle.lower().rstrip("/") in (ref.name.lower(), ref.key.lower(), ref.resource_id.lower())


def choose_for_decision(members: list[RolloutMember], names: tuple[str, ...] | list[str] = ()) -> BulkChoice:
    """Of ``members`` (a wave's, or all), those named (any if none is), split into VMs whose migration runs now, so
    the decision goes to them, and the others with why not: not started yet, already ended, not in the rollout."""
    chosen = [m for m in members if not names or any(_matches(m, n) for n in names)]
    unknown = [
        (n, "not in this rollout (or not in the chosen wave)")
        for n in names
        if not any(_matches(m, n) for m in members)
    ]
    send = [m for m in chosen if m.status == RUNNING]
    skipped = [(m.vm.name, _not_running(m.status)) for m in chosen if m.status != RUNNING]
    return BulkChoice(send, skipped + unknown)


def _not_running(status: str) -> str:
    if status == COUNT_NAMES[VmStatus.PENDING]:
        return "its migration has not started yet (a later wave, or waiting for room)"
    shown = "migrated" if status == SUCCESS else status
    return f"its part in the rollout has ended ({shown}): no migration runs for it"
