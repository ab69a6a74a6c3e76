"""``adeflow demo --scenario migrate``: a small fleet leaves ADE for encryption at host (docs/ade-migration.md).

Each VM of the migration manifest (examples/migrate-demo.yaml) gets its own ``MigrateToHostEncryptionWorkflow``
run, started and steered through ``adeflow.client.migration_runs`` exactly as ``adeflow migrate`` would; the demo
plays the operator and the owner: when a run waits for a person (its phase says which decision), the demo gives it,
named and recorded (M-7 downtime, M-4 data moved, M-8 owner's word and cleanup). Then the report
(``adeflow.reports.migration_report``) read back from Temporal by the rollout id the runs are tagged with.

Only the client layer here: the servers, the simulator and the worker are ``adeflow.cli.demo``'s.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from temporalio.client import Client, WorkflowQueryFailedError
from temporalio.service import RPCError

from adeflow.client.errors import OperationFailed
from adeflow.client.migration_reports import rollout_migrations, write_atomically
from adeflow.client.migration_runs import decide, migration_progress, migration_result, start_migration
from adeflow.domain.migration import MigrationInput, MigrationPhase, MigrationResult
from adeflow.domain.migration.fleet import migration_inputs
from adeflow.domain.model import VmRef
from adeflow.inputs.manifest import load_migration_manifest
from adeflow.inputs.settings import Settings
from adeflow.reports.migration_report import FORMATS, MigrationReport, summary_line

OPERATOR = "demo-operator@example.com"
OWNER = "demo-owner@example.com"
DECISIONS: dict[MigrationPhase, tuple[str, str]] = {
    MigrationPhase.AWAIT_DOWNTIME: ("downtime", OPERATOR),
    MigrationPhase.AWAIT_DATA_MOVED: ("data-moved", OWNER),
    MigrationPhase.AWAIT_OWNER: ("new-vm-works", OWNER),
    MigrationPhase.AWAIT_CLEANUP: ("cleanup", OPERATOR),
}
"""The phase a run waits in → the decision the demo gives, and who gives it."""
ENDED = frozenset({MigrationPhase.DONE, MigrationPhase.FAILED, MigrationPhase.REFUSED})
DEADLINE_S = 600.0
"""The demo's migrations end in about a minute; past this, something is stuck: say so rather than hang."""
REPORT_FILES = {"json": "json", "csv": "csv", "csv-disks": "disks.csv", "markdown": "md"}

Say = Callable[[str], None]


@dataclass(frozen=True)
class MigrateDemoSummary:
    report: MigrationReport
    rollout_id: str
    temporal_address: str
    ui_url: str
    wall_seconds: float
    report_paths: list[Path]

    @property
    def failed(self) -> int:
        return self.report.counts()["failed"]

    def as_json(self) -> str:
        counts = self.report.counts()
        return json.dumps(
            {
                "migrated": counts["migrated"],
                "refused": counts["refused"],
                "failed": counts["failed"],
                "rolled_back": counts["rolled-back"],
                "rollout_id": self.rollout_id,
                "temporal_address": self.temporal_address,
                "ui": self.ui_url,
                "wall_seconds": round(self.wall_seconds, 1),
                "report": [str(p) for p in self.report_paths],
                "vms": [
                    {
                        "vm": r.vm.name,
                        "outcome": r.outcome.value,
                        "path": r.path.value,
                        "rule": r.rule or None,
                        "new_vm": r.new_vm_id.rsplit("/", 1)[-1] or None,
                        "approvals": [a.kind.value for a in r.approvals],
                    }
                    for r in self.report.results
                ],
            }
        )


def demo_requests(manifest_path: Path, poll_interval_s: float) -> tuple[str, list[MigrationInput]]:
    """A fresh rollout id (the manifest's name and the time) and the manifest's VMs tagged with it; their workflow
    timers poll every ``poll_interval_s`` real seconds (the simulator's clock is scaled, Temporal's is not)."""
    manifest = load_migration_manifest(manifest_path)
    rollout_id = f"{manifest.rollout.name or 'demo-migrate'}-{time.strftime('%H%M%S')}"
    requests = [replace(r, poll_interval_s=poll_interval_s) for r in migration_inputs(manifest, rollout_id)]
    return rollout_id, requests


async def _progress(client: Client, vm: VmRef) -> MigrationPhase | None:
    """The run's phase, or None while it cannot answer yet (just started: no workflow task done)."""
    try:
        return (await migration_progress(client, vm)).phase
    except (WorkflowQueryFailedError, RPCError):
        return None


async def drive(client: Client, vm: VmRef, poll_s: float, say: Say) -> MigrationResult:
    """Follow one run, saying each new phase; give each decision once, when the run waits for it; its result."""
    given: set[str] = set()
    last: MigrationPhase | None = None
    while True:
        phase = await _progress(client, vm)
        if phase is not None and phase is not last:
            last = phase
            say(f"{vm.name}: {phase.value}")
        if phase in ENDED:
            return await migration_result(client, vm)
        if phase in DECISIONS and DECISIONS[phase][0] not in given:
            decision, person = DECISIONS[phase]
            given.add(decision)
            say(f"  {await decide(client, vm, decision, person)}")
        await asyncio.sleep(poll_s)


async def run_migrations(
    client: Client,
    settings: Settings,
    rollout_id: str,
    requests: list[MigrationInput],
    report_dir: Path,
    *,
    poll_s: float,
    say: Say,
) -> tuple[MigrationReport, list[Path]]:
    """Start every VM's migration, steer them to their ends, read the report back and write it (all formats)."""
    for request in requests:
        run = await start_migration(client, settings, request)
        say(f"started {run.workflow_id}")
    steering = asyncio.gather(*(drive(client, r.vm, poll_s, say) for r in requests))
    try:
        await asyncio.wait_for(steering, DEADLINE_S)
    except TimeoutError:
        raise OperationFailed(
            f"the demo's migrations did not end within {DEADLINE_S:.0f} s; see them in the UI ({rollout_id})"
        ) from None
    report = await rollout_migrations(client, rollout_id)
    paths = []
    for fmt, suffix in REPORT_FILES.items():
        path = report_dir / f"{rollout_id}.{suffix}"
        write_atomically(path, FORMATS[fmt](report))
        paths.append(path)
    say(f"{summary_line(report)}; report {', '.join(str(p) for p in paths)}")
    return report, paths
