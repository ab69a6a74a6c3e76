"""The rollout display written to a pipe, a file or a CI log (issue 15): each change once, never the whole frame
again (``rollout start --wait`` in CI printed every redraw, about 360 lines for the demo)."""

from __future__ import annotations

from adeflow.domain.rollout import COUNT_NAMES, RolloutProgress, RolloutStage, VmNote
from adeflow.reports.rollout_report import PlainProgress

TOTAL = 12  # the demo's fleet size


def _progress(encrypted: int, running: int, failed: int = 0, log: int = 0) -> RolloutProgress:
    counts = dict.fromkeys(COUNT_NAMES.values(), 0)
    counts.update(encrypted=encrypted, running=running, failed=failed)
    counts["pending"] = TOTAL - encrypted - running - failed
    return RolloutProgress(
        rollout_id="demo",
        stage=RolloutStage.COMPLETED if counts["pending"] == running == 0 else RolloutStage.RUNNING,
        halted="",
        wave=1 + encrypted // 4,
        total=TOTAL,
        counts=counts,
        running_per_subscription={},
        failures=[VmNote(i, f"bad-{i}", "stand-in") for i in range(failed)],
        refusals=[],
        eta_seconds=float(600 - 50 * encrypted),
        log=[f"event {i}" for i in range(log)],
        run=1,
    )


def _demo_polls() -> list[tuple[RolloutProgress, dict[str, int]]]:
    """A demo-sized rollout as a watch sees it every 2 s: most polls repeat the last one."""
    polls = []
    for done in range(TOTAL - 1):
        for _ in range(10):  # ten polls per change
            polls.append((_progress(done, 1, log=done), {"encrypting": 1}))
    polls.append((_progress(TOTAL - 1, 0, failed=1, log=TOTAL - 1), {}))
    return polls


def test_each_change_is_printed_once() -> None:
    plain = PlainProgress()
    lines = [line for progress, phases in _demo_polls() for line in plain.update(progress, phases, "http://ui/x")]
    assert len(lines) == len(set(lines)), [line for line in lines if lines.count(line) > 1]
    assert lines[0] == "UI: http://ui/x"
    assert lines[1] == "rollout demo: running | wave 1 | 0/12 done | running: encrypting 1"
    assert lines[-3:] == [
        "rollout demo: completed | wave 3 | 12/12 done | encrypted 11, failed 1",
        "  event 10",
        "  failed bad-0: stand-in",
    ]
    assert len(lines) < 40


def test_a_repeated_poll_prints_nothing() -> None:
    plain = PlainProgress()
    progress = _progress(3, 2, log=2)
    assert plain.update(progress, {"enable": 2})
    assert plain.update(progress, {"enable": 2}) == []
