"""The ``adeflow`` command. Exit codes: 0 success, 1 the operation failed, 2 bad input (nothing started)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import click

from adeflow.cli.rollout import rollout
from adeflow.cli.vm import vm
from adeflow.config import Settings
from adeflow.logging import configure_logging
from adeflow.model import Outcome
from azuresim.cli import serve as sim_serve


@click.group()
@click.option("--log-level", default="WARNING", show_default=True, help="Log level for adeflow's own logs.")
def cli(log_level: str) -> None:
    """Durable Azure Disk Encryption rollouts for Linux VM fleets."""
    configure_logging(log_level.upper())


@cli.command()
@click.option("--json", "emit_json", is_flag=True, help="End with one line of JSON summarising the outcomes.")
@click.option("--keep-running", is_flag=True, help="Leave server, simulator and worker up until Ctrl-C.")
@click.option(
    "--fleet",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Fleet file for the simulator (default: examples/demo-fleet.yaml).",
)
@click.option(
    "--manifest",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Rollout manifest (default: examples/demo-rollout.yaml).",
)
@click.option("--target-seconds", default=30.0, show_default=True, help="Real seconds the slowest VM may take.")
def demo(emit_json: bool, keep_running: bool, fleet: Path | None, manifest: Path | None, target_seconds: float) -> None:
    """Roll out ADE over a sample fleet: Temporal dev server + ARM simulator + worker, canary first."""
    from adeflow.demo import DEFAULT_FLEET, DEFAULT_MANIFEST, run_demo

    try:
        summary = asyncio.run(
            run_demo(
                fleet or DEFAULT_FLEET,
                manifest or DEFAULT_MANIFEST,
                target_seconds=target_seconds,
                keep_running=keep_running,
                emit_json=emit_json,
            )
        )
    except KeyboardInterrupt:
        click.echo("interrupted; everything the demo started has been stopped", err=True)
        sys.exit(1)
    if summary.count(Outcome.FAILED):
        sys.exit(1)


@cli.command()
def worker() -> None:
    """Run a worker (settings from ADEFLOW_* environment variables)."""
    from worker.main import run_worker

    try:
        settings = Settings.from_env()
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    asyncio.run(run_worker(settings))


@cli.group()
def sim() -> None:
    """The ARM simulator: rehearse against a copy of your fleet."""


sim.add_command(sim_serve, name="serve")
cli.add_command(vm)
cli.add_command(rollout)


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
