"""A fleet's migration as a rollout (issue 16, "Fleets"), the pure pieces: the rollout's input from a migration
manifest, each VM run's input, how a migration's outcome counts in the rollout (waves, canary, failure budget),
which VMs a bulk decision goes to, and ``adeflow migrate check`` (validates, lists, writes nothing)."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from temporalio.converter import DataConverter

from adeflow.cli.main import cli
from adeflow.domain.fleet import FailureBudget, RolloutPolicy, VmSettings
from adeflow.domain.fleet_query import VmQueryResult
from adeflow.domain.migration import (
    DowntimeWindow,
    MigrationOutcome,
    MigrationPhase,
    MigrationPhaseTiming,
    MigrationResult,
    NicPolicy,
    PathPolicy,
)
from adeflow.domain.migration.fleet import MigrationSettings
from adeflow.domain.migration.fleet_rollout import (
    build_migration_rollout,
    choose_for_decision,
    finished_report,
    migration_child_input,
    migration_counts,
)
from adeflow.domain.model import BackupPolicy, VmRef
from adeflow.domain.rollout import (
    RolloutBook,
    RolloutInput,
    RolloutKind,
    RolloutMember,
    RolloutStage,
    RolloutTarget,
    VmFinished,
    with_selected,
)
from adeflow.domain.run_labels import rollout_labels
from adeflow.inputs.manifest import parse_migration_manifest_text

pytestmark = pytest.mark.migration

ROOT = Path(__file__).resolve().parents[2]
SUB = "6f1c3a52-8d11-4c4e-9a7e-000000000001"
VMS = f"/subscriptions/{SUB}/resourceGroups/rg-data/providers/Microsoft.Compute/virtualMachines"
MANIFEST = f"""\
rollout: {{name: wave-test, canary: 1, waves: [2], failure_budget: 0}}
migrate: {{nic: new, downtime: approval}}
defaults: {{backup: snapshot}}
vms:
  - id: {VMS}/db-01
  - id: {VMS}/db-02
    migrate: {{nic: reuse, downtime: {{start: 2026-12-24T22:00:00Z}}}}
  - id: {VMS}/db-03
