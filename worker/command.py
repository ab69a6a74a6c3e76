"""``adeflow worker`` and ``python -m worker``: run a worker, or check its connection (``--check``)."""

from __future__ import annotations

import asyncio
import gc
import sys

import click

from adeflow.client.connect import TemporalUnreachable
from adeflow.client.logging import configure_logging
from adeflow.inputs.settings import Settings


@click.command()
@click.option(
    "--check",
    "check_only",
    is_flag=True,
    help="Check the Temporal connection, namespace and search attributes, and read ARM once with the worker's "
    "identity; exit 1 with fixes if something is wrong.",
)
@click.pass_context
def worker_command(ctx: click.Context, check_only: bool) -> None:
    """Run a worker (settings from ADEFLOW_* environment variables and ADEFLOW_CONFIG_FILE)."""
    from worker.check import check_worker
    from worker.main import run_worker

    try:
        settings = Settings.from_env()
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    if check_only:
        sys.exit(0 if asyncio.run(check_worker(settings, click.echo)) else 1)
    configure_logging((ctx.obj or settings.telemetry.log_level).upper(), settings.telemetry.log_format)
    try:
        asyncio.run(run_worker(settings))
    except (TemporalUnreachable, ValueError) as exc:
        click.echo(f"adeflow worker: {exc}", err=True)
        sys.exit(1)


def main() -> None:
    """``python -m worker``: the same command, without importing the CLI (nor the simulator it can start)."""
    try:
        worker_command(prog_name="python -m worker")
    finally:
        gc.collect()  # free Temporal clients while the interpreter is whole (see adeflow.cli.main.main)
