"""Campaign planning without Temporal or Azure: ADE states, each kind's decision per VM (with its rule id), exact VM
sets on a fleet with known drift, the hand-off to the rollout, and the report's shape."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from adeflow.domain.campaign_plan.decisions import plan_campaign
from adeflow.domain.campaign_plan.keks import keks_in_use, normalise_kek
from adeflow.domain.campaign_plan.payloads import (
    Action,
    CampaignInput,
    CampaignKind,
    CampaignReport,
    KekReport,
    KekVersion,
    RotateKek,
    RunningVmRun,
    VmReading,
)
from adeflow.domain.campaign_plan.run import (
    campaign_run_name,
    mark_elsewhere,
    needing_work,
    rollout_vms,
    scheduled_time,
    summarise,
)
from adeflow.domain.campaign_plan.state import AdeState, RetirementPath, ade_state, days_to_retirement
from adeflow.domain.fleet import RolloutPolicy, VmSettings
from adeflow.domain.model import DiskFacts, ExtensionFacts, VmFacts, VmRef, VolumeState, VolumeType
from adeflow.domain.rollout import build_rollout_input
from adeflow.reports.campaign_report import report_csv, report_json, report_markdown, webhook_body
from tests.support.domain_facts import RG, SUB, VAULT_ID, ade_extension, status, vm_facts

pytestmark = pytest.mark.campaign

NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
KEY = "https://kv-ade-eastus.vault.azure.net/keys/kek-ade"
V_NEW, V_40, V_120, V_OLD = "a" * 32, "b" * 32, "c" * 32, "d" * 32
OTHER = "https://kv-ade-eastus.vault.azure.net/keys/kek-old/" + "e" * 32
AGES = {V_NEW: 5, V_40: 40, V_120: 120, V_OLD: 400}
CONFIRMED = VmSettings(
    key_vault_id=VAULT_ID, volume_type=VolumeType.ALL, confirmations=("data-disks-mounted-in-fstab",)
)
ROTATE = RotateKek(KEY, VAULT_ID, max_age_days=90)


def kek(version: str) -> str:
    return f"{KEY}/{version}"


def target() -> KekVersion:
    return KekVersion(kek(V_NEW), VAULT_ID, NOW - timedelta(days=5))


def keks() -> KekReport:
    versions = [KekVersion(kek(v), VAULT_ID, NOW - timedelta(days=age)) for v, age in AGES.items()]
    return KekReport([*versions, KekVersion(OTHER, VAULT_ID, NOW - timedelta(days=200))], target())


def named(name: str, facts: VmFacts) -> VmFacts:
    """Facts with every disk renamed after the VM, as ARM names them."""

    def rename(d: DiskFacts) -> DiskFacts:
        return replace(d, name=d.name.replace("web-01", name))

    return replace(
        facts, ref=VmRef(SUB, RG, name), os_disk=rename(facts.os_disk), data_disks=[rename(d) for d in facts.data_disks]
    )


def encrypted(
    name: str,
    volume_type: str = "All",
    *,
    data_disks: int = 0,
    kek_url: str = "",
    encrypted_data: int | None = None,
    **ext: Any,
) -> VmFacts:
    """An ADE VM: the extension's settings and status, the disks the volume type covers stamped encrypted."""
    os_on = volume_type in ("OS", "All")
    data_on = volume_type in ("Data", "All")
    facts = vm_facts(data_disks=data_disks)
    count = data_disks if encrypted_data is None else encrypted_data
    data = [replace(d, instance_view_encrypted=data_on and i < count) for i, d in enumerate(facts.data_disks)]
    extension = ade_extension(
        volume_type=volume_type,
        encryption_operation="EnableEncryption",
        status=status(
            VolumeState.ENCRYPTED if os_on else VolumeState.NOT_ENCRYPTED,
            VolumeState.ENCRYPTED if data_on and data else VolumeState.NOT_MOUNTED,
        ),
        key_vault_resource_id=VAULT_ID,
        key_encryption_key_url=kek_url,
        kek_vault_resource_id=VAULT_ID if kek_url else "",
        **ext,
    )
    facts = replace(
        facts, os_disk=replace(facts.os_disk, instance_view_encrypted=os_on), data_disks=data, ade_extension=extension
    )
    return named(name, facts)


