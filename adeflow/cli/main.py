"""The ``adeflow`` command. Exit codes: 0 success, 1 the operation failed (refused, unreachable), 2 bad input
(nothing started).

One exception mapper (:class:`AdeflowGroup`, also what ``main`` runs): the client layer's errors
(``adeflow.client.errors``) become ``adeflow: <message>`` and their exit code; anything unexpected becomes one line
and "rerun with --log-level debug for details" (the traceback is logged at debug level only). Never a raw traceback.
"""

from __future__ import annotations

import gc
import logging
import sys
from pathlib import Path
from typing import Any, NoReturn

import click

from adeflow.cli.campaign import campaign
from adeflow.cli.codec import codec_key, codec_server
from adeflow.cli.migrate import migrate
from adeflow.cli.migrate_report import report as migrate_report
from adeflow.cli.rollout import rollout
from adeflow.cli.snapshots import snapshots
from adeflow.cli.vm import vm
from adeflow.client.errors import BadInput, OperationFailed
from adeflow.client.logging import configure_logging
from adeflow.domain.model import Outcome
from adeflow.inputs.manifest import ManifestError
from adeflow.inputs.settings import Settings
from worker.command import worker_command

log = logging.getLogger("adeflow.cli")


class Failure(click.ClickException):
    """An operation that failed: ``adeflow: <message>``, exit 1 (click's own usage errors keep their form)."""

    def show(self, file: Any = None) -> None:
        click.echo(f"adeflow: {self.format_message()}", err=True)


def _mapped(exc: Exception) -> NoReturn:
    """The one mapping from an error to what the operator sees."""
    if isinstance(exc, click.ClickException | click.exceptions.Exit | click.Abort):
        raise exc
    if isinstance(exc, BadInput):
        raise click.UsageError(str(exc)) from exc
    if isinstance(exc, OperationFailed):
        raise Failure(str(exc)) from exc
    log.debug("unexpected error", exc_info=exc)
    first = (str(exc).strip().splitlines() or [""])[0]
    what = f"{type(exc).__name__}: {first}" if first else type(exc).__name__
    raise Failure(f"unexpected error: {what}; rerun with --log-level debug for details") from exc


class AdeflowGroup(click.Group):
    """Every subcommand runs through :func:`_mapped` (so the CLI, CliRunner tests and ``main`` agree)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except Exception as exc:
            _mapped(exc)


@click.group(cls=AdeflowGroup)
@click.option(
    "--log-level", default=None, help="Log level for adeflow's own logs [default: WARNING; worker: ADEFLOW_LOG_LEVEL]."
)
@click.pass_context
def cli(ctx: click.Context, log_level: str | None) -> None:
    """Durable Azure Disk Encryption rollouts for Linux VM fleets."""
    ctx.obj = log_level
    configure_logging((log_level or "WARNING").upper())


@cli.command()
@click.option(
    "--scenario",
    type=click.Choice(["rollout", "migrate"]),
    default="rollout",
    show_default=True,
    help="rollout: ADE over a 50-VM fleet; migrate: four VMs leave ADE for encryption at host (M-2, M-3, M-4).",
)
@click.option("--json", "emit_json", is_flag=True, help="End with one line of JSON summarising the outcomes.")
@click.option(
    "--keep-running",
    is_flag=True,
    help="Leave server, simulator and worker up, print the environment to use them, until Ctrl-C or SIGTERM.",
)
@click.option(
    "--codec",
    is_flag=True,
    help="Encrypt payloads with a fresh key and run a codec server the demo's UI decodes through.",
)
@click.option(
    "--fleet",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Fleet file for the simulator (default: examples/demo-fleet.yaml; migrate: examples/migrate-demo-fleet.yaml).",
)
@click.option(
    "--manifest",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Rollout manifest (default: examples/demo-rollout.yaml); migrate: a migration manifest "
    "(default: examples/migrate-demo.yaml).",
)
@click.option("--target-seconds", default=30.0, show_default=True, help="Real seconds the slowest VM may take.")
def demo(
    scenario: str,
    emit_json: bool,
    keep_running: bool,
    codec: bool,
    fleet: Path | None,
    manifest: Path | None,
    target_seconds: float,
) -> None:
    """Roll out ADE over a sample fleet: Temporal dev server + ARM simulator + worker, canary first; or, with
    --scenario migrate, migrate a small fleet off ADE to encryption at host, the demo giving the approvals.

    Ctrl-C and SIGTERM stop it alike: the worker, the dev server and the simulator stop and its temporary
    directory goes; with --keep-running that is the normal end (exit 0)."""
    from adeflow.cli.demo import (
        DEFAULT_FLEET,
        DEFAULT_MANIFEST,
        MIGRATE_FLEET,
        MIGRATE_MANIFEST,
        DemoOptions,
        run_demo,
        run_migrate_demo,
    )
    from adeflow.cli.stopping import Stopped, run_until_signal

    try:
        telemetry = Settings.from_env().telemetry  # the metrics endpoint, if ADEFLOW_METRICS_ADDRESS asks for one
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    try:
        options = DemoOptions(
            target_seconds=target_seconds,
            keep_running=keep_running,
            emit_json=emit_json,
            telemetry=telemetry,
            codec=codec,
        )
        if scenario == "migrate":
            failed = run_until_signal(
                run_migrate_demo(fleet or MIGRATE_FLEET, manifest or MIGRATE_MANIFEST, options)
            ).failed
        else:
            summary = run_until_signal(run_demo(fleet or DEFAULT_FLEET, manifest or DEFAULT_MANIFEST, options))
            failed = summary.count(Outcome.FAILED)
    except ManifestError as exc:  # the demo validates its manifest before it starts anything
        click.echo(str(exc), err=True)
        sys.exit(2)
    except (Stopped, KeyboardInterrupt):
        click.echo("interrupted; everything the demo started has been stopped", err=True)
        sys.exit(1)
    if failed:
        sys.exit(1)


class _SimulatorCommands(click.Group):
    """Loads the simulator only when one of its commands runs: the product never imports it otherwise."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return ["serve"]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name != "serve":
            return None
        try:
            from azuresim.cli import serve
        except ModuleNotFoundError as exc:  # the worker image leaves the simulator's test CA library out
            if exc.name != "trustme":
                raise
            raise click.UsageError(
                "the simulator needs the optional sim dependencies: pip install 'adeflow[sim]' "
                "(container images: build the Dockerfile's `simulator` target)"
            ) from None
        return serve


@cli.group(cls=_SimulatorCommands)
def sim() -> None:
    """The ARM simulator: rehearse against a copy of your fleet."""


cli.add_command(worker_command, name="worker")
cli.add_command(vm)
cli.add_command(rollout)
cli.add_command(campaign)
cli.add_command(migrate)
migrate.add_command(migrate_report)
cli.add_command(snapshots)
cli.add_command(codec_server)
cli.add_command(codec_key)


def main() -> None:
    try:
        cli()
    except Exception as exc:  # outside any command (e.g. while parsing): still one line, never a traceback
        log.debug("unexpected error", exc_info=exc)
        click.echo(f"adeflow: unexpected error: {type(exc).__name__}: {exc}; rerun with --log-level debug", err=True)
        sys.exit(1)
    finally:
        # Free Temporal clients while the interpreter is still whole: a client left for finalization makes the
        # SDK's Rust threads touch a dying interpreter (a crash at exit in about 1 run in 10 here).
        gc.collect()


if __name__ == "__main__":
    main()
