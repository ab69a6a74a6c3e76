"""From an audit campaign's report to a migration (issue 16): ``adeflow migrate plan --from-audit`` writes a manifest
that the loader reads back (once its TODOs are filled), grouped by path (M-3 copy, M-4 rebuild); ``adeflow migrate
readiness`` counts VMs per path and per month left until ADE retires. The report is the one the campaign's report
activity writes (``report_json``), so the two ends of the hand-off are tested together."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from adeflow.cli.main import cli
from adeflow.domain import migration
from adeflow.domain.campaign_plan.payloads import Action, CampaignKind, CampaignReport, CampaignResult, VmPlan
from adeflow.domain.campaign_plan.state import AdeState, RetirementPath
from adeflow.domain.migration.audit import AuditedVm, migration_plan, plan_path
from adeflow.domain.migration.fleet import migration_inputs
from adeflow.domain.model import VmRef
from adeflow.inputs.audit_report import AuditReportError, parse_audit_report
from adeflow.inputs.manifest import SCHEMA_PATH, ManifestError, load_migration_manifest, parse_migration_manifest_text
from adeflow.reports.campaign_report import report_json
from adeflow.reports.migration_plan import migration_manifest_yaml
from tests.support.schema_view import json_view

pytestmark = pytest.mark.migration

SUB = "6f1c3a52-8d11-4c4e-9a7e-000000000001"
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGk5tq1Ptq6a3sOAoVvHKN3Oz0CBrbGJ/zfEKTx6Vmfi ops@example"

FLEET: list[tuple[str, str, AdeState, RetirementPath]] = [
    ("rg-lifecycle", "dis-01", AdeState.ENCRYPTED, RetirementPath.DISABLE_THEN_HOST),
    ("rg-data", "db-02", AdeState.EXTENSION_REMOVED, RetirementPath.DISABLE_THEN_HOST),
    ("rg-lifecycle", "nd-01", AdeState.PARTLY_ENCRYPTED, RetirementPath.REBUILD),
    ("rg-app", "app-legacy-01", AdeState.LEGACY, RetirementPath.REBUILD),
    ("rg-web", "web-01", AdeState.NOT_ENCRYPTED, RetirementPath.NO_ADE),
    ("rg-web", "web-02", AdeState.NOT_ENCRYPTED, RetirementPath.NO_ADE),
    ("rg-app", "app-eah-01", AdeState.HOST_ENCRYPTED, RetirementPath.READY),
    ("rg-web", "web-gone", AdeState.UNREADABLE, RetirementPath.UNKNOWN),
]


def vm(group: str, name: str) -> VmRef:
    return VmRef(SUB, group, name)


def audit_json(rows: list[tuple[str, str, AdeState, RetirementPath]] = FLEET) -> str:
    """The JSON an audit campaign run writes (adeflow/reports/campaign_report.py), for these VMs."""
    plans = [VmPlan(vm(g, n), state, Action.NONE, "audit only", retirement=path) for g, n, state, path in rows]
    counts: dict[str, int] = {}
    for plan in plans:
        counts[plan.retirement.value] = counts.get(plan.retirement.value, 0) + 1
    result = CampaignResult(
        "audit-daily", CampaignKind.AUDIT, "audit-daily-20260301T020000Z", "2026-03-01T02:00:00+00:00",
        len(plans), {"none": len(plans)}, {}, counts,
    )  # fmt: skip
    return report_json(CampaignReport(result, plans, source="campaign-audit.yaml"))


def fill_todos(text: str) -> str:
    return (
        text.replace("publisher: TODO", "publisher: Canonical")
        .replace("offer: TODO", "offer: ubuntu-24_04-lts")
        .replace("sku: TODO", "sku: server")
        .replace("admin_username: TODO", "admin_username: azureuser")
        .replace("ssh_public_key: TODO", f"ssh_public_key: {KEY}")
    )


def run(*argv: str) -> Result:
    result = CliRunner().invoke(cli, list(argv))
    assert "Traceback" not in result.output
    return result


# ------------------------------------------------------------------------------------------- which path


@pytest.mark.parametrize(
    ("state", "path", "planned", "note"),
    [
        (AdeState.ENCRYPTED, RetirementPath.DISABLE_THEN_HOST, migration.PathPolicy.COPY_DISKS, ""),
        (AdeState.PARTLY_ENCRYPTED, RetirementPath.REBUILD, migration.PathPolicy.REBUILD, ""),
        (AdeState.LEGACY, RetirementPath.DISABLE_THEN_HOST, migration.PathPolicy.REBUILD, "R-LIM-1"),
        (AdeState.IN_PROGRESS, RetirementPath.DISABLE_THEN_HOST, migration.PathPolicy.COPY_DISKS, "R-LIM-2"),
        (AdeState.EXTENSION_REMOVED, RetirementPath.REBUILD, migration.PathPolicy.REBUILD, "R-DIS-2"),
        (AdeState.NOT_ENCRYPTED, RetirementPath.NO_ADE, None, ""),
        (AdeState.HOST_ENCRYPTED, RetirementPath.READY, None, ""),
        (AdeState.UNREADABLE, RetirementPath.UNKNOWN, None, ""),
    ],
)
def test_each_audited_state_gets_its_path(
    state: AdeState, path: RetirementPath, planned: migration.PathPolicy | None, note: str
) -> None:
    found = plan_path(AuditedVm(vm("rg", "x"), state, path))
    assert (found.path if found else None) is planned
    assert note in (found.note if found else "")


# ------------------------------------------------------------------------------------------- the exported manifest


def test_the_plan_groups_vms_by_path_and_loads_once_its_todos_are_filled() -> None:
    report = parse_audit_report(audit_json(), "reports/audit.json")
    plan = migration_plan(report)
    text = migration_manifest_yaml(report, plan, "reports/audit.json")
    assert text.index("dis-01") < text.index("db-02") < text.index("nd-01") < text.index("app-legacy-01")
    assert "#   /subscriptions/" in text and text.rstrip().endswith("virtualMachines/web-gone")
    with pytest.raises(ManifestError) as caught:
        parse_migration_manifest_text(text, "plan.yaml")
    assert {p.field: p.message.split(":")[0] for p in caught.value.problems} == {
        "migrate.rebuild.image.publisher": "still TODO",
        "migrate.rebuild.image.offer": "still TODO",
        "migrate.rebuild.image.sku": "still TODO",
        "migrate.rebuild.admin_username": "still TODO",
        "migrate.rebuild.ssh_public_key": "still TODO",
    }
    filled = fill_todos(text)
    manifest = parse_migration_manifest_text(filled, "plan.yaml")
    requests = {r.vm.name: r for r in migration_inputs(manifest)}
    assert {name: r.path_policy for name, r in requests.items()} == {
        "dis-01": migration.PathPolicy.COPY_DISKS,
        "db-02": migration.PathPolicy.COPY_DISKS,
        "nd-01": migration.PathPolicy.REBUILD,
        "app-legacy-01": migration.PathPolicy.REBUILD,
    }
    assert requests["dis-01"] == migration.MigrationInput(
        vm=vm("rg-lifecycle", "dis-01"),
        path_policy=migration.PathPolicy.COPY_DISKS,
        targets=migration.TargetNames("dis-01-eah", "-eah"),
        rebuild=requests["nd-01"].rebuild,
    )
    assert [migration.check_input(r) for r in requests.values()] == [[]] * 4
    assert manifest.rollout.name == "migrate-audit-daily"


def test_the_plan_and_the_schema_agree_before_and_after_the_todos() -> None:
    import jsonschema

    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA_PATH.read_text()))
    report = parse_audit_report(audit_json(), "audit.json")
    text = migration_manifest_yaml(report, migration_plan(report), "audit.json")
    assert list(validator.iter_errors(json_view(text)))
    assert list(validator.iter_errors(json_view(fill_todos(text)))) == []


def test_a_plan_without_rebuilds_has_no_todo_and_loads_as_written() -> None:
    rows = [r for r in FLEET if r[3] is not RetirementPath.REBUILD]
    report = parse_audit_report(audit_json(rows), "audit.json")
    text = migration_manifest_yaml(report, migration_plan(report), "audit.json")
    assert "TODO" not in text and "rebuild" not in text.split("vms:")[0]
    names = [entry.vm.ref.name for entry in parse_migration_manifest_text(text, "plan.yaml").vms]
    assert names == ["dis-01", "db-02"]


# ------------------------------------------------------------------------------------------- the report reader


def test_a_report_that_is_not_one_is_refused_with_every_problem() -> None:
    with pytest.raises(AuditReportError, match=r"^r.json: line 1: not JSON"):
        parse_audit_report("vms: []", "r.json")
    with pytest.raises(AuditReportError, match="no list of VMs; expected a campaign report"):
        parse_audit_report('{"campaign": "x"}', "r.json")
    document = json.loads(audit_json())
    document["vms"][1]["state"] = "encrypted-twice"
    document["vms"][2]["subscription"] = "prod"
    with pytest.raises(AuditReportError) as caught:
        parse_audit_report(json.dumps(document), "r.json")
    assert caught.value.problems == [
        "vms[1].state: must be one of not-encrypted, encrypted, partly-encrypted, extension-removed, in-progress, "
        "legacy-aad, host-encrypted, not-linux, unreadable; did you mean \"encrypted\"? got 'encrypted-twice'",
        "vms[2].subscription: subscription must be a GUID like 00000000-0000-0000-0000-000000000000; got 'prod'",
    ]


# ------------------------------------------------------------------------------------------- the CLI


def test_migrate_plan_writes_the_manifest_and_says_what_to_fill_in(tmp_path: Path) -> None:
    report = tmp_path / "audit.json"
    report.write_text(audit_json())
    out = tmp_path / "migrate.yaml"
    result = run("migrate", "plan", "--from-audit", str(report), "-o", str(out))
    assert result.exit_code == 0, result.output
    assert f"wrote {out}: 2 VMs copy their disks (M-3), 2 are rebuilt (M-4); 1 not read" in result.stderr
    assert "fill in its 5 TODO values (the M-4 image and first login)" in result.stderr
    assert load_migration_manifest(write(tmp_path / "filled.yaml", fill_todos(out.read_text()))).vms
    before = out.read_text()
    again = run("migrate", "plan", "--from-audit", str(report), "-o", str(out))
    assert again.exit_code == 2 and "exists; choose another file or add --force" in again.output
    assert out.read_text() == before
    assert run("migrate", "plan", "--from-audit", str(report), "-o", str(out), "--force").exit_code == 0
    printed = run("migrate", "plan", "--from-audit", str(report))
    assert printed.exit_code == 0 and printed.stdout == before


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_migrate_plan_with_nothing_to_migrate_writes_nothing(tmp_path: Path) -> None:
    report = write(tmp_path / "audit.json", audit_json([r for r in FLEET if r[2] is AdeState.NOT_ENCRYPTED]))
    out = tmp_path / "migrate.yaml"
    result = run("migrate", "plan", "--from-audit", str(report), "-o", str(out))
    assert result.exit_code == 0
    assert "nothing to migrate in" in result.stderr and "(no-ade 2); no manifest written" in result.stderr
    assert not out.exists()


def test_migrate_plan_refuses_a_bad_report_with_exit_2(tmp_path: Path) -> None:
    report = write(tmp_path / "audit.json", "{not json")
    result = run("migrate", "plan", "--from-audit", str(report), "-o", str(tmp_path / "m.yaml"))
    assert result.exit_code == 2
    assert f"{report}: line 1: not JSON" in result.stderr
    assert not (tmp_path / "m.yaml").exists()


MANIFEST = f"""\
migrate: {{downtime: approval}}
vms:
  - id: /subscriptions/{SUB}/resourceGroups/rg-lifecycle/providers/Microsoft.Compute/virtualMachines/dis-01
    migrate: {{downtime: {{start: 2026-11-07T22:00:00Z, end: 2026-11-08T04:00:00Z}}}}
  - id: /subscriptions/{SUB}/resourceGroups/rg-data/providers/Microsoft.Compute/virtualMachines/db-02
  - id: /subscriptions/{SUB}/resourceGroups/rg-lifecycle/providers/Microsoft.Compute/virtualMachines/nd-01
    migrate:
      path: rebuild
      downtime: {{start: 2028-10-01T08:00:00Z}}
      rebuild: {{image: {{publisher: Canonical, offer: o, sku: s}}, admin_username: ops, ssh_public_key: {KEY}}}
  - id: /subscriptions/{SUB}/resourceGroups/rg-other/providers/Microsoft.Compute/virtualMachines/elsewhere
    migrate: {{downtime: {{end: 2027-01-31T00:00:00Z}}}}
