"""The migration report (issue 16, docs/ade-migration.md): JSON, CSV and Markdown from a table of results, each
piece of evidence where an auditor looks for it (approvals for M-7/M-8, the disk mapping and bytes for M-3)."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
import pytest

from adeflow.cli.migrate_report import vm_or_rollout
from adeflow.client.migration_reports import write_atomically
from adeflow.domain.migration import (
    Approval,
    ApprovalKind,
    DiskMapping,
    MigrationOutcome,
    MigrationPath,
    MigrationPhase,
    MigrationPhaseTiming,
    MigrationResult,
    SasWindow,
)
from adeflow.domain.model import Refusal, VmRef
from adeflow.reports.migration_report import (
    DISK_COLUMNS,
    FORMATS,
    VM_COLUMNS,
    MigrationReport,
    OpenMigration,
    disks_csv,
    report_csv,
    report_json,
    report_markdown,
)

SUB = "6f1c3a52-8d11-4c4e-9a7e-000000000001"
T0 = datetime(2026, 12, 6, 20, 0, tzinfo=UTC)
GIB = 1024**3


def ref(name: str) -> VmRef:
    return VmRef(SUB, "rg-web", name)


def disk_id(name: str) -> str:
    return f"/subscriptions/{SUB}/resourceGroups/rg-web/providers/Microsoft.Compute/disks/{name}"


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def timings(*phases: tuple[MigrationPhase, int]) -> list[MigrationPhaseTiming]:
    out, start = [], 0
    for phase, minutes in phases:
        out.append(MigrationPhaseTiming(phase, at(start), at(start + minutes)))
        start += minutes
    return out


COPIED = MigrationResult(
    vm=ref("web-01"),
    outcome=MigrationOutcome.MIGRATED,
    path=MigrationPath.COPY_DISKS,
    message="web-01 migrated to web-01-eah with encryption at host; cleanup done (4 resource(s) deleted).",
    new_vm_id=ref("web-01-eah").resource_id,
    disks=[
        DiskMapping(disk_id("web-01-osdisk"), disk_id("web-01-osdisk-eah"), None, 30 * GIB, 3 * GIB, 3 * GIB, 0, True),
        DiskMapping(disk_id("web-01-data0"), disk_id("web-01-data0-eah"), 0, 16 * GIB, 2 * GIB, 2 * GIB + 256, 0, True),
    ],
    sas_windows=[
        SasWindow(disk_id("web-01-osdisk"), "Read", at(10), 14400, at(20)),
        SasWindow(disk_id("web-01-osdisk-eah"), "Write", at(10), 14400, at(20)),
        SasWindow(disk_id("web-01-data0"), "Read", at(10), 14400, None),
    ],
    approvals=[
        Approval(ApprovalKind.DOWNTIME, "ops@example.com", at(5)),
        Approval(ApprovalKind.NEW_VM_WORKS, "owner@example.com", at(30)),
        Approval(ApprovalKind.CLEANUP, "ops@example.com", at(40), "ticket 42"),
    ],
    timings=timings((MigrationPhase.PREFLIGHT, 1), (MigrationPhase.COPYING, 9), (MigrationPhase.CLEANUP, 2)),
    deleted=[ref("web-01").resource_id, disk_id("web-01-osdisk")],
)
REBUILT = MigrationResult(
    vm=ref("app-01"),
    outcome=MigrationOutcome.MIGRATED,
    path=MigrationPath.REBUILD,
    message="app-01 migrated to app-01-eah; the source is kept, as ops decided.",
    new_vm_id=ref("app-01-eah").resource_id,
    approvals=[
        Approval(ApprovalKind.DATA_MOVED, "owner@example.com", at(50)),
        Approval(ApprovalKind.NEW_VM_WORKS, "owner@example.com", at(55)),
    ],
    timings=timings((MigrationPhase.CREATE_VM, 3), (MigrationPhase.AWAIT_DATA_MOVED, 50)),
)
REFUSED = MigrationResult(
    vm=ref("plain-01"),
    outcome=MigrationOutcome.REFUSED,
    reason="never-ade",
    rule="M-2",
    message="plain-01: refused by M-2 (never-ade): no ADE ever; enable encryption at host in place.",
    refusals=[Refusal("M-2", "never-ade", "no ADE ever", "enable encryption at host in place")],
)
ROLLED_BACK = MigrationResult(
    vm=ref("db-01"),
    outcome=MigrationOutcome.ROLLED_BACK,
    path=MigrationPath.COPY_DISKS,
    reason="new-vm-not-verified",
    message="db-01-eah failed verification; db-01 runs again, nothing of it deleted.",
    approvals=[Approval(ApprovalKind.DOWNTIME, "ops@example.com", at(1))],
)
FAILED = MigrationResult(vm=ref("bad-01"), outcome=MigrationOutcome.FAILED, reason="arm-refused", message="a | pipe")
WAITING = OpenMigration(ref("slow-01"), "await-owner", "the owner to confirm slow-01-eah works (update confirm_new_vm)")

REPORT = MigrationReport("demo-migrate", [COPIED, REBUILT, REFUSED, ROLLED_BACK, FAILED], [WAITING])


def test_counts_cover_every_outcome_and_open_runs_are_in_progress_not_awaited() -> None:
    assert REPORT.counts() == {"migrated": 2, "refused": 1, "failed": 1, "rolled-back": 1, "in-progress": 1}
    assert MigrationReport("x", []).counts() == dict.fromkeys(REPORT.counts(), 0)


def test_json_keeps_every_piece_of_evidence_with_stable_keys() -> None:
    data = json.loads(report_json(REPORT))
    assert list(data) == ["scope", "counts", "vms", "in_progress"]
    assert data["scope"] == "demo-migrate"
    assert [v["vm"] for v in data["vms"]] == ["web-01", "app-01", "plain-01", "db-01", "bad-01"]
    assert {tuple(v) for v in data["vms"]} == {tuple(data["vms"][0])}  # one key order for every VM
    web = data["vms"][0]
    assert (web["status"], web["path"], web["new_vm_id"]) == ("migrated", "copy-disks", ref("web-01-eah").resource_id)
    # M-3: bytes written on the source against bytes moved, per disk and in total.
    assert (web["bytes_allocated"], web["bytes_copied"]) == (5 * GIB, 5 * GIB + 256)
    assert web["disks"][1] == {
        "source_disk_id": disk_id("web-01-data0"),
        "target_disk_id": disk_id("web-01-data0-eah"),
        "lun": 0,
        "size_bytes": 16 * GIB,
        "allocated_bytes": 2 * GIB,
        "copied_bytes": 2 * GIB + 256,
        "resumed_from_bytes": 0,
        "verified": True,
    }
    # SAS windows: when each was open; one never revoked shows as null.
    assert web["sas_windows"][0] == {
        "disk_id": disk_id("web-01-osdisk"),
        "access": "Read",
        "granted_at": "2026-12-06T20:10:00Z",
        "duration_s": 14400,
        "revoked_at": "2026-12-06T20:20:00Z",
    }
    assert web["sas_windows"][2]["revoked_at"] is None
    # M-7, M-8: who approved, when.
    assert [(a["kind"], a["by"], a["at"]) for a in web["approvals"]] == [
        ("downtime", "ops@example.com", "2026-12-06T20:05:00Z"),
        ("new-vm-works", "owner@example.com", "2026-12-06T20:30:00Z"),
        ("cleanup", "ops@example.com", "2026-12-06T20:40:00Z"),
    ]
    assert [(t["phase"], t["seconds"]) for t in web["timings"]] == [
        ("preflight", 60.0),
        ("copying", 540.0),
        ("cleanup", 120.0),
    ]
    assert web["seconds"] == 720.0
    refused = data["vms"][2]
    assert (refused["status"], refused["rule"], refused["reason"]) == ("refused", "M-2", "never-ade")
    assert refused["refusals"][0]["fix"] == "enable encryption at host in place"
    assert data["in_progress"] == [
        {
            "vm": "slow-01",
            "resource_group": "rg-web",
            "subscription": SUB,
            "status": "in progress (await-owner)",
            "phase": "await-owner",
            "detail": WAITING.detail,
        }
    ]


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_csv_is_one_row_per_vm_with_the_approvals_on_record_as_columns() -> None:
    rows = _rows(report_csv(REPORT))
    assert tuple(rows[0]) == VM_COLUMNS
    assert [(r["vm"], r["status"]) for r in rows] == [
        ("web-01", "migrated"),
        ("app-01", "migrated"),
        ("plain-01", "refused"),
        ("db-01", "rolled-back"),
        ("bad-01", "failed"),
        ("slow-01", "in progress (await-owner)"),
    ]
    web, app, plain = rows[0], rows[1], rows[2]
    # M-7 (downtime) and M-8 (owner's word, then cleanup): by and at, as recorded.
    assert (web["downtime_by"], web["downtime_at"]) == ("ops@example.com", "2026-12-06T20:05:00Z")
    assert (web["new_vm_works_by"], web["cleanup_by"], web["cleanup_at"]) == (
        "owner@example.com",
        "ops@example.com",
        "2026-12-06T20:40:00Z",
    )
    # M-4: the owner's "data moved"; the rebuild path never stops the source, so no downtime approval.
    assert (app["data_moved_by"], app["downtime_by"], app["path"]) == ("owner@example.com", "", "rebuild")
    assert (plain["rule"], plain["reason"], plain["new_vm_id"]) == ("M-2", "never-ade", "")
    assert (web["disks"], web["bytes_allocated"], web["bytes_copied"]) == ("2", str(5 * GIB), str(5 * GIB + 256))
    assert rows[4]["message"] == "a | pipe"  # CSV quoting keeps it whole


def test_disk_csv_is_one_row_per_disk_mapping_with_its_sas_windows() -> None:
    rows = _rows(disks_csv(REPORT))
    assert tuple(rows[0]) == DISK_COLUMNS
    assert [(r["vm"], r["lun"]) for r in rows] == [("web-01", "OS"), ("web-01", "0")]  # only copied VMs (M-3)
    os_disk, data_disk = rows
    assert os_disk["sas_windows"] == (
        "Read 2026-12-06T20:10:00Z..2026-12-06T20:20:00Z;Write 2026-12-06T20:10:00Z..2026-12-06T20:20:00Z"
    )
    assert data_disk["sas_windows"] == "Read 2026-12-06T20:10:00Z.."  # not revoked: an open end
    assert (data_disk["allocated_bytes"], data_disk["copied_bytes"], data_disk["verified"]) == (
        str(2 * GIB),
        str(2 * GIB + 256),
        "True",
    )


def test_markdown_has_the_counts_a_row_per_vm_the_approvals_and_the_disk_mapping() -> None:
    text = report_markdown(REPORT)
    assert text.startswith("# Migration to encryption at host: demo-migrate\n")
    assert "migrated 2, refused 1, failed 1, rolled-back 1, in-progress 1." in text
    assert "| web-01 | rg-web | migrated | copy-disks | - | web-01-eah | 2 | 5,120 MiB / 5,120 MiB | 720 |" in text
    assert "| plain-01 | rg-web | refused | none | M-2 | - | - | - | 0 |" in text
    assert "| slow-01 | rg-web | in progress (await-owner) |" in text
    assert "## Approvals (M-7 downtime, M-4 data moved, M-8 owner and cleanup)" in text
    assert "| web-01 | cleanup | ops@example.com | 2026-12-06T20:40:00Z |" in text  # M-8 evidence
    assert "| app-01 | data-moved | owner@example.com | 2026-12-06T20:50:00Z |" in text  # M-4 evidence
    assert "| web-01 | 0 | web-01-data0 | web-01-data0-eah | 2,048 MiB | 2,048 MiB | yes |" in text
    assert "- **plain-01** (refused, M-2): plain-01: refused by M-2" in text
    assert "- **db-01** (rolled-back): db-01-eah failed verification" in text
    assert "- **slow-01** (await-owner): the owner to confirm" in text
    assert "a \\| pipe" not in text  # messages go to the list, not a table cell


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_every_format_renders_an_empty_report(name: str) -> None:
    text = FORMATS[name](MigrationReport("nothing", []))
    assert text.strip()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("demo-migrate-202522", "demo-migrate-202522"),
        (f"{SUB}/rg-web/web-01", ref("web-01")),
        (ref("web-01").resource_id, ref("web-01")),
    ],
)
def test_report_target_is_a_vm_by_id_or_path_else_a_rollout_id(text: str, expected: object) -> None:
    assert vm_or_rollout(text) == expected


def test_a_malformed_vm_is_bad_input_not_a_rollout_id() -> None:
    with pytest.raises(click.BadParameter):
        vm_or_rollout("not-a-subscription/rg-web/web-01")


def test_a_report_file_is_written_whole_or_the_old_one_stays(tmp_path: Path) -> None:
    """``migrate report --output``: a temporary file and a rename; a write that fails half-way leaves the previous
    report as it was and no temporary file behind."""
    target = tmp_path / "reports" / "demo.md"
    write_atomically(target, report_markdown(REPORT))
    before = target.read_text()
    with pytest.raises(UnicodeEncodeError):
        write_atomically(target, "half a report\ud800")  # fails while writing the temporary file
    assert target.read_text() == before
    assert [p.name for p in target.parent.iterdir()] == ["demo.md"]
