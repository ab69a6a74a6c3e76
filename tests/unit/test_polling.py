"""The poll schedule (adeflow/domain/polling.py, issue 18): sparse far from the expected finish, dense near it,
never more than the maximum detection latency L once the operation could have ended."""

from __future__ import annotations

from dataclasses import replace

import pytest

from adeflow.domain.model import ProgressMark, VolumeType
from adeflow.domain.polling import (
    QUIET_FACTOR,
    SPEEDUP,
    PollInput,
    first_read_can_wait,
    fraction_done,
    next_poll,
    planned_reads,
    power_check_due,
    stalled,
)

L = 480.0
ALL = PollInput("EnableEncryption", VolumeType.ALL, os_gb=40, data_gb=(20, 40), elapsed_s=0.0, max_latency_s=L)


@pytest.mark.parametrize(
    ("case", "mark", "fraction"),
    [
        ("no percent", None, None),
        ("data 1/2 at 50 %: 10 of 100 GB", ProgressMark(50, "data", 1, 2), 0.10),
        ("data 2/2 at 25 %: 20 + 10 of 100 GB", ProgressMark(25, "data", 2, 2), 0.30),
        ("OS at 50 %: 60 + 20 of 100 GB", ProgressMark(50, "os"), 0.80),
        ("a percent of the whole operation", ProgressMark(42), 0.42),
        ("over 100 % is 100 %", ProgressMark(140, "os"), 1.0),
        ("count differs from the sizes (a volume skipped): equal sizes", ProgressMark(50, "data", 1, 1), 0.15),
    ],
)
def test_fraction_of_the_whole_operation(case: str, mark: ProgressMark | None, fraction: float | None) -> None:
    got = fraction_done(ALL, mark)
    assert got == (None if fraction is None else pytest.approx(fraction)), case


@pytest.mark.parametrize(
    ("case", "request_", "mark", "fraction"),
    [
        ("decrypt, sizes unknown: equal volumes", replace(ALL, encryption_operation="DisableEncryption", data_gb=()),
         ProgressMark(50, "data", 2, 4), 0.375),
        ("data only: the OS is out of scope", replace(ALL, volume_type=VolumeType.DATA), ProgressMark(50, "data", 2, 2),
         pytest.approx(40 / 60)),
        ("OS only", replace(ALL, volume_type=VolumeType.OS), ProgressMark(30, "os"), 0.30),
    ],
)  # fmt: skip
def test_fraction_by_operation(case: str, request_: PollInput, mark: ProgressMark, fraction: float) -> None:
    assert fraction_done(request_, mark) == fraction, case


@pytest.mark.parametrize(
    ("case", "elapsed_s", "fraction", "fast_gb_per_hour", "delay_s", "basis"),
    [
        ("nothing known: every L", 0.0, None, 0.0, L, "interval"),
        ("far (90 % left after 10 min): the earliest finish", 600.0, 0.10, 0.0, 600 * 9 / SPEEDUP, "progress"),
        ("very far: capped at QUIET_FACTOR x L", 600.0, 0.01, 0.0, QUIET_FACTOR * L, "progress"),
        ("near (expected in 200 s): just after it (L/8)", 3800.0, 0.95, 0.0, 200.0 + L / 8, "progress"),
        (
            "nearly done: L/8 after the expected finish",
            36000.0,
            0.9999,
            0.0,
            36000 * 0.0001 / 0.9999 + L / 8,
            "progress",
        ),
        ("between L and SPEEDUP x L left: L", 5000.0, 5000 / 5500, 0.0, L, "progress"),
        ("sizes at the fastest rate: 100 GB at 100 GB/h", 0.0, None, 100.0, 3600.0, "sizes"),
        ("sizes, 10 min left: the earliest finish (a bound)", 3000.0, None, 100.0, 600.0, "sizes"),
        ("sizes, 5 min left: just after the expected finish", 3300.0, None, 100.0, 300.0 + L / 8, "sizes"),
        ("sizes overrun (slower than the fastest rate): every L", 4000.0, None, 100.0, L, "interval"),
        ("0 %: no rate yet, the sizes decide", 60.0, 0.0, 100.0, 3540.0, "sizes"),
        ("100 % but not done: soon, not at once (L/256)", 60.0, 1.0, 0.0, L / 256, "progress"),
    ],
)
def test_next_delay(
    case: str, elapsed_s: float, fraction: float | None, fast_gb_per_hour: float, delay_s: float, basis: str
) -> None:
    plan = next_poll(replace(ALL, elapsed_s=elapsed_s, fraction=fraction, fast_gb_per_hour=fast_gb_per_hour))
    assert (plan.delay_s, plan.basis) == (pytest.approx(delay_s), basis), case


