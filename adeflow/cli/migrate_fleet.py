"""``adeflow migrate check|start|status|watch|approve|confirm``: a fleet's migration off ADE as one rollout (issue 16).

The rollout is a rollout like any other (waves, canary first, failure budget): ``adeflow rollout pause|resume|cancel
ROLLOUT`` steer it. Its VM runs wait for people (M-7 downtime, the owner's word, M-8 cleanup); ``approve`` and
``confirm`` give one decision to a wave's, the named or all running VMs at once, and each VM's run records it.
Exit codes as everywhere: 0 success, 1 the operation failed (a decision refused by a run, nothing sent, a rollout
that failed), 2 bad input (nothing started or sent).
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

import click
from temporalio.client import Client, WorkflowExecutionStatus

from adeflow.cli.rollout import _run as run_detachable
from adeflow.cli.tables import echo_table
from adeflow.client.connect import no_worker, worker_polls
from adeflow.client.errors import OperationFailed
from adeflow.client.migrations import (
    DecisionAnswer,
    decide_many,
    migration_rollout_request,
    migration_rows,
    running_by_migration_phase,
    start_migration_rollout,
)
from adeflow.client.rollouts import RolloutView, follow, read_rollout, status_name, ui_link
from adeflow.domain.migration import WAITING_PHASES, MigrationManifest
from adeflow.domain.migration.fleet_rollout import migration_counts
from adeflow.inputs.manifest import ManifestError, load_migration_manifest
from adeflow.inputs.settings import Settings
from adeflow.reports.rollout_report import note_text

STEER = "Pause, resume or cancel it with adeflow rollout pause|resume|cancel ROLLOUT."
_MANIFEST = click.Path(exists=True, dir_okay=False, path_type=Path)


def _load(path: Path) -> MigrationManifest:
    """A bad manifest starts nothing: every problem at once, exit 2."""
    try:
        return load_migration_manifest(path)
    except ManifestError as exc:
        _bad(str(exc))


def _bad(text: str) -> NoReturn:
    click.echo(text, err=True)
    sys.exit(2)


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{name} {n}" for name, n in migration_counts(counts).items() if n) or "no VMs"


# -- check -------------------------------------------------------------------------------------------------------


def check_rows(manifest: MigrationManifest) -> list[tuple[str, str, str, str, str, str]]:
    """One row per listed VM: where it is, the path it may take, NIC policy, downtime and the new VM's name."""
    rows = []
    for entry in manifest.vms:
        ref, settings = entry.vm.ref, entry.migration
        path = settings.path_policy.value if settings.path_policy else "auto"
        window = settings.downtime_window
        if window is None:
            downtime = "approval (M-7)"
        else:
            start = f"{window.start:%Y-%m-%d %H:%M}" if window.start else "now"
            downtime = f"window {start} .. {f'{window.end:%Y-%m-%d %H:%M}' if window.end else 'open'}"
        nic = settings.nic_policy.value if settings.nic_policy else "new"
        rows.append((ref.name, ref.resource_group, path, nic, downtime, settings.targets(ref).vm(ref)))
    return rows


@click.command(name="check")
@click.argument("manifest", type=_MANIFEST)
def check(manifest: Path) -> None:
    """Validate MANIFEST and list its VMs, the path each may take and what the migration will wait for; writes
    nothing and calls nothing (each VM's preflight runs when its migration starts and refuses with the M- rule)."""
    fleet = _load(manifest)
    if fleet.vms:
        echo_table(("VM", "RESOURCE GROUP", "PATH", "NIC", "DOWNTIME", "NEW VM"), check_rows(fleet))
    for selector in fleet.selectors:
        click.echo(f"selector {selector.selector.query(fleet.source).describe()}: its VMs are found at the start")
    policy = fleet.rollout
    click.echo(
        f"\n{manifest}: valid; {len(fleet.vms)} VMs listed, {len(fleet.selectors)} selector(s); canary "
        f"{policy.canary} per subscription, waves {', '.join(map(str, policy.waves)) or 'all at once'}, failure "
        f"budget {policy.failure_budget}. Nothing was written. Path auto: M-3 (copy the disks) unless the OS volume "
        "is encrypted, then M-4 (rebuild from the image); each VM's preflight decides."
    )


