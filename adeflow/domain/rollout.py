"""Fleet rollout bookkeeping as pure code: waves, concurrency, failure budget, operator control, progress.

``RolloutBook`` decides which VMs to launch next and what the rollout's state is; the workflow only starts the
children it names and feeds back what they report. Keeping it free of Temporal makes every policy unit-testable
and keeps the workflow deterministic. Its state (``RolloutState``) is what continue-as-new carries.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import TypeVar

from adeflow.domain.fleet import RolloutPolicy, VmSettings
from adeflow.domain.fleet_query import VmQuery, VmQueryResult, merge_selected
from adeflow.domain.migration.fleet import MigrationSettings
from adeflow.domain.model import VmRef
from adeflow.domain.vocabulary import Reason

K = TypeVar("K")


class VmStatus(StrEnum):
    """One character per VM in ``RolloutState.statuses``: compact enough for 10,000 VMs in one payload."""

    PENDING = "."
    RUNNING = "r"
    ENCRYPTED = "E"
    FAILED = "F"
    REFUSED = "X"
    SKIPPED = "S"
    ELSEWHERE = "D"
    """Already being encrypted by another run (another rollout or a single-VM run)."""


TERMINAL = {VmStatus.ENCRYPTED, VmStatus.FAILED, VmStatus.REFUSED, VmStatus.SKIPPED, VmStatus.ELSEWHERE}


class RolloutKind(StrEnum):
    """What the rollout's VM runs do: encrypt with ADE (``EncryptVmWorkflow``), or migrate off ADE to encryption at
    host (``MigrateToHostEncryptionWorkflow``, docs/ade-migration.md). Waves, canary and budget are the same."""

    ENCRYPT = "encrypt"
    MIGRATE = "migrate"


class RolloutStage(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    HALTED = "halted"
    CANCELLING = "cancelling"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class RolloutTarget:
    """VMs that share a subscription, resource group and settings: the compact form of a fleet."""

    subscription_id: str
    resource_group: str
    settings_index: int
    names: list[str]


@dataclass(frozen=True)
class VmNote:
    """Why a VM did not encrypt: kept for failures and refusals (the rest live in the children's results)."""

    index: int
    vm: str
    reason: str
    rule: str = ""
    message: str = ""


@dataclass
class RolloutState:
    """Everything continue-as-new must carry; nothing else survives a new run."""

    statuses: str = ""
    wave: int = 0
    paused: bool = False
    halted: str = ""
    halted_reason: str = ""
    """Why the rollout halted as a reason code (``Reason.CANARY_FAILED``, ...): its ``AdeRule`` while halted."""
    cancelled: bool = False
    budget_spent: int = 0
    """Failures already accepted by an operator's resume; the budget counts failures beyond these."""
    failures: list[VmNote] = field(default_factory=list)
    refusals: list[VmNote] = field(default_factory=list)
    retry_queue: list[int] = field(default_factory=list)
    finished_seconds: float = 0.0
    finished_count: int = 0
    started_at: str = ""
    runs: int = 1
    log: list[str] = field(default_factory=list)
    """The last few operator-visible events (wave changes, halts, operator actions)."""
    selected: list[str] = field(default_factory=list)
    """What each selector found when the rollout started, one line per selector."""


@dataclass(frozen=True)
class RolloutSelector:
    """A selector of the manifest, resolved by the rollout when it starts, with the settings its VMs get."""

    query: VmQuery
    settings_index: int


@dataclass(frozen=True)
class RolloutInput:
    rollout_id: str
    policy: RolloutPolicy
    settings: list[VmSettings]
    targets: list[RolloutTarget]
    task_queue: str = ""
    """Task queue of the VM runs; empty means the rollout's own."""
    state: RolloutState | None = None
    selectors: list[RolloutSelector] = field(default_factory=list)
    """Resolved once, at the start of the first run; continue-as-new carries the VMs, not the selectors."""
    kind: RolloutKind = RolloutKind.ENCRYPT
    """Rollouts recorded before migrations existed have none: they encrypt."""
    migrations: list[MigrationSettings] = field(default_factory=list)
    """A migrate rollout's ``migrate`` settings, by the same index as ``settings`` (a VM's settings_index)."""

    @property
    def verb(self) -> str:
        """What a VM run of this rollout does, for its log lines."""
        return "migrated" if self.kind is RolloutKind.MIGRATE else "encrypted"


@dataclass(frozen=True)
class VmFinished:
    """What a VM run reports to its rollout when it ends (a signal, so it reaches the newest run)."""

    index: int
    outcome: str
    reason: str = ""
    rule: str = ""
    message: str = ""
    seconds: float = 0.0


@dataclass(frozen=True)
class RolloutProgress:
    rollout_id: str
    stage: RolloutStage
    halted: str
    wave: int
    total: int
    counts: dict[str, int]
    running_per_subscription: dict[str, int]
    failures: list[VmNote]
    refusals: list[VmNote]
    eta_seconds: float | None
    log: list[str]
    run: int
    selected: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class RolloutResult:
    rollout_id: str
    stage: RolloutStage
    total: int
    counts: dict[str, int]
    failures: list[VmNote]
    refusals: list[VmNote]
    runs: int = 1
    """How many workflow runs (continue-as-new) the rollout took."""


@dataclass(frozen=True)
class Slot:
    index: int
    vm: VmRef
    settings_index: int


@dataclass(frozen=True)
class RolloutMember:
    """A VM of the rollout, its wave (0: the canary) and how its part stands (``COUNT_NAMES``): what bulk decisions
    (``adeflow migrate approve --wave N``) pick their VMs from."""

    vm: VmRef
    wave: int
    status: str


COUNT_NAMES = {
    VmStatus.PENDING: "pending",
    VmStatus.RUNNING: "running",
    VmStatus.ENCRYPTED: "encrypted",
    VmStatus.FAILED: "failed",
    VmStatus.REFUSED: "refused",
    VmStatus.SKIPPED: "skipped",
    VmStatus.ELSEWHERE: "elsewhere",
}
_BY_OUTCOME = {
    "encrypted": VmStatus.ENCRYPTED,
    "failed": VmStatus.FAILED,
    "refused": VmStatus.REFUSED,
    "migrated": VmStatus.ENCRYPTED,
    "rolled-back": VmStatus.FAILED,
}
"""A VM run's outcome as the rollout counts it: a migration's ``migrated`` is a success (counted as ``encrypted``,
the rollout's one success count), its ``rolled-back`` a failure (the source runs again, but the VM did not move:
it spends the failure budget like any failure); an outcome nobody knows is a failure."""

LOG_KEEP = 20


def _span(bounds: tuple[int, int], total: int) -> str:
    start, end = bounds
    return f"VM {end} of {total}" if end - start == 1 else f"VMs {start + 1}-{end} of {total}"


def _tally(statuses: list[VmStatus]) -> str:
    """``3 VMs: 2 encrypted, 1 refused``."""
    counts = Counter(COUNT_NAMES[s] for s in statuses)
    return f"{len(statuses)} VM(s): " + ", ".join(f"{n} {name}" for name, n in sorted(counts.items()))


def order_slots(targets: list[RolloutTarget], canary: int) -> list[Slot]:
    """Fleet order with the canary first: the first ``canary`` VMs of each subscription, then the rest in order."""
    flat = [
        (target.subscription_id, VmRef(target.subscription_id, target.resource_group, name), target.settings_index)
        for target in targets
        for name in target.names
    ]
    seen: Counter[str] = Counter()
    first: list[tuple[VmRef, int]] = []
    rest: list[tuple[VmRef, int]] = []
    for sub, ref, settings_index in flat:
        seen[sub] += 1
        (first if seen[sub] <= canary else rest).append((ref, settings_index))
    return [Slot(i, ref, s) for i, (ref, s) in enumerate(first + rest)]


def wave_bounds(total: int, canary_size: int, waves: tuple[int, ...] | list[int]) -> list[tuple[int, int]]:
    """[start, end) index ranges: the canary wave, then the configured sizes, the last one repeating."""
    bounds = [(0, min(canary_size, total))]
    sizes = list(waves) or [total]
    start, i = bounds[0][1], 0
    while start < total:
        end = min(total, start + sizes[min(i, len(sizes) - 1)])
        bounds.append((start, end))
        start, i = end, i + 1
    return bounds


class RolloutBook:
    def __init__(self, request: RolloutInput, state: RolloutState | None = None) -> None:
        self.request = request
        self.policy = request.policy
        per_sub_canary = Counter(t.subscription_id for t in request.targets for _ in t.names)
        canary_size = sum(min(self.policy.canary, n) for n in per_sub_canary.values())
        self.slots = order_slots(request.targets, self.policy.canary)
        self.waves = wave_bounds(len(self.slots), canary_size, self.policy.waves)
        if state is None:
            state = RolloutState(statuses=VmStatus.PENDING.value * len(self.slots))
            if self.waves:
                canary = ", ".join(slot.vm.name for slot in self.slots[slice(*self.waves[0])][:5])
                self._log_to(
                    state, f"canary wave started: {_span(self.waves[0], len(self.slots))} ({canary}); the others wait"
                )
        self.state = state
        self._running_by_sub: Counter[str] = Counter(
            s.vm.subscription_id for s in self.slots if self.status(s.index) is VmStatus.RUNNING
        )

    # -- reading ---------------------------------------------------------------------------------------------

    @property
    def total(self) -> int:
        return len(self.slots)

    def status(self, index: int) -> VmStatus:
        return VmStatus(self.state.statuses[index])

    def counts(self) -> dict[str, int]:
        tally = Counter(self.state.statuses)
        return {name: tally.get(status.value, 0) for status, name in COUNT_NAMES.items()}

    def running(self) -> int:
        return self.state.statuses.count(VmStatus.RUNNING.value)

    def stage(self) -> RolloutStage:
        if self.done():
            return RolloutStage.CANCELLED if self.state.cancelled else RolloutStage.COMPLETED
        if self.state.cancelled:
            return RolloutStage.CANCELLING
        if self.state.halted:
            return RolloutStage.HALTED
        return RolloutStage.PAUSED if self.state.paused else RolloutStage.RUNNING

    def done(self) -> bool:
        if self.running():
            return False
        if self.state.cancelled:
            return True
        return all(VmStatus(c) in TERMINAL for c in self.state.statuses)

    def failed_beyond_accepted(self) -> int:
        return self.counts()["failed"] - self.state.budget_spent

    def eta_seconds(self) -> float | None:
        """Remaining VMs times the mean VM duration, divided by the concurrency actually usable."""
        if not self.state.finished_count:
            return None
        mean = self.state.finished_seconds / self.state.finished_count
        remaining = self.counts()["pending"] + self.running()
        return mean * remaining / max(1, min(self.policy.concurrency, remaining or 1))

    def progress(self) -> RolloutProgress:
        return RolloutProgress(
            rollout_id=self.request.rollout_id,
            stage=self.stage(),
            halted=self.state.halted,
            wave=self.state.wave,
            total=self.total,
            counts=self.counts(),
            running_per_subscription=dict(self._running_by_sub),
            failures=self.state.failures[-50:],
            refusals=self.state.refusals[-50:],
            eta_seconds=self.eta_seconds(),
            log=list(self.state.log),
            run=self.state.runs,
            selected=list(self.state.selected),
        )

    def result(self) -> RolloutResult:
        return RolloutResult(
            self.request.rollout_id,
            self.stage(),
            self.total,
            self.counts(),
            list(self.state.failures),
            list(self.state.refusals),
            self.state.runs,
        )

    # -- deciding --------------------------------------------------------------------------------------------

    def next_launches(self) -> list[Slot]:
        """VMs to start now: retries first, then the current wave, within both concurrency limits."""
        if self.state.paused or self.state.halted or self.state.cancelled:
            return []
        self._advance_wave()
        if self.state.halted:
            return []
        room = self.policy.concurrency - self.running()
        per_sub = Counter(self._running_by_sub)
        chosen: list[Slot] = []
        start, end = self.waves[self.state.wave] if self.state.wave < len(self.waves) else (0, 0)
        candidates = [*self.state.retry_queue, *range(start, end)]
        for index in candidates:
            if room <= 0:
                break
            slot = self.slots[index]
            if self.status(index) is not VmStatus.PENDING:
                continue
            sub = slot.vm.subscription_id
            if per_sub[sub] >= self.policy.per_subscription_concurrency:
                continue
            per_sub[sub] += 1
            room -= 1
            chosen.append(slot)
        return chosen

    def _advance_wave(self) -> None:
        while self.state.wave < len(self.waves):
            start, end = self.waves[self.state.wave]
            wave = [VmStatus(c) for c in self.state.statuses[start:end]]
            if not all(status in TERMINAL for status in wave):
                return
            if self.state.wave == 0 and VmStatus.FAILED in wave and self.state.budget_spent < self.counts()["failed"]:
                self._halt("canary wave failed: fix the cause, then resume or retry-failed", Reason.CANARY_FAILED)
                return
            if self.state.wave == 0:
                self._log(f"canary wave passed: {_tally(wave)}")
            self.state.wave += 1
            if self.state.wave < len(self.waves):
                self._log(f"wave {self.state.wave} started: {_span(self.waves[self.state.wave], self.total)}")

    def _halt(self, why: str, reason: str) -> None:
        if self.state.halted != why:
            self.state.halted = why
            self.state.halted_reason = reason
            self._log(f"halted: {why}")

    def _log(self, line: str) -> None:
        self._log_to(self.state, line)

    @staticmethod
    def _log_to(state: RolloutState, line: str) -> None:
        state.log = [*state.log, line][-LOG_KEEP:]

    # -- events ----------------------------------------------------------------------------------------------

    def mark_started(self, index: int) -> None:
        self._set(index, VmStatus.RUNNING)
        if index in self.state.retry_queue:
            self.state.retry_queue = [i for i in self.state.retry_queue if i != index]

    def mark_elsewhere(self, index: int) -> None:
        self._set(index, VmStatus.ELSEWHERE)
        self._log(f"{self.slots[index].vm.name}: already being {self.request.verb} by another run; left to it")

    def mark_finished(self, event: VmFinished) -> None:
        if not 0 <= event.index < self.total or self.status(event.index) in TERMINAL:
            return  # a duplicate or late report: the first one counts
        status = _BY_OUTCOME.get(event.outcome, VmStatus.FAILED)
        self._set(event.index, status)
        self.state.finished_count += 1
        self.state.finished_seconds += event.seconds
        note = VmNote(event.index, self.slots[event.index].vm.name, event.reason, event.rule, event.message)
        if status is VmStatus.FAILED:
            self.state.failures = [*self.state.failures, note]
            limit = self.policy.failure_budget.limit(self.total)
            if self.failed_beyond_accepted() > limit:
                self._halt(
                    f"failure budget exceeded ({self.failed_beyond_accepted()} failed, budget {limit})",
                    Reason.FAILURE_BUDGET_EXCEEDED,
                )
        elif status is VmStatus.REFUSED:
            self.state.refusals = [*self.state.refusals, note]

    def _set(self, index: int, status: VmStatus) -> None:
        previous = self.status(index)
        sub = self.slots[index].vm.subscription_id
        if previous is VmStatus.RUNNING:
            self._running_by_sub[sub] -= 1
            if not self._running_by_sub[sub]:
                del self._running_by_sub[sub]
        if status is VmStatus.RUNNING:
            self._running_by_sub[sub] += 1
        s = self.state.statuses
        self.state.statuses = s[:index] + status.value + s[index + 1 :]

    # -- operator control (validated by the workflow's update validators) ------------------------------------

    def pause(self, operator: str) -> str:
        self.state.paused = True
        self._log(f"paused by {operator}: no new VMs start; {self.running()} running VMs finish")
        return f"paused; {self.running()} VM runs in flight continue"

    def resume(self, operator: str) -> str:
        if self.state.halted:
            self.state.budget_spent = self.counts()["failed"]
        self.state.paused = False
        self.state.halted = self.state.halted_reason = ""
        self._log(f"resumed by {operator}")
        return "resumed"

    def cancel(self, operator: str) -> str:
        self.state.cancelled = True
        self._log(f"cancelled by {operator}: no new VMs start; {self.running()} running VMs finish")
        return f"cancelling; {self.running()} VM runs in flight finish first (an OS pass cannot be interrupted)"

    def retry_failed(self, operator: str) -> str:
        failed = [n.index for n in self.state.failures if self.status(n.index) is VmStatus.FAILED]
        for index in failed:
            self._set(index, VmStatus.PENDING)
        self.state.failures = []
        self.state.budget_spent = 0
        self.state.retry_queue = [*self.state.retry_queue, *failed]
        self.state.halted = self.state.halted_reason = ""
        self._log(f"retry of {len(failed)} failed VM(s) requested by {operator}")
        return f"{len(failed)} failed VM(s) queued again"

    def wave_of(self, index: int) -> int:
        return next(w for w, (start, end) in enumerate(self.waves) if start <= index < end)

    def members(self, wave: int | None = None) -> list[RolloutMember]:
        """The rollout's VMs in launch order, all or one wave's (a wave it does not have: none)."""
        if wave is None:
            chosen = range(self.total)
        else:
            chosen = range(*self.waves[wave]) if 0 <= wave < len(self.waves) else range(0)
        return [RolloutMember(self.slots[i].vm, self.wave_of(i), COUNT_NAMES[self.status(i)]) for i in chosen]

    def find(self, vm: str) -> Slot | None:
        """A VM by name, ``sub/rg/name`` or resource id (case-insensitive)."""
        needle = vm.lower().rstrip("/")
        for slot in self.slots:
            ref = slot.vm
            if needle in (ref.name.lower(), ref.key.lower(), ref.resource_id.lower()):
                return slot
        return None

    def skip(self, vm: str, operator: str) -> str:
        slot = self.find(vm)
        if slot is None:  # the update's validator refuses this first
            return f"{vm} is not in rollout {self.request.rollout_id}"
        self._set(slot.index, VmStatus.SKIPPED)
        self._log(f"{slot.vm.name} skipped by {operator}")
        return f"{slot.vm.name} will not be {self.request.verb} by this rollout"


def _settings_index(settings: list[K], vm_settings: K) -> int:
    if vm_settings not in settings:
        settings.append(vm_settings)
    return settings.index(vm_settings)


def _append_target(targets: list[RolloutTarget], ref: VmRef, index: int) -> None:
    last = targets[-1] if targets else None
    if last and (last.subscription_id, last.resource_group, last.settings_index) == (
        ref.subscription_id,
        ref.resource_group,
        index,
    ):
        last.names.append(ref.name)
    else:
        targets.append(RolloutTarget(ref.subscription_id, ref.resource_group, index, [ref.name]))


def compact_fleet(
    vms: list[tuple[VmRef, K]], selectors: list[tuple[VmQuery, K]]
) -> tuple[list[K], list[RolloutTarget], list[RolloutSelector]]:
    """Settings (any comparable value) deduplicated, VMs grouped by (subscription, resource group, settings) in
    fleet order, so 10,000 VMs fit in one workflow input; selectors point at their settings by index."""
    settings: list[K] = []
    targets: list[RolloutTarget] = []
    for ref, vm_settings in vms:
        _append_target(targets, ref, _settings_index(settings, vm_settings))
    kept = [RolloutSelector(query, _settings_index(settings, s)) for query, s in selectors]
    return settings, targets, kept


def build_rollout_input(
    rollout_id: str,
    policy: RolloutPolicy,
    vms: list[tuple[VmRef, VmSettings]],
    selectors: list[tuple[VmQuery, VmSettings]] | None = None,
) -> RolloutInput:
    """Compact a resolved fleet (:func:`compact_fleet`). Selectors are kept for the rollout to resolve."""
    settings, targets, kept = compact_fleet(vms, selectors or [])
    return RolloutInput(rollout_id=rollout_id, policy=policy, settings=settings, targets=targets, selectors=kept)


def explicit_vms(request: RolloutInput) -> list[VmRef]:
    return [VmRef(t.subscription_id, t.resource_group, name) for t in request.targets for name in t.names]


def with_selected(request: RolloutInput, results: list[VmQueryResult]) -> tuple[RolloutInput, list[str]]:
    """The rollout's input with each selector's VMs appended after the listed ones (no VM twice), and one
    report line per selector saying what it found."""
    added = merge_selected(explicit_vms(request), [r.vms for r in results])
    targets = [
        RolloutTarget(t.subscription_id, t.resource_group, t.settings_index, list(t.names)) for t in request.targets
    ]
    lines: list[str] = []
    for selector, result, mine in zip(request.selectors, results, added, strict=True):
        for ref in mine:
            _append_target(targets, ref, selector.settings_index)
        line = f"{selector.query.source or 'selector'}: {selector.query.describe()}: {len(result.vms)} VMs found"
        if len(mine) != len(result.vms):
            line += f", {len(result.vms) - len(mine)} of them listed already"
        if result.ignored:
            line += f"; {len(result.ignored)} rows that are not VMs ignored"
        lines.append(line)
    return replace(request, targets=targets, selectors=[]), lines
