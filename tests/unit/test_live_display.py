"""The rollout on a terminal: a ``rich`` live view redrawn in place (issue 15); in a pipe, plain lines, each once.

The terminal is a rich Console that believes it is one (``force_terminal``), records what it draws and has a fixed
width, so the frame is checked as an operator would see it.
"""

from __future__ import annotations

import io
import re

from rich.console import Console

from adeflow.domain.rollout import COUNT_NAMES, RolloutProgress, RolloutStage, VmNote
from adeflow.reports.rollout_live import LiveDisplay, PlainDisplay

MESSAGE = "the ADE extension reported: Failed to unmount /oldroot, target is busy (R-ENC-3); see the extension log"


def _progress(failures: int = 1) -> RolloutProgress:
    counts = dict.fromkeys(COUNT_NAMES.values(), 0)
    counts.update(pending=2, running=2, encrypted=5, refused=2, failed=failures)
    return RolloutProgress(
        rollout_id="demo",
        stage=RolloutStage.RUNNING,
        halted="",
        wave=2,
        total=11 + failures,
        counts=counts,
        running_per_subscription={},
        failures=[VmNote(i, f"web-{i:02}", "extension-failed", "R-ENC-3", MESSAGE) for i in range(failures)],
        refusals=[VmNote(7, "old-01", "os-unsupported", "R-PRE-1"), VmNote(8, "old-02", "os-unsupported", "R-PRE-1")],
        eta_seconds=125.0,
        log=[f"event {i}" for i in range(8)],
        run=1,
    )


def _terminal(width: int = 100) -> tuple[Console, io.StringIO]:
    written = io.StringIO()
    return Console(file=written, force_terminal=True, record=True, width=width, color_system="standard"), written


def _counts(text: str) -> dict[str, str]:
    names = {"pending", "preflight", "backup", "plan", "enable", "encrypting", "verify", *COUNT_NAMES.values()}
    return {words[0]: words[-1] for line in text.splitlines() if (words := line.split()) and words[0] in names}


def test_the_terminal_view_shows_the_stage_the_counts_and_the_failures_with_rule_ids() -> None:
    console, written = _terminal()
    with LiveDisplay(console) as display:
        display.show(_progress(), {"enable": 1, "encrypting": 1}, "http://ui/x")
    text = console.export_text()
    assert "rollout demo: running | wave 2 | 8/12 done | ETA 0:02:05" in text
    assert "UI: http://ui/x" in text
    assert _counts(text) == {
        "pending": "2",
        "preflight": "0",
        "backup": "0",
        "plan": "0",
        "enable": "1",
        "encrypting": "1",
        "verify": "0",
        "encrypted": "5",
        "refused": "2",
        "failed": "1",
    }
    assert "refused by rule: R-PRE-1: 2" in text
    assert re.search(r"failures \(1\)\s*\n\s*VM\s+RULE\s+REASON\s+MESSAGE", text), text
    assert re.search(r"web-00\s+R-ENC-3\s+extension-failed\s+the ADE extension reported", text), text
    assert "event 2" not in text and "event 3" in text and "event 7" in text  # the last five events
    assert "\x1b[" in written.getvalue()  # drawn for a terminal (colours, cursor)


def test_each_poll_redraws_the_view_in_place() -> None:
    console, written = _terminal()
    with LiveDisplay(console) as display:
        display.waiting("rollout demo: finding the VMs its selectors name")
        display.show(_progress(), {}, "")
        display.show(_progress(), {"encrypting": 2}, "")
    drawn = written.getvalue()
    assert drawn.count("rollout demo: running | wave 2") == 3  # a frame per poll, and the last one as it stops ...
    assert drawn.count("\x1b[1A") >= 2 * 20  # ... each drawn over the last: the cursor goes back up its 20 lines
    assert _counts(console.export_text().split("finding the VMs")[-1].split("ETA")[-1])["encrypting"] == "2"


def test_a_narrow_terminal_cuts_the_message_never_the_rule_id() -> None:
    console, _ = _terminal(width=60)
    with LiveDisplay(console) as display:
        display.show(_progress(), {}, "")
    row = re.search(r"\n( web-00\s+R-ENC-3\s+extension-failed\s+the ADE[^\n…]*…)", console.export_text())
    assert row is not None and len(row[1]) <= 60, row


def test_many_failures_show_the_last_ten_and_the_total() -> None:
    console, _ = _terminal()
    with LiveDisplay(console) as display:
        display.show(_progress(failures=15), {}, "")
    text = console.export_text()
    assert "failures (15, last 10 shown)" in text
    assert "web-14" in text and "web-05" in text and "web-04" not in text


def test_the_plain_display_says_each_thing_once_with_the_rule_id() -> None:
    lines: list[str] = []
    display = PlainDisplay(lines.append)
    with display:
        for _ in range(3):
            display.waiting("rollout demo: finding the VMs its selectors name")
        for _ in range(3):
            display.show(_progress(), {"encrypting": 2}, "http://ui/x")
    assert lines.count("rollout demo: finding the VMs its selectors name") == 1
    assert len(lines) == len(set(lines))
    assert lines[1:3] == [
        "UI: http://ui/x",
        "rollout demo: running | wave 2 | 8/12 done | running: encrypting 2 | encrypted 5, refused 2, failed 1",
    ]
    assert f"  failed web-00: R-ENC-3: extension-failed: {MESSAGE}" in lines
    assert not any("\x1b" in line for line in lines)
