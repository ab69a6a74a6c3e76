"""``adeflow rollout check|start|watch|status|pause|resume|cancel|retry-failed|skip|report|list``."""

from __future__ import annotations

import asyncio
import getpass
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import click
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.exceptions import ApplicationError

from adeflow.cli.tables import echo_table
from adeflow.client.azure_reads import AzureClients, find_vms
from adeflow.client.connect import no_worker, worker_polls
from adeflow.client.preflight import evaluate
from adeflow.client.rollouts import (
    RolloutListing,
    list_rollouts,
    read_rollout,
    rollout_ui_link,
    start_rollout,
    status_name,
    steer,
    ui_link,
    watch,
    write_report,
)
from adeflow.client.session import run_azure, run_temporal
from adeflow.domain.fleet import Manifest, VmSettings
from adeflow.domain.fleet_query import merge_selected
from adeflow.domain.model import VmRef
from adeflow.domain.rollout import build_rollout_input
from adeflow.inputs.manifest import ManifestError, load_manifest
from adeflow.inputs.settings import Settings
from adeflow.reports.rollout_report import note_text

T = TypeVar("T")


def _load(path: Path) -> Manifest:
    """A bad manifest starts nothing: every problem is printed at once and the exit code is 2."""
    try:
        manifest = load_manifest(path)
    except ManifestError as exc:
        click.echo(str(exc), err=True)
        sys.exit(2)
    return manifest


def _run(work: Callable[[Client, Settings], Awaitable[T]]) -> T:
    """Against Temporal (``run_temporal``: its failures are one line, exit 1); Ctrl-C only detaches."""
    try:
        return run_temporal(work)
    except KeyboardInterrupt:
        click.echo("\ndetached; the rollout goes on (adeflow rollout watch ID re-attaches)", err=True)
        sys.exit(0)


async def selected_vms(clients: AzureClients, fleet: Manifest) -> list[tuple[VmRef, VmSettings]]:
    """The manifest's VMs and what its selectors find now, merged as the rollout merges them."""
    listed = [vm.ref for vm in fleet.vms]
    results = []
    for selector in fleet.selectors:
        try:
            results.append(await find_vms(clients, selector.query(fleet.source)))
        except (ValueError, ApplicationError) as exc:
            if isinstance(exc, ApplicationError) and not exc.non_retryable:
                raise  # ARM busy or failing, not the query: the operation failed (exit 1), said in one line
            # A query Azure refuses or that cannot be built: bad input (exit 2), naming the selector's line.
            click.echo(f"{fleet.source}:{selector.line}: selector failed: {exc}", err=True)
            sys.exit(2)
    vms = [(vm.ref, vm.settings) for vm in fleet.vms]
    for selector, result, added in zip(
        fleet.selectors, results, merge_selected(listed, [r.vms for r in results]), strict=True
    ):
        click.echo(f"{fleet.source}:{selector.line}: {selector.query(fleet.source).describe()}: {len(result.vms)} VMs")
        vms += [(ref, selector.settings) for ref in added]
    return vms


operator_option = click.option(
    "--operator", default=lambda: getpass.getuser(), show_default="current user", help="Recorded in the log."
)


@click.group()
def rollout() -> None:
    """Fleet rollouts: waves, failure budget, operator control."""


