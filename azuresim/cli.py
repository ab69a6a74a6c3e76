"""``adeflow sim serve``: run the ARM simulator for a fleet file until Ctrl-C or SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from pathlib import Path

import click

from azuresim.clock import SimClock
from azuresim.faults import FaultError, FaultPlan
from azuresim.fleet import FleetError, load_fleet
from azuresim.server import SimServer


@click.command("serve")
@click.option("--fleet", "fleet_path", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True)
@click.option("--port", type=int, default=0, show_default=True, help="0 picks a free port.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (0.0.0.0 in a container).")
@click.option(
    "--tls-name",
    "tls_names",
    multiple=True,
    help="Extra host name for the certificate, e.g. the compose service name the worker connects to.",
)
@click.option("--scale", type=float, default=None, help="Simulated seconds per real second (overrides the file).")
@click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path), default=None, help="Where the CA goes.")
@click.option(
    "--faults",
    "faults_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="A faults YAML file (seed + faults) to inject from the start.",
)
def serve(
    fleet_path: Path,
    port: int,
    host: str,
    tls_names: tuple[str, ...],
    scale: float | None,
    state_dir: Path | None,
    faults_path: Path | None,
) -> None:
    """Serve the simulated ARM endpoints for FLEET over HTTPS."""
    try:
        fleet = load_fleet(fleet_path)
        faults = FaultPlan.from_file(faults_path) if faults_path else None
    except (FleetError, FaultError) as exc:
        raise click.ClickException(str(exc)) from exc
    if scale is not None and scale <= 0:
        raise click.BadParameter("must be positive", param_hint="--scale")
    server = SimServer(
        fleet,
        clock=SimClock(scale=scale or fleet.sim.scale),
        host=host,
        port=port,
        state_dir=state_dir,
        faults=faults,
        tls_names=tls_names,
    )

    async def main() -> None:
        """Serve until SIGINT or SIGTERM (``kill``, ``timeout``, ``docker stop``): both end it the same way."""
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stopping.set)
        await server.start()
        click.echo(f"base_url: {server.base_url}")
        click.echo(f"ca_file: {server.ca_path}")
        sys.stdout.flush()
        try:
            await stopping.wait()
        finally:
            await server.close()

    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(main())
    finally:
        server.stop()  # removes the temporary CA directory when no --state-dir was given


if __name__ == "__main__":  # pragma: no cover
    serve()
