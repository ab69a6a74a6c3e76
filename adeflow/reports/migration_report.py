"""What an auditor reads about migrations off ADE (docs/ade-migration.md): JSON, CSV and Markdown per VM.

Pure rendering, like ``rollout_report``: the client layer gathers the finished runs' ``MigrationResult`` and the
open runs' phase (``adeflow.client.migration_reports``), and these functions turn them into text, so the formats are
tested without a server. A run still open is listed as "in progress (<phase>)", never awaited.

Formats:
- JSON: one object, keys in a fixed order, times in ISO 8601 UTC; every piece of evidence the result holds.
- CSV: two files' worth, because one CSV cannot hold two kinds of row and stay readable by every tool:
  :func:`report_csv` is one row per VM (outcome, rule, new VM, bytes, who approved what and when: M-7, M-8), and
  :func:`disks_csv` is one row per disk mapping (old disk → new disk, bytes written vs copied, its SAS windows).
- Markdown: the counts, a per-VM table, the approvals, the disk mapping, and why a VM was refused or failed.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from adeflow.domain.migration import (
    Approval,
    ApprovalKind,
    DiskMapping,
    MigrationOutcome,
    MigrationResult,
    SasWindow,
    approval_on_record,
)
from adeflow.domain.model import VmRef

COUNTED = ("migrated", "refused", "failed", "rolled-back", "in-progress")
"""The summary's counts, in the order operators read them (``MigrationOutcome`` values, then runs still open)."""
IN_PROGRESS = "in-progress"
APPROVAL_KINDS = tuple(ApprovalKind)


@dataclass(frozen=True)
class OpenMigration:
    """A migration run still open: listed with its phase (and what it waits for), not awaited."""

    vm: VmRef
    phase: str
    detail: str = ""


@dataclass(frozen=True)
class MigrationReport:
    """The migrations of one rollout (``scope`` is its id) or of one VM (``scope`` is the VM's key)."""

    scope: str
    results: Sequence[MigrationResult]
    open: Sequence[OpenMigration] = ()

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(COUNTED, 0)
        for result in self.results:
            counts[result.outcome.value] += 1
        counts[IN_PROGRESS] = len(self.open)
        return counts


def when(moment: datetime | None) -> str:
    """ISO 8601 in UTC to the second (``Z``); empty for a moment that has not come (a SAS not yet revoked)."""
    if moment is None:
        return ""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def status(result: MigrationResult) -> str:
    return result.outcome.value


def seconds(result: MigrationResult) -> float:
    return round(sum(t.seconds for t in result.timings), 1)


def _name(resource_id: str) -> str:
    return resource_id.rstrip("/").rsplit("/", 1)[-1]


# -- JSON --------------------------------------------------------------------------------------------------------


def _approval_json(approval: Approval) -> dict[str, str]:
    return {"kind": approval.kind.value, "by": approval.by, "at": when(approval.at), "note": approval.note}


def _disk_json(disk: DiskMapping) -> dict[str, Any]:
    return {
        "source_disk_id": disk.source_disk_id,
        "target_disk_id": disk.target_disk_id,
        "lun": disk.lun,
        "size_bytes": disk.size_bytes,
        "allocated_bytes": disk.allocated_bytes,
        "copied_bytes": disk.copied_bytes,
        "resumed_from_bytes": disk.resumed_from_bytes,
        "verified": disk.verified,
    }


def _sas_json(window: SasWindow) -> dict[str, Any]:
    return {
        "disk_id": window.disk_id,
        "access": window.access,
        "granted_at": when(window.granted_at),
        "duration_s": window.duration_s,
        "revoked_at": when(window.revoked_at) or None,
    }