@rollout.command()
@click.argument("manifest", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--parallel", default=10, show_default=True, help="VMs checked at once.")
def check(manifest: Path, parallel: int) -> None:
    """Dry run of a whole manifest: each VM's verdict; writes nothing."""
    fleet = _load(manifest)

    async def go(clients: AzureClients) -> list[tuple[str, bool, str]]:
        gate = asyncio.Semaphore(parallel)

        async def one(ref: VmRef, settings: VmSettings) -> tuple[str, bool, str]:
            async with gate:
                report = await evaluate(clients, settings.to_encrypt_input(ref, fleet.rollout))
                return ref.name, report.eligible, report.render()

        vms = await selected_vms(clients, fleet)
        async with asyncio.TaskGroup() as group:  # the first failure cancels the rest before the clients close
            tasks = [group.create_task(one(ref, settings)) for ref, settings in vms]
        return [task.result() for task in tasks]

    verdicts = run_azure(go, what=f"rollout check {manifest}")
    for _, _, text in verdicts:
        click.echo(text)
    eligible = sum(1 for _, ok, _ in verdicts if ok)
    click.echo(f"\n{eligible} eligible, {len(verdicts) - eligible} refused, of {len(verdicts)} VMs")


@rollout.command()
@click.argument("manifest", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--id", "rollout_id", default="", help="Rollout id (default: the manifest's rollout.name).")
@click.option("--wait", is_flag=True, help="Show the live display until the rollout ends.")
def start(manifest: Path, rollout_id: str, wait: bool) -> None:
    """Validate MANIFEST, start the rollout (or attach to it), print its id and UI link."""
    fleet = _load(manifest)
    rollout_id = rollout_id or fleet.rollout.name or manifest.stem
    request = build_rollout_input(
        rollout_id,
        fleet.rollout,
        [(vm.ref, vm.settings) for vm in fleet.vms],
        [(selector.query(fleet.source), selector.settings) for selector in fleet.selectors],
    )

    async def go(client: Client, settings: Settings) -> None:
        handle = await start_rollout(client, request, settings.temporal.task_queue)
        link = ui_link(settings.temporal.ui_url, settings.temporal.namespace, handle.id)
        click.echo(f"rollout {rollout_id} ({len(fleet.vms)} VMs): workflow {handle.id}")
        if link:
            click.echo(f"UI: {link}")
        if not await worker_polls(client, settings.temporal.task_queue):
            click.echo(f"warning: {no_worker(settings.temporal.task_queue)}; the rollout waits for one", err=True)
        if wait:
            view = await watch(client, rollout_id, ui_url=link)
            ok = view.status is WorkflowExecutionStatus.COMPLETED and view.progress.counts["failed"] == 0
            sys.exit(0 if ok else 1)

    _run(go)


@rollout.command(name="watch")
@click.argument("rollout_id")
def watch_command(rollout_id: str) -> None:
    """Re-attach the live display to a rollout (Ctrl-C detaches)."""

    async def go(client: Client, settings: Settings) -> None:
        link = rollout_ui_link(settings.temporal.ui_url, settings.temporal.namespace, rollout_id)
        await watch(client, rollout_id, ui_url=link)

    _run(go)


@rollout.command()
@click.argument("rollout_id")
def status(rollout_id: str) -> None:
    """One look at a rollout's progress (a closed rollout's from its result: no worker needed)."""

    async def go(client: Client, settings: Settings) -> None:
        view = await read_rollout(client, rollout_id)
        progress = view.progress
        closed = f" (workflow {status_name(view.status)})" if view.closed else ""
        click.echo(f"{rollout_id}: {progress.stage.value}{closed} {progress.halted}".rstrip())
        click.echo("  " + ", ".join(f"{k} {v}" for k, v in progress.counts.items()))
        for note in progress.failures:
            click.echo(f"  failed {note.vm}: {note_text(note, 200)}")

    _run(go)


def _control(name: str, doc: str) -> click.Command:
    @click.command(name=name, help=doc)
    @click.argument("rollout_id")
    @operator_option
    def command(rollout_id: str, operator: str) -> None:
        async def go(client: Client, settings: Settings) -> None:
            click.echo(await steer(client, rollout_id, name, operator))

        _run(go)

    return command


rollout.add_command(_control("pause", "Stop starting VMs; running ones finish."))
rollout.add_command(_control("resume", "Continue a paused or halted rollout."))
rollout.add_command(_control("cancel", "Start no more VMs; running ones finish (an OS pass cannot be cut)."))
rollout.add_command(_control("retry-failed", "Queue the failed VMs again."))


@rollout.command()
@click.argument("rollout_id")
@click.argument("vm")
@operator_option
def skip(rollout_id: str, vm: str, operator: str) -> None:
    """Leave a pending VM out of the rollout."""

    async def go(client: Client, settings: Settings) -> None:
        click.echo(await steer(client, rollout_id, "skip", operator, vm=vm))

    _run(go)


@rollout.command()
@click.argument("rollout_id")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("."), show_default=True)
def report(rollout_id: str, out: Path) -> None:
    """Write <id>.json, <id>.csv and <id>.md: per-VM outcome, rule ids, durations, backup ids."""

    async def go(client: Client, settings: Settings) -> list[Path]:
        return await write_report(client, rollout_id, out)

    for path in _run(go):
        click.echo(f"wrote {path}")


@rollout.command(name="list")
def list_command() -> None:
    """Rollouts known to Temporal, newest first."""

    async def go(client: Client, settings: Settings) -> list[RolloutListing]:
        return await list_rollouts(client)

    listed = _run(go)
    if not listed:
        click.echo("no rollouts (adeflow rollout start MANIFEST)")
        return
    echo_table(
        ("ROLLOUT", "STATUS", "STARTED"), [(r.rollout_id, r.status, f"{r.started:%Y-%m-%d %H:%M}") for r in listed]
    )