@pytest.mark.parametrize("latency", [60.0, 300.0, 480.0, 600.0])
@pytest.mark.parametrize("elapsed_s", [0.0, 60.0, 3000.0, 36000.0])
@pytest.mark.parametrize("fraction", [None, 0.0, 0.01, 0.5, 0.9, 0.99, 1.0])
def test_once_the_operation_could_have_ended_reads_are_at_most_l_apart(
    latency: float, elapsed_s: float, fraction: float | None
) -> None:
    """The delay exceeds L only when the earliest plausible finish is further away than the delay."""
    p = replace(ALL, elapsed_s=elapsed_s, fraction=fraction, max_latency_s=latency, fast_gb_per_hour=50.0)
    plan = next_poll(p)
    assert 0 < plan.delay_s <= QUIET_FACTOR * latency
    if plan.delay_s > latency:
        assert plan.expected_remaining_s is not None and plan.delay_s <= plan.expected_remaining_s


@pytest.mark.parametrize(
    ("case", "work_s", "fast_gb_per_hour", "reads"),
    [
        ("100 min, the rate known exactly: one read, at the finish", 6000.0, 60.0, 1),
        ("100 min, the rate over-estimated by half: three reads", 6000.0, 90.0, 3),
        ("100 min, no rate: a read at once, one after L, then by progress", 6000.0, 0.0, 5),
        ("200 min, rate known: the first read at the sparse cap (192 min)", 12000.0, 30.0, 2),
        ("200 min, no rate", 12000.0, 0.0, 5),
    ],
)
def test_reads_for_a_steady_operation(case: str, work_s: float, fast_gb_per_hour: float, reads: int) -> None:
    """100 GB at a steady rate, 8-minute L: the poll count the schedule implies (the benchmark's bound)."""
    p = replace(ALL, fast_gb_per_hour=fast_gb_per_hour)
    times = planned_reads(p, work_s)
    assert len(times) == reads, (case, times)
    assert work_s <= times[-1] <= work_s + L / 8  # seen just after the finish


def test_the_read_right_after_the_enable_is_skipped_only_when_the_sizes_say_it_cannot_be_done() -> None:
    assert first_read_can_wait(replace(ALL, fast_gb_per_hour=50.0))
    assert not first_read_can_wait(ALL)  # no rate: read at once (an immediate failure is seen at once)
    formatted = replace(ALL, encryption_operation="EnableEncryptionFormatAll", volume_type=VolumeType.DATA)
    assert not first_read_can_wait(replace(formatted, fast_gb_per_hour=50.0))  # formatting reads nothing: no bound


@pytest.mark.parametrize(
    ("case", "previous", "elapsed_s", "fraction", "stall"),
    [
        ("no previous read", None, 1000.0, 0.2, False),
        ("no percent now", (500.0, 0.1), 1000.0, None, False),
        ("steady: 0.1 per 500 s", (500.0, 0.1), 1000.0, 0.2, False),
        ("half the rate is still progress", (500.0, 0.1), 1000.0, 0.151, False),
        ("frozen percent (deallocated guest)", (500.0, 0.1), 1000.0, 0.1, True),
        ("a trickle", (500.0, 0.1), 1000.0, 0.12, True),
        ("nothing done before: no rate to compare", (500.0, 0.0), 1000.0, 0.0, False),
        ("the same read again", (1000.0, 0.2), 1000.0, 0.2, False),
    ],
)
def test_stalled_progress_calls_for_the_power_state(
    case: str, previous: tuple[float, float] | None, elapsed_s: float, fraction: float | None, stall: bool
) -> None:
    assert stalled(previous, elapsed_s, fraction) is stall, case


@pytest.mark.parametrize(
    ("case", "previous", "fraction", "attempt", "due"),
    [
        ("no percent: every third poll", None, None, 3, True),
        ("no percent: not on the others", None, None, 4, False),
        ("a percent that moves: never, whatever the attempt", (500.0, 0.1), 0.2, 3, False),
        ("a frozen percent: at once", (500.0, 0.1), 0.1, 1, True),
    ],
)
def test_the_power_state_is_read_on_a_stall_or_every_third_poll_without_a_percent(
    case: str, previous: tuple[float, float] | None, fraction: float | None, attempt: int, due: bool
) -> None:
    """A deallocated VM is found within a few polls (a "vm-not-running" ending), not at the deadline; a
    moving percent proves the guest runs, so its power state costs no read."""
    assert power_check_due(previous, 1000.0, fraction, attempt) is due, case