def _vm_json(result: MigrationResult) -> dict[str, Any]:
    vm = result.vm
    return {
        "vm": vm.name,
        "resource_group": vm.resource_group,
        "subscription": vm.subscription_id,
        "status": status(result),
        "outcome": result.outcome.value,
        "path": result.path.value,
        "rule": result.rule,
        "reason": result.reason,
        "message": result.message,
        "refusals": [{"rule": r.rule, "reason": r.reason, "message": r.message, "fix": r.fix} for r in result.refusals],
        "new_vm_id": result.new_vm_id,
        "bytes_allocated": result.bytes_allocated,
        "bytes_copied": result.bytes_copied,
        "copied_over_allocated": round(result.copied_over_allocated, 4),
        "seconds": seconds(result),
        "disks": [_disk_json(d) for d in result.disks],
        "sas_windows": [_sas_json(w) for w in result.sas_windows],
        "approvals": [_approval_json(a) for a in result.approvals],
        "timings": [
            {"phase": t.phase.value, "started_at": when(t.started_at), "finished_at": when(t.finished_at)}
            | {"seconds": round(t.seconds, 1)}
            for t in result.timings
        ],
        "deleted": list(result.deleted),
        "vault_reset": result.vault_reset,
        "notes": list(result.notes),
    }


def _open_json(run: OpenMigration) -> dict[str, Any]:
    return {
        "vm": run.vm.name,
        "resource_group": run.vm.resource_group,
        "subscription": run.vm.subscription_id,
        "status": f"in progress ({run.phase})",
        "phase": run.phase,
        "detail": run.detail,
    }


def report_json(report: MigrationReport) -> str:
    return json.dumps(
        {
            "scope": report.scope,
            "counts": report.counts(),
            "vms": [_vm_json(r) for r in report.results],
            "in_progress": [_open_json(o) for o in report.open],
        },
        indent=2,
    )


# -- CSV ---------------------------------------------------------------------------------------------------------

VM_COLUMNS = (
    "vm",
    "resource_group",
    "subscription",
    "status",
    "path",
    "rule",
    "reason",
    "new_vm_id",
    "disks",
    "bytes_allocated",
    "bytes_copied",
    "seconds",
    *(f"{kind.value.replace('-', '_')}_{part}" for kind in APPROVAL_KINDS for part in ("by", "at")),
    "deleted",
    "message",
)
"""One row per VM. The ``<kind>_by``/``<kind>_at`` columns are the approvals on record: ``downtime`` for M-7,
``new_vm_works`` and ``cleanup`` for M-8, ``data_moved`` for M-4 (the latest one that names a person)."""

DISK_COLUMNS = (
    "vm",
    "resource_group",
    "subscription",
    "lun",
    "source_disk_id",
    "target_disk_id",
    "size_bytes",
    "allocated_bytes",
    "copied_bytes",
    "resumed_from_bytes",
    "verified",
    "sas_windows",
)
"""One row per disk mapping (M-3). ``sas_windows``: ``<access> <granted>..<revoked>`` per SAS of either disk,
``;``-separated; an open end is a SAS not revoked."""


def _vm_row(result: MigrationResult) -> dict[str, Any]:
    row: dict[str, Any] = {
        "vm": result.vm.name,
        "resource_group": result.vm.resource_group,
        "subscription": result.vm.subscription_id,
        "status": status(result),
        "path": result.path.value,
        "rule": result.rule,
        "reason": result.reason,
        "new_vm_id": result.new_vm_id,
        "disks": len(result.disks),
        "bytes_allocated": result.bytes_allocated,
        "bytes_copied": result.bytes_copied,
        "seconds": seconds(result),
        "deleted": " ".join(result.deleted),
        "message": result.message,
    }
    for kind in APPROVAL_KINDS:
        approval = approval_on_record(result.approvals, kind)
        column = kind.value.replace("-", "_")
        row[f"{column}_by"] = approval.by if approval else ""
        row[f"{column}_at"] = when(approval.at) if approval else ""
    return row


def _open_row(run: OpenMigration) -> dict[str, Any]:
    row = dict.fromkeys(VM_COLUMNS, "")
    row.update(
        vm=run.vm.name,
        resource_group=run.vm.resource_group,
        subscription=run.vm.subscription_id,
        status=f"in progress ({run.phase})",
        message=run.detail,
    )
    return row


def _windows(disk: DiskMapping, windows: Sequence[SasWindow]) -> str:
    ours = [w for w in windows if w.disk_id.lower() in (disk.source_disk_id.lower(), disk.target_disk_id.lower())]
    return ";".join(f"{w.access} {when(w.granted_at)}..{when(w.revoked_at)}" for w in ours)