def fleet() -> list[VmFacts]:
    """The campaign sample fleet's drift (examples/campaign-fleet.yaml), as facts."""
    removed = encrypted("noext-01", data_disks=1, kek_url=kek(V_NEW))
    legacy_ext = ade_extension(version="0.1", has_aad_settings=True, volume_type="OS")
    return [
        encrypted("ok-01", data_disks=1, kek_url=kek(V_NEW)),
        encrypted("ok-02", "OS", kek_url=kek(V_NEW)),
        encrypted("data-01", "Data", data_disks=1, kek_url=kek(V_NEW)),
        encrypted("young-01", "OS", kek_url=kek(V_40)),
        encrypted("stale-01", data_disks=1, kek_url=kek(V_OLD)),
        encrypted("stale-02", "OS", kek_url=kek(V_120)),
        encrypted("otherkey-01", "OS", kek_url=OTHER),
        encrypted("nokek-01", "OS"),
        encrypted("newdisk-01", data_disks=2, encrypted_data=1, kek_url=kek(V_NEW)),
        encrypted("newdisk-02", "OS", data_disks=1, kek_url=kek(V_NEW)),
        replace(removed, ade_extension=None),
        named("plain-01", vm_facts(data_disks=1)),
        named("plain-02", vm_facts()),
        named("legacy-01", vm_facts(ade_extension=legacy_ext)),
        named("win-01", vm_facts(os_type="Windows")),
        named("eah-01", vm_facts(encryption_at_host=True)),
    ]


def request(kind: CampaignKind, settings: VmSettings = CONFIRMED, rotate: RotateKek | None = ROTATE) -> CampaignInput:
    fleet_input = replace(build_rollout_input("", RolloutPolicy(), [], []), settings=[settings])
    return CampaignInput("nightly", kind, fleet_input, rotate=None if kind is CampaignKind.DRIFT else rotate)


def plans(kind: CampaignKind, facts: list[VmFacts] | None = None, settings: VmSettings = CONFIRMED) -> dict[str, Any]:
    readings = [(VmReading(f.ref, f), 0) for f in (facts if facts is not None else fleet())]
    return {p.vm.name: p for p in plan_campaign(request(kind, settings), readings, keks(), NOW)}


def where(planned: dict[str, Any], action: Action) -> set[str]:
    return {name for name, p in planned.items() if p.action is action}


# ------------------------------------------------------------------------------------------- the sample fleet


def test_rotate_kek_picks_exactly_the_vms_on_another_or_a_stale_key() -> None:
    planned = plans(CampaignKind.ROTATE_KEK)
    assert where(planned, Action.ROTATE_KEK) == {"stale-01", "stale-02", "otherkey-01", "nokek-01"}
    assert where(planned, Action.SKIP) == {"noext-01", "legacy-01", "win-01"}
    assert planned["young-01"].action is Action.NONE and "within max_age_days 90" in planned["young-01"].reason
    stale = planned["stale-01"]
    assert (stale.current_kek, stale.target_kek, stale.kek_age_days) == (kek(V_OLD), kek(V_NEW), 400.0)
    assert stale.volume_type == "All" and stale.key_vault_id == VAULT_ID
    assert "another key" in planned["otherkey-01"].reason and "no KEK" in planned["nokek-01"].reason


def test_drift_picks_exactly_the_unencrypted_partly_encrypted_and_extension_removed_vms() -> None:
    planned = plans(CampaignKind.DRIFT)
    assert where(planned, Action.ENCRYPT) == {"plain-01", "plain-02"}
    assert where(planned, Action.REENABLE) == {"newdisk-01", "newdisk-02"}
    assert where(planned, Action.REINSTALL) == {"noext-01"}
    assert where(planned, Action.SKIP) == {"legacy-01", "win-01"}
    assert planned["newdisk-02"].volume_type == "All" and "was OS, R-NEW-2" in planned["newdisk-02"].reason
    assert "newdisk-01-datadisk-1" in planned["newdisk-01"].reason
    assert (planned["noext-01"].rule, planned["noext-01"].volume_type) == ("R-DIS-2", "All")
    assert {p.rule for p in planned.values() if p.action is Action.SKIP} == {"R-LIM-1", "R-PRE-1"}


def test_audit_changes_nothing_and_says_what_each_kind_would_do_and_the_retirement_paths() -> None:
    planned = plans(CampaignKind.AUDIT)
    assert where(planned, Action.NONE) == set(planned)
    assert {n for n, p in planned.items() if p.rotate.startswith("rotate-kek")} == {
        "stale-01", "stale-02", "otherkey-01", "nokek-01",
    }  # fmt: skip
    assert {n for n, p in planned.items() if p.drift.startswith(("encrypt", "re-enable", "reinstall"))} == {
        "plain-01", "plain-02", "newdisk-01", "newdisk-02", "noext-01",
    }  # fmt: skip
    paths = {n: p.retirement for n, p in planned.items()}
    assert paths["data-01"] is RetirementPath.DISABLE_THEN_HOST
    assert paths["eah-01"] is RetirementPath.READY
    assert {n for n, p in paths.items() if p is RetirementPath.NO_ADE} == {"plain-01", "plain-02", "win-01"}
    assert sum(p is RetirementPath.REBUILD for p in paths.values()) == 11  # every encrypted OS volume (R-DIS-3)


# ------------------------------------------------------------------------------------------- single decisions


