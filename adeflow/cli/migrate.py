"""``adeflow migrate plan|readiness``: leaving ADE for encryption at host (docs/ade-migration.md), planned from a
campaign report. Neither talks to Temporal or Azure: they read files and write one.

Exit codes as everywhere: 0 success, 1 the operation failed, 2 bad input (a report or manifest that cannot be read,
an output file that exists without ``--force``); nothing is written on any error.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import NoReturn

import click

from adeflow.cli.migrate_fleet import FLEET_COMMANDS
from adeflow.cli.tables import echo_table
from adeflow.client.errors import OperationFailed
from adeflow.domain import values
from adeflow.domain.migration.audit import AuditReport, migration_plan, readiness_entries
from adeflow.domain.migration.fleet import MigrationManifest, planned_dates
from adeflow.domain.migration.readiness import readiness
from adeflow.inputs.audit_report import AuditReportError, load_audit_report
from adeflow.inputs.manifest import ManifestError, load_migration_manifest, parse_migration_manifest_text
from adeflow.reports.migration_plan import (
    MONTH_HEADERS,
    migration_manifest_yaml,
    month_rows,
    path_rows,
    readiness_json,
    readiness_lines,
)

_REPORT = click.Path(exists=True, dir_okay=False, path_type=Path)


def _refuse(error: AuditReportError | ManifestError) -> NoReturn:
    """Bad input starts and writes nothing: every problem at once, exit 2."""
    click.echo(str(error), err=True)
    sys.exit(2)


def _report(path: Path) -> AuditReport:
    try:
        return load_audit_report(path)
    except AuditReportError as exc:
        _refuse(exc)


def _manifest(path: Path) -> MigrationManifest:
    try:
        return load_migration_manifest(path)
    except ManifestError as exc:
        _refuse(exc)


def _todos_only(text: str) -> int:
    """The written plan loads once its TODOs are filled: any other problem is adeflow's bug, and nothing is written."""
    try:
        parse_migration_manifest_text(text, source="<plan>")
    except ManifestError as exc:
        others = [p.render() for p in exc.problems if not p.message.startswith(f"still {values.TODO}")]
        if others:
            raise OperationFailed(f"the plan would not load ({others[0]}); please report this") from exc
        return len(exc.problems)
    return 0


@click.group()
def migrate() -> None:
    """Leave ADE for encryption at host: plan a migration manifest from an audit, see the readiness, then check,
    start, follow and decide a fleet's migration rollout (pause, resume or cancel it with adeflow rollout ...)."""


for _command in FLEET_COMMANDS:
    migrate.add_command(_command)


@migrate.command()
@click.option(
    "--from-audit",
    "report_path",
    type=_REPORT,
    required=True,
    help="A campaign report (<run>.json in an audit campaign's report_dir).",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the migration manifest here [default: stdout].",
)
@click.option("--force", is_flag=True, help="Overwrite OUTPUT if it exists.")
def plan(report_path: Path, output: Path | None, force: bool) -> None:
    """Write a migration manifest for the ADE VMs of an audit: data-only ADE copies its disks (M-3), an encrypted OS
    volume is rebuilt from an image (M-4, left as TODO values to fill in)."""
    report = _report(report_path)
    planned = migration_plan(report)
    if not planned.copy_disks and not planned.rebuild:
        counts = ", ".join(f"{path} {n}" for path, n in planned.nothing_to_do.items()) or "no VMs"
        unread = f"; {len(planned.unreadable)} could not be read: run the campaign again" if planned.unreadable else ""
        click.echo(f"nothing to migrate in {report_path} ({counts}){unread}; no manifest written", err=True)
        return
    if output is not None and output.exists() and not force:
        raise click.UsageError(f"{output} exists; choose another file or add --force")
    text = migration_manifest_yaml(report, planned, str(report_path))
    todos = _todos_only(text)
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
    where = f"wrote {output}" if output is not None else "migration manifest above"
    click.echo(
        f"{where}: {len(planned.copy_disks)} VMs copy their disks (M-3), {len(planned.rebuild)} are rebuilt (M-4)"
        + (f"; {len(planned.unreadable)} not read, listed at its end" if planned.unreadable else ""),
        err=True,
    )
    if todos:
        click.echo(
            f"fill in its {todos} {values.TODO} values (the M-4 image and first login) before running it: "
            "adeflow refuses the file until then",
            err=True,
        )


def _as_of(text: str | None) -> date:
    if text is None:
        return datetime.now(UTC).date()
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"{text!r}: use YYYY-MM-DD", param_hint="--as-of") from None


@migrate.command(name="readiness")
@click.argument("report_path", metavar="REPORT", type=_REPORT)
@click.option(
    "--manifest",
    "manifest_path",
    type=_REPORT,
    default=None,
    help="A migration manifest: its VMs' downtime windows are their planned dates.",
)
@click.option("--as-of", "as_of", default=None, help="Count months from this day (YYYY-MM-DD) [default: today, UTC].")
@click.option("--json", "as_json", is_flag=True, help="One JSON object instead of tables.")
def readiness_command(report_path: Path, manifest_path: Path | None, as_of: str | None, as_json: bool) -> None:
    """VMs per path off ADE and per month left until it retires (2028-09-15), from a campaign REPORT."""
    day = _as_of(as_of)
    report = _report(report_path)
    planned = planned_dates(_manifest(manifest_path)) if manifest_path is not None else {}
    known = {vm.vm.key.lower() for vm in report.vms}
    outside = sorted(key for key in planned if key not in known)
    view = readiness(readiness_entries(report, planned), day)
    notes = [f"VMs of the manifest not in the report (not counted): {len(outside)}"] if outside else []
    if as_json:
        about = {
            "report": str(report_path),
            "campaign": report.campaign,
            "run": report.run,
            "manifest": str(manifest_path) if manifest_path is not None else "",
        }
        click.echo(json.dumps({**readiness_json(view, **about), "notes": notes}, indent=2))
        return
    for line in readiness_lines(view):
        click.echo(line)
    click.echo("")
    echo_table(
        ("PATH", "RULE", "VMS", "PLANNED", "NOT PLANNED"), path_rows(view), right={"VMS", "PLANNED", "NOT PLANNED"}
    )
    click.echo("")
    if view.per_month:
        echo_table(MONTH_HEADERS, month_rows(view), right=set(MONTH_HEADERS[1:]))
    else:
        click.echo(
            "No migration is planned yet: set downtime windows in a migration manifest "
            "(adeflow migrate plan --from-audit REPORT) and pass it with --manifest."
        )
    for note in notes:
        click.echo(f"note: {note}")
