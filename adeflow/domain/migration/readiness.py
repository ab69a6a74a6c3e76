"""Readiness for ADE's retirement: VMs per path and per month left until 2028-09-15, for the audit's export.

An audit campaign knows each VM's retirement path (``campaign_plan.state.retirement_path``); a migration manifest
adds when each VM is planned to move. This view says how many VMs still need M-3 or M-4, when they are planned,
which are planned too late or not at all, and the monthly pace that finishes before the date.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING

from adeflow.domain.campaign_plan.state import ADE_RETIREMENT, RetirementPath
from adeflow.domain.model import VmRef

if TYPE_CHECKING:  # a type only: importing it here would close the cycle rollout -> migration -> campaign payloads
    from adeflow.domain.campaign_plan.payloads import VmPlan

MIGRATION_RULES: dict[RetirementPath, str] = {
    RetirementPath.DISABLE_THEN_HOST: "M-3",
    RetirementPath.REBUILD: "M-4",
}
"""The paths that need a migration, and the rule each follows."""


@dataclass(frozen=True)
class ReadinessEntry:
    vm: VmRef
    path: RetirementPath
    planned: date | None = None
    """When its migration is planned to start (the downtime window); None: not planned."""
    migrated: bool = False


@dataclass(frozen=True)
class ReadinessMonth:
    month: str
    """``YYYY-MM``."""
    months_left: int
    """Whole months from this month to the retirement's month (0: the month ADE retires)."""
    counts: dict[str, int] = field(default_factory=dict)
    """Path value -> VMs planned to start that month."""


@dataclass(frozen=True)
class Readiness:
    as_of: date
    retirement: date
    days_left: int
    months_left: int
    per_path: dict[str, int]
    """Every VM by path value (already migrated VMs included)."""
    to_migrate: int
    """VMs on a migration path (M-3, M-4) not yet migrated."""
    migrated: int
    per_month: list[ReadinessMonth]
    unscheduled: dict[str, int]
    """Path value -> VMs to migrate with no planned date."""
    late: int
    """VMs planned on or after the retirement day: their disks will not unlock at the next reboot."""
    pace_per_month: int
    """VMs to migrate per month, from now, to finish before the date."""


def months_left(month: date, retirement: date = ADE_RETIREMENT) -> int:
    return (retirement.year - month.year) * 12 + retirement.month - month.month


def readiness(entries: list[ReadinessEntry], as_of: date, retirement: date = ADE_RETIREMENT) -> Readiness:
    per_path = Counter(e.path.value for e in entries)
    pending = [e for e in entries if e.path in MIGRATION_RULES and not e.migrated]
    by_month: dict[str, Counter[str]] = {}
    unscheduled: Counter[str] = Counter()
    late = 0
    for entry in pending:
        if entry.planned is None:
            unscheduled[entry.path.value] += 1
            continue
        if entry.planned >= retirement:
            late += 1
        by_month.setdefault(entry.planned.strftime("%Y-%m"), Counter())[entry.path.value] += 1
    left = max(months_left(as_of, retirement), 0)
    return Readiness(
        as_of=as_of,
        retirement=retirement,
        days_left=(retirement - as_of).days,
        months_left=left,
        per_path=dict(sorted(per_path.items())),
        to_migrate=len(pending),
        migrated=sum(1 for e in entries if e.migrated),
        per_month=[
            ReadinessMonth(month, months_left(date.fromisoformat(f"{month}-01"), retirement), dict(sorted(c.items())))
            for month, c in sorted(by_month.items())
        ],
        unscheduled=dict(sorted(unscheduled.items())),
        late=late,
        pace_per_month=-(-len(pending) // max(left, 1)) if pending else 0,
    )


def entries_from_plans(plans: list[VmPlan], planned: dict[str, date] | None = None) -> list[ReadinessEntry]:
    """An audit campaign's plans as readiness entries; ``planned`` maps ``VmRef.key`` (lower case) to a start date."""
    dates = {k.lower(): v for k, v in (planned or {}).items()}
    return [ReadinessEntry(p.vm, p.retirement, dates.get(p.vm.key.lower())) for p in plans]