# -- start, status, watch --------------------------------------------------------------------------------------------


@click.command(name="start", epilog=STEER)
@click.argument("manifest", type=_MANIFEST)
@click.option("--rollout-id", default="", help="Rollout id [default: the manifest's rollout.name].")
@click.option("--wait", is_flag=True, help="Follow the rollout until it ends.")
def start(manifest: Path, rollout_id: str, wait: bool) -> None:
    """Validate MANIFEST and start its migration rollout (or attach to the one running under that id)."""
    fleet = _load(manifest)
    rollout_id = rollout_id or fleet.rollout.name or manifest.stem

    async def go(client: Client, settings: Settings) -> None:
        request = migration_rollout_request(fleet, rollout_id, settings)
        queue = settings.temporal.task_queue
        handle = await start_migration_rollout(client, request, queue)
        found = f", plus the VMs of {len(fleet.selectors)} selector(s)" if fleet.selectors else ""
        click.echo(f"migration rollout {rollout_id} ({len(fleet.vms)} VMs{found}): workflow {handle.id}")
        link = ui_link(settings.temporal.ui_url, settings.temporal.namespace, handle.id)
        if link:
            click.echo(f"UI: {link}")
        for needed in dict.fromkeys((queue, request.task_queue)):
            if not await worker_polls(client, needed):
                click.echo(f"warning: {no_worker(needed)}; the rollout waits for one", err=True)
        click.echo(f"next: adeflow migrate approve {rollout_id} --downtime --wave 0 --operator NAME")
        if wait:
            view = await _watch(client, rollout_id, 2.0)
            ok = view.status is WorkflowExecutionStatus.COMPLETED and view.progress.counts["failed"] == 0
            sys.exit(0 if ok else 1)

    run_detachable(go)


@click.command(name="status", epilog=STEER)
@click.argument("rollout_id", metavar="ROLLOUT")
def status(rollout_id: str) -> None:
    """One look: the rollout's counts, and each VM's migration phase (from visibility)."""

    async def go(client: Client, settings: Settings) -> None:
        view = await read_rollout(client, rollout_id)
        rows = await migration_rows(client, rollout_id)
        progress = view.progress
        closed = f" (workflow {status_name(view.status)})" if view.closed else ""
        click.echo(f"{rollout_id}: {progress.stage.value}{closed} wave {progress.wave} {progress.halted}".rstrip())
        click.echo(f"  {_counts(progress.counts)}")
        waiting = Counter(r.phase for r in rows if r.status == "running" and r.phase in WAITING_PHASES)
        if waiting:
            click.echo("  waiting for people: " + ", ".join(f"{p} {n}" for p, n in sorted(waiting.items())))
        for note in progress.failures:
            click.echo(f"  failed {note.vm}: {note_text(note, 200)}")
        for note in progress.refusals:
            click.echo(f"  refused {note.vm}: {note_text(note, 200)}")
        if rows:
            click.echo("")
            echo_table(
                ("VM", "RESOURCE GROUP", "PHASE", "OUTCOME", "RUN"),
                [(r.vm, r.resource_group, r.phase, r.outcome or "-", r.status) for r in rows],
            )

    run_detachable(go)


async def _watch(client: Client, rollout_id: str, every_s: float) -> RolloutView:
    """A line each time the rollout changes, until it closes: counts, and running migrations per phase."""
    last_line, last = "", None
    async for snapshot in follow(client, rollout_id, every_s, counter=running_by_migration_phase):
        if snapshot.view is None:
            line = snapshot.waiting
        else:
            last = snapshot.view
            progress = snapshot.view.progress
            phases = ", ".join(f"{p} {n}" for p, n in snapshot.running_by_phase.items())
            line = f"{rollout_id}: {progress.stage.value} wave {progress.wave} | {_counts(progress.counts)}"
            line += f" | running: {phases}" if phases else ""
            line += f" | {progress.halted}" if progress.halted else ""
        if line != last_line:
            click.echo(line)
            last_line = line
    if last is None:
        raise OperationFailed(f"rollout {rollout_id}: the watch ended without reading it")
    return last


