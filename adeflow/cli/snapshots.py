"""``adeflow snapshots list|delete``: the pre-encryption snapshots (R-BAK-1/2) once the operator no longer needs them.

adeflow takes a snapshot of every managed disk before it encrypts, and never deletes one by itself: they are the
way back if encryption goes wrong. These commands find them by adeflow's tags and delete them on request; a
snapshot without those tags is never touched.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import click

from adeflow.cli.tables import echo_table
from adeflow.client.azure_reads import (
    DeleteOutcome,
    RetainedSnapshot,
    SnapshotQuery,
    delete_snapshots,
    list_snapshots,
)
from adeflow.client.session import run_azure


def selection_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The filters ``list`` and ``delete`` share, so that ``delete`` removes exactly what ``list`` showed."""
    options = [
        click.option(
            "--subscription",
            "subscriptions",
            multiple=True,
            envvar="ADEFLOW_SUBSCRIPTION",
            help="Subscription id to search; repeat for several (default: $ADEFLOW_SUBSCRIPTION, space-separated).",
        ),
        click.option("--resource-group", help="Only snapshots in this resource group."),
        click.option("--vm", "vm_name", metavar="NAME", help="Only snapshots taken of this VM's disks."),
        click.option(
            "--older-than",
            "older_than",
            type=click.FloatRange(min=0),
            metavar="DAYS",
            help="Only snapshots at least this many days old.",
        ),
        click.option("--json", "emit_json", is_flag=True, help="Print JSON instead of a table."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _query(
    subscriptions: tuple[str, ...], resource_group: str | None, vm_name: str | None, older_than: float | None
) -> SnapshotQuery:
    wanted = tuple(s for s in subscriptions if s.strip())
    if not wanted:
        raise click.UsageError("give --subscription (or set ADEFLOW_SUBSCRIPTION): which subscriptions to search")
    return SnapshotQuery(wanted, resource_group or None, vm_name or None, older_than)


HEADERS = ("NAME", "RESOURCE GROUP", "VM", "RUN", "CREATED", "AGE (DAYS)", "STATE", "SIZE (GB)")


def _echo_table(snapshots: list[RetainedSnapshot], now: datetime, err: bool = False) -> None:
    rows = []
    for snap in snapshots:
        age = snap.age_days(now)
        rows.append(
            (
                snap.name,
                snap.resource_group,
                snap.vm,
                snap.run_tag,
                snap.created.strftime("%Y-%m-%d %H:%M") if snap.created else "?",
                "?" if age is None else f"{age:.1f}",
                snap.provisioning_state,
                str(snap.size_gb),
            )
        )
    echo_table(HEADERS, rows, err=err, right={"AGE (DAYS)", "SIZE (GB)"})


@click.group()
def snapshots() -> None:
    """Snapshots adeflow took before encrypting (R-BAK-2): list them, delete them when no longer needed."""


@snapshots.command(name="list")
@selection_options
def list_command(
    subscriptions: tuple[str, ...],
    resource_group: str | None,
    vm_name: str | None,
    older_than: float | None,
    emit_json: bool,
) -> None:
    """List the snapshots adeflow took (only those carrying its tags), oldest first."""
    query = _query(subscriptions, resource_group, vm_name, older_than)
    now = datetime.now(UTC)
    found = run_azure(lambda clients: list_snapshots(clients, query, now), what="snapshots list")
    if emit_json:
        click.echo(json.dumps([s.to_json(now) for s in found], indent=2))
        return
    if not found:
        click.echo("no adeflow snapshots match")
        return
    _echo_table(found, now)
    click.echo(f"{len(found)} snapshot(s), {sum(s.size_gb for s in found)} GB of source disks")


@snapshots.command(name="delete")
@selection_options
@click.option("--yes", is_flag=True, help="Delete without asking.")
def delete_command(
    subscriptions: tuple[str, ...],
    resource_group: str | None,
    vm_name: str | None,
    older_than: float | None,
    emit_json: bool,
    yes: bool,
) -> None:
    """Delete the adeflow snapshots that match; asks first unless --yes. A snapshot already gone is fine."""
    query = _query(subscriptions, resource_group, vm_name, older_than)
    now = datetime.now(UTC)
    found = run_azure(lambda clients: list_snapshots(clients, query, now), what="snapshots list")
    if not found:
        click.echo("no adeflow snapshots match; nothing to delete")
        if emit_json:
            click.echo(json.dumps([]))
        return
    click.echo(
        f"adeflow will delete {len(found)} snapshot(s); they are the way back to the disks as they were "
        "before encryption (R-BAK-1):",
        err=emit_json,
    )
    _echo_table(found, now, err=emit_json)
    if not yes and not click.confirm("Delete them?", default=False, err=True):
        click.echo("nothing deleted", err=True)
        sys.exit(1)
    results = run_azure(lambda clients: delete_snapshots(clients, found), what="snapshots delete")
    failed = [r for r in results if r.outcome is DeleteOutcome.FAILED]
    if emit_json:
        click.echo(
            json.dumps(
                [{**r.snapshot.to_json(now), "outcome": r.outcome.value, "detail": r.detail} for r in results], indent=2
            )
        )
    else:
        for result in results:
            detail = f": {result.detail}" if result.detail else ""
            click.echo(f"{result.snapshot.name}: {result.outcome.value}{detail}")
    counts = {o: sum(1 for r in results if r.outcome is o) for o in DeleteOutcome}
    summary = ", ".join(f"{n} {o.value}" for o, n in counts.items() if n)
    click.echo(summary, err=emit_json)
    if failed:
        sys.exit(1)
