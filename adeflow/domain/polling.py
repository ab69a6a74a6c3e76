"""When to read an extension's progress next: sparse far from the expected finish, dense near it (issue 18).

The status read is the retry of a benign "still encrypting" error (``activities.status``), so its delay is
whatever this module says and the workflow's history stays flat however often or seldom it polls. The bound is
the configured maximum detection latency ``L``: once the operation *could* have finished, reads are at most ``L``
apart. Before that, one read at the earliest plausible finish suffices. The earliest plausible finish comes from:

- the extension's progress percent (``ProgressMark``), turned into a fraction of the whole operation with the
  volume sizes (data volumes in LUN order, then the OS volume: the order the extension works in), extrapolated at
  the observed rate, which may rise by at most ``SPEEDUP``;
- else the volume sizes at the fastest rate the operator expects (``fast_gb_per_hour``), a lower bound by
  definition (EncryptFormatAll formats data volumes without reading them: no lower bound beyond zero);
- else nothing: every ``L``, as a fixed interval did.

Pure (stdlib only), so the schedule is unit-tested with tables (tests/unit/test_polling.py) and the benchmark
(``make bench-polling``) can state the poll count it implies.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from adeflow.domain.model import ProgressMark, VolumeType

SPEEDUP = 1.1
"""How much faster than observed the rest of an operation may go: the rate per volume is the disk's throughput,
steady over hours; 10 % covers the next volume being on a faster disk tier."""
NEAR_MARGIN = 1 / 8
"""Near the finish the read is aimed a little after the expected end: a read a moment too early costs a whole
retry round trip (a read, the server's retry timer), one a little late only the margin. The margin is this
fraction of ``L``, or ``NEAR_SHARE`` of the time elapsed if less (a short operation's estimate is tight)."""
NEAR_SHARE = 0.02
FLOOR_FRACTION = 1 / 256
"""The shortest delay, in ``L``: a read a moment before the finish is repeated within seconds, not at once."""
QUIET_FACTOR = 24
"""The longest delay, in ``L``: a change no percent shows (the VM deleted, the extension removed, a guest stopped
before its first percent) is seen within ``QUIET_FACTOR * L`` however far the finish is (2 h at 5-min ``L``)."""
STALL_FRACTION = 0.5
"""Progress below this share of what the observed rate predicts since the previous read counts as stalled."""


@dataclass(frozen=True)
class PollInput:
    """What the next delay depends on; times in seconds of the run's clock, sizes in GB."""

    encryption_operation: str
    volume_type: VolumeType
    os_gb: int
    data_gb: tuple[int, ...]
    elapsed_s: float
    """Since the wait began (the enable's LRO ended: the volumes' work starts)."""
    max_latency_s: float
    fraction: float | None = None
    """Fraction of the whole operation done, from :func:`fraction_done`; None: no percent was reported."""
    fast_gb_per_hour: float = 0.0


@dataclass(frozen=True)
class PollPlan:
    delay_s: float
    expected_remaining_s: float | None
    """The best estimate of the time left (None: unknown), for the activity's message."""
    basis: str
    """``progress``, ``sizes`` or ``interval``: what the delay was computed from."""


def _scope(encryption_operation: str, volume_type: VolumeType) -> tuple[bool, bool, bool]:
    """(covers data, covers OS, formats data): decryption is of data volumes only (R-DIS-1)."""
    if encryption_operation == "DisableEncryption":
        return True, False, False
    formats = encryption_operation == "EnableEncryptionFormatAll"
    return volume_type in (VolumeType.DATA, VolumeType.ALL), volume_type in (VolumeType.OS, VolumeType.ALL), formats


def _work_gb(p: PollInput) -> tuple[float, float]:
    """(data GB, OS GB) of work to read and rewrite; formatted data volumes count 0 (nothing is read)."""
    data, os_pass, formats = _scope(p.encryption_operation, p.volume_type)
    data_gb = 0.0 if formats or not data else float(sum(p.data_gb))
    return data_gb, float(p.os_gb) if os_pass else 0.0


def fraction_done(p: PollInput, mark: ProgressMark | None) -> float | None:
    """The fraction of the whole operation behind ``mark`` (the percent of one volume, or of everything)."""
    if mark is None:
        return None
    pct = min(max(mark.percent, 0), 100) / 100
    data_gb, os_gb = _work_gb(p)
    total = data_gb + os_gb
    if mark.volume == "data" and total <= 0 and mark.count > 0:  # sizes unknown: volumes of equal size
        return min(1.0, (max(mark.index, 1) - 1 + pct) / mark.count)
    if not mark.volume or total <= 0:
        return pct
    if mark.volume == "os":
        return (data_gb + pct * os_gb) / total if os_gb else pct
    sizes = [float(s) for s in p.data_gb] if data_gb else []
    if not sizes or mark.index < 1:
        return pct * data_gb / total if data_gb else pct
    if mark.count != len(sizes):  # some volumes skipped (already encrypted, unmounted): assume equal sizes
        mean = data_gb / len(sizes)
        sizes = [mean] * max(mark.count, mark.index)
    before = sum(sizes[: mark.index - 1])
    current = sizes[min(mark.index, len(sizes)) - 1]
    return min(1.0, (before + pct * current) / total)


def _remaining(p: PollInput) -> tuple[float, float, str] | None:
    """(earliest plausible, expected) remaining seconds and the basis, or None when nothing says."""
    if p.fraction is not None and 0 < p.fraction < 1 and p.elapsed_s > 0:
        expected = p.elapsed_s * (1 - p.fraction) / p.fraction
        return expected / SPEEDUP, expected, "progress"
    if p.fraction is not None and p.fraction >= 1:
        return 0.0, 0.0, "progress"
    if p.fast_gb_per_hour > 0:
        data_gb, os_gb = _work_gb(p)
        left = (data_gb + os_gb) / p.fast_gb_per_hour * 3600 - p.elapsed_s
        if left > 0:
            return left, left, "sizes"
    return None


def next_poll(p: PollInput) -> PollPlan:
    """The delay before the next read: the earliest plausible finish while that is more than ``L`` away (at most
    ``QUIET_FACTOR * L``), then just after the expected finish, never more than ``L`` apart once the operation could
    have ended."""
    latency = p.max_latency_s
    found = _remaining(p)
    if found is None:
        return PollPlan(latency, None, "interval")
    earliest, expected, basis = found
    if earliest >= latency:
        return PollPlan(min(earliest, QUIET_FACTOR * latency), expected, basis)
    margin = min(latency * NEAR_MARGIN, p.elapsed_s * NEAR_SHARE)
    return PollPlan(min(max(expected + margin, latency * FLOOR_FRACTION), latency), expected, basis)


def first_read_can_wait(p: PollInput) -> bool:
    """Whether the read right after the enable's LRO can be skipped: the sizes at the fastest expected rate say
    nothing can be finished before the next read, which comes no later than ``L`` after the earliest finish."""
    found = _remaining(p)
    return found is not None and found[2] == "sizes" and found[0] > 0


def stalled(previous: tuple[float, float] | None, elapsed_s: float, fraction: float | None) -> bool:
    """Progress since the previous read (``(elapsed_s, fraction)``) is far below what the observed rate predicts:
    the guest stopped (a deallocated or stopped VM keeps showing its last percent), so the power state is read."""
    if previous is None or fraction is None:
        return False
    before_s, before = previous
    if before <= 0 or before_s <= 0 or elapsed_s <= before_s:
        return False
    predicted = before / before_s * (elapsed_s - before_s)
    return fraction - before < STALL_FRACTION * predicted


POWER_CHECK_EVERY = 3
"""Where no progress percent tells a stalled guest, every how many polls the VM's power state is read too."""


def power_check_due(
    previous: tuple[float, float] | None, elapsed_s: float, fraction: float | None, attempt: int
) -> bool:
    """Read the VM's power state on this poll? When the progress stalled since the previous read (``previous``:
    its ``(elapsed_s, fraction)``); where the extension gives no percent, every ``POWER_CHECK_EVERY``-th poll."""
    if fraction is None:
        return attempt % POWER_CHECK_EVERY == 0
    return stalled(previous, elapsed_s, fraction)


def planned_reads(p: PollInput, work_s: float, limit: int = 1000) -> list[float]:
    """The read times (seconds into the wait) this schedule makes for an operation that takes exactly ``work_s``
    at a steady rate and reports an exact percent: the poll count a measurement can at best approach."""
    t = next_poll(p).delay_s if first_read_can_wait(p) else 0.0
    reads: list[float] = []
    while len(reads) < limit:
        reads.append(t)
        if t >= work_s:
            break
        t += next_poll(replace(p, elapsed_s=t, fraction=t / work_s if work_s > 0 else 1.0)).delay_s
    return reads