"""


def manifest_input(queue: str = "create-q") -> RolloutInput:
    return build_migration_rollout("wave-test", parse_migration_manifest_text(MANIFEST, "m.yaml"), queue)


def test_a_migration_manifest_becomes_a_compact_migrate_rollout_on_the_create_queue() -> None:
    request = manifest_input()
    assert (request.kind, request.task_queue, request.rollout_id) == (RolloutKind.MIGRATE, "create-q", "wave-test")
    # Settings deduplicated as pairs (backup, migrate): db-01 and db-03 share one index, db-02 has its own.
    assert [(t.names, t.settings_index) for t in request.targets] == [(["db-01"], 0), (["db-02"], 1), (["db-03"], 0)]
    assert len(request.settings) == len(request.migrations) == 2
    assert request.migrations[1].nic_policy is NicPolicy.REUSE
    assert request.policy.failure_budget == FailureBudget(count=0)


def test_each_vm_run_gets_its_settings_and_whom_to_tell() -> None:
    request = manifest_input()
    book = RolloutBook(request)
    second = book.slots[1]
    made = migration_child_input(request, second, "rollout/wave-test")
    assert made.vm == VmRef(SUB, "rg-data", "db-02")
    assert (made.notify_workflow_id, made.rollout_index, made.rollout_id) == ("rollout/wave-test", 1, "wave-test")
    assert made.nic_policy is NicPolicy.REUSE and made.backup_policy is BackupPolicy.SNAPSHOT
    assert made.downtime_window == DowntimeWindow(datetime(2026, 12, 24, 22, tzinfo=UTC), None)
    assert made.targets.vm(made.vm) == "db-02-eah" and made.path_policy is PathPolicy.AUTO


def test_the_input_round_trips_and_an_old_rollout_input_still_reads_as_encrypt() -> None:
    converter = DataConverter.default.payload_converter
    request = manifest_input()
    again = converter.from_payload(converter.to_payload(request), RolloutInput)
    assert again == request
    old = json.loads(converter.to_payload(RolloutInput("r", RolloutPolicy(), [], [])).data)
    del old["kind"], old["migrations"]  # recorded before migrations existed
    payload = converter.to_payload(old)
    assert converter.from_payload(payload, RolloutInput) == RolloutInput("r", RolloutPolicy(), [], [])
    assert RolloutInput("r", RolloutPolicy(), [], []).kind is RolloutKind.ENCRYPT


def result(outcome: MigrationOutcome, **kw: object) -> MigrationResult:
    at = datetime(2026, 12, 6, tzinfo=UTC)
    timing = MigrationPhaseTiming(MigrationPhase.PREFLIGHT, at, at.replace(minute=2))
    return MigrationResult(VmRef(SUB, "rg-data", "db-01"), outcome, timings=[timing], **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("outcome", "count"),
    [
        (MigrationOutcome.MIGRATED, "encrypted"),
        (MigrationOutcome.REFUSED, "refused"),
        (MigrationOutcome.FAILED, "failed"),
        (MigrationOutcome.ROLLED_BACK, "failed"),
    ],
)
def test_a_migration_outcome_counts_in_the_rollout(outcome: MigrationOutcome, count: str) -> None:
    request = manifest_input()
    book = RolloutBook(request)
    (slot,) = book.next_launches()
    book.mark_started(slot.index)
    report = finished_report(slot.index, result(outcome, reason="r", rule="M-2", message="x" * 900))
    assert (report.index, report.seconds, len(report.message)) == (0, 120.0, 500)
    book.mark_finished(report)
    assert book.counts()[count] == 1
    assert migration_counts(book.counts())["migrated"] == (count == "encrypted")


def test_failed_and_rolled_back_migrations_spend_the_failure_budget_and_halt() -> None:
    """Budget 1 of 3 VMs after an accepted canary: the second failure (a rollback) halts the rollout."""
    policy = RolloutPolicy(canary=1, waves=(2,), failure_budget=FailureBudget(count=1))
    settings = VmSettings(key_vault_id="")
    request = RolloutInput(
        "r",
        policy,
        [settings],
        [RolloutTarget(SUB, "rg", 0, ["a", "b", "c"])],
        kind=RolloutKind.MIGRATE,
        migrations=[MigrationSettings()],
    )
    book = RolloutBook(request)
    (canary,) = book.next_launches()
    book.mark_started(canary.index)
    book.mark_finished(finished_report(canary.index, result(MigrationOutcome.MIGRATED)))
    wave = book.next_launches()
    assert [s.vm.name for s in wave] == ["b", "c"]
    for slot in wave:
        book.mark_started(slot.index)
    book.mark_finished(finished_report(wave[0].index, result(MigrationOutcome.FAILED, reason="copy-failed")))
    assert book.stage() is RolloutStage.RUNNING
    book.mark_finished(
        finished_report(wave[1].index, result(MigrationOutcome.ROLLED_BACK, reason="new-vm-not-verified"))
    )
    assert book.state.halted_reason == "failure-budget-exceeded"
    assert [n.reason for n in book.state.failures] == ["copy-failed", "new-vm-not-verified"]


def test_a_canary_rollback_halts_before_the_next_wave() -> None:
    book = RolloutBook(manifest_input())
    (canary,) = book.next_launches()
    book.mark_started(canary.index)
    book.mark_finished(VmFinished(canary.index, "rolled-back", reason="new-vm-not-verified"))
    assert book.next_launches() == [] and book.stage() is RolloutStage.HALTED


def test_members_give_each_vm_its_wave_and_status() -> None:
    book = RolloutBook(manifest_input())
    (canary,) = book.next_launches()
    book.mark_started(canary.index)
    assert [(m.vm.name, m.wave, m.status) for m in book.members()] == [
        ("db-01", 0, "running"),
        ("db-02", 1, "pending"),
        ("db-03", 1, "pending"),
    ]
    assert [m.vm.name for m in book.members(1)] == ["db-02", "db-03"]
    assert book.members(7) == []


def member(name: str, status: str, wave: int = 1) -> RolloutMember:
    return RolloutMember(VmRef(SUB, "rg-data", name), wave, status)


def test_a_bulk_decision_goes_to_running_migrations_and_says_why_not_to_the_others() -> None:
    members = [member("a", "running"), member("b", "pending"), member("c", "encrypted"), member("d", "running")]
    everyone = choose_for_decision(members)
    assert [m.vm.name for m in everyone.send] == ["a", "d"]
    assert [(name, why.split(" (")[0]) for name, why in everyone.skipped] == [
        ("b", "its migration has not started yet"),
        ("c", "its part in the rollout has ended"),
    ]
    assert "(migrated)" in everyone.skipped[1][1]
    named = choose_for_decision(members, [f"{VMS}/A", "zz"])  # a resource id in any case; an unknown name
    assert [m.vm.name for m in named.send] == ["a"]
    assert named.skipped == [("zz", "not in this rollout (or not in the chosen wave)")]


def test_migrate_check_lists_the_vms_and_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(MANIFEST)
    done = CliRunner().invoke(cli, ["migrate", "check", str(path)], env={"COLUMNS": "200"})
    assert done.exit_code == 0, done.output
    assert "db-02  rg-data         auto  reuse  window 2026-12-24 22:00 .. open  db-02-eah" in done.output
    assert "3 VMs listed" in done.output and "Nothing was written" in done.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.yaml"]


def test_migrate_check_refuses_a_bad_manifest_with_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(MANIFEST.replace("nic: new", "nic: borrowed"))
    done = CliRunner().invoke(cli, ["migrate", "check", str(path)])
    assert done.exit_code == 2 and "nic" in done.output, done.output


def test_approve_needs_exactly_one_decision() -> None:
    done = CliRunner().invoke(cli, ["migrate", "approve", "r1", "--downtime", "--cleanup", "--operator", "ops"])
    assert done.exit_code == 2 and "exactly one of --downtime, --cleanup, --keep-source" in done.output


@pytest.mark.parametrize("first", ["adeflow.domain.rollout", "adeflow.domain.migration", "adeflow.domain.run_labels"])
def test_the_rollout_and_the_migration_import_in_any_order(first: str) -> None:
    """The rollout carries migrate settings and the migration's readiness reads campaign payloads, which carry a
    rollout input: a module imported first must not find another half-initialised (an ImportError at start)."""
    done = subprocess.run([sys.executable, "-c", f"import {first}"], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr


def test_the_ui_says_a_migration_rollout_is_one() -> None:
    summary, details = rollout_labels(manifest_input())
    assert summary == "Migration rollout wave-test: 3 VMs, canary first"
    assert "migrate to encryption at host" in details
    assert rollout_labels(RolloutInput("r", RolloutPolicy(), [], []))[0].startswith("Rollout r: 0 VMs")


def test_a_selector_keeps_its_migrate_settings_for_the_vms_it_finds_at_the_start() -> None:
    text = MANIFEST + (
        f"selectors:\n  - subscription: {SUB}\n    tags: {{ade: 'yes'}}\n    migrate: {{copy_parallelism: 16}}\n"
    )
    request = build_migration_rollout("wave-test", parse_migration_manifest_text(text, "m.yaml"))
    (selector,) = request.selectors
    assert request.migrations[selector.settings_index].copy_parallelism == 16
    found = VmQueryResult(query=selector.query, vms=[VmRef(SUB, "rg-x", "found-01")])
    resolved, _ = with_selected(request, [found])
    book = RolloutBook(resolved)
    slot = book.slots[-1]
    assert slot.vm.name == "found-01"
    assert migration_child_input(resolved, slot, "rollout/wave-test").copy_parallelism == 16
