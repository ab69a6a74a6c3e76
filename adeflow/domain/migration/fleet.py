"""A migration manifest as the domain sees it: the fleet, as for a rollout, and each VM's ``migrate`` settings.

The manifest's top-level ``migrate:`` section holds the fleet's settings; a VM's or a selector's own ``migrate:``
replaces them key by key (each key as a whole, like the rollout settings). The rollout policy (waves, canary,
failure budget, poll interval and deadline) and the backup settings (R-BAK-2, before the M-3 disable) are the
rollout manifest's. :func:`migration_inputs` turns the listed VMs into the per-VM workflow's inputs;
:meth:`MigrationSettings.to_input` does the same for a VM that a selector finds at run time.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import date
from typing import Any

from adeflow.domain.fleet import Manifest, ResolvedVm, RolloutPolicy, Selector, VmSettings
from adeflow.domain.migration.payloads import (
    DEFAULT_SUFFIX,
    CleanupPolicy,
    DowntimeWindow,
    MigrationInput,
    NicPolicy,
    PathPolicy,
    RebuildSpec,
    TargetNames,
)
from adeflow.domain.model import VmRef


@dataclass(frozen=True)
class MigrationSettings:
    """What the manifest says about one VM's migration; ``None``: not said, the input's default applies."""

    path_policy: PathPolicy | None = None
    rebuild: RebuildSpec | None = None
    nic_policy: NicPolicy | None = None
    downtime_window: DowntimeWindow | None = None
    """None: ``downtime: approval`` (or not given): the source is stopped only after a recorded approval (M-7)."""
    cleanup: CleanupPolicy | None = None
    target_suffix: str | None = None
    """Appended to the source's VM, disk and NIC names (default ``-eah``)."""
    target_name: str | None = None
    """The new VM's name, for one listed VM (default: the source's name and the suffix)."""
    register_feature: bool | None = None
    sas_duration_s: int | None = None
    copy_parallelism: int | None = None
    checkpoint_bytes: int | None = None
    reminder_interval_s: float | None = None

    def targets(self, vm: VmRef) -> TargetNames:
        suffix = self.target_suffix or DEFAULT_SUFFIX
        return TargetNames(vm_name=self.target_name or f"{vm.name}{suffix}", disk_suffix=suffix)

    def to_input(self, vm: VmRef, settings: VmSettings, rollout: RolloutPolicy, rollout_id: str = "") -> MigrationInput:
        """The per-VM workflow's input: these settings, the VM's backup settings and the rollout's timing."""
        given: dict[str, Any] = {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if f.name in _INPUT_FIELDS and getattr(self, f.name) is not None
        }
        return replace(
            MigrationInput(vm=vm),
            **given,
            targets=self.targets(vm),
            backup_policy=settings.backup,
            backup_waiver=settings.backup_waiver,
            poll_interval_s=rollout.poll_interval_s,
            deadline_s=rollout.encryption_deadline_s,
            rollout_id=rollout_id,
        )

    def planned(self) -> date | None:
        """When the migration is planned (readiness): the window's start, else its end (the latest it can be)."""
        window = self.downtime_window
        when = window.start or window.end if window is not None else None
        return when.date() if when is not None else None


_INPUT_FIELDS = frozenset(f.name for f in fields(MigrationInput)) - {"vm", "targets"}
"""Settings that are the input's own fields (the suffix and target name become ``targets``)."""


@dataclass(frozen=True)
class MigrationVm:
    vm: ResolvedVm
    migration: MigrationSettings


@dataclass(frozen=True)
class MigrationSelector:
    selector: Selector
    migration: MigrationSettings


@dataclass(frozen=True)
class MigrationManifest:
    source: str
    rollout: RolloutPolicy
    vms: list[MigrationVm]
    selectors: list[MigrationSelector]

    @property
    def fleet(self) -> Manifest:
        """The same fleet as a rollout manifest's (for the selector and rollout machinery)."""
        return Manifest(self.source, self.rollout, [v.vm for v in self.vms], [s.selector for s in self.selectors])


def migration_inputs(manifest: MigrationManifest, rollout_id: str = "") -> list[MigrationInput]:
    """One input per listed VM, in the manifest's order (a selector's VMs are known only at run time)."""
    return [
        entry.migration.to_input(entry.vm.ref, entry.vm.settings, manifest.rollout, rollout_id)
        for entry in manifest.vms
    ]


def planned_dates(manifest: MigrationManifest) -> dict[str, date]:
    """``VmRef.key`` (lower case) -> the planned date, for the listed VMs that have a downtime window."""
    dates = {entry.vm.ref.key.lower(): entry.migration.planned() for entry in manifest.vms}
    return {key: when for key, when in dates.items() if when is not None}
