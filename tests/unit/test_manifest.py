"""Fleet manifests: good input resolves to per-VM settings; bad input lists every problem with file, line, field."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, Literal

import jsonschema
import pytest
import yaml

from adeflow.domain.fleet import FailureBudget, Manifest, RolloutPolicy, VmSettings
from adeflow.domain.model import BackupPolicy, BackupWaiver, KeyEncryptionKey, RestartPolicy, VmRef, VolumeType
from adeflow.inputs.manifest import (
    DATA_LOSS_ACKNOWLEDGEMENT,
    GUEST_CONFIRMATIONS,
    SCHEMA_PATH,
    SETTING_KEYS,
    ManifestError,
    ManifestProblem,
    load_manifest,
    parse_manifest_text,
)
from adeflow.inputs.migrate_block import MIGRATE_KEYS
from adeflow.inputs.settings_block import MIGRATION_SETTING_KEYS, SettingsFields
from tests.support.schema_view import json_view

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
BAD = ROOT / "tests" / "data" / "manifests" / "bad"

SUB = "6f1c3a52-8d11-4c4e-9a7e-000000000001"
SUB2 = "6f1c3a52-8d11-4c4e-9a7e-000000000002"
KV = f"/subscriptions/{SUB}/resourceGroups/rg-web/providers/Microsoft.KeyVault/vaults/kv-ade-eastus"
KV2 = f"/subscriptions/{SUB}/resourceGroups/rg-keys/providers/Microsoft.KeyVault/vaults/kv-keys"
KEK_URL = "https://kv-keys.vault.azure.net/keys/kek/0123456789abcdef0123456789abcdef"
VM = f"/subscriptions/{SUB}/resourceGroups/rg-web/providers/Microsoft.Compute/virtualMachines"
CSV_DEFAULTS = {"key_vault_id": KV}
"""The bad CSV corpus is parsed with these defaults, so its files need no key_vault_id column."""


def parse(text: str, **kwargs: Any) -> Manifest:
    return parse_manifest_text(text, source="m.yaml", **kwargs)


def problems(text: str, **kwargs: Any) -> list[str]:
    with pytest.raises(ManifestError) as caught:
        parse(text, **kwargs)
    return [problem.render() for problem in caught.value.problems]


def one_vm(extra: str = "", defaults: str = f"key_vault_id: {KV}") -> str:
    """A manifest with one VM (``extra`` holds its override lines, indented by 4) and the given defaults lines."""
    body = f"vms:\n  - id: {VM}/web-01\n" + "".join(f"    {line}\n" for line in extra.splitlines())
    return "defaults:\n" + "".join(f"  {line}\n" for line in defaults.splitlines()) + body


# ------------------------------------------------------------------------------------------- good input


def test_demo_manifest_merges_defaults_and_lets_overrides_win() -> None:
    manifest = load_manifest(EXAMPLES / "manifest-demo.yaml")
    assert manifest.rollout == RolloutPolicy(
        name="demo-eastus",
        concurrency=50,
        per_subscription_concurrency=20,
        canary=1,
        waves=(5, 25, 100),
        failure_budget=FailureBudget(fraction=0.05),
        poll_interval_s=300.0,
        encryption_deadline_s=72 * 3600.0,
    )
    web01, web02, web03 = manifest.vms
    assert [vm.ref.name for vm in manifest.vms] == ["web-01", "web-02", "web-03"]
    assert web01.ref == VmRef(SUB, "rg-web", "web-01")
    assert web01.settings == VmSettings(
        key_vault_id=KV,
        volume_type=VolumeType.ALL,
        confirmations=("no-nested-mounts", "no-kdump", "no-nfs", "data-disks-mounted-in-fstab"),
    )
    assert web02.settings.volume_type is VolumeType.DATA  # "data" in the file: canonical here
    assert web02.settings.backup is BackupPolicy.SNAPSHOT
    assert web02.settings.kek == KeyEncryptionKey(
        "https://kv-ade-eastus.vault.azure.net/keys/kek/0123456789abcdef0123456789abcdef", KV
    )
    assert web02.settings.key_vault_id == KV
    assert web03.settings.backup is BackupPolicy.WAIVE
    assert web03.settings.backup_waiver == BackupWaiver("alice", "Nightly image-level copy in the DR vault, job 4711")
    assert web03.settings.restart is RestartPolicy.AUTO
    assert [vm.line for vm in manifest.vms] == [22, 23, 29]

    tags, graph = manifest.selectors
    assert (tags.kind, tags.subscription_id, tags.resource_group) == ("tags", SUB, "rg-web")
    assert tags.tags == {"env": "prod", "ade": "yes"}
    assert tags.settings.key_vault_id == KV
    assert graph.kind == "resource_graph"
    assert graph.subscriptions == (SUB2,)
    assert graph.settings.key_vault_id.endswith("/vaults/kv-ade-westeurope")


def test_csv_example_with_a_defaults_mapping() -> None:
    manifest = load_manifest(EXAMPLES / "vms.csv", defaults={"key_vault_id": KV, "volume_type": "os"})
    assert manifest.rollout == RolloutPolicy()
    assert [(vm.ref.key, vm.line) for vm in manifest.vms] == [
        (f"{SUB}/rg-web/web-01", 2),
        (f"{SUB}/rg-web/web-02", 3),
        (f"{SUB}/rg-data/db-01", 4),
        (f"{SUB2}/rg-app/app-01", 5),
    ]
    web01, web02, db01, app01 = (vm.settings for vm in manifest.vms)
    assert web01 == VmSettings(key_vault_id=KV, volume_type=VolumeType.OS)
    assert (web02.volume_type, web02.backup) == (VolumeType.DATA, BackupPolicy.SNAPSHOT)
    assert (db01.volume_type, db01.backup) == (VolumeType.ALL, BackupPolicy.AZURE_BACKUP)
    assert app01.key_vault_id.endswith("/vaults/kv-ade-westeurope")


def test_csv_defaults_document_file_with_rollout_section(tmp_path: Path) -> None:
    companion = tmp_path / "fleet-defaults.yaml"
    companion.write_text(
        f"rollout:\n  name: csv-wave\n  waves: [10]\ndefaults:\n  key_vault_id: {KV}\n  restart: never\n"
    )
    manifest = load_manifest(EXAMPLES / "vms.csv", defaults=companion)
    assert (manifest.rollout.name, manifest.rollout.waves) == ("csv-wave", (10,))
    assert manifest.vms[0].settings.restart is RestartPolicy.NEVER


def test_problems_in_a_defaults_file_name_that_file(tmp_path: Path) -> None:
    companion = tmp_path / "d.yaml"
    companion.write_text("rollout:\n  canary: 0\ndefaults:\n  key_vault_id: kv\n")
    with pytest.raises(ManifestError) as caught:
        parse_manifest_text(f"id\n{VM}/web-01\n", source="vms.csv", fmt="csv", defaults=companion)
    assert [(p.source, p.line, p.field) for p in caught.value.problems] == [
        (str(companion), 2, "rollout.canary"),
        (str(companion), 4, "defaults.key_vault_id"),
    ]


def test_manifest_defaults_win_over_the_defaults_document() -> None:
    manifest = parse(one_vm(defaults="volume_type: Data"), defaults={"key_vault_id": KV, "volume_type": "All"})
    assert manifest.vms[0].settings.volume_type is VolumeType.DATA
    assert manifest.vms[0].settings.key_vault_id == KV


def test_vm_named_by_subscription_group_and_name_with_override() -> None:
    text = (
        f"defaults: {{key_vault_id: {KV}}}\n"
        f"vms:\n  - {{subscription: {SUB}, resource_group: rg-web, name: web-02, key_vault_id: {KV2}}}\n"
    )
    (vm,) = parse(text).vms
    assert vm.ref == VmRef(SUB, "rg-web", "web-02")
    assert vm.settings.key_vault_id == KV2


def test_settings_replace_defaults_key_by_key() -> None:
    manifest = parse(one_vm("confirmations: [no-kdump]", defaults=f"key_vault_id: {KV}\nconfirmations: [no-nfs]"))
    assert manifest.vms[0].settings.confirmations == ("no-kdump",)


def test_yaml_anchors_and_merge_keys_work() -> None:
    text = f"""
