"""From an audit campaign's report to a migration plan: which VMs move, on which path (M-3, M-4), and readiness.

The audit knows each VM's ADE state and its path before ADE retires (``campaign_plan.state``); this module decides
what a migration manifest written from it says per VM, and feeds the readiness view. The audit's view may be stale
by the time the migration runs: the path is written explicitly, so the preflight refuses a VM whose state changed
(an OS volume encrypted since) instead of silently taking another path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from adeflow.domain.campaign_plan.state import AdeState, RetirementPath
from adeflow.domain.migration.payloads import PathPolicy
from adeflow.domain.migration.readiness import ReadinessEntry
from adeflow.domain.model import VmRef


@dataclass(frozen=True)
class AuditedVm:
    """One row of a campaign report: the VM, its ADE state and retirement path as the campaign saw them."""

    vm: VmRef
    state: AdeState
    retirement: RetirementPath
    reason: str = ""


@dataclass(frozen=True)
class AuditReport:
    campaign: str
    kind: str
    run: str
    action_time: str
    vms: list[AuditedVm] = field(default_factory=list)


@dataclass(frozen=True)
class PlannedVm:
    """A VM in the exported manifest: its path and, when the audit saw something to know, a note for the operator."""

    vm: VmRef
    path: PathPolicy
    note: str = ""


@dataclass(frozen=True)
class MigrationPlan:
    copy_disks: list[PlannedVm]
    """M-3: data-only ADE (or ADE once, decrypted since): disable, copy every disk into new Upload disks."""
    rebuild: list[PlannedVm]
    """M-4: the OS volume is encrypted (or the previous ADE release): a new VM from an image, the data moved by
    its owner."""
    unreadable: list[VmRef]
    """The audit could not read them: run it again before planning them."""
    nothing_to_do: dict[str, int]
    """Retirement path value -> VMs that need no migration (no ADE, already encryption at host)."""

    @property
    def needs_image(self) -> bool:
        return bool(self.rebuild)


def plan_path(vm: AuditedVm) -> PlannedVm | None:
    """M-3 for data-only ADE, M-4 for an encrypted OS volume; the previous ADE release (Microsoft Entra ID app) is
    rebuilt, since adeflow does not disable that release (R-LIM-1); None for a VM with nothing to migrate."""
    note = ""
    if vm.state is AdeState.IN_PROGRESS:
        note = "an ADE operation was running at the audit; the migration waits for it to end (R-LIM-2)"
    elif vm.state is AdeState.EXTENSION_REMOVED:
        note = "disks encrypted, extension removed (R-DIS-2): the disable re-installs it first"
    if vm.state is AdeState.LEGACY and vm.retirement in (RetirementPath.DISABLE_THEN_HOST, RetirementPath.REBUILD):
        return PlannedVm(
            vm.vm,
            PathPolicy.REBUILD,
            "previous ADE release (R-LIM-1): adeflow cannot disable it; migrate the extension to the current "
            "release and plan it as copy-disks (M-3) instead, if you prefer",
        )
    if vm.retirement is RetirementPath.DISABLE_THEN_HOST:
        return PlannedVm(vm.vm, PathPolicy.COPY_DISKS, note)
    if vm.retirement is RetirementPath.REBUILD:
        return PlannedVm(vm.vm, PathPolicy.REBUILD, note)
    return None


def migration_plan(report: AuditReport) -> MigrationPlan:
    planned = [(vm, plan_path(vm)) for vm in report.vms]
    nothing: dict[str, int] = {}
    for vm, plan in planned:
        if plan is None and vm.retirement is not RetirementPath.UNKNOWN:
            nothing[vm.retirement.value] = nothing.get(vm.retirement.value, 0) + 1
    return MigrationPlan(
        copy_disks=[p for _, p in planned if p is not None and p.path is PathPolicy.COPY_DISKS],
        rebuild=[p for _, p in planned if p is not None and p.path is PathPolicy.REBUILD],
        unreadable=[vm.vm for vm in report.vms if vm.retirement is RetirementPath.UNKNOWN],
        nothing_to_do=dict(sorted(nothing.items())),
    )


def readiness_entries(report: AuditReport, planned: dict[str, date] | None = None) -> list[ReadinessEntry]:
    """The report's VMs as readiness entries; ``planned`` maps ``VmRef.key`` (any case) to a start date."""
    dates = {k.lower(): v for k, v in (planned or {}).items()}
    return [ReadinessEntry(vm.vm, vm.retirement, dates.get(vm.vm.key.lower())) for vm in report.vms]
