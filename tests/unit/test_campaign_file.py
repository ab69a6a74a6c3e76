"""Campaign files: the examples load, every problem is reported at once as file:line: field: message (exit 2 in
the CLI), and the JSON Schema agrees with the module."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from adeflow.domain.campaign_plan.payloads import CampaignKind
from adeflow.inputs.campaign_file import SCHEMA_PATH, CampaignError, Overlap, load_campaign, parse_campaign_text
from adeflow.inputs.manifest import SCHEMA_PATH as MANIFEST_SCHEMA

pytestmark = pytest.mark.campaign

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SUB = "6f1c3a52-8d11-4c4e-9a7e-00000000c0de"
VAULT = f"/subscriptions/{SUB}/resourceGroups/rg-campaign/providers/Microsoft.KeyVault/vaults/kv-camp-eastus"

GOOD = f"""\
name: nightly
kind: drift
schedule:
  cron: "30 1 * * *"
selectors:
  - {{subscription: {SUB}, tags: {{campaign: nightly}}}}
defaults:
  key_vault_id: {VAULT}
  volume_type: All
notify:
  report_dir: reports
"""


def problems(text: str, tmp_path: Path | None = None) -> list[str]:
    with pytest.raises(CampaignError) as caught:
        parse_campaign_text(text, source="c.yaml", base_dir=tmp_path)
    assert caught.value.exit_code == 2
    return [p.render() for p in caught.value.problems]


def test_the_examples_load() -> None:
    rotate = load_campaign(EXAMPLES / "campaign-rotate-kek.yaml")
    assert (rotate.kind, rotate.overlap, rotate.schedule.cron, rotate.schedule.time_zone) == (
        CampaignKind.ROTATE_KEK,
        Overlap.SKIP,
        ("0 2 * * 1",),
        "Europe/Berlin",
    )
    assert rotate.rotate is not None and rotate.rotate.max_age_days == 90
    assert rotate.report_dir == str((EXAMPLES.parent / "var" / "campaign-reports").resolve())
    drift = load_campaign(EXAMPLES / "campaign-drift.yaml")
    assert (drift.kind, drift.overlap, drift.rotate) == (CampaignKind.DRIFT, Overlap.BUFFER_ONE, None)
    audit = load_campaign(EXAMPLES / "campaign-audit.yaml")
    assert (audit.schedule.interval_s, audit.schedule.cron) == (86400.0, ())
    request = drift.to_input()
    assert request.fleet.selectors[0].query.source.endswith("campaign-drift.yaml:12")
    assert request.fleet.settings[0].volume_type is not None and request.report_dir == drift.report_dir


def test_a_good_file_and_its_input(tmp_path: Path) -> None:
    campaign = parse_campaign_text(GOOD, source="c.yaml", base_dir=tmp_path)
    assert campaign.schedule_id == "campaign/nightly"
    assert campaign.report_dir == str(tmp_path / "reports")
    assert campaign.rollout.canary == 1 and campaign.fleet_source == "c.yaml"


def test_every_problem_at_once_with_its_line() -> None:
    text = """\
name: "bad name"
kind: rotate
schedule:
  cron: "61 2 * *"
  interval: 30s
  time_zone: Mars/Olympus
overlap: allow-all
selectors:
  - {subscription: not-a-guid}