@click.command(name="watch", epilog=STEER)
@click.argument("rollout_id", metavar="ROLLOUT")
@click.option("--every", default=2.0, show_default=True, help="Seconds between looks.")
def watch(rollout_id: str, every: float) -> None:
    """Follow the rollout until it ends, one line per change (Ctrl-C detaches; the rollout goes on)."""

    async def go(client: Client, settings: Settings) -> None:
        await _watch(client, rollout_id, every)

    run_detachable(go)


# -- approve, confirm ----------------------------------------------------------------------------------------------


def _decide(rollout_id: str, flags: dict[str, bool], wave: int | None, vms: tuple[str, ...], operator: str) -> None:
    """Send the one decision flagged in ``flags`` to the chosen VMs' runs; each VM's answer on its own line."""
    chosen = [name for name, on in flags.items() if on]
    if len(chosen) != 1:
        raise click.UsageError(f"give exactly one of {', '.join('--' + name for name in flags)}")
    if not operator.strip():
        raise click.UsageError("--operator: name the person who decides (each VM's run records it)")
    decision = chosen[0]

    async def go(client: Client, settings: Settings) -> list[DecisionAnswer]:
        return await decide_many(client, rollout_id, decision, operator, wave=wave, vms=vms)

    answers = run_detachable(go)
    for answer in answers:
        click.echo(answer.line)
    recorded = sum(1 for a in answers if a.sent and not a.refused)
    refused = sum(1 for a in answers if a.refused)
    click.echo(f"{decision}: {recorded} recorded, {refused} refused, {len(answers) - recorded - refused} skipped")
    if refused:
        raise OperationFailed(f"{decision} refused by {refused} of {recorded + refused} VM run(s) (see above)")
    if not recorded:
        raise OperationFailed(f"{decision}: no running migration of rollout {rollout_id} was chosen; nothing sent")


def _choosing(command: Callable[..., None]) -> Callable[..., None]:
    """The options every bulk decision takes: which VMs, and who decides."""
    command = click.option("--operator", required=True, help="Who decides: recorded by each VM's run.")(command)
    command = click.option("--vm", "vms", multiple=True, help="Only this VM (name or id; repeatable).")(command)
    return click.option("--wave", type=click.IntRange(min=0), default=None, help="Only this wave (0: the canary).")(
        command
    )


@click.command(name="approve", epilog=STEER)
@click.argument("rollout_id", metavar="ROLLOUT")
@click.option("--downtime", is_flag=True, help="M-7: the sources may be deallocated.")
@click.option("--cleanup", is_flag=True, help="M-8: delete the sources as the cleanup policy says.")
@click.option("--keep-source", is_flag=True, help="Decline the cleanup: the sources stay.")
@_choosing
def approve(
    rollout_id: str,
    downtime: bool,
    cleanup: bool,
    keep_source: bool,
    wave: int | None,
    vms: tuple[str, ...],
    operator: str,
) -> None:
    """Approve the downtime (M-7) or the cleanup (M-8), or keep the sources, for the running migrations of ROLLOUT
    (all, one --wave, or the --vm ones). Each VM's run records who and when; one refusal does not stop the others."""
    flags = {"downtime": downtime, "cleanup": cleanup, "keep-source": keep_source}
    _decide(rollout_id, flags, wave, vms, operator)


@click.command(name="confirm", epilog=STEER)
@click.argument("rollout_id", metavar="ROLLOUT")
@click.option("--new-vm-works", is_flag=True, help="The owner confirms the new VM works.")
@click.option("--data-moved", is_flag=True, help="M-4: the owner moved the data to the new VM.")
@_choosing
def confirm(
    rollout_id: str, new_vm_works: bool, data_moved: bool, wave: int | None, vms: tuple[str, ...], operator: str
) -> None:
    """The owner's word for the running migrations of ROLLOUT (all, one --wave, or the --vm ones): the new VM works,
    or (M-4) the data is moved; each VM's run records it."""
    _decide(rollout_id, {"new-vm-works": new_vm_works, "data-moved": data_moved}, wave, vms, operator)


FLEET_COMMANDS = (check, start, status, watch, approve, confirm)
"""Added to ``adeflow migrate`` (``adeflow/cli/migrate.py``)."""
