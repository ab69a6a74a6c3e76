"""``adeflow migrate report ROLLOUT_OR_VM``: the migrations' evidence (path, new VM, disk mapping, bytes, SAS
windows, approvals, timings) as JSON, CSV or Markdown (``adeflow.reports.migration_report``).

Registered onto the ``migrate`` group by ``adeflow.cli.main``. Reads Temporal only (``run_temporal``: exit 1 with one
line when it cannot); open runs are listed "in progress (<phase>)", not awaited. A file is written whole or not at
all (temporary file, then rename).
"""

from __future__ import annotations

from pathlib import Path

import click
from temporalio.client import Client

from adeflow.cli.vm import parse_vm
from adeflow.client.migration_reports import render, rollout_migrations, vm_migration, write_atomically
from adeflow.client.session import run_temporal
from adeflow.domain.model import VmRef
from adeflow.inputs.settings import Settings
from adeflow.reports.migration_report import FORMATS, MigrationReport, summary_line


def vm_or_rollout(text: str) -> VmRef | str:
    """A VM (its resource id, or ``<subscription>/<resource group>/<name>``), else a rollout id."""
    if text.startswith("/") or text.count("/") == 2:
        return parse_vm(text)
    return text


@click.command(name="report")
@click.argument("target", metavar="ROLLOUT_OR_VM")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(sorted(FORMATS)),
    default="markdown",
    show_default=True,
    help="csv: one row per VM; csv-disks: one row per disk mapping (old disk -> new disk, bytes, SAS windows).",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the report here (whole or not at all) [default: stdout].",
)
def report(target: str, fmt: str, output: Path | None) -> None:
    """The migrations of a rollout (its id: the runs tagged AdeRolloutId) or of one VM: per VM the path, the new
    VM, the disk mapping, bytes copied vs written, SAS windows, approvals (M-7, M-8) and timings."""
    chosen = vm_or_rollout(target)

    async def go(client: Client, settings: Settings) -> MigrationReport:
        if isinstance(chosen, VmRef):
            return await vm_migration(client, chosen)
        return await rollout_migrations(client, chosen)

    found = run_temporal(go)
    text = render(found, fmt)
    if output is None:
        click.echo(text, nl=not text.endswith("\n"))
        return
    write_atomically(output, text)
    click.echo(f"wrote {output}: {summary_line(found)}", err=True)