def _write(columns: Sequence[str], rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def report_csv(report: MigrationReport) -> str:
    return _write(VM_COLUMNS, [_vm_row(r) for r in report.results] + [_open_row(o) for o in report.open])


def disks_csv(report: MigrationReport) -> str:
    rows = [
        {
            "vm": r.vm.name,
            "resource_group": r.vm.resource_group,
            "subscription": r.vm.subscription_id,
            **{k: v for k, v in _disk_json(d).items() if k in DISK_COLUMNS},
            "lun": "OS" if d.lun is None else d.lun,
            "sas_windows": _windows(d, r.sas_windows),
        }
        for r in report.results
        for d in r.disks
    ]
    return _write(DISK_COLUMNS, rows)


# -- Markdown ----------------------------------------------------------------------------------------------------


def _cell(text: object) -> str:
    """A table cell: pipes escaped, newlines folded, empty as ``-``."""
    value = str(text).replace("|", "\\|").replace("\n", " ").strip()
    return value or "-"


def _mib(size: int) -> str:
    return f"{size / 1024**2:,.0f} MiB"


def summary_line(report: MigrationReport) -> str:
    counts = report.counts()
    return ", ".join(f"{name} {counts[name]}" for name in COUNTED)


def report_markdown(report: MigrationReport) -> str:
    lines = [
        f"# Migration to encryption at host: {report.scope}",
        "",
        f"{summary_line(report)}.",
        "",
        "| VM | resource group | status | path | rule | new VM | disks | copied / written | seconds |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in report.results:
        bytes_moved = f"{_mib(r.bytes_copied)} / {_mib(r.bytes_allocated)}" if r.disks else ""
        lines.append(
            "| "
            + " | ".join(
                _cell(x)
                for x in (
                    r.vm.name,
                    r.vm.resource_group,
                    status(r),
                    r.path.value,
                    r.rule,
                    _name(r.new_vm_id) if r.new_vm_id else "",
                    len(r.disks) or "",
                    bytes_moved,
                    f"{seconds(r):g}",
                )
            )
            + " |"
        )
    for o in report.open:
        cells = (o.vm.name, o.vm.resource_group, f"in progress ({o.phase})", "", "", "", "", "", "")
        lines.append("| " + " | ".join(_cell(x) for x in cells) + " |")
    approvals = [(r, a) for r in report.results for a in r.approvals]
    if approvals:
        lines += ["", "## Approvals (M-7 downtime, M-4 data moved, M-8 owner and cleanup)", ""]
        lines += ["| VM | decision | by | at |", "| --- | --- | --- | --- |"]
        lines += [f"| {_cell(r.vm.name)} | {a.kind.value} | {_cell(a.by)} | {when(a.at)} |" for r, a in approvals]
    disks = [(r, d) for r in report.results for d in r.disks]
    if disks:
        lines += ["", "## Disk mapping (M-3: written ranges only)", ""]
        lines += [
            "| VM | LUN | source disk | new disk | written | copied | verified |",
            "| --- | --- | --- | --- | --- | --- | --- |",
        ]
        lines += [
            f"| {_cell(r.vm.name)} | {'OS' if d.lun is None else d.lun} | {_cell(_name(d.source_disk_id))} "
            f"| {_cell(_name(d.target_disk_id))} | {_mib(d.allocated_bytes)} | {_mib(d.copied_bytes)} "
            f"| {'yes' if d.verified else 'no'} |"
            for r, d in disks
        ]
    problems = [r for r in report.results if r.outcome is not MigrationOutcome.MIGRATED]
    if problems:
        lines += ["", "## Refused, failed and rolled back", ""]
        lines += [f"- **{r.vm.name}** ({status(r)}{', ' + r.rule if r.rule else ''}): {r.message}" for r in problems]
    if report.open:
        lines += ["", "## In progress", ""]
        lines += [f"- **{o.vm.name}** ({o.phase}): {o.detail}" for o in report.open]
    return "\n".join(lines) + "\n"


FORMATS = {"json": report_json, "csv": report_csv, "csv-disks": disks_csv, "markdown": report_markdown}
"""``adeflow migrate report --format``: the name → its renderer."""
