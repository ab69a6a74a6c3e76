"""What operators read about a rollout: the plain progress lines, and the report (JSON, CSV, Markdown).

Pure rendering: the CLI gathers the facts (the rollout's progress query, visibility counts per phase, the VM
runs' results) and these functions turn them into text, so the formats are tested without a server.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass, field
from datetime import timedelta

from adeflow.domain.model import EncryptVmResult, Phase
from adeflow.domain.rollout import RolloutProgress, VmNote

PHASES = tuple(
    p.value for p in (Phase.PREFLIGHT, Phase.BACKUP, Phase.PLAN, Phase.ENABLE, Phase.ENCRYPTING, Phase.VERIFY)
)
"""The phases of an encryption run, the only runs a rollout starts: one count (or bar) each while it runs."""
OUTCOMES = ("encrypted", "refused", "failed", "skipped", "elsewhere")
"""How a VM's part in a rollout ends (``RolloutProgress.counts``), in the order operators read them."""


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    return str(timedelta(seconds=round(seconds)))


def headline(progress: RolloutProgress) -> str:
    """The rollout in one line: stage (and why it halted), wave, VMs done of the total."""
    done = sum(progress.counts[k] for k in OUTCOMES)
    return (
        f"rollout {progress.rollout_id}: {progress.stage.value}"
        + (f" ({progress.halted})" if progress.halted else "")
        + f" | wave {progress.wave} | {done}/{progress.total} done"
    )


def note_text(note: VmNote, limit: int = 160) -> str:
    """Why a VM failed or was refused: its rule id (R-..., M-...), reason code and message, the empty ones left
    out."""
    return ": ".join(filter(None, (note.rule, note.reason, note.message[:limit])))


@dataclass
class PlainProgress:
    """The live display for a file, a pipe or a CI log: each change once, as plain lines (no redraws, no bars, no
    ETA, which changes on every poll). A terminal gets the live view instead (``rollout_live.LiveDisplay``)."""

    _said: set[str] = field(default_factory=set)
    _summary: str = ""

    def update(self, progress: RolloutProgress, running_by_phase: dict[str, int], ui_url: str = "") -> list[str]:
        """The lines that are new since the last update."""
        lines: list[str] = []
        if ui_url and not self._summary:
            lines.append(f"UI: {ui_url}")
        counts = progress.counts
        running = ", ".join(f"{phase} {n}" for phase in PHASES if (n := running_by_phase.get(phase, 0)))
        outcomes = ", ".join(f"{k} {counts[k]}" for k in OUTCOMES if counts[k])
        summary = (
            headline(progress) + (f" | running: {running}" if running else "") + (f" | {outcomes}" if outcomes else "")
        )
        if summary != self._summary:
            lines.append(summary)
            self._summary = summary
        notes = [f"  {line}" for line in progress.log]
        notes += [f"  failed {n.vm}: {note_text(n)}" for n in progress.failures]
        for note in notes:
            if note not in self._said:
                self._said.add(note)
                lines.append(note)
        return lines


@dataclass(frozen=True)
class ReportRow:
    vm: str
    resource_group: str
    subscription: str
    outcome: str
    rule: str
    reason: str
    volume_type: str
    backup: str
    snapshot_ids: str
    recovery_point_id: str
    seconds: float
    message: str

    @staticmethod
    def from_result(result: EncryptVmResult) -> ReportRow:
        return ReportRow(
            vm=result.vm.name,
            resource_group=result.vm.resource_group,
            subscription=result.vm.subscription_id,
            outcome=result.outcome.value,
            rule=result.rule,
            reason=result.reason,
            volume_type=result.volume_type.value if result.volume_type else "",
            backup=result.backup.value if result.backup else "",
            snapshot_ids=" ".join(result.snapshot_ids),
            recovery_point_id=result.recovery_point_id,
            seconds=round(sum(t.seconds for t in result.timings), 1),
            message=result.message,
        )


def report_json(progress: RolloutProgress, rows: list[ReportRow]) -> str:
    return json.dumps(
        {
            "rollout_id": progress.rollout_id,
            "stage": progress.stage.value,
            "counts": progress.counts,
            "selectors": progress.selected,
            "vms": [asdict(row) for row in rows],
        },
        indent=2,
    )


def report_csv(rows: list[ReportRow]) -> str:
    out = io.StringIO()
    fields = list(ReportRow.__dataclass_fields__)
    writer = csv.DictWriter(out, fieldnames=fields)
    writer.writeheader()
    for row in rows:
        writer.writerow(asdict(row))
    return out.getvalue()


def report_markdown(progress: RolloutProgress, rows: list[ReportRow]) -> str:
    counts = ", ".join(f"{k} {v}" for k, v in progress.counts.items() if v)
    lines = [
        f"# Rollout {progress.rollout_id}",
        "",
        f"Stage: **{progress.stage.value}**. {counts}.",
        "",
        *(f"- Selector {line}" for line in progress.selected),
        *([""] if progress.selected else []),
        "| VM | resource group | outcome | rule | reason | backup | seconds |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    lines += [
        f"| {r.vm} | {r.resource_group} | {r.outcome} | {r.rule or '-'} | {r.reason or '-'} | {r.backup or '-'} "
        f"| {r.seconds:g} |"
        for r in rows
    ]
    problems = [r for r in rows if r.outcome in ("failed", "refused")]
    if problems:
        lines += ["", "## Refused and failed VMs", ""]
        lines += [f"- **{r.vm}** ({r.outcome}): {r.message}" for r in problems]
    return "\n".join(lines) + "\n"