defaults: &base
  key_vault_id: {KV}
  volume_type: Data
vms:
  - <<: *base
    id: {VM}/web-01
    volume_type: OS
"""
    assert parse(text).vms[0].settings.volume_type is VolumeType.OS


def test_tag_values_are_kept_as_written() -> None:
    text = f"defaults: {{key_vault_id: {KV}}}\nselectors:\n  - {{subscription: {SUB}, tags: {{ade: yes, tier: 01}}}}\n"
    assert parse(text).selectors[0].tags == {"ade": "yes", "tier": "01"}


@pytest.mark.parametrize(
    ("written", "seconds"),
    [("30s", 30.0), ("5m", 300.0), ("2h", 7200.0), ("1d", 86400.0), ("1h30m", 5400.0), ("45", 45.0), ("2.5", 2.5)],
)
def test_durations(written: str, seconds: float) -> None:
    text = f"rollout: {{poll_interval: {written}, encryption_deadline: 7d}}\n" + one_vm()
    assert parse(text).rollout.poll_interval_s == seconds


@pytest.mark.parametrize(
    ("written", "budget", "limit_of_100", "limit_of_10"),
    [
        ("5%", FailureBudget(fraction=0.05), 5, 0),
        ("2.5%", FailureBudget(fraction=0.025), 2, 0),
        ("3", FailureBudget(count=3), 3, 3),
        ("0", FailureBudget(count=0), 0, 0),
    ],
)
def test_failure_budget_is_a_count_or_a_fraction(
    written: str, budget: FailureBudget, limit_of_100: int, limit_of_10: int
) -> None:
    parsed = parse(f"rollout: {{failure_budget: {written}}}\n" + one_vm()).rollout.failure_budget
    assert parsed == budget
    assert (parsed.limit(100), parsed.limit(10)) == (limit_of_100, limit_of_10)
    assert parsed.exceeded(limit_of_100 + 1, 100)
    assert not parsed.exceeded(limit_of_100, 100)
    assert str(parsed) == written


def test_enum_values_are_case_insensitive_and_canonical() -> None:
    settings = (
        parse(one_vm("volume_type: ALL\nbackup: Azure-Backup\nrestart: NEVER\nkey_encryption_algorithm: rsa-oaep-256"))
        .vms[0]
        .settings
    )
    assert (settings.volume_type, settings.backup, settings.restart) == (
        VolumeType.ALL,
        BackupPolicy.AZURE_BACKUP,
        RestartPolicy.NEVER,
    )
    assert settings.key_encryption_algorithm == "RSA-OAEP-256"


def test_settings_become_an_encrypt_vm_input() -> None:
    manifest = parse(
        "rollout: {poll_interval: 1m, encryption_deadline: 1d}\n"
        + one_vm(f"kek: {{key_url: {KEK_URL}, vault_id: {KV2}}}\nconfirmations: [no-kdump]")
    )
    vm = manifest.vms[0]
    request = vm.settings.to_encrypt_input(vm.ref, manifest.rollout, rollout_id="r-1")
    assert (request.vm, request.key_vault_id, request.kek) == (vm.ref, KV, KeyEncryptionKey(KEK_URL, KV2))
    assert (request.poll_interval_s, request.encryption_deadline_s, request.rollout_id) == (60.0, 86400.0, "r-1")
    assert request.confirmations == ["no-kdump"]


def test_vm_settings_round_trip_through_temporal() -> None:
    from temporalio.converter import DataConverter

    settings = (
        parse(
            one_vm(
                "backup: waive\nbackup_waiver: {operator: alice, statement: DR copy}\nvolume_type: Data\n"
                f"kek: {{key_url: {KEK_URL}, vault_id: {KV2}}}\nconfirmations: [no-kdump, no-nfs]"
            )
        )
        .vms[0]
        .settings
    )
    converter = DataConverter.default.payload_converter
    (back,) = converter.from_payloads(converter.to_payloads([settings]), [VmSettings])
    assert back == settings
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.backup = BackupPolicy.AUTO  # type: ignore[misc]


def test_guest_confirmations_name_their_rules() -> None:
    rules = {name: check.rule for name, check in GUEST_CONFIRMATIONS.items()}
    assert rules == {
        "no-nested-mounts": "R-LIM-4p",
        "no-data-drive-over-os-folder": "R-LIM-4q",
        "no-lvm-root-on-data-disk": "R-LIM-4r",
        "no-kdump": "R-LIM-4m",
        "no-oracle-acfs": "R-LIM-4n",
        "no-nfs": "R-LIM-4g",
        "no-azure-files": "R-LIM-4f",
        "no-shared-filesystems": "R-LIM-4j",
        "no-dynamic-volumes": "R-LIM-4h",
        "not-in-failover-cluster": "R-LIM-4v",
        "not-a-custom-image": "R-LIM-4d",
        "data-disks-mounted-in-fstab": "R-NEW-1",
    }
    assert all(check.description for check in GUEST_CONFIRMATIONS.values())


# ------------------------------------------------------------------------------------------- rules


def test_r_bak_2_waive_needs_a_waiver() -> None:
    assert problems(one_vm("backup: waive")) == [
        "m.yaml:5: vms[0].backup: backup is waive but no backup_waiver {operator, statement} is given: skipping the "
        "backup needs an operator's recorded statement that one exists (R-BAK-2)"
    ]


@pytest.mark.parametrize("waiver", ["{operator: alice, statement: ''}", "{operator: ' ', statement: DR copy}"])
def test_r_bak_2_waiver_needs_operator_and_statement(waiver: str) -> None:
    (problem,) = problems(one_vm(f"backup: waive\nbackup_waiver: {waiver}"))
    assert "must not be empty" in problem
    assert "(R-BAK-2)" in problem


def test_r_bak_2_waiver_only_travels_with_waive() -> None:
    text = one_vm("backup: snapshot", defaults=f"key_vault_id: {KV}\nbackup_waiver: {{operator: a, statement: b}}")
    assert parse(text).vms[0].settings.backup_waiver is None


def test_r_efa_1_format_all_needs_the_exact_acknowledgement() -> None:
    (problem,) = problems(one_vm("volume_type: Data\nencrypt_format_all: true\nacknowledge_data_loss: ok"))
    assert problem.startswith("m.yaml:7: vms[0].acknowledge_data_loss: ")
    assert "(R-EFA-1, R-EFA-2)" in problem
    assert DATA_LOSS_ACKNOWLEDGEMENT in problem


def test_r_efa_4_format_all_needs_volume_type_data() -> None:
    (problem,) = problems(
        one_vm(f"volume_type: All\nencrypt_format_all: true\nacknowledge_data_loss: {DATA_LOSS_ACKNOWLEDGEMENT}")
    )
    assert problem.startswith("m.yaml:5: vms[0].volume_type: encrypt_format_all needs volume_type Data (R-EFA-4")


def test_format_all_with_data_and_acknowledgement_is_accepted() -> None:
    settings = (
        parse(
            one_vm(f"volume_type: Data\nencrypt_format_all: true\nacknowledge_data_loss: {DATA_LOSS_ACKNOWLEDGEMENT}")
        )
        .vms[0]
        .settings
    )
    assert settings.encrypt_format_all
    assert settings.acknowledge_data_loss == DATA_LOSS_ACKNOWLEDGEMENT


@pytest.mark.parametrize(
    "vault_id",
    [
        "kv-ade-eastus",
        "https://kv-ade-eastus.vault.azure.net",
        f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/kv",
    ],
)
def test_r_ena_3_key_vault_must_be_a_vault_resource_id(vault_id: str) -> None:
    (problem,) = problems(one_vm(defaults=f"key_vault_id: {vault_id}"))
    assert problem.startswith("m.yaml:2: defaults.key_vault_id: ")
    assert problem.endswith("(R-ENA-3)")


@pytest.mark.parametrize(
    "key_url",
    [
        "https://kv-keys.vault.azure.net/keys/kek",  # unversioned
        "https://kv-keys.vault.azure.net:443/keys/kek/0123",  # port
        "https://kv-keys.vault.azure.net/secrets/kek/0123",  # a secret, not a key
        "kek",  # a bare name
    ],
)
def test_r_ena_3_kek_must_be_a_versioned_key_url(key_url: str) -> None:
    (problem,) = problems(one_vm(f"kek: {{key_url: '{key_url}', vault_id: {KV2}}}"))
    assert problem.startswith("m.yaml:5: vms[0].kek.key_url: malformed KEK URL")
    assert problem.endswith("(R-ENA-3)")


def test_r_ena_3_kek_vault_must_match_kek_url() -> None:
    (problem,) = problems(one_vm(f"kek: {{key_url: {KEK_URL}, vault_id: {KV}}}"))
    assert "vault 'kv-keys' but vault_id names vault 'kv-ade-eastus'" in problem


def test_r_ena_3_every_vm_needs_a_key_vault() -> None:
    text = f"vms:\n  - {{id: {VM}/web-01, key_vault_id: {KV}}}\n  - {VM}/web-02\n"
    assert problems(text) == [
        "m.yaml:3: vms[1].key_vault_id: no Key Vault: give key_vault_id for this VM or in the defaults "
        "(/subscriptions/<sub>/resourceGroups/<rg>/providers/Microsoft.KeyVault/vaults/<name>) (R-ENA-3)"
    ]


def test_unknown_keys_name_the_allowed_keys_and_a_guess() -> None:
    (problem,) = problems(one_vm("volumetype: Data"))
    assert problem.startswith('m.yaml:5: vms[0].volumetype: unknown key "volumetype"; did you mean "volume_type"? ')
    assert "allowed keys: id, subscription, resource_group, name, key_vault_id," in problem


def test_duplicate_vms_name_both_lines() -> None:
    text = (
        f"defaults: {{key_vault_id: {KV}}}\nvms:\n  - {VM}/web-01\n"
        f"  - {{subscription: {SUB.upper()}, resource_group: RG-WEB, name: Web-01}}\n"
    )
    (problem,) = problems(text)
    assert problem.startswith("m.yaml:4: vms[1]: duplicate VM ")
    assert "already listed as vms[0] at line 3" in problem


def test_empty_manifest_is_an_error() -> None:
    assert problems(f"defaults: {{key_vault_id: {KV}}}\n") == [
        "m.yaml:1: vms: no VMs: list VMs under vms or add selectors"
    ]


def test_yaml_syntax_errors_have_a_line() -> None:
    (problem,) = problems(one_vm() + "  - [unclosed\n")
    assert problem.startswith("m.yaml:6: YAML syntax error: ")


def test_every_problem_is_reported_at_once() -> None:
    text = (
        "rollout: {concurrency: 0}\ndefaults: {key_vault_id: kv}\n"
        f"vms:\n  - {{id: {VM}/web-01, restart: maybe}}\n  - nope\n"
    )
    assert [line.split(": ")[1] for line in problems(text)] == [
        "rollout.concurrency",
        "defaults.key_vault_id",
        "vms[0].restart",
        "vms[1]",
    ]


def test_error_text_and_exit_code() -> None:
    error = ManifestError([ManifestProblem("a.yaml", 3, "vms[0].backup", "bad"), ManifestProblem("a.yaml", 7, "", "x")])
    assert str(error) == "a.yaml:3: vms[0].backup: bad\na.yaml:7: x"
    assert error.exit_code == 2
    assert ManifestProblem("<defaults>", 0, "defaults.kek", "y").render() == "<defaults>: defaults.kek: y"


def test_load_manifest_rejects_other_suffixes_and_missing_files(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match=r"unsupported file type"):
        load_manifest(tmp_path / "fleet.json")
    with pytest.raises(ManifestError, match=r"cannot read"):
        load_manifest(tmp_path / "missing.yaml")


# ------------------------------------------------------------------------------------------- the bad corpus

CORPUS = sorted(path for path in BAD.iterdir() if path.suffix in (".yaml", ".csv"))


def test_the_bad_corpus_has_an_expectation_for_every_file() -> None:
    assert len(CORPUS) >= 20
    assert sorted(p.stem for p in BAD.glob("*.expected")) == sorted(p.stem for p in CORPUS)


@pytest.mark.parametrize("path", CORPUS, ids=lambda path: path.name)
def test_bad_manifest(path: Path) -> None:
    fmt: Literal["yaml", "csv"] = "csv" if path.suffix == ".csv" else "yaml"
    with pytest.raises(ManifestError) as caught:
        parse_manifest_text(
            path.read_text(), source=f"bad/{path.name}", fmt=fmt, defaults=CSV_DEFAULTS if fmt == "csv" else None
        )
    assert str(caught.value) == path.with_suffix(".expected").read_text().rstrip("\n")


# ------------------------------------------------------------------------------------------- the JSON Schema


def schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SCHEMA_PATH.read_text())
    return loaded


def test_schema_loads_and_matches_the_module() -> None:
    loaded = schema()
    assert loaded["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    settings = loaded["$defs"]["settings"]["properties"]
    assert tuple(settings) == SETTING_KEYS
    assert tuple(loaded["$defs"]["settingsProperties"]["properties"]) == SETTING_KEYS
    assert tuple(SettingsFields.model_fields) == SETTING_KEYS
    assert settings["confirmations"]["items"]["enum"] == list(GUEST_CONFIRMATIONS)
    assert set(loaded["properties"]) == {"version", "rollout", "defaults", "vms", "selectors", "migrate"}
    migrate = loaded["$defs"]["migrateProperties"]["properties"]
    vm_only = tuple(loaded["$defs"]["vmMigrate"]["properties"])
    assert (*migrate, *vm_only) == (*MIGRATE_KEYS[:6], *MIGRATE_KEYS[7:], "target_name")
    ade_keys = [r["required"][0] for r in loaded["$defs"]["adeSettingsGiven"]["anyOf"]]
    assert ade_keys == [key for key in SETTING_KEYS if key not in MIGRATION_SETTING_KEYS]


@pytest.mark.parametrize("name", ["manifest-demo.yaml", "demo-rollout.yaml", "demo-migrate.yaml"])
def test_examples_validate_against_the_schema(name: str) -> None:
    validator = jsonschema.Draft202012Validator(schema())
    jsonschema.Draft202012Validator.check_schema(schema())
    assert list(validator.iter_errors(json_view((EXAMPLES / name).read_text()))) == []


@pytest.mark.parametrize(
    "name", ["unknown-keys.yaml", "wrong-types.yaml", "bad-enums.yaml", "bad-kek.yaml", "no-vms.yaml"]
)
def test_structurally_bad_manifests_fail_the_schema_too(name: str) -> None:
    validator = jsonschema.Draft202012Validator(schema())
    assert list(validator.iter_errors(yaml.safe_load((BAD / name).read_text())))


@pytest.mark.parametrize(("written", "rate"), [("45", 45.0), ("2.5", 2.5)])
def test_the_encryption_rate_reaches_each_vm_run(written: str, rate: float) -> None:
    """Issue 18: the fastest expected rate (GB/h) times the poll schedule's first read."""
    manifest = parse(f"rollout: {{poll_interval: 5m, encryption_rate: {written}}}\n" + one_vm())
    assert manifest.rollout.encryption_gb_per_hour == rate
    ref, settings = manifest.vms[0].ref, manifest.vms[0].settings
    assert settings.to_encrypt_input(ref, manifest.rollout).encryption_gb_per_hour == rate


@pytest.mark.parametrize("written", ["0", "-3", "fast", "true"])
def test_an_encryption_rate_that_is_not_a_positive_number_is_refused(written: str) -> None:
    with pytest.raises(ManifestError, match="encryption_rate"):
        parse(f"rollout: {{encryption_rate: {written}}}\n" + one_vm())
