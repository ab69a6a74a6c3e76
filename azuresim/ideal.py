"""The ideal completion time of a rollout, from the simulator's own model (benchmarks, issue 9).

What no orchestrator can beat against this simulator: every VM starts as soon as the rollout's concurrency and
waves allow, each ARM write is sent the instant the simulator's write budgets have a token (nothing is wasted
on 429s), every long-running operation is seen the instant it ends (no poll delay), and reads cost nothing.
The per-VM work is the simulator's: one snapshot per managed disk (``snapshot_seconds``), then the extension
PUT, whose encryption timeline (stamping, data volumes one after another, then the OS volume) is
:func:`azuresim.state.encryption.plan`. Simulated durations become real seconds through the clock's ``scale``; the
ARM budgets refill in real time, as in :mod:`azuresim.throttling`.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from azuresim.fleet import SimSettings, VmSpec
from azuresim.state import encryption as enc
from azuresim.throttling import BucketSpec


@dataclass(frozen=True)
class VmWork:
    """One VM's share of a rollout, in simulated seconds."""

    name: str
    snapshots: int
    """Snapshot PUTs (ARM writes), one per managed disk, sent together."""
    snapshot_seconds: float
    encryption_seconds: float
    """From the extension PUT to the end of the encryption (stamping included)."""
    other_writes: int = 0
    """Writes sent before the snapshots, e.g. the Azure Backup status check (a POST, which ARM counts as a write)."""


def vm_work(
    vm: VmSpec, sim: SimSettings, volume_type: enc.VolumeType = enc.VolumeType.ALL, other_writes: int = 0
) -> VmWork:
    """The simulator's model of one VM's enable: its disks and the encryption plan for ``volume_type``."""
    volumes = [enc.Volume(f"{vm.name}-os", enc.VolumeKind.OS, vm.os_disk.size_gb)]
    volumes += [enc.Volume(f"{vm.name}-data{d.lun}", enc.VolumeKind.DATA, d.size_gb, d.mounted) for d in vm.data_disks]
    rates = enc.Rates(sim.gb_per_hour, sim.stamp_seconds, sim.stripdown_seconds, sim.format_all_seconds)
    run = enc.Run(enc.Operation.ENABLE, volume_type, datetime(2026, 1, 1, tzinfo=UTC), {})
    managed = 0 if vm.os_disk.ephemeral else 1
    end = enc.plan(run, volumes, rates).end
    return VmWork(vm.name, managed + len(vm.data_disks), sim.snapshot_seconds, end, other_writes)


@dataclass
class _Bucket:
    """A token bucket handing out tokens on credit, first come first served (as the worker's budget does)."""

    capacity: float
    rate: float
    tokens: float
    updated: float = 0.0

    @classmethod
    def of(cls, spec: BucketSpec) -> _Bucket:
        return cls(spec.capacity, spec.rate, spec.capacity)

    def reserve(self, now: float) -> float:
        if self.rate <= 0:
            return now
        if now > self.updated:
            self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
            self.updated = now
        self.tokens -= 1.0
        return max(now, self.updated + max(0.0, -self.tokens) / self.rate)


@dataclass(frozen=True)
class IdealSchedule:
    seconds: float
    """Real seconds from the rollout's start until the last VM's encryption ends."""
    unthrottled_seconds: float
    """The same with unlimited ARM budgets: what concurrency and durations alone allow."""
    finished: dict[str, float] = field(default_factory=dict)
    """Real seconds from the start at which each VM's encryption ends."""


def ideal_rollout(
    vms: Sequence[VmWork],
    *,
    concurrency: int,
    canary: int,
    scale: float,
    writes: BucketSpec | None,
    vm_updates_subscription: BucketSpec | None = None,
) -> IdealSchedule:
    """The ideal schedule of a one-subscription rollout: ``canary`` VMs first (the next wave starts when they have
    all finished), then the rest in order, at most ``concurrency`` at once. ``writes`` is the subscription's ARM
    write bucket (None: unlimited); ``vm_updates_subscription`` Compute's "Update VM" bucket for the extension PUT.
    """
    limited = _schedule(vms, concurrency, canary, scale, writes, vm_updates_subscription)
    free = _schedule(vms, concurrency, canary, scale, None, None)
    return IdealSchedule(max(limited.values(), default=0.0), max(free.values(), default=0.0), limited)


def _schedule(
    vms: Sequence[VmWork],
    concurrency: int,
    canary: int,
    scale: float,
    writes: BucketSpec | None,
    updates: BucketSpec | None,
) -> dict[str, float]:
    write_bucket = _Bucket.of(writes) if writes else _Bucket(0, 0, 0)
    update_bucket = _Bucket.of(updates) if updates else _Bucket(0, 0, 0)
    waves = [list(vms[:canary]), list(vms[canary:])] if canary > 0 else [list(vms)]
    finished: dict[str, float] = {}
    now = 0.0
    for wave in waves:
        # events: (time, order, kind, index); kinds: 0 = start, 1 = snapshots done (send the PUT), 2 = done
        events: list[tuple[float, int, int, int]] = []
        order = 0
        pending = iter(range(len(wave)))
        for index in range(min(concurrency, len(wave))):
            heapq.heappush(events, (now, order, 0, next(pending)))
            order = index + 1
        while events:
            t, _, kind, index = heapq.heappop(events)
            work = wave[index]
            if kind == 0:
                due = max([write_bucket.reserve(t) for _ in range(work.other_writes + work.snapshots)], default=t)
                heapq.heappush(events, (due + work.snapshot_seconds / scale, order, 1, index))
            elif kind == 1:
                due = max(write_bucket.reserve(t), update_bucket.reserve(t))
                heapq.heappush(events, (due + work.encryption_seconds / scale, order, 2, index))
            else:
                finished[work.name] = t
                now = max(now, t)
                nxt = next(pending, None)
                if nxt is not None:
                    heapq.heappush(events, (t, order, 0, nxt))
            order += 1
    return finished