@pytest.mark.parametrize(
    ("facts", "state"),
    [
        (vm_facts(), AdeState.NOT_ENCRYPTED),
        (encrypted("a"), AdeState.ENCRYPTED),
        (encrypted("a", data_disks=2, encrypted_data=1), AdeState.PARTLY_ENCRYPTED),
        (encrypted("a", "OS", data_disks=1), AdeState.PARTLY_ENCRYPTED),  # R-NEW-2: OS -> All covers the data disk
        (encrypted("a", "Data", data_disks=1), AdeState.ENCRYPTED),  # data-only by design: the OS disk is out
        (replace(encrypted("a"), ade_extension=None), AdeState.EXTENSION_REMOVED),
        (vm_facts(encryption_at_host=True), AdeState.HOST_ENCRYPTED),
        (vm_facts(os_type="Windows"), AdeState.NOT_LINUX),
        (vm_facts(legacy_os_encryption_settings=True), AdeState.LEGACY),
        (  # R-NEW-1: an enable that failed before encrypting anything leaves the VM not encrypted, not "partly"
            vm_facts(ade_extension=ade_extension(encryption_operation="EnableEncryption", provisioning_state="Failed")),
            AdeState.NOT_ENCRYPTED,
        ),
    ],
)
def test_ade_state(facts: VmFacts, state: AdeState) -> None:
    assert ade_state(facts) is state


def test_a_busy_vm_is_left_for_the_next_run_by_every_kind() -> None:
    ext = replace(
        encrypted("busy-01").ade_extension,  # type: ignore[arg-type]
        status=status(VolumeState.ENCRYPTION_IN_PROGRESS, VolumeState.NOT_MOUNTED),
    )
    busy = replace(encrypted("busy-01"), ade_extension=ext)
    for kind in (CampaignKind.DRIFT, CampaignKind.ROTATE_KEK):
        planned = plans(kind, [busy])["busy-01"]
        assert (planned.state, planned.action, planned.rule) == (AdeState.IN_PROGRESS, Action.SKIP, "R-LIM-2")


def test_a_re_enable_without_the_new_disk_confirmation_is_skipped_with_r_new_1() -> None:
    unconfirmed = replace(CONFIRMED, confirmations=())
    for kind, name in ((CampaignKind.DRIFT, "newdisk-01"), (CampaignKind.ROTATE_KEK, "stale-01")):
        planned = plans(kind, settings=unconfirmed)[name]
        assert (planned.action, planned.rule) == (Action.SKIP, "R-NEW-1")
        assert "data-disks-mounted-in-fstab" in planned.reason
    assert plans(CampaignKind.DRIFT, settings=unconfirmed)["plain-02"].action is Action.ENCRYPT  # a first enable


def test_drift_refuses_what_the_vm_run_would_refuse() -> None:
    ultra = named("ultra-01", vm_facts(data_disks=1))
    ultra = replace(ultra, data_disks=[replace(ultra.data_disks[0], storage_account_type="UltraSSD_LRS")])
    planned = plans(CampaignKind.DRIFT, [ultra])["ultra-01"]
    assert (planned.action, planned.rule) == (Action.SKIP, "R-LIM-4w")
    no_type = plans(
        CampaignKind.DRIFT, [named("plain-01", vm_facts(data_disks=1))], replace(CONFIRMED, volume_type=None)
    )
    assert (no_type["plain-01"].action, no_type["plain-01"].rule) == (Action.SKIP, "R-ENA-3")


def test_rotate_kek_leaves_a_newer_version_and_flags_an_old_target() -> None:
    newer = encrypted("newer-01", "OS", kek_url=kek(V_NEW))
    old_target = replace(keks(), target=KekVersion(kek(V_120), VAULT_ID, NOW - timedelta(days=120)))
    result = plan_campaign(request(CampaignKind.ROTATE_KEK), [(VmReading(newer.ref, newer), 0)], old_target, NOW)
    assert result[0].action is Action.NONE and "newer than the target" in result[0].reason
    same = encrypted("same-01", "OS", kek_url=kek(V_120))
    result = plan_campaign(request(CampaignKind.ROTATE_KEK), [(VmReading(same.ref, same), 0)], old_target, NOW)
    assert result[0].action is Action.NONE and "create a new version" in result[0].reason


def test_rotate_kek_with_an_unusable_target_skips_every_vm() -> None:
    broken = replace(keks(), target=KekVersion(KEY, VAULT_ID, problem="ResourceNotFound: no such key"))
    stale = encrypted("stale-01", kek_url=kek(V_OLD))
    result = plan_campaign(request(CampaignKind.ROTATE_KEK), [(VmReading(stale.ref, stale), 0)], broken, NOW)
    assert (result[0].action, result[0].rule) == (Action.SKIP, "R-ENA-3") and "no such key" in result[0].reason


