"""How ``rollout start --wait``, ``rollout watch`` and the demo show a rollout while it runs (issue 15).

A terminal gets a ``rich`` live view, redrawn in place: the headline, a bar per pending/phase/outcome count, the
recent events and the failures with their rule ids. A file, a pipe or a CI log gets :class:`PlainDisplay`: each
change once, as plain lines (a redrawn frame there is hundreds of repeated lines). Both take the same snapshots
(``adeflow.client.rollouts.follow``), so the client polls and never draws.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Protocol

from rich import box
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from adeflow.domain.rollout import RolloutProgress
from adeflow.reports.rollout_report import OUTCOMES, PHASES, PlainProgress, duration, headline

BAR = 30
RECENT = 5
"""Log lines the live view keeps; the plain lines print every one of them, once."""
FAILURES = 10
STYLES = {"pending": "blue", "encrypted": "green", "refused": "yellow", "failed": "red", "skipped": "grey50"}
RUNNING_STYLE = "cyan"


def progress_view(progress: RolloutProgress, running_by_phase: dict[str, int], ui_url: str = "") -> RenderableType:
    """One frame of the live view: what the rollout's ``progress`` query and visibility say now."""
    counts = progress.counts
    parts: list[RenderableType] = [
        Text(f"{headline(progress)} | ETA {duration(progress.eta_seconds)}", style="bold"),
    ]
    if ui_url:
        parts.append(Text(f"UI: {ui_url}"))
    rows = [("pending", counts["pending"], STYLES["pending"])]
    rows += [(phase, running_by_phase.get(phase, 0), RUNNING_STYLE) for phase in PHASES]
    rows += [(o, counts[o], STYLES.get(o, "blue")) for o in OUTCOMES if counts[o] or o in ("encrypted", "failed")]
    bars = Table.grid(padding=(0, 1))
    bars.add_column(min_width=11)
    bars.add_column(width=BAR)
    bars.add_column(justify="right")
    for name, n, style in rows:
        bar = ProgressBar(total=max(progress.total, 1), completed=n, width=BAR, complete_style=style)
        bar.finished_style = style  # a full bar keeps its colour (rich's default turns it green)
        bars.add_row(Text(name, style=style if n else ""), bar, Text(str(n)))
    parts.append(bars)
    refused = Counter(note.rule or note.reason or "no rule" for note in progress.refusals)
    if refused:
        parts.append(Text("refused by rule: " + ", ".join(f"{rule}: {n}" for rule, n in refused.most_common())))
    if progress.log:
        parts.append(Text("recent:", style="bold"))
        parts += [Text(f"  {line}") for line in progress.log[-RECENT:]]
    if progress.failures:
        parts.append(_failures(progress))
    return Group(*parts)


def _failures(progress: RolloutProgress) -> Table:
    shown = progress.failures[-FAILURES:]
    more = len(progress.failures) - len(shown)
    title = f"failures ({len(progress.failures)}{f', last {len(shown)} shown' if more else ''})"
    table = Table(title=title, title_justify="left", title_style="bold red", box=box.SIMPLE_HEAD, show_edge=False)
    table.add_column("VM", no_wrap=True)
    table.add_column("RULE", no_wrap=True)
    table.add_column("REASON", no_wrap=True)
    table.add_column("MESSAGE")  # the one column that gives way on a narrow terminal: one line, cut with "…"
    for note in shown:
        message = Text(note.message[:160], no_wrap=True, overflow="ellipsis")
        table.add_row(Text(note.vm), Text(note.rule or "-"), Text(note.reason or "-"), message)
    return table


class RolloutDisplay(Protocol):
    """Where a watch puts what it reads: :class:`LiveDisplay` on a terminal, :class:`PlainDisplay` elsewhere."""

    def __enter__(self) -> RolloutDisplay: ...

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None: ...

    def waiting(self, message: str) -> None:
        """The rollout has no progress yet (finding its selectors' VMs)."""

    def show(self, progress: RolloutProgress, running_by_phase: dict[str, int], ui_url: str) -> None:
        """The rollout as it is now."""


@dataclass
class PlainDisplay:
    """Plain lines, each change once (:class:`PlainProgress`), for a file, a pipe or a CI log."""

    out: Callable[[str], None] = print
    _plain: PlainProgress = field(default_factory=PlainProgress)
    _waiting: str = ""

    def __enter__(self) -> PlainDisplay:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        return None

    def waiting(self, message: str) -> None:
        if message != self._waiting:
            self.out(message)
            self._waiting = message

    def show(self, progress: RolloutProgress, running_by_phase: dict[str, int], ui_url: str) -> None:
        for line in self._plain.update(progress, running_by_phase, ui_url):
            self.out(line)


class LiveDisplay:
    """The rich live view, redrawn in place on each poll; the last frame stays on the screen when it stops
    (the rollout closed, or Ctrl-C detached)."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(highlight=False)
        self._live = Live(Text(""), console=self.console, auto_refresh=False)

    def __enter__(self) -> LiveDisplay:
        self._live.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._live.stop()

    def waiting(self, message: str) -> None:
        self._live.update(Text(message), refresh=True)

    def show(self, progress: RolloutProgress, running_by_phase: dict[str, int], ui_url: str) -> None:
        self._live.update(progress_view(progress, running_by_phase, ui_url), refresh=True)