"""


def test_migrate_readiness_counts_per_path_and_per_month_left(tmp_path: Path) -> None:
    report = write(tmp_path / "audit.json", audit_json())
    manifest = write(tmp_path / "migrate.yaml", MANIFEST)
    argv = ["migrate", "readiness", str(report), "--manifest", str(manifest), "--as-of", "2026-03-01"]
    result = run(*argv, "--json")
    assert result.exit_code == 0, result.output
    view = json.loads(result.stdout)
    assert (view["as_of"], view["retirement"], view["days_left"], view["months_left"]) == (
        "2026-03-01",
        "2028-09-15",
        (date(2028, 9, 15) - date(2026, 3, 1)).days,
        30,
    )
    assert view["per_path"] == {
        "disable-then-encryption-at-host": 2,
        "encryption-at-host": 1,
        "no-ade": 2,
        "rebuild": 2,
        "unknown": 1,
    }
    assert view["per_month"] == [
        {"month": "2026-11", "months_left": 22, "counts": {"disable-then-encryption-at-host": 1}},
        {"month": "2028-10", "months_left": -1, "counts": {"rebuild": 1}},
    ]
    assert view["unscheduled"] == {"disable-then-encryption-at-host": 1, "rebuild": 1}
    assert (view["to_migrate"], view["late"], view["pace_per_month"]) == (4, 1, 1)
    assert view["notes"] == ["VMs of the manifest not in the report (not counted): 1"]
    assert (view["campaign"], view["report"]) == ("audit-daily", str(report))

    text = run(*argv)
    assert text.exit_code == 0 and "\x1b" not in text.stdout
    lines = text.stdout.splitlines()
    assert lines[0] == "ADE retires 2028-09-15: 929 days (30 months) left as of 2026-03-01."
    assert (
        lines[1] == "4 VMs to migrate (M-3 copy-disks 2, M-4 rebuild 2); 2 planned, 2 not planned, 1 planned too late."
    )
    assert [line.split() for line in lines if line.startswith(("copy-disks", "rebuild", "2026-11", "2028-10"))] == [
        ["copy-disks", "M-3", "2", "1", "1"],
        ["rebuild", "M-4", "2", "1", "1"],
        ["2026-11", "22", "1", "0"],
        ["2028-10", "-1", "0", "1"],
    ]


def test_migrate_readiness_without_a_manifest_plans_nothing(tmp_path: Path) -> None:
    report = write(tmp_path / "audit.json", audit_json())
    result = run("migrate", "readiness", str(report), "--as-of", "2026-03-01")
    assert result.exit_code == 0
    assert "No migration is planned yet" in result.stdout
    assert "Pace: 1 VM per month to finish before ADE retires." in result.stdout


def test_migrate_readiness_refuses_bad_input_with_exit_2(tmp_path: Path) -> None:
    report = write(tmp_path / "audit.json", audit_json())
    bad_day = run("migrate", "readiness", str(report), "--as-of", "March")
    assert bad_day.exit_code == 2 and "'March': use YYYY-MM-DD" in bad_day.output
    manifest = write(tmp_path / "m.yaml", MANIFEST.replace("approval", "whenever"))
    bad_manifest = run("migrate", "readiness", str(report), "--manifest", str(manifest))
    assert bad_manifest.exit_code == 2 and "migrate.downtime: expected approval or a window" in bad_manifest.stderr
