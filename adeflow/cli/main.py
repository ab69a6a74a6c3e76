"""The ``adeflow`` command. Exit codes: 0 success, 1 the operation failed, 2 bad input (nothing started)."""

from __future__ import annotations

import asyncio
import gc
import sys
from pathlib import Path

import click

from adeflow.cli.campaign import campaign
from adeflow.cli.codec import codec_key, codec_server
from adeflow.cli.rollout import rollout
from adeflow.cli.snapshots import snapshots
from adeflow.cli.vm import vm
from adeflow.client.logging import configure_logging
from adeflow.domain.model import Outcome
from adeflow.inputs.settings import Settings
from worker.command import worker_command


@click.group()
@click.option(
    "--log-level", default=None, help="Log level for adeflow's own logs [default: WARNING; worker: ADEFLOW_LOG_LEVEL]."
)
@click.pass_context
def cli(ctx: click.Context, log_level: str | None) -> None:
    """Durable Azure Disk Encryption rollouts for Linux VM fleets."""
    ctx.obj = log_level
    configure_logging((log_level or "WARNING").upper())


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
    from adeflow.cli.demo import DEFAULT_FLEET, DEFAULT_MANIFEST, run_demo

    try:
        telemetry = Settings.from_env().telemetry  # the metrics endpoint, if ADEFLOW_METRICS_ADDRESS asks for one
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    try:
        summary = asyncio.run(
            run_demo(
                fleet or DEFAULT_FLEET,
                manifest or DEFAULT_MANIFEST,
                target_seconds=target_seconds,
                keep_running=keep_running,
                emit_json=emit_json,
                telemetry=telemetry,
            )
        )
    except KeyboardInterrupt:
        click.echo("interrupted; everything the demo started has been stopped", err=True)
        sys.exit(1)
    if summary.count(Outcome.FAILED):
        sys.exit(1)


class _SimulatorCommands(click.Group):
    """Loads the simulator only when one of its commands runs: the product never imports it otherwise."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return ["serve"]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name != "serve":
            return None
        from azuresim.cli import serve

        return serve


@cli.group(cls=_SimulatorCommands)
def sim() -> None:
    """The ARM simulator: rehearse against a copy of your fleet."""


cli.add_command(worker_command, name="worker")
cli.add_command(vm)
cli.add_command(rollout)
cli.add_command(campaign)
cli.add_command(snapshots)
cli.add_command(codec_server)
cli.add_command(codec_key)


def main() -> None:
    try:
        cli()
    finally:
        # Free Temporal clients while the interpreter is still whole: a client left for finalization makes the
        # SDK's Rust threads touch a dying interpreter (a crash at exit in about 1 run in 10 here).
        gc.collect()


if __name__ == "__main__":
    main()