def test_an_unreadable_vm_is_skipped_with_why() -> None:
    reading = VmReading(VmRef(SUB, RG, "gone-01"), None, "ARM answered 404 ResourceNotFound")
    result = plan_campaign(request(CampaignKind.DRIFT), [(reading, 0)], keks(), NOW)
    assert (result[0].state, result[0].action, result[0].retirement) == (
        AdeState.UNREADABLE,
        Action.SKIP,
        RetirementPath.UNKNOWN,
    )


# ------------------------------------------------------------------------------------------- hand-off and naming


def test_vms_in_other_runs_are_left_to_them_and_the_rest_go_to_the_rollout_with_decided_settings() -> None:
    planned = plan_campaign(request(CampaignKind.ROTATE_KEK), [(VmReading(f.ref, f), 0) for f in fleet()], keks(), NOW)
    busy = RunningVmRun(VmRef(SUB, RG, "stale-02"), "encrypt/stale-02/rg-web/sub", "other-rollout")
    marked = mark_elsewhere(planned, [busy])
    elsewhere = [p for p in marked if p.action is Action.ELSEWHERE]
    assert [p.vm.name for p in elsewhere] == ["stale-02"] and "rollout other-rollout" in elsewhere[0].reason
    vms = rollout_vms(marked, [CONFIRMED], target())
    assert sorted(ref.name for ref, _ in vms) == ["nokek-01", "otherkey-01", "stale-01"]
    assert {s.kek.key_url for _, s in vms if s.kek} == {kek(V_NEW)} and {s.volume_type for _, s in vms} == {
        VolumeType.ALL
    }
    assert len(needing_work(marked)) == 3


def test_run_names_and_action_times() -> None:
    at = datetime(2026, 11, 30, 1, 0, 7, tzinfo=UTC)
    assert campaign_run_name("rotate-kek-weekly", at) == "rotate-kek-weekly-20261130T010007Z"
    assert scheduled_time("campaign/rotate-kek-weekly-2026-11-30T01:00:07Z") == at
    assert scheduled_time("campaign/rotate-kek-weekly") is None
    assert days_to_retirement(NOW) == (datetime(2028, 9, 15, tzinfo=UTC) - NOW).days + 1


def test_kek_urls_compare_without_case_port_or_slash() -> None:
    assert normalise_kek("HTTPS://KV-ADE-EASTUS.vault.azure.net:443/keys/KEK-ade/" + "A" * 32 + "/") == kek("a" * 32)
    readings = [VmReading(f.ref, f) for f in fleet()]
    in_use = {k.key_url for k in keks_in_use(readings)}
    assert in_use == {kek(V_NEW), kek(V_40), kek(V_OLD), kek(V_120), OTHER}


# ------------------------------------------------------------------------------------------- the report


def test_the_report_says_per_vm_what_and_why_and_counts_the_retirement_paths() -> None:
    req = request(CampaignKind.AUDIT)
    planned = plan_campaign(req, [(VmReading(f.ref, f), 0) for f in fleet()], keks(), NOW)
    result = summarise(req, "nightly-20261201T020000Z", NOW, planned)
    report = CampaignReport(result, planned, ["c.yaml:9: 16 VMs found"], kek(V_NEW), report_dir="/tmp")
    data = json.loads(report_json(report))
    assert data["summary"]["actions"] == {"none": 16}
    assert data["retirement"]["days_left"] == days_to_retirement(NOW)
    assert data["retirement"]["paths"]["disable-then-encryption-at-host"]["vms"] == 1
    rows = list(csv.DictReader(io.StringIO(report_csv(planned))))
    assert len(rows) == 16 and rows[4]["vm"] == "stale-01" and rows[4]["rotate"] == "rotate-kek (All)"
    markdown = report_markdown(report)
    assert "## Retirement readiness: ADE retires 2028-09-15" in markdown and "| stale-01 |" in markdown
    body = webhook_body(result)
    assert set(body) >= {"campaign", "run", "actions", "retirement"} and "vms" in body
    assert "kek" not in json.dumps(body).lower()  # no key references in a webhook


def test_extension_facts_expose_the_kek_settings() -> None:
    from adeflow.domain.arm_parse import parse_extension

    ext: ExtensionFacts = parse_extension(
        {
            "name": "AzureDiskEncryptionForLinux",
            "properties": {
                "settings": {
                    "EncryptionOperation": "EnableEncryption",
                    "KeyVaultResourceId": VAULT_ID,
                    "KeyEncryptionKeyURL": kek(V_NEW),
                    "KekVaultResourceId": VAULT_ID,
                }
            },
        }
    )
    assert (ext.key_vault_resource_id, ext.key_encryption_key_url, ext.kek_vault_resource_id) == (
        VAULT_ID,
        kek(V_NEW),
        VAULT_ID,
    )