notify: {}
colour: blue
"""
    assert problems(text) == [
        "c.yaml:1: name: use letters, digits, '.', '_' and '-' (at most 46, starting with a letter or digit); "
        "got 'bad name'",
        "c.yaml:1: defaults.key_vault_id: no Key Vault: set defaults.key_vault_id "
        "(/subscriptions/<sub>/resourceGroups/<rg>/providers/Microsoft.KeyVault/vaults/<name>) (R-ENA-3)",
        "c.yaml:2: kind: must be one of rotate-kek, drift, audit; did you mean \"rotate-kek\"? got 'rotate'",
        "c.yaml:4: schedule: give exactly one of cron (an expression or a list) and interval",
        "c.yaml:4: schedule.cron: a cron expression has 5 fields (minute hour day-of-month month day-of-week); "
        "got '61 2 * *'",
        "c.yaml:5: schedule.interval: must be at least 1m",
        "c.yaml:6: schedule.time_zone: unknown time zone 'Mars/Olympus': use an IANA name like Europe/Berlin",
        "c.yaml:7: overlap: must be one of skip, buffer-one; got 'allow-all'",
        "c.yaml:9: selectors[0].subscription: subscription must be a GUID like 00000000-0000-0000-0000-000000000000; "
        "got 'not-a-guid'",
        "c.yaml:10: notify.report_dir: missing: the directory (on the worker) for the report files",
        'c.yaml:11: colour: unknown key "colour"; did you mean "rollout"? allowed keys: version, name, kind, '
        "description, schedule, overlap, "
        "manifest, rollout, defaults, vms, selectors, rotate_kek, notify",
    ]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"kind": "rotate-kek"}, "c.yaml:2: rotate_kek: missing: a rotate-kek campaign needs rotate_kek"),
        (
            {"rotate_kek": {"key_url": "https://kv-camp-eastus.vault.azure.net/keys/k", "vault_id": VAULT}},
            "rotate_kek: only for kind rotate-kek (or audit, to report on it)",
        ),
        (
            {
                "kind": "audit",
                "rotate_kek": {"key_url": "https://other-vault.vault.azure.net/keys/k/" + "a" * 32, "vault_id": VAULT},
            },
            "rotate_kek.key_url: the key is in vault 'other-vault' but vault_id names vault 'kv-camp-eastus'",
        ),
        ({"schedule": {"cron": "0 2 * * 9"}}, "schedule.cron: day of week field '9' is not valid"),
        ({"schedule": {"cron": "@fortnightly"}}, "schedule.cron: unknown cron alias '@fortnightly'"),
        ({"notify": {"report_dir": "r", "webhook": "https://hooks.example.com/x?token=s3cret"}}, "webhook_env"),
        ({"notify": {"report_dir": "r", "webhook": "https://h.example.com/x", "webhook_env": "X"}}, "not both"),
        ({"manifest": "fleet.yaml"}, "defaults: with manifest, the fleet (vms, selectors, defaults) comes from"),
        ({"rollout": {"name": "x"}}, "rollout.name: not used by a campaign"),
        ({"selectors": []}, "selectors: no fleet: the vms and selectors lists are empty"),
        ({"name": "n" * 47}, "name: use letters, digits"),
    ],
)
def test_one_problem(change: dict[str, Any], expected: str) -> None:
    data = yaml.safe_load(GOOD)
    data.update(change)
    found = problems(yaml.safe_dump(data, sort_keys=False))
    assert any(expected in p for p in found), found


def test_rotate_kek_needs_the_standing_r_new_1_confirmation() -> None:
    data = yaml.safe_load(GOOD)
    data.update(
        kind="rotate-kek", rotate_kek={"key_url": "https://kv-camp-eastus.vault.azure.net/keys/k", "vault_id": VAULT}
    )
    found = problems(yaml.safe_dump(data, sort_keys=False))
    assert len(found) == 1 and "kind: rotate-kek re-enables ADE" in found[0] and "(R-NEW-1)" in found[0]
    data["defaults"]["confirmations"] = ["data-disks-mounted-in-fstab"]
    assert parse_campaign_text(yaml.safe_dump(data)).kind is CampaignKind.ROTATE_KEK


def test_a_campaign_over_a_manifest_takes_its_fleet_and_reports_its_problems_at_their_lines(tmp_path: Path) -> None:
    (tmp_path / "fleet.yaml").write_text((EXAMPLES / "manifest-demo.yaml").read_text())
    data = {k: v for k, v in yaml.safe_load(GOOD).items() if k not in ("selectors", "defaults")}
    data.update(manifest="fleet.yaml", rollout={"canary": 2})
    campaign = parse_campaign_text(yaml.safe_dump(data), source="c.yaml", base_dir=tmp_path)
    assert campaign.fleet_source == str(tmp_path / "fleet.yaml") and campaign.rollout.canary == 2
    assert campaign.vms or campaign.selectors
    (tmp_path / "fleet.yaml").write_text("vms:\n  - not-a-vm-id\n")
    found = problems(yaml.safe_dump(data), tmp_path)
    assert found[0].startswith("c.yaml:") and "manifest: the manifest fleet.yaml is not valid" in found[0]
    assert any(p.startswith(f"{tmp_path / 'fleet.yaml'}:2: vms[0]") for p in found), found


def test_empty_and_unreadable_files(tmp_path: Path) -> None:
    assert problems("") == ["c.yaml:1: the campaign file is empty: give name, kind, schedule, a fleet and notify"]
    with pytest.raises(CampaignError, match="unsupported file type"):
        load_campaign(tmp_path / "c.txt")


# ------------------------------------------------------------------------------------------- the JSON Schema


def schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SCHEMA_PATH.read_text())
    return loaded


def test_the_schema_shares_the_manifest_definitions_and_knows_every_top_key() -> None:
    manifest = json.loads(MANIFEST_SCHEMA.read_text())
    ours = schema()
    for name, definition in manifest["$defs"].items():
        assert ours["$defs"][name] == definition, name
    from adeflow.inputs.campaign_file import _TOP_KEYS

    assert tuple(ours["properties"]) == _TOP_KEYS


def test_the_examples_validate_against_the_schema_and_bad_files_do_not() -> None:
    jsonschema.Draft202012Validator.check_schema(schema())
    validator = jsonschema.Draft202012Validator(schema())
    for kind in ("rotate-kek", "drift", "audit"):
        document = yaml.safe_load((EXAMPLES / f"campaign-{kind}.yaml").read_text())
        assert list(validator.iter_errors(document)) == [], kind
    bad = yaml.safe_load(GOOD)
    bad.update(kind="rotate-kek", overlap="allow-all", schedule={"cron": "0 2 * * *", "interval": "1h"})
    assert len(list(validator.iter_errors(bad))) >= 3
